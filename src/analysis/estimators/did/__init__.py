"""Staggered difference-in-differences: Callaway & Sant'Anna (2021) ATT(g,t) and aggregations."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, check_choice
from analysis.estimators.did.attgt import CONTROLS, METHODS, Panel, cell_effect, cells, make_panel, masks
from analysis.estimators.did.result import GroupTimeResult, uniform_critical_value
from analysis.estimators.results import tidy_estimates

__all__ = ["att_gt", "GroupTimeResult", "uniform_critical_value"]


def att_gt(data: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str,
           control: str = "never_treated", covariates: Sequence[str] = (), method: str = "dr",
           alpha: float = 0.05, seed: int = 0, event_window: tuple | None = None,
           weights: str | None = None) -> GroupTimeResult:
    """Group-time average treatment effects on the treated (Callaway & Sant'Anna 2021).

    Parameters
    ----------
    data
        Long panel: one row per unit and period.
    cohort
        The first treated period; 0 (or NaN) for never treated (as ``first.treat`` in R's mpdta).
    control
        "never_treated" or "not_yet_treated" (never treated plus units first treated after
        both the period and the base period).
    method
        "dr" (doubly robust, the default as in R), "ipw" or "reg". Without covariates all
        three are the difference in mean changes.
    event_window
        Estimate only cells with ``t - g`` in this closed range (monthly register panels).

    Standard errors are analytic, from influence functions, clustered by unit (R did's
    ``bstrap = FALSE``); uniform bands come from the multiplier bootstrap in ``aggregate``.
    """
    check_choice("control", control, CONTROLS)
    check_choice("method", method, METHODS)
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha={alpha!r} must lie strictly between 0 and 1.")
    panel = make_panel(data, outcome=outcome, unit=unit, time=time, cohort=cohort,
                       covariates=tuple(covariates), weights=weights)
    grid = cells(panel, event_window=event_window)
    if grid.empty:
        raise ParameterError("att_gt: no (group, period) cells to estimate: no treated cohort after the "
                             "first period (or none inside the event window).")
    if covariates == () or not covariates:
        panel_used = Panel(y=panel.y, cohort=panel.cohort, periods=panel.periods, units=panel.units, x=None,
                           weights=panel.weights)
    else:
        panel_used = panel
    atts, ses, n_t, n_c = [], [], [], []
    n = len(panel.cohort)
    for row in grid.itertuples(index=False):
        treat, ctrl = masks(panel_used, row.group, row.t_index, row.base_index, control)
        if treat.sum() == 0 or ctrl.sum() == 0:
            atts.append(np.nan)
            ses.append(np.nan)
        else:
            att, inf = cell_effect(panel_used, ctrl, treat, row.t_index, row.base_index, method)
            atts.append(att)
            ses.append(np.sqrt(np.sum(inf ** 2)) / n)
        n_t.append(int(treat.sum()))
        n_c.append(int(ctrl.sum()))
    grid = grid.assign(estimate=atts, std_error=ses, n_treated=n_t, n_control=n_c)
    empty = grid["estimate"].isna()
    grid = grid[~empty].reset_index(drop=True)
    terms = [f"ATT({_f(g)},{_f(t)})" for g, t in zip(grid["group"], grid["time"])]
    table = tidy_estimates(terms, grid["estimate"], grid["std_error"], n=grid["n_treated"] + grid["n_control"],
                           alpha=alpha)
    for col in ("group", "time", "event_time", "n_treated", "n_control"):
        table[col] = grid[col].to_numpy()
    t_idx, b_idx, grp = grid["t_index"].to_numpy(), grid["base_index"].to_numpy(), grid["group"].to_numpy()

    def influence(k: int) -> np.ndarray:
        treat, ctrl = masks(panel_used, grp[k], int(t_idx[k]), int(b_idx[k]), control)
        return cell_effect(panel_used, ctrl, treat, int(t_idx[k]), int(b_idx[k]), method)[1]

    diagnostics = {"n_units": n, "n_periods": len(panel.periods), "cells_without_controls": int(empty.sum()),
                   "path": "balanced panel, matrix", "warnings": []}
    spec = {"outcome": outcome, "control": control, "method": method, "covariates": list(covariates),
            "base_period": "varying", "alpha": alpha, "seed": seed, "event_window": event_window}
    return GroupTimeResult(estimates=table, estimand="ATT(g,t)", spec=spec, diagnostics=diagnostics,
                           influence=influence, cohorts=panel.cohort, weights=panel.weights)


def _f(v) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else str(v)
