CELLS = [
("markdown", """
# Validation against published numbers

Every reference case, our number beside the published one: R `did` on mpdta (Callaway & Sant'Anna), Card &
Krueger's 2x2 DiD, the Rossi Cox model, Kaplan-Meier on the 6-MP trial, and LaLonde / Dehejia-Wahba. The PDF is what a reviewer reads before
trusting the workbench; each row is also a test in tests/reference/.
"""),
("parameters", """
reference_dir: str = "tests/reference"  # directory with the reference cases and their data
lang: str = "nl"  # report language [nl|en]
output_dir: str = ""  # set by the runner: where results.json and figures go
"""),
("code", """
from analysis.studies import validation

study = validation.setup(reference_dir=reference_dir, lang=lang, output_dir=output_dir)
"""),
("code", "cases = validation.cases(study)"),
("summary", "validation.table(study)"),
("code", "study.finish();"),
]
