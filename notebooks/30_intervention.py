# %% [markdown]
# # Intervention: does a re-integration programme pay off?
#
# **Question.** Does the programme shorten bijstand and bring work, and do its returns exceed its costs?
#
# **Data.** Any dataset in the shape of the data contract with an `interventions` table. **Estimand.** The
# effect of starting the programme in month m versus not starting then (possibly later), for those who
# start, at the same spell duration and calendar month (risk-set design, Sianesi 2004). **Identifying
# assumption.** Given sex, age, education, migration background, municipality, calendar time, duration and
# labour-market history, starting is unrelated to the untreated outcomes; the E-value shows the strength of
# unmeasured selection that would overturn the result.

# %% tags=["parameters"]
dataset: "str" = "data/raw/synthetic-default"  # dataset directory with an interventions table
intervention: "str" = ""  # the programme to study; empty: the most frequent one
municipality: "str" = "all"  # 'all' or one municipality code (GM + 4 digits): recipients living there
age_min: "Annotated[int, Range(0, 120)]" = 15  # youngest age at the start month (age the year reached that year)
age_max: "Annotated[int, Range(0, 120)]" = 70  # oldest age at the start month
sex: 'Literal["all", "F", "M"]' = "all"  # everyone, only women or only men
first_year: "Annotated[int, Range(1900, None)]" = 2014  # first calendar year of a start month
last_year: "Annotated[int, Range(1900, None)]" = 2023  # last calendar year of a start month (needs outcome_months after it)
outcome_months: "Annotated[int, Range(6, 48)]" = 24  # months after the start month over which outcomes are measured
covariates: "list[str]" = []  # empty: the full set; else a subset of female, age, age2, edu_middle, edu_high, mig_western, mig_non_western, duration, emp_months_24, bij_months_24, year, ladder_step, ladder_missing
control_group: 'Literal["risk_set", "not_yet_treated"]' = "risk_set"  # who is compared, in bijstand at the same month and duration: risk_set, who have not started by then (they may start later); not_yet_treated, who do not start before the end of the outcome window
anticipation: "Annotated[int, Range(0, 12)]" = 0  # months before the start at which the risk set is formed (covariates then; comparison persons not started by the start), so a change between referral and start does not bias
by: "str" = "none"  # effects per level of a categorical column: none, sex, municipality_code, migration_background, education
monthly_benefit_eur: "Annotated[float, Range(0, None)]" = 1150.0  # monthly benefit where the spell has no monthly_amount_eur
discount_rate: "Annotated[float, Range(-0.01, 0.99)]" = 0.0225  # yearly real discount rate (2.25 %: the Dutch standard since 2021; -1 % risk-free)
horizon_months: "Annotated[int, Range(6, 1200)]" = 120  # horizon of the cost-benefit analysis, beyond the observed window
health_savings_run: "str" = ""  # run directory of an exit_health run on the same data whose health savings to add; empty: none
heterogeneity: "bool" = True  # GATES, the heterogeneity test and CLAN (what works for whom)
gates_groups: "Annotated[int, Range(2, 10)]" = 5  # number of groups of the predicted effect
max_controls: "Annotated[int, Range(1, 100)]" = 20  # comparison persons drawn per participant from the risk set
lang: 'Literal["nl", "en"]' = "nl"  # report language
seed: "int" = 0  # seed for cross-fitting, control draws and the uncertainty draws
output_dir: "str" = ""  # set by the runner: where results.json and figures go

# %% [markdown]
# Check the study's options (before any data is read), open the run, and define the population: recipients in
# the municipality, of the sex and in the age band, with start months in the years chosen.

# %%
import analysis as rd
from analysis.studies import intervention as programme_study

opts = programme_study.options(
    intervention=intervention, outcome_months=outcome_months, monthly_benefit_eur=monthly_benefit_eur,
    discount_rate=discount_rate, horizon_months=horizon_months, health_savings_run=health_savings_run,
    heterogeneity=heterogeneity, gates_groups=gates_groups, by=by, max_controls=max_controls, covariates=covariates,
    control_group=control_group, anticipation=anticipation, municipality=municipality, seed=seed)
run = rd.start("intervention", title_key="intervention.title", parameters=dict(
    dataset=dataset, intervention=intervention, municipality=municipality, age_min=age_min, age_max=age_max, sex=sex,
    first_year=first_year, last_year=last_year, outcome_months=outcome_months, covariates=covariates,
    control_group=control_group, anticipation=anticipation, by=by,
    monthly_benefit_eur=monthly_benefit_eur, discount_rate=discount_rate, horizon_months=horizon_months,
    health_savings_run=health_savings_run, heterogeneity=heterogeneity, gates_groups=gates_groups,
    max_controls=max_controls, lang=lang, seed=seed, output_dir=output_dir))
opts = programme_study.programme(run, opts)  # the programme named, or the most frequent one
pop = rd.population(run.store, municipality=municipality, age_min=age_min, age_max=age_max, sex=sex,
                    first_year=first_year, last_year=last_year)

# %% [markdown]
# Design: risk sets. Each participant's start month is matched to people in bijstand in the same month at the
# same spell duration who did not start then (at most `max_controls` per participant); the outcome window must
# be observed in full. `control_group="not_yet_treated"` keeps only comparison persons who do not start before
# the window ends; `anticipation=k` forms the risk set k months before the start. The design has no base
# period (no `base_period` parameter): it compares outcomes after the start between matched groups at one
# month, not changes against a reference period as an event study does.

# %%
design = programme_study.risk_sets(run, pop, opts)
run.report.markdown(rd.text.population_sentence(pop, lang=lang) + " " + programme_study.design_text(opts, lang))
if design.dropped:
    run.report.markdown(rd.label("intervention.covariates_dropped", lang,
                                 names=programme_study.covariate_names(design.dropped, lang)))
design

# %% [markdown]
# Effects by estimator on months in bijstand and on being employed at the end of the window: cross-fitted AIPW
# (the headline), regression adjustment, IPW, matching, and the naive difference that shows what the design
# corrects. Standard errors are clustered by person; every row takes its `n` from the result.

# %%
fx = programme_study.effects(run, design, opts)

# %% [markdown]
# Participation ladder: the step 12 months after the start, where the data have the ladder.

# %%
programme_study.ladder_effect(run, design, opts);

# %% [markdown]
# Effects per level of the categorical column `by` when it names one (small groups withheld); written to
# results.json as `group_effects_<by>_<level>`.

# %%
programme_study.by_group(run, design, opts);

# %% [markdown]
# Sensitivity: balance before and after weighting, overlap of the propensity scores, and the E-value of
# unmeasured confounding.

# %%
programme_study.diagnostics(run, fx, opts)

# %% [markdown]
# Exit curves for participants and their comparison group (Kaplan-Meier; exits to work and other exits as
# competing risks).

# %%
programme_study.exit_curves(run, design)

# %% [markdown]
# Returns: the fiscal business case per actor and the social cost-benefit analysis (MKBA), persistence
# scenarios, joint uncertainty and the tornado (`analysis.estimators.mkba`).

# %%
paid = programme_study.returns(run, fx, opts)

# %% [markdown]
# What works for whom: GATES, the BLP heterogeneity test and CLAN (`heterogeneity=False` skips it).

# %%
gates = programme_study.heterogeneity(run, design, opts)

# %%
programme_study.methods(run, opts)

# %% tags=["summary"]
programme_study.summary(run, opts, paid.cost)

# %%
run.finish();
