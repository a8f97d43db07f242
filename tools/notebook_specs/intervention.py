CELLS = [
("markdown", """
# Intervention: does a re-integration programme pay off?

**Question.** Does the programme shorten bijstand and bring work, and do its returns exceed its costs?

**Data.** Any dataset in the shape of the data contract with an `interventions` table. **Estimand.** The
effect of starting the programme in month m versus not starting then (possibly later), for those who
start, at the same spell duration and calendar month (risk-set design, Sianesi 2004). **Identifying
assumption.** Given sex, age, education, migration background, municipality, calendar time, duration and
labour-market history, starting is unrelated to the untreated outcomes; the E-value shows the strength of
unmeasured selection that would overturn the result.
"""),
("parameters", """
dataset: str = "data/raw/synthetic-default"  # dataset directory with an interventions table
intervention: str = ""  # the programme to study; empty: the most frequent one
outcome_months: int = 24  # months after the start month over which outcomes are measured
monthly_benefit_eur: float = 1150.0  # monthly benefit where the spell has no monthly_amount_eur
discount_rate: float = 0.03  # yearly discount rate for the returns
include_health_savings: bool = False  # add health-care savings per exit to work (needs an exit_health run)
by: str = "none"  # effects per subgroup [none|sex|municipality]
max_controls: int = 20  # comparison persons drawn per participant from the risk set
municipality: str = "all"  # 'all' or one municipality code (GM + 4 digits): recipients living there
lang: str = "nl"  # report language [nl|en]
seed: int = 0  # seed for cross-fitting, control draws and the uncertainty draws
output_dir: str = ""  # set by the runner: where results.json and figures go
"""),
("code", """
from analysis.studies import intervention as programme_study

study = programme_study.setup(dataset=dataset, intervention=intervention, outcome_months=outcome_months,
                           monthly_benefit_eur=monthly_benefit_eur, discount_rate=discount_rate,
                           include_health_savings=include_health_savings, by=by, max_controls=max_controls,
                           municipality=municipality, lang=lang, seed=seed, output_dir=output_dir)
"""),
("markdown", "Risk sets: participants and people in bijstand at the same month and duration who did not start."),
("code", "frame = programme_study.risk_sets(study)"),
("markdown", "Effects by estimator; the naive difference shows what the design corrects."),
("code", "programme_study.effects(study);"),
("markdown", "Participation ladder: the step 12 months after the start, where the data have the ladder."),
("code", "programme_study.ladder_effect(study);"),
("markdown", "Effects per subgroup when `by` asks for them (small groups withheld)."),
("code", "programme_study.by_group(study);"),
("markdown", "Balance, overlap and sensitivity to unmeasured confounding."),
("code", "programme_study.diagnostics(study)"),
("markdown", "Exit curves for participants and their comparison group."),
("code", "programme_study.exit_curves(study)"),
("markdown", "Returns: benefit saved minus cost, with uncertainty."),
("code", "programme_study.returns(study);"),
("code", "programme_study.methods(study)"),
("summary", "programme_study.summary(study)"),
("code", "study.finish();"),
]
