"""ATT(g,t) on an unbalanced panel, as R ``did`` with ``allow_unbalanced_panel = TRUE``.

R treats an unbalanced panel as repeated cross sections clustered by unit (``compute.att_gt2``,
``run_DRDID``): cell (g, t) with base period b uses every row of a unit of cohort g or of the
comparison cohorts observed in period t or in period b, runs ``DRDID::drdid_rc`` on those rows
and sums each unit's influence terms (scaled by units / rows used). Without covariates that
estimator is the difference of four means,

    ATT = (mean_t[treated] - mean_b[treated]) - (mean_t[comparison] - mean_b[comparison]),

each mean over the units observed in that period (weighted), and unit i's influence function is

    n * sum over its observed periods p in {t, b} of  +-w_i (y_ip - mean_p[its group]) / S_p[its group]

(S the weight total of the group in that period; + for (treated, t) and (comparison, b)). People
who die or emigrate therefore keep contributing the periods they were observed in.

Every cell is computed directly on the units (O(n) per cell); register panels with holes come from
long frames of moderate size. Covariates on an unbalanced panel are not supported (``drdid_rc``
with covariates is not implemented here): att_gt refuses them with a ParameterError.

Disclosure facts: ``n`` of a cell counts the treated units observed at both t and b (the
units behind the change; fewer than either mean rests on, so a conservative count),
``n_control`` likewise for the comparison units; an aggregate counts the distinct units
observed in a period of any of its cells. A unit's term in the estimate
is ``+-w_i y_ip / S_p`` summed over its observed periods.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.estimators.did.panel import Panel
from analysis.estimators.results import dominance_share


def unbalanced_cells(panel: Panel, grid: pd.DataFrame, control: str, anticipation: int = 0):
    """CellEstimates for ``grid`` on a panel with ``panel.observed`` (see the module docstring)."""
    from analysis.estimators.did.attgt import CellEstimates, comparison_cohorts

    obs = panel.observed
    y = np.where(obs, panel.y, 0.0)
    w, cohort, n = panel.weights, panel.cohort, len(panel.cohort)
    groups = np.unique(cohort)
    g_arr = grid["group"].to_numpy()
    ti, bi = grid["t_index"].to_numpy(), grid["base_index"].to_numpy()
    later = panel.periods[np.maximum(ti, bi)] + anticipation

    def members(k: int) -> tuple[np.ndarray, np.ndarray]:
        treat = cohort == g_arr[k]
        comp = np.isin(cohort, groups[comparison_cohorts(groups, g_arr[k], later[k], control)])
        return treat, comp

    def parts(k: int):
        """(group mask, period index, sign, mean, weight total) of the four means of cell k."""
        treat, comp = members(k)
        out = []
        for mask, p, sign in ((treat, ti[k], 1.0), (treat, bi[k], -1.0), (comp, ti[k], -1.0), (comp, bi[k], 1.0)):
            m = mask & obs[:, p]
            total = float(w[m].sum())
            mean = float(w[m] @ y[m, p]) / total if total > 0 else np.nan
            out.append((m, p, sign, mean, total))
        return out

    def influence(k: int, centred: bool = True) -> np.ndarray:
        out = np.zeros(n)
        for m, p, sign, mean, total in parts(int(k)):
            if total > 0:
                out[m] += sign * w[m] * (y[m, p] - (mean if centred else 0.0)) / total
        return n * out

    att = np.full(len(grid), np.nan)
    se = np.full(len(grid), np.nan)
    n_t = np.zeros(len(grid), dtype=int)
    n_c = np.zeros(len(grid), dtype=int)
    dominance = np.full(len(grid), np.nan)
    for k in range(len(grid)):
        four = parts(k)
        n_t[k] = int((four[0][0] & four[1][0]).sum())    # observed at t and at the base period
        n_c[k] = int((four[2][0] & four[3][0]).sum())
        if all(total > 0 for *_, total in four):
            att[k] = sum(sign * mean for _, _, sign, mean, _ in four)
            inf = influence(k)
            se[k] = np.sqrt(inf @ inf) / n
            dominance[k] = dominance_share(influence(k, centred=False))

    def influence_sum(idx: np.ndarray, weights: np.ndarray, centred: bool = True) -> np.ndarray:
        out = np.zeros(n)
        for k, a in zip(np.asarray(idx, dtype=int), np.asarray(weights, dtype=float)):
            out += a * influence(int(k), centred)
        return out

    def units_used(idx: np.ndarray) -> tuple[int, int]:
        treated = np.zeros(n, dtype=bool)
        compared = np.zeros(n, dtype=bool)
        for k in np.asarray(idx, dtype=int):
            t_mask, c_mask = members(int(k))
            seen = obs[:, ti[k]] | obs[:, bi[k]]
            treated |= t_mask & seen
            compared |= c_mask & seen
        return int(treated.sum()), int(compared.sum())

    return CellEstimates(att=att, std_error=se, n_treated=n_t, n_control=n_c, influence=influence,
                         influence_sum=influence_sum, engine="unbalanced: four means per cell (R drdid_rc)",
                         dominance=dominance, units_used=units_used)
