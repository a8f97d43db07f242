"""Adversarial tests: each builds data to break one rule of ../shared/disclosure-rules.md and checks what
comes out (the table, the log, the results rows). Expected values are the rules' own arithmetic."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError, SmallCellWarning
from analysis.report.disclosure import (
    DisclosureLog, DisclosurePolicy, apply_to_estimates, derived_counts, safe_aggregate, safe_ratio, safe_remainder,
    shares_within,
)

POLICY = DisclosurePolicy()  # the CBS default: 10 units, top-2 share 90 %, 10 residual df


def _agg(frame, **kw):
    log = DisclosureLog()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = safe_aggregate(frame, policy=POLICY, log=log, name="t", **kw)
    warned = any(issubclass(w.category, SmallCellWarning) for w in caught)
    assert warned == table.any_withheld, "a withheld cell is announced by a SmallCellWarning, and only then"
    return table, log


def _by(table, key):
    return table.frame.assign(suppressed=table["suppressed"]).set_index(key)


def _share_frame(groups: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """groups: name -> (persons with the property, persons in the group)."""
    rows = [(g, 1.0 if i < k else 0.0) for g, (k, n) in groups.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["g", "x"])


def test_tiny_population_withholds_the_cell_and_its_n():
    table, log = _agg(pd.DataFrame({"g": ["small"] * 3 + ["big"] * 40}), by=["g"], stat="count")
    f = _by(table, "g")
    assert f.loc["small", "suppressed"] and np.isnan(f.loc["small", "n"]) and np.isnan(f.loc["small", "value"])
    assert f.loc["big", "value"] == 40
    assert log.to_records() == [{"object": "t", "cell": "small", "rule": "min_units", "n": "<10"}]
    assert all(c["n"] >= 10 for c in table.cells())


def test_share_numerator_below_ten_withheld_zeewolde():
    # the case: 63 inflows, 3 after a divorce (4.8 %): n = 63 passes, the numerator 3 does not
    table, log = _agg(_share_frame({"Zeewolde": (3, 63), "Almere": (10, 63)}), by=["g"], value="x", stat="share")
    f = _by(table, "g")
    assert f.loc["Zeewolde", "suppressed"] and np.isnan(f.loc["Zeewolde", "value"])
    assert f.loc["Almere", "value"] == pytest.approx(10 / 63)  # numerator exactly 10: published
    assert log.to_records() == [{"object": "t", "cell": "Zeewolde", "rule": "numerator", "n": "<10"}]


def test_share_complement_below_ten_withheld():
    table, log = _agg(_share_frame({"a": (58, 63)}), by=["g"], value="x", stat="share")
    assert table["suppressed"].iloc[0] and log.to_records()[0]["rule"] == "complement"


@pytest.mark.parametrize("k, rule", [(0, "numerator"), (50, "complement")])
def test_zero_and_hundred_percent_withheld(k, rule):
    # 0 % and 100 % of 50: everyone in the cell has (or lacks) the property: group disclosure
    table, log = _agg(_share_frame({"a": (k, 50)}), by=["g"], value="x", stat="share")
    assert table["suppressed"].iloc[0] and [e["rule"] for e in log.to_records()] == [rule]


def test_share_needs_a_zero_one_column():
    with pytest.raises(ParameterError, match="stat='share' needs a 0/1 column"):
        _agg(pd.DataFrame({"g": ["a"] * 20, "x": [2.0] * 20}), by=["g"], value="x", stat="share")


def test_dominance_through_a_mean():
    # the case: one programme cost of 5e7 shows through a mean of 30 persons
    frame = pd.DataFrame({"g": "a", "x": [5e7] + [1000.0] * 29})
    table, log = _agg(frame, by=["g"], value="x", stat="mean")
    assert table["suppressed"].iloc[0] and np.isnan(table.frame["value"].iloc[0])
    assert log.to_records() == [{"object": "t", "cell": "a", "rule": "dominance", "n": None}]


def test_dominance_of_a_sum_with_negative_contributions():
    # contributions of opposite sign: judged on absolute values (|top 2| = 200 of 210 > 90 %)
    frame = pd.DataFrame({"g": "a", "x": [100.0, -100.0] + [1.0] * 10})
    table, log = _agg(frame, by=["g"], value="x", stat="sum")
    assert table["suppressed"].iloc[0]


def test_dominance_through_an_estimate_row_and_private_keys_dropped():
    rows = [{"name": "att_costs", "estimate": 77899.0, "se": 1.0, "ci_low": 0.0, "ci_high": 1.0, "n": 250,
             "unit": "eur", "suppressed": False, "_n_control": 400, "_dominance": 0.97},
            {"name": "att_ok", "estimate": -182.0, "se": 1.0, "ci_low": 0.0, "ci_high": 1.0, "n": 250,
             "unit": "eur", "suppressed": False, "_n_control": 400, "_dominance": 0.05}]
    log = DisclosureLog()
    out = apply_to_estimates(rows, policy=POLICY, log=log)
    assert out[0] == {"name": "att_costs", "estimate": None, "se": None, "ci_low": None, "ci_high": None, "n": None,
                      "unit": "eur", "suppressed": True}
    assert out[1]["estimate"] == -182.0 and out[1]["n"] == 250 and "_dominance" not in out[1]
    assert log.to_records() == [{"object": "results.json", "cell": "att_costs", "rule": "dominance", "n": None}]


def test_estimate_rules_control_units_and_share():
    base = {"estimate": 0.5, "se": 0.1, "ci_low": 0.3, "ci_high": 0.7, "unit": "probability difference",
            "suppressed": False}
    rows = [dict(base, name="few_controls", n=50, _n_control=4),
            dict(base, name="no_n", n=None),
            dict(base, name="share_numerator", n=100, estimate=0.05, unit="share"),
            dict(base, name="ok", n=100)]
    log = DisclosureLog()
    out = {r["name"]: r for r in apply_to_estimates(rows, policy=POLICY, log=log)}
    assert [out[k]["suppressed"] for k in ("few_controls", "no_n", "share_numerator", "ok")] == [True, True, True, False]
    assert [e["rule"] for e in log.to_records()] == ["min_control", "min_units", "numerator"]
    assert all(e["n"] == "<10" for e in log.to_records())
    again = apply_to_estimates(list(out.values()), policy=POLICY, log=log)  # idempotent, not logged twice
    assert again == list(out.values()) and len(log) == 3


def test_residual_degrees_of_freedom():
    rows = [{"name": "b", "estimate": 1.0, "se": 0.1, "ci_low": 0.8, "ci_high": 1.2, "n": 15, "unit": "",
             "suppressed": False}]
    log = DisclosureLog()
    assert apply_to_estimates(rows, policy=POLICY, log=log, residual_df=9)[0]["suppressed"]
    assert log.to_records() == [{"object": "results.json", "cell": "b", "rule": "residual_df", "n": None}]


def test_total_minus_published_parts_one_way():
    # the total (60) is published elsewhere: a lone withheld 4 would be 60 - 56; a second cell is withheld,
    # and together the withheld cells rest on 10 or more units
    frame = pd.DataFrame({"g": ["a"] * 4 + ["b"] * 11 + ["c"] * 45})
    table, log = _agg(frame, by=["g"], stat="count", total_published=True)
    f = _by(table, "g")
    assert list(f["suppressed"]) == [True, True, False]
    assert sorted(e["rule"] for e in log.to_records()) == ["min_units", "secondary"]


def test_secondary_suppression_protects_the_sum_of_withheld_cells():
    # two small cells (2 and 3) in one row: withholding both still leaves 5 = total - published; a third goes
    frame = pd.DataFrame({"r": "r", "c": ["a"] * 2 + ["b"] * 3 + ["d"] * 12 + ["e"] * 30})
    table, log = _agg(frame, by=["r", "c"], stat="count")
    f = _by(table, "c")
    assert list(f["suppressed"]) == [True, True, True, False]
    withheld_units = 2 + 3 + 12
    assert withheld_units >= POLICY.min_units


def test_shares_with_published_total_protect_numerators():
    # recipients per municipality: 2 of 55 (Schiermonnikoog) and 3 of 44 (Vlieland) are withheld; their sum 5
    # would follow from the published total of recipients, so a third municipality is withheld too
    table, log = _agg(_share_frame({"Schiermonnikoog": (2, 55), "Vlieland": (3, 44), "Texel": (12, 300),
                                    "Almere": (900, 9000)}), by=["g"], value="x", stat="share", total_published=True)
    f = _by(table, "g")
    assert f.loc["Schiermonnikoog", "suppressed"] and f.loc["Vlieland", "suppressed"]
    assert f.loc["Texel", "suppressed"] and not f.loc["Almere", "suppressed"]
    assert np.isnan(f.loc["Vlieland", "n"])  # the n of a withheld cell is not shown either


def test_derived_counts_follow_the_share():
    share, log = _agg(_share_frame({"a": (3, 63), "b": (20, 63)}), by=["g"], value="x", stat="share")
    counts = derived_counts(share, name="recipients", log=log)
    f = _by(counts, "g")
    assert f.loc["a", "suppressed"] and f.loc["b", "value"] == 20


def test_rate_from_checked_counts_withholds_what_follows_from_a_withheld_count():
    num, log = _agg(pd.DataFrame({"g": ["a"] * 5 + ["b"] * 30}), by=["g"], stat="count")
    den, _ = _agg(pd.DataFrame({"g": ["a"] * 500 + ["b"] * 35}), by=["g"], stat="count")
    rate = safe_ratio(num, den, name="per_1000", policy=POLICY, log=log, scale=1000.0)
    f = _by(rate, "g")
    assert f.loc["a", "suppressed"]  # its numerator is withheld
    assert f.loc["b", "suppressed"]  # complement 35 - 30 = 5: nearly everyone
    assert [e["rule"] for e in log.to_records() if e["object"] == "per_1000"] == ["derived", "complement"]
    ok = safe_ratio(num.where("g", ["b"]), den.where("g", ["b"]), name="r", policy=POLICY, log=log,
                    proportion=False)
    assert ok.frame["value"].iloc[0] == pytest.approx(30 / 35)


def test_total_minus_parts_is_a_count_with_its_own_rule():
    total, log = _agg(pd.DataFrame({"g": ["a"] * 40 + ["b"] * 40}), by=["g"], stat="count")
    part, _ = _agg(pd.DataFrame({"g": ["a"] * 35 + ["b"] * 20}), by=["g"], stat="count")
    rest = safe_remainder(total, [part], name="rest", policy=POLICY, log=log)
    f = _by(rest, "g")
    assert f.loc["a", "suppressed"] and f.loc["b", "value"] == 20  # 40 - 35 = 5 withheld; 40 - 20 = 20 shown


def test_shares_within_a_row_total():
    frame = pd.DataFrame({"y": 2020, "e": ["a"] * 30 + ["b"] * 12 + ["c"] * 4})
    counts, log = _agg(frame, by=["y", "e"], stat="count")
    shares = shares_within(counts, within=["y"], name="s", policy=POLICY, log=log)
    f = _by(shares, "e")
    assert f.loc["a", "value"] == pytest.approx(30 / 46)
    assert f.loc["c", "suppressed"] and f.loc["b", "suppressed"]  # 4 withheld, 12 secondary (the sum must reach 10)


def test_empty_levels_are_withheld_cells_not_missing_rows():
    table, log = _agg(pd.DataFrame({"y": [2020] * 12}), by=["y"], stat="count", levels={"y": [2020, 2021]})
    f = _by(table, "y")
    assert list(f.index) == [2020, 2021] and f.loc[2021, "suppressed"] and f.loc[2020, "value"] == 12


def test_minimum_maximum_and_median_refused():
    for stat in ("min", "max", "median"):
        with pytest.raises(ParameterError, match="single person's value"):
            _agg(pd.DataFrame({"g": ["a"] * 20, "x": range(20)}), by=["g"], value="x", stat=stat)


def test_policy_from_the_environment_tightens_only(tmp_path, monkeypatch):
    tight = tmp_path / "tight.yml"
    tight.write_text("min_units: 20\n")
    monkeypatch.setenv("RENDEERT_POLICY", str(tight))
    policy = DisclosurePolicy.load()
    assert policy.to_dict() == {"min_units": 20, "dominance_top_n": 2, "dominance_share": 0.9,
                                "min_residual_df": 10, "symbol": "x"}
    log = DisclosureLog(min_units=policy.min_units)
    with pytest.warns(SmallCellWarning):
        table = safe_aggregate(pd.DataFrame({"g": ["a"] * 15}), by=["g"], stat="count", policy=policy, log=log,
                               name="t")
    assert table["suppressed"].iloc[0] and log.to_records()[0]["n"] == "<20"
    loose = tmp_path / "loose.yml"
    loose.write_text("min_units: 3\n")
    monkeypatch.setenv("RENDEERT_POLICY", str(loose))
    with pytest.raises(ParameterError, match="loosens the CBS rules"):
        DisclosurePolicy.load()
    tagged = tmp_path / "tagged.yml"
    tagged.write_text("min_units: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ParameterError, match="not a readable YAML policy file"):
        DisclosurePolicy.load(tagged)


def test_log_never_holds_the_n_of_a_withheld_cell():
    log = DisclosureLog()
    log.add("t", "a", "min_units")
    log.add("t", "b", "dominance")
    with pytest.raises(ParameterError, match="rule='tiny' is not allowed"):
        log.add("t", "c", "tiny")
    with pytest.raises(TypeError):
        log.add("t", "d", "min_units", 3)  # the old signature with n is gone
    assert log.to_records() == [{"object": "t", "cell": "a", "rule": "min_units", "n": "<10"},
                                {"object": "t", "cell": "b", "rule": "dominance", "n": None}]


def test_person_years_are_judged_on_persons():
    # 3 persons x 10 years = 30 rows: enough rows, too few persons
    frame = pd.DataFrame({"g": "a", "pid": np.repeat(["p1", "p2", "p3"], 10), "x": 100.0})
    table, log = _agg(frame, by=["g"], value="x", stat="mean", unit_id="pid")
    assert table["suppressed"].iloc[0] and log.to_records()[0]["rule"] == "min_units"


def test_dominance_counts_a_persons_years_as_one_contributor():
    # person A: 10 years of 1000; 20 others one year of 10. Per row the top 2 hold 2000 / 10200 = 20 %;
    # per person A and the next hold (10000 + 10) / 10200 = 98 % > 90 %
    frame = pd.DataFrame({"g": "a", "pid": ["A"] * 10 + [f"o{i}" for i in range(20)],
                          "x": [1000.0] * 10 + [10.0] * 20})
    by_row, _ = _agg(frame, by=["g"], value="x", stat="mean")
    assert not by_row["suppressed"].iloc[0]
    by_person, log = _agg(frame, by=["g"], value="x", stat="mean", unit_id="pid")
    assert by_person["suppressed"].iloc[0] and log.to_records()[0]["rule"] == "dominance"


def test_share_of_person_years_needs_ten_persons_with_and_without():
    # 40 persons; 3 of them use antidepressants in all of their 5 years: 15 person-years with, but 3 persons
    pid = np.repeat([f"p{i}" for i in range(40)], 5)
    x = np.where(np.isin(pid, ["p0", "p1", "p2"]), 1.0, 0.0)
    table, log = _agg(pd.DataFrame({"g": "a", "pid": pid, "x": x}), by=["g"], value="x", stat="share", unit_id="pid")
    assert table["suppressed"].iloc[0] and log.to_records()[0]["rule"] == "numerator"
