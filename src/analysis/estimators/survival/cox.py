"""Cox proportional hazards with Efron (or Breslow) ties.

Two engines compute the same estimator (both reproduce R ``coxph`` on the Rossi data):

- ``engine="newton"`` (the default through "auto"): the vectorised Newton-Raphson of
  :mod:`.cox_newton`, for right-censored spells and for counting-process rows (start, stop]
  with ``entry`` (delayed entry, time-varying covariates); a million spells with monthly ties
  in about a second;
- ``engine="statsmodels"``: statsmodels' ``PHReg``, kept as the independent check the tests
  compare against (and as a fallback).

Rows at risk at t are those with entry < t <= stop (R's convention for ``Surv(start, stop, event)``).

Units (disclosure, issue #13): every published term must rest on at least 10
units. A term's ``n`` is the number of units with a non-zero value of its
covariate (for a dummy: the units in that level); for a 0/1 covariate
``n_control`` is the number of units at 0, the reference level (NA for other
covariates). A unit is a value of ``unit_id`` (counting-process rows of one
person count once), else a row. A log hazard ratio is not a sum of amounts:
``dominance`` is NaN. ``diagnostics["n"]`` and ``["events"]`` give the whole
model's rows and events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, check_choice
from analysis.estimators.results import EffectResult, covariate_units, tidy_estimates


@dataclass(frozen=True)
class CoxResult(EffectResult):
    log_likelihood: float = float("nan")


def cox(frame: pd.DataFrame, *, duration: str, event: str, covariates: Sequence[str], entry: str | None = None,
        ties: str = "efron", unit_id: str | None = None, alpha: float = 0.05, engine: str = "auto") -> CoxResult:
    """Cox model; terms are the covariates (log hazard ratios). ``entry`` names the start of (start, stop] rows.

    ``engine``: "auto" (= "newton", the fast path, with or without ``entry``) or "statsmodels".
    ``diagnostics["engine"]`` says which ran.
    """
    check_choice("ties", ties, ("efron", "breslow"))
    check_choice("engine", engine, ("auto", "newton", "statsmodels"))
    cols = [duration, event, *covariates] + ([entry] if entry else []) + ([unit_id] if unit_id else [])
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ParameterError(f"cox: columns {missing} not in the data.")
    data = frame[cols].dropna()
    if (data[duration] <= 0).any() and entry is None:
        raise ParameterError(f"cox: {int((data[duration] <= 0).sum())} non-positive durations in {duration!r}.")
    if entry is not None and (data[entry] >= data[duration]).any():
        raise ParameterError(f"cox: {int((data[entry] >= data[duration]).sum())} rows with {entry!r} not before "
                             f"{duration!r}; counting-process rows need start < stop.")
    n_events = int(data[event].sum())
    use_newton = engine in ("auto", "newton")
    if use_newton:
        from analysis.estimators.survival.cox_newton import fit_cox

        fit = fit_cox(data[duration].to_numpy(float), data[event].to_numpy(), data[list(covariates)].to_numpy(float),
                      entry=data[entry].to_numpy(float) if entry else None, ties=ties, names=list(covariates))
        params, se, ll = fit["params"], np.sqrt(np.diag(fit["cov"])), fit["loglik"]
    else:
        import statsmodels.api as sm

        model = sm.PHReg(data[duration].astype(float), data[list(covariates)].astype(float),
                         status=data[event].astype(float), ties=ties,
                         entry=data[entry].astype(float) if entry else None).fit()
        params, se, ll = np.asarray(model.params), np.asarray(model.bse), float(model.llf)
    n_term, n_reference = covariate_units(data, covariates, ids=data[unit_id].to_numpy() if unit_id else None)
    table = tidy_estimates(list(covariates), params, se, n=n_term, n_control=n_reference, alpha=alpha)
    table["hazard_ratio"] = np.exp(table["estimate"])
    return CoxResult(estimates=table, estimand="log hazard ratio", log_likelihood=ll,
                     spec={"duration": duration, "event": event, "ties": ties, "entry": entry},
                     diagnostics={"events": n_events, "n": len(data),
                                  "units": int(data[unit_id].nunique()) if unit_id else len(data),
                                  "engine": "newton" if use_newton else "statsmodels"})
