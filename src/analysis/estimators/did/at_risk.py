"""Callaway & Sant'Anna with at-risk comparison groups: ATT(g,t) where every comparison unit was at risk.

The event of a register study happens only to people in a state: a separation only
to people in a union, an exit to work only to people on bijstand. Comparing those
who have the event with "everyone who is not (yet) treated" lets people who were
never at risk (singles who partner later, people long off bijstand) set the
counterfactual trend. Here a comparison unit of cohort g must be at risk in the
cohort's base period (``at_risk[i, base_g]``), exactly as the treated are, and not
yet treated at the cell's period (or, with ``control="not_treated_in_window"``, not
treated before the end of the cohort's event window: one comparison set per cohort).

Per cohort g and period t the estimand and estimator are R ``did``'s, on the
subsample of units at risk at g's base period: the difference in mean changes
without covariates, the 2x2 doubly robust (or ipw, reg) estimator of DRDID with
them (:mod:`.drdid`, validated against R). With ``at_risk`` everywhere true the
estimates equal :func:`att_gt`'s to rounding (tests/estimators/test_at_risk.py).
Written by hand because no package restricts each cohort's comparison group to the
units at risk at its own base period.

Anticipation (``anticipation=k``) moves every cohort's base period to g - k - 1 and
requires comparison units to be untreated until t + k, as R ``did`` does;
``base_period="universal"`` compares every period with that base (pre-treatment
points comparable with post-treatment ones, the event-study figure's convention),
``"varying"`` compares pre-treatment periods with the period before (R's default).

Memory and time: no units x cells matrix is kept. An aggregation asks for all its terms at
once (``influence_batch``): every term is a weighted sum of cells, and with the subsample,
covariates and propensity model of a cohort fixed the doubly robust estimator and its
influence function are linear in the cells' outcome changes, so each cohort's model is
applied once, to the combinations of its cells that the terms need (influence functions for
the standard errors, covariance and bands, the units' terms for dominance, in the same pass).
The cost of an aggregation is that of one pass of the estimator; its memory units x terms.
benchmarks/bench_at_risk.py measures both at 1,000,000 persons
(benchmarks/results/at_risk_1000000.md).

References: Callaway, B. & Sant'Anna, P. (2021), J. Econometrics 225(2), 200-230;
Sant'Anna, P. & Zhao, J. (2020), J. Econometrics 219(1), 101-122.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, check_choice
from threadpoolctl import threadpool_limits

from analysis.estimators.did.cohort_dr import _dr_cohort, _independent_columns, _not_separating, _top2_share
from analysis.estimators.did.drdid import _with_covariates, fit_logit, unit_terms
from analysis.estimators.did.result import GroupTimeResult
from analysis.estimators.results import dominance_share, tidy_estimates

CONTROLS = ("not_yet_treated", "never_treated", "not_treated_in_window", "risk_set")
METHODS = ("dr", "ipw", "reg")
BASE_PERIODS = ("varying", "universal")


def _grid(cohorts: np.ndarray, n_periods: int, *, anticipation: int, base_period: str,
          event_window: tuple | None) -> pd.DataFrame:
    """Cells (g, t) with their base period, positions 0..T-1; cohort g is first treated at position g - 1."""
    rows = []
    for g in cohorts:
        gi = int(g) - 1                      # position of the first treated period
        b_univ = gi - anticipation - 1       # the cohort's base period
        if b_univ < 0:
            continue
        for ti in range(n_periods):
            e = ti - gi
            if event_window is not None and not (event_window[0] <= e <= event_window[1]):
                continue
            if ti >= gi:                     # post-treatment: the cohort's base period (R's pret)
                base = b_univ
            elif base_period == "varying":
                if ti == 0:
                    continue
                base = ti - 1
            else:
                base = b_univ
            if ti == base:
                continue
            rows.append((float(g), float(ti + 1), ti, base, float(e)))
    return pd.DataFrame(rows, columns=["group", "time", "t_index", "base_index", "event_time"])


def _single_threaded_blas(fn):
    """Run ``fn`` with BLAS on one thread: the estimator's many skinny products (subsample x cells, k = 10
    covariates) cost five times the CPU with two OpenBLAS threads on a 2-core machine shared with other
    jobs (benchmarks/bench_at_risk.py: 26.7 s against 5.2 s at 20,000 persons), as in ``event_study``."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)
    return wrapper


@_single_threaded_blas
def att_gt_at_risk(y: np.ndarray, cohort: np.ndarray, at_risk: np.ndarray, *,
                   covariates: np.ndarray | None = None, covariate_names: Sequence[str] = (),
                   control: str = "not_yet_treated", method: str = "dr", anticipation: int = 0,
                   base_period: str = "varying", event_window: tuple | None = None,
                   weights: np.ndarray | None = None, alpha: float = 0.05, seed: int = 0) -> GroupTimeResult:
    """ATT(g,t) with comparison units at risk in each cohort's base period.

    Parameters
    ----------
    y
        Outcome, units x periods (periods are 1..T; a unit's row is complete).
    cohort
        First treated period per unit (1..T), 0 for never treated.
    at_risk
        Units x periods, True where the unit is in the state the event needs (in a union and not
        yet separated; on bijstand and not yet left for work). A treated unit must be at risk in
        its base period; those that are not are left out and counted in ``diagnostics``.
    covariates
        Units x k (time-invariant), units x T x k, or a function of a period position returning units x k
        (computed on demand: monthly register panels); a cell uses its base period's values, as R did.
    control
        "not_yet_treated" (at risk at the base period, first treated after max(t, base) +
        anticipation, or never), "never_treated" (at risk at the base period, never treated), or
        "not_treated_in_window" (at risk at the base period and not treated before the cohort's last
        event time + anticipation: one comparison set per cohort, so one propensity model per cohort), or
        "risk_set" (at risk at the base period and not treated in the cohort's first period + anticipation,
        whatever happens later: the effect of the event now rather than not now, Sianesi 2004; no
        conditioning on the future, so no selection on how the state evolves after the base period).
    """
    check_choice("control", control, CONTROLS)
    check_choice("method", method, METHODS)
    check_choice("base_period", base_period, BASE_PERIODS)
    if isinstance(anticipation, bool) or not isinstance(anticipation, (int, np.integer)) or anticipation < 0:
        raise ParameterError(f"anticipation={anticipation!r} must be a whole number of periods, 0 or more.")
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha={alpha!r} must lie strictly between 0 and 1.")
    y = np.asarray(y)
    if y.ndim != 2:
        raise ParameterError(f"att_gt_at_risk: y must be units x periods; got shape {y.shape}.")
    n, T = y.shape
    cohort = np.asarray(cohort, dtype=float)
    at_risk = np.asarray(at_risk, dtype=bool)
    if cohort.shape != (n,) or at_risk.shape != (n, T):
        raise ParameterError(f"att_gt_at_risk: cohort must have {n} values and at_risk be {n} x {T}; got "
                             f"{cohort.shape} and {at_risk.shape}.")
    if np.isnan(y).any():
        raise ParameterError("att_gt_at_risk: y has missing values; give complete rows.")
    cohort = np.where(cohort > T, 0.0, cohort)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    x = None
    x_fn = covariates if callable(covariates) else None
    if covariates is not None and x_fn is None:
        x = np.asarray(covariates, dtype=float)
        x = x[:, None] if x.ndim == 1 else x
        if x.shape[0] != n or (x.ndim == 3 and x.shape[1] != T):
            raise ParameterError(f"att_gt_at_risk: covariates must be {n} x k or {n} x {T} x k; got {x.shape}.")
        ones = np.ones(x.shape[:-1] + (1,))
        x = np.concatenate([ones, x], axis=-1)
    groups = np.sort(np.unique(cohort[cohort > 0]))
    window = event_window if event_window is not None else (-np.inf, np.inf)
    grid = _grid(groups, T, anticipation=anticipation, base_period=base_period, event_window=event_window)
    if grid.empty:
        raise ParameterError("att_gt_at_risk: no (group, period) cells to estimate: no cohort with a base "
                             "period inside the panel (or none inside the event window).")
    base_of = {g: int(g) - 1 - anticipation - 1 for g in groups}
    # a treated unit counts only when at risk at its cohort's base period
    treated_ok = np.zeros(n, dtype=bool)
    for g in groups:
        if base_of[g] >= 0:
            members = cohort == g
            treated_ok |= members & at_risk[:, base_of[g]]
    # treated units not at risk at their base period (or without one) leave the design, as R did drops
    # units treated in the first period
    out_of_design = (cohort > 0) & ~treated_ok
    dropped_treated = int(out_of_design.sum())
    if dropped_treated:
        keep_units = ~out_of_design
        y, cohort, at_risk, w = y[keep_units], cohort[keep_units], at_risk[keep_units], w[keep_units]
        x = None if x is None else x[keep_units]
        n = len(cohort)
    else:
        keep_units = slice(None)
    eff_cohort = cohort

    g_arr = grid["group"].to_numpy()
    ti, bi = grid["t_index"].to_numpy(), grid["base_index"].to_numpy()
    later = np.maximum(ti, bi)                                     # R: max(t, pret)
    if control == "not_treated_in_window":
        last_e = window[1] if np.isfinite(window[1]) else T
        later = (g_arr - 1 + last_e).astype(int)
    elif control == "risk_set":  # not treated in the cohort's own first period; later treatment allowed
        later = (g_arr - 1).astype(int)
    cells_of = {g: np.flatnonzero(g_arr == g) for g in groups}
    cache: dict = {}

    def cohort_rows(g: float):
        """The cohort's subsample (treated plus units at risk at its base period), its cohorts and d."""
        if g not in cache:  # row indices only (int32): sum of the subsamples, not units x cohorts floats
            cache[g] = np.flatnonzero(at_risk[:, base_of[g]] | (cohort == g)).astype(np.int32)
        rows = cache[g]
        c = cohort[rows]
        return rows, c, (c == g).astype(float), w[rows]

    def control_mask(c: np.ndarray, d: np.ndarray, ks: np.ndarray) -> np.ndarray:
        """Rows x cells: comparison units of each cell (not the cohort itself)."""
        untreated = (c == 0)[:, None]
        if control == "never_treated":
            return np.broadcast_to(untreated & (d == 0)[:, None], (len(c), len(ks)))
        return (untreated | ((c - 1)[:, None] > (later[ks] + anticipation)[None, :])) & (d == 0)[:, None]

    if x_fn is not None:
        def x_at(b: int) -> np.ndarray:
            xb = np.asarray(x_fn(b), dtype=float)[keep_units]
            return np.column_stack([np.ones(len(xb)), xb])
    else:
        x_at = (lambda b: x) if (x is None or x.ndim == 2) else (lambda b: x[:, b, :])
    has_x = x is not None or x_fn is not None
    varying_x = x_fn is not None or (x is not None and x.ndim == 3)
    logit_cache: dict = {}
    column_cache: dict = {}
    unfitted: set = set()

    def unconditional(g: float, ks: np.ndarray, with_inf: bool = False, coef: np.ndarray | None = None,
                      centred: bool = True):
        """Cells ks of cohort g at once: ATT, SE, n_t, n_c, dominance; or sum_k coef_k * influence_k on the
        rows (``centred=False``: the units' terms in the estimate, scaled as the influence function)."""
        rows, c, d, ws = cohort_rows(g)
        D = y[np.ix_(rows, ti[ks])].astype(float) - y[np.ix_(rows, bi[ks])]
        C = control_mask(c, d, ks)
        S1 = ws @ d
        S0 = ws @ C
        mu1 = (ws * d) @ D / S1
        with np.errstate(divide="ignore", invalid="ignore"):
            mu0 = (ws[:, None] * C * D).sum(axis=0) / S0
        if coef is None and not with_inf:
            with np.errstate(divide="ignore", invalid="ignore"):
                var = (((ws * d)[:, None] * (D - mu1)) ** 2).sum(axis=0) / S1 ** 2 \
                    + ((ws[:, None] * C * (D - mu0)) ** 2).sum(axis=0) / S0 ** 2
                terms = np.abs(ws[:, None] * (d[:, None] * D / S1 - C * D / S0))
            ok = S0 > 0
            top = -np.partition(-terms, 1, axis=0)[:2].sum(axis=0) if len(rows) > 1 else terms.sum(axis=0)
            total = terms.sum(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                dom = np.where(total > 0, top / total, np.nan)
            return (np.where(ok, mu1 - mu0, np.nan), np.where(ok, np.sqrt(var), np.nan), int(d.sum()),
                    C.sum(axis=0), dom)
        with np.errstate(divide="ignore", invalid="ignore"):
            if centred:
                inf = n * ws[:, None] * (d[:, None] * (D - mu1) / S1 - C * (D - mu0) / S0)
            else:
                inf = n * ws[:, None] * (d[:, None] * D / S1 - C * D / S0)
        inf[:, S0 == 0] = 0.0
        return rows, inf if coef is None else inf @ coef

    fixed_comparison = control in ("never_treated", "not_treated_in_window", "risk_set")
    vectorised = has_x and method == "dr" and fixed_comparison and (base_period == "universal" or not varying_x)

    def cohort_model(g: float, ks: np.ndarray):
        """Cells ks of cohort g (one comparison set, one base period's covariates): the subsample's design
        (covariates, d, weights, propensity coefficients) or None, the subsample rows, n_t, n_c."""
        rows, c, d_all, ws_all = cohort_rows(g)
        pick = (d_all == 1) | control_mask(c, d_all, ks[:1])[:, 0]
        sub, d, ws = rows[pick], d_all[pick], ws_all[pick]
        n_t, n_c = int(d.sum()), int(len(sub) - d.sum())
        if n_t == 0 or n_c == 0:
            return None, sub, n_t, n_c
        b = int(bi[ks[0]])
        mkey = (g, b if varying_x else None)
        xs = x_at(b)[sub]
        if mkey not in column_cache:
            column_cache[mkey] = _independent_columns(xs) & _not_separating(xs, d)
        xs = xs[:, column_cache[mkey]]
        key = ("cohort", g, b if varying_x else None)
        if key not in logit_cache:
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    fitted = fit_logit(xs, d, ws, strict=True)
                logit_cache[key] = fitted if fitted is not None and np.all(np.isfinite(fitted)) else None
            except np.linalg.LinAlgError:
                logit_cache[key] = None
        gamma = logit_cache[key]
        if gamma is None:
            unfitted.add(float(g))
            return None, sub, n_t, n_c
        return (xs, d, ws, gamma), sub, n_t, n_c

    def cohort_cov(g: float, ks: np.ndarray, coef: np.ndarray | None = None):
        """Cells ks of cohort g (one comparison set, one base period's covariates): att, inf, terms, rows, n_t,
        n_c. With ``coef`` (cells x J) the same for the J combinations ``DY @ coef`` of the cells' outcome
        changes: the estimator and its influence function are linear in the outcome change with the
        subsample, covariates and propensity model fixed, so ``inf(DY @ coef) = inf(DY) @ coef`` (and the
        terms likewise) at the cost of J columns instead of one per cell."""
        model, sub, n_t, n_c = cohort_model(g, ks)
        if model is None:
            return None, None, None, sub, n_t, n_c
        xs, d, ws, gamma = model
        ys = y[sub]                       # the subsample's rows once (contiguous), then the cells' columns
        DY = ys[:, ti[ks]].astype(float) - ys[:, bi[ks]]
        del ys
        if coef is not None:
            DY = DY @ coef
        try:
            a, inf, lam = _dr_cohort(xs, DY, d, ws, gamma, scale=n / len(sub))
        except np.linalg.LinAlgError:
            unfitted.add(float(g))
            return None, None, None, sub, n_t, n_c
        np.multiply(lam[:, None], DY, out=DY)     # the units' terms, in place of the outcome changes
        return a, inf, DY, sub, n_t, n_c

    def cell_cov(k: int):
        """One cell with covariates: ATT, influence on the subsample rows, rows, n_t, n_c."""
        g = g_arr[k]
        rows, c, d_all, ws_all = cohort_rows(g)
        ctrl = control_mask(c, d_all, np.array([k]))[:, 0]
        pick = (d_all == 1) | ctrl
        sub, d, ws = rows[pick], d_all[pick], ws_all[pick]
        n_t, n_c = int(d.sum()), int(len(sub) - d.sum())
        if n_t == 0 or n_c == 0:
            return np.nan, None, sub, n_t, n_c
        dy = y[sub, ti[k]].astype(float) - y[sub, bi[k]]
        xs = x_at(int(bi[k]))[sub]
        mkey = (g, int(bi[k]) if varying_x else None)
        if mkey not in column_cache:
            column_cache[mkey] = _independent_columns(xs) & (_not_separating(xs, d) if method != "reg" else True)
        cols = column_cache[mkey]
        xs = xs[:, cols]
        gamma = None
        if method != "reg":
            key = (g, n_c, int(bi[k]) if varying_x else None)
            if key not in logit_cache:
                if len(logit_cache) > 64:
                    logit_cache.clear()
                try:
                    with np.errstate(over="ignore", invalid="ignore"):
                        fitted = fit_logit(xs, d, ws, strict=True)
                    logit_cache[key] = fitted if fitted is not None and np.all(np.isfinite(fitted)) else None
                except np.linalg.LinAlgError:  # perfect separation: no propensity model for this subsample
                    logit_cache[key] = None
            gamma = logit_cache[key]
            if gamma is None:
                unfitted.add(float(g))
                return np.nan, None, sub, n_t, n_c
        try:
            att, inf = _with_covariates(xs, dy, d, ws, method, gamma=gamma)
        except np.linalg.LinAlgError:
            unfitted.add(float(g))
            return np.nan, None, sub, n_t, n_c
        return float(att), inf * (n / len(sub)), sub, n_t, n_c

    def influence_sum_raw(ks_all, wts, *, centred: bool = True) -> np.ndarray:
        """sum_k wts[k] * influence of grid cell ks_all[k] over all units (centred=False: the units' terms)."""
        out = np.zeros(n)
        ks_all = np.asarray(ks_all, dtype=int)
        wts = np.asarray(wts, dtype=float)
        for g in np.unique(g_arr[ks_all]):
            sel = g_arr[ks_all] == g
            if not has_x:
                rows, part = unconditional(g, ks_all[sel], coef=wts[sel], centred=centred)
                out[rows] += part
                continue
            if vectorised:
                for b in np.unique(bi[ks_all[sel]]):
                    pick_b = bi[ks_all[sel]] == b
                    a, inf, terms_b, sub, _, _ = cohort_cov(g, ks_all[sel][pick_b], coef=wts[sel][pick_b][:, None])
                    if a is not None:
                        out[sub] += (inf if centred else n * terms_b)[:, 0]
                continue
            for k, a in zip(ks_all[sel], wts[sel]):
                if centred:
                    _, inf, sub, _, _ = cell_cov(int(k))
                    if inf is not None:
                        out[sub] += a * inf
                else:
                    t_k, sub = cell_terms(int(k))
                    if t_k is not None:
                        out[sub] += a * n * t_k
        return out

    def cell_terms(k: int):
        """Each unit's term lambda_i dy_i in the cell's estimate (``drdid.unit_terms``; they sum to it)."""
        att_k, inf, sub, n_t, n_c = cell_cov(k)
        if inf is None:
            return None, sub
        rows, c, d_all, ws_all = cohort_rows(g_arr[k])
        pick = (d_all == 1) | control_mask(c, d_all, np.array([k]))[:, 0]
        d, ws = d_all[pick], ws_all[pick]
        xs = x_at(int(bi[k]))[sub][:, column_cache[(g_arr[k], int(bi[k]) if varying_x else None)]]
        key = (g_arr[k], n_c, int(bi[k]) if varying_x else None)
        gamma = logit_cache.get(key) if method != "reg" else None
        dy = y[sub, ti[k]].astype(float) - y[sub, bi[k]]
        return unit_terms(xs, dy, d, ws, method, gamma=gamma), sub

    att = np.full(len(grid), np.nan)
    se = np.full(len(grid), np.nan)
    n_t = np.zeros(len(grid), dtype=int)
    n_c = np.zeros(len(grid), dtype=int)
    dominance = np.full(len(grid), np.nan)
    for g in groups:
        ks = cells_of[g]
        if not len(ks):
            continue
        if not has_x:
            a, sd, nt, nc, dom = unconditional(g, ks)
            att[ks], se[ks], n_t[ks], n_c[ks], dominance[ks] = a, sd, nt, nc, dom
            continue
        if vectorised:
            for b in np.unique(bi[ks]):
                kb = ks[bi[ks] == b]
                a, inf, terms_b, sub, nt, nc = cohort_cov(g, kb)
                n_t[kb], n_c[kb] = nt, nc
                if a is not None:
                    att[kb], se[kb] = a, np.sqrt(np.einsum("ij,ij->j", inf, inf)) / n
                    dominance[kb] = _top2_share(terms_b)
            continue
        for k in ks:
            a, inf, sub, nt, nc = cell_cov(int(k))
            n_t[k], n_c[k] = nt, nc
            if inf is not None and np.isfinite(a):
                att[k], se[k] = a, np.sqrt(inf @ inf) / n
                terms_k, _ = cell_terms(int(k))
                dominance[k] = dominance_share(terms_k) if terms_k is not None else np.nan
    keep = np.isfinite(att)
    kept = np.flatnonzero(keep)
    grid = grid.assign(estimate=att, std_error=se, n_treated=n_t, n_control=n_c,
                       dominance=dominance)[keep].reset_index(drop=True)
    terms = [f"ATT({_f(g)},{_f(t)})" for g, t in zip(grid["group"], grid["time"])]
    table = tidy_estimates(terms, grid["estimate"], grid["std_error"], n=grid["n_treated"],
                           n_control=grid["n_control"].to_numpy(), dominance=grid["dominance"].to_numpy(),
                           alpha=alpha)
    for col in ("group", "time", "event_time", "n_treated"):
        table[col] = grid[col].to_numpy()
    table["base_period"] = grid["base_index"].to_numpy() + 1

    def influence_sum(idx, wts, centred: bool = True) -> np.ndarray:
        return influence_sum_raw(kept[np.asarray(idx, dtype=int)], wts, centred=centred)

    def influence_batch(pairs) -> tuple[np.ndarray, np.ndarray]:
        """For every (cells, weights) pair, sum_k w_k influence_k and sum_k w_k (units' terms)_k, both n x
        len(pairs), in one pass over the cohorts: each cohort's model applied once to the combinations of
        its cells' outcome changes that the pairs ask for (``cohort_cov(coef=...)``)."""
        out = np.zeros((n, len(pairs)))
        out_terms = np.zeros((n, len(pairs)))
        coef: dict = {}                      # grid cell -> {pair: weight}
        for j, (idx, wts) in enumerate(pairs):
            for k, a in zip(kept[np.asarray(idx, dtype=int)], np.asarray(wts, dtype=float)):
                of_k = coef.setdefault(int(k), {})
                of_k[j] = of_k.get(j, 0.0) + a
        cells = np.array(sorted(coef), dtype=int)
        for g in np.unique(g_arr[cells]):
            ks_g = cells[g_arr[cells] == g]
            for b in np.unique(bi[ks_g]) if vectorised else [None]:
                kb = ks_g if b is None else ks_g[bi[ks_g] == b]
                W = np.zeros((len(kb), len(pairs)))
                for r, k in enumerate(kb):
                    for j, a in coef[int(k)].items():
                        W[r, j] = a
                if not has_x:
                    for centred, target in ((True, out), (False, out_terms)):
                        rows, part = unconditional(g, kb, coef=W, centred=centred)
                        target[rows] += part
                elif vectorised:
                    cols = np.flatnonzero((W != 0).any(axis=0))    # the pairs this block enters
                    a, inf, terms_b, sub, _, _ = cohort_cov(g, kb, coef=W[:, cols])
                    if a is not None:
                        terms_b *= n
                        if 2 * len(cols) >= len(pairs):  # most pairs: whole rows (a row gather, not a 2-d one)
                            full = np.zeros((len(sub), len(pairs)))
                            full[:, cols] = inf
                            out[sub] += full
                            full[:, cols] = terms_b
                            out_terms[sub] += full
                        else:
                            out[np.ix_(sub, cols)] += inf
                            out_terms[np.ix_(sub, cols)] += terms_b
                else:
                    for r, k in enumerate(kb):
                        out += np.outer(influence_sum_raw([k], [1.0], centred=True), W[r])
                        out_terms += np.outer(influence_sum_raw([k], [1.0], centred=False), W[r])
        return out, out_terms

    def influence(j: int) -> np.ndarray:
        return influence_sum([j], [1.0])

    compared_bits: list = []             # fixed comparison sets: per unit, a bit per cohort it is compared in
    cohort_bit = {g: j for j, g in enumerate(groups)}
    cohort_size = {g: int((cohort == g).sum()) for g in groups}

    def units_used(idx) -> tuple[int, int]:
        """Distinct treated and comparison units behind the cells ``idx`` (rows of the table)."""
        ks_all = kept[np.asarray(idx, dtype=int)]
        if fixed_comparison:  # one comparison set per cohort: a bitmask per unit, built once
            if not compared_bits:
                bits = np.zeros((n, (len(groups) + 63) // 64), dtype=np.uint64)
                for g in groups:
                    if not len(cells_of[g]):
                        continue
                    rows, c, d, _ = cohort_rows(g)
                    j = cohort_bit[g]
                    bits[rows[control_mask(c, d, cells_of[g][:1])[:, 0]], j // 64] |= np.uint64(1) << np.uint64(j % 64)
                compared_bits.append(bits)
            gs = np.unique(g_arr[ks_all])
            want = np.zeros(compared_bits[0].shape[1], dtype=np.uint64)
            for g in gs:
                want[cohort_bit[g] // 64] |= np.uint64(1) << np.uint64(cohort_bit[g] % 64)
            compared = (compared_bits[0] & want).any(axis=1)
            # the treated of different cohorts are different units (one first treatment each)
            return int(sum(cohort_size[g] for g in gs)), int(compared.sum())
        treated = np.zeros(n, dtype=bool)
        compared = np.zeros(n, dtype=bool)
        for g in np.unique(g_arr[ks_all]):
            rows, c, d, _ = cohort_rows(g)
            treated[rows[d == 1]] = True
            compared[rows[control_mask(c, d, ks_all[g_arr[ks_all] == g]).any(axis=1)]] = True
        return int(treated.sum()), int(compared.sum())

    dropped_covariates = sorted({covariate_names[j - 1] if j - 1 < len(covariate_names) else f"x{j}"
                                 for cols in column_cache.values() for j in range(1, len(cols)) if not cols[j]})
    diagnostics = {"n_units": n, "dropped_covariates": dropped_covariates, "n_periods": T, "cells_without_controls": int((~keep).sum()),
                   "treated_not_at_risk": dropped_treated,
                   "path": f"at-risk comparison groups; {'covariates: 2x2 ' + method if has_x else 'unconditional'}",
                   "cohorts_without_model": sorted(unfitted),
                   "warnings": ([f"covariates constant or collinear within a cohort's subsample were left out of "
                                 f"that cohort's models: {', '.join(dropped_covariates)}"] if dropped_covariates else [])
                   + ([f"{len(unfitted)} cohort(s) left out: their propensity or outcome model cannot be fitted "
                       "(perfect separation or too few units); fewer covariates or a coarser cohort would keep them"]
                      if unfitted else [])}
    spec = {"design": "at_risk", "control": control, "method": method, "covariates": list(covariate_names),
            "anticipation": int(anticipation), "base_period": base_period, "alpha": alpha, "seed": seed,
            "event_window": event_window}
    return GroupTimeResult(estimates=table, estimand="ATT(g,t), comparison units at risk at the base period",
                           spec=spec, diagnostics=diagnostics, influence=influence, influence_sum=influence_sum,
                           cohorts=eff_cohort, weights=w, units_used=units_used, influence_batch=influence_batch)


def _f(v) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else str(v)
