"""Funnel-plot control limits for comparing units (municipalities) on a rate.

Spiegelhalter (2005), "Funnel plots for comparing institutional performance",
Statistics in Medicine 24: for a proportion with target ``p0`` and a unit of
size ``n``, the limits are ``p0 +/- z * sqrt(p0 (1 - p0) / n)`` with ``z`` the
two-sided normal quantile (1.96 for 95 percent, 3.09 for 99.8 percent). A
few lines of closed form: no package is needed.

Units and dominance (disclosure, issue #13): nothing here rests on individual
units. The limits are functions of a target and unit sizes; a unit's rate, its
size and its position against the limits are published only through the
disclosure-checked tables of the study (numerator and complement rules on the
rate). ``precision_weighted_mean`` pools estimates that have each been checked;
its ``n`` is the sum of theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import ParameterError


def funnel_limits(p0: float, n, *, levels: Sequence[float] = (0.95, 0.998)) -> pd.DataFrame:
    """Control limits of a proportion ``p0`` at unit sizes ``n`` (one row per size)."""
    if not 0 < p0 < 1:
        raise ParameterError(f"p0={p0!r} must be a proportion strictly between 0 and 1.")
    n = np.asarray(n, dtype=float)
    if (n <= 0).any():
        raise ParameterError("funnel_limits: every unit size n must be positive.")
    out = {"n": n}
    for level in levels:
        if not 0 < level < 1:
            raise ParameterError(f"level={level!r} must lie between 0 and 1 (for example 0.95).")
        z = stats.norm.ppf(0.5 + level / 2)
        half = z * np.sqrt(p0 * (1 - p0) / n)
        tag = f"{level * 100:g}"
        out[f"lower_{tag}"] = np.clip(p0 - half, 0, 1)
        out[f"upper_{tag}"] = np.clip(p0 + half, 0, 1)
    return pd.DataFrame(out)


def funnel_position(rate: float, n: float, p0: float, *, levels: Sequence[float] = (0.95, 0.998)) -> str:
    """Where a unit lies: 'within', or 'above'/'below' the widest limit it crosses (e.g. 'above_99.8')."""
    limits = funnel_limits(p0, [n], levels=levels).iloc[0]
    verdict = "within"
    for level in sorted(levels):
        tag = f"{level * 100:g}"
        if rate > limits[f"upper_{tag}"]:
            verdict = f"above_{tag}"
        elif rate < limits[f"lower_{tag}"]:
            verdict = f"below_{tag}"
    return verdict


def funnel_limits_normal(target: float, se, *, levels: Sequence[float] = (0.95, 0.998),
                         tau2: float = 0.0) -> pd.DataFrame:
    """Control limits for estimates with standard errors ``se`` around ``target`` (Spiegelhalter 2005, sec. 3).

    For an approximately normal estimate the limits are ``target +/- z * se``; plotted against the
    precision ``1 / se`` they form the funnel. Used to compare effect estimates between
    municipalities, where the target is the pooled mean of the estimates. ``tau2`` (the between-unit
    variance of a random-effects model) widens them to ``target +/- z * sqrt(se^2 + tau2)``.
    """
    se = np.asarray(se, dtype=float)
    if (se <= 0).any() or not np.isfinite(se).all():
        raise ParameterError("funnel_limits_normal: every standard error must be positive and finite.")
    if not (np.isfinite(tau2) and tau2 >= 0):
        raise ParameterError(f"funnel_limits_normal: tau2={tau2!r} must be a finite number >= 0.")
    out = {"se": se, "precision": 1 / se}
    for level in levels:
        if not 0 < level < 1:
            raise ParameterError(f"level={level!r} must lie between 0 and 1 (for example 0.95).")
        z = stats.norm.ppf(0.5 + level / 2)
        tag = f"{level * 100:g}"
        half = z * np.sqrt(se ** 2 + tau2)
        out[f"lower_{tag}"] = target - half
        out[f"upper_{tag}"] = target + half
    return pd.DataFrame(out)


def precision_weighted_mean(estimates, se) -> tuple[float, float]:
    """Fixed-effect (inverse-variance) pooled estimate and its standard error."""
    est, se = np.asarray(estimates, dtype=float), np.asarray(se, dtype=float)
    w = 1 / se**2
    return float((w * est).sum() / w.sum()), float(np.sqrt(1 / w.sum()))


# --- Funnel limits that allow for overdispersion (Spiegelhalter 2005, QSHC 14:347-351) -------------------

OVERDISPERSION = ("additive", "multiplicative", "none")


@dataclass(frozen=True)
class ProportionFunnel:
    """Units' proportions against a common target with limits that allow for overdispersion.

    The proportion ``count / n`` is written as the ratio ``O / E`` with ``E = p0 n`` and binomial
    variance ``V = p0 (1 - p0) n``, and handled as in :mod:`analysis.estimators.standardisation`
    (square-root scale, 10 % Winsorised z-scores, ``phi`` and ``tau^2`` made consistent at the normal); the limits
    on the ratio times ``p0`` are the limits on the proportion.
    """

    p0: float
    method: str  # "additive", "multiplicative" or "none" (binomial limits only)
    overdispersion: object  # standardisation.Overdispersion, estimated whatever the method
    table: pd.DataFrame  # unit, n, count, rate, z, position, lower_<lv>, upper_<lv>
    levels: tuple = (0.95, 0.998)

    def limits(self, n, *, levels: Sequence[float] | None = None) -> pd.DataFrame:
        """Limits on the proportion at unit sizes ``n`` (one row per size)."""
        from analysis.estimators.standardisation import ratio_limits

        n = np.asarray(n, dtype=float)
        od = None if self.method == "none" else self.overdispersion
        lim = ratio_limits(self.p0 * n, od, variance_ratio=1 - self.p0, levels=levels or self.levels)
        out = {"n": n}
        for col in lim.columns:
            if col != "expected":
                out[col] = lim[col].to_numpy() * self.p0
        return pd.DataFrame(out)

    def outside_share(self, level: float = 0.998) -> float:
        """Share of units outside the limits at ``level`` (above or below)."""
        tag = f"{level * 100:g}"
        if f"upper_{tag}" not in self.table:
            raise ParameterError(f"outside_share: level={level!r} not among the funnel's levels {self.levels}.")
        t = self.table
        return float(((t["rate"] > t[f"upper_{tag}"]) | (t["rate"] < t[f"lower_{tag}"])).mean())

    def position(self, unit) -> str:
        """'within', or 'above_<lv>'/'below_<lv>' for the widest level the unit crosses."""
        row = self.table.set_index("unit").loc[unit]
        return str(row["position"])


def proportion_funnel(count, n, *, units=None, method: str = "additive", winsorise_by: float = 0.1,
                      levels: Sequence[float] = (0.95, 0.998), estimator: str = "consistent") -> ProportionFunnel:
    """Funnel of proportions ``count / n`` with target ``p0 = sum count / sum n`` (Spiegelhalter 2005).

    ``method``: "additive" (random-effects ``tau^2``), "multiplicative" (``phi``, when above 1) or "none"
    (binomial limits). ``phi`` and ``tau^2`` are estimated from all units in either case, by ``estimator``:
    "consistent" (default: Winsorised, made consistent at the normal) or "spiegelhalter" (his formulas, biased
    low; :mod:`analysis.estimators.standardisation`)."""
    from analysis.errors import check_choice
    from analysis.estimators.standardisation import overdispersion

    check_choice("method", method, OVERDISPERSION)
    count, n = np.asarray(count, dtype=float), np.asarray(n, dtype=float)
    if count.shape != n.shape or (n <= 0).any() or (count < 0).any() or (count > n).any():
        raise ParameterError("proportion_funnel: count and n must have the same length, n > 0 and 0 <= count <= n.")
    p0 = float(count.sum() / n.sum())
    if not 0 < p0 < 1:
        raise ParameterError(f"proportion_funnel: the pooled proportion p0={p0!r} must lie strictly between 0 and 1.")
    od = overdispersion(count, p0 * n, p0 * (1 - p0) * n, method="multiplicative" if method == "multiplicative"
                        else "additive", winsorise_by=winsorise_by, estimator=estimator)
    units = np.arange(len(n)) if units is None else np.asarray(units)
    y = np.sqrt(count / (p0 * n))
    s = np.sqrt(p0 * (1 - p0) * n) / (2 * p0 * n)
    table = pd.DataFrame({"unit": units, "n": n, "count": count, "rate": count / n, "z": (y - 1) / s})
    funnel = ProportionFunnel(p0=p0, method=method, overdispersion=od, table=table, levels=tuple(levels))
    lim = funnel.limits(n)
    position = np.array(["within"] * len(n), dtype=object)
    for level in sorted(levels):
        tag = f"{level * 100:g}"
        table[f"lower_{tag}"] = lim[f"lower_{tag}"].to_numpy()
        table[f"upper_{tag}"] = lim[f"upper_{tag}"].to_numpy()
        position = np.where(table["rate"] > table[f"upper_{tag}"], f"above_{tag}",
                            np.where(table["rate"] < table[f"lower_{tag}"], f"below_{tag}", position))
    table["position"] = position
    return funnel


@dataclass(frozen=True)
class RandomEffectsMean:
    """A random-effects pooled mean (DerSimonian & Laird 1986) of estimates with standard errors."""

    mean: float
    se: float
    ci_low: float
    ci_high: float
    tau2: float
    q: float
    i2: float  # Higgins & Thompson's I^2 = max(0, (Q - df) / Q)
    fixed_mean: float
    fixed_se: float
    k: int


def random_effects_mean(estimates, se, *, level: float = 0.95) -> RandomEffectsMean:
    """DerSimonian-Laird random-effects mean: ``tau^2`` from Cochran's Q, weights ``1 / (se^2 + tau^2)``."""
    from analysis.estimators.standardisation import dersimonian_laird

    est, se = np.asarray(estimates, dtype=float), np.asarray(se, dtype=float)
    if est.shape != se.shape or len(est) < 2 or not np.isfinite(est).all() or not (np.isfinite(se) & (se > 0)).all():
        raise ParameterError("random_effects_mean needs two or more finite estimates with positive finite "
                             f"standard errors; got {len(est)} estimates.")
    dl = dersimonian_laird(est, se ** 2)
    fixed, fixed_se = precision_weighted_mean(est, se)
    z = stats.norm.ppf(0.5 + level / 2)
    df = len(est) - 1
    i2 = max(0.0, (dl["q"] - df) / dl["q"]) if dl["q"] > 0 else 0.0
    return RandomEffectsMean(mean=dl["mean"], se=dl["se_mean"], ci_low=dl["mean"] - z * dl["se_mean"],
                             ci_high=dl["mean"] + z * dl["se_mean"], tau2=dl["tau2"], q=dl["q"], i2=i2,
                             fixed_mean=fixed, fixed_se=fixed_se, k=len(est))
