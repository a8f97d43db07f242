"""Power of the pre-trend test against a linear violation of parallel trends (Roth 2022, "Pretest with caution").

A pre-test that does not reject is weak evidence when it had little power
against violations that matter. Following Roth (2022, AER: Insights) and his
R package pretrends, the pre-test is "no pre-period coefficient is
individually significant" (``|beta_j| <= z_{1-alpha/2} se_j`` for every
pre-period j), and its power against a hypothesised violation ``delta`` is
``1 - P(all |beta_j| <= z se_j)`` with ``beta_pre ~ N(delta_pre, Sigma_pre)``,
a rectangle probability of the multivariate normal (scipy's Genz algorithm;
exact for one pre-period).

:func:`pretrend_power` takes the linear violation ``delta_t = slope * t``
(t counted from the reference period) whose bias on the headline (first post
coefficient or the post average) equals the headline's own standard error
(``target_bias="se"``) or a given amount, and reports its power; also the
slopes against which the pre-test has 50 % and 80 % power (pretrends'
``slope_for_power``).

Pre-period coefficients without variance (a standard error at or below R did's
NA threshold, or a variance below ``RANK_TOLERANCE`` of the largest: cells in which
no outcome changed, common in small populations) cannot be individually significant
(R reports their t-statistic as NA), so they are left out of the pre-test, as the
Wald pre-test leaves them out; without that their zero bound would make any
violation "detected" and the power read 1. The rest may have a singular
covariance (perfectly correlated coefficients); the rectangle probability is then
that of the degenerate normal. From an estimation result with the number of treated
units per term (``n``), a pre-period coefficient resting on fewer than ``min_units``
(default :data:`analysis.estimators.did.result.MIN_TEST_UNITS`, the Wald pre-test's rule)
is left out as well: its variance is estimated from too few persons to be read. When no
pre-period coefficient is left, or the headline has no variance, the power is NaN and
``reason`` says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Mapping

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import brentq

from analysis.errors import ParameterError, check_choice
from analysis.estimators.did.result import MIN_TEST_UNITS, RANK_TOLERANCE, ZERO_SE

__all__ = ["pretrend_power", "pretest_power", "slope_for_power", "informative", "PretrendPowerResult"]

TARGETS = ("first", "average")
_CDF_EPS = 1e-6  # absolute error asked of the multivariate normal rectangle probability (Genz)


def informative(sigma_pre: np.ndarray) -> np.ndarray:
    """Boolean mask of the pre-period coefficients that have variance: finite, a standard error above R did's
    NA threshold (:data:`analysis.estimators.did.result.ZERO_SE`) and a variance above ``RANK_TOLERANCE`` of
    the largest (the rule of the Wald pre-test, :func:`analysis.estimators.did.result.wald_test`)."""
    var = np.diag(np.atleast_2d(np.asarray(sigma_pre, dtype=float)))
    ok = np.isfinite(var) & (var > ZERO_SE ** 2)
    if ok.any():
        ok &= var > RANK_TOLERANCE * var[ok].max()
    return ok


def pretest_power(sigma_pre: np.ndarray, delta_pre: np.ndarray, *, alpha: float = 0.05, seed: int = 0) -> float:
    """P(some pre-period coefficient is significant at level alpha) when beta_pre ~ N(delta_pre, sigma_pre).

    Coefficients without variance (:func:`informative`) are left out (they are never significant); NaN when
    none is left. A singular covariance of the rest is allowed (the degenerate normal's rectangle probability).
    """
    sigma_pre = np.atleast_2d(np.asarray(sigma_pre, dtype=float))
    delta_pre = np.atleast_1d(np.asarray(delta_pre, dtype=float))
    if sigma_pre.shape != (len(delta_pre), len(delta_pre)):
        raise ParameterError(f"sigma_pre has shape {sigma_pre.shape}; expected ({len(delta_pre)}, {len(delta_pre)}) "
                             "for the pre-period violation given.")
    keep = informative(sigma_pre)
    if not keep.any():
        return float("nan")
    sigma_pre, delta_pre = sigma_pre[np.ix_(keep, keep)], delta_pre[keep]
    bound = stats.norm.ppf(1 - alpha / 2) * np.sqrt(np.diag(sigma_pre))
    if len(delta_pre) == 1:
        sd = math.sqrt(sigma_pre[0, 0])
        inside = stats.norm.cdf((bound[0] - delta_pre[0]) / sd) - stats.norm.cdf((-bound[0] - delta_pre[0]) / sd)
        return float(1 - inside)
    inside = stats.multivariate_normal.cdf(bound, mean=delta_pre, cov=sigma_pre, lower_limit=-bound,
                                           allow_singular=True, abseps=_CDF_EPS, releps=0,
                                           maxpts=200_000 * len(delta_pre), rng=np.random.default_rng(seed))
    return float(1 - inside)


def slope_for_power(sigma_pre: np.ndarray, t_pre: np.ndarray, power: float, *, alpha: float = 0.05,
                    seed: int = 0) -> float:
    """The slope (a magnitude) of delta_t = slope * t against which the pre-test has the given power."""
    if not alpha < power < 1:
        raise ParameterError(f"power={power!r} must lie between alpha={alpha} and 1, e.g. 0.8.")
    t_pre = np.asarray(t_pre, dtype=float)

    def gap(slope):
        return pretest_power(sigma_pre, slope * t_pre, alpha=alpha, seed=seed) - power

    keep = informative(sigma_pre)
    if not keep.any():
        return float("nan")
    high = float(np.sqrt(np.max(np.diag(np.atleast_2d(sigma_pre))[keep])))
    while gap(high) < 0:
        high *= 2
    return float(brentq(gap, 0.0, high, xtol=1e-9))


@dataclass(frozen=True)
class PretrendPowerResult:
    """Power of the pre-test against the linear violation that biases the headline by ``bias``."""

    slope: float
    power: float
    bias: float
    headline_se: float
    slope_50: float
    slope_80: float
    n: int | None = None
    spec: Mapping[str, object] = field(default_factory=dict)
    #: pre-period coefficients in the pre-test (those with variance) and the event times left out
    n_pre_used: int | None = None
    dropped_pre: tuple = ()
    #: why ``power`` is NaN ("" when it is a number)
    reason: str = ""

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"slope": self.slope, "power": self.power, "bias": self.bias,
                              "headline_se": self.headline_se, "slope_50": self.slope_50,
                              "slope_80": self.slope_80}])

    def summary(self) -> str:
        if not math.isfinite(self.power):
            return f"Pre-test power (Roth 2022): not computable: {self.reason}."
        dropped = (f" ({len(self.dropped_pre)} pre-period coefficient(s) without variance left out of the pre-test: "
                   f"{', '.join(f'{t:g}' for t in self.dropped_pre)} periods from the reference.)"
                   if self.dropped_pre else "")
        return (f"Pre-test power (Roth 2022): against a linear trend of slope {self.slope:.4g} per period, which "
                f"biases the {self.spec.get('target')} post-period effect by {self.bias:.4g} "
                f"({self.bias / self.headline_se:.3g} standard errors), the pre-test rejects with probability "
                f"{self.power:.1%}. It has 50 % power against slope {self.slope_50:.4g} and 80 % against "
                f"{self.slope_80:.4g}." + dropped)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<p>{self.summary()}</p>{self.to_frame().to_html(index=False, float_format=lambda x: f'{x:.4g}')}"

    def to_estimates(self, prefix: str) -> list[dict]:
        """Rows of ``results.json``: ``pretrend_power_<prefix>`` and ``pretrend_slope80_<prefix>``."""
        def row(name, value, unit):
            out = {"name": name, "estimate": float(value) if math.isfinite(value) else None, "se": None,
                   "ci_low": None, "ci_high": None, "n": self.n, "unit": unit, "suppressed": False}
            return out if math.isfinite(value) or not self.reason else {**out, "note": f"not computable: {self.reason}"}
        return [row(f"pretrend_power_{prefix}", self.power, "probability"),
                row(f"pretrend_slope80_{prefix}", self.slope_80, "per period")]


def pretrend_power(result=None, *, betahat=None, sigma=None, num_pre: int | None = None,
                   num_post: int | None = None, alpha: float = 0.05, target_bias: float | str = "se",
                   target: Literal["first", "average"] | int = "first", seed: int = 0,
                   min_units: int | None = None) -> PretrendPowerResult:
    """Power of the pre-test against the linear violation that would bias the headline by its standard error.

    Parameters
    ----------
    result
        An event-study or dynamic-aggregation result with ``vcov`` (as for
        :func:`analysis.estimators.honest_did`), or instead ``betahat``, ``sigma``,
        ``num_pre``, ``num_post`` with the reference period omitted (the pre periods are
        then at -num_pre..-1 and the post periods at 1..num_post from the reference).
    alpha
        Level of the pre-test (each coefficient at 1 - alpha/2) and of the slopes' power.
    target_bias
        ``"se"``: the bias equals the headline's standard error; or a positive number
        in the outcome's units.
    target
        ``"first"`` post period or the ``"average"`` of the post periods (the headline), or an
        integer k: the k-th post period (1 is the first).
    min_units
        With ``result``: pre-period terms resting on fewer treated units (its ``n`` column) leave the
        pre-test (default :data:`~analysis.estimators.did.result.MIN_TEST_UNITS`, as ``pretrend_test``).
    """
    from analysis.estimators.honest_did.api import _check_direct, event_time_inputs, target_vector

    if isinstance(target, bool) or not isinstance(target, (str, int, np.integer)):
        raise ParameterError(f"target={target!r}: give 'first', 'average' or the number of a post period (1, 2, ...).")
    if isinstance(target, str):
        check_choice("target", target, TARGETS)
    if not isinstance(alpha, (float, int)) or not 0 < alpha < 0.5:
        raise ParameterError(f"alpha={alpha!r} must lie strictly between 0 and 0.5, e.g. 0.05.")
    min_units = MIN_TEST_UNITS if min_units is None else min_units
    if isinstance(min_units, bool) or not isinstance(min_units, (int, np.integer)) or min_units < 0:
        raise ParameterError(f"min_units={min_units!r} must be a whole number of treated units, 0 or more.")
    few = None
    if result is not None:
        b, s, num_pre, num_post, info = event_time_inputs(result)
        n = info["n"]
        if "n" in result.estimates.columns:
            n_pre = pd.to_numeric(result.estimates.loc[info["terms"][:num_pre], "n"], errors="coerce").to_numpy(float)
            few = np.isfinite(n_pre) & (n_pre < min_units)
    else:
        b, s, num_pre, num_post = _check_direct(betahat, sigma, num_pre, num_post)
        n = None
    t_pre = np.arange(-num_pre, 0, dtype=float)
    t_post = np.arange(1, num_post + 1, dtype=float)
    l_vec = target_vector(target, num_post)
    post = slice(num_pre, num_pre + num_post)
    headline_se = math.sqrt(float(l_vec @ s[post, post] @ l_vec))
    if isinstance(target_bias, str):
        check_choice("target_bias", target_bias, ("se",))
        bias = headline_se
    elif isinstance(target_bias, (int, float)) and target_bias > 0 and math.isfinite(target_bias):
        bias = float(target_bias)
    else:
        raise ParameterError(f"target_bias={target_bias!r} must be 'se' or a positive number.")
    slope = bias / float(l_vec @ t_post)
    sigma_pre = s[:num_pre, :num_pre]
    keep = informative(sigma_pre)
    if few is not None and few.any():   # as zero variance: never significant, so out of the pre-test
        keep &= ~few
        sigma_pre = sigma_pre.copy()
        sigma_pre[few, :] = 0.0
        sigma_pre[:, few] = 0.0
    dropped = tuple(float(t) for t in t_pre[~keep])
    spec = {"alpha": alpha, "target": target if isinstance(target, str) else int(target), "target_bias": target_bias,
            "num_pre": num_pre, "num_post": num_post, "min_units": int(min_units),
            "pretest": "no pre-period coefficient individually significant"}
    reason = ""
    if not keep.any():
        reason = (f"none of the {num_pre} pre-period coefficients has both variance and {min_units} or more "
                  "treated units behind it (no outcome changed in their cells, or too few persons), so the "
                  "pre-test cannot reject and has no power to report")
    elif not (math.isfinite(headline_se) and headline_se > ZERO_SE):
        reason = f"the headline has no standard error (got {headline_se!r}), so no violation is scaled to it"
    if reason:
        nan = float("nan")
        return PretrendPowerResult(slope=nan, power=nan, bias=nan, headline_se=headline_se, slope_50=nan,
                                   slope_80=nan, n=n, spec=spec, n_pre_used=int(keep.sum()), dropped_pre=dropped,
                                   reason=reason)
    power = pretest_power(sigma_pre, slope * t_pre, alpha=alpha, seed=seed)
    return PretrendPowerResult(
        slope=slope, power=power, bias=bias, headline_se=headline_se,
        slope_50=slope_for_power(sigma_pre, t_pre, 0.5, alpha=alpha, seed=seed),
        slope_80=slope_for_power(sigma_pre, t_pre, 0.8, alpha=alpha, seed=seed), n=n, spec=spec,
        n_pre_used=int(keep.sum()), dropped_pre=dropped)
