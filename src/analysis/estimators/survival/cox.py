"""Cox proportional hazards with Efron (or Breslow) ties.

Two engines compute the same estimator (both reproduce R ``coxph`` on the Rossi data):

- ``engine="newton"`` (the default through "auto"): the vectorised Newton-Raphson of
  :mod:`.cox_newton`, for right-censored spells and for counting-process rows (start, stop]
  with ``entry`` (delayed entry, time-varying covariates); a million spells with monthly ties
  in about a second;
- ``engine="statsmodels"``: statsmodels' ``PHReg``, kept as the independent check the tests
  compare against (and as a fallback).

Rows at risk at t are those with entry < t <= stop (R's convention for ``Surv(start, stop, event)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, check_choice
from analysis.estimators.results import EffectResult, tidy_estimates


@dataclass(frozen=True)
class CoxResult(EffectResult):
    log_likelihood: float = float("nan")


def cox(frame: pd.DataFrame, *, duration: str, event: str, covariates: Sequence[str], entry: str | None = None,
        ties: str = "efron", alpha: float = 0.05, engine: str = "auto") -> CoxResult:
    """Cox model; terms are the covariates (log hazard ratios). ``entry`` names the start of (start, stop] rows.

    ``engine``: "auto" (= "newton", the fast path, with or without ``entry``) or "statsmodels".
    ``diagnostics["engine"]`` says which ran.
    """
    check_choice("ties", ties, ("efron", "breslow"))
    check_choice("engine", engine, ("auto", "newton", "statsmodels"))
    cols = [duration, event, *covariates] + ([entry] if entry else [])
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
    table = tidy_estimates(list(covariates), params, se, n=len(data), alpha=alpha)
    table["hazard_ratio"] = np.exp(table["estimate"])
    return CoxResult(estimates=table, estimand="log hazard ratio", log_likelihood=ll,
                     spec={"duration": duration, "event": event, "ties": ties, "entry": entry},
                     diagnostics={"events": n_events, "n": len(data),
                                  "engine": "newton" if use_newton else "statsmodels"})
