"""The issue's case end to end: two intake runs, windows of 12 and 13 months, exported together.

On a 3,000-person synthetic draw (seed 10) one inflow has a separation exactly 13 months before it: the
two runs' shares "inflow after divorce" differ by that one person. The count is taken from the raw
tables here (not from our output), then the export must withhold or refuse the 13-month cell.
"""

from __future__ import annotations

import json
import zipfile

import pandas as pd
import pytest

from analysis.data.synthetic import generate
from analysis.errors import ParameterError
from analysis.run import register
from analysis.run.export import export_runs
from analysis.run.runner import run_study

CELL = "share_inflow_after_divorce"


def _inflows_after_separation(dataset, window: int) -> int:
    """Inflows into bijstand (from the 13th month of observation) with a divorce or separation in the
    ``window`` months before or in the inflow month, counted on the raw contract tables."""
    import yaml

    start = pd.Timestamp(yaml.safe_load((dataset / "dataset.yml").read_text())["observation_start"])
    month = lambda d: pd.to_datetime(d).dt.year * 12 + pd.to_datetime(d).dt.month - 1  # noqa: E731
    spells = pd.read_parquet(dataset / "benefit_spells.parquet")
    spells = spells[spells["benefit"] == "bijstand"].assign(m=lambda f: month(f["start_date"]))
    spells = spells[spells["m"] >= start.year * 12 + start.month - 1 + 12]
    ends = pd.read_parquet(dataset / "partnerships.parquet")
    ends = ends[ends["end_reason"].isin(["divorce", "separation"])].assign(e=lambda f: month(f["end_date"]))
    pairs = spells.merge(ends[["person_id", "e"]], on="person_id")
    hit = pairs[(pairs["m"] - pairs["e"]).between(0, window)]
    return len(hit[["person_id", "m"]].drop_duplicates())


pytestmark = pytest.mark.xdist_group("export_intake")  # one worker builds the module-scoped fixtures, once


@pytest.fixture(scope="module")
def two_windows(tmp_path_factory):
    root = tmp_path_factory.mktemp("export-intake")
    dataset = generate(root / "d", n_persons=3_000, seed=10)
    runs = [run_study("intake", {"dataset": str(dataset), "window_months": w}, out_root=root / "reports",
                      progress=False, pdf=True) for w in (12, 13)]
    return root, dataset, runs


@pytest.mark.slow
def test_window_12_and_13_differ_by_a_few_persons(two_windows):
    _, dataset, runs = two_windows
    difference = _inflows_after_separation(dataset, 13) - _inflows_after_separation(dataset, 12)
    assert 1 <= difference <= 9, "the draw must hold the issue's case"
    shares = [next(e for e in r.results["estimates"] if e["name"] == CELL) for r in runs]
    numerators = [round(e["n"] * e["estimate"]) for e in shares]
    assert numerators[1] - numerators[0] == difference, "each run on its own publishes its share"


@pytest.mark.slow
def test_the_register_holds_both_runs(two_windows):
    root, _, runs = two_windows
    sha = runs[0].manifest["dataset"]["sha256"]
    records = [r for r in register.read(sha, root=root / "reports") if r["kind"] == "run"]
    assert [r["population"]["window_months"] for r in records] == [12, 13]
    cells = {(c["object"], c["cell"]): c for c in records[0]["cells"]}
    assert cells[("results.json", CELL)]["n"] == runs[0].results["estimates"][0]["n"]
    assert all(c["n"] is None for c in records[0]["cells"] if c["suppressed"]), "no n of a withheld cell"


@pytest.mark.slow
def test_export_refuses_then_withholds_the_differing_cell(two_windows):
    root, _, runs = two_windows
    first, second = (r.run_dir for r in runs)
    with pytest.raises(ParameterError, match=rf"run {second.name}: results.json / {CELL} .*against run {first.name}"):
        export_runs([first, second], out=root / "refused.zip", on_differencing="refuse")
    assert not (root / "refused.zip").exists()
    outcome = export_runs([first, second], out=root / "package.zip")
    assert (second.name, CELL) in {(f["run_id"], f["cell"]) for f in outcome.withheld}
    with zipfile.ZipFile(root / "package.zip") as z:
        held = {e["name"]: e for e in json.loads(z.read(f"intake-{second.name}/results.json"))["estimates"]}
        kept = {e["name"]: e for e in json.loads(z.read(f"intake-{first.name}/results.json"))["estimates"]}
        assert f"intake-{first.name}/report.pdf" in z.namelist()
        assert f"intake-{second.name}/report.pdf" not in z.namelist()
        output_list = z.read("output_list.csv").decode()
    assert held[CELL]["estimate"] is None and held[CELL]["n"] is None
    assert kept[CELL]["estimate"] is not None
    assert f"{second.name},intake,results.json,{CELL},,,share,withheld by the export,differencing" in output_list


@pytest.mark.slow
def test_run_files_carry_no_count_of_a_withheld_cell(two_windows):
    _, _, runs = two_windows
    for r in runs:
        manifest = json.loads((r.run_dir / "manifest.json").read_text())
        log = json.loads((r.run_dir / "disclosure_log.json").read_text())
        assert manifest["disclosure_log"] == log
        assert all(e["n"] in (None, "<10") for e in log)
        results = json.loads((r.run_dir / "results.json").read_text())
        assert all(e["n"] is None for e in results["estimates"] if e["suppressed"])
        assert manifest["policy"]["rules"]["min_units"] == 10 and manifest["status"] == "ok"
