"""Funnel limits against their closed form (Spiegelhalter 2005, eq. for a proportion)."""

from __future__ import annotations

import math

import pytest

from analysis.errors import ParameterError
from analysis.estimators.funnel import funnel_limits, funnel_position

CLOSED_FORM = 1e-12  # the same arithmetic, rounding only


def test_limits_match_closed_form():
    p0, n = 0.035, 10_000
    lim = funnel_limits(p0, [n]).iloc[0]
    se = math.sqrt(p0 * (1 - p0) / n)
    assert lim["upper_95"] == pytest.approx(p0 + 1.959963984540054 * se, abs=CLOSED_FORM)
    assert lim["lower_99.8"] == pytest.approx(p0 - 3.090232306167813 * se, abs=CLOSED_FORM)


def test_limits_narrow_with_size():
    lim = funnel_limits(0.05, [100, 10_000])
    assert (lim["upper_95"].diff().dropna() < 0).all()


def test_position():
    assert funnel_position(0.035, 10_000, 0.035) == "within"
    assert funnel_position(0.06, 10_000, 0.035) == "above_99.8"
    assert funnel_position(0.039, 10_000, 0.035) == "above_95"  # 95% limit 0.0386, 99.8% 0.0407


def test_bad_input():
    with pytest.raises(ParameterError, match=r"p0=1.5 must be a proportion"):
        funnel_limits(1.5, [10])
    with pytest.raises(ParameterError, match=r"every unit size n must be positive"):
        funnel_limits(0.1, [0])


def test_normal_limits_match_closed_form():
    """Spiegelhalter (2005), section 3: target +/- z * se, z the two-sided normal quantile."""
    from analysis.estimators.funnel import funnel_limits_normal

    lim = funnel_limits_normal(-1.5, [0.4, 2.0]).iloc[0]
    assert lim["precision"] == pytest.approx(2.5, abs=CLOSED_FORM)
    assert lim["upper_95"] == pytest.approx(-1.5 + 1.959963984540054 * 0.4, abs=CLOSED_FORM)
    assert lim["lower_99.8"] == pytest.approx(-1.5 - 3.090232306167813 * 0.4, abs=CLOSED_FORM)
    with pytest.raises(ParameterError, match="positive"):
        funnel_limits_normal(0.0, [0.0])


def test_precision_weighted_mean_closed_form():
    """Inverse-variance pooling: weights 1/se^2 = 4 and 1 give (4*1 + 1*3)/5 = 1.4, se sqrt(1/5)."""
    from analysis.estimators.funnel import precision_weighted_mean

    est, se = precision_weighted_mean([1.0, 3.0], [0.5, 1.0])
    assert est == pytest.approx(1.4, abs=CLOSED_FORM)
    assert se == pytest.approx(math.sqrt(0.2), abs=CLOSED_FORM)


# --- overdispersion-aware funnels and the random-effects mean (issue #15) ------------------------------

import numpy as np  # noqa: E402
from statsmodels.stats.meta_analysis import combine_effects  # noqa: E402

from analysis.estimators.funnel import funnel_limits_normal, proportion_funnel, random_effects_mean  # noqa: E402

PACKAGE = 1e-10  # the same DerSimonian-Laird formulas in statsmodels; rounding only
COVERAGE_SLACK = 0.03  # 400 simulated units: the binomial sd of an outside share near 5 % is 0.011 (~2.7 sd)
#: 10 draws x 400 units = 4,000 unit-draws: the MC sd of an outside share of 5 % is 0.0034 and of 0.2 % is
#: 0.0007; units of one draw share their tau^2 estimate, so the margins are ~4 sd of the independent case.
POOLED_95 = 0.015
POOLED_998 = 0.003
QUAD = 1e-9  # scipy's adaptive quadrature against the closed form


def test_winsorised_normal_moment_matches_quadrature():
    """E[W(Z)^2] of a standard normal Winsorised at 10 % per tail, by numerical integration: 0.6787."""
    from scipy import integrate, stats as st

    from analysis.estimators.standardisation import winsorised_normal_moment

    q = st.norm.ppf(0.9)
    inner = integrate.quad(lambda x: x * x * st.norm.pdf(x), -q, q)[0]
    assert winsorised_normal_moment(0.1) == pytest.approx(inner + 0.2 * q * q, abs=QUAD)
    assert winsorised_normal_moment(0.0) == 1.0
    with pytest.raises(ParameterError, match="fraction"):
        winsorised_normal_moment(0.5)


def test_random_effects_mean_matches_statsmodels_combine_effects():
    """Six heterogeneous estimates (Q = 23.3 on 5 df) against statsmodels' combine_effects(method_re='dl')."""
    eff = np.array([0.1, 0.5, -0.2, 0.8, 0.3, 0.05])
    var = np.array([0.02, 0.03, 0.015, 0.05, 0.01, 0.02])
    res = combine_effects(eff, var, method_re="dl", use_t=False)
    re = random_effects_mean(eff, np.sqrt(var))
    assert re.mean == pytest.approx(res.mean_effect_re, abs=PACKAGE)
    assert re.se == pytest.approx(res.sd_eff_w_re, abs=PACKAGE)
    assert re.tau2 == pytest.approx(res.tau2, abs=PACKAGE)
    assert re.q == pytest.approx(res.q, abs=PACKAGE)
    assert re.fixed_mean == pytest.approx(res.mean_effect_fe, abs=PACKAGE)
    assert re.tau2 > 0 and re.se > re.fixed_se


def test_random_effects_mean_equals_fixed_when_homogeneous():
    """Q below its df gives tau^2 = 0 (closed form): the random-effects mean is the inverse-variance mean."""
    re = random_effects_mean([1.0, 1.01, 0.99], [0.1, 0.2, 0.1])
    assert re.tau2 == 0
    assert re.mean == pytest.approx(re.fixed_mean, abs=CLOSED_FORM)


def test_normal_limits_widen_with_tau2():
    lim = funnel_limits_normal(0.0, [0.1], tau2=0.03).iloc[0]
    assert lim["upper_95"] == pytest.approx(1.959963984540054 * math.sqrt(0.01 + 0.03), abs=CLOSED_FORM)


def test_proportion_funnel_binomial_limits_match_closed_form_on_sqrt_scale():
    """method='none': (1 +/- z s)^2 p0 with s = sqrt(p0 (1 - p0) n) / (2 p0 n)."""
    f = proportion_funnel([30, 50, 700], [1000, 1000, 20000], method="none")
    p0 = 780 / 22000
    s = math.sqrt(p0 * (1 - p0) * 1000) / (2 * p0 * 1000)
    assert f.table["upper_95"].iloc[0] == pytest.approx(p0 * (1 + 1.959963984540054 * s) ** 2, abs=CLOSED_FORM)


def _simulated(tau: float, seed: int, units: int = 400):
    """Units whose true proportions vary around 0.05 with sd tau on the sqrt-ratio scale."""
    rng = np.random.default_rng(seed)
    n = rng.integers(200, 50_000, units)
    p = 0.05 * (1 + tau * rng.standard_normal(units)) ** 2
    return rng.binomial(n, np.clip(p, 1e-4, 0.5)), n


def _coverage(tau: float, estimator: str, seeds=range(10)):
    """Pooled outside shares at 95 % and 99.8 % of additive funnels on in-control units (the random-effects
    null: every unit's true proportion varies around the target with sd ``tau`` on the sqrt-ratio scale)."""
    out95, out998, tau2 = [], [], []
    for seed in seeds:
        count, n = _simulated(tau, seed)
        f = proportion_funnel(count, n, method="additive", estimator=estimator)
        out95.append(f.outside_share(0.95))
        out998.append(f.outside_share(0.998))
        tau2.append(f.overdispersion.tau2)
    return np.mean(out95), np.mean(out998), np.mean(tau2)


@pytest.mark.parametrize("tau", [0.05, 0.15, 0.3])
def test_additive_limits_hold_nominal_coverage_on_in_control_units(tau):
    """Spiegelhalter's null for overdispersed units is the random-effects model: in-control units differ by
    N(0, tau^2) on the square-root scale, and the limits should hold 95 % (99.8 %) of them. The default
    (consistent Winsorised) estimator recovers tau^2 and holds both levels; binomial limits do not."""
    out95, out998, tau2 = _coverage(tau, "consistent")
    assert abs(out95 - 0.05) <= POOLED_95, out95
    assert abs(out998 - 0.002) <= POOLED_998, out998
    assert tau2 == pytest.approx(tau ** 2, rel=0.15)  # 10 draws of 400 units: the estimate's MC spread
    binomial = proportion_funnel(*_simulated(tau, 0), method="none")
    assert binomial.outside_share(0.95) > 0.2


def test_spiegelhalter_winsorised_tau2_is_too_small():
    """His plain Winsorised phi is ~0.68 of the truth (the Winsorised mean square of N(0,1)), so tau^2 is
    ~40 % low and the 95 % limits flag ~13 % of in-control units, the 99.8 % ones ~2 % (issue #15's
    16-21 % on other draws): the bias the default estimator removes."""
    out95, out998, tau2 = _coverage(0.15, "spiegelhalter")
    assert out95 > 0.05 + 3 * POOLED_95 and out998 > 0.002 + 3 * POOLED_998
    assert tau2 < 0.75 * 0.15 ** 2


def test_no_overdispersion_keeps_nominal_coverage():
    """Binomial units only (tau = 0): tau^2 is estimated as 0 or nearly so, and both levels hold."""
    out95, out998, tau2 = _coverage(0.0, "consistent")
    assert abs(out95 - 0.05) <= POOLED_95 and abs(out998 - 0.002) <= POOLED_998
    count, n = _simulated(0.0, 3)
    f = proportion_funnel(count, n, method="additive")
    assert abs(f.outside_share(0.95) - 0.05) < COVERAGE_SLACK


def test_consistent_tau2_resists_outlying_units():
    """Ten units far off (three times their count) among 400 in-control ones (tau = 0.1): Winsorising keeps
    tau^2 near the in-control 0.01, where the un-Winsorised DerSimonian-Laird estimate is pulled up twofold."""
    count, n = _simulated(0.1, 11)
    count = count.copy()
    count[:10] = np.minimum(n[:10], 3 * count[:10] + 20)
    robust = proportion_funnel(count, n, method="additive").overdispersion.tau2
    plain = proportion_funnel(count, n, method="additive", winsorise_by=0.0).overdispersion.tau2
    assert robust == pytest.approx(0.01, rel=0.35)  # one draw of 400 units: its MC spread
    assert plain > 2 * robust


def test_proportion_funnel_bad_input():
    with pytest.raises(ParameterError, match="0 <= count <= n"):
        proportion_funnel([5, 20], [10, 10])
    from analysis.errors import ParameterError as PE
    with pytest.raises(PE, match="method"):
        proportion_funnel([5, 2, 3], [10, 10, 10], method="robust")
