"""A municipality batch of the overview study: summary.csv, summary.pdf, cross-run disclosure."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.run.batch import run_batch

# With -n (loadgroup) the notebook runs on the session small dataset go to one worker as a group, which
# starts before the single tests: this long batch starts early, not last.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("notebook_runs")]


def test_municipality_batch_publishes_nothing_derivable(small_dataset, tmp_path):
    persons = pd.read_parquet(small_dataset / "persons.parquet", columns=["municipality_code"])
    sizes = persons["municipality_code"].value_counts()
    # 'all' plus every municipality but the smallest: the smallest is what subtraction would reveal.
    grid = {"municipality": ["all", *sorted(sizes.index[:-1])]}
    batch_dir = run_batch("overview", grid, fixed={"dataset": str(small_dataset), "lang": "en"}, workers=2,
                          out_root=tmp_path, progress=False, estimate="bijstand_share_2020")
    runs = pd.read_csv(batch_dir / "runs.csv")
    assert (runs["status"] == "ok").all(), runs["error"].tolist()
    summary = pd.read_csv(batch_dir / "summary.csv", dtype={"param_municipality": str})
    # The invariant the cross-run rule guarantees: for every estimate, the units in 'all' minus
    # the units of the published municipalities are 0 or at least 10 (CBS minimum).
    for name, rows in summary.groupby("name"):
        total = rows[rows["param_municipality"] == "all"]
        if total.empty or total["suppressed"].iloc[0]:
            continue
        published = rows[(rows["param_municipality"] != "all") & ~rows["suppressed"]]
        remainder = total["n"].iloc[0] - published["n"].sum()
        assert remainder == 0 or remainder >= 10, (name, remainder)
    log = json.loads((batch_dir / "disclosure_log.json").read_text())
    for entry in log:  # withheld in the run itself too: results.json and its PDF
        run = Path(entry["run_dir"])
        assert not (run / "report.pdf").exists() and (run / "report.pdf.withheld").exists()
        rows = {e["name"]: e for e in json.loads((run / "results.json").read_text())["estimates"]}
        assert rows[entry["name"]]["suppressed"] and rows[entry["name"]]["estimate"] is None

    from pypdf import PdfReader

    text = " ".join(page.extract_text() for page in PdfReader(batch_dir / "summary.pdf").pages)
    assert "Estimate per run" in text and "bijstand_share_2020" in text
    assert "Municipalities compared" in text, "a municipality batch shows the funnel plot"
