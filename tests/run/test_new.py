"""``rendeert new NAME [--from STUDY]``: a study notebook from the template (or another study) and its test.

End to end on small synthetic data: the new study is listed, runs with ``rendeert run NAME`` and its
example estimate (the bijstand share of persons aged 18-66 on 31 December) equals the simulator's truth;
with population parameters it equals the same share counted directly from the raw tables with pandas.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from analysis.run import cli
from analysis.run.catalog import get_study, list_studies, read_notebook
from analysis.run.params import validate_parameters
from notebook_builder import build_notebook

ROOT = Path(__file__).resolve().parents[2]
POPULATION = ("municipality", "age_min", "age_max", "sex", "first_year", "last_year")
SMALL_PERSONS = 4_000  # as tests/notebooks/conftest.py: runs in seconds, cells of 10+ persons
SMALL_SEED = 11
#: The same share computed by DuckDB in the notebook and by pandas or the simulator: only the order of
#: floating-point operations differs.
SHARE_TOLERANCE = 1e-12
#: The CBS minimum of units behind a published figure (shared/disclosure-rules.md; the default policy).
MIN_UNITS = 10

OLD_PARAMS = '''
dataset: str = "data/raw/synthetic-default"  # dataset directory
event: str = "divorce"  # the event studied [divorce|job_loss]
window_months: int = 12  # months before inflow
covariates: list = []  # optional covariates: female, age
event_window: list = [-4, 4]  # years before and after
lang: str = "nl"  # report language [nl|en]
output_dir: str = ""  # set by the runner
'''


@pytest.fixture()
def project(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='toy'\n")
    nb = build_notebook([("markdown", "# Old toy: an older study\n\nIts question."), ("parameters", OLD_PARAMS),
                         ("code", 'study = setup_study("oldtoy", dataset=dataset)\nprint("ran")'),
                         ("code", "study.finish()")])
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="OUTPUT-MARKER\n")]
    nb.cells[2].execution_count = 1
    nbformat.write(nb, root / "notebooks" / "10_oldtoy.ipynb")
    monkeypatch.setenv("RENDEERT_HOME", str(root))
    monkeypatch.delenv("RENDEERT_POLICY", raising=False)
    return root


def test_new_writes_the_template_notebook_and_its_test(project, capsys):
    assert cli.main(["new", "job_loss_50plus"]) == 0
    assert "job_loss_50plus" in capsys.readouterr().out
    notebook = project / "notebooks" / "20_job_loss_50plus.py"
    test = project / "tests" / "studies" / "test_job_loss_50plus.py"
    assert notebook.is_file() and test.is_file()
    text = notebook.read_text(encoding="utf-8")
    assert "__STUDY" not in text and 'rd.start("job_loss_50plus"' in text
    nb = read_notebook(notebook)
    title = nb.cells[0].source
    assert title.startswith("# Job loss 50plus")
    for placeholder in ("**Question.**", "**Data.**", "**Estimand.**", "**Assumption.**"):
        assert placeholder in title
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in nb.cells[1].metadata["tags"]
    assert "safe_aggregate(" in code[2] and "run.report.table(" in code[2], "the example step uses checked tables"
    assert code[-1].strip() == "run.finish();", "the results cell comes last"
    assert 'STUDY = "job_loss_50plus"' in test.read_text(encoding="utf-8")

    study = get_study("job_loss_50plus")
    declared = {p.name: p.declaration for p in study.user_parameters}
    assert set(POPULATION) <= set(declared)
    assert declared["sex"].choices == ("all", "F", "M")
    assert declared["age_min"].kind == "int" and declared["age_min"].range is not None
    assert validate_parameters(study, {"municipality": "GM0363", "age_min": "30", "age_max": "55", "sex": "F"}) == {
        "municipality": "GM0363", "age_min": 30, "age_max": 55, "sex": "F"}


def test_numbers_follow_the_existing_studies(project):
    for n in (0, 30, 40, 50, 60, 70, 80, 90):
        (project / "notebooks" / f"{n:02d}_s{n}.ipynb").write_bytes((project / "notebooks" / "10_oldtoy.ipynb")
                                                                    .read_bytes())
    assert cli.main(["new", "late"]) == 0
    assert (project / "notebooks" / "91_late.py").is_file(), "no tens left below 90: one above the highest"


@pytest.mark.parametrize("argv", [
    ["new", "oldtoy"],  # an existing study (.ipynb)
    ["new", "Bad"], ["new", "1st"], ["new", "job-loss"], ["new", "x"], ["new", "class"], ["new", "all"],
    ["new", "fresh", "--from", "nope"],
])
def test_refused_names_exit_2_and_write_nothing(project, argv, capsys):
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before


def test_an_existing_text_study_or_test_is_refused(project, capsys):
    assert cli.main(["new", "fresh"]) == 0
    assert cli.main(["new", "fresh"]) == 2
    assert "A study 'fresh' exists already (notebooks/20_fresh.py)" in capsys.readouterr().err
    (project / "tests" / "studies" / "test_other.py").write_text("")
    assert cli.main(["new", "other"]) == 2
    assert "test_other.py exists already" in capsys.readouterr().err


def test_from_an_ipynb_study_converts_it_to_a_declared_text_notebook(project):
    assert cli.main(["new", "divorce_again", "--from", "oldtoy"]) == 0
    path = project / "notebooks" / "20_divorce_again.py"
    text = path.read_text(encoding="utf-8")
    assert "OUTPUT-MARKER" not in text, "outputs are not copied"
    assert 'setup_study("divorce_again", dataset=dataset)' in text
    assert "# # Divorce again" in text and "Copied from the study `oldtoy`" in text
    assert 'event: \'Literal["divorce", "job_loss"]\' = "divorce"  # the event studied\n' in text
    assert 'covariates: "list[str]" = []  # optional covariates: female, age\n' in text
    assert 'event_window: "list[int]" = [-4, 4]  # years before and after\n' in text
    study = get_study("divorce_again")
    assert study.title == "Divorce again" and study.is_text
    assert [p.name for p in study.user_parameters] == [p.name for p in get_study("oldtoy").user_parameters]
    assert validate_parameters(study, {"event": "job_loss", "event_window": "-2,2"}) == {
        "event": "job_loss", "event_window": [-2, 2]}
    assert list(list_studies()) == ["oldtoy", "divorce_again"]


def test_from_a_text_study_keeps_its_declarations(project):
    assert cli.main(["new", "first"]) == 0
    assert cli.main(["new", "second", "--from", "first"]) == 0
    first, second = get_study("first"), get_study("second")
    assert [p.describe() for p in second.parameters] == [p.describe() for p in first.parameters]
    assert 'rd.start("second"' in second.notebook.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    from analysis.data.synthetic import generate

    out = tmp_path_factory.mktemp("data") / "synthetic-small"
    generate(out, n_persons=SMALL_PERSONS, seed=SMALL_SEED)
    return out


def _direct_share(dataset: Path, year: int, *, sex: str, age: tuple[int, int], municipality: str):
    """The bijstand share on 31 December counted from the raw tables with pandas (not the store, not DuckDB)."""
    persons = pd.read_parquet(dataset / "persons.parquet")
    spells = pd.read_parquet(dataset / "benefit_spells.parquet")
    dec31 = pd.Timestamp(year, 12, 31)
    end = pd.to_datetime(spells["end_date"]).fillna(pd.Timestamp.max)
    covering = spells[(spells["benefit"] == "bijstand") & (pd.to_datetime(spells["start_date"]) <= dec31)
                      & (end >= dec31)]["person_id"]
    ages = year - persons["birth_year"]
    pop = persons[(ages >= age[0]) & (ages <= age[1]) & (persons["sex"] == sex)
                  & (persons["municipality_code"] == municipality)]
    return float(pop["person_id"].isin(set(covering)).mean()), len(pop)


@pytest.mark.slow
def test_new_study_is_listed_and_runs_end_to_end_against_truth(project, small_dataset, tmp_path, capsys):
    assert cli.main(["new", "bijstand_check"]) == 0
    assert cli.main(["studies"]) == 0
    assert "bijstand_check  (notebooks/20_bijstand_check.py): Bijstand check" in capsys.readouterr().out

    out = tmp_path / "reports"
    assert cli.main(["run", "bijstand_check", "--dataset", str(small_dataset), "--no-pdf", "--out", str(out)]) == 0
    run_dir = next((out / "bijstand_check").glob("2*"))
    results = json.loads((run_dir / "results.json").read_text())
    truth = json.loads((small_dataset / "truth.json").read_text())
    truths = truth.get("truths", truth)
    rows = {r["name"]: r for r in results["estimates"]}
    assert set(rows) == {f"bijstand_share_{y}" for y in range(2014, 2024)}
    for name, row in rows.items():
        assert row["estimate"] == pytest.approx(truths[name], abs=SHARE_TOLERANCE), name
    assert sorted(p.name for p in run_dir.glob("*.ipynb")) == ["notebook.ipynb"]

    persons = pd.read_parquet(small_dataset / "persons.parquet")
    code = persons["municipality_code"].value_counts().index[0]
    params = ["-p", "municipality", code, "-p", "age_min", "30", "-p", "age_max", "55", "-p", "sex", "F",
              "-p", "first_year", "2020", "-p", "last_year", "2021"]
    assert cli.main(["run", "bijstand_check", "--dataset", str(small_dataset), "--no-pdf", "--out",
                     str(tmp_path / "sub"), *params]) == 0
    run_dir = next((tmp_path / "sub" / "bijstand_check").glob("2*"))
    results = json.loads((run_dir / "results.json").read_text())
    assert results["parameters"]["sex"] == "F" and results["parameters"]["age_min"] == 30
    published = 0
    for row in results["estimates"]:
        share, n = _direct_share(small_dataset, int(row["name"][-4:]), sex="F", age=(30, 55), municipality=code)
        with_bijstand = round(share * n)
        # a share is published only when both the persons with and without bijstand number 10 or more
        assert row["suppressed"] == (min(with_bijstand, n - with_bijstand) < MIN_UNITS), (row, with_bijstand, n)
        if row["suppressed"]:
            assert row["estimate"] is None and row["n"] is None
        else:
            published += 1
            assert (row["estimate"], row["n"]) == (pytest.approx(share, abs=SHARE_TOLERANCE), n)
    assert published >= 1, "the check compares at least one published share"
    assert [r["name"] for r in results["estimates"]] == ["bijstand_share_2020", "bijstand_share_2021"]

    assert cli.main(["run", "bijstand_check", "--dataset", str(small_dataset), "-p", "sex", "X", "--no-pdf"]) == 2
    assert "'sex' received 'X'" in capsys.readouterr().err


@pytest.mark.slow
def test_the_generated_test_runs_and_passes(project):
    """The stub of tests/studies/test_NAME.py is a real test: it runs the study (with its PDF) and passes."""
    assert cli.main(["new", "stubbed"]) == 0
    env = {**os.environ, "RENDEERT_HOME": str(project)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           str(project / "tests" / "studies" / "test_stubbed.py")],
                          cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout


@pytest.mark.slow
def test_a_copy_of_a_real_study_runs_and_recovers_the_truth(project, small_dataset, tmp_path):
    """``--from overview``: a copy of the bundled study (a text notebook) still runs and recovers the
    simulator's inflow counts and bijstand shares."""
    (project / "notebooks" / "00_overview.py").write_bytes((ROOT / "notebooks" / "00_overview.py").read_bytes())
    assert cli.main(["new", "my_overview", "--from", "overview"]) == 0
    study = get_study("my_overview")
    assert study.is_text and all(p.declaration is not None for p in study.parameters)
    assert study.parameter("lang").declaration.choices == ("nl", "en")
    out = tmp_path / "reports"
    assert cli.main(["run", "my_overview", "--dataset", str(small_dataset), "--no-pdf", "--out", str(out)]) == 0
    results = json.loads(next((out / "my_overview").glob("2*/results.json")).read_text())
    truth = json.loads((small_dataset / "truth.json").read_text())
    truths = truth.get("truths", truth)
    rows = {r["name"]: r for r in results["estimates"]}
    for year in (2016, 2020, 2023):
        assert rows[f"inflow_{year}"]["estimate"] == truths[f"inflow_{year}"], "a count: exactly equal"
        assert rows[f"bijstand_share_{year}"]["estimate"] == pytest.approx(truths[f"bijstand_share_{year}"],
                                                                            abs=SHARE_TOLERANCE)
