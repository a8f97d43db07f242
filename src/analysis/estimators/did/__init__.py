"""Staggered difference-in-differences: Callaway & Sant'Anna (2021) ATT(g,t) and aggregations.

Disclosure facts (issue #13) on every term of ``att_gt`` and of ``GroupTimeResult.aggregate``:

- ``n``: the treated units the term actually uses (cell: units of cohort g; aggregate: the distinct
  treated units of the cells it combines); never dropped units or units of other cohorts.
- ``n_control``: the comparison units used (never treated, or not yet treated at max(t, base)
  + anticipation); an aggregate counts the distinct comparison units of its cells.
- ``dominance``: the share of the two largest absolute unit terms in the sum of absolute unit
  terms, where a unit's term is its part of the estimate (``ATT = sum_i lambda_i dy_i``, the
  estimators are linear in the changes given the propensity score; an aggregate adds up a unit's
  terms over its cells with the aggregation weights held fixed). Influence-function terms are not
  used: they are centred, so one extreme unit among k shows with share (k-1)/k and is mirrored by
  1/k on each other unit; their top-2 share stays near 0.6 however extreme the unit.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from threadpoolctl import threadpool_limits

from analysis.errors import ParameterError, check_choice
from analysis.estimators.did.attgt import CONTROLS, METHODS, cells, estimate_cells
from analysis.estimators.did.panel import Panel, make_panel
from analysis.estimators.did.result import GroupTimeResult, uniform_critical_value
from analysis.estimators.results import tidy_estimates

__all__ = ["att_gt", "GroupTimeResult", "Panel", "uniform_critical_value"]


def att_gt(data: pd.DataFrame | Panel, *, outcome: str | None = None, unit: str | None = None,
           time: str | None = None, cohort: str | None = None, control: str = "never_treated",
           covariates: Sequence[str] = (), method: str = "dr", alpha: float = 0.05, seed: int = 0,
           event_window: tuple | None = None, weights: str | None = None) -> GroupTimeResult:
    """Group-time average treatment effects on the treated (Callaway & Sant'Anna 2021).

    Parameters
    ----------
    data
        Long panel (one row per unit and period) with the columns named below, or a
        :class:`Panel` built with ``Panel.from_arrays(y, cohort, covariates=...)`` (then the
        column names, ``covariates`` and ``weights`` are not used).
    cohort
        The first treated period; 0 for never treated (as ``first.treat`` in R's mpdta).
        Cohorts after the last period count as never treated.
    control
        "never_treated" or "not_yet_treated" (never treated plus units first treated after
        both the period and the base period).
    covariates
        Columns for conditional parallel trends. With panel data R ``did`` uses each cell's
        base-period values; a covariate constant within units is stored once.
    method
        "dr" (``DRDID::drdid_panel``, the default as in R), "ipw" (``std_ipw_did_panel``) or
        "reg" (``reg_did_panel``). Without covariates all three are the difference in mean changes.
    event_window
        Estimate only cells with ``t - g`` in this closed range (monthly register panels).

    Paths (``result.diagnostics["path"]``):

    - panel building: "balanced, sorted: reshape" when the frame is balanced and sorted by
      unit then period (the fast path: columns reshaped to units x periods); otherwise
      "long: scatter" (ids factorised, values scattered into a matrix; units missing a
      period are dropped with a warning, as R ``did`` does by default); "arrays" for a Panel.
    - estimation: "unconditional: sums by cohort" without covariates (every cell from
      per-cohort sums, O(n x T) per aggregation); "covariates: 2x2 <method> per cell" with them.

    Standard errors are analytic, from influence functions, clustered by unit (R did's
    ``bstrap = FALSE``); uniform bands come from the multiplier bootstrap in ``aggregate``.
    """
    check_choice("control", control, CONTROLS)
    check_choice("method", method, METHODS)
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha={alpha!r} must lie strictly between 0 and 1.")
    if isinstance(data, Panel):
        panel = data
        covariates = [f"x{j}" for j in range(1, panel.x.shape[-1])] if panel.x is not None else []
    else:
        names = {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort}
        absent = [k for k, v in names.items() if v is None]
        if absent:
            raise ParameterError(f"att_gt: {', '.join(absent)} must name columns of the long frame "
                                 "(or pass a Panel built with Panel.from_arrays).")
        panel = make_panel(data, outcome=outcome, unit=unit, time=time, cohort=cohort,
                           covariates=tuple(covariates), weights=weights)
    grid = cells(panel, event_window=event_window)
    with threadpool_limits(limits=1, user_api="blas"):   # skinny products: threads only synchronise (as event_study)
        return _estimate(panel, grid, control=control, method=method, alpha=alpha, seed=seed, outcome=outcome,
                         covariates=covariates, event_window=event_window)


def _estimate(panel, grid, *, control, method, alpha, seed, outcome, covariates, event_window) -> GroupTimeResult:
    if grid.empty:
        raise ParameterError("att_gt: no (group, period) cells to estimate: no treated cohort after the "
                             "first period (or none inside the event window).")
    est = estimate_cells(panel, grid, control=control, method=method)
    keep = ~pd.isna(est.att)
    kept = keep.nonzero()[0]
    grid = grid.assign(estimate=est.att, std_error=est.std_error, n_treated=est.n_treated,
                       n_control=est.n_control, dominance=est.dominance)[keep].reset_index(drop=True)
    terms = [f"ATT({_f(g)},{_f(t)})" for g, t in zip(grid["group"], grid["time"])]
    table = tidy_estimates(terms, grid["estimate"], grid["std_error"], n=grid["n_treated"],
                           n_control=grid["n_control"].to_numpy(), dominance=grid["dominance"].to_numpy(),
                           alpha=alpha)
    for col in ("group", "time", "event_time", "n_treated"):
        table[col] = grid[col].to_numpy()

    def influence(k: int):
        return est.influence(int(kept[k]))

    def influence_sum(idx, w, centred=True):
        return est.influence_sum(kept[list(idx)] if len(idx) else kept[:0], w, centred)

    def units_used(idx):
        return est.units_used(kept[np.asarray(idx, dtype=int)])

    diagnostics = {"n_units": len(panel.cohort), "n_periods": len(panel.periods),
                   "cells_without_controls": int((~keep).sum()), "path": f"{panel.path}; {est.engine}",
                   "warnings": []}
    spec = {"outcome": outcome, "control": control, "method": method, "covariates": list(covariates),
            "base_period": "varying", "alpha": alpha, "seed": seed, "event_window": event_window}
    return GroupTimeResult(estimates=table, estimand="ATT(g,t)", spec=spec, diagnostics=diagnostics,
                           influence=influence, influence_sum=influence_sum, cohorts=panel.cohort,
                           weights=panel.weights, units_used=units_used)


def _f(v) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else str(v)
