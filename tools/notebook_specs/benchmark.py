CELLS = [
("markdown", """
# Benchmark: a municipality compared with its peers

**Question.** How does one gemeente's bijstand compare with all municipalities and with municipalities
of similar size: density, inflow and outflow, outflow to work, re-integration?

**Data.** Real public figures: CBS StatLine Participatiewet per municipality 2015-2017 (tables 83450NED,
83747NED, 84066NED) and national monthly benefits since 1998 (37789ksz), CC BY 4.0, bundled in
data/statline/, municipality names from CBS's municipal classification per year. **Estimands.**
Descriptive rates and a percentile; funnel plots whose limits allow for the variation between
municipalities beyond chance (overdispersion, Spiegelhalter 2005, estimated from all municipalities)
show which differences exceed the usual differences between municipalities. No causal claim.
"""),
("parameters", """
municipality: str = "GM0363"  # municipality code (GM + 4 digits); GM0363 is Amsterdam
year: int = 2017  # year of comparison [2015|2016|2017]
age_class: str = "all"  # CBS age class [all|below_pension_age|from_pension_age]
overdispersion: str = "additive"  # funnel limits: Spiegelhalter's additive tau^2, multiplicative phi, or binomial only [additive|multiplicative|none]
statline_dir: str = ""  # directory with CBS StatLine exports; empty: the bundled data/statline
lang: str = "nl"  # report language [nl|en]
output_dir: str = ""  # set by the runner: where results.json and figures go
"""),
("markdown", "Validate the parameters and read the CBS tables (cleaned: padding, '.', drifting names)."),
("code", """
from analysis.studies import benchmark

study = benchmark.setup(statline_dir=statline_dir, municipality=municipality, year=year, age_class=age_class,
                        overdispersion=overdispersion, lang=lang, output_dir=output_dir)
"""),
("markdown", "The indicators beside the medians of all municipalities and of the size class."),
("code", "benchmark.indicators(study);"),
("markdown", "Funnel plots: which differences are larger than municipalities usually differ at this size?"),
("code", "benchmark.funnels(study)"),
("markdown", "The trend 2015-2017; a merger breaks a series."),
("code", "benchmark.trend(study);"),
("markdown", "Context: the national number of bijstand benefits per month since 1998."),
("code", "benchmark.national_series(study)"),
("markdown", "Key numbers, built from the results."),
("summary", "benchmark.summary(study)"),
("code", "study.finish();"),
]
