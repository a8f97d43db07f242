"""Staggered difference-in-differences: Callaway & Sant'Anna (2021) ATT(g,t) and aggregations.

Disclosure facts (issue #13) on every term of ``att_gt`` and of ``GroupTimeResult.aggregate``:

- ``n``: the treated units the term actually uses (cell: units of cohort g, on an unbalanced panel
  those observed at t and at the base period; aggregate: the distinct treated units of the cells
  it combines); never dropped units or units of other cohorts.
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

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from threadpoolctl import threadpool_limits

from analysis.errors import AnalysisWarning, ParameterError, check_choice
from analysis.estimators.did.attgt import CONTROLS, METHODS, cells, estimate_cells
from analysis.estimators.did.panel import Panel, _finish, make_panel
from analysis.estimators.did.unbalanced import unbalanced_cells
from analysis.estimators.did.result import ZERO_SE, GroupTimeResult, uniform_critical_value
from analysis.estimators.results import tidy_estimates

__all__ = ["att_gt", "GroupTimeResult", "Panel", "uniform_critical_value"]


BASE_PERIODS = ("varying", "universal")



def att_gt(data: pd.DataFrame | Panel, *, outcome: str | None = None, unit: str | None = None,
           time: str | None = None, cohort: str | None = None, control: str = "never_treated",
           covariates: Sequence[str] = (), method: str = "dr", alpha: float = 0.05, seed: int = 0,
           event_window: tuple | None = None, weights: str | None = None, anticipation: int = 0,
           base_period: str = "varying", cluster: str | None = None,
           allow_unbalanced_panel: bool = True) -> GroupTimeResult:
    """Group-time average treatment effects on the treated (Callaway & Sant'Anna 2021).

    Parameters
    ----------
    data
        Long panel (one row per unit and period) with the columns named below, or a
        :class:`Panel` built with ``Panel.from_arrays(y, cohort, covariates=...)`` (then the
        column names, ``covariates``, ``weights`` and ``cluster`` are not used).
    cohort
        The first treated period; 0 for never treated (as ``first.treat`` in R's mpdta).
        Cohorts after the last period (+ anticipation) count as never treated.
    control
        "never_treated" or "not_yet_treated" (never treated plus units first treated after
        both the period and the base period, + anticipation).
    covariates
        Columns for conditional parallel trends. With panel data R ``did`` uses each cell's
        base-period values; a covariate constant within units is stored once.
    method
        "dr" (``DRDID::drdid_panel``, the default as in R), "ipw" (``std_ipw_did_panel``) or
        "reg" (``reg_did_panel``). Without covariates all three are the difference in mean changes.
    event_window
        Estimate only cells with ``t - g`` in this closed range (monthly register panels).
    weights
        Column of unit weights (R's ``weightsname``); must be constant within units.
    anticipation
        Periods before treatment in which units may already react (R's ``anticipation``): the base
        of cohort g is its last period before g - anticipation, and not-yet-treated comparisons
        must be untreated until max(t, base) + anticipation.
    base_period
        "varying" (R's default: a pre-treatment cell compares a period with the one before it) or
        "universal" (every cell of a cohort compares with its base period, so pre- and post-treatment
        effects are relative to the same period; the base period's own cell is reported as 0).
    cluster
        Column of a cluster above the unit (e.g. municipality; R's ``clustervars``), constant within
        units: standard errors from cluster sums of the influence functions (R's analytic clustered
        form, also used by the aggregations, the pre-test and the uniform band). None clusters by unit.
    allow_unbalanced_panel
        True (default): units missing periods are kept, as R ``did`` with ``allow_unbalanced_panel
        = TRUE`` (:mod:`.unbalanced`); False: they are dropped with a warning (R's default).

    Paths (``result.diagnostics["path"]``):

    - panel building: "balanced, sorted: reshape" when the frame is balanced and sorted by
      unit then period (the fast path: columns reshaped to units x periods); otherwise
      "long: scatter" (ids factorised, values scattered into a matrix), with "; unbalanced
      (units kept)" when units miss periods; "arrays" for a Panel.
    - estimation: "unconditional: sums by cohort" without covariates (every cell from
      per-cohort sums, O(n x T) per aggregation); "covariates: 2x2 <method> per cell" with them;
      "unbalanced: four means per cell" on an unbalanced panel.

    Standard errors are analytic, from influence functions, clustered by unit or by ``cluster``
    (R did's ``bstrap = FALSE``); uniform bands come from the multiplier bootstrap in ``aggregate``.
    """
    check_choice("control", control, CONTROLS)
    check_choice("method", method, METHODS)
    check_choice("base_period", base_period, BASE_PERIODS)
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha={alpha!r} must lie strictly between 0 and 1.")
    if isinstance(anticipation, bool) or not isinstance(anticipation, (int, np.integer)) or anticipation < 0:
        raise ParameterError(f"anticipation={anticipation!r} is not allowed; give a whole number of periods >= 0 "
                             "(0: no anticipation, R's default).")
    anticipation = int(anticipation)
    if isinstance(data, Panel):
        panel = data
        if anticipation:
            panel = _finish(panel.y, panel.cohort, panel.periods, panel.units, panel.x, panel.weights,
                            path=panel.path, stacklevel=3, observed=panel.observed, clusters=panel.clusters,
                            anticipation=anticipation)
        covariates = [f"x{j}" for j in range(1, panel.x.shape[-1])] if panel.x is not None else []
    else:
        names = {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort}
        absent = [k for k, v in names.items() if v is None]
        if absent:
            raise ParameterError(f"att_gt: {', '.join(absent)} must name columns of the long frame "
                                 "(or pass a Panel built with Panel.from_arrays).")
        panel = make_panel(data, outcome=outcome, unit=unit, time=time, cohort=cohort,
                           covariates=tuple(covariates), weights=weights, cluster=cluster,
                           allow_unbalanced_panel=bool(allow_unbalanced_panel), anticipation=anticipation)
    if panel.observed is not None and panel.x is not None:
        raise ParameterError("att_gt: covariates on an unbalanced panel are not supported (R would use "
                             "DRDID's repeated-cross-section estimators). Drop the covariates, or pass "
                             "allow_unbalanced_panel=False to keep only the units observed in every period.")
    panel, no_never = _without_never_treated(panel, control, anticipation)
    grid = cells(panel, event_window=event_window, anticipation=anticipation, base_period=base_period)
    if no_never and control == "not_yet_treated":   # R: the last cohort is only a comparison group
        grid = grid[grid["group"] < no_never].reset_index(drop=True)
    options = dict(control=control, method=method, alpha=alpha, seed=seed, outcome=outcome, covariates=covariates,
                   event_window=event_window, anticipation=anticipation, base_period=base_period, cluster=cluster)
    with threadpool_limits(limits=1, user_api="blas"):   # skinny products: threads only synchronise (as event_study)
        return _estimate(panel, grid, **options)


def _without_never_treated(panel: Panel, control: str, anticipation: int) -> tuple[Panel, float]:
    """R did without never-treated units (``pre_process_did2``): periods from the last cohort's first
    treated period - anticipation on are dropped; with ``control="never_treated"`` the last cohort then
    serves as the never treated. Returns the panel and the last cohort (0.0 when there are never treated).
    """
    if (panel.cohort == 0).any() or not (panel.cohort > 0).any():
        return panel, 0.0
    latest = float(panel.cohort.max())
    keep = panel.periods < latest - anticipation
    if keep.sum() < 2:
        raise ParameterError(f"att_gt: there are no never-treated units and the last cohort ({latest:g}) leaves "
                             f"{int(keep.sum())} period(s) before it is treated (- anticipation); nothing to compare.")
    warnings.warn(f"att_gt: no never-treated units; periods from {latest - anticipation:g} on are dropped and the last "
                  f"cohort ({latest:g}) is {'the never-treated group' if control == 'never_treated' else 'a comparison group only'}"
                  " (as R did).", AnalysisWarning, stacklevel=4)
    cohort = np.where(panel.cohort == latest, 0.0, panel.cohort) if control == "never_treated" else panel.cohort
    x = panel.x if panel.x is None or panel.x.ndim == 2 else panel.x[:, keep]
    observed = None if panel.observed is None else panel.observed[:, keep]
    return replace(panel, y=panel.y[:, keep], periods=panel.periods[keep], cohort=cohort, x=x,
                   observed=observed), latest


def _estimate(panel, grid, *, control, method, alpha, seed, outcome, covariates, event_window, anticipation,
              base_period, cluster) -> GroupTimeResult:
    if grid.empty:
        raise ParameterError("att_gt: no (group, period) cells to estimate: no treated cohort after the "
                             "first period + anticipation (or none inside the event window).")
    if panel.observed is not None:
        est = unbalanced_cells(panel, grid, control, anticipation)
    else:
        est = estimate_cells(panel, grid, control=control, method=method, anticipation=anticipation)
    keep = ~pd.isna(est.att)
    kept = keep.nonzero()[0]
    std_error = np.asarray(est.std_error, dtype=float).copy()
    codes = None
    if panel.clusters is not None:
        codes = np.unique(panel.clusters, return_inverse=True)[1].ravel()
        for k in kept:   # sqrt(sum over clusters of the summed influence terms ^ 2) / n, as R
            std_error[k] = np.sqrt((np.bincount(codes, est.influence(int(k))) ** 2).sum()) / len(panel.cohort)
    std_error[std_error <= ZERO_SE] = np.nan   # R: a zero standard error is NA
    grid = grid.assign(estimate=est.att, std_error=std_error, n_treated=est.n_treated,
                       n_control=est.n_control, dominance=est.dominance)[keep].reset_index(drop=True)
    terms = [f"ATT({_f(g)},{_f(t)})" for g, t in zip(grid["group"], grid["time"])]
    table = tidy_estimates(terms, grid["estimate"], grid["std_error"], n=grid["n_treated"],
                           n_control=grid["n_control"].to_numpy(), dominance=grid["dominance"].to_numpy(),
                           alpha=alpha)
    for col in ("group", "time", "event_time", "n_treated"):
        table[col] = grid[col].to_numpy()
    table["base_period"] = panel.periods[grid["base_index"].to_numpy()]
    table["reference"] = grid["reference"].to_numpy()

    def influence(k: int):
        return est.influence(int(kept[k]))

    def influence_sum(idx, w, centred=True):
        return est.influence_sum(kept[list(idx)] if len(idx) else kept[:0], w, centred)

    def units_used(idx):
        return est.units_used(kept[np.asarray(idx, dtype=int)])

    diagnostics = {"n_units": len(panel.cohort), "n_periods": len(panel.periods),
                   "cells_without_controls": int((~keep).sum()), "path": f"{panel.path}; {est.engine}",
                   "unbalanced_panel": panel.observed is not None,
                   "n_clusters": None if codes is None else int(codes.max() + 1), "warnings": []}
    spec = {"outcome": outcome, "control": control, "method": method, "covariates": list(covariates),
            "base_period": base_period, "anticipation": anticipation, "cluster": cluster, "alpha": alpha,
            "seed": seed, "event_window": event_window}
    return GroupTimeResult(estimates=table, estimand="ATT(g,t)", spec=spec, diagnostics=diagnostics,
                           influence=influence, influence_sum=influence_sum, cohorts=panel.cohort,
                           weights=panel.weights, units_used=units_used, clusters=panel.clusters)


def _f(v) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else str(v)
