"""General path of the event study: any panel (unbalanced, missing outcomes, other clusters), on pyfixest.

The event-time columns are built here (same binning and the same columns as the
fast path, :mod:`.design`) and the regression ``y ~ columns | unit + period``
with CR1 standard errors is left to ``pyfixest.feols`` (fixest's algorithms,
tested against R). It needs the whole long table in memory, so it is meant for
panels up to a few million rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import StudyError
from analysis.estimators.event_study.design import EventDesign, binned_event_time


def long_design(frame: pd.DataFrame, *, unit: str, cohort_col: str, time: str, window: tuple[int, int],
                reference: int, estimator: str, control_cohort: float) -> tuple[pd.DataFrame, EventDesign]:
    """Event columns ``ev0, ev1, ...`` on the long table, and the matching EventDesign (no grid)."""
    g = frame[cohort_col].to_numpy(dtype=float)
    e = binned_event_time(g, frame[time].to_numpy(dtype=float), window)
    treated = (g != 0) & (g != control_cohort)
    lo, hi = window
    wanted = [k for k in range(lo, hi + 1) if k != reference]
    cells = pd.DataFrame({"g": g[treated], "e": e[treated], "unit": frame[unit].to_numpy()[treated]})
    units_at = cells.groupby(["e", "g"])["unit"].nunique()
    terms = [k for k in wanted if k in units_at.index.get_level_values("e")]
    empty = [k for k in wanted if k not in terms]
    columns = []
    values = {}
    if estimator == "twfe":
        for j, k in enumerate(terms):
            columns.append((None, k))
            values[f"ev{j}"] = (treated & (e == k)).astype(float)
        weights = np.eye(len(terms))
    else:
        for k in terms:
            for gv in units_at.loc[k].index:
                values[f"ev{len(columns)}"] = (treated & (g == gv) & (e == k)).astype(float)
                columns.append((gv, k))
        weights = np.zeros((len(terms), len(columns)))
        for j, (gv, k) in enumerate(columns):
            row = terms.index(k)
            weights[row, j] = units_at.loc[(k, gv)] / units_at.loc[k].sum()
    units = np.array([cells.loc[cells["e"] == k, "unit"].nunique() for k in terms], dtype=np.int64)
    design = EventDesign(design=np.zeros((0, 0, len(columns))), columns=columns, terms=terms,
                         weights=weights, units=units, empty=empty)
    return frame.assign(**values), design


def fit_with_pyfixest(frame: pd.DataFrame, *, outcome: str, unit: str, time: str, cluster: str,
                      n_columns: int, term_weights: np.ndarray | None = None):
    """``feols(outcome ~ ev0 + ... | unit + time, vcov={"CRV1": cluster})``: coef, vcov, N, G, contributions.

    ``contributions`` (units x terms, None without ``term_weights``): each unit's term in every term,
    ``L (X'X)^-1 sum_t x~_it y_it`` with ``x~`` the regressors net of the fixed effects (the estimate
    is linear in the outcomes; these terms sum to ``L b``).
    """
    import pyfixest as pf

    names = [f"ev{j}" for j in range(n_columns)]
    renamed = pd.DataFrame({"y__": frame[outcome].to_numpy(dtype=float), "unit__": frame[unit].to_numpy(),
                            "time__": frame[time].to_numpy(), "cluster__": frame[cluster].to_numpy()})
    for name in names:
        renamed[name] = frame[name].to_numpy()
    fit = pf.feols(f"y__ ~ {' + '.join(names)} | unit__ + time__", data=renamed, vcov={"CRV1": "cluster__"})
    kept = list(fit._coefnames)
    if kept != names:
        dropped = [n for n in names if n not in kept]
        raise StudyError(f"{len(dropped)} event-time columns are collinear with the unit and period "
                         "effects and were dropped by the regression; the remaining effects are not "
                         "comparable to the reference period. " + COLLINEAR_HINT)
    contributions = None
    if term_weights is not None:
        rows = _kept_rows(fit, len(renamed))
        scores = np.asarray(fit._X, dtype=float) * renamed["y__"].to_numpy()[rows, None]
        units = pd.factorize(renamed["unit__"].to_numpy()[rows])[0]
        per_unit = np.zeros((units.max() + 1, scores.shape[1]))
        np.add.at(per_unit, units, scores)
        contributions = per_unit @ np.asarray(fit._bread, dtype=float) @ np.asarray(term_weights, dtype=float).T
    return (np.asarray(fit.coef(), dtype=float), np.asarray(fit._vcov, dtype=float), int(fit._N), int(fit._G[0]),
            contributions)


def _kept_rows(fit, n_rows: int) -> np.ndarray:
    """Rows of the input that the fit used (pyfixest drops singletons and missing values)."""
    na = getattr(fit, "_na_index", None)
    keep = np.ones(n_rows, dtype=bool)
    if na is not None and len(na):
        keep[np.asarray(na, dtype=int)] = False
    return np.flatnonzero(keep)


COLLINEAR_HINT = ("Typical cause: no never-treated units and a window that covers every event time "
                  "(no binned endpoints); narrow `window` so the endpoints bin, or use "
                  "estimator='sun_abraham', which then uses the last-treated cohort as control.")
