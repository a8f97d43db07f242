"""Dominance through a study's mean: one person with 10 billion euro of health-care costs in every year
must not show through the overview's mean costs by bijstand status (the issue's 5e7 case, made extreme)."""

from __future__ import annotations

import shutil
import warnings

import pandas as pd
import pytest

from analysis.report import report as report_module


@pytest.mark.slow
def test_one_persons_costs_withhold_the_mean_of_their_group(disclosure_dataset, tmp_path, monkeypatch):
    from analysis.studies import overview

    data = tmp_path / "dominated"
    shutil.copytree(disclosure_dataset, data)
    health = pd.read_parquet(data / "health_yearly.parquet")
    person = health["person_id"].iloc[0]
    health.loc[health["person_id"] == person, "healthcare_costs_eur"] = 1e10
    health.to_parquet(data / "health_yearly.parquet", index=False)
    monkeypatch.setenv("RENDEERT_HOME", str(tmp_path))
    shown = []
    monkeypatch.setattr(report_module, "_display", lambda bundle, kind: shown.append(bundle))
    ctx = overview.setup(dataset=str(data), output_dir=str(tmp_path / "out"))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        table = overview.health_by_status(ctx)
    log = ctx.report.log.to_records()
    dominated = [e for e in log if e["object"] == "costs_by_status" and e["rule"] == "dominance"]
    assert len(dominated) >= 1 and all(e["n"] is None for e in dominated), log
    costs = table.withheld[table.values[-1]]
    assert costs.sum() == len(dominated)  # the group(s) holding that person's years show "x" for the mean
    markdown = "\n".join(b["text/markdown"] for b in shown if "text/markdown" in b)
    assert "x" in markdown and "10.000.000.000" not in markdown and "1e+10" not in markdown
