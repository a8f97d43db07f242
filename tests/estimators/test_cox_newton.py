"""The vectorised Cox Newton path against statsmodels PHReg (an independent implementation) and truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import EstimationError
from analysis.estimators import cox

#: Two implementations of one closed-form score, both iterated to convergence: they agree to
#: rounding; 1e-8 leaves room for the stopping rules.
AGREE = 1e-8


def _tied_spells(n, beta, seed, max_month=60):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(beta)))
    months = np.ceil(rng.exponential(12 / np.exp(X @ np.asarray(beta)))).clip(1, max_month)
    censor = np.ceil(rng.uniform(1, max_month, n))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(len(beta))])
    return frame.assign(months=np.minimum(months, censor), ended=(months <= censor).astype(int))


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_equals_statsmodels_with_heavy_ties(ties):
    frame = _tied_spells(5_000, [0.5, -0.3, 0.0], seed=3)
    assert frame["months"].nunique() <= 60 < frame["ended"].sum(), "heavily tied monthly durations"
    covs = ["x0", "x1", "x2"]
    fast = cox(frame, duration="months", event="ended", covariates=covs, ties=ties, engine="newton")
    ref = cox(frame, duration="months", event="ended", covariates=covs, ties=ties, engine="statsmodels")
    pd.testing.assert_frame_equal(fast.to_frame(), ref.to_frame(), atol=AGREE, rtol=0)
    assert fast.log_likelihood == pytest.approx(ref.log_likelihood, abs=AGREE)


def test_recovers_the_simulated_log_hazard_ratio():
    """Exponential durations with log hazard ratios (0.5, -0.3, 0); grouping into months and
    independent censoring leave the Efron estimate close: within 4 standard errors."""
    frame = _tied_spells(40_000, [0.5, -0.3, 0.0], seed=11, max_month=120)
    fit = cox(frame, duration="months", event="ended", covariates=["x0", "x1", "x2"]).to_frame()
    for term, truth in zip(["x0", "x1", "x2"], [0.5, -0.3, 0.0]):
        assert abs(fit.loc[term, "estimate"] - truth) < 4 * fit.loc[term, "std_error"] + 0.02, term


def test_collinear_covariates_raise():
    frame = _tied_spells(500, [0.2], seed=1).assign(x_copy=lambda d: 2 * d["x0"])
    with pytest.raises(EstimationError, match="singular"):
        cox(frame, duration="months", event="ended", covariates=["x0", "x_copy"], engine="newton")
