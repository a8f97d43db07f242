"""The classic 2x2 difference-in-differences regression, on statsmodels.

``y = a + b * treated + c * post + d * treated x post``, standard errors
clustered by unit (statsmodels' cluster-robust covariance with its default
small-sample correction, as Stata's ``regress, vce(cluster)``). ``d`` is the
DiD estimate.

Units and dominance (disclosure, issue #13): ``n`` is the number of treated
units (distinct ``cluster`` values with ``treated`` = 1 among the rows used,
after dropping rows with a missing value), ``n_control`` the comparison units.
Dominance is judged on each unit's term in the estimating sum: the
coefficient is ``a'y`` with ``a`` the interaction's row of ``(X'X)^-1 X'``
(``+-y_i / n_cell`` per row of the four cells), absolute row terms summed per
unit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm

from analysis.errors import ParameterError
from analysis.estimators.results import (
    EffectResult, contributions_by_unit, dominance_share, tidy_estimates, units_used,
)


def did_2x2(data: pd.DataFrame, *, outcome: str, treated: str, post: str, cluster: str,
            alpha: float = 0.05) -> EffectResult:
    """2x2 DiD by OLS with cluster-robust standard errors; term "ATT" is the interaction."""
    missing = [c for c in (outcome, treated, post, cluster) if c not in data.columns]
    if missing:
        raise ParameterError(f"did_2x2: columns {missing} not in the data.")
    frame = data[[outcome, treated, post, cluster]].dropna()
    dropped = len(data) - len(frame)
    for col in (treated, post):
        if not set(frame[col].unique()) <= {0, 1}:
            raise ParameterError(f"did_2x2: {col!r} must be 0/1; found {sorted(frame[col].unique())[:5]}.")
    x = pd.DataFrame({"const": 1.0, "treated": frame[treated], "post": frame[post],
                      "treated_post": frame[treated] * frame[post]}).astype(float)
    fit = sm.OLS(frame[outcome].astype(float), x).fit(cov_type="cluster",
                                                      cov_kwds={"groups": pd.factorize(frame[cluster])[0]})
    groups = frame[cluster].nunique()
    xm = x.to_numpy()
    e = np.zeros(xm.shape[1])
    e[x.columns.get_loc("treated_post")] = 1.0
    terms = (xm @ np.linalg.solve(xm.T @ xm, e)) * frame[outcome].to_numpy(float)
    ids = frame[cluster].to_numpy()
    n_treated, n_control = units_used(frame[treated].to_numpy(), ids=ids)
    table = tidy_estimates(["ATT"], [fit.params["treated_post"]], [fit.bse["treated_post"]], n=n_treated,
                           n_control=n_control, dominance=dominance_share(contributions_by_unit(terms, ids)),
                           alpha=alpha, dof=groups - 1)
    return EffectResult(estimates=table, estimand="ATT (2x2 DiD)",
                        spec={"outcome": outcome, "cluster": cluster, "alpha": alpha},
                        diagnostics={"rows_dropped_missing": dropped, "clusters": groups,
                                     "coefficients": fit.params.to_dict(), "residual_df": int(fit.df_resid)})
