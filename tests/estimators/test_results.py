"""The shared results table: units columns (issue #13) and the dominance share.

Expected values are closed forms worked by hand in each test's docstring or comment.
"""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.estimators.results import EffectResult, dominance_share, tidy_estimates

#: floating-point sums of a handful of numbers
EXACT = 1e-12


def test_dominance_share_closed_forms():
    # |3| + |-5| = 8 of 1 + 3 + 5 + 1 = 10
    assert dominance_share([1, 3, -5, 1]) == pytest.approx(0.8, abs=EXACT)
    # top 1: 5 / 10
    assert dominance_share([1, 3, -5, 1], top_n=1) == pytest.approx(0.5, abs=EXACT)
    # two or fewer units: they are all of it
    assert dominance_share([7.0]) == 1.0
    assert dominance_share([2.0, -2.0]) == 1.0
    # 100 equal contributions: 2/100
    assert dominance_share(np.ones(100)) == pytest.approx(0.02, abs=EXACT)


def test_dominance_share_nan_when_nothing_to_judge():
    assert math.isnan(dominance_share([]))
    assert math.isnan(dominance_share([0.0, 0.0, 0.0]))


def test_one_large_amount_among_200_dominates():
    """5e7 among 199 amounts of 1000: share >= 5e7 / (5e7 + 199e3) = 0.99604..."""
    amounts = np.r_[np.full(199, 1000.0), 5e7]
    expected = (5e7 + 1000) / (5e7 + 199 * 1000)
    assert dominance_share(amounts) == pytest.approx(expected, abs=EXACT)
    assert dominance_share(amounts) > 0.9


def test_dominance_share_refuses_bad_input():
    with pytest.raises(ParameterError, match="top_n"):
        dominance_share([1, 2], top_n=0)
    with pytest.raises(ParameterError, match="missing or infinite"):
        dominance_share([1.0, np.nan])


def test_tidy_estimates_defaults_keep_todays_columns_and_add_unknown_units():
    table = tidy_estimates(["a", "b"], [1.0, 2.0], [0.5, 0.5], n=40)
    assert list(table.columns) == ["estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n",
                                   "n_control", "dominance"]
    assert table["n"].tolist() == [40, 40]
    assert table["n_control"].isna().all()
    assert table["dominance"].isna().all()


def test_tidy_estimates_per_term_units():
    table = tidy_estimates(["a", "b"], [1.0, 2.0], [0.5, 0.5], n=[12, 15], n_control=[30, None],
                           dominance=[0.25, 0.95])
    assert table.loc["a", "n_control"] == 30
    assert pd.isna(table.loc["b", "n_control"])
    assert table["dominance"].tolist() == [0.25, 0.95]
    with pytest.raises(ParameterError, match="dominance"):
        tidy_estimates(["a"], [1.0], [0.5], n=12, dominance=1.5)
    with pytest.raises(ParameterError, match="n_control"):
        tidy_estimates(["a", "b", "c"], [1.0, 2, 3], [0.5, 1, 1], n=12, n_control=[1, 2])


def test_to_estimates_rows_carry_private_units_keys():
    table = tidy_estimates(["ATT", "e=1"], [1.0, 2.0], [0.5, 0.5], n=[12, 11], n_control=[30, 25],
                           dominance=[0.2, float("nan")])
    rows = EffectResult(estimates=table, estimand="ATT").to_estimates("att_x", unit="eur")
    assert [r["name"] for r in rows] == ["att_x", "att_xe=1"]
    assert rows[0]["_n_control"] == 30 and rows[0]["_dominance"] == 0.2
    assert rows[1]["_dominance"] is None
    for key in ("name", "estimate", "se", "ci_low", "ci_high", "n", "unit", "suppressed"):
        assert key in rows[0]


def test_to_frame_of_a_table_built_without_units_columns():
    """Older callers that build the table by hand still work: units unknown."""
    bare = pd.DataFrame({"estimate": [1.0], "std_error": [0.1], "ci_lower": [0.8], "ci_upper": [1.2],
                         "p_value": [0.0], "n": [20]}, index=pd.Index(["ATT"], name="term"))
    result = EffectResult(estimates=bare, estimand="ATT")
    frame = result.to_frame()
    assert pd.isna(frame.loc["ATT", "n_control"]) and math.isnan(frame.loc["ATT", "dominance"])
    row = result.to_estimates("att")[0]
    assert row["n"] == 20 and row["_n_control"] is None and row["_dominance"] is None


def test_did_2x2_dominance_closed_form():
    """Four cells of two units each, one row per unit and period: every row term is +-y/2.
    Treated unit 1 has y = 100 in both periods, the others 1: |terms| 50, 50 for unit 1 and 1/2 for
    each of the other 6 rows: per unit 100, 1, 1, 1 -> top two 101 of 103."""
    from analysis.estimators.twfe import did_2x2

    f = pd.DataFrame({"id": [1, 1, 2, 2, 3, 3, 4, 4], "t": [0, 1] * 4, "tr": [1, 1, 1, 1, 0, 0, 0, 0],
                      "y": [100.0, 100.0, 1, 1, 1, 1, 1, 1]})
    row = did_2x2(f, outcome="y", treated="tr", post="t", cluster="id").to_frame().loc["ATT"]
    assert (row["n"], row["n_control"]) == (2, 2)
    assert row["dominance"] == pytest.approx(101 / 103, abs=EXACT)
