CELLS = [
("markdown", """
# Health after leaving bijstand for work

**Question.** When people leave bijstand for work, what happens to their health: antidepressant use and
health-care costs?

**Data.** Any dataset in the shape of the data contract. **Design and estimand.** Treated: persons who
leave bijstand for work in year g and were on bijstand on 31 December of g - 1 (the base year). Comparison:
persons on bijstand on that same 31 December who do not leave for work in year g (they may leave later): a
risk set per calendar year, with spell duration, age, sex, education and migration background in the
doubly robust estimator. Estimand: the average effect of leaving for work now rather than not now, among
those who leave (Callaway & Sant'Anna with at-risk comparison groups). **Identifying assumption.**
Parallel trends in health between leavers and comparable persons of the risk set, tested on the years
before the exit, with its power and the sensitivity to violations (Rambachan & Roth); a placebo (exit for
other reasons) for contrast.
"""),
("parameters", """
dataset: str = "data/raw/synthetic-default"  # dataset directory in the shape of the data contract
outcomes: list = ["antidepressants", "healthcare_costs_eur", "mental_healthcare_costs_eur", "gp_costs_eur"]  # health outcomes
exit_window_days: int = 31  # a job must start within this many days of the spell's end
control_group: str = "risk_set"  # comparison group; all_recipients is the old design, for comparison [risk_set|not_yet_treated|never_treated|all_recipients]
covariates: list = ["age", "female", "education", "migration_background", "spell_duration", "recent_bijstand_months"]  # covariates at the base year in the doubly robust estimator ([] for none)
event_window: list = [-4, 4]  # years before and after the exit shown
horizon_years: int = 5  # years over which health savings are summed
discount_rate: float = 0.03  # yearly discount rate for the health returns
municipality: str = "all"  # 'all' or one municipality code (GM + 4 digits): recipients living there
anticipation: int = 0  # years before the exit in which health may already change (0, 1 or 2)
base_period: str = "universal"  # base period of the event study [universal|varying]
lang: str = "nl"  # report language [nl|en]
seed: int = 0  # seed of the multiplier bootstrap
output_dir: str = ""  # set by the runner: where results.json and figures go
"""),
("markdown", "Validate the parameters, load and check the dataset, build the processed store."),
("code", """
from analysis.studies import exit_health

study = exit_health.setup(dataset=dataset, outcomes=outcomes, exit_window_days=exit_window_days,
                          control_group=control_group,
                          covariates=covariates, event_window=event_window, horizon_years=horizon_years,
                          discount_rate=discount_rate, municipality=municipality, anticipation=anticipation,
                          base_period=base_period, lang=lang, seed=seed, output_dir=output_dir)
"""),
("markdown", "The design: exit-to-work and placebo cohorts, who is at risk in each year (on bijstand on 31 December), "
             "the covariates at each base year and the yearly health outcomes."),
("code", "design = exit_health.panel(study)"),
("markdown", "Effects per outcome: simple ATT, event time, pre-trend tests (a rejection is shown prominently), "
             "and the sensitivity of the headline effects to violations of parallel trends with the pre-test's power."),
("code", "effects = exit_health.effects(study)"),
("markdown", "The headline effects under every comparison group, the old design (all recipients) among them: what the "
             "choice of comparison group does."),
("code", "exit_health.design_comparison(study);"),
("markdown", "The placebo beside the main result, and heterogeneity by sex and age group."),
("code", "exit_health.placebo_and_heterogeneity(study);"),
("markdown", "Health returns in euros per exit to work, for the intervention study's returns."),
("code", "exit_health.health_returns(study);"),
("code", "exit_health.methods(study)"),
("summary", "exit_health.summary(study)"),
("code", "study.finish();"),
]
