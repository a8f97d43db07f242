"""``honest_did``: input handling (results or betahat/sigma), the sensitivity loop and the breakdown value."""

from __future__ import annotations

import math
import warnings
from typing import Literal, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import AnalysisWarning, ParameterError, check_choice
from analysis.estimators.honest_did.arp import rm_confidence_set
from analysis.estimators.honest_did.flci import flci
from analysis.estimators.honest_did.result import HonestDiDResult

__all__ = ["honest_did", "event_time_inputs"]

RESTRICTIONS = ("relative_magnitudes", "smoothness")
TARGETS = ("first", "average")
DEFAULT_MBAR = (0.0, 0.5, 1.0, 1.5, 2.0)


def honest_did(result=None, *, betahat=None, sigma=None, num_pre: int | None = None,
               num_post: int | None = None,
               restriction: Literal["relative_magnitudes", "smoothness"] = "relative_magnitudes",
               m: Sequence[float] | None = None, target: Literal["first", "average"] | int = "first",
               alpha: float = 0.05, grid_points: int = 1000, seed: int = 0) -> HonestDiDResult:
    """Robust confidence intervals under bounded violations of parallel trends (Rambachan & Roth 2023).

    Parameters
    ----------
    result
        An event-study result (``event_study``) or a dynamic aggregation
        (``att_gt(...).aggregate("dynamic")``): an EffectResult with terms
        ``"e=k"`` and a covariance matrix of them (``result.vcov`` or
        ``result.diagnostics["vcov"]``). The reference period (the omitted
        term, or a term with zero variance under a universal base period) is
        left out; the periods after it are the post periods.
    betahat, sigma, num_pre, num_post
        Instead of ``result``: coefficients ordered pre then post with the
        reference period omitted, their covariance, and the counts (HonestDiD's inputs).
    restriction
        ``"relative_magnitudes"``: Delta^RM(M-bar), post-period changes in the
        violation at most M-bar times the largest pre-period change; the
        conditional least-favourable hybrid interval (C-LF). ``"smoothness"``:
        Delta^SD(M), the slope of the violation changes by at most M per period;
        the optimal fixed-length interval (FLCI). HonestDiD's defaults for each.
    m
        The M-bar (or M) values; default 0, 0.5, ..., 2 for relative magnitudes
        and ten values from 0 to the standard error of the target for smoothness.
    target
        ``"first"``: the first post period; ``"average"``: the mean of the post periods; an integer k:
        the k-th post period (1 is the first), e.g. a 12-month effect in a binned monthly event study.
    alpha
        1 - confidence level.
    grid_points
        Test-inversion grid for the C-LF interval (HonestDiD's default 1000).
    seed
        Seed of the R-compatible stream for the simulated critical values (HonestDiD's 0).

    Returns
    -------
    HonestDiDResult

    Notes
    -----
    Cost. Relative magnitudes enumerate the vertices of a dual polytope per
    (pre-period, sign) piece: instant up to about 10 post periods; beyond
    that each grid point and each of the 1000 simulation draws is a linear
    programme (minutes per M-bar). For monthly event studies with many post
    months, bin event time (e.g. to years) before calling this. The FLCI
    solves a small convex programme per step of a bisection (seconds).
    """
    check_choice("restriction", restriction, RESTRICTIONS)
    if isinstance(target, bool) or not isinstance(target, (str, int, np.integer)):
        raise ParameterError(f"target={target!r}: give 'first', 'average' or the number of a post period (1, 2, ...).")
    if isinstance(target, str):
        check_choice("target", target, TARGETS)
    if not isinstance(alpha, (float, int)) or not 0 < alpha < 1:
        raise ParameterError(f"alpha={alpha!r} must lie strictly between 0 and 1, e.g. 0.05.")
    if not isinstance(grid_points, (int, np.integer)) or grid_points < 10:
        raise ParameterError(f"grid_points={grid_points!r} must be an integer of at least 10 (default 1000).")
    warns: list[str] = []
    if result is not None:
        if any(v is not None for v in (betahat, sigma, num_pre, num_post)):
            raise ParameterError("Pass either result or betahat/sigma/num_pre/num_post, not both.")
        betahat, sigma, num_pre, num_post, info = event_time_inputs(result)
        n = info.pop("n")
        warns += info.pop("warnings")
    else:
        betahat, sigma, num_pre, num_post = _check_direct(betahat, sigma, num_pre, num_post)
        info, n = {"terms": None}, None
    l_vec = target_vector(target, num_post)
    post = slice(num_pre, num_pre + num_post)
    estimate = float(l_vec @ betahat[post])
    se = math.sqrt(float(l_vec @ sigma[post, post] @ l_vec))
    crit = stats.norm.ppf(1 - alpha / 2)
    original = pd.Series({"estimate": estimate, "std_error": se, "ci_low": estimate - crit * se,
                          "ci_high": estimate + crit * se})
    m_values = _m_values(m, restriction, se)
    rows = []
    for value in m_values:
        if restriction == "relative_magnitudes":
            lo, hi, grid, accepted = rm_confidence_set(betahat, sigma, num_pre=num_pre, num_post=num_post,
                                                       l_vec=l_vec, mbar=value, alpha=alpha,
                                                       grid_points=grid_points, seed=seed)
            if accepted.any() and (accepted[0] or accepted[-1]):
                warns.append(f"M-bar = {value:g}: the confidence set reaches the end of the test grid "
                             f"[{grid[0]:.4g}, {grid[-1]:.4g}]; the interval may be wider than shown.")
        else:
            lo, hi, _ = flci(betahat, sigma, num_pre=num_pre, num_post=num_post, l_vec=l_vec, m=value,
                             alpha=alpha, seed=seed)
        rows.append({"m": value, "ci_low": lo, "ci_high": hi})
    table = pd.DataFrame(rows, columns=["m", "ci_low", "ci_high"])
    breakdown, note = _breakdown(table, original, restriction)
    for w in warns:
        warnings.warn(w, AnalysisWarning, stacklevel=2)
    method = "C-LF" if restriction == "relative_magnitudes" else "FLCI"
    spec = {"restriction": restriction, "method": method, "target": target if isinstance(target, str) else int(target),
            "alpha": alpha,
            "num_pre": num_pre, "num_post": num_post, "grid_points": grid_points, "seed": seed,
            "m": list(m_values)}
    return HonestDiDResult(estimates=table, original=original, breakdown=breakdown, breakdown_note=note,
                           restriction=restriction, target=target, method=method, n=n, spec=spec,
                           diagnostics={**info, "warnings": warns})


def target_vector(target, num_post: int) -> np.ndarray:
    """HonestDiD's ``l_vec``: weights on the post periods for "first", "average" or the k-th (1-based)."""
    if isinstance(target, bool) or not isinstance(target, (str, int, np.integer)):
        raise ParameterError(f"target={target!r}: give 'first', 'average' or the number of a post period (1, 2, ...).")
    l_vec = np.zeros(num_post)
    if not isinstance(target, str):
        if not 1 <= int(target) <= num_post:
            raise ParameterError(f"target={target}: the result has {num_post} post periods; give 1..{num_post}.")
        l_vec[int(target) - 1] = 1.0
    elif target == "first":
        l_vec[0] = 1.0
    else:
        check_choice("target", target, TARGETS)
        l_vec[:] = 1.0 / num_post
    return l_vec


def _m_values(m, restriction, se) -> list[float]:
    if m is None:
        return list(DEFAULT_MBAR) if restriction == "relative_magnitudes" else list(np.linspace(0, se, 10))
    try:
        values = [float(v) for v in (m if np.iterable(m) else [m])]
    except (TypeError, ValueError):
        values = []
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        raise ParameterError(f"m={m!r} must be one or more finite values >= 0, e.g. m=[0, 0.5, 1, 1.5, 2].")
    return sorted(values)


def _breakdown(table: pd.DataFrame, original: pd.Series, restriction: str) -> tuple[float, str]:
    name = "M-bar" if restriction == "relative_magnitudes" else "M"
    if original["ci_low"] <= 0 <= original["ci_high"]:
        return math.nan, "NaN: the original interval already includes 0, so there is no significance to break"
    covers = (table["ci_low"] <= 0) & (table["ci_high"] >= 0) | table["ci_low"].isna()
    if not covers.any():
        return math.inf, (f"inf: the robust interval excludes 0 at every {name} searched, up to "
                          f"{table['m'].max():g}; the breakdown value is larger")
    value = float(table.loc[covers, "m"].min())
    return value, f"the smallest {name} searched at which the robust interval includes 0"


def _check_direct(betahat, sigma, num_pre, num_post):
    if betahat is None or sigma is None or num_pre is None or num_post is None:
        raise ParameterError("Pass result=, or all of betahat=, sigma=, num_pre= and num_post=.")
    b = np.asarray(betahat, dtype=float).ravel()
    s = np.asarray(sigma, dtype=float)
    for name, v in (("num_pre", num_pre), ("num_post", num_post)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ParameterError(f"{name}={v!r} must be a positive integer.")
    if len(b) != num_pre + num_post or s.shape != (len(b), len(b)):
        raise ParameterError(f"betahat has {len(b)} values and sigma shape {s.shape}; both must have "
                             f"num_pre + num_post = {num_pre + num_post} (reference period omitted).")
    if not np.allclose(s, s.T, rtol=1e-8, atol=1e-14 * np.abs(s).max()):
        raise ParameterError("sigma is not symmetric; pass the covariance matrix of betahat.")
    return b, 0.5 * (s + s.T), int(num_pre), int(num_post)


def event_time_inputs(result):
    """(betahat, sigma, num_pre, num_post, info) from an event-study or dynamic-aggregation result."""
    estimates = getattr(result, "estimates", None)
    if not isinstance(estimates, pd.DataFrame):
        raise ParameterError(f"result must be an EffectResult with event-time terms; got {type(result).__name__}.")
    terms = [t for t in estimates.index if isinstance(t, str) and t.startswith("e=")]
    if not terms:
        raise ParameterError("result has no event-time terms 'e=k'; pass an event study or a dynamic "
                             "aggregation (att_gt(...).aggregate('dynamic')).")
    vcov = getattr(result, "vcov", None)
    if vcov is None:
        vcov = (getattr(result, "diagnostics", None) or {}).get("vcov")
    if vcov is None:
        raise ParameterError("honest_did needs the covariance matrix of the event-time coefficients, and this "
                             "result exposes none (no result.vcov or diagnostics['vcov']). Use an event study "
                             "result, or pass betahat=, sigma=, num_pre=, num_post= directly.")
    if isinstance(vcov, pd.DataFrame):
        missing = [t for t in terms if t not in vcov.index]
        if missing:
            raise ParameterError(f"the covariance matrix has no rows for {missing[:5]}.")
        v = vcov.loc[terms, terms].to_numpy(dtype=float)
    else:
        v = np.asarray(vcov, dtype=float)
        if v.shape != (len(terms), len(terms)):
            raise ParameterError(f"vcov has shape {v.shape}; expected ({len(terms)}, {len(terms)}) for terms {terms}.")
    times = np.array([float(t[2:]) for t in terms])
    order = np.argsort(times)
    times, terms = times[order], [terms[i] for i in order]
    v = v[np.ix_(order, order)]
    b = estimates.loc[terms, "estimate"].to_numpy(dtype=float)
    warns: list[str] = []
    zero = np.diag(v) <= 0
    spec = getattr(result, "spec", {}) or {}
    if zero.any():
        if zero.sum() > 1:
            raise ParameterError(f"terms {[t for t, z in zip(terms, zero) if z]} have zero variance; only the "
                                 "reference period may.")
        reference = float(times[zero][0])
    elif "reference" in spec and float(spec["reference"]) not in times:
        reference = float(spec["reference"])
    elif -1.0 in times:
        raise ParameterError("result includes e=-1 with a positive variance (a varying base period): the "
                             "pre-period coefficients are then not comparable with the post-period ones. "
                             "Re-estimate with a universal base period, as HonestDiD requires.")
    else:
        reference = -1.0
    keep = times != reference
    times, b, v = times[keep], b[keep], v[np.ix_(keep, keep)]
    terms = [t for t, k in zip(terms, keep) if k]
    pre, post = times < reference, times > reference
    expected = np.concatenate([np.arange(times[pre].min() if pre.any() else reference, reference),
                               np.arange(reference + 1, times.max() + 1)])
    if len(expected) != len(times) or not np.allclose(expected, times):
        raise ParameterError(f"event times {times.tolist()} are not consecutive around the reference period "
                             f"{reference:g}; honest_did needs every period from the first to the last.")
    num_pre, num_post = int(pre.sum()), int(post.sum())
    if num_pre < 1 or num_post < 1:
        raise ParameterError(f"need at least one pre- and one post-period term; got {num_pre} and {num_post}.")
    n_col = estimates.loc[terms, "n"] if "n" in estimates.columns else None
    n = int(n_col[post].min()) if n_col is not None else None
    return b, 0.5 * (v + v.T), num_pre, num_post, {"terms": terms, "reference": reference, "n": n,
                                                   "warnings": warns}
