"""Treatment effects on the treated under selection on observables.

Regression adjustment, normalised inverse probability weighting, cross-fitted
AIPW (doubly robust) and one-to-one nearest-neighbour propensity matching with
replacement, each returning an :class:`EffectResult` with a balance table and
overlap diagnostics. Models come from scikit-learn and statsmodels; the ATT
scores and their influence functions are written here because no maintained
package offers the ATT (rather than the ATE) versions with cluster-robust
influence-function standard errors (needed when risk-set controls repeat).

References: Heckman, Ichimura & Todd (1997) for regression adjustment;
Hirano, Imbens & Ridder (2003) for IPW; Chernozhukov et al. (2018) for the
cross-fitted AIPW score of the ATT; Abadie & Imbens (2006) for the matching
variance.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import OverlapWarning, ParameterError, check_choice
from analysis.estimators.results import EffectResult, tidy_estimates


def _check(frame: pd.DataFrame, outcome: str, treatment: str, covariates: Sequence[str]) -> pd.DataFrame:
    cols = [outcome, treatment, *covariates]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ParameterError(f"columns {missing} not in the data; columns are {list(frame.columns)[:20]}.")
    d = frame[treatment]
    if not set(pd.unique(d.dropna())) <= {0, 1}:
        raise ParameterError(f"treatment {treatment!r} must be 0/1; found {sorted(pd.unique(d.dropna()))[:5]}.")
    if d.sum() == 0 or (1 - d).sum() == 0:
        raise ParameterError(f"treatment {treatment!r} needs both treated and control units.")
    return frame


def _se(inf: np.ndarray, cluster: np.ndarray | None) -> float:
    n = len(inf)
    if cluster is not None:
        inf = pd.Series(inf).groupby(cluster).sum().to_numpy()
    return float(np.sqrt(np.sum(inf ** 2)) / n)


def smd(x: np.ndarray, d: np.ndarray, w: np.ndarray | None = None) -> float:
    """Standardised mean difference (weighted controls), pooled unweighted standard deviation."""
    w = np.ones(len(x)) if w is None else w
    m1 = x[d == 1].mean()
    m0 = np.average(x[d == 0], weights=w[d == 0])
    sd = np.sqrt((x[d == 1].var(ddof=1) + x[d == 0].var(ddof=1)) / 2)
    return float((m1 - m0) / sd) if sd > 0 else 0.0


def balance_table(frame: pd.DataFrame, *, treatment: str, covariates: Sequence[str],
                  weights: np.ndarray | None = None) -> pd.DataFrame:
    d = frame[treatment].to_numpy()
    rows = []
    for c in covariates:
        x = frame[c].to_numpy(dtype=float)
        rows.append({"covariate": c, "mean_treated": x[d == 1].mean(), "mean_control": x[d == 0].mean(),
                     "smd_before": smd(x, d),
                     "smd_after": smd(x, d, weights) if weights is not None else np.nan})
    return pd.DataFrame(rows)


def propensity_scores(frame: pd.DataFrame, *, treatment: str, covariates: Sequence[str] = (),
                      formula: str | None = None) -> np.ndarray:
    """Logit propensity scores by maximum likelihood (statsmodels): covariates or a patsy formula's right side."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    if formula:
        fit = smf.logit(f"{treatment} ~ {formula}", data=frame).fit(disp=0, maxiter=200)
    else:
        fit = sm.Logit(frame[treatment].astype(float), sm.add_constant(frame[list(covariates)].astype(float))).fit(
            disp=0, maxiter=200)
    return np.asarray(fit.predict(frame) if formula else fit.predict())


def difference_in_means(frame: pd.DataFrame, *, outcome: str, treatment: str, covariates: Sequence[str] = (),
                        se: str = "classical", alpha: float = 0.05) -> EffectResult:
    """OLS of the outcome on the treatment (and covariates): the experimental estimator."""
    import statsmodels.api as sm

    _check(frame, outcome, treatment, covariates)
    x = sm.add_constant(frame[[treatment, *covariates]].astype(float))
    fit = sm.OLS(frame[outcome].astype(float), x).fit(cov_type="nonrobust" if se == "classical" else se)
    table = tidy_estimates(["ATT"], [fit.params[treatment]], [fit.bse[treatment]], n=len(frame), alpha=alpha,
                           dof=fit.df_resid)
    return EffectResult(estimates=table, estimand="ATE (randomised) / OLS coefficient",
                        spec={"outcome": outcome, "covariates": list(covariates), "se": se},
                        diagnostics={"residual_df": int(fit.df_resid)})


def att_regression(frame: pd.DataFrame, *, outcome: str, treatment: str, covariates: Sequence[str],
                   cluster: str | None = None, alpha: float = 0.05) -> EffectResult:
    """Impute the treated units' untreated outcomes from an OLS fit on the controls."""
    _check(frame, outcome, treatment, covariates)
    y = frame[outcome].to_numpy(float)
    d = frame[treatment].to_numpy(float)
    x = np.column_stack([np.ones(len(frame)), frame[list(covariates)].to_numpy(float)])
    n = len(y)
    c = d == 0
    xtx = x[c].T @ x[c] / n
    beta = np.linalg.solve(xtx, x[c].T @ y[c] / n)
    m0 = x @ beta
    pi = d.mean()
    att = float(np.mean((y - m0)[d == 1]))
    mx = x[d == 1].mean(axis=0)
    inf = d * (y - m0 - att) / pi - ((1 - d) * (y - m0))[:, None] * x @ np.linalg.solve(xtx, mx) * 1.0
    se = _se(inf, frame[cluster].to_numpy() if cluster else None)
    table = tidy_estimates(["ATT"], [att], [se], n=n, alpha=alpha)
    return EffectResult(estimates=table, estimand="ATT", spec={"method": "regression adjustment",
                                                               "covariates": list(covariates), "cluster": cluster},
                        diagnostics={"balance": balance_table(frame, treatment=treatment, covariates=covariates)})


def _trim(ps: np.ndarray, d: np.ndarray, trim: float) -> tuple[np.ndarray, list]:
    keep = ps <= trim
    notes = []
    if (~keep).any():
        msg = (f"{int((~keep).sum())} units with propensity above {trim} dropped for overlap "
               f"({int(((~keep) & (d == 1)).sum())} treated)")
        warnings.warn(msg, OverlapWarning, stacklevel=3)
        notes.append(msg)
    return keep, notes


def att_ipw(frame: pd.DataFrame, *, outcome: str, treatment: str, covariates: Sequence[str],
            formula: str | None = None, trim: float = 0.99, cluster: str | None = None,
            alpha: float = 0.05) -> EffectResult:
    """Normalised (Hajek) IPW for the ATT with a logit propensity score; SE accounts for its estimation."""
    from analysis.estimators.did.attgt import _with_covariates

    _check(frame, outcome, treatment, covariates)
    ps = propensity_scores(frame, treatment=treatment, covariates=covariates, formula=formula)
    d = frame[treatment].to_numpy(float)
    keep, notes = _trim(ps, d, trim)
    sub = frame[keep]
    x = _design(sub, covariates, formula)
    att, inf = _with_covariates(x, sub[outcome].to_numpy(float), d[keep], np.ones(int(keep.sum())), "ipw")
    se = _se(inf, sub[cluster].to_numpy() if cluster else None) * 1.0
    w = np.where(d[keep] == 1, 1.0, ps[keep] / (1 - ps[keep]))
    table = tidy_estimates(["ATT"], [att], [se], n=int(keep.sum()), alpha=alpha)
    return EffectResult(estimates=table, estimand="ATT", spec={"method": "ipw (normalised)", "trim": trim,
                                                               "covariates": list(covariates), "formula": formula},
                        diagnostics={"balance": balance_table(sub, treatment=treatment, covariates=covariates, weights=w),
                                     "propensity": ps, "dropped_by_trimming": int((~keep).sum()), "warnings": notes})


def _design(frame: pd.DataFrame, covariates: Sequence[str], formula: str | None) -> np.ndarray:
    if formula:
        import patsy

        return np.asarray(patsy.dmatrix(formula, frame, return_type="dataframe"))
    return np.column_stack([np.ones(len(frame)), frame[list(covariates)].to_numpy(float)])


def att_aipw(frame: pd.DataFrame, *, outcome: str, treatment: str, covariates: Sequence[str], folds: int = 5,
             ps_model=None, outcome_model=None, trim: float = 0.99, cluster: str | None = None,
             alpha: float = 0.05, seed: int = 0) -> EffectResult:
    """Doubly robust ATT (AIPW), cross-fitted with any scikit-learn classifier and regressor."""
    from sklearn.base import clone
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _check(frame, outcome, treatment, covariates)
    if folds < 2:
        raise ParameterError(f"folds={folds} must be at least 2 for cross-fitting.")
    ps_model = ps_model or make_pipeline(StandardScaler(), LogisticRegression(C=1e6, max_iter=2000))
    outcome_model = outcome_model or LinearRegression()
    x = frame[list(covariates)].to_numpy(float)
    y = frame[outcome].to_numpy(float)
    d = frame[treatment].to_numpy(int)
    n = len(y)
    ps = np.empty(n)
    m0 = np.empty(n)
    groups = frame[cluster].to_numpy() if cluster else None
    splitter = KFold(folds, shuffle=True, random_state=seed)
    # folds over clusters: integer codes of the sorted cluster ids (np.isin on string ids is slow at scale)
    codes, uniques = pd.factorize(groups, sort=True) if groups is not None else (np.arange(n), np.arange(n))
    fold_of = np.empty(len(uniques), dtype=np.int64)
    for k, (_, test_g) in enumerate(splitter.split(np.arange(len(uniques)))):
        fold_of[test_g] = k
    fold = fold_of[codes]
    for k in range(folds):
        test = fold == k
        train = ~test
        ps[test] = clone(ps_model).fit(x[train], d[train]).predict_proba(x[test])[:, 1]
        ctrl = train & (d == 0)
        m0[test] = clone(outcome_model).fit(x[ctrl], y[ctrl]).predict(x[test])
    keep, notes = _trim(ps, d, trim)
    ps_k, y_k, d_k, m_k = ps[keep], y[keep], d[keep], m0[keep]
    pi = d_k.mean()
    w0 = ps_k / (1 - ps_k)
    resid = y_k - m_k
    theta = float(np.sum(d_k * resid - (1 - d_k) * w0 * resid) / np.sum(d_k))
    inf = (d_k * resid - (1 - d_k) * w0 * resid - d_k * theta) / pi
    se = _se(inf, groups[keep] if groups is not None else None)
    table = tidy_estimates(["ATT"], [theta], [se], n=int(keep.sum()), alpha=alpha)
    weights = np.where(d_k == 1, 1.0, w0)
    return EffectResult(estimates=table, estimand="ATT",
                        spec={"method": "aipw (cross-fitted)", "folds": folds, "trim": trim, "seed": seed,
                              "ps_model": repr(ps_model), "outcome_model": repr(outcome_model), "cluster": cluster},
                        diagnostics={"balance": balance_table(frame[keep], treatment=treatment, covariates=covariates,
                                                              weights=weights),
                                     "propensity": ps, "treated": d, "dropped_by_trimming": int((~keep).sum()),
                                     "influence": inf, "kept": keep, "warnings": notes})


def _nearest_with_ties(ps_t: np.ndarray, ps_c: np.ndarray, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray,
                                                                                        np.ndarray]:
    """For each treated score, every control at the smallest distance (ties kept).

    Returns (treated index, control index, weight) triples with weights 1/(number of tied controls),
    so each treated unit's weights sum to one. ``ps_c`` is searched in sorted order; two distances
    within ``tol`` count as equal.
    """
    order = np.argsort(ps_c, kind="mergesort")
    cps = ps_c[order]
    pos = np.searchsorted(cps, ps_t)
    left, right = np.clip(pos - 1, 0, len(cps) - 1), np.clip(pos, 0, len(cps) - 1)
    dl, dr = np.abs(ps_t - cps[left]), np.abs(cps[right] - ps_t)
    best = np.minimum(dl, dr)
    # the tied set on each side is the run of controls sharing that side's neighbouring score
    use_l, use_r = dl <= best + tol, dr <= best + tol
    lo_l = np.searchsorted(cps, cps[left] - tol, side="left")
    hi_l = np.searchsorted(cps, cps[left] + tol, side="right")
    lo_r = np.searchsorted(cps, cps[right] - tol, side="left")
    hi_r = np.searchsorted(cps, cps[right] + tol, side="right")
    lo = np.where(use_l, lo_l, lo_r)
    hi = np.where(use_r, hi_r, hi_l)
    counts = hi - lo
    t_rep = np.repeat(np.arange(len(ps_t)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    c_sorted = np.repeat(lo, counts) + offsets
    return t_rep, order[c_sorted], 1.0 / np.repeat(counts, counts)


def att_matching(frame: pd.DataFrame, *, outcome: str, treatment: str, covariates: Sequence[str] = (),
                 formula: str | None = None, propensity: np.ndarray | None = None, common_support: str = "none",
                 alpha: float = 0.05) -> EffectResult:
    """One-to-one nearest-neighbour matching on the propensity score, with replacement.

    Ties (controls at the same distance, as when several have identical covariates) share the match
    equally: the expectation of breaking them at random, so the estimate does not depend on row order.
    ``diagnostics["tie_breaking_sd"]`` is the standard deviation that random tie-breaking would add.

    ``common_support``: "none", or "dehejia_wahba": discard controls whose score lies below the
    smallest treated score, re-estimate the score on the units that remain, and match on it
    (Dehejia & Wahba 1999, 2002). Needs ``covariates`` or ``formula``, not a given ``propensity``.

    Variance: Abadie & Imbens (2006) for the ATT with K(c) = sum of the weights of control c and
    K'(c) = sum of their squares; each control's conditional variance is estimated from its nearest
    other control in score order.
    """
    _check(frame, outcome, treatment, covariates)
    check_choice("common_support", common_support, ("none", "dehejia_wahba"))
    discarded = 0
    if common_support == "dehejia_wahba":
        if propensity is not None or not (covariates or formula):
            raise ParameterError("common_support='dehejia_wahba' re-estimates the score: give covariates or a "
                                 "formula, not propensity.")
        first = propensity_scores(frame, treatment=treatment, covariates=covariates, formula=formula)
        treated = frame[treatment].to_numpy() == 1
        keep = treated | (first >= first[treated].min())
        discarded = int((~keep).sum())
        frame = frame[keep].reset_index(drop=True)
    ps = propensity if propensity is not None else propensity_scores(frame, treatment=treatment,
                                                                      covariates=covariates, formula=formula)
    y = frame[outcome].to_numpy(float)
    d = frame[treatment].to_numpy(int)
    t_idx, c_idx = np.flatnonzero(d == 1), np.flatnonzero(d == 0)
    t_rep, c_pos, w = _nearest_with_ties(ps[t_idx], ps[c_idx])
    n1 = len(t_idx)
    y0_hat = np.bincount(t_rep, w * y[c_idx][c_pos], minlength=n1)
    diffs = y[t_idx] - y0_hat
    att = float(diffs.mean())
    k = np.bincount(c_pos, w, minlength=len(c_idx))
    k2 = np.bincount(c_pos, w ** 2, minlength=len(c_idx))
    # conditional variance of each control from its nearest other control (in score order)
    order = np.argsort(ps[c_idx], kind="mergesort")
    y_sorted = y[c_idx][order]
    nb = np.where(np.arange(len(order)) == 0, 1, np.arange(len(order)) - 1)
    sig2 = np.empty(len(order))
    sig2[order] = (y_sorted - y_sorted[nb]) ** 2 / 2
    var = (np.sum((diffs - att) ** 2) + np.sum((k ** 2 - k2) * sig2)) / n1 ** 2
    # breaking ties at random instead would add this much noise (the spread of the tied controls' outcomes)
    tie_var = np.bincount(t_rep, w * (y[c_idx][c_pos] - y0_hat[t_rep]) ** 2, minlength=n1)
    used = int((k > 0).sum())
    table = tidy_estimates(["ATT"], [att], [np.sqrt(var)], n=n1 + used, alpha=alpha)
    weights = np.zeros(len(frame))
    weights[t_idx] = 1
    weights[c_idx] = k
    return EffectResult(estimates=table, estimand="ATT",
                        spec={"method": "1-NN propensity matching with replacement, ties shared",
                              "formula": formula, "covariates": list(covariates), "common_support": common_support},
                        diagnostics={"balance": balance_table(frame, treatment=treatment, covariates=covariates,
                                                              weights=np.where(weights > 0, weights, 1e-12)),
                                     "propensity": ps, "treated": d, "controls_used": used,
                                     "tied_matches": int((np.bincount(t_rep, minlength=n1) > 1).sum()),
                                     "tie_breaking_sd": float(np.sqrt(tie_var.sum()) / n1),
                                     "discarded_controls": discarded})


def e_value(estimate: float, ci_limit: float | None = None, *, scale: str = "RR", sd: float | None = None) -> dict:
    """E-value of VanderWeele & Ding (2017): the confounding strength that would explain the estimate away.

    ``scale`` "RR" (risk ratio) or "SMD" (standardised mean difference d, converted with RR = exp(0.91 d)).
    """
    if scale == "SMD":
        estimate = float(np.exp(0.91 * estimate))
        ci_limit = None if ci_limit is None else float(np.exp(0.91 * ci_limit))
    elif scale != "RR":
        raise ParameterError(f"scale={scale!r} is not allowed; choose 'RR' or 'SMD'.")

    def ev(rr):
        rr = 1 / rr if rr < 1 else rr
        return float(rr + np.sqrt(rr * (rr - 1)))

    out = {"e_value": ev(estimate)}
    if ci_limit is not None:
        crosses = (estimate > 1 and ci_limit <= 1) or (estimate < 1 and ci_limit >= 1)
        out["e_value_ci"] = 1.0 if crosses else ev(ci_limit)
    return out
