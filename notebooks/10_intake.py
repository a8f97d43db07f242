# %% [markdown]
# # Intake: why people enter bijstand, and how much inflow divorce causes
#
# **Question.** What precedes inflow into bijstand, and how much of the inflow does a divorce or
# separation (or, with `event = "job_loss"`, a job loss) actually cause, for women and for men?
#
# **Data.** Any dataset in the shape of the data contract. **Estimands.** (1) The descriptive share of
# inflow preceded by the event within `window_months`; (2) the average effect of the event on the
# probability of receiving bijstand by month since the event among those who experience it (ATT(e),
# Callaway & Sant'Anna with at-risk comparison groups: people in a union, or employed, in the base month
# who have not had the event); (3) the share of all inflow caused by the event within 24 months.
# **Identifying assumption.** Conditional parallel trends (age, education, migration background, union
# duration) between persons with the event and persons at risk of it, and no anticipation beyond
# `anticipation` months before the registered event; tested on the pre-event months, with the power of
# that test and the sensitivity of the effect to violations of parallel trends (Rambachan & Roth 2023).

# %% tags=["parameters"]
dataset: "str" = "data/raw/synthetic-default"  # dataset directory in the shape of the data contract
window_months: "Annotated[int, Range(1, 36)]" = 12  # months before inflow in which a preceding event counts
horizon_months: "Annotated[int, Range(12, 60)]" = 36  # months after the event shown in the event study
event: 'Literal["divorce", "job_loss"]' = "divorce"  # the event studied
municipality: "str" = "all"  # 'all' or one municipality code (GM + 4 digits) that occurs in the dataset
age_min: "Annotated[int, Range(0, 120)]" = 18  # youngest age counted (age = year - birth year)
age_max: "Annotated[int, Range(0, 120)]" = 66  # oldest age counted (the state pension age)
sex: 'Literal["all", "F", "M"]' = "all"  # everyone, only women or only men
first_year: "Annotated[int, Range(1900, None)]" = 2014  # first calendar year studied (inflow counts from its second year)
last_year: "Annotated[int, Range(1900, None)]" = 2023  # last calendar year studied
covariates: "list[str]" = ["all"]  # covariates of the doubly robust estimator: all, [] (none) or a subset of the design's (age, female, education_middle, education_high, migration_western, migration_non_western; union_2_5_years, union_5_years_plus for divorce)
control_group: 'Literal["not_treated_in_window", "not_yet_treated", "never_treated", "risk_set"]' = "not_treated_in_window"  # who is compared: persons at risk not treated within the event window
anticipation: "Annotated[int, Range(0, 12)]" = 3  # months before the registered event in which its effect may already start (registration lag)
base_period: 'Literal["universal", "varying"]' = "universal"  # base period of the event study
by: "str" = ""  # '' or a categorical column of persons (education, migration_background, municipality_code): the 12-month effect per group
lang: 'Literal["nl", "en"]' = "nl"  # report language
seed: "int" = 0  # seed of the multiplier bootstrap for the uniform bands
output_dir: "str" = ""  # set by the runner: where results.json and figures go

# %% [markdown]
# Validate the parameters, load and check the dataset, build the processed store; then the population:
# persons of the municipality and sex asked for, aged `age_min`-`age_max` in the years studied.

# %%
import analysis as rd
from analysis.studies import intake

run = intake.setup(dataset=dataset, window_months=window_months, horizon_months=horizon_months, event=event,
                   municipality=municipality, age_min=age_min, age_max=age_max, sex=sex, first_year=first_year,
                   last_year=last_year, covariates=covariates, control_group=control_group,
                   anticipation=anticipation, base_period=base_period, by=by, lang=lang, seed=seed,
                   output_dir=output_dir)
pop = rd.population(run.store, municipality=municipality, age_min=age_min, age_max=age_max, sex=sex,
                    first_year=first_year, last_year=last_year)
win = intake.window(run, pop)
run.report.markdown(rd.text.population_sentence(pop, lang=lang))

# %% [markdown]
# Every inflow from the 13th month on (a new bijstand spell inside the age band), with the events in the
# `window_months` before it; and the inflow trend per 1,000 persons of the population.

# %%
inflows = intake.inflow_events(pop, win, window_months=window_months)
intake.inflow_trend(run, pop, win, inflows);

# %% [markdown]
# What precedes inflow: the descriptive decomposition (not causal).

# %%
share_after = intake.decomposition(run, win, inflows, window_months=window_months, event=event)

# %% [markdown]
# The design: monthly cohorts of the event among the population's persons at risk of it (in a union, or
# employed, in the base month, no event yet; for a period shorter than the data's also inside the age band),
# and the estimator's options.

# %%
design = intake.design(run, pop, event=event, by=by)
options = intake.Options(covariates=tuple(covariates), control=control_group, anticipation=anticipation,
                         base_period=base_period, seed=seed)
bijstand = intake.outcome_matrix(run, design, "bijstand")

# %% [markdown]
# The causal effect on receiving bijstand by month since the event (staggered DiD with at-risk comparison
# groups, doubly robust), by sex and by work in the 12 months before; a covariate constant or collinear in
# a group is left out there, with a sentence.

# %%
effects = intake.event_study(run, design, bijstand, options, horizon_months=horizon_months)

# %% [markdown]
# Sensitivity: how far the 12-month effect survives violations of parallel trends (honest DiD, relative
# magnitudes) and how much the pre-test could have seen (its power).

# %%
intake.sensitivity(run, effects, options, event=event);

# %% [markdown]
# Effects per group (`by`): the 12-month effect within each value of the column, written to results.json
# as `excess_bijstand_after_<event>_12m_<by>_<value>`.

# %%
by_rows = intake.effects_by(run, design, bijstand, options, by=by)

# %% [markdown]
# How much inflow the event causes: excess inflow in months 0..24 over all inflow.

# %%
caused = intake.attributable_share(run, design, intake.outcome_matrix(run, design, "inflow"), options, inflows)

# %% [markdown]
# Design, estimand, assumption and the pre-trend test, in the report's language; what the anticipation
# does to the 12-month effect for women; the limitations.

# %%
intake.methods(run, effects, options, event=event, horizon_months=horizon_months)
intake.anticipation_effect(run, design, bijstand, options)
run.report.limitations(rd.label("intake.limitations", lang));

# %% tags=["summary"]
run.report.markdown(intake.summary(run, event=event, window_months=window_months))
run.report.say_withheld()

# %%
run.finish();
