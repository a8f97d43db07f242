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
dataset: "str" = "data/raw/synthetic-default"  # dataset directory with an interventions table
intervention: "str" = ""  # the programme to study; empty: the most frequent one
outcome_months: "Annotated[int, Range(6, 48)]" = 24  # months after the start month over which outcomes are measured
monthly_benefit_eur: "Annotated[float, Range(0, None)]" = 1150.0  # monthly benefit where the spell has no monthly_amount_eur
discount_rate: "Annotated[float, Range(-0.01, 0.99)]" = 0.0225  # yearly real discount rate (2.25 %: the Dutch standard since 2021; -1 % risk-free)
horizon_months: "Annotated[int, Range(6, 1200)]" = 120  # horizon of the cost-benefit analysis, beyond the observed window
health_savings_run: "str" = ""  # run directory of an exit_health run on the same data whose health savings to add; empty: none
heterogeneity: "bool" = True  # GATES, the heterogeneity test and CLAN (what works for whom)
gates_groups: "Annotated[int, Range(2, 10)]" = 5  # number of groups of the predicted effect
by: "str" = "none"  # effects per level of a categorical column: none, sex, municipality_code, migration_background, education
max_controls: "Annotated[int, Range(1, 100)]" = 20  # comparison persons drawn per participant from the risk set
municipality: "str" = "all"  # 'all' or one municipality code (GM + 4 digits): recipients living there
lang: 'Literal["nl", "en"]' = "nl"  # report language
seed: "int" = 0  # seed for cross-fitting, control draws and the uncertainty draws
output_dir: "str" = ""  # set by the runner: where results.json and figures go
"""),
("code", """
from analysis.studies import intervention as programme_study

study = programme_study.setup(dataset=dataset, intervention=intervention, outcome_months=outcome_months,
                              monthly_benefit_eur=monthly_benefit_eur, discount_rate=discount_rate,
                              horizon_months=horizon_months, health_savings_run=health_savings_run,
                              heterogeneity=heterogeneity, gates_groups=gates_groups, by=by,
                              max_controls=max_controls, municipality=municipality, lang=lang, seed=seed,
                              output_dir=output_dir)
"""),
("markdown", "Risk sets: participants and people in bijstand at the same month and duration who did not start."),
("code", "frame = programme_study.risk_sets(study)"),
("markdown", "Effects by estimator; the naive difference shows what the design corrects."),
("code", "programme_study.effects(study);"),
("markdown", "Participation ladder: the step 12 months after the start, where the data have the ladder."),
("code", "programme_study.ladder_effect(study);"),
("markdown", "Effects per level of the categorical column `by` when it names one (small groups withheld)."),
("code", "programme_study.by_group(study);"),
("markdown", "Balance, overlap and sensitivity to unmeasured confounding."),
("code", "programme_study.diagnostics(study)"),
("markdown", "Exit curves for participants and their comparison group."),
("code", "programme_study.exit_curves(study)"),
("markdown", "Returns: the fiscal business case per actor and the social cost-benefit analysis (MKBA), "
             "persistence scenarios, joint uncertainty and the tornado (`analysis.estimators.mkba`)."),
("code", "mkba = programme_study.returns(study)"),
("markdown", "What works for whom: GATES, the BLP heterogeneity test and CLAN (`heterogeneity=False` skips it)."),
("code", "gates = programme_study.heterogeneity(study)"),
("code", "programme_study.methods(study)"),
("summary", "programme_study.summary(study)"),
("code", "study.finish();"),
]
