"""Cross-run disclosure control and the batch summary (summary.csv, summary.pdf)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.report.disclosure import DisclosurePolicy
from analysis.run.summary import apply_to_runs, choose_estimate, cross_run_control

POLICY = DisclosurePolicy()  # CBS default: at least 10 units


def _row(run, municipality, n, name="rate", estimate=0.1, suppressed=False, window=12):
    return {"run_dir": run, "param_municipality": municipality, "param_window_months": window, "name": name,
            "estimate": estimate, "se": 0.01, "ci_low": 0.08, "ci_high": 0.12, "n": n, "unit": "share",
            "suppressed": suppressed}


def test_total_minus_all_but_one_part_is_withheld():
    """'all' (n=100) with GM1 (60) and GM2 (35) published gives away the other 5 units: withhold."""
    summary = pd.DataFrame([_row("r0", "all", 100), _row("r1", "GM0001", 60), _row("r2", "GM0002", 35)])
    out, log = cross_run_control(summary, POLICY)
    withheld = out[out["suppressed"]]
    assert list(withheld["run_dir"]) == ["r2"], "the smallest published part is withheld first"
    assert withheld[["estimate", "se", "ci_low", "ci_high"]].isna().all().all()
    assert log == [{"run_dir": "r2", "name": "rate", "rule": "differencing", "n": "<10", "withheld": True}], \
        "the log names run, estimate and rule; never the 5 units of the remainder"
    assert withheld["n"].isna().all(), "a withheld figure has no n"


def test_exact_partition_and_large_remainder_are_safe():
    """A remainder of 0 reveals nothing new; one of 10 or more units is publishable on its own."""
    exact = pd.DataFrame([_row("r0", "all", 100), _row("r1", "GM0001", 60), _row("r2", "GM0002", 40)])
    large = pd.DataFrame([_row("r0", "all", 100), _row("r1", "GM0001", 60), _row("r2", "GM0002", 30)])
    for summary in (exact, large):
        out, log = cross_run_control(summary, POLICY)
        assert not out["suppressed"].any() and log == []


def test_withholding_continues_until_the_remainder_is_safe():
    """Remainder 2; withholding GM3 (n=3) makes it 5, still small, so GM2 (n=20) goes too: 25."""
    summary = pd.DataFrame([_row("r0", "all", 100), _row("r1", "GM0001", 75), _row("r2", "GM0002", 20),
                            _row("r3", "GM0003", 3, suppressed=False)])
    out, log = cross_run_control(summary, POLICY)
    assert set(out.loc[out["suppressed"], "run_dir"]) == {"r3", "r2"}
    assert [e["n"] for e in log] == ["<10", "<10"]


def test_groups_are_separate_per_estimate_and_other_parameters():
    """Runs with another window_months are other populations: they do not pair with this 'all'."""
    summary = pd.DataFrame([_row("r0", "all", 100), _row("r1", "GM0001", 95),
                            _row("r2", "GM0001", 95, window=6), _row("r3", "all", 100, name="other")])
    out, log = cross_run_control(summary, POLICY)
    assert list(out.loc[out["suppressed"], "run_dir"]) == ["r1"]


def test_apply_to_runs_withholds_in_the_run_itself(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(json.dumps({"estimates": [
        {"name": "rate", "estimate": 0.1, "se": 0.01, "ci_low": 0.08, "ci_high": 0.12, "n": 35, "suppressed": False},
        {"name": "kept", "estimate": 1.0, "se": None, "ci_low": None, "ci_high": None, "n": 35, "suppressed": False}]}))
    (run / "report.pdf").write_bytes(b"%PDF-1.7")
    apply_to_runs([{"run_dir": str(run), "name": "rate", "rule": "differencing", "n": "<10", "withheld": True}])
    estimates = {e["name"]: e for e in json.loads((run / "results.json").read_text())["estimates"]}
    assert estimates["rate"]["suppressed"] and estimates["rate"]["estimate"] is None
    assert estimates["rate"]["n"] is None, "a withheld estimate has n null"
    assert estimates["kept"]["estimate"] == 1.0
    assert not (run / "report.pdf").exists() and (run / "report.pdf.withheld").exists()
    entry = json.loads((run / "disclosure_log.json").read_text())[0]
    assert entry["rule"] == "differencing" and entry["n"] is None


def test_choose_estimate():
    summary = pd.DataFrame([{**_row("r0", "all", 100, name="count"), "se": None}, _row("r0", "all", 100)])
    assert choose_estimate(summary, None) == "rate"
    from analysis.errors import ParameterError

    with pytest.raises(ParameterError, match="not an estimate of these runs"):
        choose_estimate(summary, "nope")


def test_forest_plot_drops_labels_for_hundreds_of_runs():
    from analysis.run.summary import MAX_LABELLED_RUNS, forest_figure

    many = pd.DataFrame([{**_row(f"r{i}", f"GM{i:04d}", 100, estimate=i / 100), "ci_low": i / 100 - 0.02,
                          "ci_high": i / 100 + 0.02} for i in range(MAX_LABELLED_RUNS + 1)])
    fig = forest_figure(many, labels=many["param_municipality"], xlabel="x", pooled=None, pooled_label="",
                        withheld_label="x", runs_label="41 runs")
    assert list(fig.axes[0].get_yticks()) == [] and fig.axes[0].get_ylabel() == "41 runs"
    few = many.head(3)
    fig = forest_figure(few, labels=few["param_municipality"], xlabel="x", pooled=None, pooled_label="",
                        withheld_label="x")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["GM0000", "GM0001", "GM0002"]


def test_default_estimate_is_the_headline_not_a_descriptive_share():
    """Issue #15: the batch summary defaults to the headline causal/adjusted estimate, not a share."""
    summary = pd.DataFrame([_row("r0", "all", 500, name="share_inflow_after_x"),
                            _row("r0", "all", 500, name="raw_rate_bijstand_GM0001"),
                            _row("r0", "all", 500, name="att_employed")])
    assert choose_estimate(summary, None) == "att_employed"
    compare = pd.DataFrame([_row("r0", "all", 500, name="raw_rate_bijstand_GM0001"),
                            _row("r0", "all", 500, name="adjusted_ratio_bijstand_GM0001")])
    assert choose_estimate(compare, None) == "adjusted_ratio_bijstand_GM0001"


def test_list_parameters_read_as_text():
    from analysis.run.summary import _param_text

    assert _param_text("['sex', 'age_band']") == "sex, age_band"
    assert _param_text("GM0363") == "GM0363"


def test_benchmark_batch_labels_are_names(tmp_path, monkeypatch):
    """Names from CBS's classification where the (optional, not bundled) names file is present."""
    import analysis.data.statline as statline
    from analysis.run.summary import municipality_labels

    (tmp_path / "gemeenten_2015_2017.csv").write_text("year,code,name,province\n2017,GM0363,Amsterdam,Noord-Holland\n")
    monkeypatch.setattr(statline, "bundled_dir", lambda: tmp_path)
    summary = pd.DataFrame([{**_row("r0", "GM0363", 500), "param_year": 2017}])
    assert municipality_labels(summary, "benchmark")["GM0363"] == "Amsterdam"
