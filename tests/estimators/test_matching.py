"""Nearest-neighbour propensity matching: ties, row order, and the Abadie-Imbens variance by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.estimators.propensity import att_matching

#: Two treated and five controls with given scores. Treated A (0.30) has two controls at exactly
#: 0.30 (outcomes 10 and 20) and treated B (0.70) one control at 0.72 (outcome 5) and none closer.
FRAME = pd.DataFrame({
    "d": [1, 1, 0, 0, 0, 0, 0],
    "y": [30.0, 12.0, 10.0, 20.0, 5.0, 40.0, 8.0],
    "ps": [0.30, 0.70, 0.30, 0.30, 0.72, 0.95, 0.05],
})


def test_ties_share_the_match_by_hand():
    """A: 30 - (10 + 20) / 2 = 15; B: 12 - 5 = 7; ATT = 11. Random tie-breaking would add
    sd = sqrt(25) / 2 = 2.5 (A's tied outcomes differ by 10: variance 25)."""
    r = att_matching(FRAME, outcome="y", treatment="d", propensity=FRAME["ps"].to_numpy())
    assert r.to_frame().loc["ATT", "estimate"] == pytest.approx(11.0, abs=1e-12)
    assert r.diagnostics["tied_matches"] == 1
    assert r.diagnostics["tie_breaking_sd"] == pytest.approx(2.5, abs=1e-12)


def test_abadie_imbens_variance_by_hand():
    """V = [sum_i (tau_i - ATT)^2 + sum_c (K_c^2 - K'_c) sigma_c^2] / N1^2. Each used control here has
    K = K' (weights 1/2, 1/2 and 1: K^2 - K' = 1/4 - 1/4 = 0, 0, 0), so V = ((15-11)^2 + (7-11)^2) / 4 = 8."""
    r = att_matching(FRAME, outcome="y", treatment="d", propensity=FRAME["ps"].to_numpy())
    assert r.to_frame().loc["ATT", "std_error"] == pytest.approx(np.sqrt(8.0), abs=1e-12)


def test_reused_control_enters_the_variance():
    """Two treated at 0.5 share one control (outcome 0; K = 2, K' = 2, K^2 - K' = 2); its conditional
    variance comes from its neighbour in score order (outcome 4): sigma^2 = (0 - 4)^2 / 2 = 8.
    tau = (10, 6), ATT 8; V = ((2^2 + 2^2) + 2 * 8) / 4 = 6."""
    f = pd.DataFrame({"d": [1, 1, 0, 0], "y": [10.0, 6.0, 0.0, 4.0], "ps": [0.5, 0.5, 0.5, 0.9]})
    r = att_matching(f, outcome="y", treatment="d", propensity=f["ps"].to_numpy()).to_frame().loc["ATT"]
    assert r["estimate"] == pytest.approx(8.0, abs=1e-12)
    assert r["std_error"] == pytest.approx(np.sqrt(6.0), abs=1e-12)


def test_row_order_does_not_matter():
    rng = np.random.default_rng(4)
    n = 3000
    x = rng.integers(0, 4, size=(n, 2)).astype(float)  # few distinct covariate rows: many exact ties
    d = (rng.random(n) < 1 / (1 + np.exp(-(x @ [0.4, -0.6])))).astype(int)
    f = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "d": d, "y": x @ [1.0, 2.0] + 1.5 * d + rng.normal(size=n)})
    a = att_matching(f, outcome="y", treatment="d", covariates=["x0", "x1"]).to_frame()
    b = att_matching(f.sample(frac=1, random_state=1).reset_index(drop=True), outcome="y", treatment="d",
                     covariates=["x0", "x1"]).to_frame()
    assert a.loc["ATT", "estimate"] == pytest.approx(b.loc["ATT", "estimate"], abs=1e-9)
    # exact matching on discrete covariates: the effect of 1.5 within 4 standard errors
    assert abs(a.loc["ATT", "estimate"] - 1.5) < 4 * a.loc["ATT", "std_error"]


def test_dehejia_wahba_support_needs_a_model():
    with pytest.raises(ParameterError, match="re-estimates the score"):
        att_matching(FRAME, outcome="y", treatment="d", propensity=FRAME["ps"].to_numpy(),
                     common_support="dehejia_wahba")
    with pytest.raises(ParameterError, match="common_support='both' is not allowed"):
        att_matching(FRAME, outcome="y", treatment="d", covariates=["ps"], common_support="both")
