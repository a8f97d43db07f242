"""Batches on a local process pool: one directory per run, failures reported, resume, summary."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.run.batch import expand_grid, failures_table, read_grid, run_batch
from test_runner import project  # noqa: F401  (the toy study fixture)


def test_expand_grid_is_cartesian():
    combos = expand_grid({"a": [1, 2], "b": ["x", "y", "z"], "c": 5})
    assert len(combos) == 6
    assert {"a": 2, "b": "z", "c": 5} in combos


def test_grid_from_options(tmp_path):
    f = tmp_path / "grid.yml"
    f.write_text("n: [1, 2]\n")
    assert read_grid(f, [("scale", "1.5,2")]) == {"n": [1, 2], "scale": ["1.5", "2"]}
    with pytest.raises(ParameterError, match=r"Grid parameter 'n' has no values"):
        expand_grid({"n": []})


def test_bad_combination_refused_before_any_run(project, tmp_path):  # noqa: F811
    with pytest.raises(ParameterError, match=r"'n' must be of type int"):
        run_batch("toy", {"n": ["1", "two"]}, out_root=tmp_path, pdf=False, progress=False)
    assert not (tmp_path / "toy").exists()


@pytest.mark.slow
def test_local_batch_runs_each_combination_and_reports_failures(project, tmp_path):  # noqa: F811
    grid = {"n": [2, 3], "fail": [False, True]}
    batch_dir = run_batch("toy", grid, workers=2, out_root=tmp_path, pdf=False, progress=False)
    runs = pd.read_csv(batch_dir / "runs.csv")
    assert len(runs) == 4
    assert sorted(runs["status"]) == ["failed", "failed", "ok", "ok"]
    ok_dirs = runs.loc[runs["status"] == "ok", "run_dir"]
    assert ok_dirs.nunique() == 2, "every run has its own directory"
    failed = failures_table(batch_dir)
    assert "2 of 4 runs failed" in failed and "ZeroDivisionError" in failed
    summary = pd.read_csv(batch_dir / "summary.csv")
    assert len(summary) == 2 + 3  # estimates x_0.. of the two successful runs
    again = run_batch("toy", {"n": [2, 3]}, workers=2, out_root=tmp_path, pdf=False, progress=False, resume=True)
    assert set(pd.read_csv(again / "runs.csv")["status"]) == {"skipped"}


@pytest.mark.parametrize(("options", "message"), [
    ({"workers": 0}, r"--workers 0: a batch needs at least one worker"),
    ({"workers": 2, "scheduler": "tcp://127.0.0.1:1"}, r"--workers and --scheduler exclude each other"),
])
def test_bad_pool_options_refused_before_any_run(tmp_path, options, message):
    with pytest.raises(ParameterError, match=message):
        run_batch("overview", {"lang": ["nl"]}, out_root=tmp_path, progress=False, **options)
    assert not any(tmp_path.iterdir())
