"""att_gt_at_risk: with every unit at risk it is R did's att_gt (validated in tests/reference/mpdta);
restricting the comparison group changes exactly the comparison units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.estimators import att_gt
from analysis.estimators.did.at_risk import att_gt_at_risk
from analysis.estimators.did.panel import Panel

MPDTA = Path(__file__).resolve().parents[1] / "reference" / "mpdta" / "mpdta.csv"
#: the same arithmetic in another order: agreement to rounding
SAME = 1e-10


@pytest.fixture(scope="module")
def mpdta():
    d = pd.read_csv(MPDTA).sort_values(["countyreal", "year"])
    y = d["lemp"].to_numpy().reshape(-1, 5)
    first = d.groupby("countyreal")["first.treat"].first().to_numpy()
    cohort = np.where(first > 0, first - 2002, 0)       # years 2003..2007 are periods 1..5
    x = d.groupby("countyreal")["lpop"].first().to_numpy()
    return y, cohort, x


def _table(res):
    return res.estimates.set_index(["group", "time"])[["estimate", "std_error"]].sort_index()


@pytest.mark.parametrize("control", ["not_yet_treated", "never_treated"])
def test_everyone_at_risk_equals_att_gt(mpdta, control):
    y, cohort, _ = mpdta
    ours = att_gt_at_risk(y, cohort, np.ones_like(y, dtype=bool), control=control)
    ref = att_gt(Panel.from_arrays(y, cohort), control=control)
    a, b = _table(ours), _table(ref)
    assert a.index.equals(b.index)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=SAME)
    for kind in ("simple", "dynamic", "group"):
        np.testing.assert_allclose(ours.aggregate(kind).estimates[["estimate", "std_error"]].to_numpy(),
                                   ref.aggregate(kind).estimates[["estimate", "std_error"]].to_numpy(), atol=SAME)


@pytest.mark.parametrize("method", ["dr", "reg", "ipw"])
def test_everyone_at_risk_equals_att_gt_with_a_covariate(mpdta, method):
    y, cohort, x = mpdta
    ours = att_gt_at_risk(y, cohort, np.ones_like(y, dtype=bool), covariates=x, method=method,
                          control="not_yet_treated")
    ref = att_gt(Panel.from_arrays(y, cohort, covariates=x), control="not_yet_treated", method=method)
    np.testing.assert_allclose(_table(ours).to_numpy(), _table(ref).to_numpy(), atol=1e-8)


def test_comparison_units_not_at_risk_are_left_out():
    """Cohort 3's comparison units must be at risk in period 2; a unit that is not is no comparison unit."""
    rng = np.random.default_rng(0)
    n, T = 60, 5
    y = rng.normal(size=(n, T))
    cohort = np.r_[np.full(10, 3), np.zeros(n - 10)]
    risk = np.ones((n, T), dtype=bool)
    risk[10:30, 1] = False                               # 20 never-treated units not at risk at base
    res = att_gt_at_risk(y, cohort, risk, control="never_treated")
    cell = res.estimates.set_index(["group", "time"]).loc[(3.0, 4.0)]
    expected = (y[:10, 3] - y[:10, 1]).mean() - (y[30:, 3] - y[30:, 1]).mean()   # closed form
    assert cell["estimate"] == pytest.approx(expected, abs=SAME)
    assert cell["n_control"] == 30 and cell["n_treated"] == 10


def test_treated_not_at_risk_at_base_are_out_of_the_design():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(40, 4))
    cohort = np.r_[np.full(12, 3), np.zeros(28)]
    risk = np.ones((40, 4), dtype=bool)
    risk[:2, 1] = False
    res = att_gt_at_risk(y, cohort, risk)
    assert res.diagnostics["treated_not_at_risk"] == 2
    assert set(res.estimates["n_treated"]) == {10}


def test_universal_base_and_anticipation_cells():
    """Universal base: every cell of cohort 4 is compared with period 2 - anticipation ... as R did."""
    rng = np.random.default_rng(2)
    y = rng.normal(size=(50, 6))
    cohort = np.r_[np.full(10, 4), np.zeros(40)]
    risk = np.ones((50, 6), dtype=bool)
    uni = att_gt_at_risk(y, cohort, risk, base_period="universal", anticipation=1, control="never_treated")
    cells = uni.estimates.set_index(["group", "time"])
    # base period of cohort 4 with anticipation 1 is period 2 (position 1); the base cell is omitted
    assert (4.0, 2.0) not in cells.index
    for t in (1, 3, 4, 5, 6):
        expected = (y[:10, t - 1] - y[:10, 1]).mean() - (y[10:, t - 1] - y[10:, 1]).mean()
        assert cells.loc[(4.0, float(t)), "estimate"] == pytest.approx(expected, abs=SAME)


def test_bad_options_are_refused():
    y = np.zeros((20, 4))
    with pytest.raises(ParameterError, match="control"):
        att_gt_at_risk(y, np.zeros(20), np.ones((20, 4), bool), control="everyone")
    with pytest.raises(ParameterError, match="anticipation"):
        att_gt_at_risk(y, np.zeros(20), np.ones((20, 4), bool), anticipation=-1)
    with pytest.raises(ParameterError, match="at_risk"):
        att_gt_at_risk(y, np.zeros(20), np.ones((20, 3), bool))


def test_units_and_dominance_follow_the_interface():
    """n = treated units of the cohort; one person with a change of 5e7 dominates their cohort's cells."""
    rng = np.random.default_rng(3)
    n, T = 200, 5
    y = rng.normal(size=(n, T))
    cohort = np.r_[np.full(20, 3), np.zeros(n - 20)]
    y[0, 2:] += 5e7
    res = att_gt_at_risk(y, cohort, np.ones((n, T), dtype=bool), control="never_treated")
    post = res.estimates[res.estimates["time"] >= 3]
    assert set(post["n"]) == {20} and set(post["n_control"]) == {180}
    assert (post["dominance"] > 0.9).all()
    simple = res.aggregate("simple").estimates.loc["ATT"]
    assert simple["n"] == 20


@pytest.mark.parametrize("base_period", ["universal", "varying"])
def test_cohort_dr_path_equals_att_gt_with_a_covariate(mpdta, base_period):
    """The vectorised doubly robust path (one comparison set per cohort) against att_gt (R-validated)."""
    y, cohort, x = mpdta
    ours = att_gt_at_risk(y, cohort, np.ones_like(y, dtype=bool), covariates=x, method="dr",
                          control="never_treated", base_period=base_period)
    ref = att_gt(Panel.from_arrays(y, cohort, covariates=x), control="never_treated", method="dr",
                 base_period=base_period)
    r = ref.estimates[ref.estimates["std_error"].notna()]
    a, b = _table(ours), r.set_index(["group", "time"])[["estimate", "std_error"]].sort_index()
    assert a.index.equals(b.index)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-8)
    np.testing.assert_allclose(ours.aggregate("simple").estimates.loc["ATT", ["estimate", "std_error"]].to_numpy(float),
                               ref.aggregate("simple").estimates.loc["ATT", ["estimate", "std_error"]].to_numpy(float),
                               atol=1e-8)


def test_a_covariate_that_separates_a_cohort_is_left_out_of_its_propensity_model():
    """One indicator is 0 for every treated unit of a cohort (nobody treated has it): its logit coefficient
    runs off to infinity and, before, the influence function carried the inverse of a near-singular
    Hessian (a standard error of 7e11 on a municipal intake run). The indicator is pure noise here, so the
    estimate and its standard error should be those without it (up to the noise an irrelevant covariate
    adds); it is left out of that cohort's model and named."""
    rng = np.random.default_rng(8)
    n, T = 400, 8
    cohort = np.where(rng.random(n) < 0.15, 5, 0).astype(float)
    y = rng.normal(size=(n, 1)) + rng.normal(size=(n, T)) + np.where(cohort[:, None] == 5, np.arange(T) >= 4, 0)
    age = rng.normal(size=n)
    rare = np.where((cohort == 0) & (rng.random(n) < 0.05), 1.0, 0.0)   # only some comparison units have it
    common = dict(control="never_treated", method="dr", base_period="universal")
    with_rare = att_gt_at_risk(y, cohort, np.ones_like(y, dtype=bool), covariates=np.c_[age, rare],
                               covariate_names=["age", "rare"], **common)
    without = att_gt_at_risk(y, cohort, np.ones_like(y, dtype=bool), covariates=age[:, None],
                             covariate_names=["age"], **common)
    a, b = with_rare.aggregate("simple").estimates.loc["ATT"], without.aggregate("simple").estimates.loc["ATT"]
    assert np.isfinite(a["std_error"]) and a["std_error"] < 2 * b["std_error"]
    assert abs(a["estimate"] - b["estimate"]) < b["std_error"]
    assert "rare" in with_rare.diagnostics["dropped_covariates"]


@pytest.mark.parametrize("kind", ["simple", "group", "dynamic", "calendar"])
def test_every_aggregation_of_the_cohort_dr_path_equals_att_gt(mpdta, kind):
    """The one-pass aggregation (each cohort's model applied once to the combinations of its cells that the
    terms need) against att_gt's aggregations (R-validated, tests/reference/mpdta): estimates, standard
    errors and, for the dynamic one, the covariance of the event-time terms."""
    y, cohort, x = mpdta
    ours = att_gt_at_risk(y, cohort, np.ones_like(y, dtype=bool), covariates=x, method="dr",
                          control="never_treated", base_period="universal").aggregate(kind)
    ref = att_gt(Panel.from_arrays(y, cohort, covariates=x), control="never_treated", method="dr",
                 base_period="universal").aggregate(kind)
    a = ours.estimates[["estimate", "std_error"]]
    b = ref.estimates.loc[a.index, ["estimate", "std_error"]]
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), atol=1e-8)
    if kind == "dynamic":
        terms = ours.vcov.index
        np.testing.assert_allclose(ours.vcov.to_numpy(), ref.vcov.loc[terms, terms].to_numpy(), atol=1e-12)


def test_distinct_units_of_fixed_comparison_sets():
    """Counted by hand: cohort 3 (base period 2) and cohort 5 (base period 4), 10 treated each; 30 never
    treated, of whom 0-9 are at risk only at period 2, 10-19 only at period 4, 20-29 at both; cohort 5's
    treated are also at risk at period 2. never_treated: cohort 3 is compared with 20 units, cohort 5 with
    20, both together with 30. risk_set: cohort 5's treated (not treated in period 3) join cohort 3's
    comparison group: 30 for cohort 3, 40 for both."""
    n_ctrl, T = 30, 6
    cohort = np.r_[np.full(10, 3), np.full(10, 5), np.zeros(n_ctrl)]
    at_risk = np.ones((len(cohort), T), dtype=bool)
    ctrl = np.arange(20, 50)
    at_risk[ctrl[:10], 3] = False
    at_risk[ctrl[10:20], 1] = False
    y = np.random.default_rng(4).normal(size=(len(cohort), T))
    for control, first, both in (("never_treated", 20, 30), ("risk_set", 30, 40)):
        res = att_gt_at_risk(y, cohort, at_risk, covariates=np.random.default_rng(5).normal(size=len(cohort)),
                             control=control, method="dr", base_period="universal")
        group = res.aggregate("group").estimates
        assert group.loc["g=3", "n"] == 10 and group.loc["g=3", "n_control"] == first
        assert group.loc["g=5", "n"] == 10 and group.loc["g=5", "n_control"] == 20
        assert group.loc["ATT", "n"] == 20 and group.loc["ATT", "n_control"] == both
        assert res.aggregate("dynamic").estimates.loc["e=0", "n_control"] == both
