"""Callaway & Sant'Anna (2021) group-time average treatment effects, ATT(g,t), on a :class:`Panel`.

Reproduces R ``did::att_gt`` (panel data, ``base_period = "varying"``, analytic
standard errors from influence functions). Written by hand because no maintained
Python package reproduces R ``did`` at register scale: csdid stores an
n-by-cells influence matrix (9 GB at 100,000 x 60). Here no units x cells matrix
is formed; a cell's influence function is recomputed when an aggregation needs it.

Two engines, chosen by whether there are covariates:

- Unconditional (every method is the difference in mean changes, as in R): per
  (period, base period) pair one pass over the units gives weighted sums by cohort
  (``np.bincount``); every cell's ATT and standard error follow from those sums.
  A weighted sum of cells' influence functions is sum_j y[:, j] * D[j, cohort] - O[cohort]
  for small coefficient tables D and O, so an aggregation costs O(n x T) whatever
  the number of cells.
- Covariates ("dr", "ipw", "reg"; :mod:`.drdid`): per cell the 2x2 estimator on the
  cell's subsample with base-period covariates. The propensity-score logit depends only
  on who is in the subsample and on the covariates, so it is fitted once per
  (cohort, comparison set, base period if a covariate varies) and reused.

References: Callaway, B. & Sant'Anna, P. (2021), J. Econometrics 225(2), 200-230;
Sant'Anna, P. & Zhao, J. (2020), J. Econometrics 219(1), 101-122.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from analysis.estimators.did.drdid import _with_covariates, fit_logit, unit_terms  # noqa: F401  (_with_covariates: propensity.py)
from analysis.estimators.did.panel import Panel, make_panel  # noqa: F401  (re-exported)
from analysis.estimators.results import dominance_share

CONTROLS = ("never_treated", "not_yet_treated")
METHODS = ("dr", "ipw", "reg")


@dataclass(frozen=True)
class CellEstimates:
    """ATT(g,t) per cell of the grid (NaN where a cell has no comparison units) and the influence maps."""

    att: np.ndarray
    std_error: np.ndarray
    n_treated: np.ndarray
    n_control: np.ndarray
    influence: Callable[[int], np.ndarray]                          # cell k -> n-vector
    influence_sum: Callable[[np.ndarray, np.ndarray], np.ndarray]   # (cells, weights) -> n-vector
    engine: str
    #: top-2 share of the absolute influence-function terms per cell (disclosure dominance)
    dominance: np.ndarray
    #: cells -> (distinct treated units, distinct comparison units) used by those cells
    units_used: Callable[[np.ndarray], tuple[int, int]]


def cells(panel: Panel, *, event_window: tuple | None = None, anticipation: int = 0,
          base_period: str = "varying") -> pd.DataFrame:
    """The (g, t) cells R ``did`` estimates, with their base period (``compute.att_gt2``).

    The base of cohort g's post-treatment cells (t >= g) is its last period before g - anticipation.
    ``base_period="varying"``: a pre-treatment cell (t < g) compares t with the period before it (no cell
    for the first period); ``"universal"``: every cell of cohort g compares with that one base period,
    and the cell of the base period itself is the reference (``reference`` True; its ATT is 0 by
    construction and R reports it).
    """
    p = panel.periods
    rows = []
    start = 1 if base_period == "varying" else 0
    for g in np.sort(np.unique(panel.cohort[panel.cohort > 0])):
        before = np.flatnonzero(p + anticipation < g)
        if len(before) == 0:
            continue
        pret = int(before[-1])
        for ti in range(start, len(p)):
            t = p[ti]
            base = pret if (t >= g or base_period == "universal") else ti - 1
            e = t - g
            if event_window is not None and not (event_window[0] <= e <= event_window[1]):
                continue
            rows.append((g, t, ti, base, e, base == ti))
    return pd.DataFrame(rows, columns=["group", "time", "t_index", "base_index", "event_time", "reference"])


def comparison_cohorts(groups: np.ndarray, g: float, later_period: float, control: str) -> np.ndarray:
    """Which cohort values (0 = never treated) form the comparison group of cell (g, t)."""
    if control == "never_treated":
        return groups == 0
    return (groups == 0) | ((groups > later_period) & (groups != g))


def estimate_cells(panel: Panel, grid: pd.DataFrame, *, control: str, method: str,
                   anticipation: int = 0) -> CellEstimates:
    """ATT(g,t), standard errors and influence maps for every cell of ``grid``.

    Not-yet-treated comparisons of cell (g, t) with base b are the cohorts first treated after
    max(t, b) + anticipation (R did's ``get_did_cohort_index``).
    """
    if panel.x is None:
        return _unconditional(panel, grid, control, anticipation)
    return _conditional(panel, grid, control, method, anticipation)


def _unconditional(panel: Panel, grid: pd.DataFrame, control: str, anticipation: int = 0) -> CellEstimates:
    y, w, n = panel.y, panel.weights, len(panel.cohort)
    groups, code = np.unique(panel.cohort, return_inverse=True)
    m = len(groups)
    count = np.bincount(code, minlength=m).astype(float)
    sw, sw2 = np.bincount(code, w, m), np.bincount(code, w * w, m)
    ti, bi = grid["t_index"].to_numpy(), grid["base_index"].to_numpy()
    tc = np.searchsorted(groups, grid["group"].to_numpy())
    later = panel.periods[np.maximum(ti, bi)] + anticipation
    comp = np.array([comparison_cohorts(groups, g, lt, control) for g, lt in zip(grid["group"], later)],
                    dtype=float).reshape(len(grid), m)
    sorted_cache: list = []

    def _by_cohort():
        """The column-centred outcome matrix with rows sorted by cohort (one copy, made once)."""
        if not sorted_cache:
            order = np.argsort(code, kind="stable")
            bounds = np.r_[0, np.cumsum(np.bincount(code, minlength=m))]
            colmean = y.mean(axis=0)
            # column-major: a period's column is contiguous (dominance reads columns, BLAS either order)
            sorted_cache.append((np.asfortranarray(y[order] - colmean), order, bounds, colmean))
        return sorted_cache[0]

    # Weighted sums of the change y_t - y_b by cohort, for every (t, base) pair, from per-cohort
    # moments of the column-centred outcome (centring is the shift by the mean change, against
    # cancellation): first moments with w and w^2, and the period-by-period cross products with w^2.
    # One pass over the data whatever the number of pairs (monthly panels have thousands).
    pair_id, pair_index = np.unique(np.column_stack([ti, bi]), axis=0, return_inverse=True)
    pair_index = np.asarray(pair_index).ravel()
    ys, order, bounds, colmean = _by_cohort()
    ws = w[order]
    T = y.shape[1]
    M1, M2, Q = np.zeros((m, T)), np.zeros((m, T)), np.zeros((m, T, T))
    for c in range(m):
        lo, hi = bounds[c], bounds[c + 1]
        if hi > lo:
            yc, wc = ys[lo:hi], ws[lo:hi]
            M1[c], M2[c] = wc @ yc, (wc * wc) @ yc
            Q[c] = (yc * (wc * wc)[:, None]).T @ yc   # sum w^2 y y': the squared influence terms carry w^2
    pt, pb = pair_id[:, 0], pair_id[:, 1]
    shift = colmean[pt] - colmean[pb]
    s1 = (M1[:, pt] - M1[:, pb]).T                      # pairs x cohorts
    s2 = (M2[:, pt] - M2[:, pb]).T
    s3 = (Q[:, pt, pt] - 2 * Q[:, pt, pb] + Q[:, pb, pb]).T
    a1, a2, a3 = s1[pair_index, tc], s2[pair_index, tc], s3[pair_index, tc]
    S1 = sw[tc]
    S0 = comp @ sw
    with np.errstate(divide="ignore", invalid="ignore"):
        mu1 = a1 / S1
        mu0 = np.einsum("km,km->k", comp, s1[pair_index]) / S0
        var1 = (a3 - 2 * mu1 * a2 + mu1 ** 2 * sw2[tc]) / S1 ** 2
        var0 = (np.einsum("km,km->k", comp, s3[pair_index]) - 2 * mu0 * np.einsum("km,km->k", comp, s2[pair_index])
                + mu0 ** 2 * (comp @ sw2)) / S0 ** 2
    empty = S0 == 0
    att = np.where(empty, np.nan, mu1 - mu0)
    se = np.where(empty, np.nan, np.sqrt(np.maximum(var1, 0) + np.maximum(var0, 0)))
    offset = -shift[pair_index]   # the centred change minus this is the change itself
    dominance = _dominance_by_slices(ys, pt[pair_index], pb[pair_index], ws, bounds, tc, comp, offset, S1, S0,
                                     empty)
    mu1, mu0 = mu1 + shift[pair_index], mu0 + shift[pair_index]   # back to the unshifted change

    def influence(k: int) -> np.ndarray:
        dy = y[:, ti[k]] - y[:, bi[k]]
        treat = code == tc[k]
        ctrl = comp[k][code] > 0
        return n * w * (treat * (dy - mu1[k]) / S1[k] - ctrl * (dy - mu0[k]) / S0[k])

    def influence_sum(idx: np.ndarray, weights: np.ndarray, centred: bool = True) -> np.ndarray:
        """sum_k weights[k] * influence(idx[k]); ``centred=False``: the units' terms in the estimate instead."""
        idx, weights = np.asarray(idx, dtype=int), np.asarray(weights, dtype=float)
        d_tab = np.zeros((y.shape[1], m))
        o_tab = np.zeros(m)
        a_t, a_c = weights / S1[idx], weights / S0[idx]
        np.add.at(d_tab, (ti[idx], tc[idx]), a_t)
        np.add.at(d_tab, (bi[idx], tc[idx]), -a_t)
        np.add.at(o_tab, tc[idx], a_t * mu1[idx])
        ctrl_coef = comp[idx] * a_c[:, None]                   # cells x cohorts
        np.add.at(d_tab, ti[idx], -ctrl_coef)
        np.add.at(d_tab, bi[idx], ctrl_coef)
        o_tab -= (ctrl_coef * mu0[idx, None]).sum(axis=0)
        # sum_j y[i, j] d_tab[j, code_i]: one matrix-vector product per cohort on rows sorted by cohort
        ys, order, bounds, colmean = _by_cohort()
        out_sorted = np.empty(n)
        for c in range(m):
            lo, hi = bounds[c], bounds[c + 1]
            if hi > lo:  # ys is centred by column: add the means' share back
                out_sorted[lo:hi] = ys[lo:hi] @ d_tab[:, c] + colmean @ d_tab[:, c]
        out = np.empty(n)
        out[order] = out_sorted
        if centred:
            out -= o_tab[code]
        return n * w * out



    def units_used(idx: np.ndarray) -> tuple[int, int]:
        idx = np.asarray(idx, dtype=int)
        treated = np.zeros(m, dtype=bool)
        treated[tc[idx]] = True
        compared = comp[idx].any(axis=0) if len(idx) else np.zeros(m, dtype=bool)
        return int(count[treated].sum()), int(count[compared].sum())

    return CellEstimates(att=att, std_error=se, n_treated=count[tc].astype(int), n_control=(comp @ count).astype(int),
                         influence=influence, influence_sum=influence_sum, engine="unconditional: sums by cohort",
                         dominance=dominance, units_used=units_used)


def _dominance_by_slices(ys, t_col, b_col, ws, bounds, tc, comp, offset, s1, s0, empty) -> np.ndarray:
    """Top-2 share of the units' absolute terms per cell, on rows sorted by cohort.

    A cell's estimate is sum_i w_i dy_i / S1 over its treated cohort minus sum_i w_i dy_i / S0 over its
    comparison cohorts; each cohort is a contiguous block of the sorted rows. ``ys`` holds the
    column-centred outcomes (sorted rows, column-major), so the change is the centred change minus
    ``offset``; one change vector per pair of periods.
    """
    out = np.full(len(tc), np.nan)
    unit_w = bool(np.all(ws == ws[0]))
    last, d = None, None
    for k in range(len(tc)):
        if empty[k]:
            continue
        if last != (t_col[k], b_col[k]):
            last = (t_col[k], b_col[k])
            d = ys[:, t_col[k]] - ys[:, b_col[k]]
        slices = [(bounds[tc[k]], bounds[tc[k] + 1], offset[k], s1[k])]
        cohorts = np.flatnonzero(comp[k])
        if len(cohorts):  # runs of consecutive cohorts are one block
            breaks = np.flatnonzero(np.diff(cohorts) > 1)
            for a, b in zip(np.r_[cohorts[0], cohorts[breaks + 1]], np.r_[cohorts[breaks], cohorts[-1]]):
                slices.append((bounds[a], bounds[b + 1], offset[k], s0[k]))
        total, tops = 0.0, []
        for lo, hi, mu, scale in slices:
            if hi <= lo:
                continue
            v = np.abs(d[lo:hi] - mu)
            if not unit_w:
                v *= ws[lo:hi]
            v /= scale
            total += float(v.sum())
            j = int(v.argmax())
            tops.append(float(v[j]))
            if hi - lo > 1:
                v[j] = -1.0
                tops.append(float(v.max()))
        if total > 0:
            out[k] = min(1.0, sum(sorted(tops)[-2:]) / total)
    return out


def _conditional(panel: Panel, grid: pd.DataFrame, control: str, method: str, anticipation: int = 0) -> CellEstimates:
    y, w, n, cohort = panel.y, panel.weights, len(panel.cohort), panel.cohort
    groups = np.unique(cohort)
    g_arr = grid["group"].to_numpy()
    ti, bi = grid["t_index"].to_numpy(), grid["base_index"].to_numpy()
    later = panel.periods[np.maximum(ti, bi)] + anticipation
    logit_cache: dict[tuple, np.ndarray] = {}
    index_cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def subsample(k: int) -> tuple[np.ndarray, np.ndarray, tuple]:
        comp_key = None if control == "never_treated" else float(later[k])
        key = (float(g_arr[k]), comp_key)
        if key not in index_cache:
            comp = groups[comparison_cohorts(groups, g_arr[k], later[k], control)]
            treat = cohort == g_arr[k]
            sub = np.flatnonzero(treat | np.isin(cohort, comp))
            index_cache.clear()  # cells come in cohort order: keep one entry, not one per cell
            index_cache[key] = (sub, treat[sub].astype(float))
        sub, d = index_cache[key]
        x_key = int(min(bi[k], ti[k])) if panel.time_varying_covariates else None
        return sub, d, key + (x_key,)

    def cell(k: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        sub, d, key = subsample(k)
        if d.sum() == 0 or d.sum() == len(d):
            return np.nan, np.empty(0), sub, d
        x = panel.x_at(int(min(bi[k], ti[k])))[sub]   # R: covariates of the earlier period
        dy = y[sub, ti[k]] - y[sub, bi[k]]
        ws = w[sub]
        gamma = None
        if method != "reg":
            if key not in logit_cache:
                logit_cache[key] = fit_logit(x, d, ws)
            gamma = logit_cache[key]
        att, inf_sub = _with_covariates(x, dy, d, ws, method, gamma=gamma)
        return att, inf_sub * (n / len(sub)), sub, d

    def terms(k: int) -> tuple[np.ndarray, np.ndarray]:
        """The units' terms in ATT(g,t) (they sum to it) and the rows they belong to."""
        sub, d, key = subsample(k)
        x = panel.x_at(int(min(bi[k], ti[k])))[sub]   # R: covariates of the earlier period
        gamma = logit_cache.get(key) if method != "reg" else None
        return unit_terms(x, y[sub, ti[k]] - y[sub, bi[k]], d, w[sub], method, gamma=gamma), sub

    att = np.full(len(grid), np.nan)
    se = np.full(len(grid), np.nan)
    n_t = np.zeros(len(grid), dtype=int)
    n_c = np.zeros(len(grid), dtype=int)
    dominance = np.full(len(grid), np.nan)
    for k in range(len(grid)):
        a, inf_sub, sub, d = cell(k)
        n_t[k] = int(d.sum())
        n_c[k] = len(sub) - n_t[k]
        if np.isfinite(a):
            att[k] = a
            se[k] = np.sqrt(inf_sub @ inf_sub) / n
            dominance[k] = dominance_share(terms(k)[0])

    def influence(k: int) -> np.ndarray:
        _, inf_sub, sub, _ = cell(int(k))
        out = np.zeros(n)
        out[sub] = inf_sub
        return out

    def influence_sum(idx: np.ndarray, weights: np.ndarray, centred: bool = True) -> np.ndarray:
        out = np.zeros(n)
        for k, a in zip(np.asarray(idx, dtype=int), np.asarray(weights, dtype=float)):
            if centred:
                _, inf_sub, sub, _ = cell(int(k))
                out[sub] += a * inf_sub
            else:   # the units' terms, scaled as the influence function (n per unit)
                t_k, sub = terms(int(k))
                out[sub] += a * n * t_k
        return out

    counts = {float(g): int((cohort == g).sum()) for g in groups}

    def units_used(idx: np.ndarray) -> tuple[int, int]:
        treated = {float(g) for g in g_arr[np.asarray(idx, dtype=int)]}
        compared: set[float] = set()
        for k in np.asarray(idx, dtype=int):
            compared |= {float(g) for g in groups[comparison_cohorts(groups, g_arr[k], later[k], control)]}
        return sum(counts[g] for g in treated), sum(counts[g] for g in compared)

    return CellEstimates(att=att, std_error=se, n_treated=n_t, n_control=n_c, influence=influence,
                         influence_sum=influence_sum, engine=f"covariates: 2x2 {method} per cell",
                         dominance=dominance, units_used=units_used)
