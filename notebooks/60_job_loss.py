# %% [markdown]
# # Job loss and mental health at 50+
#
# **Question.** What does losing a job do to antidepressant use and mental-health care costs of people
# aged 50 up to the state pension age?
#
# **Data.** Any dataset in the shape of the data contract: employment spells (the event), yearly health
# (the outcomes). **Estimand.** The average effect of the first job end on yearly outcomes among those who
# lose their job at 50-66 (ATT, and by years since the loss). **Identifying assumption.** Parallel trends
# between those who lose their job and those employed at the same time who have not (yet) lost it:
# each comparison person was at risk (employed in December of the base year, inside the age band), the
# rule of the credible-designs issue. Written only with the public API (docs/writing-a-study.md).

# %% tags=["parameters"]
dataset: "str" = "data/raw/synthetic-default"  # dataset directory in the shape of the data contract
municipality: "str" = "all"  # 'all' or one municipality code (GM + 4 digits) that occurs in the dataset
age_min: "Annotated[int, Range(0, 120)]" = 50  # youngest age at the base year, in years on 31 December
age_max: "Annotated[int, Range(0, 120)]" = 66  # oldest age at the base year (the state pension age)
sex: 'Literal["all", "F", "M"]' = "all"  # everyone, only women or only men
first_year: "Annotated[int, Range(1900, None)]" = 2014  # first calendar year studied
last_year: "Annotated[int, Range(1900, None)]" = 2023  # last calendar year studied
covariates: "list[str]" = []  # base-year covariates: age, female, education_middle, education_high, migration_western, migration_non_western
control_group: 'Literal["not_yet_treated", "never_treated", "not_treated_in_window", "risk_set"]' = "not_yet_treated"  # who is compared
anticipation: "Annotated[int, Range(0, 3)]" = 0  # years before the job end in which health may already change
base_period: 'Literal["universal", "varying"]' = "universal"  # base period of the event study
by: "str" = ""  # '' or a categorical column of persons (sex, education, migration_background, municipality_code): effects per group
lang: 'Literal["nl", "en"]' = "nl"  # report language
output_dir: "str" = ""  # set by the runner: where results.json and figures go

# %% [markdown]
# Validate the parameters, load the dataset, and define the population and the design: a person-year panel
# of the two outcomes and yearly job-end cohorts with their at-risk rule.

# %%
import analysis as rd

run = rd.start("job_loss", title_key="job_loss.title", parameters=dict(
    dataset=dataset, municipality=municipality, age_min=age_min, age_max=age_max, sex=sex, first_year=first_year,
    last_year=last_year, covariates=covariates, control_group=control_group, anticipation=anticipation,
    base_period=base_period, by=by, lang=lang, output_dir=output_dir))
pop = rd.population(run.store, municipality=municipality, age_min=age_min, age_max=age_max, sex=sex,
                    first_year=first_year, last_year=last_year)
OUTCOMES = {"antidepressants": ("pp", "probability difference"), "mental_healthcare_costs_eur": ("eur", "EUR per person-year")}
panel = rd.person_year(pop, outcomes=list(OUTCOMES))
cohorts = rd.event_cohorts(pop, event="job_end", at_risk=rd.at_risk.employed(), frequency="year")
run.report.markdown(rd.text.population_sentence(pop, lang=lang) + " " + rd.label(f"job_loss.design.{control_group}", lang))

# %% [markdown]
# Effects per outcome: Callaway & Sant'Anna with at-risk comparison units, the average effect, the effect
# by years since the loss, and the pre-trend test. Every row takes its `n` from the result.

# %%
sentences = []
for outcome, (scale, unit) in OUTCOMES.items():
    label = rd.label(f"job_loss.outcome.{outcome}", lang)
    gt = rd.att_gt_at_risk(panel, cohorts, outcome=outcome, covariates=covariates, control=control_group,
                           anticipation=anticipation, base_period=base_period)
    simple, dyn = gt.aggregate("simple"), gt.aggregate("dynamic", min_e=-4, max_e=4)
    (att,) = run.add(simple.to_estimates(f"att_{outcome}", unit=unit))
    run.add(dyn.to_estimates(unit=unit, terms=[f"e={k}" for k in range(4) if f"e={k}" in dyn.estimates.index],
                             names={f"e={k}": f"att_{outcome}_e{k}" for k in range(4)}))
    (pre,) = run.add([rd.pretrend_estimate(gt, name=f"pretrend_p_{outcome}")])
    run.report.figure(rd.figures.event_study(run, {label: dyn}, xlabel=rd.label("job_loss.years_since", lang),
                                             ylabel=rd.label(f"job_loss.effect_{scale}", lang),
                                             reference=-1 - anticipation, percent=scale == "pp"),
                      caption=rd.label("job_loss.event_caption", lang, outcome=label), width="60%")
    sentences += [rd.text.effect_sentence(att, outcome=label, scale=scale, lang=lang), rd.text.pretrend_sentence(pre, lang=lang)]

# %% [markdown]
# Effects per group (`by`): the same design within each value of a categorical column, written to results.json
# as `att_<outcome>_<by>_<value>`.

# %%
for level in (pop.levels(by) if by else []):
    sub = rd.population(run.store, **{**pop.definition.to_dict(), "where": {by: level}})
    sub_panel = rd.person_year(sub, outcomes=list(OUTCOMES))
    sub_cohorts = rd.event_cohorts(sub, event="job_end", at_risk=rd.at_risk.employed(), frequency="year")
    for outcome, (scale, unit) in OUTCOMES.items():
        gt = rd.att_gt_at_risk(sub_panel, sub_cohorts, outcome=outcome, covariates=covariates, control=control_group,
                               anticipation=anticipation, base_period=base_period)
        (row,) = run.add(gt.aggregate("simple").to_estimates(f"att_{outcome}_{by}_{level}", unit=unit))
        label = f"{rd.label(f'job_loss.outcome.{outcome}', lang)} ({by}: {level})"
        sentences.append(rd.text.effect_sentence(row, outcome=label, scale=scale, lang=lang))

# %% tags=["summary"]
run.report.markdown(" ".join(sentences))

# %% [markdown]
# Limitations: what the design assumes and what the data cannot show.

# %%
run.report.markdown(rd.label("job_loss.limitations", lang))

# %%
run.finish();
