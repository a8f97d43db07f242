"""Small populations never crash and publish nothing that breaks a rule: overview and intake for the
smallest municipality, checked in every file a run writes. A refused municipality builds no store."""

from __future__ import annotations

import json

import nbformat
import pytest

from analysis.errors import ParameterError

MIN_UNITS = 10  # the CBS default policy

pytestmark = pytest.mark.xdist_group("disclosure_runs")  # the runs are shared with test_output_files.py


def _check_run_files(run_dir) -> dict:
    results = json.loads((run_dir / "results.json").read_text())
    for row in results["estimates"]:
        if row["suppressed"]:
            assert row["estimate"] is None and row["n"] is None and row["se"] is None, row
        else:
            assert row["n"] is not None and row["n"] >= MIN_UNITS, row
    published = json.loads((run_dir / "published.json").read_text())
    assert set(published) >= {"study", "dataset", "population", "policy", "cells"}
    for cell in published["cells"]:
        assert set(cell) >= {"object", "cell", "value", "n", "kind"}
        assert cell["n"] is None or cell["n"] >= MIN_UNITS, cell
    log = json.loads((run_dir / "disclosure_log.json").read_text())
    for entry in log:
        assert set(entry) == {"object", "cell", "rule", "n"} and entry["n"] in (None, f"<{MIN_UNITS}"), entry
    manifest_text = (run_dir / "manifest.json").read_text()
    for entry in json.loads(manifest_text).get("disclosure_log", []):
        assert entry.get("n") in (None, f"<{MIN_UNITS}"), entry
    return {"results": results, "published": published, "log": log}


def _notebook_text(run_dir) -> str:
    nb = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    return "\n".join(str(o.get("data", {}).get("text/markdown", "")) for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("study", ["overview", "intake"])
def test_smallest_municipality_runs_and_says_what_was_withheld(study, disclosure_run, smallest_municipality):
    run_dir = disclosure_run(study, municipality=smallest_municipality)  # with its PDF
    files = _check_run_files(run_dir)
    assert files["log"], "a municipality of a handful of persons must have withheld cells"
    assert all(r["suppressed"] for r in files["results"]["estimates"] if r["unit"] != "p-value")
    text = _notebook_text(run_dir)
    assert "Wegens geheimhouding" in text and "niet alles gepubliceerd" in text
    assert (run_dir / "report.pdf").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("study, table", [("overview", "bijstand_share_by_municipality"),
                                          ("intake", "share_after_event_by_municipality")])
def test_all_municipalities_publish_only_cells_on_ten_or_more(study, table, disclosure_run):
    files = _check_run_files(disclosure_run(study))
    by_muni = [e for e in files["log"] if e["object"] == table]
    assert len(by_muni) >= 2, "the small municipalities are withheld, never one alone (the total is published)"
    shown = {c["cell"] for c in files["published"]["cells"] if c["object"] == table}
    assert shown and not any(e["cell"] in s for e in by_muni for s in shown)


def test_unknown_municipality_refused_before_any_store(disclosure_dataset, tmp_path, monkeypatch):
    import analysis as rd
    from analysis.studies import intake

    monkeypatch.setenv("RENDEERT_HOME", str(tmp_path))
    overview_start = lambda **p: rd.start("overview", parameters=p)  # noqa: E731  (overview's first step)
    for setup in (overview_start, intake.setup):
        with pytest.raises(ParameterError, match=r"municipality='GM9999' does not occur in this dataset"):
            setup(dataset=str(disclosure_dataset), municipality="GM9999", output_dir=str(tmp_path / "out"))
    assert not (tmp_path / "data" / "processed").exists()
    assert not (tmp_path / "out").exists()
