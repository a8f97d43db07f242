"""att_gt's panel paths (sorted reshape, long scatter, arrays), base-period covariates, input checks."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisWarning, DataValidationError, ParameterError
from analysis.estimators import att_gt
from analysis.estimators.did import Panel

#: Same data, same closed form, different bookkeeping: agreement to rounding.
TOL_SAME = 1e-10
#: Closed-form OLS computed independently with numpy on the same data.
TOL_CLOSED_FORM = 1e-8


def panel_frame(n=600, periods=6, seed=0, time_varying=False):
    rng = np.random.default_rng(seed)
    g = rng.choice([0, 3, 5], size=n)
    x = rng.normal(size=n)
    t = np.arange(1, periods + 1)
    xt = x[:, None] + (0.3 * rng.normal(size=(n, periods)) if time_varying else 0 * t[None, :])
    y = rng.normal(size=(n, 1)) + 0.1 * t + 0.2 * xt * t + 0.5 * ((g[:, None] > 0) & (t >= g[:, None]))
    y = y + rng.normal(scale=0.5, size=(n, periods))
    return pd.DataFrame({"id": np.repeat(np.arange(n), periods), "t": np.tile(t, n), "y": y.ravel(),
                         "g": np.repeat(g, periods), "x": xt.ravel()})


@pytest.mark.parametrize("covariates", [[], ["x"]])
def test_shuffled_frame_takes_scatter_path_with_same_numbers(covariates):
    d = panel_frame()
    kw = dict(outcome="y", unit="id", time="t", cohort="g", covariates=covariates, control="not_yet_treated")
    a = att_gt(d, **kw)
    b = att_gt(d.sample(frac=1.0, random_state=1), **kw)
    assert a.diagnostics["path"].startswith("balanced, sorted: reshape")
    assert b.diagnostics["path"].startswith("long: scatter")
    assert np.allclose(a.estimates["estimate"], b.estimates["estimate"], atol=TOL_SAME, rtol=0)
    assert np.allclose(a.estimates["std_error"], b.estimates["std_error"], atol=TOL_SAME, rtol=0)
    sa, sb = a.aggregate("dynamic").to_frame(), b.aggregate("dynamic").to_frame()
    assert np.allclose(sa["std_error"], sb["std_error"], atol=TOL_SAME, rtol=0)


def test_unbalanced_panel_drops_incomplete_units_with_a_count():
    d = panel_frame()
    holes = d.index[(d["id"].isin([4, 9, 17])) & (d["t"] == 2)]
    with pytest.warns(AnalysisWarning, match=r"3 units miss at least one period and are dropped"):
        r = att_gt(d.drop(index=holes), outcome="y", unit="id", time="t", cohort="g", allow_unbalanced_panel=False)
    balanced = att_gt(d[~d["id"].isin([4, 9, 17])], outcome="y", unit="id", time="t", cohort="g")
    assert r.diagnostics["n_units"] == 597
    assert np.allclose(r.estimates["estimate"], balanced.estimates["estimate"], atol=TOL_SAME, rtol=0)


def test_panel_from_arrays_matches_long_frame():
    d = panel_frame()
    y = d["y"].to_numpy().reshape(600, 6)
    g = d["g"].to_numpy().reshape(600, 6)[:, 0]
    x = d["x"].to_numpy().reshape(600, 6)[:, 0]
    for cov, method in (([], "dr"), (["x"], "ipw")):
        long = att_gt(d, outcome="y", unit="id", time="t", cohort="g", covariates=cov, method=method)
        panel = Panel.from_arrays(y, g, covariates=x if cov else None)
        arrays = att_gt(panel, method=method)
        assert arrays.diagnostics["path"].startswith("arrays")
        assert np.allclose(long.estimates["estimate"], arrays.estimates["estimate"], atol=TOL_SAME, rtol=0)
        assert np.allclose(long.estimates["std_error"], arrays.estimates["std_error"], atol=TOL_SAME, rtol=0)


def test_time_varying_covariate_uses_base_period_values():
    """R did (panel): a covariate that varies is taken at the cell's base period. Check "reg" by hand:
    ATT = mean over treated of (dy - x_base' b), b the OLS of dy on (1, x_base) among never treated."""
    d = panel_frame(time_varying=True)
    r = att_gt(d, outcome="y", unit="id", time="t", cohort="g", covariates=["x"], method="reg")
    wide_y = d.pivot(index="id", columns="t", values="y")
    wide_x = d.pivot(index="id", columns="t", values="x")
    g = d.groupby("id")["g"].first()
    for (group, t, base) in [(3, 4, 2), (5, 3, 2), (5, 6, 4)]:
        dy = (wide_y[t] - wide_y[base]).to_numpy()
        xb = np.column_stack([np.ones(len(dy)), wide_x[base].to_numpy()])
        ctrl, treat = (g == 0).to_numpy(), (g == group).to_numpy()
        beta = np.linalg.lstsq(xb[ctrl], dy[ctrl], rcond=None)[0]
        expected = np.mean(dy[treat] - xb[treat] @ beta)
        assert r.estimates.loc[f"ATT({group},{t})", "estimate"] == pytest.approx(expected, abs=TOL_CLOSED_FORM)


def test_aggregated_influence_equals_sum_of_cell_influences():
    """The O(n x T) weighted sum of influence functions is the sum of the cells' own (same closed form)."""
    d = panel_frame()
    r = att_gt(d, outcome="y", unit="id", time="t", cohort="g", control="not_yet_treated")
    idx = np.arange(len(r.estimates))
    w = np.linspace(0.5, 1.5, len(idx))
    direct = sum(wk * r.influence(int(k)) for k, wk in zip(idx, w))
    assert np.abs(r.influence_sum(idx, w) - direct).max() < TOL_SAME


def test_input_checks():
    d = panel_frame(n=100)
    with pytest.raises(ParameterError, match=r"outcome, unit, time, cohort must name columns"):
        att_gt(d)
    with pytest.raises(DataValidationError, match=r"1 rows have a missing covariate"):
        att_gt(d.assign(x=d["x"].where(d.index != 5)), outcome="y", unit="id", time="t", cohort="g",
               covariates=["x"])
    with pytest.raises(DataValidationError, match=r"2 units have more than one g value"):
        att_gt(d.assign(g=np.where(d.index.isin([0, 7]), 9, d["g"])), outcome="y", unit="id", time="t", cohort="g")
    with pytest.raises(ParameterError, match=r"y must be units x periods"):
        Panel.from_arrays(np.zeros(5), np.zeros(5))
    with pytest.raises(ParameterError, match=r"cohort must have one value per unit \(4\)"):
        Panel.from_arrays(np.zeros((4, 3)), np.zeros(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Panel.from_arrays(np.zeros((4, 3)), np.array([0, 2, 3, 0]))
