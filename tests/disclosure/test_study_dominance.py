"""Dominance through a study's mean: one person with 10 billion euro of health-care costs in every year
must not show through the overview's mean costs by bijstand status (the issue's 5e7 case, made extreme)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_one_persons_costs_withhold_the_mean_of_their_group(disclosure_dataset, tmp_path, monkeypatch):
    from analysis.run.runner import run_study

    data = tmp_path / "dominated"
    shutil.copytree(disclosure_dataset, data)
    health = pd.read_parquet(data / "health_yearly.parquet")
    person = health["person_id"].iloc[0]
    health.loc[health["person_id"] == person, "healthcare_costs_eur"] = 1e10
    health.to_parquet(data / "health_yearly.parquet", index=False)
    # a project of its own (the study notebook only), so the dominated dataset's store stays in tmp_path
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname='dominance'\n")
    shutil.copy(ROOT / "notebooks" / "00_overview.py", project / "notebooks" / "00_overview.py")
    monkeypatch.setenv("RENDEERT_HOME", str(project))
    outcome = run_study("overview", {"dataset": str(data)}, out_root=tmp_path / "reports", progress=False, pdf=False)
    log = json.loads((outcome.run_dir / "disclosure_log.json").read_text())
    dominated = [e for e in log if e["object"] == "costs_by_status" and e["rule"] == "dominance"]
    assert len(dominated) >= 1 and all(e["n"] is None for e in dominated), log
    published = json.loads((outcome.run_dir / "published.json").read_text())["cells"]
    health_cells = [c for c in published if c["object"] == "health_by_status"]
    means = [c for c in health_cells if c["kind"] == "mean"]
    # two statuses: the group(s) holding that person's years show "x" for the mean, the other its mean
    assert len(means) == 2 - len(dominated), health_cells
    assert all(c["value"] < 1e9 for c in means), means
    nb = nbformat.read(outcome.run_dir / "notebook.ipynb", as_version=4)
    markdown = "\n".join(str(o.get("data", {}).get("text/markdown", "")) for c in nb.cells if c.cell_type == "code"
                         for o in c.get("outputs", []))
    assert "x" in markdown and "10.000.000.000" not in markdown and "1e+10" not in markdown
