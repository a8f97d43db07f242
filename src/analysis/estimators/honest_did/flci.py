"""Smoothness: the optimal fixed-length confidence interval (FLCI) under Delta^SD(M).

Armstrong & Kolesar (2018, 2020) as applied by Rambachan & Roth (2023,
sec. 4.1): among affine estimators ``theta_hat = l' beta_post + v' beta_pre``
take the one whose interval ``theta_hat +- sd * cv_alpha(max_bias / sd)`` is
shortest, where ``cv_alpha(b)`` is the 1 - alpha quantile of |N(b, 1)| and
the worst-case bias over Delta^SD(M) is M times a piecewise-linear function
of the weights. Written from the papers; the steps follow HonestDiD so that
the intervals equal the R package's (tests/reference/honestdid/SOURCE.md):

1. Weights are written in cumulative form ``w`` (``v_1 = w_1``,
   ``v_j = w_j - w_{j-1}``) with ``sum(w) = sum_t t l_t``; the worst-case bias
   is ``M * (c + sum_k |sum_{j<=k} w_j|)``.
2. For a given standard deviation ``h`` the smallest worst-case bias is a
   convex programme (linear objective, linear constraints and one quadratic
   constraint ``var(w) <= h^2``), solved here with SLSQP (scipy), where
   HonestDiD calls ECOS through CVXR.
3. ``h`` runs between the smallest attainable standard deviation and the
   standard deviation of the minimum-bias estimator; the half-length as a
   function of ``h`` is minimised by bisecting on its numerical derivative
   (HonestDiD's tolerances).
4. ``cv_alpha`` is HonestDiD's simulated quantile: over 10^6 draws of R's
   ``set.seed(0)`` stream (:mod:`.rstream`). The exact quantile differs from it
   by about 0.1 %.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.optimize import minimize

from analysis.estimators.honest_did.rstream import r_normal

__all__ = ["flci", "folded_normal_quantile"]

NUM_SIMS = 10 ** 6


@lru_cache(maxsize=2)
def _draws(seed: int) -> np.ndarray:
    return r_normal(NUM_SIMS, seed=seed)


def folded_normal_quantile(p: float, mu: float, *, seed: int = 0) -> float:
    """The p quantile of |Z + mu| over 10^6 draws of R's stream (HonestDiD's ``.qfoldednormal``)."""
    return float(np.quantile(np.abs(_draws(seed) + mu), p))


class _Problem:
    """Variance and worst-case bias of the affine estimator as functions of the cumulative weights w."""

    def __init__(self, sigma: np.ndarray, num_pre: int, num_post: int, l_vec: np.ndarray):
        self.k = num_pre
        to_v = np.eye(num_pre) - np.eye(num_pre, k=-1)  # v = to_v @ w
        pre, post = slice(0, num_pre), slice(num_pre, num_pre + num_post)
        self.quad = to_v.T @ sigma[pre, pre] @ to_v
        self.lin = 2 * to_v.T @ sigma[pre, post] @ l_vec
        self.const = float(l_vec @ sigma[post, post] @ l_vec)
        self.to_v = to_v
        t = np.arange(1, num_post + 1)
        self.total = float(t @ l_vec)
        self.bias_const = sum(abs(float(np.arange(1, s + 1) @ l_vec[num_post - s:])) for s in range(1, num_post + 1)) \
            - self.total
        self.cum = np.tril(np.ones((num_pre, num_pre)))

    def variance(self, w: np.ndarray) -> float:
        return float(w @ self.quad @ w + self.lin @ w + self.const)

    def min_variance_w(self) -> np.ndarray:
        """argmin var(w) subject to sum(w) = total (a linear system)."""
        k = self.k
        kkt = np.zeros((k + 1, k + 1))
        kkt[:k, :k] = 2 * self.quad
        kkt[:k, k] = 1.0
        kkt[k, :k] = 1.0
        rhs = np.append(-self.lin, self.total)
        return np.linalg.lstsq(kkt, rhs, rcond=None)[0][:k]

    def min_bias_w(self) -> np.ndarray:
        w = np.zeros(self.k)
        w[-1] = self.total
        return w

    def bias(self, w: np.ndarray) -> float:
        return float(self.bias_const + np.abs(self.cum @ w).sum())

    def smallest_bias(self, h: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        """min bias(w) s.t. sum(w) = total, var(w) <= h^2; variables (u, w) with u >= |cum w|."""
        k = self.k
        u0 = np.abs(self.cum @ start) + 1e-12
        x0 = np.concatenate([u0, start])
        obj = np.concatenate([np.ones(k), np.zeros(k)])
        cum = self.cum
        cons = [
            {"type": "ineq", "fun": lambda x: x[:k] - cum @ x[k:],
             "jac": lambda x: np.hstack([np.eye(k), -cum])},
            {"type": "ineq", "fun": lambda x: x[:k] + cum @ x[k:],
             "jac": lambda x: np.hstack([np.eye(k), cum])},
            {"type": "eq", "fun": lambda x: np.array([x[k:].sum() - self.total]),
             "jac": lambda x: np.concatenate([np.zeros(k), np.ones(k)])[None, :]},
            {"type": "ineq", "fun": lambda x: np.array([(h ** 2 - self.variance(x[k:])) / h ** 2]),
             "jac": lambda x: np.concatenate([np.zeros(k), -(2 * self.quad @ x[k:] + self.lin) / h ** 2])[None, :]},
        ]
        res = minimize(lambda x: obj @ x, x0, jac=lambda x: obj, constraints=cons, method="SLSQP",
                       options={"ftol": 1e-14, "maxiter": 1000})
        w = res.x[k:]
        return self.bias(w), w


def _start_for(problem: _Problem, h: float, w_var: np.ndarray, w_bias: np.ndarray, h_min: float,
               h_max: float) -> np.ndarray:
    """A feasible start: the mix of the two extreme estimators whose variance bound is h^2."""
    if h_max <= h_min:
        return w_var
    t = np.clip((h_max ** 2 - h ** 2) / (h_max ** 2 - h_min ** 2), 0.0, 1.0)
    return t * w_var + (1 - t) * w_bias


def flci(betahat: np.ndarray, sigma: np.ndarray, *, num_pre: int, num_post: int, l_vec: np.ndarray,
         m: float, alpha: float = 0.05, num_points: int = 100, seed: int = 0) -> tuple[float, float, dict]:
    """The FLCI for l' tau_post under Delta^SD(M): (lower, upper, details)."""
    problem = _Problem(sigma, num_pre, num_post, l_vec)
    w_var, w_bias = problem.min_variance_w(), problem.min_bias_w()
    h_min = math.sqrt(max(problem.variance(w_var), 0.0))
    h_max = math.sqrt(max(problem.variance(w_bias), 0.0))
    cache: dict[float, tuple[float, np.ndarray]] = {}

    def solve(h: float) -> tuple[float, np.ndarray]:
        if h not in cache:
            start = _start_for(problem, h, w_var, w_bias, h_min, h_max)
            if cache:  # warm start from the nearest h solved so far, pulled inside var <= h^2
                near = cache[min(cache, key=lambda g: abs(g - h))][1]
                v_near, v_min = problem.variance(near), h_min ** 2
                t = 0.0 if v_near <= h ** 2 else min(1.0, (v_near - h ** 2) / max(v_near - v_min, 1e-300))
                start = t * w_var + (1 - t) * near
            cache[h] = problem.smallest_bias(h, start)
        return cache[h]

    def half_length(h: float) -> float:
        return folded_normal_quantile(1 - alpha, m * solve(h)[0] / h, seed=seed) * h

    h_star = _derivative_bisection(half_length, h_min, h_max, num_points)
    if math.isnan(h_star):  # HonestDiD's fallback: the best point of a grid of h
        grid = np.linspace(h_min, h_max, num_points)
        h_star = float(grid[int(np.argmin([half_length(h) for h in grid]))])
    bias, w = solve(h_star)
    half = folded_normal_quantile(1 - alpha, m * bias / h_star, seed=seed) * h_star
    weights = np.concatenate([problem.to_v @ w, l_vec])
    centre = float(weights @ betahat)
    return centre - half, centre + half, {"h": h_star, "max_bias": m * bias, "half_length": half,
                                          "weights": weights}


def _derivative_bisection(f, a: float, b: float, num_points: int) -> float:
    """Minimiser of f on [a, b] by bisection on the central-difference derivative (HonestDiD's rule)."""
    fail_tol = math.sqrt(np.finfo(float).eps)
    dif = min((b - a) / num_points, abs(b) * np.finfo(float).eps ** (1 / 3))
    if dif <= 0:
        return a
    fa, fb = f(a), f(b)
    fpa = (f(a + dif) - fa) / dif
    fpb = (f(b - dif) - fb) / -dif
    max_iter = 10 * math.ceil(math.log(abs(b - a) / dif) / math.log(2))
    if fpa > fpb or math.isnan(fa) or math.isnan(fb):
        return math.nan
    if fpb < 0:
        return b
    if fpa > 0:
        return a
    iteration, failed = 1, False
    while not failed and abs(b - a) > dif:
        iteration += 1
        x = (a + b) / 2
        fpx = (f(x + dif) - f(x - dif)) / (2 * dif)
        failed = fpx > fpb + fail_tol or fpx + fail_tol < fpa or iteration > max_iter
        if fpx > 0:
            b = x
        else:
            a = x
    return math.nan if failed else (a + b) / 2
