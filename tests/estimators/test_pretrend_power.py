"""pretrend_power against the pretrends R package's README (He & Wang 2017) and closed forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.errors import ParameterError
from analysis.estimators import pretrend_power
from analysis.estimators.pretrend_power import pretest_power, slope_for_power

REF = Path(__file__).resolve().parents[1] / "reference" / "honestdid"

# R's power is mvtnorm::pmvnorm with its default GenzBretz(abseps = 0.001): R's printed power is
# only that precise (at R's own slope50 R prints 0.4999776, we get 0.49991).
POWER_TOL = 1e-3
# slope_for_power in R inverts that pmvnorm with uniroot; 1e-3 in power is ~1e-4 in slope here
# (d power / d slope is about 10 at 50 % power).
SLOPE_TOL = 1e-4
# One pre-period: closed form with the normal cdf; also identities on the same inputs.
CLOSED_TOL = 1e-12
# The same seeded rectangle probability computed twice (Genz with a fixed generator): equal to rounding.
SAME_CALL_TOL = 1e-9
# Monte Carlo check: 400,000 seeded draws, 4 standard errors of a proportion near 0.6.
MC_TOL = 4 * np.sqrt(0.25 / 400_000)


@pytest.fixture(scope="module")
def he_wang():
    frame = pd.read_csv(REF / "he_wang_pretrends.csv")
    return frame["betahat"].to_numpy(), frame.filter(like="sigma_").to_numpy(), frame["t"].to_numpy()


def test_slope_for_50_percent_power_matches_readme(he_wang):
    """pretrends README: slope_for_power(sigma, targetPower = 0.5, tVec, referencePeriod = -1) -> 0.05205871."""
    _, sigma, t = he_wang
    assert slope_for_power(sigma[:3, :3], t[:3] + 1, 0.5) == pytest.approx(0.05205871, abs=SLOPE_TOL)


def test_power_against_quadratic_trend_matches_readme(he_wang):
    """pretrends README: pretrends(..., deltatrue = 0.024 * (tVec + 1)^2)$df_power$Power -> 0.6624282."""
    _, sigma, t = he_wang
    assert pretest_power(sigma[:3, :3], 0.024 * (t[:3] + 1) ** 2) == pytest.approx(0.6624282, abs=POWER_TOL)


def test_power_agrees_with_simulation(he_wang):
    """The rectangle probability against a seeded Monte Carlo of the pre-test."""
    _, sigma, t = he_wang
    delta = 0.024 * (t[:3] + 1) ** 2
    draws = np.random.default_rng(1).multivariate_normal(delta, sigma[:3, :3], size=400_000)
    reject = (np.abs(draws) > 1.959963984540054 * np.sqrt(np.diag(sigma[:3, :3]))).any(axis=1).mean()
    assert pretest_power(sigma[:3, :3], delta) == pytest.approx(reject, abs=MC_TOL)


def test_one_pre_period_closed_form():
    """1 - [Phi(z - d/s) - Phi(-z - d/s)] for a single pre-period coefficient."""
    s, d = 0.2, 0.3
    expected = 1 - (stats.norm.cdf(1.959963984540054 - d / s) - stats.norm.cdf(-1.959963984540054 - d / s))
    assert pretest_power(np.array([[s ** 2]]), np.array([-d])) == pytest.approx(expected, abs=CLOSED_TOL)


def test_pretrend_power_bias_of_one_standard_error(he_wang):
    """The slope biases the first post period (t = 1 from the reference) by its own standard error."""
    b, sigma, _ = he_wang
    res = pretrend_power(betahat=b, sigma=sigma, num_pre=3, num_post=4)
    se_first = np.sqrt(sigma[3, 3])
    assert res.bias == pytest.approx(se_first, rel=CLOSED_TOL) and res.slope == pytest.approx(se_first, rel=CLOSED_TOL)
    assert res.power == pytest.approx(pretest_power(sigma[:3, :3], res.slope * np.array([-3.0, -2.0, -1.0])),
                                      abs=SAME_CALL_TOL)
    assert res.slope_50 < res.slope_80
    avg = pretrend_power(betahat=b, sigma=sigma, num_pre=3, num_post=4, target="average")
    l_vec = np.full(4, 0.25)
    assert avg.bias == pytest.approx(np.sqrt(l_vec @ sigma[3:, 3:] @ l_vec), rel=CLOSED_TOL)
    assert avg.slope == pytest.approx(avg.bias / 2.5, rel=CLOSED_TOL)  # mean of t = 1..4
    rows = res.to_estimates("att")
    assert rows[0]["name"] == "pretrend_power_att" and rows[0]["estimate"] == pytest.approx(res.power)
    assert "standard errors" in res.summary()


def test_validation(he_wang):
    b, sigma, _ = he_wang
    with pytest.raises(ParameterError, match="target_bias"):
        pretrend_power(betahat=b, sigma=sigma, num_pre=3, num_post=4, target_bias="twice")
    with pytest.raises(ParameterError, match="target"):
        pretrend_power(betahat=b, sigma=sigma, num_pre=3, num_post=4, target="last")
    with pytest.raises(ParameterError, match="alpha"):
        pretrend_power(betahat=b, sigma=sigma, num_pre=3, num_post=4, alpha=0.7)
    with pytest.raises(ParameterError, match="power"):
        slope_for_power(sigma[:3, :3], np.array([-3.0, -2.0, -1.0]), 1.5)


@pytest.mark.slow
def test_from_event_study_result():
    """An event-study result: pre periods e=-6..-2 (reference -1), the headline e=0 at t = 1 from the reference."""
    from analysis.estimators import event_study

    panel = pd.read_csv(REF / "medicaid_nonstaggered_panel.csv")
    panel["cohort"] = np.where(panel["D"] == 1, 2014, 0)
    es = event_study(panel, outcome="dins", unit="stfips", time="year", cohort="cohort", window=(-6, 1),
                     reference=-1)
    res = pretrend_power(es)
    assert res.slope == pytest.approx(es.estimates.loc["e=0", "std_error"], rel=CLOSED_TOL)
    sigma_pre = es.diagnostics["vcov"].iloc[:5, :5].to_numpy()
    assert res.power == pytest.approx(pretest_power(sigma_pre, res.slope * np.arange(-5.0, 0.0)), abs=SAME_CALL_TOL)
    assert res.n == 22


# Genz's rectangle probability is asked for an absolute error of 1e-6 (_CDF_EPS); 1e-5 leaves room for it.
GENZ_TOL = 1e-5
Z = stats.norm.ppf(0.975)


def _inside(d, s):
    """P(|b| <= z s) for b ~ N(d, s^2): one coefficient not significant at 5 %."""
    return stats.norm.cdf(Z - d / s) - stats.norm.cdf(-Z - d / s)


def test_diagonal_covariance_closed_form():
    """Independent coefficients: power = 1 - prod_j P(|b_j| <= z s_j), a product of normal probabilities."""
    s = np.array([0.02, 0.03, 0.05])
    delta = 0.01 * np.array([-3.0, -2.0, -1.0])
    expected = 1 - np.prod(_inside(delta, s))
    assert pretest_power(np.diag(s ** 2), delta) == pytest.approx(expected, abs=GENZ_TOL)


def test_zero_variance_pre_periods_are_left_out():
    """A pre-period cell without variance (no outcome changed: variance 0, or 1e-20 from rounding) cannot be
    significant; the power is that of the others (the closed form above), not 1 (what a zero bound with a
    non-zero violation gave before)."""
    s = np.array([0.0, 1e-10, 0.03, 0.05])
    delta = 0.01 * np.array([-4.0, -3.0, -2.0, -1.0])
    expected = 1 - np.prod(_inside(delta[2:], s[2:]))
    assert expected < 0.5
    assert pretest_power(np.diag(s ** 2), delta) == pytest.approx(expected, abs=GENZ_TOL)
    # one informative coefficient left: the one-dimensional closed form exactly
    assert pretest_power(np.diag([0.0, 0.0, 0.03 ** 2]), delta[1:]) == pytest.approx(
        1 - _inside(delta[3], 0.03), abs=CLOSED_TOL)


def test_singular_covariance_of_perfectly_correlated_coefficients():
    """Two coefficients with correlation 1 (b2 = b1 + d2 - d1, b1 ~ N(d1, s^2)): not significant iff b1 lies
    in [max(-zs, -zs - c), min(zs, zs - c)], c = d2 - d1; a closed form for a rank-1 covariance."""
    s, d1, d2 = 0.04, -0.02, -0.01
    c = d2 - d1
    lo, hi = max(-Z * s, -Z * s - c), min(Z * s, Z * s - c)
    expected = 1 - (stats.norm.cdf((hi - d1) / s) - stats.norm.cdf((lo - d1) / s))
    sigma = np.full((2, 2), s ** 2)
    assert pretest_power(sigma, np.array([d1, d2])) == pytest.approx(expected, abs=GENZ_TOL)


def test_pretrend_power_drops_degenerate_pre_periods(he_wang):
    """pretrend_power on a covariance whose earliest pre-period has no variance: the power is the closed form
    over the other two, the slope still biases the first post period by its standard error, and the result
    says which pre-period was left out."""
    b, _, _ = he_wang
    post_sd = 0.05
    sigma = np.diag([0.0, 0.03 ** 2, 0.02 ** 2] + [post_sd ** 2] * 4)
    res = pretrend_power(betahat=b, sigma=sigma, num_pre=3, num_post=4)
    assert res.slope == pytest.approx(post_sd, rel=CLOSED_TOL)
    expected = 1 - np.prod(_inside(post_sd * np.array([-2.0, -1.0]), np.array([0.03, 0.02])))
    assert res.power == pytest.approx(expected, abs=GENZ_TOL)
    assert res.dropped_pre == (-3.0,) and res.n_pre_used == 2 and res.reason == ""
    assert "left out" in res.summary()
    assert res.slope_50 < res.slope_80


def test_power_is_nan_with_a_reason_when_no_pre_period_has_variance(he_wang):
    b, _, _ = he_wang
    sigma = np.diag([0.0, 0.0, 1e-30] + [0.05 ** 2] * 4)
    res = pretrend_power(betahat=b, sigma=sigma, num_pre=3, num_post=4)
    assert np.isnan(res.power) and np.isnan(res.slope_80)
    assert "variance" in res.reason and res.n_pre_used == 0
    rows = res.to_estimates("att")
    assert rows[0]["estimate"] is None and rows[0]["note"].startswith("not computable")
    assert "not computable" in res.summary()
    assert np.isnan(pretest_power(np.zeros((2, 2)), np.array([0.1, 0.2])))
    assert np.isnan(slope_for_power(np.zeros((2, 2)), np.array([-2.0, -1.0]), 0.8))


def test_pre_periods_on_too_few_treated_units_are_left_out():
    """From a result with ``n`` per term: a pre-period effect resting on fewer than MIN_TEST_UNITS treated
    units leaves the pre-test (as in pretrend_test); the power is the closed form over the others."""
    from analysis.estimators.did.result import MIN_TEST_UNITS, DynamicResult

    terms = ["e=-4", "e=-3", "e=-2", "e=-1", "e=0", "e=1"]
    sd = np.array([0.01, 0.03, 0.02, 0.0, 0.05, 0.05])        # e=-1 the reference (no variance)
    est = pd.DataFrame({"estimate": 0.0, "std_error": sd, "n": [MIN_TEST_UNITS - 1, 40, 40, 40, 40, 40]},
                       index=terms)
    res = DynamicResult(estimates=est, estimand="ATT(e)", spec={}, diagnostics={
        "vcov": pd.DataFrame(np.diag(sd ** 2), index=terms, columns=terms)})
    power = pretrend_power(res)
    slope = 0.05                                              # biases e=0 (t = 1) by its standard error
    expected = 1 - np.prod(_inside(slope * np.array([-2.0, -1.0]), np.array([0.03, 0.02])))
    assert power.slope == pytest.approx(slope, rel=CLOSED_TOL)
    assert power.power == pytest.approx(expected, abs=GENZ_TOL) and power.dropped_pre == (-3.0,)
    everyone = pretrend_power(res, min_units=0)
    assert everyone.n_pre_used == 3 and everyone.power > power.power
