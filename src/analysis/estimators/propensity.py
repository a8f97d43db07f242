"""Treatment effects on the treated under selection on observables.

Regression adjustment, normalised inverse probability weighting, cross-fitted
AIPW (doubly robust) and one-to-one nearest-neighbour propensity matching with
replacement, each returning an :class:`EffectResult` with a balance table and
overlap diagnostics. Models come from scikit-learn and statsmodels; the ATT
scores and their influence functions are written here because no maintained
package offers the ATT (rather than the ATE) versions with cluster-robust
influence-function standard errors (needed when risk-set controls repeat).

Units and dominance (disclosure, issue #13). Rows with a missing outcome,
treatment, covariate, cluster or unit id are dropped first (counted in
``diagnostics["dropped_missing"]``). A term's ``n`` is the number of treated
units it uses and ``n_control`` the number of comparison units with a non-zero
weight: after trimming (IPW, AIPW), after the common-support step and matching
(only controls that are matched count). A unit is a value of ``unit_id``
(default: the ``cluster`` column, else a row), so a person with several
risk-set rows counts once. ``dominance`` is judged on each unit's term in the
estimating sum (``att = sum_i c_i``; absolute row terms summed per unit):

- difference_in_means: ``c_i = a_i y_i`` with ``a`` the treatment row of
  ``(X'X)^-1 X'`` (without covariates ``y_i / n1`` for the treated and
  ``-y_i / n0`` for the controls);
- att_regression: ``y_i / n1`` for the treated, ``-x_i' (X_c'X_c)^-1 xbar_1 y_i``
  for the controls (the estimate is exactly their sum);
- att_ipw: ``y_i / n1`` for the treated, ``-w_i y_i / sum(w)`` for the controls
  (the normalised weights);
- att_aipw: the uncentred influence-function terms
  ``(d_i - (1 - d_i) w_i) (y_i - m0_i) / n1`` and the amounts they weight,
  ``(d_i - (1 - d_i) w_i) y_i / n1``; the larger of the two shares is reported;
- att_matching: ``y_i / n1`` for the treated, ``-K_i y_i / n1`` for control i
  matched ``K_i`` times (ties shared).

Centred influence-function terms are not used: the influence function of a mean
sums to zero within a group, so one unit can never exceed half of the absolute
sum and a single dominating amount would pass the 90 % rule unseen. The terms
are also in ``diagnostics["contributions"]`` (per unit, signed) for derived
quantities such as a cost-benefit analysis.

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
from analysis.estimators.results import (
    EffectResult, contributions_by_unit, dominance_share, tidy_estimates, units_used,
)


def _prepare(frame: pd.DataFrame, outcome: str, treatment: str, covariates: Sequence[str],
             *extra: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Check the columns, drop rows with a missing value in any used column; (complete rows, their mask)."""
    cols = [outcome, treatment, *covariates, *(c for c in extra if c)]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ParameterError(f"columns {missing} not in the data; columns are {list(frame.columns)[:20]}.")
    complete = frame[list(dict.fromkeys(cols))].notna().all(axis=1).to_numpy()
    frame = frame if complete.all() else frame[complete]
    _check(frame, outcome, treatment, covariates)
    return frame, complete


def _check(frame: pd.DataFrame, outcome: str, treatment: str, covariates: Sequence[str]) -> pd.DataFrame:
    cols = [outcome, treatment, *covariates]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ParameterError(f"columns {missing} not in the data; columns are {list(frame.columns)[:20]}.")
    d = frame[treatment]
    if not set(pd.unique(d.dropna())) <= {0, 1}:
        raise ParameterError(f"treatment {treatment!r} must be 0/1; found {sorted(pd.unique(d.dropna()))[:5]}.")
    if d.sum() == 0 or (1 - d).sum() == 0:
        raise ParameterError(f"treatment {treatment!r} needs both treated and control units (after dropping rows "
                             f"with a missing value: {int(d.sum())} treated, {int((1 - d).sum())} control rows).")
    return frame


def _units(frame: pd.DataFrame, unit_id: str | None, cluster: str | None) -> np.ndarray | None:
    """The unit of each row: ``unit_id``, else ``cluster``, else None (each row a unit)."""
    col = unit_id or cluster
    return frame[col].to_numpy() if col else None


def _unit_facts(d: np.ndarray, terms: np.ndarray, ids: np.ndarray | None, used: np.ndarray | None = None) -> dict:
    """n, n_control and dominance of a term whose estimating sum has row terms ``terms``."""
    n, n_control = units_used(d, used=used, ids=ids)
    used = np.ones(len(d), dtype=bool) if used is None else used
    by_unit = contributions_by_unit(terms[used], None if ids is None else ids[used])
    return {"n": n, "n_control": n_control, "dominance": dominance_share(by_unit)}


def _signed_contributions(terms: np.ndarray, ids: np.ndarray | None) -> pd.Series:
    """Signed per-unit terms of the estimating sum (summed within a unit); they add up to the estimate."""
    index = np.arange(len(terms)) if ids is None else ids
    return pd.Series(terms).groupby(index, sort=False).sum()


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
                        se: str = "classical", unit_id: str | None = None, alpha: float = 0.05) -> EffectResult:
    """OLS of the outcome on the treatment (and covariates): the experimental estimator.

    ``n`` counts the treated units, ``n_control`` the controls (values of ``unit_id``, else rows).
    """
    import statsmodels.api as sm

    rows = len(frame)
    frame, _ = _prepare(frame, outcome, treatment, covariates, unit_id)
    x = sm.add_constant(frame[[treatment, *covariates]].astype(float))
    y = frame[outcome].to_numpy(float)
    fit = sm.OLS(y, x).fit(cov_type="nonrobust" if se == "classical" else se)
    # the treatment coefficient is a'y with a the treatment row of (X'X)^-1 X'
    xm = x.to_numpy(float)
    e = np.zeros(xm.shape[1])
    e[x.columns.get_loc(treatment)] = 1.0
    terms = (xm @ np.linalg.solve(xm.T @ xm, e)) * y
    d = frame[treatment].to_numpy(int)
    ids = _units(frame, unit_id, None)
    facts = _unit_facts(d, terms, ids)
    table = tidy_estimates(["ATT"], [fit.params[treatment]], [fit.bse[treatment]], alpha=alpha,
                           dof=fit.df_resid, **facts)
    return EffectResult(estimates=table, estimand="ATE (randomised) / OLS coefficient",
                        spec={"outcome": outcome, "covariates": list(covariates), "se": se},
                        diagnostics={"residual_df": int(fit.df_resid), "dropped_missing": rows - len(frame),
                                     "contributions": _signed_contributions(terms, ids)})


def att_regression(frame: pd.DataFrame, *, outcome: str, treatment: str, covariates: Sequence[str],
                   cluster: str | None = None, unit_id: str | None = None, alpha: float = 0.05) -> EffectResult:
    """Impute the treated units' untreated outcomes from an OLS fit on the controls."""
    rows = len(frame)
    frame, _ = _prepare(frame, outcome, treatment, covariates, cluster, unit_id)
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
    # att = sum_i a_i y_i: 1/n1 for the treated, -x_i' (X_c'X_c)^-1 xbar_1 for the controls
    a = np.where(d == 1, 1.0 / d.sum(), -(x @ np.linalg.solve(xtx * n, mx)))
    terms = a * y
    ids = _units(frame, unit_id, cluster)
    table = tidy_estimates(["ATT"], [att], [se], alpha=alpha, **_unit_facts(d, terms, ids))
    return EffectResult(estimates=table, estimand="ATT", spec={"method": "regression adjustment",
                                                               "covariates": list(covariates), "cluster": cluster},
                        diagnostics={"balance": balance_table(frame, treatment=treatment, covariates=covariates),
                                     "dropped_missing": rows - len(frame),
                                     "contributions": _signed_contributions(terms, ids)})


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
            unit_id: str | None = None, alpha: float = 0.05) -> EffectResult:
    """Normalised (Hajek) IPW for the ATT with a logit propensity score; SE accounts for its estimation.

    Controls with a score of 0.995 or more on the refit (DRDID's trim level) get weight zero and
    do not count in ``n_control``.
    """
    from analysis.estimators.did.attgt import _with_covariates, fit_logit
    from analysis.estimators.did.drdid import TRIM_LEVEL
    from scipy.special import expit

    rows = len(frame)
    frame, _ = _prepare(frame, outcome, treatment, covariates, cluster, unit_id)
    ps = propensity_scores(frame, treatment=treatment, covariates=covariates, formula=formula)
    d = frame[treatment].to_numpy(float)
    keep, notes = _trim(ps, d, trim)
    sub = frame[keep]
    x = _design(sub, covariates, formula)
    y_k, d_k, ones = sub[outcome].to_numpy(float), d[keep], np.ones(int(keep.sum()))
    gamma = fit_logit(x, d_k, ones)
    att, inf = _with_covariates(x, y_k, d_k, ones, "ipw", gamma=gamma)
    se = _se(inf, sub[cluster].to_numpy() if cluster else None) * 1.0
    w = np.where(d[keep] == 1, 1.0, ps[keep] / (1 - ps[keep]))
    # the unit's term in the normalised estimating sum, with the weights _with_covariates uses
    ps_fit = np.minimum(expit(x @ gamma), 1 - 1e-6)
    w_c = np.where((d_k == 0) & (ps_fit < TRIM_LEVEL), ps_fit / (1 - ps_fit), 0.0)
    terms = np.where(d_k == 1, y_k / d_k.sum(), -w_c * y_k / w_c.sum())
    ids = _units(sub, unit_id, cluster)
    table = tidy_estimates(["ATT"], [att], [se], alpha=alpha,
                           **_unit_facts(d_k, terms, ids, used=(d_k == 1) | (w_c > 0)))
    return EffectResult(estimates=table, estimand="ATT", spec={"method": "ipw (normalised)", "trim": trim,
                                                               "covariates": list(covariates), "formula": formula},
                        diagnostics={"balance": balance_table(sub, treatment=treatment, covariates=covariates, weights=w),
                                     "propensity": ps, "dropped_by_trimming": int((~keep).sum()), "warnings": notes,
                                     "dropped_missing": rows - len(frame),
                                     "contributions": _signed_contributions(terms, ids)})


def _design(frame: pd.DataFrame, covariates: Sequence[str], formula: str | None) -> np.ndarray:
    if formula:
        import patsy

        return np.asarray(patsy.dmatrix(formula, frame, return_type="dataframe"))
    return np.column_stack([np.ones(len(frame)), frame[list(covariates)].to_numpy(float)])


def att_aipw(frame: pd.DataFrame, *, outcome: str, treatment: str, covariates: Sequence[str], folds: int = 5,
             ps_model=None, outcome_model=None, trim: float = 0.99, cluster: str | None = None,
             unit_id: str | None = None, alpha: float = 0.05, seed: int = 0) -> EffectResult:
    """Doubly robust ATT (AIPW), cross-fitted with any scikit-learn classifier and regressor.

    ``diagnostics["kept"]`` marks, per row of ``frame``, the rows used (complete and not trimmed);
    ``diagnostics["influence"]`` holds their influence-function values in that order.
    ``propensity`` and ``treated`` are per complete row.
    """
    from sklearn.base import clone
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if folds < 2:
        raise ParameterError(f"folds={folds} must be at least 2 for cross-fitting.")
    rows = len(frame)
    frame, complete = _prepare(frame, outcome, treatment, covariates, cluster, unit_id)
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
    # uncentred terms of the estimating sum (theta = their sum) and the amounts they weight
    sign_w = (d_k - (1 - d_k) * w0) / d_k.sum()
    terms, amounts = sign_w * resid, sign_w * y_k
    ids_all = _units(frame, unit_id, cluster)
    ids = None if ids_all is None else ids_all[keep]
    facts = _unit_facts(d_k, terms, ids)
    shares = [v for v in (facts["dominance"], _unit_facts(d_k, amounts, ids)["dominance"]) if not np.isnan(v)]
    facts["dominance"] = max(shares) if shares else float("nan")
    table = tidy_estimates(["ATT"], [theta], [se], alpha=alpha, **facts)
    weights = np.where(d_k == 1, 1.0, w0)
    kept = np.zeros(rows, dtype=bool)
    kept[np.flatnonzero(complete)[keep]] = True
    return EffectResult(estimates=table, estimand="ATT",
                        spec={"method": "aipw (cross-fitted)", "folds": folds, "trim": trim, "seed": seed,
                              "ps_model": repr(ps_model), "outcome_model": repr(outcome_model), "cluster": cluster},
                        diagnostics={"balance": balance_table(frame[keep], treatment=treatment, covariates=covariates,
                                                              weights=weights),
                                     "propensity": ps, "treated": d, "dropped_by_trimming": int((~keep).sum()),
                                     "influence": inf, "kept": kept, "warnings": notes,
                                     "dropped_missing": rows - len(frame),
                                     "contributions": _signed_contributions(terms, ids)})


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
                 unit_id: str | None = None, alpha: float = 0.05) -> EffectResult:
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

    ``n`` counts the treated units, ``n_control`` the controls that are matched (after the support
    step); ``unit_id`` names the column of a unit that has several rows (units, not rows, are counted;
    the variance is unaffected).
    """
    check_choice("common_support", common_support, ("none", "dehejia_wahba"))
    rows = len(frame)
    if propensity is not None and len(propensity) != rows:
        raise ParameterError(f"propensity has {len(propensity)} values for {rows} rows; give one score per row.")
    frame, complete = _prepare(frame, outcome, treatment, covariates, unit_id)
    if propensity is not None:
        propensity = np.asarray(propensity, dtype=float)[complete]
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
    # the unit's term in att = sum_t y_t / n1 - sum_c K_c y_c / n1
    k_row = np.zeros(len(frame))
    k_row[c_idx] = k
    terms = np.where(d == 1, y / n1, -k_row * y / n1)
    ids = _units(frame, unit_id, None)
    table = tidy_estimates(["ATT"], [att], [np.sqrt(var)], alpha=alpha,
                           **_unit_facts(d, terms, ids, used=(d == 1) | (k_row > 0)))
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
                                     "discarded_controls": discarded, "dropped_missing": rows - len(frame),
                                     "contributions": _signed_contributions(terms, ids)})


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
