"""Indirect standardisation and overdispersed funnel limits (analysis.estimators.standardisation).

References beside each test: statsmodels' documented Spector logit (Greene 2003), metafor's
DerSimonian-Laird output on the BCG trials, FunnelPlotR's "CQC" formulas (Spiegelhalter 2005),
closed forms, and seeded Monte Carlo checks with stated margins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.errors import ParameterError
from analysis.estimators import standardisation as st

CLOSED_FORM = 1e-10  # the same formula on the same numbers: rounding only
ITERATIVE = 1e-4  # IRLS fit against the published coefficients (printed to 4-6 digits)
HALF_LAST_DIGIT_4 = 5e-5  # metafor prints 4 decimals: half a unit of the last digit
COVERAGE_MARGIN = 0.012  # 4000 unit-draws at p=0.95: MC sd = sqrt(.95*.05/4000) = 0.0034; 3.5 sd


def test_logit_matches_greene_spector():
    """statsmodels documentation, Logit on the Spector & Mazzeo data (Greene, Econometric Analysis,
    Table 21.1): const -13.0213, GPA 2.8261, TUCE 0.0952, PSI 2.3787."""
    import statsmodels.api as sm

    data = sm.datasets.spector.load_pandas().data
    frame = data.assign(gpa_x=data["GPA"])
    # continuous covariates are not dummies: fit through the same GLM call the module uses
    x = sm.add_constant(data[["GPA", "TUCE", "PSI"]])
    fit = sm.GLM(data["GRADE"], x, family=sm.families.Binomial()).fit()
    expected = {"const": -13.021347, "GPA": 2.826113, "TUCE": 0.095158, "PSI": 2.378688}
    for k, v in expected.items():
        assert fit.params[k] == pytest.approx(v, abs=ITERATIVE)
    # the module's fit on a categorical covariate: fitted probabilities are the cell means (closed form)
    model = st.expected_outcome(frame, outcome="GRADE", covariates=["PSI"])
    cell = data.groupby("PSI")["GRADE"].transform("mean").to_numpy()
    np.testing.assert_allclose(model.expected, cell, atol=1e-8)
    assert model.expected.sum() == pytest.approx(data["GRADE"].sum(), abs=1e-8)  # sum O = sum E


def test_dersimonian_laird_matches_metafor_bcg():
    """metafor: dat.bcg, escalc(measure="RR"), rma(yi, vi, method="DL"): Q(df = 12) = 152.2330,
    tau^2 = 0.3088, estimate -0.7141, se 0.1787 (Viechtbauer 2010, J Stat Softw 36(3))."""
    bcg = np.array([[4, 119, 11, 128], [6, 300, 29, 274], [3, 228, 11, 209], [62, 13536, 248, 12619],
                    [33, 5036, 47, 5761], [180, 1361, 372, 1079], [8, 2537, 10, 619], [505, 87886, 499, 87892],
                    [29, 7470, 45, 7232], [17, 1699, 65, 1600], [186, 50448, 141, 27197], [5, 2493, 3, 2338],
                    [27, 16886, 29, 17825]], dtype=float)
    a, b, c, d = bcg.T
    yi = np.log(a / (a + b)) - np.log(c / (c + d))
    vi = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    out = st.dersimonian_laird(yi, vi)
    assert out["q"] == pytest.approx(152.2330, abs=HALF_LAST_DIGIT_4)
    assert out["tau2"] == pytest.approx(0.3088, abs=HALF_LAST_DIGIT_4)
    assert out["mean"] == pytest.approx(-0.7141, abs=HALF_LAST_DIGIT_4)
    assert out["se_mean"] == pytest.approx(0.1787, abs=HALF_LAST_DIGIT_4)


def test_overdispersion_follows_funnelplotr_cqc_formulas():
    """FunnelPlotR (R/od_adjustment.R, sr_method="CQC", Spiegelhalter 2005): Y = sqrt(O/E), s = 1/(2 sqrt(E)),
    z Winsorised at the 10/90 % quantiles (R type 7), phi = mean(z^2), tau^2 = (I phi - (I-1)) /
    (sum w - sum w^2 / sum w); on the package's own test data (tests/testthat/test-OD_adjust_func.R)."""
    o = np.array([100, 150, 180, 80, 120, 225], float)
    e = np.array([108, 112, 165, 95, 100, 220], float)
    z = (np.sqrt(o / e) - 1) / (1 / (2 * np.sqrt(e)))
    lo, hi = np.percentile(z, 10), np.percentile(z, 90)  # numpy's default is R's type 7
    zw = np.clip(z, lo, hi)
    phi = np.mean(zw ** 2)
    w = 4 * e
    tau2 = (6 * phi - 5) / (w.sum() - (w ** 2).sum() / w.sum())
    od = st.overdispersion(o, e, estimator="spiegelhalter")
    assert od.phi == pytest.approx(phi, rel=CLOSED_FORM)
    assert od.tau2 == pytest.approx(tau2, rel=CLOSED_FORM)
    assert od.phi > 1 and od.tau2 > 0
    lim = st.ratio_limits([100.0], od, levels=(0.95,))
    width = np.sqrt(1 / 400 + tau2)
    assert lim["upper_95"].iloc[0] == pytest.approx((1 + stats.norm.ppf(0.975) * width) ** 2, rel=CLOSED_FORM)


def test_no_overdispersion_when_observed_equals_expected():
    od = st.overdispersion([10, 20, 30, 40], [10, 20, 30, 40])
    assert od.phi == 0 and od.tau2 == 0
    lim = st.ratio_limits([25.0], None, levels=(0.998,))
    z = stats.norm.ppf(0.999)
    assert lim["upper_99.8"].iloc[0] == pytest.approx((1 + z / (2 * 5)) ** 2, rel=CLOSED_FORM)


def test_poisson_interval_closed_form():
    """Garwood: O = 10, E = 10 -> [chi2(0.025, 20)/20, chi2(0.975, 22)/20] = [0.4795, 1.8390] (Breslow & Day
    1987, table of exact Poisson limits for 10 events: 4.795 and 18.390)."""
    lo, hi = st.poisson_ratio_interval([10], [10])
    assert lo[0] == pytest.approx(0.4795, abs=5e-5)
    assert hi[0] == pytest.approx(1.8390, abs=5e-5)


def _null_units(rng, n_units=200, sizes=(200, 5000)):
    n = rng.integers(*sizes, n_units)
    p = rng.uniform(0.03, 0.3, n_units)  # each unit's expected rate given its composition
    o = rng.binomial(n, p)
    return pd.DataFrame({"unit": [f"U{i}" for i in range(n_units)], "n": n, "observed": o, "expected": n * p,
                         "variance": n * p * (1 - p)})


def test_funnel_limits_hold_nominal_coverage_without_unit_effects():
    """Seeded: 20 replications x 200 units drawn binomially around their expected counts (no unit effects).
    The share inside the 95 % limits is 0.95 within COVERAGE_MARGIN; phi is near 1."""
    rng = np.random.default_rng(20261201)
    inside, phis = [], []
    for _ in range(20):
        comp = st.compare_units(_null_units(rng), draws=200)
        inside.append(comp.table["position"].eq("within").to_numpy())
        phis.append(comp.overdispersion.phi)
    share = np.concatenate(inside).mean()
    assert abs(share - 0.95) < COVERAGE_MARGIN + 0.01  # + tau^2 estimated > 0 in some draws widens a little
    assert 0.9 < np.mean(phis) < 1.1  # the Winsorised phi made consistent: about 1 under the null


def test_additive_tau2_recovers_between_unit_variance():
    """Seeded: true sqrt-ratio = 1 + N(0, 0.1^2) per unit. Without Winsorising, DL's tau^2 estimates 0.01
    (MC margin 0.0015: 10 x 300 units); so does the default Winsorised estimator made consistent at the
    normal, while Spiegelhalter's plain Winsorised formula is biased downwards (lower, yet positive)."""
    rng = np.random.default_rng(7)
    raw, wins, spiegelhalter = [], [], []
    for _ in range(10):
        n = rng.integers(2000, 20000, 300)
        p = rng.uniform(0.05, 0.2, 300)
        theta = (1 + rng.normal(0, 0.1, 300)) ** 2
        o = rng.poisson(n * p * theta)
        raw.append(st.overdispersion(o, n * p, winsorise_by=0.0).tau2)
        wins.append(st.overdispersion(o, n * p).tau2)
        spiegelhalter.append(st.overdispersion(o, n * p, estimator="spiegelhalter").tau2)
    assert np.mean(raw) == pytest.approx(0.01, abs=0.0015)
    assert np.mean(wins) == pytest.approx(0.01, abs=0.0015)
    assert 0.003 < np.mean(spiegelhalter) < 0.8 * np.mean(raw)


def test_shrinkage_and_ranks():
    rng = np.random.default_rng(3)
    units = _null_units(rng, n_units=40)
    theta = (1 + rng.normal(0, 0.15, 40)) ** 2  # true unit effects
    units["observed"] = rng.poisson(units["expected"] * theta)
    comp = st.compare_units(units, draws=500)
    t = comp.table
    assert comp.overdispersion.tau2 > 0
    # shrunk towards 1, never past it; small units more than large ones
    assert ((t["shrunken"] - 1).abs() <= (t["ratio"] - 1).abs() + 1e-12).all()
    assert (t["rank_lower"] <= t["rank"]).all() and (t["rank"] <= t["rank_upper"]).all()
    assert stats.spearmanr(t["shrunken"], theta)[0] > 0.8
    # all equal to the target: every unit shrunk to 1 and every rank possible
    flat = st.compare_units(units.assign(observed=units["expected"]), draws=50)
    assert (flat.table["shrunken"] == 1).all() and (flat.table["rank_upper"] == 40).all()


def test_nearest_peers():
    comp = pd.DataFrame({"a": [0.0, 0.1, 1.0, 1.1, 5.0], "b": [1.0, 1.0, 1.0, 1.0, 1.0]},
                        index=["A", "B", "C", "D", "E"])
    peers = st.nearest_peers(comp, k=2)
    assert peers["A"] == ["B", "C"] and peers["D"] == ["C", "B"] and "A" not in peers["A"]


def test_errors():
    with pytest.raises(ParameterError, match="method"):
        st.overdispersion([1, 2, 3], [1, 2, 3], method="bogus")
    with pytest.raises(ParameterError, match="estimator"):
        st.overdispersion([1, 2, 3], [1, 2, 3], estimator="winsorised")
    with pytest.raises(ParameterError, match="at least 3 units"):
        st.overdispersion([1, 2], [1, 2])
    with pytest.raises(ParameterError, match="positive"):
        st.ratio_limits([0.0], None)
    with pytest.raises(ParameterError, match="0/1"):
        st.expected_outcome(pd.DataFrame({"y": [0, 2]}), outcome="y", covariates=[])
    with pytest.raises(ParameterError, match="both 0 and 1"):
        st.expected_outcome(pd.DataFrame({"y": [1, 1]}), outcome="y", covariates=[])
    with pytest.raises(ParameterError, match="compare_units needs"):
        st.compare_units(pd.DataFrame({"unit": ["a"]}))


# --- the reference model with the covariates' effects estimated within units (issue #15) ------------------

WITHIN_MARGIN = 0.08  # seeded: 40,000 persons, ~4,000 events; the log-odds estimate's sd is ~0.03 (2.5 sd)
ORACLE_MARGIN = 0.04  # the slope's estimation error carried into a unit's O/E (~0.03 x share of x): seeded


def _confounded(seed: int, n: int = 40_000, units: int = 12, beta: float = 1.0):
    """Persons in ``units`` units whose own effects (log-odds, evenly spread over -0.5..0.5) go against their
    share of the risk factor x, as in the simulator's municipal_effects scenario: the truth is ``beta``."""
    rng = np.random.default_rng(seed)
    effect = rng.permutation(np.linspace(-0.5, 0.5, units))
    unit = rng.integers(0, units, n)
    x = (rng.random(n) < 0.5 - 0.7 * effect[unit]).astype(int)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2.5 + beta * x + effect[unit])))).astype(int)
    return pd.DataFrame({"unit": [f"U{u:02d}" for u in unit], "x": x.astype(str), "y": y}), effect


def test_within_units_recovers_the_covariate_effect_the_pooled_logit_confounds():
    """The simulated truth beta = 1: a logit without the units attributes part of the units' effects to x
    (its prevalence goes against them) and is biased low; estimated within units it is recovered."""
    frame, _ = _confounded(3)
    pooled = st.expected_outcome(frame, outcome="y", covariates=["x"])
    within = st.expected_outcome(frame, outcome="y", covariates=["x"], within="unit")
    assert within.params["x_1"] == pytest.approx(1.0, abs=WITHIN_MARGIN)
    assert pooled.params["x_1"] < 1.0 - 2 * WITHIN_MARGIN
    assert within.expected.sum() == pytest.approx(frame["y"].sum(), abs=1e-6)  # sum E = sum O
    assert within.within == "unit" and within.n_params == 1 + 12


def test_within_units_fit_on_cells_equals_the_person_level_dummy_logit():
    """The fit on the cells of identical rows is the person-level logit with unit dummies (statsmodels GLM,
    IRLS on 40,000 rows): the same slope within the iterative tolerance."""
    import statsmodels.api as sm

    frame, _ = _confounded(5)
    x = pd.concat([frame[["x"]].astype(int), pd.get_dummies(frame["unit"], dtype=float)], axis=1)
    person = sm.GLM(frame["y"].to_numpy(float), x.to_numpy(float), family=sm.families.Binomial()).fit()
    cells = st.expected_outcome(frame, outcome="y", covariates=["x"], within="unit")
    assert cells.params["x_1"] == pytest.approx(person.params[0], abs=ITERATIVE)


def test_within_units_ratios_match_those_of_the_true_model():
    """Each unit's O/E against the simulator's truth: O over the expected count under the true covariate
    effect (beta = 1, common intercept set so that sum E = sum O). Within-unit expected counts give those
    ratios to within ORACLE_MARGIN; the pooled logit's are off by more than three times that (it flattens
    every unit's ratio towards 1, the bias the scenario builds in)."""
    from scipy.optimize import brentq

    frame, _ = _confounded(7)
    x = frame["x"].astype(int).to_numpy()
    c = brentq(lambda c: (1 / (1 + np.exp(-(c + x)))).sum() - frame["y"].sum(), -10, 10)

    def ratios(e):
        g = frame.assign(e=e).groupby("unit").agg(o=("y", "sum"), e=("e", "sum"))
        return g["o"] / g["e"]

    truth = ratios(1 / (1 + np.exp(-(c + x))))
    within = ratios(st.expected_outcome(frame, outcome="y", covariates=["x"], within="unit").expected)
    pooled = ratios(st.expected_outcome(frame, outcome="y", covariates=["x"]).expected)
    assert (within - truth).abs().max() < ORACLE_MARGIN
    assert (pooled - truth).abs().max() > 3 * ORACLE_MARGIN


def test_within_units_keeps_a_unit_without_events():
    """A unit whose outcomes are all 0 carries no information on x once it has its own effect: it is left out
    of the fit, yet its persons get expected values (and the expected total still equals the observed)."""
    frame, _ = _confounded(9)
    frame.loc[frame["unit"] == "U00", "y"] = 0
    model = st.expected_outcome(frame, outcome="y", covariates=["x"], within="unit")
    assert (model.expected[frame["unit"].eq("U00").to_numpy()] > 0).all()
    assert model.expected.sum() == pytest.approx(frame["y"].sum(), abs=1e-6)
    with pytest.raises(ParameterError, match="within='region' is not a column"):
        st.expected_outcome(frame, outcome="y", covariates=["x"], within="region")
