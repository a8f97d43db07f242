"""Estimator fronts that take the kit's typed objects: a :class:`~analysis.kit.panels.Panel` and
:class:`~analysis.kit.events.EventCohorts`.

``att_gt_at_risk(panel, cohorts, outcome=..., covariates=[...], control=...,
anticipation=..., base_period=...)`` aligns the two (the cohorts' units, the
panel's periods; units with a missing outcome in any period are left out and
counted in the result's diagnostics) and calls
:func:`analysis.estimators.did.at_risk.att_gt_at_risk`. Given arrays instead
(``y, cohort, at_risk``) it is that estimator itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import ParameterError


def att_gt_at_risk(data, cohorts=None, *, outcome: str | None = None, covariates=(), **options):
    """Callaway & Sant'Anna with at-risk comparison groups on a kit panel and its event cohorts."""
    from dataclasses import replace

    from analysis.estimators.did.at_risk import att_gt_at_risk as estimator
    from analysis.kit.panels import Panel

    if not isinstance(data, Panel):
        if cohorts is None:
            raise ParameterError("att_gt_at_risk: give (panel, cohorts, outcome=...) or (y, cohort, at_risk).")
        return estimator(data, cohorts, *([options.pop("at_risk")] if "at_risk" in options else []),
                         covariates=covariates if len(covariates) else None, **options)
    from analysis.kit.events import EventCohorts

    if not isinstance(cohorts, EventCohorts):
        raise ParameterError(f"att_gt_at_risk: cohorts must come from rd.event_cohorts(...); received "
                             f"{type(cohorts).__name__}.")
    if outcome is None or outcome not in data.outcomes:
        raise ParameterError(f"att_gt_at_risk: outcome={outcome!r}; give one of the panel's outcomes: "
                             f"{', '.join(data.outcomes)}.")
    if data.frequency != cohorts.frequency or not np.array_equal(np.asarray(data.periods), np.asarray(cohorts.periods)):
        raise ParameterError(f"att_gt_at_risk: the panel is person-{data.frequency} over {data.periods[0]}.."
                             f"{data.periods[-1]} but the cohorts are {cohorts.frequency}ly over "
                             f"{cohorts.periods[0]}..{cohorts.periods[-1]}; build both from the same population "
                             "with the same frequency.")
    covariates = list(covariates or [])
    unknown = [c for c in covariates if c not in cohorts.covariate_names]
    if unknown:
        raise ParameterError(f"att_gt_at_risk: covariates {unknown} are not available for {cohorts.event}; "
                             f"choose from {', '.join(cohorts.covariate_names)}.")
    rows = pd.Index(data.unit_ids).get_indexer(cohorts.unit_ids)
    if (rows < 0).any():
        raise ParameterError("att_gt_at_risk: the cohorts hold persons the panel does not; build both from the "
                             "same population.")
    y = np.asarray(data[outcome], dtype=float)[rows]
    complete = ~np.isnan(y).any(axis=1)
    idx = [cohorts.covariate_names.index(c) for c in covariates]
    keep = np.flatnonzero(complete)

    def covariates_at(b: int) -> np.ndarray:
        return cohorts.covariates_at(b)[keep][:, idx]

    result = estimator(y[keep], cohorts.cohort[keep], cohorts.at_risk[keep],
                       covariates=covariates_at if covariates else None, covariate_names=covariates, **options)
    diagnostics = dict(result.diagnostics)
    diagnostics["units_missing_outcome"] = int((~complete).sum())
    spec = dict(result.spec)
    spec.update(outcome=outcome, event=cohorts.event, at_risk_rule=cohorts.at_risk_rule,
                frequency=cohorts.frequency)
    return replace(result, spec=spec, diagnostics=diagnostics)





def pretrend_estimate(result, *, name: str) -> dict:
    """The pre-trend test of a group-time result as a results.json row (unit ``p-value``), its ``n`` the
    treated units of the result's simple aggregate (what the test rests on)."""
    test = result.pretrend_test()
    n = result.aggregate("simple").estimates.loc["ATT", "n"]
    p = test.get("p_value")
    return {"name": name, "estimate": None if p is None or not np.isfinite(p) else float(p), "se": None,
            "ci_low": None, "ci_high": None, "n": None if n is None or not np.isfinite(n) else int(n),
            "unit": "p-value", "suppressed": False}


__all__ = ["att_gt_at_risk", "pretrend_estimate"]
