CELLS = [
("markdown", """
# Overview of a dataset

**Question.** What does this dataset look like: who is in it, how many receive bijstand, how
many enter and leave each year, how long spells last, how many partnerships end, and how health
differs by bijstand status?

**Data.** Any dataset in the shape of the data contract (the bundled synthetic register data by
default). **Estimands.** Descriptive: shares, counts and a Kaplan-Meier median; no causal claim.
This study proves the chain from dataset to report end to end. The report's text comes from the
package's nl/en catalogue; these markdown cells are notes for the researcher.
"""),
("parameters", """
dataset: str = "data/raw/synthetic-default"  # dataset directory in the shape of the data contract
municipality: str = "all"  # 'all' or one municipality code (GM + 4 digits): the same report for one gemeente
lang: str = "nl"  # report language [nl|en]
output_dir: str = ""  # set by the runner: where results.json and figures go (empty: a temporary directory)
"""),
("markdown", "Validate the parameters, load and check the dataset against the contract, build the processed store."),
("code", """
from analysis.studies import overview

study = overview.setup(dataset=dataset, municipality=municipality, lang=lang, output_dir=output_dir)
"""),
("markdown", "Who is in the data: persons of working age by sex and age band."),
("code", "overview.population(study);"),
("markdown", "The bijstand stock on 31 December, as a share of persons of working age (18 to 66)."),
("code", "overview.bijstand_stock(study);"),
("markdown", "The same share per municipality: the comparability policy asks for (small cells withheld)."),
("code", "overview.bijstand_by_municipality(study);"),
("markdown", "Flows: new spells (after a full calendar month without bijstand) and ended spells per year."),
("code", "overview.inflow_outflow(study);"),
("markdown", "How long spells last: Kaplan-Meier, spells still running at the end of the window censored."),
("code", "overview.spell_durations(study);"),
("markdown", "Partnership ends per year by reason: the events the intake study starts from."),
("code", "overview.partnership_ends(study);"),
("markdown", "Health by bijstand status (descriptive: the exit_health study asks the causal question)."),
("code", "overview.health_by_status(study);"),
("markdown", "Key numbers, built from the results (the PDF shows this summary first)."),
("summary", "overview.summary(study)"),
("markdown", "Write results.json and the disclosure log."),
("code", "study.finish();"),
]
