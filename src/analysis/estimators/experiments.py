"""Municipal experiments: design (power, minimum detectable effect, required size), a reproducible
stratified (or cluster) random assignment, and the analysis (intention-to-treat with covariate
adjustment, randomisation inference, several arms with Holm's correction, balance, attrition).

Design (normal approximation; Bloom 1995, "Minimum detectable effects", Evaluation Review 19(5);
Duflo, Glennerster & Kremer 2007, "Using randomization in development economics research", section 4):

    MDE = (z_{1 - alpha'/2} + z_{power}) * sd * sqrt(1/n_t + 1/n_c) * sqrt(DEFF * (1 - R^2))

- individual randomisation: DEFF = 1, R^2 = 0 (or the share of the outcome variance that covariates
  explain, when the analysis adjusts for them);
- stratified randomisation: R^2 is the share of the outcome variance explained by the strata (and
  covariates) in the adjusted analysis;
- cluster randomisation (teams, districts) of mean size m: DEFF = 1 + ((cv^2 + 1) m - 1) ICC, with
  cv the coefficient of variation of the cluster sizes (Eldridge, Ashby & Kerry 2006, Int J Epidemiol
  35(5); cv = 0 gives the familiar 1 + (m - 1) ICC);
- multi-arm designs (several treatments against one control arm, as in the Participatiewet
  experiments): each comparison is powered at alpha' = alpha / k for k treatment arms (Bonferroni,
  the least favourable case of Holm's step-down procedure that the analysis applies), or alpha'
  = alpha with ``correction="none"``.

Assignment: :func:`assign` sorts the units by id, shuffles them within each stratum with
``numpy.random.default_rng(seed)`` and allocates the arms by their shares (largest remainders, ties
at random), so the same units, strata, shares and seed give the same assignment on every machine;
the result carries the sha256 of its canonical CSV (what the manifest records).

Analysis: :func:`itt` regresses the outcome on arm indicators (against the control arm), covariates
and stratum indicators; standard errors HC2 (the Neyman variance for a difference in means), HC1,
classical or cluster-robust (by the unit of randomisation). ``p_value_ri`` is the randomisation
inference p-value of each arm's coefficient: the share of ``permutations`` re-randomisations (arms
permuted within strata, whole clusters when clustered) with an absolute coefficient at least as
large, (1 + count) / (1 + permutations) (Imbens & Rubin 2015, ch. 5; Young 2019, QJE 134(2)).
``p_value_holm`` is Holm's (1979) step-down adjustment over the arms.

Units and dominance (disclosure, issue #13): an arm's effect rests on that arm's units (``n``) and
the control units (``n_control``) used; its dominance is the :func:`dominance_share` of the units'
terms in the OLS estimating sum for that coefficient, w_i y_i with w the coefficient's row of
(X'X)^-1 X' (for a difference in means, y_i / n_t and -y_i / n_c: the rule on a difference of amounts).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import ParameterError, check_choice
from analysis.estimators.results import EffectResult, dominance_share, tidy_estimates

DESIGNS = ("individual", "stratified", "cluster")
CORRECTIONS = ("bonferroni", "none")
SE_TYPES = ("HC2", "HC1", "classical", "cluster")


def _share(name, v, *, closed=False):
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and (0 <= v <= 1 if closed else 0 < v < 1)
    if not ok:
        raise ParameterError(f"{name}={v!r} is not allowed; give a number in {'[0, 1]' if closed else '(0, 1)'}.")


def design_effect(*, cluster_size: float = 1.0, icc: float = 0.0, cv: float = 0.0) -> float:
    """1 + ((cv^2 + 1) m - 1) ICC (Eldridge et al. 2006); 1 for individual randomisation (m = 1, cv = 0)."""
    _share("icc", icc, closed=True)
    if cluster_size < 1 or cv < 0:
        raise ParameterError(f"cluster_size={cluster_size!r} must be >= 1 and cv={cv!r} >= 0.")
    return 1.0 + ((cv ** 2 + 1.0) * cluster_size - 1.0) * icc


def _multiplier(alpha, power, arms, correction):
    _share("alpha", alpha)
    _share("power", power)
    check_choice("correction", correction, CORRECTIONS)
    if isinstance(arms, bool) or not isinstance(arms, (int, np.integer)) or arms < 1:
        raise ParameterError(f"arms={arms!r} is not allowed; give the number of treatment arms (>= 1).")
    a = alpha / arms if correction == "bonferroni" else alpha
    return stats.norm.ppf(1 - a / 2) + stats.norm.ppf(power)


def _variance_factor(share_control, arms):
    """(1/p_t + 1/p_c) per unit of the total size, for k treatment arms sharing 1 - p_c equally."""
    _share("share_control", share_control)
    p_t = (1 - share_control) / arms
    return 1 / p_t + 1 / share_control


def _design_terms(design, r2, cluster_size, icc, cv):
    check_choice("design", design, DESIGNS)
    _share("r2", r2, closed=True)
    if r2 >= 1:
        raise ParameterError("r2=1 would make every outcome predictable; give the share explained, below 1.")
    deff = design_effect(cluster_size=cluster_size, icc=icc, cv=cv) if design == "cluster" else 1.0
    if design != "cluster" and (icc or cluster_size != 1.0):
        raise ParameterError(f"icc and cluster_size apply to design='cluster', not design={design!r}.")
    return deff * (1 - r2)


def explained_share(frame: pd.DataFrame, *, outcome: str, strata: Sequence[str] = (),
                    covariates: Sequence[str] = ()) -> float:
    """R^2 of an OLS of a (baseline or historical) outcome on stratum indicators and covariates: the
    ``r2`` of a stratified or covariate-adjusted design. Rows with a missing value are refused."""
    cols = [outcome, *strata, *covariates]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ParameterError(f"explained_share: columns {missing} are not in the frame.")
    if frame[cols].isna().any().any():
        raise ParameterError(f"explained_share: missing values in {cols}; drop or impute them first.")
    _, _, w = _design_matrix(frame.assign(_arm="c"), "_arm", "c", covariates, strata)
    y = frame[outcome].to_numpy(float)
    resid = y - w @ np.linalg.lstsq(w, y, rcond=None)[0]
    total = ((y - y.mean()) ** 2).sum()
    return float(1 - (resid ** 2).sum() / total) if total > 0 else 0.0


def minimum_detectable_effect(n: float, *, sd: float = 1.0, alpha: float = 0.05, power: float = 0.8,
                              share_control: float = 0.5, arms: int = 1, correction: str = "bonferroni",
                              design: str = "individual", r2: float = 0.0, cluster_size: float = 1.0,
                              icc: float = 0.0, cv: float = 0.0) -> float:
    """Smallest true effect (in outcome units) detected with probability ``power`` (module docstring).

    ``n`` is the total number of units (persons) over all arms; ``sd`` the outcome's standard deviation
    (for a share p: sqrt(p (1 - p))).
    """
    if not n > 0 or sd <= 0:
        raise ParameterError(f"n={n!r} and sd={sd!r} must be positive.")
    m = _multiplier(alpha, power, arms, correction)
    return float(m * sd * np.sqrt(_variance_factor(share_control, arms) / n
                                  * _design_terms(design, r2, cluster_size, icc, cv)))


def required_sample_size(mde: float, *, sd: float = 1.0, alpha: float = 0.05, power: float = 0.8,
                         share_control: float = 0.5, arms: int = 1, correction: str = "bonferroni",
                         design: str = "individual", r2: float = 0.0, cluster_size: float = 1.0,
                         icc: float = 0.0, cv: float = 0.0) -> int:
    """Total number of units (rounded up; for clusters, to whole clusters) that detects ``mde``."""
    if not mde > 0 or sd <= 0:
        raise ParameterError(f"mde={mde!r} and sd={sd!r} must be positive.")
    m = _multiplier(alpha, power, arms, correction)
    n = (m * sd / mde) ** 2 * _variance_factor(share_control, arms) * _design_terms(design, r2, cluster_size, icc, cv)
    if design == "cluster":
        return int(np.ceil(n / cluster_size) * cluster_size)
    return int(np.ceil(n))


def power(n: float, effect: float, *, sd: float = 1.0, alpha: float = 0.05, share_control: float = 0.5,
          arms: int = 1, correction: str = "bonferroni", design: str = "individual", r2: float = 0.0,
          cluster_size: float = 1.0, icc: float = 0.0, cv: float = 0.0) -> float:
    """Probability that a two-sided test at alpha' rejects when the true effect is ``effect``."""
    if not n > 0 or sd <= 0:
        raise ParameterError(f"n={n!r} and sd={sd!r} must be positive.")
    _multiplier(alpha, 0.5, arms, correction)  # validates alpha, arms, correction
    a = alpha / arms if correction == "bonferroni" else alpha
    se = sd * np.sqrt(_variance_factor(share_control, arms) / n * _design_terms(design, r2, cluster_size, icc, cv))
    z = stats.norm.ppf(1 - a / 2)
    return float(stats.norm.sf(z - abs(effect) / se) + stats.norm.cdf(-z - abs(effect) / se))


# --------------------------------------------------------------------------------------------- assignment
@dataclass(frozen=True)
class Assignment:
    """A random assignment: ``frame`` (unit, stratum, cluster, arm; sorted by unit), ``sha256`` of
    :meth:`to_csv`, and the ``spec`` that reproduces it."""

    frame: pd.DataFrame
    sha256: str
    spec: Mapping[str, object]

    def to_csv(self) -> bytes:
        return _canonical_csv(self.frame)

    def write(self, path) -> str:
        """Write the canonical CSV and return its sha256 (the value the manifest records)."""
        from pathlib import Path

        Path(path).write_bytes(self.to_csv())
        return self.sha256

    def counts(self) -> pd.DataFrame:
        return self.frame.groupby(["stratum", "arm"]).size().unstack(fill_value=0)


def _canonical_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _allocate(k: int, shares: np.ndarray, rng) -> np.ndarray:
    """Arm counts for k units: floor of k * share plus the largest remainders (ties at random)."""
    exact = k * shares
    base = np.floor(exact).astype(int)
    rest = k - base.sum()
    if rest:
        order = np.lexsort((rng.random(len(shares)), -(exact - base)))
        base[order[:rest]] += 1
    return base


def assign(frame: pd.DataFrame, *, unit: str = "person_id", arms: Sequence[str] = ("control", "treatment"),
           shares: Sequence[float] | None = None, strata: Sequence[str] = (), cluster: str | None = None,
           seed: int) -> Assignment:
    """Seeded stratified (or cluster) random assignment of the units of ``frame`` to ``arms``.

    ``strata``: columns whose combinations are the strata (a cluster must lie in one stratum);
    ``cluster``: the column of the unit of randomisation (team, district); ``shares``: one per arm
    (default equal). One row per unit.
    """
    arms = list(arms)
    if len(arms) < 2 or len(set(arms)) != len(arms):
        raise ParameterError(f"arms={arms!r}: give at least two distinct arm names.")
    shares = np.full(len(arms), 1 / len(arms)) if shares is None else np.asarray(shares, dtype=float)
    if shares.shape != (len(arms),) or np.any(shares <= 0) or not np.isclose(shares.sum(), 1):
        raise ParameterError(f"shares={shares.tolist()!r}: give one positive share per arm, summing to 1.")
    cols = [unit, *strata] + ([cluster] if cluster else [])
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ParameterError(f"assign: columns {missing} are not in the frame.")
    if frame[unit].duplicated().any():
        raise ParameterError(f"assign: {int(frame[unit].duplicated().sum())} duplicate {unit!r} value(s); "
                             "give one row per unit.")
    if frame[cols].isna().any().any():
        raise ParameterError(f"assign: missing values in {cols}; every unit needs its stratum and cluster.")
    data = frame[cols].copy()
    data[unit] = data[unit].astype(str)
    data["stratum"] = data[list(strata)].astype(str).agg("|".join, axis=1) if strata else "all"
    ru = cluster or unit
    if cluster:
        data[cluster] = data[cluster].astype(str)
        if (data.groupby(cluster)["stratum"].nunique() > 1).any():
            raise ParameterError(f"assign: some {cluster!r} clusters span several strata; stratify on "
                                 "cluster-level characteristics.")
    units = data[[ru, "stratum"]].drop_duplicates().sort_values([ "stratum", ru]).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    arm_of = {}
    for _, part in units.groupby("stratum", sort=True):
        ids = part[ru].to_numpy()[rng.permutation(len(part))]
        counts = _allocate(len(ids), shares, rng)
        arm_of.update(zip(ids, np.repeat(arms, counts)))
    out = data[[unit, "stratum"] + ([cluster] if cluster else [])].copy()
    out["arm"] = out[ru].map(arm_of)
    out = out.sort_values(unit).reset_index(drop=True)
    digest = hashlib.sha256(_canonical_csv(out)).hexdigest()
    spec = {"unit": unit, "arms": arms, "shares": shares.tolist(), "strata": list(strata), "cluster": cluster,
            "seed": seed, "n_units": int(len(out)), "n_randomised": int(len(units))}
    return Assignment(frame=out, sha256=digest, spec=spec)


# ----------------------------------------------------------------------------------------------- analysis
def holm(p_values) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    m = len(p)
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def _design_matrix(frame, arm, control, covariates, strata):
    levels = [a for a in pd.unique(frame[arm]) if a != control]
    levels = sorted(levels, key=str)
    d = (np.column_stack([(frame[arm] == a).to_numpy(float) for a in levels]) if levels
         else np.empty((len(frame), 0)))
    w = [np.ones(len(frame))]
    if covariates:
        w.append(frame[list(covariates)].to_numpy(float))
    if strata:
        s = pd.get_dummies(frame[list(strata)].astype(str).agg("|".join, axis=1), drop_first=True, dtype=float)
        if s.shape[1]:
            w.append(s.to_numpy())
    return levels, d, np.column_stack(w)


def _coefs(y, d, q):
    """Arm coefficients by Frisch-Waugh-Lovell: residualise the arm indicators on the controls W = QR."""
    d_res = d - q @ (q.T @ d)
    y_res = y - q @ (q.T @ y)
    return np.linalg.lstsq(d_res, y_res, rcond=None)[0]


def itt(frame: pd.DataFrame, *, outcome: str, arm: str, control: str = "control", covariates: Sequence[str] = (),
        strata: Sequence[str] = (), cluster: str | None = None, se: str = "HC2", permutations: int = 2000,
        alpha: float = 0.05, seed: int = 0) -> EffectResult:
    """Intention-to-treat effect of each arm against ``control`` (module docstring).

    Terms ``arm=<name>``; columns of the house table plus ``p_value_holm`` and ``p_value_ri``
    (``permutations=0``: no randomisation inference, NaN). Rows with a missing outcome are refused:
    handle attrition first (:func:`attrition`).
    """
    import statsmodels.api as sm

    check_choice("se", se, SE_TYPES)
    if se == "cluster" and not cluster:
        raise ParameterError("se='cluster' needs cluster=<the column of the unit of randomisation>.")
    cols = [outcome, arm, *covariates, *strata] + ([cluster] if cluster else [])
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ParameterError(f"itt: columns {missing} are not in the frame.")
    if frame[cols].isna().any().any():
        bad = int(frame[cols].isna().any(axis=1).sum())
        raise ParameterError(f"itt: {bad} row(s) have a missing value in {cols}; report attrition with "
                             "attrition() and analyse the observed rows explicitly.")
    text = [c for c in [outcome, *covariates] if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        raise ParameterError(f"itt: columns {text} are not numeric; code categories as 0/1 indicators or pass "
                             "them as strata.")
    if control not in set(frame[arm]):
        arms = sorted(map(str, set(frame[arm])))
        raise ParameterError(f"itt: control arm {control!r} not found in {arm!r}; arms are {arms}.")
    levels, d, w = _design_matrix(frame, arm, control, covariates, strata)
    if not levels:
        raise ParameterError(f"itt: only the control arm {control!r} is present.")
    y = frame[outcome].to_numpy(float)
    x = np.column_stack([d, w])
    model = sm.OLS(y, x)
    if se == "HC2":
        # HC2 divides by 1 - h: a unit the covariates and strata fit exactly (h = 1; a tiny stratum) has no
        # HC2 variance. Then HC1, said with a named warning and recorded in the spec.
        q, _ = np.linalg.qr(x)
        leverage = (q ** 2).sum(axis=1)
        if np.any(leverage > 1 - 1e-8):
            import warnings

            from analysis.errors import SmallCellWarning

            warnings.warn(f"itt: {int((leverage > 1 - 1e-8).sum())} unit(s) have leverage 1 (a stratum or covariate "
                          "pattern they fill alone); HC2 is undefined, HC1 standard errors are used. Merge small "
                          "strata or use fewer covariates.", SmallCellWarning, stacklevel=2)
            se = "HC1"
    if se == "cluster":
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(frame[cluster])[0]})
    elif se == "classical":
        fit = model.fit()
    else:
        fit = model.fit(cov_type=se)
    k = len(levels)
    est, ses = fit.params[:k], fit.bse[:k]
    dof = fit.df_resid if se == "classical" else None
    weights = np.linalg.pinv(x.T @ x) @ x.T  # rows: each coefficient's weights on y
    is_control = (frame[arm] == control).to_numpy()
    n_t = [int((frame[arm] == a).sum()) for a in levels]
    dom = [dominance_share(weights[j] * y) if np.any(weights[j] * y) else np.nan for j in range(k)]
    table = tidy_estimates([f"arm={a}" for a in levels], est, ses, n=n_t, alpha=alpha, dof=dof,
                           n_control=int(is_control.sum()), dominance=dom)
    table["p_value_holm"] = holm(table["p_value"].to_numpy())
    table["p_value_ri"] = _ri_pvalues(frame, arm=arm, d=d, w=w, y=y, est=est, levels=levels, strata=strata,
                                      cluster=cluster, permutations=permutations, seed=seed)
    spec = {"outcome": outcome, "arm": arm, "control": control, "covariates": list(covariates),
            "strata": list(strata), "cluster": cluster, "se": se, "permutations": permutations, "seed": seed,
            "correction": "holm"}
    return EffectResult(estimates=table, estimand="ITT", spec=spec,
                        diagnostics={"n": int(len(y)), "residual_df": float(fit.df_resid), "r2": float(fit.rsquared)})


def _ri_pvalues(frame, *, arm, d, w, y, est, levels, strata, cluster, permutations, seed):
    if permutations == 0:
        return np.full(len(levels), np.nan)
    if isinstance(permutations, bool) or not isinstance(permutations, (int, np.integer)) or permutations < 0:
        raise ParameterError(f"permutations={permutations!r}: give a whole number >= 0.")
    q, _ = np.linalg.qr(w)
    rng = np.random.default_rng(seed)
    stratum = (frame[list(strata)].astype(str).agg("|".join, axis=1) if strata else pd.Series("all", index=frame.index))
    ru = (frame[cluster].astype(str) if cluster else pd.Series(np.arange(len(frame)), index=frame.index)).to_numpy()
    # the arm of each unit of randomisation, permuted within strata
    first = pd.DataFrame({"ru": ru, "stratum": stratum.to_numpy(), "arm": frame[arm].to_numpy()}).drop_duplicates("ru")
    groups = [np.flatnonzero(first["stratum"].to_numpy() == s) for s in pd.unique(first["stratum"])]
    pos = pd.Series(np.arange(len(first)), index=first["ru"].to_numpy()).loc[ru].to_numpy()
    ru_arm = first["arm"].to_numpy()
    count = np.zeros(len(levels))
    for _ in range(permutations):
        perm = ru_arm.copy()
        for g in groups:
            perm[g] = ru_arm[g][rng.permutation(len(g))]
        a = perm[pos]
        dp = np.column_stack([(a == lv).astype(float) for lv in levels])
        count += np.abs(_coefs(y, dp, q)) >= np.abs(est) - 1e-12
    return (1 + count) / (1 + permutations)


def balance_table(frame: pd.DataFrame, *, arm: str, covariates: Sequence[str],
                  control: str = "control") -> pd.DataFrame:
    """Per covariate and arm: means, the standardised difference (pooled sd) and a Welch-test p-value,
    with the units of each arm (``n``, ``n_control``) and the dominance of the covariate's values."""
    rows = []
    c = frame[frame[arm] == control]
    for a in sorted((v for v in pd.unique(frame[arm]) if v != control), key=str):
        t = frame[frame[arm] == a]
        for v in covariates:
            xt, xc = t[v].dropna().to_numpy(float), c[v].dropna().to_numpy(float)
            sd = np.sqrt((xt.var(ddof=1) + xc.var(ddof=1)) / 2)
            p = stats.ttest_ind(xt, xc, equal_var=False).pvalue if sd > 0 else np.nan
            dom = [dominance_share(z) for z in (xt, xc) if np.abs(z).sum() > 0]
            rows.append({"arm": a, "covariate": v, "mean_control": xc.mean(), "mean_arm": xt.mean(),
                         "std_difference": (xt.mean() - xc.mean()) / sd if sd > 0 else np.nan, "p_value": p,
                         "n": xt.size, "n_control": xc.size, "dominance": max(dom) if dom else np.nan})
    return pd.DataFrame(rows).set_index(["arm", "covariate"])


def balance_result(frame: pd.DataFrame, *, arm: str, covariates: Sequence[str], control: str = "control",
                   alpha: float = 0.05) -> EffectResult:
    """The balance table as a results object carrying its units (for ``Report.table``): terms
    ``<arm>:<covariate>``, estimate the standardised difference, standard error sqrt(1/n_t + 1/n_c)."""
    bal = balance_table(frame, arm=arm, covariates=covariates, control=control)
    terms = [f"{a}:{c}" for a, c in bal.index]
    se = np.sqrt(1 / bal["n"] + 1 / bal["n_control"])
    table = tidy_estimates(terms, bal["std_difference"], se, n=bal["n"].tolist(), alpha=alpha,
                           n_control=bal["n_control"].tolist(), dominance=bal["dominance"].tolist())
    return EffectResult(estimates=table, estimand="standardised difference", spec={"arm": arm, "control": control})


def attrition(frame: pd.DataFrame, *, arm: str, observed: str, control: str = "control", strata: Sequence[str] = (),
              cluster: str | None = None) -> EffectResult:
    """Differential attrition: the ITT effect of each arm on being *not* observed (``observed`` 0/1),
    HC2 (or cluster) standard errors; ``diagnostics["attrition_by_arm"]`` the share lost per arm."""
    if not frame[observed].isin([0, 1]).all():
        raise ParameterError(f"attrition: column {observed!r} must be 0/1 (1 = outcome observed).")
    data = frame.assign(_lost=1 - frame[observed].astype(float))
    res = itt(data, outcome="_lost", arm=arm, control=control, strata=strata, cluster=cluster,
              se="cluster" if cluster else "HC2", permutations=0)
    by_arm = data.groupby(arm)["_lost"].agg(["mean", "size"]).rename(columns={"mean": "share_lost", "size": "n"})
    return EffectResult(estimates=res.estimates, estimand="ITT on attrition", spec={**res.spec, "observed": observed},
                        diagnostics={**res.diagnostics, "attrition_by_arm": by_arm})
