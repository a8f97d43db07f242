"""Units and dominance of the selection-on-observables estimators (issue #13).

Expected counts are counted by hand from data built for the purpose; dominance shares are
closed forms of the unit's term in the estimating sum (module docstring of propensity.py).
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.errors import OverlapWarning
from analysis.estimators.propensity import (
    att_aipw, att_ipw, att_matching, att_regression, difference_in_means,
)

#: floating-point sums over a few hundred terms
EXACT = 1e-9
#: the dominance share above which the CBS rule withholds (top 2 > 90 %)
RULE = 0.9


def _data(n=200, seed=3, outlier=None):
    """200 units, about half treated on a mild logit of x; outcome amounts around 1000 EUR."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    d = (rng.random(n) < 1 / (1 + np.exp(-0.5 * x))).astype(int)
    y = 1000 + 100 * x + 50 * d + rng.normal(0, 50, n)
    frame = pd.DataFrame({"y": y, "d": d, "x": x, "person": np.arange(n)})
    if outlier is not None:
        frame.loc[frame.index[frame["d"] == outlier][0], "y"] = 5e7
    return frame


ESTIMATORS = {
    "difference_in_means": lambda f: difference_in_means(f, outcome="y", treatment="d"),
    "regression": lambda f: att_regression(f, outcome="y", treatment="d", covariates=["x"]),
    "ipw": lambda f: att_ipw(f, outcome="y", treatment="d", covariates=["x"]),
    "aipw": lambda f: att_aipw(f, outcome="y", treatment="d", covariates=["x"], folds=2),
    "matching": lambda f: att_matching(f, outcome="y", treatment="d", covariates=["x"]),
}


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("who", [1, 0], ids=["treated", "control"])
def test_one_amount_of_5e7_among_200_dominates(name, who):
    clean = ESTIMATORS[name](_data()).to_frame().loc["ATT"]
    assert clean["dominance"] < 0.2  # 200 amounts of about 1000: no unit stands out (2 equal of 200 is 0.01)
    spiked = _data(outlier=who)
    if name == "matching" and who == 0:
        # make sure the control with the amount is matched: give it the score of a treated unit
        spiked.loc[spiked.index[spiked["d"] == 0][0], "x"] = spiked.loc[spiked["d"] == 1, "x"].iloc[0]
    row = ESTIMATORS[name](spiked).to_frame().loc["ATT"]
    assert row["dominance"] > RULE
    assert ESTIMATORS[name](spiked).to_estimates("att")[0]["_dominance"] > RULE


def test_difference_in_means_counts_and_closed_form_dominance():
    """Treated y = 1, 2, 3 and controls y = 1, 1: terms 1/3, 2/3, 1, -1/2, -1/2;
    top two |terms| 1 + 2/3 of 3, dominance 5/9; the terms add up to 2 - 1 = 1."""
    f = pd.DataFrame({"y": [1.0, 2, 3, 1, 1], "d": [1, 1, 1, 0, 0]})
    r = difference_in_means(f, outcome="y", treatment="d")
    row = r.to_frame().loc["ATT"]
    assert (row["n"], row["n_control"]) == (3, 2)
    assert row["dominance"] == pytest.approx(5 / 9, abs=EXACT)
    assert r.diagnostics["contributions"].sum() == pytest.approx(1.0, abs=EXACT)


def test_missing_outcomes_are_not_counted():
    f = _data()
    treated_rows = f.index[f["d"] == 1]
    f.loc[treated_rows[:7], "y"] = np.nan
    expected = (int(f["d"].sum()) - 7, int((1 - f["d"]).sum()))
    for name, est in ESTIMATORS.items():
        r = est(f)
        row = r.to_frame().loc["ATT"]
        assert np.isfinite(row["estimate"]), name
        assert r.diagnostics["dropped_missing"] == 7, name
        assert row["n"] == expected[0], name
        if name != "matching":  # matching counts matched controls only
            assert row["n_control"] == expected[1], name


def _overlap_data(n=200, seed=5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    d = (rng.random(n) < 1 / (1 + np.exp(-3 * x))).astype(int)
    return pd.DataFrame({"y": 1000 + 10 * x + rng.normal(0, 5, n), "d": d, "x": x})


@pytest.mark.parametrize("name", ["ipw", "aipw"])
def test_n_drops_when_units_are_trimmed(name):
    f = _overlap_data()
    with pytest.warns(OverlapWarning):
        if name == "ipw":
            r = att_ipw(f, outcome="y", treatment="d", covariates=["x"], trim=0.9)
        else:
            r = att_aipw(f, outcome="y", treatment="d", covariates=["x"], folds=2, trim=0.9)
    ps, d = r.diagnostics["propensity"], f["d"].to_numpy()
    trimmed_treated = int(((ps > 0.9) & (d == 1)).sum())
    assert trimmed_treated > 0  # the data are built so that some treated units are trimmed
    row = r.to_frame().loc["ATT"]
    assert row["n"] == int(d.sum()) - trimmed_treated
    assert row["n_control"] == int(((ps <= 0.9) & (d == 0)).sum())


def test_matching_counts_matched_controls_only():
    """Treated scores 0.1, 0.5; control scores 0.11, 0.12, 0.49, 0.9: the controls at 0.11 and 0.49
    are matched (n_control 2). Terms 10/2, 20/2, -1/2, -3/2: dominance (5 + 10) / 17."""
    f = pd.DataFrame({"y": [10.0, 20, 1, 2, 3, 4], "d": [1, 1, 0, 0, 0, 0]})
    r = att_matching(f, outcome="y", treatment="d", propensity=np.array([0.1, 0.5, 0.11, 0.12, 0.49, 0.9]))
    row = r.to_frame().loc["ATT"]
    assert (row["n"], row["n_control"]) == (2, 2)
    assert row["estimate"] == pytest.approx((10 - 1 + 20 - 3) / 2, abs=EXACT)
    assert row["dominance"] == pytest.approx(15 / 17, abs=EXACT)


def test_units_with_several_rows_count_once():
    """Risk-set frames repeat a person: 100 persons with two rows each are 100 units, not 200."""
    f = _data()
    f = pd.concat([f, f.assign(y=f["y"] + 1.0)], ignore_index=True)
    for est in (lambda g: att_regression(g, outcome="y", treatment="d", covariates=["x"], cluster="person"),
                lambda g: att_ipw(g, outcome="y", treatment="d", covariates=["x"], cluster="person"),
                lambda g: difference_in_means(g, outcome="y", treatment="d", unit_id="person")):
        row = est(f).to_frame().loc["ATT"]
        assert row["n"] == int(f["d"].sum()) // 2
        assert row["n_control"] == int((1 - f["d"]).sum()) // 2


def test_regression_terms_add_up_to_the_estimate():
    """att = sum_i a_i y_i exactly (the decomposition dominance is judged on)."""
    r = att_regression(_data(), outcome="y", treatment="d", covariates=["x"])
    assert r.diagnostics["contributions"].sum() == pytest.approx(r.to_frame().loc["ATT", "estimate"], abs=EXACT)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OverlapWarning)
        i = att_ipw(_data(), outcome="y", treatment="d", covariates=["x"])
    assert i.diagnostics["contributions"].sum() == pytest.approx(i.to_frame().loc["ATT", "estimate"], abs=EXACT)


def test_aipw_kept_mask_stays_aligned_with_the_input_rows():
    """intervention.returns pairs two AIPW influence functions through ``kept``: it must index the
    caller's rows even when rows with a missing outcome are dropped."""
    f = _data()
    missing = f.index[[3, 50, 120]]
    f.loc[missing, "y"] = np.nan
    r = att_aipw(f, outcome="y", treatment="d", covariates=["x"], folds=2)
    kept = r.diagnostics["kept"]
    assert len(kept) == len(f) and not kept[[3, 50, 120]].any()
    assert kept.sum() == len(r.diagnostics["influence"]) == len(f) - 3


def test_a_person_with_several_rows_is_one_contributor():
    """Persons 0 and 1 have two treated rows of 5e7 each; 98 other treated and 98 control rows of 1000.
    Treated terms are y/102, control terms -y/98. As rows the top two are 2 of the 4 large terms:
    (2 * 5e7/102) / (4 * 5e7/102 + 98 * 1000/102 + 98 * 1000/98), just under 0.5; as persons the top
    two hold all four: above 0.99."""
    f = pd.DataFrame({"y": np.r_[np.full(4, 5e7), np.full(196, 1000.0)],
                      "d": np.r_[[1, 1, 1, 1], np.tile([1, 0], 98)],
                      "person": np.r_[[0, 0, 1, 1], np.arange(2, 198)]})
    total = 4 * 5e7 / 102 + 98 * 1000 / 102 + 98 * 1000 / 98
    as_rows = difference_in_means(f, outcome="y", treatment="d").to_frame().loc["ATT", "dominance"]
    as_persons = difference_in_means(f, outcome="y", treatment="d", unit_id="person").to_frame()
    assert as_rows == pytest.approx(2 * 5e7 / 102 / total, abs=EXACT)
    assert as_persons.loc["ATT", "dominance"] == pytest.approx(4 * 5e7 / 102 / total, abs=EXACT)
    assert as_persons.loc["ATT", "dominance"] > RULE
    assert as_persons.loc["ATT", "n"] == 100  # 98 + persons 0 and 1
