"""Disclosure control: data built to break each rule, and what comes out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError, SmallCellWarning
from analysis.report.disclosure import (
    DisclosureLog, DisclosurePolicy, apply_to_estimates, safe_aggregate,
)

POLICY = DisclosurePolicy()


def test_default_policy_is_the_cbs_rules():
    p = DisclosurePolicy.load()
    assert (p.min_units, p.dominance_top_n, p.dominance_share, p.min_residual_df) == (10, 2, 0.9, 10)


def test_cells_under_ten_persons_withheld():
    frame = pd.DataFrame({"g": ["a"] * 10 + ["b"] * 9})
    log = DisclosureLog()
    with pytest.warns(SmallCellWarning, match="cells withheld by disclosure control"):
        out = safe_aggregate(frame, by=["g"], stat="count", policy=POLICY, log=log, name="t")
    f = out.frame.assign(suppressed=out["suppressed"]).set_index("g")
    assert f.loc["a", "value"] == 10
    assert np.isnan(f.loc["b", "value"]) and f.loc["b", "suppressed"] and np.isnan(f.loc["b", "n"])
    assert log.to_records() == [{"object": "t", "cell": "b", "rule": "min_units", "n": "<10"}]


def test_dominance_rule_on_amounts():
    # 12 persons: two earn 95% of the total -> the mean is withheld although n >= 10
    amounts = [1000.0, 900.0] + [10.0] * 10
    frame = pd.DataFrame({"g": "a", "x": amounts})
    log = DisclosureLog()
    with pytest.warns(SmallCellWarning):
        out = safe_aggregate(frame, by=["g"], value="x", stat="mean", policy=POLICY, log=log, name="m")
    assert out["suppressed"].iloc[0] and np.isnan(out["value"].iloc[0])
    assert log.to_records()[0]["rule"] == "dominance"
    spread = pd.DataFrame({"g": "a", "x": [100.0] * 12})
    ok = safe_aggregate(spread, by=["g"], value="x", stat="mean", policy=POLICY, log=DisclosureLog(), name="m")
    assert ok["value"].iloc[0] == 100.0


def test_minimum_and_maximum_refused():
    frame = pd.DataFrame({"g": ["a"] * 20, "x": range(20)})
    with pytest.raises(ParameterError, match=r"stat='max': a max is a single person's value"):
        safe_aggregate(frame, by=["g"], value="x", stat="max", policy=POLICY, log=DisclosureLog(), name="t")


def test_secondary_suppression_in_two_way_tables():
    frame = pd.DataFrame({"row": ["r"] * 45, "col": ["a"] * 5 + ["b"] * 15 + ["c"] * 25})
    log = DisclosureLog()
    with pytest.warns(SmallCellWarning):
        out = safe_aggregate(frame, by=["row", "col"], stat="count", policy=POLICY, log=log, name="t")
    out = out.frame.assign(suppressed=out["suppressed"]).set_index("col")
    assert out.loc["a", "suppressed"] and out.loc["b", "suppressed"] and not out.loc["c", "suppressed"]
    assert [e["rule"] for e in log.to_records()] == ["min_units", "secondary"]


def test_estimates_suppressed_by_units_and_by_residual_dof():
    rows = [{"name": "a", "estimate": 0.1, "se": 0.01, "ci_low": 0.08, "ci_high": 0.12, "n": 9, "unit": "share",
             "suppressed": False},
            {"name": "b", "estimate": 0.2, "se": 0.01, "ci_low": 0.18, "ci_high": 0.22, "n": 500, "unit": "share",
             "suppressed": False}]
    log = DisclosureLog()
    out = apply_to_estimates(rows, policy=POLICY, log=log)
    assert out[0]["suppressed"] and out[0]["estimate"] is None and out[0]["se"] is None and out[0]["n"] is None
    assert not out[1]["suppressed"] and out[1]["estimate"] == 0.2
    out = apply_to_estimates(rows[1:], policy=POLICY, log=log, residual_df=8)
    assert out[0]["suppressed"]
    assert [e["rule"] for e in log.to_records()] == ["min_units", "residual_df"]


def test_user_policy_may_tighten_not_loosen(tmp_path):
    tight = tmp_path / "tight.yml"
    tight.write_text("min_units: 20\n")
    assert DisclosurePolicy.load(tight).min_units == 20
    loose = tmp_path / "loose.yml"
    loose.write_text("min_units: 5\ndominance_share: 0.95\n")
    with pytest.raises(ParameterError, match=r"loosens the CBS rules \(min_units 5 < 10; dominance_share 0.95 > 0.9\)"):
        DisclosurePolicy.load(loose)
    with pytest.raises(ParameterError, match=r"unknown policy keys \['min_persons'\]"):
        bad = tmp_path / "bad.yml"
        bad.write_text("min_persons: 20\n")
        DisclosurePolicy.load(bad)
