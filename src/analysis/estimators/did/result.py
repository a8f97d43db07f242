"""The group-time result of :func:`att_gt`, its aggregations (R ``did::aggte``) and the pre-trend test."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import check_choice
from analysis.estimators.results import EffectResult, tidy_estimates

KINDS = ("simple", "group", "dynamic", "calendar")


@dataclass(frozen=True)
class GroupTimeResult(EffectResult):
    """ATT(g,t) per cell; ``aggregate(kind)`` and ``pretrend_test()`` derive from it.

    ``estimates`` is indexed by "ATT(g,t)" with extra columns group, time, event_time.
    The influence function of a cell is recomputed on demand (``influence(k)``), so
    memory stays O(n x T) at register scale.
    """

    influence: Callable[[int], np.ndarray] | None = field(default=None, repr=False, compare=False)
    #: (cells, weights) -> sum_k weights[k] * influence(cells[k]), without an n x cells matrix
    influence_sum: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = field(default=None, repr=False,
                                                                                compare=False)
    cohorts: np.ndarray | None = field(default=None, repr=False, compare=False)
    weights: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def n_units(self) -> int:
        return int(len(self.cohorts))

    def _influence_matrix(self, idx) -> np.ndarray:
        return np.column_stack([self.influence(int(k)) for k in idx]) if len(idx) else np.zeros((self.n_units, 0))

    def _group_probability(self) -> pd.Series:
        return self._cohort_shares

    @cached_property
    def _cohort_shares(self) -> pd.Series:
        """P(G = g) per estimated cohort: mean over units of w_i 1{G_i = g}."""
        groups = np.sort(self.estimates["group"].unique())
        uniq, inv = np.unique(self.cohorts, return_inverse=True)
        share = pd.Series(np.bincount(inv, self.weights, len(uniq)) / self.n_units, index=uniq)
        return pd.Series(share.reindex(groups, fill_value=0.0).to_numpy(), index=groups)

    def _weighted_influence(self, idx, weights) -> np.ndarray:
        idx = np.asarray(idx, dtype=int)
        if self.influence_sum is not None:
            return self.influence_sum(idx, np.asarray(weights, dtype=float))
        out = np.zeros(self.n_units)
        for k, w in zip(idx, weights):
            out += w * self.influence(int(k))
        return out

    def _wif_times_att(self, idx, att: np.ndarray) -> np.ndarray:
        """Estimation effect of the weights P(G=g)/sum P(G=g) (R did's ``wif``) times ATT.

        R forms the n x cells matrix of (1{G_i = g_k} w_i - P(G=g_k)); the product with ATT
        only needs, per cohort, the summed ATT and the number of cells, so it is O(n).
        """
        groups = self.estimates["group"].to_numpy()[idx]
        return _wif_att(self.cohorts, self.weights, groups, self._group_probability().loc[groups].to_numpy(), att)

    def _se(self, inf: np.ndarray) -> float:
        n = self.n_units
        return float(np.sqrt(np.sum(inf ** 2)) / n)

    def _combine(self, idx, weights, *, with_wif: bool):
        att = self.estimates["estimate"].to_numpy()[idx]
        inf = self._weighted_influence(idx, weights)
        if with_wif:
            inf = inf + self._wif_times_att(idx, att)
        return float(att @ weights), inf

    def aggregate(self, kind: str = "simple", *, min_e: float = -np.inf, max_e: float = np.inf,
                  balance_e: int | None = None, alpha: float | None = None, bootstrap_iterations: int = 999,
                  seed: int | None = None) -> EffectResult:
        """Aggregate ATT(g,t) as R ``did::aggte(type = kind)``; the overall effect is term "ATT"."""
        check_choice("kind", kind, KINDS)
        alpha = self.spec.get("alpha", 0.05) if alpha is None else alpha
        seed = self.spec.get("seed", 0) if seed is None else seed
        est = self.estimates
        group, time, e = est["group"].to_numpy(), est["time"].to_numpy(), est["event_time"].to_numpy()
        pg_cell = self._group_probability().loc[group].to_numpy()
        post = np.flatnonzero(time >= group)
        terms, values, infs, counts = [], [], [], []

        def n_of(idx):
            return int(np.isin(self.cohorts, np.unique(group[idx])).sum())

        if kind == "simple":
            w = pg_cell[post] / pg_cell[post].sum()
            att, inf = self._combine(post, w, with_wif=True)
            terms, values, infs, counts = ["ATT"], [att], [inf], [n_of(post)]
        elif kind == "group":
            gs = np.sort(np.unique(group))
            per_g = []
            for g in gs:
                idx = post[group[post] == g]
                if len(idx) == 0:
                    continue
                att, inf = self._combine(idx, np.full(len(idx), 1 / len(idx)), with_wif=False)
                per_g.append((g, att, inf))
            pgg = self._group_probability().loc[[g for g, _, _ in per_g]].to_numpy()
            att_g = np.array([a for _, a, _ in per_g])
            inf_g = np.column_stack([i for _, _, i in per_g])
            overall_att = float(att_g @ (pgg / pgg.sum()))
            wif = _wif_att(self.cohorts, self.weights, np.array([g for g, _, _ in per_g]), pgg, att_g)
            overall_inf = inf_g @ (pgg / pgg.sum()) + wif
            terms = [f"g={_fmt(g)}" for g, _, _ in per_g] + ["ATT"]
            values = list(att_g) + [overall_att]
            infs = [i for _, _, i in per_g] + [overall_inf]
            counts = [int((self.cohorts == g).sum()) for g, _, _ in per_g] + [int(np.isin(self.cohorts, gs).sum())]
        elif kind == "dynamic":
            keep = (e >= min_e) & (e <= max_e)
            if balance_e is not None:
                last_t = time.max()
                keep &= (last_t - group) >= balance_e
                keep &= e <= balance_e
            es = np.sort(np.unique(e[keep]))
            for ev in es:
                idx = np.flatnonzero(keep & (e == ev))
                w = pg_cell[idx] / pg_cell[idx].sum()
                att, inf = self._combine(idx, w, with_wif=True)
                terms.append(f"e={_fmt(ev)}")
                values.append(att)
                infs.append(inf)
                counts.append(n_of(idx))
            pos = [i for i, ev in enumerate(es) if ev >= 0]
            if pos:
                values.append(float(np.mean([values[i] for i in pos])))
                infs.append(np.mean([infs[i] for i in pos], axis=0))
                terms.append("ATT")
                counts.append(n_of(np.flatnonzero(keep & (e >= 0))))
        else:  # calendar
            ts = np.sort(np.unique(time[post]))
            for tt in ts:
                idx = post[time[post] == tt]
                w = pg_cell[idx] / pg_cell[idx].sum()
                att, inf = self._combine(idx, w, with_wif=True)
                terms.append(f"t={_fmt(tt)}")
                values.append(att)
                infs.append(inf)
                counts.append(n_of(idx))
            values.append(float(np.mean(values)))
            infs.append(np.mean(infs, axis=0))
            terms.append("ATT")
            counts.append(n_of(post))
        inf_mat = np.column_stack(infs)
        se = np.sqrt((inf_mat ** 2).sum(axis=0)) / self.n_units
        table = tidy_estimates(terms, values, se, n=counts, alpha=alpha)
        detail = [t for t in terms if t != "ATT"]
        diagnostics = dict(self.diagnostics)
        if kind == "dynamic" and detail:
            crit = uniform_critical_value(inf_mat[:, :len(detail)], alpha=alpha, iterations=bootstrap_iterations,
                                          seed=seed)
            table["band_lower"] = table["estimate"] - crit * table["std_error"]
            table["band_upper"] = table["estimate"] + crit * table["std_error"]
            table.loc["ATT", ["band_lower", "band_upper"]] = table.loc["ATT", ["ci_lower", "ci_upper"]].to_numpy() \
                if "ATT" in table.index else np.nan
            table["event_time"] = [float(t[2:]) if t.startswith("e=") else np.nan for t in table.index]
            diagnostics["uniform_critical_value"] = crit
        estimand = {"simple": "ATT (simple)", "group": "ATT(g)", "dynamic": "ATT(e)", "calendar": "ATT(t)"}[kind]
        return EffectResult(estimates=table, estimand=estimand,
                            spec={**self.spec, "aggregation": kind, "min_e": min_e, "max_e": max_e,
                                  "balance_e": balance_e},
                            diagnostics={**diagnostics, "influence": inf_mat})

    def linear_combination(self, weights: np.ndarray) -> tuple[float, float, np.ndarray]:
        """Estimate, standard error and influence function of sum_k weights[k] * ATT(cell k), fixed weights.

        For totals such as the number of extra events among the treated (weights = cohort sizes).
        """
        weights = np.asarray(weights, dtype=float)
        idx = np.flatnonzero(weights != 0)
        att = self.estimates["estimate"].to_numpy()[idx]
        inf = self._weighted_influence(idx, weights[idx])
        return float(att @ weights[idx]), self._se(inf), inf

    def pretrend_test(self, *, max_cells: int = 400) -> dict:
        """Wald test that all pre-treatment ATT(g,t) are zero (R did's pre-test, W and its p-value).

        With more than ``max_cells`` pre-treatment cells (monthly register panels), the test is
        run on the pre-treatment event-time effects of the dynamic aggregation instead, and
        says so in ``"basis"``.
        """
        est = self.estimates
        pre = np.flatnonzero(est["time"].to_numpy() < est["group"].to_numpy())
        if len(pre) == 0:
            return {"W": np.nan, "df": 0, "p_value": np.nan, "basis": "no pre-treatment cells"}
        if len(pre) <= max_cells:
            att = est["estimate"].to_numpy()[pre]
            inf = self._influence_matrix(pre)
            basis = "pre-treatment ATT(g,t)"
        else:
            dyn = self.aggregate("dynamic", max_e=-1)
            rows = [i for i, t in enumerate(dyn.estimates.index) if t.startswith("e=")]
            att = dyn.estimates["estimate"].to_numpy()[rows]
            inf = dyn.diagnostics["influence"][:, rows]
            basis = "pre-treatment event-time effects ATT(e), e < 0"
        n = self.n_units
        v = inf.T @ inf / n
        keep = np.diag(v) > 0
        att, v = att[keep], v[np.ix_(keep, keep)]
        w = float(n * att @ np.linalg.pinv(v) @ att)
        df = int(keep.sum())
        return {"W": w, "df": df, "p_value": float(stats.chi2.sf(w, df)), "basis": basis}

    def plot(self, ax=None, **kwargs):
        return event_plot(self.aggregate("dynamic"), ax=ax, **kwargs)


def _wif_att(cohorts: np.ndarray, unit_weights: np.ndarray, groups: np.ndarray, pg: np.ndarray,
             att: np.ndarray) -> np.ndarray:
    """sum_k wif_k * att_k for terms k with cohort groups[k], P(G = groups[k]) = pg[k] (R did's ``wif``).

    wif_k,i = (c_ik - pg_k) / S - (sum_j (c_ij - pg_j)) pg_k / S^2 with c_ik = w_i 1{G_i = g_k}, S = sum pg.
    """
    total = pg.sum()
    uniq, inv = np.unique(groups, return_inverse=True)
    att_by_g = np.bincount(inv, att, len(uniq))
    cells_by_g = np.bincount(inv, minlength=len(uniq)).astype(float)
    pos = np.clip(np.searchsorted(uniq, cohorts), 0, len(uniq) - 1)
    member = uniq[pos] == cohorts
    sum_c_att = np.where(member, unit_weights * att_by_g[pos], 0.0)   # sum_k c_ik att_k
    sum_c = np.where(member, unit_weights * cells_by_g[pos], 0.0)      # sum_j c_ij
    pg_att = pg @ att
    return (sum_c_att - pg_att) / total - (sum_c - total) * pg_att / total ** 2


def uniform_critical_value(inf: np.ndarray, *, alpha: float, iterations: int = 999, seed: int = 0) -> float:
    """Sup-t critical value from the multiplier bootstrap with Mammen weights (as R did's ``mboot``)."""
    n, k = inf.shape
    if k == 0:
        return float(stats.norm.ppf(1 - alpha / 2))
    rng = np.random.default_rng(seed)
    sq5 = np.sqrt(5.0)
    p = (sq5 + 1) / (2 * sq5)
    low, high = (1 - sq5) / 2, (1 + sq5) / 2
    # v_i = low with probability p, else high: v = high + (low - high) * 1{u_i < p}. Draws in float32
    # into reused buffers (the bootstrap's cost is drawing n x iterations uniforms; Monte Carlo error
    # of 999 draws dwarfs float32 rounding).
    inf32 = inf.astype(np.float32)
    total = inf.sum(axis=0)
    draws = np.empty((iterations, k))
    chunk = max(1, min(iterations, int(2e7 // max(n, 1))))
    uniform = np.empty((chunk, n), dtype=np.float32)
    low_draw = np.empty((chunk, n), dtype=np.float32)
    for start in range(0, iterations, chunk):
        m = min(chunk, iterations - start)
        rng.random(out=uniform[:m], dtype=np.float32)
        np.less(uniform[:m], np.float32(p), out=low_draw[:m])
        draws[start:start + m] = (high * total + (low - high) * (low_draw[:m] @ inf32)) / n
    boot = np.sqrt(n) * draws
    q75, q25 = np.quantile(boot, 0.75, axis=0), np.quantile(boot, 0.25, axis=0)
    sigma = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    ok = sigma > 0
    t_max = np.max(np.abs(boot[:, ok] / sigma[ok]), axis=1)
    return float(np.quantile(t_max, 1 - alpha))


def event_plot(result: EffectResult, *, ax=None, xlabel: str = "Event time", ylabel: str = "ATT(e)",
               reference: float | None = -0.5, title: str | None = None, **kwargs):
    from analysis.report.figures import event_study_plot

    frame = result.estimates.drop(index="ATT", errors="ignore").copy()
    frame["event_time"] = [float(t[2:]) for t in frame.index]
    return event_study_plot(frame, ylabel=ylabel, xlabel=xlabel, reference=None if reference is None else reference - 0.5,
                            title=title, ax=ax, **kwargs)


def _fmt(v) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else str(v)
