# %% [markdown]
# # Municipal experiment: design and analysis
#
# **Question.** How large must a municipal experiment be to show an effect on exit to work, and what did
# an experiment in the data achieve: do its treatments (like the Participatiewet experiments of 2017-2019:
# exemption from obligations, intensive support, extra earnings) bring recipients to work sooner than
# regular service?
#
# **Data.** Any dataset in the shape of the data contract; the analysis needs the optional `experiments`
# table (docs/contract-experiments.md). **Estimand.** The intention-to-treat effect of assignment to each
# arm against control on exit to work within 24 months and on months of bijstand in the 24 months after
# assignment. **Identifying assumption.** Random assignment within strata (checked by the balance table);
# attrition unrelated to the arm (checked by the attrition table). Outcomes are measured after assignment,
# so there is no anticipation or base period to choose: the comparison is the control arm.

# %% tags=["parameters"]
dataset: "str" = "data/raw/synthetic-default"  # dataset directory; the analysis needs an experiments table
experiment: "str" = ""  # the experiment to analyse; empty: the first in the experiments table
municipality: "str" = "all"  # 'all' or one municipality code (GM + 4 digits): design population and participants
age_min: "Annotated[int, Range(18, 66)]" = 18  # youngest age (at assignment; design: in the year) included
age_max: "Annotated[int, Range(18, 66)]" = 66  # oldest age included
sex: 'Literal["all", "F", "M"]' = "all"  # everyone, only women or only men
first_year: "Annotated[int, Range(1900, None)]" = 2016  # first year of the design population
last_year: "Annotated[int, Range(1900, None)]" = 2019  # last year of the design population (needs 24 months after it)
design_population: 'Literal["inflow", "stock"]' = "inflow"  # size the experiment on the yearly inflow or the stock
enrolment_years: "Annotated[float, Range(0.25, 10.0)]" = 1.0  # how many years of inflow the experiment enrols
treatment_arms: "Annotated[int, Range(1, 6)]" = 3  # treatment arms next to the control arm
power: "Annotated[float, Range(0.5, 0.99)]" = 0.8  # power the design aims for
alpha: "Annotated[float, Range(0.001, 0.2)]" = 0.05  # two-sided significance level over all arms
target_effect_pp: "Annotated[float, Range(0.1, 50.0)]" = 5.0  # effect on exit to work (percentage points) to detect
cluster_size: "Annotated[int, Range(2, 1000)]" = 30  # persons per team or district when whole teams are randomised
icc: "Annotated[float, Range(0.0, 0.5)]" = 0.02  # intra-cluster correlation of exit to work within a team
covariates: "list[str]" = ["female", "age", "education_low", "education_high", "non_western", "bijstand_months_before"]  # adjustment covariates, measured before assignment
control_group: "str" = "control"  # the arm of the experiment every other arm is compared with
by: "str" = ""  # '' or a persons column (sex, education, migration_background, municipality_code): effects per group
permutations: "Annotated[int, Range(0, 100000)]" = 2000  # re-randomisations for the randomisation-inference p-values
lang: 'Literal["nl", "en"]' = "nl"  # report language
seed: "int" = 0  # seed of the assignment and the re-randomisations
output_dir: "str" = ""  # set by the runner: where results.json, the assignment and figures go

# %% [markdown]
# Validate the parameters against the dataset, load and check it, build the processed store, and define the
# population: the design population and the participants are the persons of the population definition.

# %%
import analysis as rd
from analysis.studies import experiment as ex

run = rd.start("experiment", title_key="experiment.title", parameters=dict(
    dataset=dataset, experiment=experiment, municipality=municipality, age_min=age_min, age_max=age_max, sex=sex,
    first_year=first_year, last_year=last_year, design_population=design_population, enrolment_years=enrolment_years,
    treatment_arms=treatment_arms, power=power, alpha=alpha, target_effect_pp=target_effect_pp,
    cluster_size=cluster_size, icc=icc, covariates=covariates, control_group=control_group, by=by,
    permutations=permutations, lang=lang, seed=seed, output_dir=output_dir))
ex.check_parameters(run.dataset, experiment=experiment, covariates=covariates, first_year=first_year,
                    last_year=last_year, control_group=control_group)
ex.check_by(by)
pop = rd.population(run.store, municipality=municipality, age_min=age_min, age_max=age_max, sex=sex,
                    first_year=first_year, last_year=last_year)
run.report.markdown(rd.label("experiment.population_sentence", lang, population=rd.text.population_sentence(pop, lang=lang),
                             kind=rd.label(f"experiment.population.{design_population}", lang),
                             first_year=str(first_year), last_year=str(last_year)))

# %% [markdown]
# ## Design
# The design population (inflow or stock of the municipality) gives the experiment's size, the share
# leaving for work within 24 months and what stratification and covariates explain; from these the minimum
# detectable effect, the required size and the power per design (Bloom 1995), for one and for all arms.

# %%
run.report.heading(rd.label("experiment.heading_design", lang))
units = ex.design_population(pop, kind=design_population)
sizing = ex.sizing(run, units, enrolment_years=enrolment_years, treatment_arms=treatment_arms, power=power,
                   alpha=alpha, target_effect_pp=target_effect_pp, cluster_size=cluster_size, icc=icc,
                   covariates=covariates)
design_summary = ex.show_design(run, units, sizing, run.add(sizing.rows))

# %% [markdown]
# A reproducible assignment: the last year's design population, stratified by sex and age group, with
# the run's seed; the file and its sha256 go into the run directory and the manifest.

# %%
assignment = ex.write_assignment(run, units, treatment_arms=treatment_arms, seed=seed)

# %% [markdown]
# ## Analysis of the experiment in the data
# Participants, their outcomes and their characteristics before assignment; balance before assignment, and
# attrition by arm.

# %%
parts = ex.participants(run, pop, experiment=experiment, control_group=control_group)
ex.balance(run, parts, covariates=covariates)
attrition = ex.attrition_by_arm(run, parts)
if attrition is not None:
    run.add(ex.attrition_rows(attrition, parts))

# %% [markdown]
# Intention-to-treat effects of each arm against control: OLS with the covariates and stratum indicators,
# HC2 (or cluster) standard errors, randomisation inference (re-randomised within strata) and Holm's
# correction over the arms. Every row takes its `n` from the result.

# %%
data = ex.analysed(run, parts, covariates=covariates)
effects = {}
for outcome, scale, unit in (ex.OUTCOMES if data is not None else ()):
    res = rd.itt(data.frame, outcome=outcome, arm="arm", control=control_group, covariates=data.covariates,
                 strata=["stratum"], cluster=data.cluster, se="cluster" if data.cluster else "HC2",
                 permutations=permutations, alpha=alpha, seed=seed)
    run.add(ex.itt_rows(res, outcome=outcome, unit=unit), residual_df=int(res.diagnostics["residual_df"]))
    ex.show_itt(run, res, outcome=outcome, scale=scale, unit=unit, experiment=parts.name, permutations=permutations)
    effects[outcome] = res

# %% [markdown]
# Effects per group (`by`): the same estimator within each value of a persons column, written to results.json
# as `itt_<outcome>_<arm>_<by>_<value>` (and its `p_ri_...`, `p_holm_...`).

# %%
if by and data is not None:
    run.report.heading(rd.label("experiment.by_heading", lang, by=by), level=3)
for level in (sorted(data.frame[by].dropna().astype(str).unique()) if by and data is not None else []):
    sub = ex.analysed(run, parts, covariates=covariates, where={by: level})
    for outcome, scale, unit in (ex.OUTCOMES if sub is not None else ()):
        res = rd.itt(sub.frame, outcome=outcome, arm="arm", control=control_group, covariates=sub.covariates,
                     strata=["stratum"], cluster=sub.cluster, se="cluster" if sub.cluster else "HC2",
                     permutations=permutations, alpha=alpha, seed=seed)
        run.add(ex.itt_rows(res, outcome=outcome, unit=unit, suffix=f"_{by}_{level}"),
                residual_df=int(res.diagnostics["residual_df"]))
        ex.show_itt(run, res, outcome=outcome, scale=scale, unit=unit, experiment=f"{parts.name}, {by} = {level}",
                    permutations=permutations)

# %%
run.report.markdown(ex.methods(run))

# %% tags=["summary"]
run.report.markdown(ex.summary(run, design_summary, parts, effects))
run.report.say_withheld()

# %% [markdown]
# Write results.json, published.json and the disclosure log.

# %%
run.finish();
