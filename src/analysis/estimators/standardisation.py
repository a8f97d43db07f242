"""Indirect standardisation of units (municipalities) and funnel limits that allow for overdispersion.

A person-level logit of a 0/1 outcome on covariates, fitted without the unit,
gives each person's expected outcome ``p_i`` (:func:`expected_outcome`). Per unit
``O = sum y_i`` and ``E = sum p_i``; the ratio ``O / E`` is the indirectly
standardised ratio (1 = as expected given who lives there). Its interval is
the exact Poisson interval of ``O`` divided by ``E`` (Garwood 1936; Breslow &
Day 1987, ch. 2), treating ``E`` as known, as is usual.

Funnel limits (Spiegelhalter 2005, "Funnel plots for comparing institutional
performance", Stat Med 24:1185-1202; "Handling over-dispersion of performance
indicators", Qual Saf Health Care 14:347-351) on the square-root scale:
``Y = sqrt(O / E)``, target 1, ``s = sqrt(V) / (2 E)`` with ``V = sum p_i (1 - p_i)``
(``V = E``, the Poisson case of FunnelPlotR's "CQC" method, when no variance is
given). z-scores ``z = (Y - 1) / s`` are Winsorised at 10 % per tail
(quantiles as R's type 7), ``phi = mean(z_w^2)``; the additive random-effects
variance is DerSimonian & Laird's ``tau^2 = (I phi - (I - 1)) / (sum w - sum w^2 / sum w)``,
``w = 1 / s^2``, and 0 when ``I phi < I - 1``. Limits are
``(1 +/- z_a sqrt(s^2 + tau^2))^2`` (additive) or ``(1 +/- z_a sqrt(phi) s)^2``
(multiplicative, when ``phi > 1``).

Those are Spiegelhalter's formulas (``estimator="spiegelhalter"``), and they are biased low: the mean
square of 10 % Winsorised standard normal scores is ``c = 0.679``, not 1, so ``phi`` is about 0.68
times the true one, and under a normal random effect ``tau^2`` comes out ~40 % too small; the 95 %
limits then hold ~87 % of in-control units, not 95 % (tests/estimators/test_funnel.py). The default
``estimator="consistent"`` keeps the Winsorising (the guard against outlying units) but makes it
consistent at the normal model, as a MAD is scaled by 1.4826: ``phi = mean(z_w^2) / c`` and ``tau^2``
solves ``mean(W(z / sqrt(1 + tau^2 w))^2) = c`` (``W`` Winsorising at the same quantiles; the left side
falls monotonically in ``tau^2``; 0 when it is already below ``c`` at ``tau^2 = 0``): under the
random-effects model the scores ``z / sqrt(1 + tau^2 w)`` are standard normal, so the equation holds
in expectation at the true ``tau^2``. ``c(f) = 1 - 2f - 2 q phi(q) + 2 f q^2`` with ``q`` the normal
``1 - f`` quantile (closed form of the Winsorised second moment).

Empirical Bayes: on the same scale the unit's true value has prior
``N(1, tau^2)``; the posterior mean ``(Y / s^2 + 1 / tau^2) / (1 / s^2 + 1 / tau^2)``
squared is the shrunken ratio, and rank intervals come from seeded draws of the
posteriors (Goldstein & Spiegelhalter 1996). With ``tau^2 = 0`` every unit is
shrunk to 1: its differences are consistent with chance.

Units and dominance (issue #13): the numbers here are sums of 0/1 outcomes and
of fitted probabilities per unit; a unit's ratio reveals its count ``O``
(ratio times ``E``), so the study publishes a unit only where that count and its
complement pass the share rule, and estimates overdispersion, shrinkage and
ranks from the published units only. No amounts, so no dominance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import ParameterError, check_choice

METHODS = ("additive", "multiplicative")
#: How phi and tau^2 are estimated from the Winsorised z-scores (module docstring).
ESTIMATORS = ("consistent", "spiegelhalter")
LEVELS = (0.95, 0.998)


@dataclass(frozen=True)
class ExpectedModel:
    """The reference model: expected outcome per person, and what the fit rests on."""

    expected: np.ndarray  # p_i, one per row of the frame
    params: pd.Series  # the covariates' coefficients (and the common intercept; no unit effects)
    n: int
    n_params: int  # every fitted parameter, unit effects included
    converged: bool
    dropped_levels: tuple = ()
    within: str | None = None  # the unit column whose fixed effects the covariate effects were estimated within

    @property
    def residual_df(self) -> int:
        return self.n - self.n_params


def design_matrix(frame: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Intercept plus treatment-coded dummies of each covariate (first level in sorted order is the base)."""
    parts = [pd.Series(1.0, index=frame.index, name="const")]
    for c in covariates:
        if c not in frame.columns:
            raise ParameterError(f"design_matrix: covariate {c!r} not in the frame; columns: {list(frame.columns)}.")
        col = frame[c].astype("string").fillna("unknown")
        dummies = pd.get_dummies(col, prefix=c, drop_first=True, dtype=float)
        dummies = dummies.loc[:, dummies.sum() > 0]
        parts.append(dummies)
    return pd.concat(parts, axis=1)


def _independent_columns(x: pd.DataFrame) -> tuple[pd.DataFrame, list]:
    """Drop dummies collinear with earlier columns (a level that always co-occurs with another)."""
    gram = x.T @ x  # rank of X'X is the rank of X; k x k, cheap at any n
    dropped, kept = [], []
    for c in x.columns:
        cols = kept + [c]
        if np.linalg.matrix_rank(gram.loc[cols, cols].to_numpy()) == len(cols):
            kept.append(c)
        else:
            dropped.append(c)
    return x[kept], dropped


def expected_outcome(frame: pd.DataFrame, *, outcome: str, covariates: Sequence[str], max_iter: int = 100,
                     within: str | None = None) -> ExpectedModel:
    """Fit a logit (statsmodels GLM, Binomial, IRLS) of ``outcome`` on ``covariates`` and return each
    person's fitted probability. With an intercept the fitted probabilities sum to the observed count
    (the score equation), so the ratios O/E of all units together equal 1.

    ``within`` (a unit column, e.g. the municipality): the covariates' effects are estimated within units,
    with a fixed effect per unit, and each person's expected outcome uses them with one common intercept,
    set so that the expected counts again sum to the observed. A model without the unit confounds the
    covariates' effects with the units' own effects wherever composition and unit effect go together
    (where a municipality keeps bijstand low and many low-educated people live, low education looks
    harmless), and the bias is then carried into every unit's ratio; the fixed-effects fit removes it
    (Kalbfleisch & Wolfe 2013, Stat Biosci 5:286-302; He, Kalbfleisch, Li & Li 2013, Lifetime Data Anal
    19:490-512). A unit whose outcomes are all 0 (or all 1) carries no information on the covariates
    once it has its own effect, so it is left out of that fit and gets expected values like every other.
    The fit runs on the cells of identical rows (the sufficient statistics of a logit with categorical
    covariates: the same estimates, in memory that does not grow with the number of persons)."""
    import statsmodels.api as sm

    y = pd.to_numeric(frame[outcome], errors="coerce")
    if y.isna().any() or not y.isin([0, 1]).all():
        raise ParameterError(f"expected_outcome: {outcome!r} must be a 0/1 column without missing values.")
    if len(frame) == 0 or y.nunique() < 2:
        raise ParameterError(f"expected_outcome: {outcome!r} needs both 0 and 1 in the data to fit a model; "
                             f"got {len(frame)} rows with {int(y.sum())} ones.")
    if within is not None and within not in frame.columns:
        raise ParameterError(f"expected_outcome: within={within!r} is not a column of the frame; columns: "
                             f"{list(frame.columns)}.")
    x, rank_cols = _independent_columns(design_matrix(frame, covariates))
    if within is None:
        fit = sm.GLM(y.to_numpy(float), x.to_numpy(float), family=sm.families.Binomial()).fit(maxiter=max_iter)
        converged = bool(fit.converged) if hasattr(fit, "converged") else True
        return ExpectedModel(expected=np.asarray(fit.fittedvalues, dtype=float),
                             params=pd.Series(fit.params, index=x.columns), n=int(len(y)), n_params=int(x.shape[1]),
                             converged=converged, dropped_levels=tuple(rank_cols))
    from scipy.optimize import brentq

    unit = frame[within].astype("string").fillna("unknown").to_numpy()
    cov = x.drop(columns="const")
    cells = cov.assign(_unit=unit, _y=y.to_numpy(float))
    keys = list(cov.columns) + ["_unit"]
    grouped = cells.groupby(keys, sort=False, dropna=False)["_y"].agg(["sum", "count"]).reset_index()
    rate = grouped.groupby("_unit")["sum"].transform("sum") / grouped.groupby("_unit")["count"].transform("sum")
    informative = grouped[(rate > 0) & (rate < 1)]  # a unit without variation: its effect is +-infinity
    if informative["_unit"].nunique() < 1:
        raise ParameterError(f"expected_outcome: no {within} has both 0 and 1 in {outcome!r}; the covariates' "
                             f"effects cannot be estimated within units. Use within=None.")
    fe = pd.get_dummies(informative["_unit"], prefix="_unit", dtype=float)
    xc, _ = _independent_columns(pd.concat([informative[list(cov.columns)].reset_index(drop=True),
                                            fe.reset_index(drop=True)], axis=1))
    endog = np.column_stack([informative["sum"], informative["count"] - informative["sum"]])
    fit = sm.GLM(endog, xc.to_numpy(float), family=sm.families.Binomial()).fit(maxiter=max_iter)
    beta = pd.Series(fit.params, index=xc.columns)
    slopes = beta.reindex(cov.columns).fillna(0.0)  # a level seen only in non-informative units: no effect
    eta = cov.to_numpy(float) @ slopes.to_numpy()
    observed = float(y.sum())

    def excess(c: float) -> float:
        return float((1 / (1 + np.exp(-(eta + c)))).sum() - observed)

    lo, hi = -1.0, 1.0
    while excess(lo) > 0:
        lo *= 2
    while excess(hi) < 0:
        hi *= 2
    intercept = brentq(excess, lo, hi, xtol=1e-12)
    expected = 1 / (1 + np.exp(-(eta + intercept)))
    converged = bool(fit.converged) if hasattr(fit, "converged") else True
    params = pd.concat([pd.Series({"const": intercept}), slopes])
    return ExpectedModel(expected=expected, params=params, n=int(len(y)), n_params=int(xc.shape[1]),
                         converged=converged, dropped_levels=tuple(rank_cols), within=within)


def poisson_ratio_interval(observed, expected, *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval of ``O / E`` for Poisson ``O``: chi-square quantiles over ``2 E``."""
    o, e = np.asarray(observed, float), np.asarray(expected, float)
    a = 1 - level
    lower = np.where(o > 0, stats.chi2.ppf(a / 2, 2 * o) / 2, 0.0) / e
    upper = stats.chi2.ppf(1 - a / 2, 2 * o + 2) / 2 / e
    return lower, upper


def winsorise(z, fraction: float = 0.1) -> np.ndarray:
    """Replace values below the ``fraction`` quantile (above ``1 - fraction``) by that quantile (type 7)."""
    z = np.asarray(z, float)
    if not 0 <= fraction < 0.5:
        raise ParameterError(f"winsorise: fraction={fraction!r} must lie in [0, 0.5).")
    lo, hi = np.quantile(z, fraction), np.quantile(z, 1 - fraction)
    return np.clip(z, lo, hi)


def dersimonian_laird(y, v, *, target: float | None = None) -> dict:
    """DerSimonian & Laird (1986) between-unit variance of estimates ``y`` with variances ``v``.

    ``target`` None: Q around the inverse-variance weighted mean (the meta-analysis estimator);
    a number: around that fixed target (Spiegelhalter's funnel, there with Winsorised z-scores).
    Returns ``{"q", "tau2", "mean", "se_mean"}`` (mean and its se under the random-effects weights)."""
    y, v = np.asarray(y, float), np.asarray(v, float)
    if len(y) < 2 or (v <= 0).any():
        raise ParameterError("dersimonian_laird needs two or more estimates with positive variances.")
    w = 1 / v
    centre = (w * y).sum() / w.sum() if target is None else float(target)
    q = float((w * (y - centre) ** 2).sum())
    df = len(y) - 1
    tau2 = max(0.0, (q - df) / (w.sum() - (w ** 2).sum() / w.sum()))
    ws = 1 / (v + tau2)
    return {"q": q, "tau2": float(tau2), "mean": float((ws * y).sum() / ws.sum()), "se_mean": float(np.sqrt(1 / ws.sum()))}


@dataclass(frozen=True)
class Overdispersion:
    """Spiegelhalter's overdispersion of standardised ratios on the square-root scale."""

    phi: float  # multiplicative overdispersion (1 = binomial/Poisson variation only)
    tau2: float  # additive between-unit variance on the square-root scale
    method: str  # which one the limits use: "additive" or "multiplicative"
    winsorise: float
    n_units: int
    estimator: str = "consistent"  # "consistent" (default) or "spiegelhalter" (module docstring)

    @property
    def chi2_p(self) -> float:
        """P-value of ``I phi`` against chi-square with ``I - 1`` df (test of no overdispersion)."""
        return float(stats.chi2.sf(self.n_units * self.phi, self.n_units - 1))


def sqrt_scale(observed, expected, variance=None) -> tuple[np.ndarray, np.ndarray]:
    """``Y = sqrt(O / E)`` and its standard error ``s = sqrt(V) / (2 E)`` (``V = E`` if not given)."""
    o, e = np.asarray(observed, float), np.asarray(expected, float)
    if (e <= 0).any():
        raise ParameterError("Every expected count must be positive.")
    var = e if variance is None else np.asarray(variance, float)
    return np.sqrt(o / e), np.sqrt(var) / (2 * e)


def winsorised_normal_moment(fraction: float) -> float:
    """``E[W(Z)^2]`` for standard normal ``Z`` Winsorised at its ``fraction`` and ``1 - fraction`` quantiles
    (closed form ``1 - 2f - 2 q phi(q) + 2 f q^2``, ``q`` the ``1 - f`` quantile); 1 without Winsorising."""
    if not 0 <= fraction < 0.5:
        raise ParameterError(f"winsorised_normal_moment: fraction={fraction!r} must lie in [0, 0.5).")
    if fraction == 0:
        return 1.0
    q = stats.norm.ppf(1 - fraction)
    return float(1 - 2 * fraction - 2 * q * stats.norm.pdf(q) + 2 * fraction * q ** 2)


def _tau2_consistent(z: np.ndarray, w: np.ndarray, fraction: float) -> float:
    """The ``tau^2 >= 0`` at which the Winsorised mean square of ``z / sqrt(1 + tau^2 w)`` is its normal value."""
    from scipy.optimize import brentq

    c = winsorised_normal_moment(fraction)

    def excess(t2: float) -> float:
        return float(np.mean(winsorise(z / np.sqrt(1 + t2 * w), fraction) ** 2) - c)

    if excess(0.0) <= 0:
        return 0.0
    hi = 1.0 / float(np.median(w))  # a between-unit sd the size of a typical unit's own se
    while excess(hi) > 0:
        hi *= 10
    return float(brentq(excess, 0.0, hi, xtol=1e-15, rtol=1e-12))


def overdispersion(observed, expected, variance=None, *, method: Literal["additive", "multiplicative"] = "additive",
                   winsorise_by: float = 0.1,
                   estimator: Literal["consistent", "spiegelhalter"] = "consistent") -> Overdispersion:
    """Estimate phi and tau^2 from units' observed and expected counts (module docstring)."""
    check_choice("method", method, METHODS)
    check_choice("estimator", estimator, ESTIMATORS)
    y, s = sqrt_scale(observed, expected, variance)
    if len(y) < 3:
        raise ParameterError(f"overdispersion needs at least 3 units; got {len(y)}.")
    z = (y - 1) / s
    zw = winsorise(z, winsorise_by)
    n = len(z)
    w = 1 / s ** 2
    if estimator == "spiegelhalter":
        phi = float(np.mean(zw ** 2))
        tau2 = 0.0 if n * phi < n - 1 else max(0.0, (n * phi - (n - 1)) / (w.sum() - (w ** 2).sum() / w.sum()))
    else:
        phi = float(np.mean(zw ** 2) / winsorised_normal_moment(winsorise_by))
        tau2 = _tau2_consistent(z, w, winsorise_by)
    return Overdispersion(phi=phi, tau2=float(tau2), method=method, winsorise=winsorise_by, n_units=n,
                          estimator=estimator)


def ratio_limits(expected, od: Overdispersion | None, *, variance_ratio=None,
                 levels: Sequence[float] = LEVELS) -> pd.DataFrame:
    """Funnel limits of the ratio O/E at expected counts ``expected`` (rows), for each level.

    ``od`` None: limits for binomial/Poisson variation only. ``variance_ratio`` (V / E per point, e.g.
    ``1 - mean p``) narrows the Poisson ``s`` to the binomial one."""
    e = np.asarray(expected, float)
    if (e <= 0).any():
        raise ParameterError("ratio_limits: expected counts must be positive.")
    vr = 1.0 if variance_ratio is None else np.asarray(variance_ratio, float)
    s = np.sqrt(vr * e) / (2 * e)
    if od is None:
        width = s
    elif od.method == "additive":
        width = np.sqrt(s ** 2 + od.tau2)
    else:
        width = s * np.sqrt(max(od.phi, 1.0))
    out = {"expected": e}
    for level in levels:
        if not 0 < level < 1:
            raise ParameterError(f"level={level!r} must lie between 0 and 1.")
        z = stats.norm.ppf(0.5 + level / 2)
        tag = f"{level * 100:g}"
        out[f"lower_{tag}"] = np.clip(1 - z * width, 0, None) ** 2
        out[f"upper_{tag}"] = (1 + z * width) ** 2
    return pd.DataFrame(out)


@dataclass(frozen=True)
class StandardisedComparison:
    """Units compared after indirect standardisation: one row per unit in ``table``."""

    table: pd.DataFrame  # unit, n, observed, expected, variance, ratio, se, ci_lower, ci_upper, z, position,
    #                      shrunken, shrunken_lower, shrunken_upper, rank, rank_lower, rank_upper
    overdispersion: Overdispersion
    spec: Mapping[str, object] = field(default_factory=dict)
    diagnostics: Mapping[str, object] = field(default_factory=dict)

    def outside_share(self, level: float = 0.998) -> float:
        """Share of units outside the funnel's limits at ``level``."""
        def outside(position: str) -> bool:
            return position != "within" and float(position.split("_")[1]) >= level * 100 - 1e-9

        return float(self.table["position"].map(outside).mean())

    def limits(self, expected, *, levels: Sequence[float] = LEVELS) -> pd.DataFrame:
        return ratio_limits(expected, self.overdispersion, variance_ratio=self.spec.get("variance_ratio"),
                            levels=levels)

    def summary(self) -> str:
        od = self.overdispersion
        return (f"Indirectly standardised ratios of {len(self.table)} units; phi = {od.phi:.3f}, "
                f"tau^2 = {od.tau2:.5f} ({od.method} limits), outside 99.8%: {self.outside_share(0.998):.1%}")

    def _repr_html_(self) -> str:
        return f"<p>{self.summary()}</p>"


def compare_units(units: pd.DataFrame, *, method: Literal["additive", "multiplicative"] = "additive",
                  winsorise_by: float = 0.1, level: float = 0.95, draws: int = 2000, seed: int = 0,
                  levels: Sequence[float] = LEVELS,
                  estimator: Literal["consistent", "spiegelhalter"] = "consistent") -> StandardisedComparison:
    """Ratios, funnel positions, empirical-Bayes shrinkage and rank intervals of units.

    ``units``: one row per unit with columns unit, n, observed, expected and optionally variance
    (``sum p (1 - p)``; else ``expected``). Rank 1 is the lowest shrunken ratio."""
    need = {"unit", "n", "observed", "expected"}
    if not need <= set(units.columns):
        raise ParameterError(f"compare_units needs columns {sorted(need)}; got {list(units.columns)}.")
    t = units.reset_index(drop=True).copy()
    if "variance" not in t:
        t["variance"] = t["expected"]
    od = overdispersion(t["observed"], t["expected"], t["variance"], method=method, winsorise_by=winsorise_by,
                        estimator=estimator)
    y, s = sqrt_scale(t["observed"], t["expected"], t["variance"])
    t["ratio"] = t["observed"] / t["expected"]
    t["se"] = np.sqrt(t["variance"]) / t["expected"]
    t["ci_lower"], t["ci_upper"] = poisson_ratio_interval(t["observed"], t["expected"], level=level)
    t["z"] = (y - 1) / s
    variance_ratio = float(t["variance"].sum() / t["expected"].sum())
    lim = ratio_limits(t["expected"], od, variance_ratio=variance_ratio, levels=levels)
    position = np.array(["within"] * len(t), dtype=object)
    for lv in sorted(levels):
        tag = f"{lv * 100:g}"
        position = np.where(t["ratio"] > lim[f"upper_{tag}"], f"above_{tag}",
                            np.where(t["ratio"] < lim[f"lower_{tag}"], f"below_{tag}", position))
    t["position"] = position
    # empirical Bayes on the square-root scale, prior N(1, tau^2)
    if od.tau2 > 0:
        prec = 1 / s ** 2 + 1 / od.tau2
        post_mean = (y / s ** 2 + 1 / od.tau2) / prec
        post_sd = np.sqrt(1 / prec)
    else:
        post_mean, post_sd = np.ones(len(t)), np.zeros(len(t))
    zq = stats.norm.ppf(0.5 + level / 2)
    t["shrunken"] = post_mean ** 2
    t["shrunken_lower"] = np.clip(post_mean - zq * post_sd, 0, None) ** 2
    t["shrunken_upper"] = (post_mean + zq * post_sd) ** 2
    rng = np.random.default_rng(seed)
    sims = post_mean[None, :] + post_sd[None, :] * rng.standard_normal((draws, len(t)))
    ranks = sims.argsort(axis=1).argsort(axis=1) + 1
    a = (1 - level) / 2
    t["rank"] = pd.Series(post_mean).rank(method="average").to_numpy()
    t["rank_lower"] = np.quantile(ranks, a, axis=0, method="lower")
    t["rank_upper"] = np.quantile(ranks, 1 - a, axis=0, method="higher")
    if od.tau2 == 0:  # all posteriors equal: every rank is possible
        t["rank"], t["rank_lower"], t["rank_upper"] = (len(t) + 1) / 2, 1.0, float(len(t))
    spec = {"method": method, "winsorise_by": winsorise_by, "estimator": estimator, "level": level, "levels": tuple(levels),
            "draws": draws, "seed": seed, "variance_ratio": variance_ratio}
    return StandardisedComparison(table=t, overdispersion=od, spec=spec,
                                  diagnostics={"chi2_p": od.chi2_p, "n_units": len(t)})


def nearest_peers(composition: pd.DataFrame, *, k: int = 5) -> dict:
    """For each row (unit, indexed), the ``k`` nearest other units by Euclidean distance of the columns
    standardised to mean 0 and sd 1 across units (a constant column is left out)."""
    c = composition.astype(float)
    sd = c.std(ddof=0)
    c = c.loc[:, sd > 0]
    zc = (c - c.mean()) / c.std(ddof=0)
    d = np.sqrt(((zc.to_numpy()[:, None, :] - zc.to_numpy()[None, :, :]) ** 2).sum(axis=2))
    out = {}
    for i, unit in enumerate(c.index):
        order = [j for j in np.argsort(d[i], kind="stable") if j != i][:k]
        out[unit] = [c.index[j] for j in order]
    return out
