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


def _time_varying_episodes(n, b, g, seed):
    """Persons observed from a delayed entry month, whose covariate z switches from 0 to 1 at a random
    month; continuous hazard 0.05 exp(b x + g z(t)), recorded in whole months as (start, stop] rows."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    switch = rng.integers(1, 60, n).astype(float)
    entry = rng.integers(0, 24, n).astype(float)
    rate_a, rate_b = 0.05 * np.exp(b * x), 0.05 * np.exp(b * x + g)
    e1 = rng.exponential(size=n)
    t = np.where(e1 < rate_a * switch, e1 / rate_a, switch + (e1 - rate_a * switch) / rate_b)
    keep = t > entry  # left truncation: only persons still in the state at entry are observed
    x, switch, entry, t = x[keep], switch[keep], entry[keep], t[keep]
    censor = entry + rng.integers(1, 60, len(t))
    stop = np.minimum(np.ceil(t), censor)
    event = (np.ceil(t) <= censor).astype(int)
    rows = []
    for xi, si, ei, st, ev in zip(x, switch, entry, stop, event):
        if ei < si < st:
            rows += [(xi, 0.0, ei, si, 0), (xi, 1.0, si, st, ev)]
        else:
            rows.append((xi, float(si <= ei), ei, st, ev))
    return pd.DataFrame(rows, columns=["x", "z", "start", "stop", "event"])


def test_counting_process_equals_statsmodels_and_recovers_truth():
    """Delayed entry and a time-varying covariate: the Newton path against statsmodels PHReg to rounding,
    and the simulated log hazard ratios (b = 0.4, g = -0.7) within 4 standard errors plus 0.02 for
    recording continuous times in whole months.

    statsmodels counts a row as at risk at its own entry time (entry <= t), so an episode split at an
    event time sits in that risk set twice; R's ``Surv(start, stop, event)`` and our Newton path use
    entry < t <= stop. Entry times here are whole months, so statsmodels fed entries 1e-6 later uses
    exactly R's risk sets."""
    frame = _time_varying_episodes(8_000, 0.4, -0.7, seed=5)
    assert frame["start"].gt(0).mean() > 0.5 and frame["z"].between(0, 1).all()
    fast = cox(frame, duration="stop", event="event", covariates=["x", "z"], entry="start")
    ref = cox(frame.assign(start=frame["start"] + 1e-6), duration="stop", event="event", covariates=["x", "z"],
              entry="start", engine="statsmodels")
    assert fast.diagnostics["engine"] == "newton"
    pd.testing.assert_frame_equal(fast.to_frame(), ref.to_frame(), atol=AGREE, rtol=0)
    assert fast.log_likelihood == pytest.approx(ref.log_likelihood, abs=AGREE)
    est = fast.to_frame()
    for term, truth in (("x", 0.4), ("z", -0.7)):
        assert abs(est.loc[term, "estimate"] - truth) < 4 * est.loc[term, "std_error"] + 0.02, term


def test_ignoring_delayed_entry_is_what_the_entry_argument_corrects():
    """Without ``entry`` every row counts as at risk from time 0, and the estimate of z moves far from
    both the truth and the counting-process fit: the argument does something that matters."""
    frame = _time_varying_episodes(8_000, 0.4, -0.7, seed=5)
    right = cox(frame, duration="stop", event="event", covariates=["x", "z"], entry="start").to_frame()
    wrong = cox(frame, duration="stop", event="event", covariates=["x", "z"]).to_frame()
    assert abs(wrong.loc["z", "estimate"] - right.loc["z", "estimate"]) > 5 * right.loc["z", "std_error"]


def test_monotone_likelihood_raises_instead_of_returning_a_huge_coefficient():
    """Every event in level 1 of z: the partial likelihood increases without bound in z's coefficient
    (R coxph warns that it may be infinite); the fit must say so rather than report a finite number."""
    frame = _tied_spells(2_000, [0.3], seed=2)
    frame["z"] = frame["ended"].astype(float)
    with pytest.raises(EstimationError, match=r"no maximum in \['z'\]"):
        cox(frame, duration="months", event="ended", covariates=["x0", "z"])


def test_collinear_covariates_raise():
    frame = _tied_spells(500, [0.2], seed=1).assign(x_copy=lambda d: 2 * d["x0"])
    with pytest.raises(EstimationError, match="singular"):
        cox(frame, duration="months", event="ended", covariates=["x0", "x_copy"], engine="newton")
