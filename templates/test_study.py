"""Study __STUDY_NAME__ runs end to end on a small synthetic dataset; its results.json follows the data contract.

Written by `rendeert new __STUDY_NAME__`. As the study grows, add tests of its numbers against the
simulator's truth (truth.json beside the generated dataset), as tests/studies/test_intake.py does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.run.catalog import get_study
from analysis.run.runner import run_study

STUDY = "__STUDY_NAME__"
SMALL_PERSONS = 4_000  # runs in seconds; enough persons for cells of 10 or more
SMALL_SEED = 11
#: The fields of every results.json row (shared/data-contract.md, "Results").
RESULT_KEYS = {"name", "estimate", "se", "ci_low", "ci_high", "n", "unit", "suppressed"}
#: A published figure rests on at least this many units (CBS output rules, shared/disclosure-rules.md).
MIN_UNITS = 10


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    from analysis.data.synthetic import generate

    out = tmp_path_factory.mktemp("data") / "synthetic-small"
    generate(out, n_persons=SMALL_PERSONS, seed=SMALL_SEED)
    return out


@pytest.mark.slow
def test_runs_on_small_data_and_writes_results_by_the_data_contract(small_dataset, tmp_path):
    declared = {p.name for p in get_study(STUDY).user_parameters}
    parameters = {"dataset": str(small_dataset)} if "dataset" in declared else {}
    outcome = run_study(STUDY, parameters, out_root=tmp_path, progress=False)
    results = json.loads((outcome.run_dir / "results.json").read_text(encoding="utf-8"))
    assert set(results) >= {"study", "parameters", "dataset", "estimates"}
    assert set(results["dataset"]) >= {"name", "path", "sha256"}
    if parameters:
        assert Path(results["dataset"]["path"]).resolve() == small_dataset.resolve()
    assert results["estimates"], "the study writes at least one estimate"
    names = [row["name"] for row in results["estimates"]]
    assert len(names) == len(set(names)), "estimate names are unique"
    for row in results["estimates"]:
        assert set(row) >= RESULT_KEYS, row
        for key in ("estimate", "se", "ci_low", "ci_high"):
            assert row[key] is None or isinstance(row[key], (int, float)), row
        assert isinstance(row["suppressed"], bool), row
        if row["suppressed"]:
            assert row["estimate"] is None and row["se"] is None and row["n"] is None, row
        else:
            assert isinstance(row["n"], int) and row["n"] >= MIN_UNITS, row
    assert outcome.pdf.is_file() and outcome.pdf.stat().st_size > 0
