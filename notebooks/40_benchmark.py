# %% [markdown]
# # Benchmark: a municipality compared with its peers
#
# **Question.** How does one gemeente's bijstand compare with all municipalities and with municipalities
# of similar size: density, inflow and outflow, outflow to work, re-integration?
#
# **Data.** Real public figures: CBS StatLine Participatiewet per municipality 2015-2017 (tables 83450NED,
# 83747NED, 84066NED) and national monthly benefits since 1998 (37789ksz), CC BY 4.0, bundled in
# data/statline/; municipality names where the optional names file is present, else codes. **Estimands.**
# Descriptive rates and a percentile; funnel plots whose limits allow for the variation between
# municipalities beyond chance (overdispersion, Spiegelhalter 2005, estimated from all municipalities)
# show which differences exceed the usual differences between municipalities. No causal claim.
#
# **Population.** Not persons but municipalities: StatLine publishes these indicators per municipality and
# year (and for two CBS age classes), not by age and sex, so the study has no `age_min`, `age_max`, `sex`
# and no period beyond its `year`; the population is the municipality and the year compared.

# %% tags=["parameters"]
municipality: "str" = "GM0363"  # municipality code (GM + 4 digits); GM0363 is Amsterdam
year: "Literal[2015, 2016, 2017]" = 2017  # year of comparison
age_class: 'Literal["all", "below_pension_age", "from_pension_age"]' = "all"  # CBS age class
overdispersion: 'Literal["additive", "multiplicative", "none"]' = "additive"  # funnel limits: Spiegelhalter's additive tau^2, multiplicative phi, or binomial only
statline_dir: "str" = ""  # directory with CBS StatLine exports; empty: the bundled data/statline
lang: 'Literal["nl", "en"]' = "nl"  # report language
output_dir: "str" = ""  # set by the runner: where results.json and figures go

# %% [markdown]
# Validate the parameters and read the CBS tables (cleaned: padding, '.', drifting names): the municipality
# in its year and age class, all municipalities of that year, and its size class.

# %%
import analysis as rd
from analysis.studies import benchmark

source = benchmark.statline_source(statline_dir)
run = rd.start_public("benchmark", title_key="benchmark.title", source=source, parameters=dict(
    municipality=municipality, year=year, age_class=age_class, overdispersion=overdispersion,
    statline_dir=source.directory, lang=lang, output_dir=output_dir))  # the directory read (bundled when empty)
bench = benchmark.load(source, municipality=municipality, year=year, age_class=age_class)
bench

# %% [markdown]
# The indicators beside the medians of all municipalities and of the size class. Where CBS published nothing
# for this municipality, age class and year, the rows are withheld and a sentence says so.

# %%
ind = benchmark.indicators(bench, lang=lang)
run.add(ind.rows)
if ind.shown is not None:
    run.report.table(ind.shown, caption=ind.caption)
else:
    run.report.markdown(ind.message)

# %% [markdown]
# Funnel plots: which differences are larger than municipalities usually differ at this size? The limits'
# overdispersion (`overdispersion`) is estimated from all municipalities of the year.

# %%
funnels = benchmark.indicator_funnels(bench.frame, method=overdispersion)
run.add(benchmark.funnel_rows(bench, funnels, method=overdispersion))
run.report.figure(benchmark.funnel_figure(bench, funnels, lang=lang),
                  caption=benchmark.funnel_caption(bench, funnels, method=overdispersion, lang=lang))
run.report.markdown(benchmark.outside_sentence(funnels, lang=lang))

# %% [markdown]
# The same comparison adjusted for the population, where CBS's regional key figures of the year are at hand
# (age, migration background, households, income, housing, urbanity): observed against the number a
# model over all municipalities expects, in a funnel with the spread that remains.

# %%
from analysis.studies.benchmark import adjusted as adj

figures = adj.key_figures(source.path, year)
adjusted = ({} if figures is None or age_class != "all" else
            adj.adjusted_funnels(bench.frame, figures, benchmark.FUNNELS, funnels, method=overdispersion))
rows = adj.adjusted_rows(municipality, adjusted, benchmark.FUNNEL_RESULTS)
if rows:  # none without key figures for the year
    run.add(rows)
table, caption = adj.adjusted_table(bench, adjusted, funnels, lang=lang)
if table is not None:
    run.report.table(table, caption=caption)
else:
    run.report.markdown(caption)

# %% [markdown]
# The trend 2015-2017; a merger breaks a series.

# %%
trend = benchmark.trend(bench, lang=lang)
run.report.table(trend.table, caption=trend.caption, note=trend.note, number_formats=trend.number_formats)
run.report.markdown(trend.mergers)

# %% [markdown]
# Context: the national number of bijstand benefits per month since 1998.

# %%
figure, caption = benchmark.national_series(source, lang=lang)
run.report.figure(figure, caption=caption);

# %% [markdown]
# Key numbers, built from the checked results rows.

# %% tags=["summary"]
run.report.markdown(benchmark.summary(bench, run.estimates, lang=lang))

# %%
run.finish();
