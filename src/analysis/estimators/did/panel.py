"""A panel as matrices (units x periods) for :func:`att_gt`, built from a long frame or from arrays.

Two paths build it from a long frame, and ``Panel.path`` says which one ran:

- "balanced, sorted: reshape": the frame has one row per unit and period, sorted by
  unit and then period (as a store or a matrix flattened row by row writes it). The
  columns are reshaped to units x periods without a copy of the frame; checking the
  order costs a few vectorised comparisons.
- "long: scatter": any other order or an unbalanced panel. Unit ids are factorised,
  periods located by binary search and values scattered into a preallocated matrix.
  With ``allow_unbalanced_panel=True`` (the default) units missing periods are kept and
  ``Panel.observed`` marks the observed periods (R ``did`` with
  ``allow_unbalanced_panel = TRUE``: register panels lose people to death and emigration);
  with False they are dropped with a warning that counts them (R's default).

Weights and clusters are unit attributes: a weight or cluster that changes within a unit is
refused (R ``did`` would need its ``fix_weights`` rule; say which period's value to use
by making the column constant).

Covariates that do not change within a unit are kept once per unit (n x k); a
covariate that changes over time is kept per period (n x T x k), and each cell uses
its base-period values, as R ``did`` does for panel data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import AnalysisWarning, DataValidationError, ParameterError

PATHS = ("balanced, sorted: reshape", "long: scatter", "arrays")


@dataclass(frozen=True)
class Panel:
    """Outcome (n x T), first treated period per unit (0 = never), covariates with an intercept.

    ``x`` is None (no covariates), n x (k+1) for time-invariant covariates or n x T x (k+1)
    when one changes over time (then cell (g,t) uses the base-period slice).
    """

    y: np.ndarray
    cohort: np.ndarray
    periods: np.ndarray
    units: np.ndarray
    x: np.ndarray | None
    weights: np.ndarray
    path: str = "arrays"
    #: n x T, True where the unit is observed; None for a balanced panel
    observed: np.ndarray | None = None
    #: cluster label per unit (standard errors clustered at this level); None: by unit
    clusters: np.ndarray | None = None

    @classmethod
    def from_arrays(cls, y: np.ndarray, cohort: np.ndarray, *, periods: Sequence | None = None,
                    covariates: np.ndarray | None = None, weights: np.ndarray | None = None,
                    units: Sequence | None = None, clusters: Sequence | None = None) -> "Panel":
        """A balanced panel from matrices: ``y`` n x T, ``cohort`` n (first treated period, 0 = never).

        ``periods`` are the T period values (default 1..T); ``covariates`` n x k (time-invariant)
        or n x T x k (base-period values are used per cell). Cohorts after the last period count
        as never treated; units treated in the first period are dropped with a warning.
        """
        y = np.asarray(y, dtype=float)
        if y.ndim != 2:
            raise ParameterError(f"Panel.from_arrays: y must be units x periods (2-D); got shape {y.shape}.")
        n, t_len = y.shape
        periods = np.arange(1, t_len + 1) if periods is None else np.asarray(periods)
        if periods.shape != (t_len,) or np.any(np.diff(periods) <= 0):
            raise ParameterError(f"Panel.from_arrays: periods must be {t_len} increasing values; got {periods!r}.")
        cohort = np.asarray(cohort, dtype=float)
        if cohort.shape != (n,):
            raise ParameterError(f"Panel.from_arrays: cohort must have one value per unit ({n}); got {cohort.shape}.")
        if np.isnan(y).any():
            raise DataValidationError(f"Panel.from_arrays: y has {int(np.isnan(y).any(axis=1).sum())} units with a "
                                      "missing value; drop them or build the panel from a long frame.")
        x = None
        if covariates is not None:
            cov = np.asarray(covariates, dtype=float)
            cov = cov[:, None] if cov.ndim == 1 else cov
            if cov.shape[0] != n or cov.ndim not in (2, 3) or (cov.ndim == 3 and cov.shape[1] != t_len):
                raise ParameterError(f"Panel.from_arrays: covariates must be n x k or n x T x k; got {cov.shape}.")
            if np.isnan(cov).any():
                raise DataValidationError("Panel.from_arrays: covariates have missing values.")
            x = _with_intercept(cov)
        w = np.ones(n) if weights is None else _checked_weights(np.asarray(weights, dtype=float), "weights")
        if w.shape != (n,):
            raise ParameterError(f"Panel.from_arrays: weights must have one value per unit ({n}); got {w.shape}.")
        unit_ids = np.arange(n) if units is None else np.asarray(units)
        cl = None
        if clusters is not None:
            cl = np.asarray(clusters)
            if cl.shape != (n,):
                raise ParameterError(f"Panel.from_arrays: clusters must have one value per unit ({n}); got {cl.shape}.")
        return _finish(y, cohort, periods, unit_ids, x, w, path="arrays", stacklevel=3, clusters=cl)

    def x_at(self, base_index: int) -> np.ndarray | None:
        """The design (intercept first) with covariates at the given base period."""
        if self.x is None or self.x.ndim == 2:
            return self.x
        return self.x[:, base_index, :]

    @property
    def time_varying_covariates(self) -> bool:
        return self.x is not None and self.x.ndim == 3


def make_panel(data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str,
               covariates: Sequence[str] = (), weights: str | None = None, cluster: str | None = None,
               allow_unbalanced_panel: bool = True, anticipation: int = 0) -> Panel:
    """Long frame to matrices; refuse bad input; keep (or drop, with a warning) units missing periods."""
    covariates = list(covariates)
    cols = [outcome, unit, time, cohort, *covariates] + ([weights] if weights else []) + ([cluster] if cluster else [])
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ParameterError(f"att_gt: columns {missing} not in the data; columns are {list(data.columns)}.")
    yv = data[outcome].to_numpy(dtype=float)
    tv = data[time].to_numpy()
    gv = data[cohort].to_numpy(dtype=float)
    bad = np.isnan(yv) | pd.isna(tv) | np.isnan(gv)
    if bad.any():
        raise DataValidationError(f"att_gt: {int(bad.sum())} rows have a missing {outcome}, {time} or {cohort}.")
    covs = [data[c].to_numpy(dtype=float) for c in covariates]
    if covs:
        bad_x = np.zeros(len(yv), dtype=bool)
        for c in covs:
            bad_x |= np.isnan(c)
        if bad_x.any():
            raise DataValidationError(f"att_gt: {int(bad_x.sum())} rows have a missing covariate ({covariates}); "
                                      "impute or drop them before estimation.")
    wv = _checked_weights(data[weights].to_numpy(dtype=float), weights) if weights else None
    cv = None
    if cluster:
        cv = data[cluster].to_numpy()
        if pd.isna(cv).any():
            raise DataValidationError(f"att_gt: {int(pd.isna(cv).sum())} rows have a missing {cluster!r} "
                                      "(the cluster); every row needs one.")
    periods = np.sort(pd.unique(tv))
    t_len = len(periods)
    uv = data[unit].to_numpy()
    n_rows = len(yv)
    if n_rows % t_len == 0 and n_rows > 0:
        n = n_rows // t_len
        if (tv.reshape(n, t_len) == periods[None, :]).all():
            um = uv.reshape(n, t_len)
            if (um == um[:, :1]).all() and pd.Series(um[:, 0]).is_unique:
                return _from_sorted(yv, gv, covs, wv, cv, periods, um[:, 0], n, t_len, cohort, weights, cluster,
                                    anticipation)
    return _from_long(yv, tv, gv, covs, wv, cv, periods, uv, unit, time, cohort, weights, cluster,
                      allow_unbalanced_panel, anticipation)


def _checked_weights(w: np.ndarray, name: str) -> np.ndarray:
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise DataValidationError(f"att_gt: {int(bad.sum())} values of the weights {name!r} are missing, infinite "
                                  f"or negative (e.g. {w[bad][:3].tolist()}); weights must be finite and >= 0.")
    return w


def _constant_within_units(values: np.ndarray, codes: np.ndarray, n: int, what: str, name: str) -> np.ndarray:
    """One value per unit; ParameterError naming the units' count when a unit has more than one."""
    first = np.empty(n, dtype=values.dtype)
    first[codes[::-1]] = values[::-1]
    differs = values != first[codes]
    if differs.any():
        units = len(np.unique(codes[differs]))
        raise ParameterError(f"att_gt: the {what} {name!r} changes within {units} units (e.g. values "
                             f"{sorted(set(values[differs][:3].tolist()))}); {what}s are unit attributes here. "
                             f"Make {name!r} constant within each unit (e.g. its value in the first period).")
    return first


def _from_sorted(yv, gv, covs, wv, cv, periods, units, n, t_len, cohort_name, weights_name, cluster_name,
                 anticipation) -> Panel:
    gm = gv.reshape(n, t_len)
    differs = (gm != gm[:, :1]).any(axis=1)
    if differs.any():
        raise DataValidationError(f"att_gt: {int(differs.sum())} units have more than one {cohort_name} value.")
    y = yv.reshape(n, t_len)
    x = _covariate_array([c.reshape(n, t_len) for c in covs]) if covs else None
    codes = np.repeat(np.arange(n), t_len)
    w = _constant_within_units(wv, codes, n, "weight", weights_name) if wv is not None else np.ones(n)
    cl = _constant_within_units(cv, codes, n, "cluster", cluster_name) if cv is not None else None
    return _finish(y, gm[:, 0].copy(), periods, units, x, w, path="balanced, sorted: reshape", stacklevel=5,
                   clusters=cl, anticipation=anticipation)


def _from_long(yv, tv, gv, covs, wv, cv, periods, uv, unit_name, time_name, cohort_name, weights_name, cluster_name,
               allow_unbalanced_panel, anticipation) -> Panel:
    codes, units = pd.factorize(uv, sort=True)
    n, t_len = len(units), len(periods)
    tcode = np.searchsorted(periods, tv)
    cell = codes.astype(np.int64) * t_len + tcode
    counts = np.bincount(cell, minlength=n * t_len)
    if (counts > 1).any():
        raise DataValidationError(f"att_gt: {int((counts[counts > 1] - 1).sum())} duplicate "
                                  f"{unit_name}-{time_name} rows.")
    g_unit = np.empty(n)
    g_unit[codes] = gv
    mismatch = gv != g_unit[codes]
    if mismatch.any():
        raise DataValidationError(f"att_gt: {len(np.unique(codes[mismatch]))} units have more than one "
                                  f"{cohort_name} value.")

    def scatter(values: np.ndarray) -> np.ndarray:
        out = np.full(n * t_len, np.nan)
        out[cell] = values
        return out.reshape(n, t_len)

    y = scatter(yv)
    seen = counts.reshape(n, t_len) > 0
    complete = seen.all(axis=1)
    w = _constant_within_units(wv, codes, n, "weight", weights_name) if wv is not None else np.ones(n)
    cl = _constant_within_units(cv, codes, n, "cluster", cluster_name) if cv is not None else None
    x = _covariate_array([scatter(c) for c in covs]) if covs else None
    observed = None
    if not complete.all() and allow_unbalanced_panel:
        observed = seen
    elif not complete.all():
        warnings.warn(f"att_gt: {int((~complete).sum())} units miss at least one period and are dropped "
                      "(balanced-panel estimator, allow_unbalanced_panel=False as R did's default).",
                      AnalysisWarning, stacklevel=4)
        y, g_unit, units, w = y[complete], g_unit[complete], units[complete], w[complete]
        cl = None if cl is None else cl[complete]
        x = None if x is None else x[complete]
    path = "long: scatter" + ("; unbalanced (units kept)" if observed is not None else "")
    return _finish(y, g_unit, periods, np.asarray(units), x, w, path=path, stacklevel=5, observed=observed,
                   clusters=cl, anticipation=anticipation)


def _covariate_array(mats: list[np.ndarray]) -> np.ndarray:
    """n x (k+1) when every covariate is constant within units (ignoring missing periods), else n x T x (k+1)."""
    constant = all(bool(np.all((m == m[:, :1]) | np.isnan(m) | np.isnan(m[:, :1]))) for m in mats)
    if constant:
        return _with_intercept(np.column_stack([np.fmax.reduce(m, axis=1) for m in mats]))
    return _with_intercept(np.stack(mats, axis=2))


def _with_intercept(cov: np.ndarray) -> np.ndarray:
    ones = np.ones(cov.shape[:-1] + (1,))
    return np.concatenate([ones, cov], axis=-1)


def _finish(y, g, periods, units, x, w, *, path: str, stacklevel: int, observed=None, clusters=None,
            anticipation: int = 0) -> Panel:
    """Cohort rules shared by every path (R did's ``pre_process_did2``): never treated is 0, cohorts
    after the last period + anticipation count as never treated, units treated by the first period
    + anticipation are dropped."""
    g = np.where(np.isinf(g), 0.0, g)
    unknown = (g != 0) & ~np.isin(g, periods) & (g <= periods.max())
    if unknown.any():
        raise DataValidationError(f"att_gt: {int(unknown.sum())} units have a cohort that is not one of the periods.")
    g = np.where(g > periods.max() + anticipation, 0.0, g)  # treated after the panel ends: never treated in it
    early = (g != 0) & (g <= periods[0] + anticipation)
    if early.any():
        extra = f" + anticipation {anticipation}" if anticipation else ""
        warnings.warn(f"att_gt: {int(early.sum())} units treated in the first period{extra} are dropped "
                      "(no pre-treatment period).", AnalysisWarning, stacklevel=stacklevel)
        keep = ~early
        y, g, units, w = y[keep], g[keep], units[keep], w[keep]
        x = None if x is None else x[keep]
        observed = None if observed is None else observed[keep]
        clusters = None if clusters is None else clusters[keep]
    return Panel(y=y, cohort=g, periods=periods, units=units, x=x, weights=w, path=path, observed=observed,
                 clusters=clusters)
