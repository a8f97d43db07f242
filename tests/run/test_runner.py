"""The runner: refused parameters, failing cells, results only on success, rerun identity.

These tests use a tiny study notebook in a temporary project (RENDEERT_HOME),
so that they exercise papermill, the parameter checks and the manifest without
needing a dataset.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.errors import ParameterError, RunError
from analysis.run import cli
from analysis.run.catalog import list_studies
from analysis.run.params import allowed_values
from analysis.run.runner import compare_results, rerun, run_study
from notebook_builder import build_notebook

PARAMS = '''
n: int = 3  # how many draws
scale: float = 1.0  # multiplier
fail: bool = False  # raise in the middle cell
lang: str = "nl"  # report language [nl|en]
output_dir: str = ""  # set by the runner
'''

BODY = '''
import json, pathlib, numpy as np
rng = np.random.default_rng(42)
values = rng.normal(size=n) * scale
'''

FAILING = '''
if fail:
    raise ZeroDivisionError("boom in the middle")
'''

FINISH = '''
rows = [{"name": f"x_{i}", "estimate": float(v), "se": None, "ci_low": None, "ci_high": None,
         "n": 100, "unit": "value", "suppressed": False} for i, v in enumerate(values)]
out = pathlib.Path(output_dir)
(out / "results.json").write_text(json.dumps({"study": "toy", "parameters": {}, "dataset": {},
                                              "estimates": rows}))
'''


@pytest.fixture()
def project(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='toy'\n")
    nb = build_notebook([("markdown", "# Toy study"), ("parameters", PARAMS), ("code", BODY),
                         ("code", FAILING), ("code", FINISH)])
    import nbformat

    nbformat.write(nb, root / "notebooks" / "01_toy.ipynb")
    monkeypatch.setenv("RENDEERT_HOME", str(root))
    return root


def test_catalog_reads_declared_parameters(project):
    studies = list_studies()
    assert list(studies) == ["toy"]
    toy = studies["toy"]
    assert toy.title == "Toy study"
    assert [p.name for p in toy.user_parameters] == ["n", "scale", "fail", "lang"]
    assert toy.parameter("n").type_name == "int"
    assert allowed_values(toy.parameter("lang").help) == ("nl", "en")


def test_unknown_parameter_refused_with_list(project):
    with pytest.raises(ParameterError, match=r"(?s)no parameter .nn.*Valid parameters:.*n: int = 3"):
        run_study("toy", {"nn": 1}, pdf=False, progress=False)
    assert not (project / "reports").exists(), "nothing may be written before the kernel would start"


@pytest.mark.parametrize("name,value,msg", [
    ("n", "three", r"'n' must be of type int; received 'three'"),
    ("scale", "x1", r"'scale' must be of type float"),
    ("fail", "maybe", r"'fail' must be of type bool"),
    ("lang", "de", r"'lang' must be one of nl, en; received 'de'"),
])
def test_wrong_type_refused(project, name, value, msg):
    with pytest.raises(ParameterError, match=msg):
        run_study("toy", {name: value}, pdf=False, progress=False)


def test_unknown_study_refused(project):
    with pytest.raises(ParameterError, match=r"Unknown study 'nope'. Available studies: toy"):
        run_study("nope", {}, pdf=False, progress=False)


@pytest.mark.slow
def test_successful_run_writes_results_and_manifest(project):
    outcome = run_study("toy", {"n": "4", "scale": 2}, pdf=False, progress=False, link_latest=True)
    assert [e["name"] for e in outcome.results["estimates"]] == ["x_0", "x_1", "x_2", "x_3"]
    manifest = json.loads((outcome.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert manifest["parameters"] == {"n": 4, "scale": 2.0}
    assert manifest["versions"]["python"]
    assert manifest["start_time"] <= manifest["end_time"]
    assert (outcome.run_dir / "notebook.ipynb").is_file()
    assert (outcome.run_dir.parent / "latest").resolve() == outcome.run_dir


@pytest.mark.slow
def test_failing_cell_names_cell_keeps_notebook_and_writes_no_results(project):
    with pytest.raises(RunError, match=r"failed in cell \d+ .*ZeroDivisionError: boom in the middle"):
        run_study("toy", {"fail": True}, pdf=False, progress=False)
    run_dirs = list((project / "reports" / "toy").iterdir())
    assert len(run_dirs) == 1
    run_dir = run_dirs[0]
    assert (run_dir / "notebook.ipynb").is_file(), "the partial notebook is kept for debugging"
    assert not (run_dir / "results.json").exists()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert manifest["error"]["ename"] == "ZeroDivisionError"


@pytest.mark.slow
def test_rerun_reports_identity(project):
    first = run_study("toy", {"n": 5}, pdf=False, progress=False)
    # the rerun goes through the full runner, which makes the PDF: skip that by running with pdf=False
    import analysis.run.runner as runner

    original = runner.run_study
    runner.run_study = lambda *a, **k: original(*a, **{**k, "pdf": False})
    try:
        second, diffs = rerun(first.run_dir, progress=False)
    finally:
        runner.run_study = original
    assert diffs == []
    assert second.run_dir != first.run_dir
    assert json.loads((second.run_dir / "manifest.json").read_text())["rerun_of"] == str(first.run_dir)


def test_compare_results_detects_a_changed_estimate():
    a = {"estimates": [{"name": "x", "estimate": 1.0, "se": 0.1, "ci_low": 0.8, "ci_high": 1.2, "n": 10,
                        "suppressed": False}]}
    b = json.loads(json.dumps(a))
    assert compare_results(a, b) == []
    b["estimates"][0]["estimate"] = 1.0000000001  # 1e-10 relative: within the rerun tolerance (1e-9)
    assert compare_results(a, b) == []
    b["estimates"][0]["estimate"] = 1.00000001  # 1e-8 relative: a difference
    assert compare_results(a, b) == ["x.estimate: 1.0 != 1.00000001"]


def test_cli_exit_status_2_on_bad_parameter(project, capsys):
    status = cli.main(["run", "toy", "-p", "n", "three", "--no-pdf"])
    err = capsys.readouterr().err
    assert status == 2
    assert "must be of type int" in err and "Traceback" not in err


def test_a_study_on_public_aggregates_names_its_municipality_from_the_statline_classification(tmp_path):
    """The benchmark's title block read 'GM0363' where the municipality is Amsterdam (CBS names, from the
    optional names file in the StatLine directory)."""
    from analysis.run.runner import report_dataset_meta

    (tmp_path / "gemeenten_2015_2017.csv").write_text("year,code,name,province\n2017,GM0363,Amsterdam,Noord-Holland\n")
    given = {"year": 2017, "statline_dir": str(tmp_path)}
    assert report_dataset_meta(None, {**given, "municipality": "GM0363"}) == {"municipality_name": "Amsterdam"}
    assert report_dataset_meta(None, {**given, "municipality": "all"}) == {}
    assert report_dataset_meta(None, {**given, "municipality": "GM9999"}) == {}
