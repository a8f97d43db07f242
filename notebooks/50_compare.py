# %% [markdown]
# # Comparable municipalities
#
# **Question.** Where does a municipality stand on a bijstand outcome once its population is taken into
# account: is its rate higher or lower than expected given who lives there?
#
# **Data.** Any dataset in the shape of the data contract. **Estimand.** Per municipality the indirectly
# standardised ratio observed / expected, the expected number coming from a person-level logit of the
# outcome on the covariates, their effects estimated within municipalities and applied with one common
# intercept. **Assumption.** The ratio isolates the municipality
# only as far as the covariates capture the differences in population; what is not measured stays in
# it, so a remaining difference is not all policy. The funnel's limits allow for overdispersion
# (Spiegelhalter 2005), and small municipalities are shrunk (empirical Bayes) before they are ranked.
# The comparison describes; it is not a causal design.

# %% tags=["parameters"]
dataset: "str" = "data/raw/synthetic-default"  # dataset directory in the shape of the data contract
outcome: 'Literal["bijstand", "inflow", "outflow_to_work", "participation_ladder"]' = "bijstand"  # the outcome compared
year: "Annotated[int, Range(1900, None)]" = 2022  # calendar year of the outcome (the year before must be observed too)
covariates: "list[str]" = ["sex", "age_band", "education", "migration_background", "partnered", "prior_benefit"]  # adjustment covariates; those the dataset lacks, or that are constant in the population, are dropped with a sentence
municipality: "str" = "all"  # the municipality the council report is about (GM + 4 digits), or 'all' for the national view; every municipality is compared
age_min: "Annotated[int, Range(0, 120)]" = 18  # youngest age in the population (age: year minus birth year)
age_max: "Annotated[int, Range(0, 120)]" = 66  # oldest age in the population
sex: 'Literal["all", "F", "M"]' = "all"  # everyone, only women or only men
first_year: "Annotated[int, Range(1900, None)]" = 2014  # first year of the study period (year must lie in it)
last_year: "Annotated[int, Range(1900, None)]" = 2023  # last year of the study period
lang: 'Literal["nl", "en"]' = "nl"  # report language
output_dir: "str" = ""  # set by the runner: where results.json and figures go (empty: a temporary directory)

# %% [markdown]
# Validate the parameters against the dataset, load and check it, build the processed store. The population
# is every municipality's residents in the age band (and of the chosen sex): the comparison needs them all,
# so `municipality` picks the municipality the report is about, not who is compared.

# %%
import analysis as rd
from analysis.studies import compare

run = rd.start("compare", title_key="compare.title", parameters=dict(
    dataset=dataset, outcome=outcome, year=year, covariates=covariates, municipality=municipality,
    age_min=age_min, age_max=age_max, sex=sex, first_year=first_year, last_year=last_year, lang=lang,
    output_dir=output_dir))
compare.check_parameters(run.dataset, outcome=outcome, year=year, covariates=covariates, age_min=age_min,
                         age_max=age_max, sex=sex, first_year=first_year, last_year=last_year)
pop = rd.population(run.store, municipality="all", age_min=age_min, age_max=age_max, sex=sex,
                    first_year=first_year, last_year=last_year)
pop

# %% [markdown]
# The units at risk of the outcome in `year`, one row each, with the outcome and the covariates; which
# covariates are used, and which are dropped and why.

# %%
units = compare.units(pop, outcome=outcome, year=year, covariates=covariates)
sentence = rd.text.population_sentence(pop, lang=lang)
if municipality != "all":
    sentence += " " + rd.label("compare.population_note", lang, name=units.name(municipality))
run.report.markdown(sentence + " " + compare.covariates_sentence(units, lang=lang))
units

# %% [markdown]
# The reference model: a logit of the outcome on the covariates with a fixed effect per municipality, so
# that a covariate's effect is not confounded with the municipalities where it is common; each unit's
# probability with the covariates' effects and one common intercept (not its municipality's) is its
# expected outcome.

# %%
model = compare.reference_model(units)
if model is None:
    run.report.markdown(f"*{rd.label('compare.no_model', lang, min_units=run.policy.min_units)}*")

# %% [markdown]
# The raw rate per municipality (checked: a municipality is published only where its rate passes the share
# rule), then observed, expected and their ratio per published municipality; overdispersion, shrinkage and
# ranks from the published municipalities only. Every row takes its `n` from the table it comes from.

# %%
raw = compare.raw_rates(units, policy=run.policy, log=run.report.log)
rows = {r["name"]: r for r in run.add(compare.raw_rate_rows(units, raw))}
comparison = compare.standardise(units, model, raw, seed=0)
rows |= {r["name"]: r for r in run.add(compare.comparison_rows(units, comparison),
                                       residual_df=model.residual_df if comparison is not None else None)}
if comparison is None:
    run.report.markdown(f"*{rd.label('compare.too_few', lang, min_units=run.policy.min_units)}*")
comparison

# %% [markdown]
# The funnel plot: observed / expected against the expected number, with the chosen municipality apart.

# %%
figure, caption = compare.funnel_figure(units, comparison, rows, municipality=municipality, lang=lang,
                                        policy=run.policy, log=run.report.log)
if figure is not None:
    run.report.figure(figure, caption=caption)

# %% [markdown]
# Raw and adjusted figures side by side.

# %%
shown, caption, formats, note = compare.comparison_table(units, raw, comparison, rows, lang=lang,
                                                         policy=run.policy, log=run.report.log)
run.report.table(shown, caption=caption, number_formats=formats, note=note);

# %% [markdown]
# Each municipality's five nearest peers by composition (vergelijkbare gemeenten).

# %%
peers = compare.peers_table(units, raw, lang=lang, k=compare.N_PEERS)
if peers.table is not None:
    run.report.table(peers.table, caption=peers.caption);

# %% [markdown]
# Methods, and what the comparison cannot say.

# %%
run.report.heading(rd.label("compare.methods_heading", lang))
for paragraph in compare.methods_text(units, comparison, lang=lang):
    run.report.markdown(paragraph)

# %% [markdown]
# The summary for a council, built from the checked results rows (the PDF shows it first).

# %% tags=["summary"]
for paragraph in compare.summary_text(units, comparison, rows, municipality=municipality, lang=lang,
                                      min_units=run.policy.min_units):
    run.report.markdown(paragraph)
run.report.say_withheld()

# %% [markdown]
# Write results.json, published.json and the disclosure log.

# %%
run.finish();
