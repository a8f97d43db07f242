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
# attrition unrelated to the arm (checked by the attrition table).

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
permutations: "Annotated[int, Range(0, 100000)]" = 2000  # re-randomisations for the randomisation-inference p-values
lang: 'Literal["nl", "en"]' = "nl"  # report language
seed: "int" = 0  # seed of the assignment and the re-randomisations
output_dir: "str" = ""  # set by the runner: where results.json, the assignment and figures go

# %% [markdown]
# Validate the parameters against the dataset, load and check it, build the processed store.

# %%
from analysis.studies import experiment as ex_study

study = ex_study.setup(dataset=dataset, experiment=experiment, municipality=municipality, age_min=age_min,
                       age_max=age_max, sex=sex, first_year=first_year, last_year=last_year,
                       design_population=design_population, enrolment_years=enrolment_years,
                       treatment_arms=treatment_arms, power=power, alpha=alpha, target_effect_pp=target_effect_pp,
                       cluster_size=cluster_size, icc=icc, covariates=covariates, permutations=permutations,
                       lang=lang, seed=seed, output_dir=output_dir)

# %% [markdown]
# ## Design
# The design population (inflow or stock of the municipality) gives the experiment's size, the share
# leaving for work within 24 months and what stratification and covariates explain.

# %%
population = ex_study.design_population(study)
ex_study.design(study, population);

# %% [markdown]
# A reproducible assignment: the last year's design population, stratified by sex and age group, with
# the run's seed; the file and its sha256 go into the run directory and the manifest.

# %%
ex_study.write_assignment(study, population);

# %% [markdown]
# ## Analysis of the experiment in the data
# Participants, their outcomes and their characteristics before assignment.

# %%
participants = ex_study.participants(study)

# %% [markdown]
# Balance before assignment, and attrition by arm.

# %%
ex_study.balance(study, participants)
ex_study.attrition_by_arm(study, participants);

# %% [markdown]
# Intention-to-treat effects with covariate adjustment, randomisation inference and Holm's correction.

# %%
ex_study.effects(study, participants);

# %%
ex_study.methods(study)

# %% tags=["summary"]
ex_study.summary(study)

# %% [markdown]
# Write results.json, published.json and the disclosure log.

# %%
study.finish();
