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


def funnel_limits_normal(target: float, se, *, levels: Sequence[float] = (0.95, 0.998)) -> pd.DataFrame:
    """Control limits for estimates with standard errors ``se`` around ``target`` (Spiegelhalter 2005, sec. 3).

    For an approximately normal estimate the limits are ``target +/- z * se``; plotted against the
    precision ``1 / se`` they form the funnel. Used to compare effect estimates between
    municipalities, where the target is the precision-weighted mean of the estimates.
    """
    se = np.asarray(se, dtype=float)
    if (se <= 0).any() or not np.isfinite(se).all():
        raise ParameterError("funnel_limits_normal: every standard error must be positive and finite.")
    out = {"se": se, "precision": 1 / se}
    for level in levels:
        if not 0 < level < 1:
            raise ParameterError(f"level={level!r} must lie between 0 and 1 (for example 0.95).")
        z = stats.norm.ppf(0.5 + level / 2)
        tag = f"{level * 100:g}"
        out[f"lower_{tag}"] = target - z * se
        out[f"upper_{tag}"] = target + z * se
    return pd.DataFrame(out)


def precision_weighted_mean(estimates, se) -> tuple[float, float]:
    """Fixed-effect (inverse-variance) pooled estimate and its standard error."""
    est, se = np.asarray(estimates, dtype=float), np.asarray(se, dtype=float)
    w = 1 / se**2
    return float((w * est).sum() / w.sum()), float(np.sqrt(1 / w.sum()))
