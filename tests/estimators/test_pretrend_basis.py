"""The pre-trend test holds its size on register-like panels: many monthly cohorts of few persons.

Expected values are the nominal size of a test under the null (parallel trends hold by construction in
the simulated panels) and the closed form of Hotelling's T^2 (Anderson 2003, An Introduction to
Multivariate Statistical Analysis, 3rd ed., sec. 5.2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.estimators import att_gt
from analysis.estimators.did.result import wald_test

#: Simulated panels per check. With a true size of 5 %, P(7 or more rejections in 40) = 0.005 (binomial),
#: so the size check fails by chance once in 200 runs of a correct test; the seeds are fixed anyway.
DRAWS = 40
MAX_REJECTIONS = 6
#: The cell-level chi-square test on these panels rejects far more often than 5 % (measured: 40 of 40).
MIN_REJECTIONS_CELL_LEVEL = 20


def panel(seed: int, *, per_cohort: int, never: int, periods: int = 20) -> pd.DataFrame:
    """13 cohorts (first treated in 8..20) of ``per_cohort`` units, ``never`` never-treated, no effect,
    unit effects and a common trend: parallel trends hold."""
    rng = np.random.default_rng(seed)
    cohort = np.r_[np.repeat(np.arange(8, periods + 1), per_cohort), np.zeros(never)]
    n = len(cohort)
    y = rng.normal(size=(n, periods)) + rng.normal(size=(n, 1)) + 0.1 * np.arange(periods)
    return pd.DataFrame({"id": np.repeat(np.arange(n), periods), "t": np.tile(np.arange(1, periods + 1), n),
                         "y": y.ravel(), "g": np.repeat(cohort, periods)})


@pytest.mark.slow
@pytest.mark.parametrize("per_cohort,never", [(2, 100), (10, 300)])
def test_pretest_holds_its_size_with_many_small_cohorts(per_cohort, never):
    rejections, cell_level = 0, 0
    for seed in range(DRAWS):
        r = att_gt(panel(seed, per_cohort=per_cohort, never=never), outcome="y", unit="id", time="t", cohort="g")
        test = r.pretrend_test()
        assert test["basis"].startswith("pre-treatment event-time effects")
        rejections += test["p_value"] < 0.05
        pre = np.flatnonzero(r.estimates["time"] < r.estimates["group"])
        inf = r._influence_matrix(pre)
        cells = wald_test(r.estimates["estimate"].to_numpy()[pre], r.vcov_of(inf, range(len(pre))).to_numpy())
        cell_level += cells["p_value"] < 0.05
    assert rejections <= MAX_REJECTIONS
    assert cell_level >= MIN_REJECTIONS_CELL_LEVEL


def test_hotelling_reference_is_the_closed_form():
    """One-sample Hotelling T^2 on n draws of q variables, with V = S/n (S the sample covariance)."""
    rng = np.random.default_rng(3)
    n, q = 25, 6
    x = rng.normal(size=(n, q)) + 0.2
    m, s = x.mean(axis=0), np.cov(x, rowvar=False)
    t2 = n * m @ np.linalg.solve(s, m)
    expected = stats.f.sf(t2 * (n - q) / ((n - 1) * q), q, n - q)
    test = wald_test(m, s / n, hotelling_n=n)
    assert test["W"] == pytest.approx(t2, rel=1e-10)
    assert test["p_value"] == pytest.approx(expected, rel=1e-10)
    assert np.isnan(wald_test(m, s / n, hotelling_n=q)["p_value"])
