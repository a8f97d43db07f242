"""Binned event time: closed forms (means of the months and A V A'), and honest_did on a chosen bin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.estimators.did.result import DynamicResult
from analysis.estimators.honest_did import bin_event_time, bin_of, honest_did
from analysis.estimators.results import tidy_estimates

#: closed form on the same numbers
EXACT = 1e-12


def _monthly(pre=6, post=6, reference=-1):
    times = [t for t in range(-pre - 1, post) if t != reference]
    rng = np.random.default_rng(0)
    b = rng.normal(size=len(times)) * 0.01 + np.array([0.05 if t >= 0 else 0.0 for t in times])
    a = rng.normal(size=(len(times), len(times))) * 0.003
    v = a @ a.T + np.eye(len(times)) * 1e-5
    names = [f"e={t}" for t in times]
    table = tidy_estimates(names, b, np.sqrt(np.diag(v)), n=np.full(len(times), 50))
    return DynamicResult(estimates=table, estimand="ATT(e)", spec={"reference": float(reference)},
                         diagnostics={"vcov": pd.DataFrame(v, index=names, columns=names)}), b, v, times


def test_bins_are_means_with_their_covariance():
    res, b, v, times = _monthly()
    out = bin_event_time(res, width=3, reference=-1)
    assert list(out.estimates.index) == ["e=-2", "e=-1", "e=1", "e=2"]
    A = np.zeros((4, len(times)))
    groups = {"e=-2": [-7, -6, -5], "e=-1": [-4, -3, -2], "e=1": [0, 1, 2], "e=2": [3, 4, 5]}
    for i, members in enumerate(groups.values()):
        for t in members:
            A[i, times.index(t)] = 1 / 3
    np.testing.assert_allclose(out.estimates["estimate"], A @ b, atol=EXACT)
    np.testing.assert_allclose(out.vcov.to_numpy(), A @ v @ A.T, atol=EXACT)
    assert bin_of(12, width=3, reference=-4) == 6


def test_honest_did_on_a_chosen_post_bin():
    res, *_ = _monthly()
    binned = bin_event_time(res, width=3, reference=-1)
    rm = honest_did(binned, restriction="relative_magnitudes", m=[0.0, 1.0], target=2)
    row = binned.estimates.loc["e=2"]
    assert rm.original["estimate"] == pytest.approx(row["estimate"], abs=EXACT)
    assert rm.original["std_error"] == pytest.approx(row["std_error"], abs=EXACT)
    with pytest.raises(ParameterError, match="post periods"):
        honest_did(binned, target=5)


def test_incomplete_bins_and_bad_width_are_refused():
    res, *_ = _monthly(pre=1, post=1)
    with pytest.raises(ParameterError, match="no complete bin"):
        bin_event_time(res, width=3, reference=-1)
    with pytest.raises(ParameterError, match="width"):
        bin_event_time(res, width=0, reference=-1)
