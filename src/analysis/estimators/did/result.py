"""The group-time result of :func:`att_gt`, its aggregations (R ``did::aggte``) and the pre-trend test."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Mapping

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from analysis.errors import check_choice
from analysis.estimators.results import EffectResult, dominance_share, tidy_estimates

KINDS = ("simple", "group", "dynamic", "calendar")
#: R did's rule: a standard error at or below sqrt(machine eps) * 10 is reported as NA
ZERO_SE = np.sqrt(np.finfo(float).eps) * 10


@dataclass(frozen=True)
class DynamicResult(EffectResult):
    """Effects by event time (an event study or the dynamic aggregation) with their covariance.

    ``vcov``: covariance of the event-time terms (a DataFrame indexed and labelled by term, as
    ``estimates``), from the influence functions (att_gt) or the clustered regression (event_study);
    what ``honest_did`` and the Wald pre-test need.
    """

    @property
    def vcov(self) -> pd.DataFrame:
        return self.diagnostics["vcov"]


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
    #: cells -> (distinct treated units, distinct comparison units) those cells use
    units_used: Callable[[np.ndarray], tuple[int, int]] | None = field(default=None, repr=False, compare=False)
    #: [(cells, weights), ...], centred -> n x len(pairs): many weighted influence sums in one pass over the
    #: data (estimators whose cells are costly to recompute, e.g. the at-risk design's cohort models)
    influence_batch: Callable[[list, bool], np.ndarray] | None = field(default=None, repr=False, compare=False)
    #: cluster of each unit (R did's ``clustervars``); None: clustered by unit
    clusters: np.ndarray | None = field(default=None, repr=False, compare=False)

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

    @cached_property
    def _cluster_codes(self) -> np.ndarray | None:
        """Cluster code per unit (``clusters``), or None when standard errors are clustered by unit."""
        if self.clusters is None:
            return None
        return np.unique(np.asarray(self.clusters), return_inverse=True)[1].ravel()

    def _cluster_sums(self, inf: np.ndarray) -> np.ndarray:
        """Influence terms summed within clusters (rows: clusters); the unit terms themselves without clusters."""
        codes = self._cluster_codes
        if codes is None:
            return inf
        inf2 = inf.reshape(len(inf), -1)
        out = np.zeros((codes.max() + 1, inf2.shape[1]))
        np.add.at(out, codes, inf2)
        return out.reshape((-1,) + inf.shape[1:])

    def _se(self, inf: np.ndarray) -> float:
        """sqrt(sum of squared (cluster sums of) influence terms) / n, as R did's analytic getSE."""
        return float(np.sqrt(np.sum(self._cluster_sums(inf) ** 2)) / self.n_units)

    def vcov_of(self, inf: np.ndarray, terms) -> pd.DataFrame:
        """Covariance of the terms whose influence functions are the columns of ``inf`` (clustered as the SE)."""
        sums = self._cluster_sums(inf)
        v = sums.T @ sums / self.n_units ** 2
        return pd.DataFrame(v, index=pd.Index(list(terms), name="term"), columns=list(terms))

    def _dominance(self, idx, weights) -> float:
        """Top-2 share of the units' absolute terms in sum_k weights[k] ATT(cell idx[k]) (weights held fixed)."""
        if self.influence_sum is None:
            return float("nan")
        return dominance_share(self.influence_sum(np.asarray(idx, dtype=int), np.asarray(weights, dtype=float),
                                                  False))

    def _pair_influences(self, pairs, need_influence) -> tuple[list, list]:
        """Influence function (n-vector; None where ``need_influence`` is False) and dominance of each
        (cells, weights) pair: in one pass over the estimator's cells when it offers ``influence_batch``
        (each cohort's model applied once for every pair), else pair by pair."""
        if self.influence_batch is not None and pairs:
            inf, unit_terms = self.influence_batch(pairs)
            return ([inf[:, j] if need else None for j, need in enumerate(need_influence)],
                    [dominance_share(unit_terms[:, j]) for j in range(len(pairs))])
        infs = [self._weighted_influence(idx, w) if need else None for (idx, w), need in zip(pairs, need_influence)]
        return infs, [self._dominance(idx, w) for idx, w in pairs]

    def _units_of(self, idx) -> tuple[int, int | None]:
        """Distinct treated and comparison units behind the cells ``idx`` (cohort counts without a map)."""
        idx = np.asarray(idx, dtype=int)
        if self.units_used is not None:
            return self.units_used(idx)
        groups = np.unique(self.estimates["group"].to_numpy()[idx])
        return int(np.isin(self.cohorts, groups).sum()), None

    def aggregate(self, kind: str = "simple", *, min_e: float = -np.inf, max_e: float = np.inf,
                  balance_e: int | None = None, alpha: float | None = None, bootstrap_iterations: int = 999,
                  seed: int | None = None) -> EffectResult:
        """Aggregate ATT(g,t) as R ``did::aggte(type = kind)``; the overall effect is term "ATT".

        As R: ``max_e`` limits the post-treatment cells of the simple and group aggregations to
        ``t - g <= max_e``; ``min_e``, ``max_e`` and ``balance_e`` select event times of the dynamic one.
        Every term carries ``n`` (distinct treated units in the cells it combines), ``n_control``
        (distinct comparison units of those cells) and ``dominance`` (top-2 share of the absolute
        influence-function terms of that term, estimated weights included). The dynamic aggregation
        has ``vcov`` (covariance of its terms, from the influence functions) in its diagnostics.
        """
        check_choice("kind", kind, KINDS)
        # many skinny matrix products: multi-threaded OpenBLAS spends more time synchronising than
        # computing on them (20x slower measured on the loaded 2-core machine), as in event_study
        with threadpool_limits(limits=1, user_api="blas"):
            return self._aggregate(kind, min_e=min_e, max_e=max_e, balance_e=balance_e, alpha=alpha,
                                   bootstrap_iterations=bootstrap_iterations, seed=seed)

    def _aggregate(self, kind, *, min_e, max_e, balance_e, alpha, bootstrap_iterations, seed) -> EffectResult:
        alpha = self.spec.get("alpha", 0.05) if alpha is None else alpha
        seed = self.spec.get("seed", 0) if seed is None else seed
        est = self.estimates
        group, time, e = est["group"].to_numpy(), est["time"].to_numpy(), est["event_time"].to_numpy()
        pg_cell = self._group_probability().loc[group].to_numpy()
        post = np.flatnonzero((time >= group) & (e <= max_e))
        att_all = est["estimate"].to_numpy()
        # Every term is a weighted sum of cells (a "pair": cells, weights), with the estimation effect of the
        # cohort shares (wif) added where the weights are estimated; an overall "ATT" combines other terms.
        # The influence functions (for standard errors, vcov, bands) and the units' terms (for dominance) of
        # all pairs come from one pass over the cells (``_pair_influences``).
        specs = []          # (term, cells, weights, with_wif, parts): parts None, or [(term index, weight)]

        def mean_of(rows):
            """The cell combination of the mean of the terms ``rows``."""
            return (np.concatenate([specs[i][1] for i in rows]),
                    np.concatenate([specs[i][2] / len(rows) for i in rows]))

        if kind == "simple":
            specs.append(("ATT", post, pg_cell[post] / pg_cell[post].sum(), True, None))
        elif kind == "group":
            gs = [g for g in np.sort(np.unique(group)) if (group[post] == g).any()]
            for g in gs:
                idx = post[group[post] == g]
                specs.append((f"g={_fmt(g)}", idx, np.full(len(idx), 1 / len(idx)), False, None))
            pgg = self._group_probability().loc[gs].to_numpy()
            share = pgg / pgg.sum()
            specs.append(("ATT", np.concatenate([sp[1] for sp in specs]),
                          np.concatenate([sp[2] * s_g for sp, s_g in zip(specs, share)]), "group",
                          list(zip(range(len(gs)), share))))
        elif kind == "dynamic":
            keep = (e >= min_e) & (e <= max_e)
            if balance_e is not None:
                span = max(time.max(), group.max()) - min(time.min(), group.min())
                keep &= (max(time.max(), group.max()) - group) >= balance_e
                keep &= (e <= balance_e) & (e >= balance_e - span)
            es = np.sort(np.unique(e[keep]))
            for ev in es:
                idx = np.flatnonzero(keep & (e == ev))
                specs.append((f"e={_fmt(ev)}", idx, pg_cell[idx] / pg_cell[idx].sum(), True, None))
            pos = [i for i, ev in enumerate(es) if ev >= 0]
            if pos:
                specs.append(("ATT", *mean_of(pos), False, [(i, 1 / len(pos)) for i in pos]))
        else:  # calendar
            ts = np.sort(np.unique(time[post]))
            for tt in ts:
                idx = post[time[post] == tt]
                specs.append((f"t={_fmt(tt)}", idx, pg_cell[idx] / pg_cell[idx].sum(), True, None))
            specs.append(("ATT", *mean_of(list(range(len(ts)))), False, [(i, 1 / len(ts)) for i in range(len(ts))]))
        pair_inf, pair_dominance = self._pair_influences([(idx, w) for _, idx, w, _, parts in specs],
                                                         [parts is None for *_, parts in specs])
        terms, values, infs, combos = [], [], [], []
        for j, (term, idx, w, with_wif, parts) in enumerate(specs):
            if parts is None:
                value, inf = float(att_all[idx] @ w), pair_inf[j]
                if with_wif:
                    inf = inf + self._wif_times_att(idx, att_all[idx])
            elif with_wif == "group":   # sum_g share_g ATT(g), with the estimated shares' wif (R aggte)
                att_g = np.array([values[i] for i, _ in parts])
                value = float(att_g @ share)
                inf = np.column_stack([infs[i] for i, _ in parts]) @ share \
                    + _wif_att(self.cohorts, self.weights, np.array(gs), pgg, att_g)
            else:                       # the mean of the terms ``parts``
                value = float(np.mean([values[i] for i, _ in parts]))
                inf = np.mean([infs[i] for i, _ in parts], axis=0)
            terms.append(term)
            values.append(value)
            infs.append(inf)
            combos.append((np.asarray(idx, dtype=int), np.asarray(w, dtype=float)))
        inf_mat = np.column_stack(infs)
        se = np.sqrt((self._cluster_sums(inf_mat) ** 2).sum(axis=0)) / self.n_units
        se[se <= ZERO_SE] = np.nan   # R's aggte: a zero standard error (a reference term) is NA
        units = [self._units_of(idx) for idx, _ in combos]
        table = tidy_estimates(terms, values, se, n=[u[0] for u in units], n_control=[u[1] for u in units],
                               dominance=pair_dominance, alpha=alpha)
        detail = [t for t in terms if t != "ATT"]
        diagnostics = dict(self.diagnostics)
        if kind == "dynamic" and detail:
            crit = uniform_critical_value(self._cluster_sums(inf_mat[:, :len(detail)]), alpha=alpha,
                                          iterations=bootstrap_iterations, seed=seed)
            table["band_lower"] = table["estimate"] - crit * table["std_error"]
            table["band_upper"] = table["estimate"] + crit * table["std_error"]
            table.loc["ATT", ["band_lower", "band_upper"]] = table.loc["ATT", ["ci_lower", "ci_upper"]].to_numpy() \
                if "ATT" in table.index else np.nan
            table["event_time"] = [float(t[2:]) if t.startswith("e=") else np.nan for t in table.index]
            diagnostics["uniform_critical_value"] = crit
            diagnostics["vcov"] = self.vcov_of(inf_mat[:, :len(detail)], detail)
        estimand = {"simple": "ATT (simple)", "group": "ATT(g)", "dynamic": "ATT(e)", "calendar": "ATT(t)"}[kind]
        result_type = DynamicResult if kind == "dynamic" and detail else EffectResult
        return result_type(estimates=table, estimand=estimand,
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

    def pretrend_test(self, *, max_cells: int = 400, min_units: int | None = None) -> dict:
        """Wald test that all pre-treatment effects are zero (R did's pre-test, W and its p-value).

        The test runs on the pre-treatment ATT(g,t), as R does, when that is sound: at most
        ``max_cells`` cells, each resting on ``min_units`` (default :data:`MIN_TEST_UNITS`) or more treated units, whose covariance
        is regular and well conditioned. Otherwise it runs on the pre-treatment event-time effects
        ATT(e), e < 0, of the dynamic aggregation (those resting on ``min_units`` or more treated
        units), and says so in ``"basis"``. The reason is measured, not cosmetic: with monthly
        register cohorts of a few persons each, the covariance of hundreds of cells is estimated
        from barely more units than cells; its smallest eigenvalues are noise and the Wald
        statistic divides by them. Under parallel trends such a cell-level test rejected in 20 of
        20 simulated panels (13 cohorts of 10 units, 156 cells; tests/estimators/test_pretrend_basis.py).
        The event-time test has the same problem in a milder form (18 effects whose covariance
        rests on 130 treated units: 17 % rejections at 5 %), so its p-value uses Hotelling's
        finite-sample reference (``wald_test(hotelling_n=...)``, n the treated units behind the
        effects), which holds the nominal rate there and tends to R's chi-square as n grows. Cells without variance (a universal base
        period's reference cell) are left out, as R does. When the covariance of the effects tested
        is singular (R refuses the test then: "singular covariance matrix"), the statistic uses its
        pseudo-inverse and ``df`` is its rank; ``"rank_deficient"`` says so.
        """
        with threadpool_limits(limits=1, user_api="blas"):
            return self._pretrend_test(max_cells, MIN_TEST_UNITS if min_units is None else int(min_units))

    def _pretrend_test(self, max_cells: int, min_units: int) -> dict:
        est = self.estimates
        pre = np.flatnonzero(est["time"].to_numpy() < est["group"].to_numpy())
        if len(pre) == 0:
            return {"W": np.nan, "df": 0, "p_value": np.nan, "basis": "no pre-treatment cells", "n_effects": 0,
                    "rank_deficient": False}
        if len(pre) <= max_cells:
            cells = np.array([k for k in pre if self._units_of([k])[0] >= min_units], dtype=int)
            if len(cells) == len(pre):
                att = est["estimate"].to_numpy()[cells]
                out = wald_test(att, self.vcov_of(self._influence_matrix(cells), range(len(cells))).to_numpy())
                if not out["rank_deficient"] and out.get("condition", np.inf) <= MAX_CONDITION:
                    return {**out, "basis": "pre-treatment ATT(g,t)", "reference": f"chi-square({out['df']})"}
        dyn = self.aggregate("dynamic", max_e=-1)
        terms = dyn.estimates
        rows = [i for i, t in enumerate(terms.index) if t.startswith("e=") and terms["n"].iloc[i] >= min_units]
        if not rows:
            return {"W": np.nan, "df": 0, "p_value": np.nan, "n_effects": 0, "rank_deficient": False,
                    "basis": f"no pre-treatment effect rests on {min_units} or more treated units"}
        att = terms["estimate"].to_numpy()[rows]
        inf = dyn.diagnostics["influence"][:, rows]
        n_treated = int(terms["n"].iloc[rows].max())
        out = wald_test(att, self.vcov_of(inf, range(len(att))).to_numpy(), hotelling_n=n_treated)
        return {**out, "basis": "pre-treatment event-time effects ATT(e), e < 0"}

    def plot(self, ax=None, **kwargs):
        return event_plot(self.aggregate("dynamic"), ax=ax, **kwargs)


#: Relative eigenvalue (of the correlation matrix) below which a direction counts as without variance
RANK_TOLERANCE = 1e-10
#: Largest condition number (of the correlation matrix of the effects) at which the cell-level pre-test
#: is trusted; above it the smallest eigenvalues are estimation noise (pretrend_test falls back to ATT(e))
MAX_CONDITION = 1e6
#: Treated units an effect must rest on to enter the pre-test (the output rules' minimum; an effect on
#: fewer has a variance estimated from too few persons for a chi-square reference)
MIN_TEST_UNITS = 10


def wald_test(estimate: np.ndarray, vcov: np.ndarray, *, dof: float | None = None,
              hotelling_n: int | None = None) -> dict:
    """Wald test that ``estimate`` is zero given its covariance, using the rank of the covariance.

    Effects without variance are dropped; on the rest the statistic is ``b' V^+ b`` with the
    pseudo-inverse, and its degrees of freedom are the rank of ``V`` (the number of effects when
    V is regular, where V^+ = V^-1 and this is R did's pre-test). Chi-square p-value, or
    F(rank, dof) of ``statistic = W / rank`` when ``dof`` (denominator degrees of freedom) is given.
    With ``hotelling_n`` (the number of independent units the covariance is estimated from) the
    p-value is Hotelling's: ``W (n - q) / ((n - 1) q)`` against F(q, n - q), q the rank, exact for a
    mean vector with estimated covariance under normality (Anderson 2003, sec. 5.2), and NaN when
    n <= q. Never fails on a singular matrix: a rank of 0 gives NaN.
    """
    b = np.asarray(estimate, dtype=float)
    v = np.asarray(vcov, dtype=float)
    var = np.diag(v)
    keep = np.isfinite(var) & (var > 0) & np.isfinite(b)
    b, v = b[keep], v[np.ix_(keep, keep)]
    n_effects = int(keep.sum())
    if n_effects == 0:
        return {"W": np.nan, "df": 0, "p_value": np.nan, "n_effects": 0, "rank_deficient": False}
    scale = 1 / np.sqrt(np.diag(v))
    corr = v * np.outer(scale, scale)
    eig, vec = np.linalg.eigh((corr + corr.T) / 2)
    ok = eig > RANK_TOLERANCE * eig.max()
    rank = int(ok.sum())
    z = b * scale
    proj = vec[:, ok].T @ z
    w = float(proj @ (proj / eig[ok]))
    out = {"W": w, "df": rank, "n_effects": n_effects, "rank_deficient": rank < n_effects,
           "condition": float(eig.max() / eig[ok].min())}
    if hotelling_n is not None:
        n = int(hotelling_n)
        out["reference"] = f"Hotelling F({rank}, {n - rank})"
        out["p_value"] = (float(stats.f.sf(w * (n - rank) / ((n - 1) * rank), rank, n - rank)) if n > rank
                          else float("nan"))
    elif dof is None:
        out["p_value"] = float(stats.chi2.sf(w, rank))
    else:
        out["statistic"] = w / rank
        out["df_denom"] = int(dof)
        out["p_value"] = float(stats.f.sf(w / rank, rank, dof))
    return out


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
