CELLS = [
("markdown", """
# Health after leaving bijstand for work

**Question.** When people leave bijstand for work, what happens to their health: antidepressant use and
health-care costs?

**Data.** Any dataset in the shape of the data contract. **Estimand.** The average effect of the first exit
to work on yearly health outcomes among those who leave (ATT, and by year since the exit), Callaway &
Sant'Anna with recipients who have not (yet) left as comparison. **Identifying assumption.** Parallel trends
in health between leavers and not-yet-leavers, tested on the years before the exit; a placebo (exit for
other reasons) for contrast.
"""),
("parameters", """
dataset: str = "data/raw/synthetic-default"  # dataset directory in the shape of the data contract
outcomes: list = ["antidepressants", "healthcare_costs_eur", "mental_healthcare_costs_eur", "gp_costs_eur"]  # health outcomes
exit_window_days: int = 31  # a job must start within this many days of the spell's end
control: str = "not_yet_treated"  # comparison group [not_yet_treated|never_treated]
covariates: list = []  # optional covariates for the doubly robust estimator: female, age
event_window: list = [-4, 4]  # years before and after the exit shown
horizon_years: int = 5  # years over which health savings are summed
discount_rate: float = 0.03  # yearly discount rate for the health returns
municipality: str = "all"  # 'all' or one municipality code (GM + 4 digits): recipients living there
anticipation: int = 0  # years before the exit in which health may already change
base_period: str = "universal"  # base period of the event study [universal|varying]
lang: str = "nl"  # report language [nl|en]
seed: int = 0  # seed of the multiplier bootstrap
output_dir: str = ""  # set by the runner: where results.json and figures go
"""),
("markdown", "Validate the parameters, load and check the dataset, build the processed store."),
("code", """
from analysis.studies import exit_health

study = exit_health.setup(dataset=dataset, outcomes=outcomes, exit_window_days=exit_window_days, control=control,
                          covariates=covariates, event_window=event_window, horizon_years=horizon_years,
                          discount_rate=discount_rate, municipality=municipality, anticipation=anticipation,
                          base_period=base_period, lang=lang, seed=seed, output_dir=output_dir)
"""),
("markdown", "The person-year panel of recipients, with exit-to-work and placebo exit years."),
("code", "frame = exit_health.panel(study)"),
("markdown", "Effects per outcome: simple ATT, event time, pre-trend tests (a rejection is shown prominently), "
             "and the sensitivity of the headline effects to violations of parallel trends with the pre-test's power."),
("code", "effects = exit_health.effects(study)"),
("markdown", "TWFE and Sun-Abraham event studies beside Callaway & Sant'Anna, as a diagnostic."),
("code", "exit_health.fixed_effects_diagnostic(study);"),
("markdown", "The placebo beside the main result, and heterogeneity by sex and age group."),
("code", "exit_health.placebo_and_heterogeneity(study);"),
("markdown", "Health returns in euros per exit to work, for the intervention study's returns."),
("code", "exit_health.health_returns(study);"),
("code", "exit_health.methods(study)"),
("summary", "exit_health.summary(study)"),
("code", "study.finish();"),
]
