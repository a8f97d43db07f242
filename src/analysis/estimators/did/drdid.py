"""The 2x2 panel DiD estimators with covariates that R ``did`` calls per ATT(g,t) cell.

Plain functions on one cell's subsample (treated group plus comparison units):
``x`` is the design with an intercept (base-period covariates), ``dy`` the change
in the outcome from the base period, ``d`` 1 for the treated group, ``w`` unit weights.
Each returns the ATT and its influence function over the subsample, scaled as in
DRDID (``inf / n_sub`` sums to the linear representation).

- "dr":  ``DRDID::drdid_panel``, the improved locally efficient doubly robust
  estimator of Sant'Anna & Zhao (2020): logit propensity score, weighted OLS of
  ``dy`` on ``x`` among the comparison units.
- "ipw": ``DRDID::std_ipw_did_panel``, normalised (Hajek) inverse probability weights.
- "reg": ``DRDID::reg_did_panel``, outcome regression (Heckman, Ichimura & Todd 1997).

As DRDID, propensity scores are capped at 1 - 1e-6 and comparison units with a
score of ``trim_level`` (0.995) or more get weight zero.

References: Sant'Anna, P. & Zhao, J. (2020), J. Econometrics 219(1), 101-122.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import expit

from analysis.errors import ConvergenceWarning

#: DRDID's default: comparison units with a propensity score at or above this get weight zero.
TRIM_LEVEL = 0.995


def fit_logit(x: np.ndarray, d: np.ndarray, w: np.ndarray, *, max_iter: int = 50,
              strict: bool = False) -> np.ndarray | None:
    """Weighted logit by Newton-Raphson on the (small) design; coefficients.

    Without convergence (a covariate that separates treated from comparison units: the coefficients run
    off and the Hessian, whose inverse enters the influence function, tends to singular) it warns and
    returns the last iterate, as R's glm does; with ``strict`` it returns None instead, so that a caller
    can leave the subsample out rather than publish a standard error of 1e11 (seen on a municipal
    intake run before this option).
    """
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        p = expit(x @ beta)
        grad = x.T @ (w * (d - p))
        hess = (x.T * (w * p * (1 - p))) @ x
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.max(np.abs(step)) < 1e-12:
            return beta
    if strict:
        return None
    warnings.warn(f"propensity-score logit did not converge in {max_iter} Newton steps (last step "
                  f"{np.max(np.abs(step)):.2e}); check overlap or drop a covariate.", ConvergenceWarning, stacklevel=3)
    return beta


def _wols(x: np.ndarray, dy: np.ndarray, wc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted OLS of dy on x with weights wc (zero for treated units): coefficients and (X'WX / n)^-1."""
    n = len(dy)
    xtwx = (x.T * wc) @ x
    beta = np.linalg.solve(xtwx, (x.T * wc) @ dy)
    return beta, np.linalg.inv(xtwx / n)


def _with_covariates(x: np.ndarray, dy: np.ndarray, d: np.ndarray, w: np.ndarray, method: str, *,
                     gamma: np.ndarray | None = None, trim_level: float = TRIM_LEVEL) -> tuple[float, np.ndarray]:
    """ATT and influence function of one 2x2 cell (DRDID ``*_panel``); ``gamma`` skips the logit fit."""
    n = len(dy)
    ctrl = 1.0 - d
    if method in ("dr", "reg"):
        beta, xpx_inv = _wols(x, dy, w * ctrl)
        or_delta = x @ beta
        # asymptotic linear representation of the OLS coefficients, applied to a k-vector m:
        # (w (1-d) (dy - x b) x) @ xpx_inv @ m, computed as a vector without the n x k matrix
        resid_c = w * ctrl * (dy - or_delta)

        def lin_or(m: np.ndarray) -> np.ndarray:
            return resid_c * (x @ (xpx_inv @ m))
    if method == "reg":
        w_t = w * d
        mean_wt = w_t.mean()
        reg_t, reg_c = w_t * dy, w_t * or_delta
        eta_t, eta_c = reg_t.mean() / mean_wt, reg_c.mean() / mean_wt
        inf_t = (reg_t - w_t * eta_t) / mean_wt
        m1 = (w_t @ x) / n
        inf_c = (reg_c - w_t * eta_c + lin_or(m1)) / mean_wt
        return float(eta_t - eta_c), inf_t - inf_c
    if gamma is None:
        gamma = fit_logit(x, d, w)
    ps = np.minimum(expit(x @ gamma), 1 - 1e-6)
    keep = np.where(d == 1, 1.0, (ps < trim_level).astype(float))
    hess_inv = np.linalg.inv((x.T * (w * ps * (1 - ps))) @ x / n)
    score = w * (d - ps)

    def lin_ps(m: np.ndarray) -> np.ndarray:
        return score * (x @ (hess_inv @ m))

    w_treat = keep * w * d
    w_cont = keep * w * ps * ctrl / (1 - ps)
    mean_wt, mean_wc = w_treat.mean(), w_cont.mean()
    if method == "ipw":
        att_t, att_c = w_treat * dy, w_cont * dy
        eta_t, eta_c = att_t.mean() / mean_wt, att_c.mean() / mean_wc
        inf_t = (att_t - w_treat * eta_t) / mean_wt
        m2 = ((w_cont * (dy - eta_c)) @ x) / n
        inf_c = (att_c - w_cont * eta_c + lin_ps(m2)) / mean_wc
        return float(eta_t - eta_c), inf_t - inf_c
    # doubly robust (drdid_panel)
    resid = dy - or_delta
    dr_t, dr_c = w_treat * resid, w_cont * resid
    eta_t, eta_c = dr_t.mean() / mean_wt, dr_c.mean() / mean_wc
    m1 = (w_treat @ x) / n
    inf_t = (dr_t - w_treat * eta_t - lin_or(m1)) / mean_wt
    m2 = ((w_cont * (resid - eta_c)) @ x) / n
    m3 = (w_cont @ x) / n
    inf_c = (dr_c - w_cont * eta_c + lin_ps(m2) - lin_or(m3)) / mean_wc
    return float(eta_t - eta_c), inf_t - inf_c


def unit_terms(x: np.ndarray, dy: np.ndarray, d: np.ndarray, w: np.ndarray, method: str, *,
               gamma: np.ndarray | None = None, trim_level: float = TRIM_LEVEL) -> np.ndarray:
    """Each unit's term in the estimate, ``lambda_i dy_i`` with ``ATT = sum_i lambda_i dy_i``.

    Given the propensity score, all three estimators are linear in the changes ``dy``:
    ipw  lambda = w_t / W_t - w_c / W_c (normalised weights of treated and comparison units),
    reg  lambda = w d / W_t - w (1 - d) x (X' W_c X)^-1 X' (w d) / W_t,
    dr   lambda = a - w (1 - d) x (X' W_c X)^-1 X' a with a = w_t / W_t - w_c / W_c.
    These terms are what the dominance rule judges (one person's amount shows in its own term,
    whereas influence-function terms spread it over everyone through the mean).
    """
    ctrl = 1.0 - d
    wc = w * ctrl

    def project(a: np.ndarray) -> np.ndarray:
        """wc * x (X' Wc X)^-1 X' a: how the comparison outcome regression passes dy into the estimate."""
        coef = np.linalg.solve((x.T * wc) @ x, x.T @ a)
        return wc * (x @ coef)

    if method == "reg":
        a = w * d / (w * d).sum()
        lam = a - project(a)
        return lam * dy
    if gamma is None:
        gamma = fit_logit(x, d, w)
    ps = np.minimum(expit(x @ gamma), 1 - 1e-6)
    keep = np.where(d == 1, 1.0, (ps < trim_level).astype(float))
    w_treat = keep * w * d
    w_cont = keep * w * ps * ctrl / (1 - ps)
    a = w_treat / w_treat.sum() - w_cont / w_cont.sum()
    lam = a if method == "ipw" else a - project(a)
    return lam * dy
