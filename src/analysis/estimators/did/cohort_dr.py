"""The at-risk design's per-cohort pieces (:mod:`.at_risk`): the doubly robust estimator for all cells of a
cohort at once, the covariate columns a subsample can estimate, and the top-2 dominance of many columns."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from analysis.estimators.did.drdid import TRIM_LEVEL


def _dr_cohort(x: np.ndarray, DY: np.ndarray, d: np.ndarray, w: np.ndarray, gamma: np.ndarray,
               trim_level: float = TRIM_LEVEL, scale: float = 1.0):
    """DRDID's ``drdid_panel`` for many outcome changes at once (one column of ``DY`` per cell).

    Given the subsample, the covariates and the propensity score the estimator and its influence function
    are linear in the change ``dy``, so every cell of a cohort that shares them is one matrix operation:
    the same formulas as :func:`.drdid._with_covariates` with a matrix in place of the vector (tested
    equal to it). Returns the ATT per column, the influence matrix (subsample x columns, DRDID's scale
    times ``scale``) and the units' weights ``lambda`` (their term in column k is lambda_i * DY[i, k]).

    Written for register size (subsample of 10^5-10^6 rows x 60 cells): the influence function is
    ``resid * u + Z @ C`` with ``resid = DY - x beta`` the outcome model's residuals, ``u`` a weight per
    unit and ``Z`` (units x k+2) ``C`` (k+2 x cells) the estimated means' and models' linear terms, so each
    units x cells array is read or written a few times instead of some twenty.
    """
    n = len(d)
    ctrl = 1.0 - d
    wc = w * ctrl
    xtwx = (x.T * wc) @ x
    beta = np.linalg.solve(xtwx, (x.T * wc) @ DY)
    xpx_inv = np.linalg.inv(xtwx / n)
    resid = x @ beta
    np.subtract(DY, resid, out=resid)                  # the outcome model's residuals, units x cells

    ps = np.minimum(expit(x @ gamma), 1 - 1e-6)
    keep = np.where(d == 1, 1.0, (ps < trim_level).astype(float))
    hess_inv = np.linalg.inv((x.T * (w * ps * (1 - ps))) @ x / n)
    score = w * (d - ps)
    w_treat = keep * w * d
    w_cont = keep * w * ps * ctrl / (1 - ps)
    mean_wt, mean_wc = w_treat.mean(), w_cont.mean()
    eta_t = (w_treat @ resid) / n / mean_wt
    eta_c = (w_cont @ resid) / n / mean_wc
    # the outcome regression's estimation effect: resid_c * (x xpx_inv m) with m the same for every cell
    v1 = x @ (xpx_inv @ ((w_treat @ x) / n))
    v3 = x @ (xpx_inv @ ((w_cont @ x) / n))
    u = (w_treat - wc * v1) / mean_wt - (w_cont - wc * v3) / mean_wc
    # the propensity model's estimation effect: score * x hess_inv m2, m2 = x' w_cont (resid - eta_c) / n
    m2 = ((x.T * w_cont) @ resid - np.outer(x.T @ w_cont, eta_c)) / n
    Z = np.column_stack([-w_treat / mean_wt, w_cont / mean_wc, -(score[:, None] * x) / mean_wc])
    C = np.vstack([eta_t, eta_c, hess_inv @ m2])
    inf = Z @ C if scale == 1.0 else (Z * scale) @ C
    np.multiply(resid, (u * scale)[:, None], out=resid)
    inf += resid
    a = w_treat / w_treat.sum() - w_cont / w_cont.sum()
    lam = a - wc * (x @ np.linalg.solve(xtwx, x.T @ a))
    return eta_t - eta_c, inf, lam


def _independent_columns(x: np.ndarray) -> np.ndarray:
    """Boolean mask of the design's columns to keep: the intercept, then each column that adds rank
    (a covariate constant or collinear in a subsample cannot be estimated there). Judged on the k x k
    Gram matrix of the scaled columns, so one pass over the rows."""
    keep = np.zeros(x.shape[1], dtype=bool)
    keep[0] = True
    scale = np.maximum(np.abs(x).max(axis=0), 1e-300)
    z = x / scale
    gram = z.T @ z
    tol = 1e-10 * max(float(np.trace(gram)), 1e-300)
    for j in range(1, x.shape[1]):
        trial = keep.copy()
        trial[j] = True
        eig = np.linalg.eigvalsh(gram[np.ix_(trial, trial)])
        if eig.min() > tol:
            keep = trial
    return keep


def _not_separating(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Boolean mask of the design's columns to keep in a propensity logit: drops an indicator column
    (values 0/1) that is 0 for every treated unit, 1 for every treated unit, 0 for every comparison unit
    or 1 for every comparison unit. Such a column separates the groups on one side, the logit's
    coefficient runs off to infinity and the Hessian whose inverse enters the influence function tends to
    singular: standard errors of 1e11 on a municipal intake run (monthly cohorts of a few persons, one of
    whom, say, is the only one with a high education). Left out, the cohort's model keeps the other
    covariates, and the estimator's warnings name the covariate."""
    keep = np.ones(x.shape[1], dtype=bool)
    treated = d == 1
    for j in range(1, x.shape[1]):
        col = x[:, j]
        if not np.all((col == 0) | (col == 1)):
            continue
        for side in (col[treated], col[~treated]):
            if len(side) and (side.min() == side.max()):
                keep[j] = False
    return keep


def _top2_share(terms: np.ndarray) -> np.ndarray:
    """Per column: the share of the two largest absolute values in the column's absolute sum (NaN if 0).

    Two column maxima (the second after setting the first to 0) instead of a partition: the same two
    values summed in the same order, at a fraction of the cost on units x cells arrays."""
    a = np.abs(terms)
    total = a.sum(axis=0)
    if a.shape[0] > 1:
        cols = np.arange(a.shape[1])
        first_at = a.argmax(axis=0)
        first = a[first_at, cols]
        a[first_at, cols] = 0.0
        top = first + a.max(axis=0)
    else:
        top = total
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, top / total, np.nan)
