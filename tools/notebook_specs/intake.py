CELLS = [
("markdown", """
# Intake: why people enter bijstand, and how much inflow divorce causes

**Question.** What precedes inflow into bijstand, and how much of the inflow does a divorce or
separation (or, with `event = "job_loss"`, a job loss) actually cause, for women and for men?

**Data.** Any dataset in the shape of the data contract. **Estimands.** (1) The descriptive share of
inflow preceded by the event within `window_months`; (2) the average effect of the event on the
probability of receiving bijstand by month since the event among those who experience it (ATT(e),
Callaway & Sant'Anna with at-risk comparison groups: people in a union, or employed, in the base month
who have not had the event); (3) the share of all inflow caused by the event within 24 months.
**Identifying assumption.** Conditional parallel trends (age, education, migration background, union
duration) between persons with the event and persons at risk of it, and no anticipation beyond
`anticipation` months before the registered event; tested on the pre-event months, with the power of
that test and the sensitivity of the effect to violations of parallel trends (Rambachan & Roth 2023).
"""),
("parameters", """
dataset: str = "data/raw/synthetic-default"  # dataset directory in the shape of the data contract
window_months: int = 12  # months before inflow in which a preceding event counts
horizon_months: int = 36  # months after the event shown in the event study
event: str = "divorce"  # the event studied [divorce|job_loss]
municipality: str = "all"  # 'all' or one municipality code (GM + 4 digits)
anticipation: int = 3  # months before the registered event in which its effect may already start (registration lag)
base_period: str = "universal"  # base period of the event study [universal|varying]
lang: str = "nl"  # report language [nl|en]
seed: int = 0  # seed of the multiplier bootstrap for the uniform bands
output_dir: str = ""  # set by the runner: where results.json and figures go
"""),
("markdown", "Validate the parameters, load and check the dataset, build the processed store."),
("code", """
from analysis.studies import intake

study = intake.setup(dataset=dataset, window_months=window_months, horizon_months=horizon_months, event=event,
                     municipality=municipality, anticipation=anticipation, base_period=base_period, lang=lang,
                     seed=seed, output_dir=output_dir)
"""),
("markdown", "Every inflow from the 13th month on, with the events in the months before it."),
("code", "inflows = intake.inflow_events(study)"),
("markdown", "The inflow trend per 1,000 persons of working age."),
("code", "intake.inflow_trend(study);"),
("markdown", "What precedes inflow: the descriptive decomposition (not causal)."),
("code", "intake.decomposition(study);"),
("markdown", "The causal effect on receiving bijstand by month since the event (staggered DiD with at-risk "
             "comparison groups), then how far it survives violations of parallel trends and how much the "
             "pre-test could have seen."),
("code", "effects = intake.event_study(study)"),
("markdown", "How much inflow the event causes: excess inflow in months 0..24 over all inflow."),
("code", "intake.attributable_share(study);"),
("markdown", "Design, estimand, assumption and the pre-trend test, in the report's language."),
("code", "intake.methods(study)"),
("markdown", "The summary that opens the PDF, built from the results."),
("summary", "intake.summary(study)"),
("code", "study.finish();"),
]
