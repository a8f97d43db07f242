CELLS = [
("markdown", """
# Comparable municipalities

**Question.** Where does a municipality stand on a bijstand outcome once its population is taken into
account: is its rate higher or lower than expected given who lives there?

**Data.** Any dataset in the shape of the data contract. **Estimand.** Per municipality the indirectly
standardised ratio observed / expected, the expected number coming from a person-level logit of the
outcome on the covariates without municipality. **Assumption.** The ratio isolates the municipality
only as far as the covariates capture the differences in population; what is not measured stays in
it, so a remaining difference is not all policy. The funnel's limits allow for overdispersion
(Spiegelhalter 2005), and small municipalities are shrunk (empirical Bayes) before they are ranked.
"""),
("parameters", """
dataset: str = "data/raw/synthetic-default"  # dataset directory in the shape of the data contract
outcome: str = "bijstand"  # outcome [bijstand|inflow|outflow_to_work|participation_ladder]
year: int = 2022  # calendar year of the outcome (the year before must be observed too)
covariates: list = ["sex", "age_band", "education", "migration_background", "partnered", "prior_benefit"]  # adjustment covariates; those the dataset lacks are dropped with a sentence
municipality: str = "all"  # the municipality the council report is about (GM + 4 digits), or 'all' for the national view
age_min: int = 18  # youngest age in the population (age: year minus birth year)
age_max: int = 66  # oldest age in the population
sex: str = "all"  # population by sex [all|F|M]
lang: str = "nl"  # report language [nl|en]
output_dir: str = ""  # set by the runner: where results.json and figures go (empty: a temporary directory)
"""),
("markdown", "Validate the parameters against the dataset, load and check it, build the processed store."),
("code", """
from analysis.studies import compare

study = compare.setup(dataset=dataset, outcome=outcome, year=year, covariates=covariates,
                      municipality=municipality, age_min=age_min, age_max=age_max, sex=sex, lang=lang,
                      output_dir=output_dir)
"""),
("markdown", "The population at risk, one row per person, with the outcome and the covariates."),
("code", "frame = compare.population_frame(study)"),
("markdown", "The reference model: a logit of the outcome on the covariates, without municipality."),
("code", "model = compare.reference_model(study, frame)"),
("markdown", """Observed, expected and their ratio per municipality; overdispersion, shrinkage and ranks from
the municipalities that pass disclosure control."""),
("code", "raw, comparison = compare.compare(study, frame, model)\ncomparison"),
("markdown", "The funnel plot: observed / expected against the expected number."),
("code", "compare.funnel(study, raw, comparison)"),
("markdown", "Raw and adjusted figures side by side."),
("code", "compare.table(study, raw, comparison);"),
("markdown", "Each municipality's five nearest peers by composition (vergelijkbare gemeenten)."),
("code", "compare.peers(study, frame, raw);"),
("markdown", "Methods, and what the comparison cannot say."),
("code", "compare.methods(study, model, comparison)"),
("markdown", "The summary for a council, built from the results (the PDF shows it first)."),
("summary", "compare.summary(study, comparison)"),
("markdown", "Write results.json and the disclosure log."),
("code", "study.finish();"),
]
