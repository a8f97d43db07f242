"""rendeert export: the output-check package and the differencing check across runs of one dataset."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.run import cli, register
from analysis.run.differencing import can_nest, check, small_difference
from analysis.run.export import export_runs
from analysis.run.register import PublishedRun

SHA = "d" * 64
MIN_UNITS = 10  # the CBS default policy


def _run(root: Path, run_id: str, *, window: int, divorced: int, inflow: int = 353, municipality: str = "all",
         extra_cells=(), sha: str = SHA, status: str = "ok") -> Path:
    """A finished intake-like run: results.json, published.json (as StudyContext.finish writes it), a PDF."""
    d = root / "intake" / run_id
    d.mkdir(parents=True)
    params = {"dataset": "/data/x", "window_months": window, "municipality": municipality, "lang": "nl"}
    share = divorced / inflow
    rows = [{"name": "share_inflow_after_divorce", "estimate": share, "se": 0.01, "ci_low": share - 0.02,
             "ci_high": share + 0.02, "n": inflow, "unit": "share", "suppressed": False},
            {"name": "small_thing", "estimate": None, "se": None, "ci_low": None, "ci_high": None, "n": None,
             "unit": "share", "suppressed": True}]
    (d / "results.json").write_text(json.dumps({"study": "intake", "parameters": params,
                                                "dataset": {"name": "x", "sha256": sha}, "estimates": rows}))
    cells = [{"object": "results.json", "cell": "share_inflow_after_divorce", "value": share, "n": inflow,
              "kind": "estimate", "unit": "share"}, *extra_cells]
    (d / "published.json").write_text(json.dumps({"study": "intake", "dataset": {"sha256": sha},
                                                  "population": params, "cells": cells}))
    (d / "manifest.json").write_text(json.dumps({"study": "intake", "run_id": run_id, "status": status,
                                                 "parameters": params, "dataset": {"sha256": sha}}))
    (d / "report.pdf").write_bytes(b"%PDF-1.7 " + run_id.encode())
    return d


def _published(run_id, population, cells, study="intake", sha=SHA):
    return PublishedRun(run_id=run_id, study=study, dataset_sha256=sha, population=population, cells=tuple(cells))


# -- the check on its own -------------------------------------------------------------------------------

@pytest.mark.parametrize(("a", "b", "expected"), [
    # windows 12 and 13: the same 353 inflows, 43 against 45 divorced: 2 persons by subtraction
    ({"n": 353, "value": 43 / 353, "kind": "share"}, {"n": 353, "value": 45 / 353, "kind": "share"}, "numerator"),
    ({"n": 100, "value": 1.0, "kind": "mean"}, {"n": 95, "value": 1.1, "kind": "mean"}, "n"),
    ({"n": 100, "value": 30, "kind": "count"}, {"n": 100, "value": 39, "kind": "count"}, "count"),
    ({"n": 353, "value": 43 / 353, "kind": "share"}, {"n": 353, "value": 43 / 353, "kind": "share"}, None),
    ({"n": 353, "value": 43 / 353, "kind": "share"}, {"n": 353, "value": 53 / 353, "kind": "share"}, None),
    ({"n": 100, "value": 1.0, "kind": "mean"}, {"n": 110, "value": 1.1, "kind": "mean"}, None),
    ({"n": 100, "value": 0.5, "kind": "public:statline"}, {"n": 95, "value": 0.5, "kind": "public:statline"}, None),
])
def test_small_difference(a, b, expected):
    """0 tells nothing new, 10 or more is publishable on its own, 1..9 units is a disclosure."""
    assert small_difference(a, b, min_units=MIN_UNITS) == expected


def test_populations_that_can_nest():
    all_ = _published("a", {"municipality": "all", "window_months": 12}, [])
    gm1 = _published("b", {"municipality": "GM0001", "window_months": 12}, [])
    gm2 = _published("c", {"municipality": "GM0002", "window_months": 12}, [])
    w13 = _published("d", {"municipality": "all", "window_months": 13}, [])
    other_data = _published("e", {"municipality": "all", "window_months": 13}, [], sha="e" * 64)
    assert can_nest(all_, gm1) and can_nest(all_, w13)
    assert not can_nest(gm1, gm2), "two different municipalities are disjoint"
    assert not can_nest(w13, other_data), "another dataset is another population"


def test_check_withholds_the_later_cell_and_respects_earlier_exports():
    cell = {"object": "results.json", "cell": "share", "kind": "share", "n": 353}
    w12 = _published("w12", {"window_months": 12}, [{**cell, "value": 43 / 353}])
    w13 = _published("w13", {"window_months": 13}, [{**cell, "value": 45 / 353}])
    findings = check([w12, w13], min_units=MIN_UNITS)
    assert [(f["run_id"], f["cell"], f["rule"], f["n"], f["against"]) for f in findings] == \
        [("w13", "share", "differencing", "<10", "w12")]
    # exported earlier, w13 is fixed: a new w12 is the one withheld
    findings = check([w12], min_units=MIN_UNITS, earlier=[w13])
    assert [f["run_id"] for f in findings] == ["w12"]
    assert "2" not in json.dumps(findings).replace("w12", "").replace("w13", ""), "the difference is never written"


# -- the package --------------------------------------------------------------------------------------------

def test_export_withholds_the_differing_cell(tmp_path):
    a = _run(tmp_path, "20260101T000000-aaaaaa", window=12, divorced=43)
    b = _run(tmp_path, "20260101T000001-bbbbbb", window=13, divorced=45)
    outcome = export_runs([a, b], out=tmp_path / "pkg.zip")
    assert [(f["run_id"], f["cell"]) for f in outcome.withheld] == [(b.name, "share_inflow_after_divorce")]
    with zipfile.ZipFile(tmp_path / "pkg.zip") as z:
        names = set(z.namelist())
        assert f"intake-{a.name}/report.pdf" in names and f"intake-{a.name}/results.json" in names
        assert f"intake-{b.name}/report.pdf" not in names, "the PDF showing the withheld cell stays behind"
        assert {"output_list.csv", "output_list.md", "policy.json", "differencing.json", "README.md"} <= names
        kept = json.loads(z.read(f"intake-{a.name}/results.json"))["estimates"][0]
        held = json.loads(z.read(f"intake-{b.name}/results.json"))["estimates"][0]
        rows = list(csv.DictReader(io.StringIO(z.read("output_list.csv").decode())))
        readme = z.read("README.md").decode()
        policy = json.loads(z.read("policy.json"))
    assert kept["estimate"] == pytest.approx(43 / 353) and kept["n"] == 353
    assert held["estimate"] is None and held["n"] is None and held["suppressed"]
    by = {(r["run"], r["cell"]): r for r in rows}
    assert by[(a.name, "share_inflow_after_divorce")]["n"] == "353", "every published cell with its unweighted n"
    assert by[(b.name, "share_inflow_after_divorce")]["status"] == "withheld by the export"
    assert by[(b.name, "share_inflow_after_divorce")]["n"] == "" and by[(b.name, "share_inflow_after_divorce")]["value"] == ""
    assert by[(a.name, "small_thing")]["status"] == "withheld in the run" and by[(a.name, "small_thing")]["n"] == ""
    assert "1_Controle vooraf" in readme and "output-control form" in readme
    assert policy["rules"]["min_units"] == MIN_UNITS and policy["file"] is None
    exports = [r for r in register.read(SHA, root=tmp_path) if r["kind"] == "export"]
    assert {r["run_id"] for r in exports} == {a.name, b.name}, "the package enters the register"


def test_export_refuses_with_exit_2_naming_runs_and_cells(tmp_path, capsys):
    a = _run(tmp_path, "r12", window=12, divorced=43)
    b = _run(tmp_path, "r13", window=13, divorced=45)
    status = cli.main(["export", str(a), str(b), "--out", str(tmp_path / "pkg.zip"), "--differencing", "refuse"])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert "Export refused" in err and "run r13: results.json / share_inflow_after_divorce" in err
    assert "against run r12" in err
    assert not (tmp_path / "pkg.zip").exists() and not list(tmp_path.glob(".pkg.zip*")), "nothing written"
    assert register.read(SHA, root=tmp_path) == [], "a refused export enters nothing in the register"


def test_a_later_export_is_checked_against_an_earlier_one(tmp_path):
    a = _run(tmp_path, "r12", window=12, divorced=43)
    b = _run(tmp_path, "r13", window=13, divorced=45)
    assert export_runs([a], out=tmp_path / "first.zip").withheld == ()
    with pytest.raises(ParameterError, match=r"run r13: results.json / share_inflow_after_divorce .*against run r12"):
        export_runs([b], out=tmp_path / "second.zip", on_differencing="refuse")


def test_municipality_against_all_and_partitions(tmp_path):
    """'all' (100) and GM0001 (95) give 5 persons away; GM0001 and GM0002 alone are disjoint."""
    total = _run(tmp_path, "all", window=12, divorced=30, inflow=100)
    gm1 = _run(tmp_path, "gm1", window=12, divorced=30, inflow=95, municipality="GM0001")
    gm2 = _run(tmp_path, "gm2", window=12, divorced=30, inflow=92, municipality="GM0002")
    outcome = export_runs([total, gm1], out=tmp_path / "nested.zip")
    assert {(f["run_id"], f["rule"]) for f in outcome.withheld} == {("gm1", "differencing")}
    other = tmp_path / "other"
    total, gm1, gm2 = (_run(other, r.name, window=12, divorced=30, inflow=n, municipality=m)
                       for r, n, m in ((total, 100, "all"), (gm1, 95, "GM0001"), (gm2, 92, "GM0002")))
    assert export_runs([gm1, gm2], out=other / "parts.zip").withheld == (), "two municipalities are disjoint"
    outcome = export_runs([total], out=other / "total.zip")
    assert [(f["run_id"], f["against"]) for f in outcome.withheld] == [("all", "gm1")], \
        "GM0001 left earlier: now the total is the one withheld"


def test_table_cells_from_published_json_are_checked(tmp_path):
    cell = {"object": "share_after_event_by_municipality", "cell": "GM0363", "kind": "share", "n": 120}
    a = _run(tmp_path, "a", window=12, divorced=43, extra_cells=[{**cell, "value": 30 / 120}])
    b = _run(tmp_path, "b", window=13, divorced=43, extra_cells=[{**cell, "value": 33 / 120}])
    outcome = export_runs([a, b], out=tmp_path / "pkg.zip")
    assert [(f["object"], f["cell"]) for f in outcome.withheld] == [("share_after_event_by_municipality", "GM0363")]
    assert outcome.pdfs_left_out == ("b",)


def test_stricter_export_policy_withholds_small_cells(tmp_path):
    strict = tmp_path / "strict.yml"
    strict.write_text("min_units: 400\n")
    a = _run(tmp_path, "a", window=12, divorced=43)
    outcome = export_runs([a], out=tmp_path / "pkg.zip", policy=strict)
    assert [(f["cell"], f["rule"], f["n"]) for f in outcome.withheld] == [("share_inflow_after_divorce", "min_units", "<400")]
    with zipfile.ZipFile(tmp_path / "pkg.zip") as z:
        assert json.loads(z.read("policy.json"))["rules"]["min_units"] == 400


@pytest.mark.parametrize(("setup", "message"), [
    ("loose", r"loosens the CBS rules"),
    ("not_ok", r"has status 'failed'; only runs with status 'ok'"),
    ("not_a_run", r"is not a finished run"),
    ("twice", r"Run directories given twice"),
    ("exists", r"exists already"),
    ("not_zip", r"give a name ending in .zip"),
])
def test_bad_export_input_exits_2(tmp_path, capsys, setup, message):
    a = _run(tmp_path, "a", window=12, divorced=43)
    args = ["export", str(a), "--out", str(tmp_path / "pkg.zip")]
    if setup == "loose":
        (tmp_path / "loose.yml").write_text("dominance_share: 0.95\n")
        args += ["--policy", str(tmp_path / "loose.yml")]
    elif setup == "not_ok":
        args[1] = str(_run(tmp_path, "f", window=12, divorced=43, status="failed"))
    elif setup == "not_a_run":
        args[1] = str(tmp_path)
    elif setup == "twice":
        args.insert(2, str(a))
    elif setup == "exists":
        (tmp_path / "pkg.zip").write_bytes(b"")
    elif setup == "not_zip":
        args[-1] = str(tmp_path / "pkg.tar")
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    import re

    assert re.search(message, err) and "Traceback" not in err, err


def test_batch_summary_withholds_against_the_register_and_within_the_batch(tmp_path):
    """summary.csv: a window grid (12, 13) withholds the later figure; n of a withheld figure is empty."""
    from analysis.run.batch import summarise

    a = _run(tmp_path, "a", window=12, divorced=43)
    b = _run(tmp_path, "b", window=13, divorced=45)
    batch_dir = tmp_path / "intake" / "batch-x"
    batch_dir.mkdir()
    runs = pd.DataFrame([{"status": "ok", "run_dir": str(a), "key": "a"}, {"status": "ok", "run_dir": str(b), "key": "b"}])
    summary = summarise(runs, batch_dir, study="intake", pdf=False, out_root=tmp_path)
    row = summary[(summary["run_dir"] == str(b)) & (summary["name"] == "share_inflow_after_divorce")].iloc[0]
    assert row["suppressed"] and pd.isna(row["n"]) and pd.isna(row["estimate"])
    assert summary[summary["suppressed"].astype(bool)]["n"].isna().all()
    log = json.loads((batch_dir / "disclosure_log.json").read_text())
    assert {"run_dir": str(b), "name": "share_inflow_after_divorce", "rule": "differencing", "n": "<10",
            "withheld": True} in log
    # a later batch with only the 13-month run is checked against what was exported before
    c = _run(tmp_path, "c", window=13, divorced=45)
    export_runs([a], out=tmp_path / "first.zip")
    later = tmp_path / "intake" / "batch-y"
    later.mkdir()
    summary = summarise(pd.DataFrame([{"status": "ok", "run_dir": str(c), "key": "c"}]), later, study="intake",
                        pdf=False, out_root=tmp_path)
    assert summary.loc[summary["name"] == "share_inflow_after_divorce", "suppressed"].astype(bool).all()


def test_register_reads_published_json_and_keeps_no_withheld_n(tmp_path):
    a = _run(tmp_path, "a", window=12, divorced=43)
    cells, population = register.published_cells(a)
    assert population == {"window_months": 12, "municipality": "all"}, "language, paths and seed are not population"
    by = {(c["object"], c["cell"]): c for c in cells}
    assert by[("results.json", "share_inflow_after_divorce")]["kind"] == "share"
    assert by[("results.json", "small_thing")]["suppressed"] and by[("results.json", "small_thing")]["n"] is None


def test_total_minus_parts_over_the_package_and_earlier_exports(tmp_path):
    """'all' 100 with GM0001 60 and GM0002 35: the remaining 5 persons must not follow by subtraction."""
    total = _run(tmp_path / "one", "all", window=12, divorced=30, inflow=100)
    gm1 = _run(tmp_path / "one", "gm1", window=12, divorced=20, inflow=60, municipality="GM0001")
    gm2 = _run(tmp_path / "one", "gm2", window=12, divorced=20, inflow=35, municipality="GM0002")
    outcome = export_runs([total, gm1, gm2], out=tmp_path / "one.zip")
    assert [(f["run_id"], f["against"]) for f in outcome.withheld] == [("gm2", "total minus published parts")], \
        "the smallest part of the package is withheld"
    # the parts went out in two earlier packages: now the total is the one withheld
    total, gm1, gm2 = (_run(tmp_path / "two", r, window=12, divorced=20, inflow=n, municipality=m)
                       for r, n, m in (("all", 100, "all"), ("gm1", 60, "GM0001"), ("gm2", 35, "GM0002")))
    assert export_runs([gm1], out=tmp_path / "a.zip").withheld == ()
    assert export_runs([gm2], out=tmp_path / "b.zip").withheld == ()
    outcome = export_runs([total], out=tmp_path / "c.zip")
    assert [f["run_id"] for f in outcome.withheld] == ["all"]
