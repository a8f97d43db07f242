"""The benchmark's adjusted comparison on aggregates (analysis.studies.benchmark.adjusted).

Closed form (intercept-only model), a seeded simulation with a known covariate effect, and, where the
CBS regional key figures are bundled (data/statline/regionale_kerncijfers_gemeenten.csv, see its README),
the design fact on CBS 2015: the covariates explain part of the municipalities' spread, so the adjusted
funnel's overdispersion is lower than the raw one's, with the signs SCP's BUIG model reports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.statline import bundled_dir
from analysis.errors import DataValidationError
from analysis.studies.benchmark import adjusted as adj

CLOSED_FORM = 1e-8  # IRLS converges to the closed form; rounding only
ITERATIVE = 0.05  # seeded: 400 units, coefficient se ~0.01 under the simulated spread (~5 sd)


def test_intercept_only_expected_counts_are_the_pooled_rate():
    """No covariate varies: E = n * sum(O) / sum(n) (closed form of the Poisson MLE with an offset)."""
    count, den = np.array([5.0, 30.0, 12.0, 80.0]), np.array([100.0, 900.0, 300.0, 2000.0])
    cov = pd.DataFrame({"a": [1.0] * 4})
    expected, params, _ = adj.expected_counts(count, den, cov)
    np.testing.assert_allclose(expected, den * count.sum() / den.sum(), rtol=CLOSED_FORM)
    assert params["const"] == pytest.approx(np.log(count.sum() / den.sum()), abs=CLOSED_FORM)


def _simulated(seed: int, units: int = 400, beta: float = 0.3, tau: float = 0.05):
    """Units whose log rate is -3 + beta * x (x standard normal) plus N(0, tau^2): the truth is beta."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(units)
    n = rng.integers(2_000, 200_000, units).astype(float)
    rate = np.exp(-3 + beta * x + tau * rng.standard_normal(units))
    count = rng.poisson(n * rate).astype(float)
    codes = [f"GM{i:04d}" for i in range(units)]
    frame = pd.DataFrame({"region": codes, "num": count, "den": n})
    figures = pd.DataFrame({"code": codes, **{c: rng.standard_normal(units) for c in adj.COVARIATES}})
    figures["mean_household_income_keur"] = x
    return frame, figures


def test_adjusted_funnel_removes_the_spread_the_covariates_explain():
    """Simulated truth: the covariate moves the rate by beta = 0.3 per sd, the rest of the spread is tau = 0.05.
    The model recovers beta, and the adjusted funnel's tau^2 is far below the raw one's, near tau^2 on the
    square-root scale (tau / 2)^2."""
    from analysis.estimators.funnel import proportion_funnel

    frame, figures = _simulated(1)
    raw = {"x": proportion_funnel(frame["num"], frame["den"], units=frame["region"])}
    out = adj.adjusted_funnels(frame, figures, {"x": ("num", "den")}, raw)["x"]
    assert out.params["mean_household_income_keur"] == pytest.approx(0.3, abs=ITERATIVE)
    assert out.comparison.overdispersion.tau2 < 0.2 * out.raw_tau2
    assert out.comparison.overdispersion.tau2 == pytest.approx((0.05 / 2) ** 2, rel=0.5)  # 400 units: MC spread
    rows = adj.adjusted_rows("GM0007", {"x": out}, {"x": "inflow_rate"})
    names = {r["name"] for r in rows}
    assert {"adjusted_overdispersion_inflow_rate", "adjusted_ratio_inflow_rate_GM0007"} <= names


def test_key_figures_absent_or_incomplete(tmp_path):
    assert adj.key_figures(tmp_path, 2015) is None
    pd.DataFrame({"year": [2015], "code": ["GM0003"]}).to_csv(tmp_path / adj.KEY_FIGURES, index=False)
    with pytest.raises(DataValidationError, match="columns .* are missing"):
        adj.key_figures(tmp_path, 2015)


BUNDLED = bundled_dir() / adj.KEY_FIGURES


@pytest.mark.skipif(not BUNDLED.is_file(), reason="CBS regional key figures not bundled (data/statline/README.md)")
def test_cbs_2015_adjusted_overdispersion_is_lower_with_the_expected_signs():
    from analysis.data.statline import load_participatiewet
    from analysis.studies.benchmark import FUNNELS, indicator_funnels

    t = load_participatiewet()
    frame = t[(t["region_type"] == "GM") & (t["age_class"] == "all") & (t["year"] == 2015)]
    raw = indicator_funnels(frame)
    out = adj.adjusted_funnels(frame, adj.key_figures(bundled_dir(), 2015), FUNNELS, raw)
    for key in ("density", "inflow"):
        assert out[key].comparison.overdispersion.tau2 < 0.5 * out[key].raw_tau2, key
    params = out["density"].params
    for covariate, sign in adj.COVARIATES.items():
        if sign:
            assert np.sign(params[covariate]) == sign, covariate
