"""What works for whom: sorted group average treatment effects (GATES), the best-linear-predictor (BLP)
test of heterogeneity and the characteristics of the most and least affected groups (CLAN).

Method (Chernozhukov, Demirer, Duflo & Fernández-Val, "Generic machine learning inference on
heterogeneous treatment effects in randomized experiments", NBER WP 24678, 2018/2023), in the
doubly robust form of Semenova & Chernozhukov (2021, Econometrics Journal 24(2)). Each split
divides the units at random into an auxiliary and a main half:

1. nuisance functions fitted on the auxiliary half: the outcome regressions mu_d(x) = E[Y | D=d, X=x]
   (one learner per arm) and the propensity e(x) (given, as in an experiment, or a logistic regression);
2. the doubly robust (AIPW) score of each main unit,
   psi_i = mu_1(X_i) - mu_0(X_i) + D_i (Y_i - mu_1(X_i)) / e(X_i) - (1 - D_i)(Y_i - mu_0(X_i)) / (1 - e(X_i)),
   whose conditional mean given X is the CATE;
3. the CATE proxy S(X): a learner fitted on the auxiliary half to its own scores, cross-fitted inside
   that half with ``folds`` folds (DR-learner), then predicted for the main half;
4. BLP on the main half: OLS of psi on (1, S - mean(S)) with HC1 standard errors; beta_1 is the ATE,
   beta_2 = 1 when S is the CATE and 0 when S carries no information on it. The heterogeneity test is
   H0: beta_2 = 0 (two-sided; ``heterogeneity_test_p``);
5. GATES: the main units are sorted into ``groups`` quantile groups of S (1 = smallest predicted
   effect); gates_k is the mean of psi in group k (OLS on group dummies, HC1), with gates_K - gates_1;
6. CLAN: the mean of each characteristic in the least (1) and most (K) affected group and their
   difference (Welch standard error).

The effect on the treated (``estimand="ATT"``, for observational designs where the comparison group is
large and the propensity small, as in a risk-set design): the auxiliary half fits mu_0 (cross-fitted) and
the proxy S on its treated units' Y - mu_0(X); the main half's score is
psi = D (Y - mu_0(X)) - (1 - D) e(X) (Y - mu_0(X)) / (1 - e(X)), with E[psi | X] = e(X) tau(X), so no
1/e weight appears. The treated of the main half are sorted into ``groups`` equal groups by S (the
comparisons join the S band of their group); gates_k = sum of psi / number of treated in group k
(delta-method standard error), the effect on the treated of that group. BLP: weighted least squares
of psi on (e, e (S - mean of S over the treated)) with weights (1 - e) / e (Var(psi | X) is about
e sigma^2 / (1 - e)), HC1; the test is again H0: beta_2 = 0.

Why a main half rather than a proxy cross-fitted over all units: with the proxy for fold k fitted on
the other folds and the BLP pooled over folds, fold k's term and fold j's term share the same noise
(each proxy is fitted on the other's scores), and the test over-rejects (9 % at a 5 % level over 150
seeds in our simulation with two folds); the CDDF split has no such dependence. With ``repeats`` > 1
the sample is split again (seed + r) and the estimates are the medians over the splits; p-values are
the CDDF adjusted medians, min(1, 2 median(p)) (their "variational" inference at level 1 - 2 alpha,
conservative). With one split the test has the nominal size.

Why not a library: DoubleML (``DoubleMLIRM.gate(groups)``, ``.cate(basis)``) runs the same
regressions on its orthogonal signal, but for groups and bases the user supplies: the sorted groups
of an out-of-sample CATE proxy, the BLP test on that proxy, CLAN and the median over splits are not
in it. EconML's ``econml.validate.DRTester`` has a BLP-type test and calibration on a validation
sample, not the CDDF GATES / CLAN with adjusted p-values (and it is not a dependency). The algorithm
is a few regressions on sklearn learners. DoubleML is a test dependency:
``test_group_effects_equal_doubleml_irm_gate_on_the_same_folds`` checks our AIPW scores (through
:func:`group_effects`) against its documented ``gate()`` on the same folds and learners.

Units and dominance (disclosure, issue #13): each GATE rests on the treated (``n``) and control
(``n_control``) units of its group in the main half (of the first split); its dominance is the
:func:`dominance_share` of the units' scores psi_i in that group (their terms in the group mean). The BLP terms and the test rest on all
main units; their dominance uses each unit's term in the OLS estimating sum ((S_i - mean) psi_i for
beta_2, psi_i for beta_1). CLAN means rest on the units of the group (all units, treated and
control), dominance from the characteristic's values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import ParameterError
from analysis.estimators.results import _number, dominance_share, tidy_estimates


def _wls_hc1(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares with HC1 (sandwich) standard errors (numbers only)."""
    xw = x * w[:, None]
    bread = np.linalg.pinv(xw.T @ x)
    beta = bread @ xw.T @ y
    e = y - x @ beta
    n, k = x.shape
    meat = (xw * e[:, None] ** 2).T @ xw
    v = bread @ meat @ bread * n / max(n - k, 1)
    return beta, np.sqrt(np.diag(v))


def _default_propensity_learner():
    """Logistic regression on standardised covariates (raw calendar years or squared ages leave lbfgs
    unconverged; scaling changes nothing but the optimiser's path, the model is the same)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def _ols_hc1(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS coefficients and HC1 standard errors (numbers only)."""
    xtx_inv = np.linalg.pinv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    e = y - x @ beta
    n, k = x.shape
    meat = (x * e[:, None] ** 2).T @ x
    v = xtx_inv @ meat @ xtx_inv * n / max(n - k, 1)
    return beta, np.sqrt(np.diag(v))


def _fit_score(y, d, x, tr, te, *, outcome_learner, propensity, propensity_learner, clip=0.01):
    """AIPW scores on rows ``te`` with nuisances fitted on rows ``tr``."""
    from sklearn.base import clone

    mu = [clone(outcome_learner).fit(x[tr & (d == a)], y[tr & (d == a)]).predict(x[te]) for a in (0, 1)]
    if propensity is None:
        e = clone(propensity_learner).fit(x[tr], d[tr]).predict_proba(x[te])[:, 1]
    else:
        e = np.full(int(te.sum()), float(propensity))
    e = np.clip(e, clip, 1 - clip)
    yt, dt = y[te], d[te]
    return mu[1] - mu[0] + dt * (yt - mu[1]) / e - (1 - dt) * (yt - mu[0]) / (1 - e)


def _fit_att_parts(y, d, x, tr, te, *, outcome_learner, propensity, propensity_learner, clip=0.01):
    """For the ATT: residuals Y - mu_0(X) and the propensity e(X) on rows ``te``, fitted on rows ``tr``."""
    from sklearn.base import clone

    mu0 = clone(outcome_learner).fit(x[tr & (d == 0)], y[tr & (d == 0)]).predict(x[te])
    if propensity is None:
        e = clone(propensity_learner).fit(x[tr], d[tr]).predict_proba(x[te])[:, 1]
    else:
        e = np.full(int(te.sum()), float(propensity))
    return y[te] - mu0, np.clip(e, clip, 1 - clip)


def _one_split_att(y, d, x, *, groups, folds_k, seed, outcome_learner, cate_learner, propensity, propensity_learner,
                   main_share=0.5):
    """One split for the effect on the treated (module docstring, "ATT"): the proxy S is a learner fitted on
    the auxiliary treated units' Y - mu_0(X) (mu_0 cross-fitted inside the auxiliary half); on the main half
    the score psi = D (Y - mu_0) - (1 - D) e (Y - mu_0) / (1 - e) has E[psi | X] = e(X) tau(X)."""
    from sklearn.base import clone

    rng = np.random.default_rng(seed)
    n = len(y)
    main = np.zeros(n, bool)
    main[rng.permutation(n)[: int(round(main_share * n))]] = True
    aux = ~main
    kw = dict(outcome_learner=outcome_learner, propensity=propensity, propensity_learner=propensity_learner)
    aux_idx = np.flatnonzero(aux)
    inner = rng.permutation(np.arange(aux_idx.size) % folds_k)
    r_aux = np.empty(aux_idx.size)
    for j in range(folds_k):
        tr, te = np.zeros(n, bool), np.zeros(n, bool)
        tr[aux_idx[inner != j]] = True
        te[aux_idx[inner == j]] = True
        r_aux[inner == j] = _fit_att_parts(y, d, x, tr, te, **kw)[0]
    treated_aux = d[aux] == 1
    s = clone(cate_learner).fit(x[aux][treated_aux], r_aux[treated_aux]).predict(x[main])
    r, e = _fit_att_parts(y, d, x, aux, main, **kw)
    dm = d[main]
    psi = dm * r - (1 - dm) * e * r / (1 - e)
    s_bar = s[dm == 1].mean()
    s_c = s - s_bar
    # Var(psi | X) is about e sigma^2 / (1 - e) while its mean is e tau: weighted least squares with weights
    # (1 - e) / e (the efficient weights under that variance; any weights give a valid test of beta_2 = 0)
    beta, se = _wls_hc1(psi, np.column_stack([e, e * s_c]), (1 - e) / e)
    # groups: equal numbers of the main half's treated units by the rank of S (ties broken by rank, so no
    # group is empty); comparisons fall in the S band of the group whose largest treated S they do not exceed
    treated = np.flatnonzero(dm == 1)
    rank = pd.Series(s[treated]).rank(method="first").to_numpy()
    g = np.empty(len(s), dtype=int)
    g[treated] = np.minimum((rank - 1) * groups // treated.size, groups - 1).astype(int)
    cuts = np.array([s[treated][g[treated] == j].max() for j in range(groups - 1)])
    controls = np.flatnonzero(dm == 0)
    g[controls] = np.minimum(np.searchsorted(cuts, s[controls], side="left"), groups - 1)
    gates, gates_se = np.empty(groups), np.empty(groups)
    for j in range(groups):
        m = g == j
        nt = dm[m].sum()
        gates[j] = psi[m].sum() / nt
        u = (psi[m] - gates[j] * dm[m]) / (nt / m.sum())  # influence of the ratio (delta method)
        gates_se[j] = u.std(ddof=1) / np.sqrt(m.sum())
    diff = gates[-1] - gates[0]
    diff_se = float(np.hypot(gates_se[-1], gates_se[0]))
    return {"main": main, "psi": psi, "s": s, "s_c": s_c, "group": g, "beta": beta, "beta_se": se, "gates": gates,
            "gates_se": gates_se, "diff": diff, "diff_se": diff_se}


def _one_split(y, d, x, *, groups, folds_k, seed, outcome_learner, cate_learner, propensity, propensity_learner,
               main_share=0.5):
    """One CDDF split: the auxiliary sample fits the nuisances for the main sample's scores and, with
    scores of its own from a ``folds_k``-fold cross-fitting inside it, the CATE proxy S; everything is
    evaluated on the main sample only, so S and psi are independent given the auxiliary sample."""
    from sklearn.base import clone

    rng = np.random.default_rng(seed)
    n = len(y)
    order = rng.permutation(n)
    main = np.zeros(n, bool)
    main[order[: int(round(main_share * n))]] = True
    aux = ~main
    kw = dict(outcome_learner=outcome_learner, propensity=propensity, propensity_learner=propensity_learner)
    aux_idx = np.flatnonzero(aux)
    inner = rng.permutation(np.arange(aux_idx.size) % folds_k)
    psi_aux = np.empty(aux_idx.size)
    for j in range(folds_k):
        tr, te = np.zeros(n, bool), np.zeros(n, bool)
        tr[aux_idx[inner != j]] = True
        te[aux_idx[inner == j]] = True
        psi_aux[inner == j] = _fit_score(y, d, x, tr, te, **kw)
    s = clone(cate_learner).fit(x[aux], psi_aux).predict(x[main])
    psi = _fit_score(y, d, x, aux, main, **kw)
    m = main.sum()
    s_c = s - s.mean()
    beta, se = _ols_hc1(psi, np.column_stack([np.ones(m), s_c]))
    # quantile groups of the proxy (ties broken by rank so that groups have equal sizes)
    rank = pd.Series(s).rank(method="first").to_numpy()
    g = np.minimum((rank - 1) * groups // m, groups - 1).astype(int)
    gates = np.array([psi[g == j].mean() for j in range(groups)])
    gates_se = np.array([psi[g == j].std(ddof=1) / np.sqrt((g == j).sum()) for j in range(groups)])
    diff = gates[-1] - gates[0]
    diff_se = float(np.hypot(gates_se[-1], gates_se[0]))
    return {"main": main, "psi": psi, "s": s, "s_c": s_c, "group": g, "beta": beta, "beta_se": se, "gates": gates,
            "gates_se": gates_se, "diff": diff, "diff_se": diff_se}


@dataclass(frozen=True)
class HeterogeneityResult:
    """GATES, BLP and CLAN. ``estimates``: house table with terms ``gates_1..gates_K``,
    ``gates_top_minus_bottom``, ``blp_ate``, ``blp_heterogeneity``; ``heterogeneity_test_p`` the p-value
    of H0: beta_2 = 0; ``clan``: per characteristic the means in the least and most affected groups."""

    estimates: pd.DataFrame
    heterogeneity_test_p: float
    clan: pd.DataFrame
    spec: Mapping[str, object]
    diagnostics: Mapping[str, object] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.estimates.copy()

    def gates(self) -> pd.DataFrame:
        return self.estimates.loc[[f"gates_{k}" for k in range(1, self.spec["groups"] + 1)]].copy()

    def clan_result(self, *, alpha: float = 0.05):
        """CLAN as a results object carrying its units (for ``Report.table`` / ``checked_result``): terms
        ``<characteristic>:least``, ``:most`` (n = the group's units) and ``:difference`` (n = the most
        affected group, n_control = the least affected), dominance from the characteristic's values."""
        from analysis.estimators.results import EffectResult

        terms, est, se, n, nc, dom = [], [], [], [], [], []
        for c, r in self.clan.iterrows():
            sd_l, sd_m = r["sd_least"], r["sd_most"]
            parts = (("least", r["least_affected"], sd_l / np.sqrt(r["n_least"]), r["n_least"], None),
                     ("most", r["most_affected"], sd_m / np.sqrt(r["n_most"]), r["n_most"], None),
                     ("difference", r["difference"], r["std_error"], r["n_most"], r["n_least"]))
            for part, e, s_, n_, nc_ in parts:
                terms.append(f"{c}:{part}")
                est.append(e)
                se.append(s_)
                n.append(int(n_))
                nc.append(None if nc_ is None else int(nc_))
                dom.append(None if pd.isna(r["dominance"]) else float(r["dominance"]))
        return EffectResult(estimates=tidy_estimates(terms, est, se, n=n, alpha=alpha, n_control=nc, dominance=dom),
                            estimand="CLAN", spec=dict(self.spec))

    def summary(self) -> str:
        return "\n".join([
            "Heterogeneous effects: GATES, BLP (Chernozhukov, Demirer, Duflo & Fernández-Val), CLAN",
            f"Specification: groups={self.spec['groups']}, folds={self.spec['folds']}, repeats={self.spec['repeats']}",
            "", self.to_frame().to_string(float_format=lambda x: f"{x:.5g}"), "",
            f"Heterogeneity test (H0: beta_2 = 0): p = {self.heterogeneity_test_p:.4g}", "",
            "CLAN (least vs most affected group):", self.clan.to_string(float_format=lambda x: f"{x:.4g}")])

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return ("<p><b>GATES and BLP</b></p>" + self.to_frame().to_html(float_format=lambda x: f"{x:.4g}")
                + f"<p>Heterogeneity test: p = {self.heterogeneity_test_p:.4g}</p><p><b>CLAN</b></p>"
                + self.clan.to_html(float_format=lambda x: f"{x:.4g}"))

    def plot(self, ax=None, *, ylabel: str = "Effect"):
        """GATES with 95 % intervals by group of predicted effect, and the ATE as a line."""
        import matplotlib.pyplot as plt

        g = self.gates()
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3))
        x = np.arange(1, len(g) + 1)
        ax.errorbar(x, g["estimate"], yerr=[g["estimate"] - g["ci_lower"], g["ci_upper"] - g["estimate"]],
                    fmt="o", capsize=3, color="#0072B2")
        ax.axhline(self.estimates.loc["blp_ate", "estimate"], color="grey", ls="--", lw=0.8)
        ax.axhline(0, color="black", lw=0.5)
        ax.set_xticks(x)
        ax.set_xlabel("Group of predicted effect (1 = smallest)")
        ax.set_ylabel(ylabel)
        return ax

    def to_estimates(self, prefix: str = "", *, unit: str = "") -> list[dict]:
        """Rows ``gates_<k>`` (and the other terms) plus ``heterogeneity_test_p`` for results.json."""
        rows = []
        for term, r in self.to_frame().iterrows():
            rows.append({"name": f"{prefix}{term}", "estimate": _number(r["estimate"]), "se": _number(r["std_error"]),
                         "ci_low": _number(r["ci_lower"]), "ci_high": _number(r["ci_upper"]),
                         "n": None if pd.isna(r["n"]) else int(r["n"]), "unit": unit, "suppressed": False,
                         "_n_control": None if pd.isna(r["n_control"]) else int(r["n_control"]),
                         "_dominance": _number(r["dominance"])})
        b = self.estimates.loc["blp_heterogeneity"]
        rows.append({"name": f"{prefix}heterogeneity_test_p", "estimate": _number(self.heterogeneity_test_p),
                     "se": None, "ci_low": None, "ci_high": None, "n": int(b["n"]), "unit": "p-value",
                     "suppressed": False, "_n_control": None if pd.isna(b["n_control"]) else int(b["n_control"]),
                     "_dominance": _number(b["dominance"])})
        return rows


def gates(frame: pd.DataFrame, *, outcome: str, treatment: str, covariates: Sequence[str],
          clan: Sequence[str] | None = None, groups: int = 5, folds: int = 5, repeats: int = 1,
          propensity: float | None = None, outcome_learner=None, cate_learner=None, propensity_learner=None,
          alpha: float = 0.05, seed: int = 0, n_threads: int | None = 1,
          estimand: str = "ATE") -> HeterogeneityResult:
    """GATES, the BLP heterogeneity test and CLAN (module docstring).

    ``estimand``: "ATE" (the CDDF scores, every unit) or "ATT" (the effect on the treated: groups are
    quantiles of the proxy among the treated, each GATE the effect on the treated of its group).

    ``propensity``: the known assignment probability of an experiment (None: estimated, cross-fitted).
    Learners are sklearn estimators (defaults: gradient boosting for the outcome and the proxy,
    logistic regression on standardised covariates for the propensity). ``n_threads``: the OpenMP/BLAS threads the learners may use
    (default 1: the same numbers on every machine and no oversubscription in a process pool; None: the
    library default). ``clan``: the characteristics to describe (default:
    ``covariates``). One row per unit; rows with a missing value are refused.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    cols = [outcome, treatment, *covariates]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ParameterError(f"gates: columns {missing} are not in the frame; it has {list(frame.columns)[:20]}.")
    from analysis.errors import check_choice

    check_choice("estimand", estimand, ("ATE", "ATT"))
    for name, val, low in (("groups", groups, 2), ("folds", folds, 2), ("repeats", repeats, 1)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < low:
            raise ParameterError(f"{name}={val!r} is not allowed; give a whole number >= {low}.")
    data = frame[list(dict.fromkeys(cols + list(clan or [])))]
    bad = int(data.isna().any(axis=1).sum())
    if bad:
        raise ParameterError(f"gates: {bad} row(s) have a missing outcome, treatment or covariate; "
                             "drop or impute them first (and say so).")
    text = [c for c in [outcome, *covariates, *(clan or [])] if not pd.api.types.is_numeric_dtype(data[c])]
    if text:
        raise ParameterError(f"gates: columns {text} are not numeric; code categories as 0/1 indicators "
                             "(pandas.get_dummies) first.")
    d = data[treatment].to_numpy()
    if not np.isin(d, (0, 1)).all():
        raise ParameterError(f"gates: treatment column {treatment!r} must be 0/1.")
    d = d.astype(float)
    if min(d.sum(), (1 - d).sum()) < 2 * groups * folds:
        raise ParameterError(f"gates: {int(d.sum())} treated and {int((1 - d).sum())} control units are too few for "
                             f"{groups} groups and {folds} folds; use fewer groups or folds.")
    if propensity is not None and not 0 < propensity < 1:
        raise ParameterError(f"propensity={propensity!r} must lie strictly between 0 and 1.")
    y = data[outcome].to_numpy(float)
    x = data[list(covariates)].to_numpy(float)
    outcome_learner = outcome_learner or HistGradientBoostingRegressor(max_iter=100, min_samples_leaf=40,
                                                                       random_state=seed)
    cate_learner = cate_learner or HistGradientBoostingRegressor(max_iter=60, min_samples_leaf=80, random_state=seed)
    propensity_learner = propensity_learner or _default_propensity_learner()
    from threadpoolctl import threadpool_limits  # declared in pyproject.toml (scikit-learn needs it too)

    with threadpool_limits(limits=n_threads):
        split = _one_split if estimand == "ATE" else _one_split_att
        fits = [split(y, d, x, groups=groups, folds_k=folds, seed=seed + r, outcome_learner=outcome_learner,
                           cate_learner=cate_learner, propensity=propensity, propensity_learner=propensity_learner)
                for r in range(repeats)]
    med = lambda key: np.median(np.array([f[key] for f in fits]), axis=0)  # noqa: E731
    est = np.r_[med("gates"), np.median([f["diff"] for f in fits]), med("beta")]
    se = np.r_[med("gates_se"), np.median([f["diff_se"] for f in fits]), med("beta_se")]
    p_split = [2 * stats.norm.sf(abs(f["beta"][1] / f["beta_se"][1])) for f in fits]
    p_het = float(p_split[0]) if repeats == 1 else float(min(1.0, 2 * np.median(p_split)))

    f0 = fits[0]  # units: the first split's main half and its groups (sizes are equal across splits)
    d = d[f0["main"]]
    data_main = data.loc[f0["main"]]
    terms = [f"gates_{k}" for k in range(1, groups + 1)] + ["gates_top_minus_bottom", "blp_ate", "blp_heterogeneity"]
    n_t, n_c, dom = [], [], []
    for j in range(groups):
        m = f0["group"] == j
        n_t.append(int(d[m].sum()))
        n_c.append(int((1 - d[m]).sum()))
        dom.append(dominance_share(f0["psi"][m]))
    ends = (f0["group"] == 0) | (f0["group"] == groups - 1)
    n_t.append(int(d[ends].sum()))
    n_c.append(int((1 - d[ends]).sum()))
    dom.append(dominance_share(f0["psi"][ends]))
    n_t += [int(d.sum())] * 2
    n_c += [int((1 - d).sum())] * 2
    dom += [dominance_share(f0["psi"]), dominance_share(f0["s_c"] * f0["psi"])]
    table = tidy_estimates(terms, est, se, n=n_t, alpha=alpha, n_control=n_c, dominance=dom)

    rows = []
    for c in (clan or covariates):
        v = data_main[c].to_numpy(float)
        lo, hi = v[f0["group"] == 0], v[f0["group"] == groups - 1]
        diff = hi.mean() - lo.mean()
        dse = float(np.sqrt(lo.var(ddof=1) / lo.size + hi.var(ddof=1) / hi.size))
        rows.append({"characteristic": c, "least_affected": lo.mean(), "most_affected": hi.mean(),
                     "difference": diff, "std_error": dse,
                     "p_value": 2 * stats.norm.sf(abs(diff / dse)) if dse > 0 else np.nan,
                     "n_least": lo.size, "n_most": hi.size, "sd_least": lo.std(ddof=1), "sd_most": hi.std(ddof=1),
                     "dominance": max(dominance_share(lo), dominance_share(hi)) if (np.abs(lo).sum() and
                                                                                     np.abs(hi).sum()) else np.nan})
    clan_frame = pd.DataFrame(rows).set_index("characteristic")
    spec = {"outcome": outcome, "treatment": treatment, "covariates": list(covariates), "groups": groups,
            "estimand": estimand,
            "folds": folds, "repeats": repeats, "propensity": propensity, "alpha": alpha, "seed": seed,
            "outcome_learner": repr(outcome_learner), "cate_learner": repr(cate_learner)}
    return HeterogeneityResult(estimates=table, heterogeneity_test_p=p_het, clan=clan_frame, spec=spec,
                               diagnostics={"p_values_per_split": p_split, "n": int(len(y))})


def group_effects(frame: pd.DataFrame, *, outcome: str, treatment: str, covariates: Sequence[str], by: str,
                  folds: int = 5, propensity: float | None = None, outcome_learner=None, propensity_learner=None,
                  alpha: float = 0.05, seed: int = 0, n_threads: int | None = 1):
    """Average effects by the levels of a categorical column ``by`` (terms ``<by>=<level>``): the mean
    of the cross-fitted AIPW scores psi (module docstring, step 2; nuisances fitted out of fold) within
    each level, with its standard error sd(psi)/sqrt(n). Groups given in advance need no proxy, so a
    plain K-fold cross-fitting is valid here. Units: the treated (``n``) and control (``n_control``)
    units of the level; dominance from their scores."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits  # declared in pyproject.toml (scikit-learn needs it too)

    from analysis.estimators.results import EffectResult

    cols = [outcome, treatment, *covariates, by]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ParameterError(f"group_effects: columns {missing} are not in the frame.")
    if frame[cols].isna().any().any():
        raise ParameterError(f"group_effects: missing values in {cols}; drop or impute them first (and say so).")
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ParameterError(f"folds={folds!r} is not allowed; give a whole number >= 2.")
    d = frame[treatment].to_numpy()
    if not np.isin(d, (0, 1)).all():
        raise ParameterError(f"group_effects: treatment column {treatment!r} must be 0/1.")
    d = d.astype(float)
    y = frame[outcome].to_numpy(float)
    x = frame[list(covariates)].to_numpy(float)
    outcome_learner = outcome_learner or HistGradientBoostingRegressor(max_iter=100, min_samples_leaf=40,
                                                                       random_state=seed)
    propensity_learner = propensity_learner or _default_propensity_learner()
    fold = np.random.default_rng(seed).permutation(np.arange(len(y)) % folds)
    psi = np.empty(len(y))
    with threadpool_limits(limits=n_threads):
        for k in range(folds):
            psi[fold == k] = _fit_score(y, d, x, fold != k, fold == k, outcome_learner=outcome_learner,
                                        propensity=propensity, propensity_learner=propensity_learner)
    level = frame[by].astype(str).to_numpy()
    levels = sorted(pd.unique(level))
    est, se, n_t, n_c, dom = [], [], [], [], []
    for lv in levels:
        m = level == lv
        est.append(psi[m].mean())
        se.append(psi[m].std(ddof=1) / np.sqrt(m.sum()) if m.sum() > 1 else np.nan)
        n_t.append(int(d[m].sum()))
        n_c.append(int((1 - d[m]).sum()))
        dom.append(dominance_share(psi[m]))
    table = tidy_estimates([f"{by}={lv}" for lv in levels], est, se, n=n_t, alpha=alpha, n_control=n_c, dominance=dom)
    return EffectResult(estimates=table, estimand=f"ATE by {by} (AIPW)",
                        spec={"outcome": outcome, "treatment": treatment, "covariates": list(covariates), "by": by,
                              "folds": folds, "propensity": propensity, "seed": seed})
