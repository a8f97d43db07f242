"""Discrete-time hazard models: a logit on person-period data.

Register durations come in whole months, so the hazard of leaving bijstand in month
k given that one is still in it at the start of month k is a probability; a logit of
the monthly exit indicator on period terms and covariates (Allison 1982; Singer &
Willett 2003, ch. 11) estimates it, and covariates may change from period to period.
The fit is statsmodels' ``GLM`` (binomial, logit link) with standard errors clustered
by spell (or ``unit``), because one spell contributes many rows. The person-period
expansion is a vectorised ``np.repeat``: one row per spell and month at risk.

Units (disclosure, issue #13): a term's ``n`` is the number of spells (or
``unit`` values) with a non-zero value of its covariate in some period (for a
dummy: the units in that level), ``n_control`` for a 0/1 covariate the units
at 0 (NA otherwise); ``dominance`` is NaN (a log odds ratio is not a sum of
amounts).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, check_choice
from analysis.estimators.results import EffectResult, covariate_units, tidy_estimates

BASELINES = ("dummies", "linear", "log")


def person_periods(frame: pd.DataFrame, *, duration: str, event: str, keep: Sequence[str] = ()) -> pd.DataFrame:
    """One row per spell and period at risk (1..duration): ``period``, ``exit`` (the event, in the last
    period of an uncensored spell only), ``spell`` (the row of ``frame``) and the ``keep`` columns."""
    d = frame[duration].to_numpy()
    if (d < 1).any() or not np.all(np.equal(np.mod(d, 1), 0)):
        raise ParameterError(f"person_periods: {duration!r} must hold whole periods >= 1.")
    d = d.astype(np.int64)
    spell = np.repeat(np.arange(len(frame)), d)
    ends = np.cumsum(d)
    period = np.arange(ends[-1] if len(d) else 0) - np.repeat(ends - d, d) + 1
    last = period == d[spell]
    out = pd.DataFrame({"spell": spell, "period": period,
                        "exit": (last & (frame[event].to_numpy()[spell] != 0)).astype(np.int8)})
    for col in keep:
        out[col] = frame[col].to_numpy()[spell]
    return out


def discrete_hazard(frame: pd.DataFrame, *, duration: str, event: str, covariates: Sequence[str] = (),
                    baseline: str = "dummies", unit: str | None = None, person_period: bool = False,
                    alpha: float = 0.05) -> EffectResult:
    """Logit hazard model; terms are the covariates (log odds ratios of the period hazard).

    ``frame`` holds one row per spell (``duration`` periods, ``event`` 1/0), or, with
    ``person_period=True``, is already person-period data (``duration`` then names the period
    column and ``event`` the per-period exit indicator). ``baseline``: one dummy per period
    ("dummies", the life-table hazard), or a linear or log term in the period.
    ``diagnostics["hazard"]`` holds the fitted baseline hazard per period at covariates 0.
    """
    import statsmodels.api as sm

    check_choice("baseline", baseline, BASELINES)
    cols = [duration, event, *covariates] + ([unit] if unit else [])
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ParameterError(f"discrete_hazard: columns {missing} not in the data.")
    data = frame[cols].dropna().reset_index(drop=True)
    if person_period:
        pp = data.rename(columns={duration: "period", event: "exit"})
        pp["spell"] = pp[unit] if unit else np.arange(len(pp))
    else:
        pp = person_periods(data, duration=duration, event=event, keep=[*covariates] + ([unit] if unit else []))
    periods = np.sort(pp["period"].unique())
    if baseline == "dummies":
        base = pd.get_dummies(pp["period"], prefix="period", dtype=float)
    elif baseline == "linear":
        base = pd.DataFrame({"const": 1.0, "period": pp["period"].astype(float)})
    else:
        base = pd.DataFrame({"const": 1.0, "log_period": np.log(pp["period"].astype(float))})
    X = pd.concat([base, pp[list(covariates)].astype(float)], axis=1)
    groups = pd.factorize(pp[unit] if unit else pp["spell"])[0]
    model = sm.GLM(pp["exit"].astype(float), X, family=sm.families.Binomial())
    fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
    terms = list(covariates)
    n_term, n_reference = covariate_units(pp, terms, ids=groups)
    table = tidy_estimates(terms, fit.params[terms].to_numpy(), fit.bse[terms].to_numpy(),
                           n=n_term, n_control=n_reference, alpha=alpha)
    table["odds_ratio"] = np.exp(table["estimate"])
    grid = pd.DataFrame({"period": periods})
    if baseline == "dummies":
        eta = np.array([fit.params[f"period_{p}"] for p in periods])
    elif baseline == "linear":
        eta = fit.params["const"] + fit.params["period"] * periods
    else:
        eta = fit.params["const"] + fit.params["log_period"] * np.log(periods)
    grid["hazard"] = 1 / (1 + np.exp(-eta))
    return EffectResult(estimates=table, estimand="log odds ratio of the period hazard",
                        spec={"duration": duration, "event": event, "baseline": baseline, "unit": unit,
                              "covariates": list(covariates), "cluster": unit or "spell"},
                        diagnostics={"hazard": grid, "person_periods": len(pp), "events": int(pp["exit"].sum()),
                                     "params": fit.params, "converged": bool(fit.converged)})
