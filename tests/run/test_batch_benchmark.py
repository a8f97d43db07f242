"""`rendeert batch benchmark` over municipalities on the bundled CBS StatLine figures."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.run import cli
from analysis.run.batch import plan


def test_all_municipalities_expand_from_statline():
    """The Netherlands had 388 municipalities on 1 January 2017 and 393 in 2015 (CBS, Gemeentelijke
    indeling); a batch over both years can only use codes that exist in both."""
    assert len(plan("benchmark", {"municipality": "@municipalities"}, {})) == 388
    assert len(plan("benchmark", {"municipality": "@municipalities"}, {"year": 2015})) == 393
    both = plan("benchmark", {"municipality": "@municipalities", "year": ["2015", "2017"]}, {})
    codes = {s.parameters["municipality"] for s in both}
    assert len(codes) < 388 and "GM0363" in codes
    assert len(both) == 2 * len(codes)


def test_notebooks_read_once_are_the_notebooks_on_disk(tmp_path):
    """The catalogue parses an unchanged notebook once (batch plans validate every combination against
    it), gives what parsing gives, and parses a notebook again once it changed."""
    from analysis.run import catalog

    source = catalog.study_paths()["benchmark"]
    (tmp_path / "notebooks").mkdir()
    copy = tmp_path / "notebooks" / source.name
    copy.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    first = catalog.get_study("benchmark", tmp_path)
    assert catalog.get_study("benchmark", tmp_path) is first, "an unchanged notebook is parsed once"
    assert first == catalog._inspect(copy), "the parsed study, not a stand-in"
    text = copy.read_text(encoding="utf-8")
    copy.write_text(text.replace(f"# # {first.title}", "# # Another title", 1), encoding="utf-8")
    assert catalog.get_study("benchmark", tmp_path).title == "Another title"


@pytest.mark.slow
def test_benchmark_batch_through_the_cli(tmp_path, capsys):
    code = cli.main(["batch", "benchmark", "-p", "municipality", "GM0363,GM0599,GM0014", "--workers", "2",
                     "--out", str(tmp_path), "--estimate", "bijstand_density"])
    assert code == 0, capsys.readouterr().err
    batch_dir = next((tmp_path / "benchmark").glob("batch-*"))
    summary = pd.read_csv(batch_dir / "summary.csv")
    density = summary[summary["name"] == "bijstand_density"].set_index("param_municipality")["estimate"]
    assert set(density.index) == {"GM0363", "GM0599", "GM0014"}
    assert (batch_dir / "summary.pdf").stat().st_size > 10_000


@pytest.mark.slow
def test_municipality_without_published_flows_is_withheld_not_a_crash(tmp_path):
    """GM0277 (2017): CBS publishes "." for its inflow and outflow (found by the all-municipality batch)."""
    from analysis.data.statline import load_participatiewet
    from analysis.run.runner import run_study

    frame = load_participatiewet((2017,))
    row = frame[(frame["region"] == "GM0277") & (frame["age_class"] == "all")].iloc[0]
    assert pd.isna(row["outflow_to_work_pct"]), "the premise: CBS did not publish it"
    outcome = run_study("benchmark", {"municipality": "GM0277"}, out_root=tmp_path, progress=False, pdf=False)
    est = {e["name"]: e for e in outcome.results["estimates"]}
    assert est["outflow_to_work_rate"]["suppressed"] and est["outflow_to_work_rate"]["estimate"] is None
    assert est["bijstand_density"]["estimate"] is not None
