# %% [markdown]
# # Health after leaving bijstand for work
#
# **Question.** When people leave bijstand for work, what happens to their health: antidepressant use and
# health-care costs?
#
# **Data.** Any dataset in the shape of the data contract. **Design and estimand.** Treated: persons who
# leave bijstand for work in year g and were on bijstand on 31 December of g - 1 (the base year). Comparison:
# persons on bijstand on that same 31 December who do not leave for work in year g (they may leave later): a
# risk set per calendar year, with spell duration, age, sex, education and migration background in the
# doubly robust estimator. Estimand: the average effect of leaving for work now rather than not now, among
# those who leave (Callaway & Sant'Anna with at-risk comparison groups). **Identifying assumption.**
# Parallel trends in health between leavers and comparable persons of the risk set, tested on the years
# before the exit, with its power and the sensitivity to violations (Rambachan & Roth); a placebo (exit for
# other reasons) for contrast.

# %% tags=["parameters"]
dataset: "str" = "data/raw/synthetic-default"  # dataset directory in the shape of the data contract
municipality: "str" = "all"  # 'all' or one municipality code (GM + 4 digits) that occurs in the dataset
age_min: "Annotated[int, Range(0, 120)]" = 18  # youngest age: a year counts for the design only inside the age band
age_max: "Annotated[int, Range(0, 120)]" = 66  # oldest age (the state pension age)
sex: 'Literal["all", "F", "M"]' = "all"  # everyone, only women or only men
first_year: "Annotated[int, Range(1900, None)]" = 2014  # first calendar year studied (a person who left for work before it is left out)
last_year: "Annotated[int, Range(1900, None)]" = 2023  # last calendar year studied
outcomes: "list[str]" = ["antidepressants", "healthcare_costs_eur", "mental_healthcare_costs_eur", "gp_costs_eur"]  # health outcomes
exit_window_days: "Annotated[int, Range(0, 366)]" = 31  # a job must start within this many days of the spell's end
control_group: 'Literal["risk_set", "not_yet_treated", "never_treated", "all_recipients"]' = "risk_set"  # comparison group; all_recipients is the old design, for comparison
covariates: "list[str]" = ["age", "female", "education", "migration_background", "spell_duration", "recent_bijstand_months"]  # covariates at the base year in the doubly robust estimator ([] for none)
event_window: "list[int]" = [-4, 4]  # years before and after the exit shown
horizon_years: "Annotated[int, Range(1, 30)]" = 5  # years over which health savings are summed
discount_rate: "Annotated[float, Range(-0.01, 0.99)]" = 0.0225  # yearly real discount rate for the health returns (Dutch MKBA standard since 2021; -0.01 for risk-free flows)
anticipation: "Annotated[int, Range(0, 2)]" = 0  # years before the exit in which health may already change (0, 1 or 2)
base_period: 'Literal["universal", "varying"]' = "universal"  # base period of the event study
by: "str" = ""  # '' or a categorical column of persons (sex, education, migration_background, municipality_code): effects per group
lang: 'Literal["nl", "en"]' = "nl"  # report language
seed: "int" = 0  # seed of the multiplier bootstrap
output_dir: "str" = ""  # set by the runner: where results.json and figures go

# %% [markdown]
# Check the study's options before any data is read, then validate the parameters, load and check the
# dataset and build the processed store; the population is who the design may use.

# %%
import analysis as rd
from analysis.studies import exit_health as eh

eh.check_parameters(outcomes=outcomes, control_group=control_group, covariates=covariates, event_window=event_window,
                    horizon_years=horizon_years, discount_rate=discount_rate, anticipation=anticipation,
                    base_period=base_period, by=by)
run = rd.start("exit_health", title_key="exit_health.title", parameters=dict(
    dataset=dataset, municipality=municipality, age_min=age_min, age_max=age_max, sex=sex, first_year=first_year,
    last_year=last_year, outcomes=outcomes, exit_window_days=exit_window_days, control_group=control_group,
    covariates=covariates, event_window=event_window, horizon_years=horizon_years, discount_rate=discount_rate,
    anticipation=anticipation, base_period=base_period, by=by, lang=lang, seed=seed, output_dir=output_dir))
pop = rd.population(run.store, municipality=municipality, age_min=age_min, age_max=age_max, sex=sex,
                    first_year=first_year, last_year=last_year)
run.report.markdown(rd.text.population_sentence(pop, lang=lang))

# %% [markdown]
# The design: exit-to-work and placebo cohorts, who is at risk in each year (on bijstand on 31 December,
# inside the age band), the covariates at each base year and the yearly health outcomes. `sd.panel` and
# `sd.cohorts(control_group)` are the kit's panel and event cohorts; `sd.covariates(covariates)` the columns
# behind the covariates (less those constant in these persons); `sd.control(control_group)` the estimator's
# comparison rule. With too few leavers or comparison persons nothing is estimated and the report says why.

# %%
sd = eh.study_design(run, pop)
sd

# %% [markdown]
# Effects per outcome: Callaway & Sant'Anna with at-risk comparison units, doubly robust with `covariates`,
# comparison `control_group`, `anticipation` and `base_period`. Each fit's simple ATT, event times and pre-trend
# test go to results.json with `n` from the result.

# %%
fits = {}
for outcome in (outcomes if sd.estimable else []):
    gt = rd.att_gt_at_risk(sd.panel, sd.cohorts(control_group), outcome=outcome, covariates=sd.covariates(covariates),
                           control=sd.control(control_group), method="dr", anticipation=anticipation,
                           base_period=base_period, seed=seed)
    fits[outcome] = eh.outcome_effects(run, sd, gt, outcome=outcome)

# %% [markdown]
# The effects together: the event-study figures, the table, the pre-trend tests (a rejection is shown
# prominently), and the sensitivity of the headline effects to violations of parallel trends with the
# pre-test's power.

# %%
fx = eh.effects(run, sd, fits)

# %% [markdown]
# Effects per group (`by`): the same design within each value of a categorical column, written to results.json
# as `att_<outcome>_<by>_<value>`; a group with too few leavers or comparison persons is withheld.

# %%
groups = {level: sd.within(by, level) for level in (pop.levels(by) if by else [])}
by_fits = {}
for level, sub in groups.items():
    for outcome in (outcomes if sub.estimable else []):
        by_fits[outcome, level] = rd.att_gt_at_risk(
            sub.panel, sub.cohorts(control_group), outcome=outcome, covariates=sub.covariates(covariates),
            control=sub.control(control_group), method="dr", anticipation=anticipation, base_period=base_period,
            seed=seed)
by_table = eh.group_effects(run, groups, by_fits, by=by)

# %% [markdown]
# The headline effects under every comparison group, the old design (all recipients) among them: what the
# choice of comparison group does.

# %%
comparison = eh.design_comparison(run, sd, fx)

# %% [markdown]
# The placebo beside the main result, and heterogeneity by sex and age group.

# %%
heterogeneity = eh.placebo_and_heterogeneity(run, sd, fx)

# %% [markdown]
# Health returns in euros per exit to work, for the intervention study's returns.

# %%
returns = eh.health_returns(run, fx)

# %% [markdown]
# The design in words: the estimand, the covariates, what the anticipation default does and what the fits
# left out.

# %%
eh.methods(run, sd, fx, comparison, heterogeneity, by_table)

# %% tags=["summary"]
eh.summary(run, fx)

# %%
run.finish();
