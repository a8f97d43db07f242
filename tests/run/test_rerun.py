"""Reruns: the run's own notebook, its parameters, estimates compared within a relative tolerance, code
changes reported apart; batches and reruns leave ``latest`` alone.

The toy study sums its numbers in the iteration order of a set of strings, which Python's hash
randomisation changes from kernel to kernel: the last bits of its estimates differ between two runs of
the same code, as the real studies' do (1e-17 noise), and a rerun must still call them identical.
"""

from __future__ import annotations

import json

import nbformat
import pytest

from analysis.run import cli
from analysis.run.rerun import RELATIVE_TOLERANCE, code_changes, compare_results, rerun
from analysis.run.runner import run_study
from notebook_builder import build_notebook

PARAMS = '''
n: int = 200  # how many terms
scale: float = 1.0  # multiplier
lang: str = "nl"  # report language [nl|en]
output_dir: str = ""  # set by the runner
'''

FINISH = '''
import json, pathlib
terms = {f"k{i}": scale * (0.1 * i + 1e-3 / (i + 1)) for i in range(n)}
total = sum(terms[k] for k in set(terms))  # order differs between kernels: noise in the last bits
rows = [{"name": "total", "estimate": total, "se": total / 7, "ci_low": total - 1, "ci_high": total + 1,
         "n": n, "unit": "value", "suppressed": False}]
(pathlib.Path(output_dir) / "results.json").write_text(json.dumps({"study": "noisy", "parameters": {},
                                                                   "dataset": {}, "estimates": rows}))
'''

#: How many reruns of one run the identity test makes (issue #16: "five times out of five").
RERUNS = 5


def _notebook(finish: str = FINISH):
    return build_notebook([("markdown", "# Noisy toy"), ("parameters", PARAMS), ("code", finish)])


@pytest.fixture()
def noisy(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='noisy'\n")
    nbformat.write(_notebook(), root / "notebooks" / "01_noisy.ipynb")
    monkeypatch.setenv("RENDEERT_HOME", str(root))
    monkeypatch.delenv("RENDEERT_POLICY", raising=False)
    return root


def test_floating_point_noise_is_not_a_difference():
    a = {"estimates": [{"name": "x", "estimate": 1990.0058780309482, "se": 0.1, "ci_low": 0.0, "n": 10,
                        "suppressed": False}]}
    b = json.loads(json.dumps(a))
    b["estimates"][0]["estimate"] = 1990.0058780309491  # the toy's sum in another order
    b["estimates"][0]["ci_low"] = 3e-18                 # zero up to rounding
    assert compare_results(a, b) == []
    b["estimates"][0]["estimate"] = 1990.0058780309482 * (1 + 10 * RELATIVE_TOLERANCE)
    assert compare_results(a, b) == ["x.estimate: 1990.0058780309482 != " + repr(b["estimates"][0]["estimate"])]
    b["estimates"][0]["estimate"] = a["estimates"][0]["estimate"]
    b["estimates"][0]["n"] = 11
    assert compare_results(a, b) == ["x.n: 10 != 11"], "counts compare exactly"


def test_code_changes_are_named_apart():
    same = {"git": {"commit": "a" * 40, "dirty": False}}
    assert code_changes(same, same) == []
    other = {"git": {"commit": "b" * 40, "dirty": True}}
    notes = code_changes(same, other)
    assert notes[0].startswith("code version differs: the original ran at commit aaaaaaaaaaaa, the rerun at bbbbbbbbbbbb")
    assert "the rerun's code has uncommitted changes" in notes
    assert "the original run's code had uncommitted changes" in code_changes(other, same)[1]


@pytest.mark.slow
def test_rerun_of_an_unchanged_run_is_identical_every_time(noisy):
    first = run_study("noisy", {"n": 200}, pdf=False, progress=False)
    totals = {first.results["estimates"][0]["estimate"]}
    for _ in range(RERUNS):
        report = rerun(first.run_dir, progress=False, pdf=False)
        assert report.identical, report.lines()
        assert report.data_changes == []
        totals.add(report.outcome.results["estimates"][0]["estimate"])
    assert len(totals) > 1, "the toy must show floating-point noise, or this test proves nothing"


@pytest.mark.slow
def test_rerun_executes_the_runs_own_notebook_with_its_parameters(noisy, capsys):
    first = run_study("noisy", {"n": 50, "scale": 2.0}, pdf=False, progress=False)
    # the study's notebook changes after the run: a rerun still reproduces the run, from its own notebook
    changed = FINISH.replace("scale * (0.1 * i", "3 * scale * (0.1 * i")
    nbformat.write(_notebook(changed), noisy / "notebooks" / "01_noisy.ipynb")
    report = rerun(first.run_dir, progress=False, pdf=False)
    assert report.identical, report.lines()
    manifest = json.loads((report.outcome.run_dir / "manifest.json").read_text())
    assert manifest["parameters"]["n"] == 50 and manifest["parameters"]["scale"] == 2.0
    assert manifest["notebook"].endswith("notebook.ipynb") and first.run_dir.name in manifest["notebook"]
    assert manifest["rerun_of"] == str(first.run_dir)
    # a fresh run of the changed study is not the same: rerun compares, and says so
    (first.run_dir / "results.json").write_text(json.dumps(run_study(
        "noisy", {"n": 50, "scale": 2.0}, pdf=False, progress=False).results))
    assert cli.main(["rerun", str(first.run_dir)]) == 1
    out = capsys.readouterr().out
    assert "estimates DIFFER" in out and "total.estimate" in out


def test_rerun_refuses_a_directory_without_its_notebook(tmp_path):
    from analysis.errors import ParameterError

    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "results.json").write_text("{}")
    with pytest.raises(ParameterError, match=r"has no notebook.ipynb, the notebook the run executed"):
        rerun(tmp_path)


@pytest.mark.slow
def test_run_all_moves_latest_and_a_rerun_or_batch_does_not(noisy):
    from analysis.run.batch import run_batch

    assert cli.main(["run", "all", "--no-pdf"]) == 0
    latest = noisy / "reports" / "noisy" / "latest"
    first = latest.resolve()
    assert latest.is_symlink() and (first / "results.json").is_file(), "run all points latest at its run"
    rerun(first, progress=False, pdf=False)
    run_batch("noisy", {"n": [10, 20]}, workers=1, out_root=noisy / "reports", pdf=False, progress=False)
    assert latest.resolve() == first, "neither a rerun nor a batch moves latest"
