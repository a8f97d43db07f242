"""Cox proportional hazards with Efron (or Breslow) ties, on statsmodels.

statsmodels' ``PHReg`` reproduces R ``coxph`` (Efron ties) on the Rossi data
to the printed digits and takes entry times, so counting-process data
(start, stop] with time-varying covariates and delayed entry use the same
call. This module wraps it in the house results object. (A hand-written fast
path for millions of spells is future work: see the README.)
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
        ties: str = "efron", alpha: float = 0.05) -> CoxResult:
    """Cox model; terms are the covariates (log hazard ratios). ``entry`` names the start of (start, stop] rows."""
    check_choice("ties", ties, ("efron", "breslow"))
    cols = [duration, event, *covariates] + ([entry] if entry else [])
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ParameterError(f"cox: columns {missing} not in the data.")
    data = frame[cols].dropna()
    if (data[duration] <= 0).any() and entry is None:
        raise ParameterError(f"cox: {int((data[duration] <= 0).sum())} non-positive durations in {duration!r}.")
    n_events = int(data[event].sum())
    import statsmodels.api as sm

    model = sm.PHReg(data[duration].astype(float), data[list(covariates)].astype(float),
                     status=data[event].astype(float), ties=ties,
                     entry=data[entry].astype(float) if entry else None).fit()
    params, se, ll = np.asarray(model.params), np.asarray(model.bse), float(model.llf)
    table = tidy_estimates(list(covariates), params, se, n=len(data), alpha=alpha)
    table["hazard_ratio"] = np.exp(table["estimate"])
    return CoxResult(estimates=table, estimand="log hazard ratio", log_likelihood=ll,
                     spec={"duration": duration, "event": event, "ties": ties, "entry": entry},
                     diagnostics={"events": n_events, "n": len(data)})
