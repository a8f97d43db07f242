"""The group-time result of :func:`att_gt`, its aggregations (R ``did::aggte``) and the pre-trend test."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    cohorts: np.ndarray | None = field(default=None, repr=False, compare=False)
    weights: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def n_units(self) -> int:
        return int(len(self.cohorts))

    def _influence_matrix(self, idx) -> np.ndarray:
        return np.column_stack([self.influence(int(k)) for k in idx]) if len(idx) else np.zeros((self.n_units, 0))

    def _group_probability(self) -> pd.Series:
        w = self.weights
        groups = np.sort(self.estimates["group"].unique())
        return pd.Series([float(np.mean(w * (self.cohorts == g))) for g in groups], index=groups)

    def _wif_times_att(self, idx, att: np.ndarray) -> np.ndarray:
        """Estimation effect of the weights P(G=g)/sum P(G=g) (R did's ``wif``) times ATT."""
        pg_all = self._group_probability()
        groups = self.estimates["group"].to_numpy()[idx]
        pg = pg_all.loc[groups].to_numpy()
        total = pg.sum()
        ind = np.column_stack([self.weights * (self.cohorts == g) for g in groups])
        centred = ind - pg[None, :]
        if1 = centred / total
        if2 = centred.sum(axis=1)[:, None] * (pg / total ** 2)[None, :]
        return (if1 - if2) @ att

    def _se(self, inf: np.ndarray) -> float:
        n = self.n_units
        return float(np.sqrt(np.sum(inf ** 2)) / n)

    def _combine(self, idx, weights, *, with_wif: bool):
        att = self.estimates["estimate"].to_numpy()[idx]
        inf = self._influence_matrix(idx) @ weights
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
            ind = np.column_stack([self.weights * (self.cohorts == g) for g, _, _ in per_g])
            centred = ind - pgg[None, :]
            wif = centred / pgg.sum() - centred.sum(axis=1)[:, None] * (pgg / pgg.sum() ** 2)[None, :]
            overall_inf = inf_g @ (pgg / pgg.sum()) + wif @ att_g
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
        inf = np.zeros(self.n_units)
        for k, w in zip(idx, weights[idx]):
            inf += w * self.influence(int(k))
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


def uniform_critical_value(inf: np.ndarray, *, alpha: float, iterations: int = 999, seed: int = 0) -> float:
    """Sup-t critical value from the multiplier bootstrap with Mammen weights (as R did's ``mboot``)."""
    n, k = inf.shape
    if k == 0:
        return float(stats.norm.ppf(1 - alpha / 2))
    rng = np.random.default_rng(seed)
    sq5 = np.sqrt(5.0)
    p = (sq5 + 1) / (2 * sq5)
    draws = np.empty((iterations, k))
    chunk = max(1, int(2e7 // max(n, 1)))
    for start in range(0, iterations, chunk):
        m = min(chunk, iterations - start)
        v = np.where(rng.random((m, n)) < p, (1 - sq5) / 2, (1 + sq5) / 2)
        draws[start:start + m] = v @ inf / n
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
