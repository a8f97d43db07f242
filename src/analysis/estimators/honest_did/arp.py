"""Relative magnitudes: the conditional least-favourable hybrid (C-LF) confidence set.

Rambachan & Roth (2023, sec. 3.2 and 4) with the moment-inequality test of
Andrews, Roth & Pakes (2023, "Inference for linear conditional moment
inequalities", the hybrid of sec. 3.3). Written from the papers and checked
against HonestDiD's documented output (tests/reference/honestdid/SOURCE.md).

Delta^RM(Mbar) = union over the pre-period s whose first difference is the
largest in absolute value and over its sign of the polyhedra
``A_s delta <= 0`` (Rambachan & Roth, eq. 8). For each piece the null
``tau_l = theta`` is a linear moment inequality ``E[Y(theta) - X gamma] <= 0``
with nuisance ``gamma`` (the other post-period effects); the test statistic is
``eta = min_gamma max_j (Y_j - X_j gamma) / sd_j`` and the test conditions on
the optimal vertex of the dual of that linear programme (ARP, sec. 3.2). The
hybrid first rejects when ``eta`` exceeds the least-favourable critical value
(size kappa = alpha / 10), then runs the conditional test at size
``(alpha - kappa) / (1 - kappa)`` with the truncation capped at that value.

Choices that follow HonestDiD, so that intervals equal the R package's:

- the least-favourable critical value is the 1 - kappa quantile (R's type 7)
  of ``eta`` over 1000 draws of ``mvtnorm::rmvnorm`` on R's ``set.seed(0)``
  stream (:mod:`.rstream`);
- only the moments that involve a post-period coefficient enter the test;
- the confidence set is a test inversion over a grid of ``grid_points`` values
  of theta (:func:`theta_grid`); its end points are the outermost accepted grid
  points, so they are exact to one grid step.

How it is computed here: the dual feasible set ``{lambda >= 0 : W' lambda =
e1}`` with ``W = [sd, X]`` does not depend on the data, so its vertices are
enumerated once per piece; ``eta`` is then the largest vertex value, for all
grid points and all simulation draws at once, and the truncation points of
the conditional test follow exactly from the same vertices (where HonestDiD
bisects). With more than ``MAX_BASES`` candidate bases the linear programmes
are solved one by one with HiGHS (``scipy.optimize.linprog``) instead: far
slower (about a minute per M-bar for 2 post periods and 100 grid points).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import stats
from scipy.optimize import linprog

from analysis.estimators.honest_did.rstream import r_mvnormal

__all__ = ["rm_constraints", "rm_confidence_set", "theta_grid"]

MAX_BASES = 200_000
SIMS = 1000


def rm_constraints(num_pre: int, num_post: int, mbar: float, s: int, positive: bool) -> np.ndarray:
    """Rows of ``A_s delta <= 0`` for Delta^RM(Mbar) with the largest pre difference at s (sign +/-).

    delta runs over the periods -num_pre..num_post with delta_0 = 0 dropped;
    ``s`` in ``-(num_pre - 1)..0`` names the first difference delta_s - delta_{s-1}.
    """
    n = num_pre + num_post
    first_diff = np.zeros((n, n + 1))
    for r in range(n):
        first_diff[r, r], first_diff[r, r + 1] = -1.0, 1.0
    largest = np.zeros(n + 1)
    largest[num_pre + s - 1], largest[num_pre + s] = -1.0, 1.0
    if not positive:
        largest = -largest
    bound = np.vstack([np.tile(largest, (num_pre, 1)), np.tile(mbar * largest, (num_post, 1))])
    a = np.vstack([first_diff - bound, -first_diff - bound])
    a = a[(a ** 2).sum(axis=1) > 1e-10]
    return np.delete(a, num_pre, axis=1)


def theta_grid(betahat: np.ndarray, sigma: np.ndarray, *, num_pre: int, num_post: int, l_vec: np.ndarray,
               mbar: float, grid_points: int) -> np.ndarray:
    """The grid for theta: centred on the estimate, half-width Mbar sum_t t |l_t| max_pre + 20 sd.

    ``max_pre`` is the largest absolute first difference of the pre-period
    coefficients (with the reference period at 0). This is Stata honestdid's
    grid, which HonestDiD's README output was computed with (see SOURCE.md);
    the released R code uses [-20 sd, 20 sd] around zero.
    """
    post = slice(num_pre, num_pre + num_post)
    sd_theta = float(np.sqrt(l_vec @ sigma[post, post] @ l_vec))
    if num_pre > 1:
        max_pre = float(np.max(np.abs(np.diff(np.append(betahat[:num_pre], 0.0)))))
    else:
        max_pre = abs(float(betahat[0]))
    centre = float(betahat[post] @ l_vec)
    half = mbar * float(np.arange(1, num_post + 1) @ np.abs(l_vec)) * max_pre + 20.0 * sd_theta
    return np.linspace(centre - half, centre + half, grid_points)


def _gamma_basis(l_vec: np.ndarray) -> np.ndarray:
    """An invertible matrix with l' as its first row, completed by unit vectors in order."""
    rows = [l_vec]
    for j in range(len(l_vec)):
        e = np.zeros(len(l_vec))
        e[j] = 1.0
        if np.linalg.matrix_rank(np.vstack(rows + [e])) == len(rows) + 1:
            rows.append(e)
    return np.vstack(rows)


class _Dual:
    """Vertices of {lambda >= 0 : W' lambda = e1}, or None when there are too many bases."""

    def __init__(self, sd: np.ndarray, x: np.ndarray):
        self.w = np.column_stack([sd, x])
        m, k1 = self.w.shape
        self.vertices = None
        if math.comb(m, k1) <= MAX_BASES:
            e1 = np.zeros(k1)
            e1[0] = 1.0
            found = []
            for rows in itertools.combinations(range(m), k1):
                sub = self.w[list(rows)].T
                if abs(np.linalg.det(sub)) < 1e-12:
                    continue
                lam = np.linalg.solve(sub, e1)
                if (lam >= -1e-12).all():
                    v = np.zeros(m)
                    v[list(rows)] = np.clip(lam, 0.0, None)
                    found.append(v)
            self.vertices = np.unique(np.round(np.array(found), 14), axis=0) if found else np.zeros((0, m))
        self._found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (vertex, basis rows, basis inverse)

    def eta(self, y: np.ndarray) -> np.ndarray:
        """The statistic for each column of y (m x n)."""
        if self.vertices is not None:
            return (self.vertices @ y).max(axis=0)
        return np.array([self._solve_lazily(y[:, j])[0] for j in range(y.shape[1])])

    def solve(self, y: np.ndarray) -> tuple[float, np.ndarray]:
        """(eta, optimal dual vertex) for one moment vector y."""
        if self.vertices is not None:
            values = self.vertices @ y
            best = int(np.argmax(values))
            return float(values[best]), self.vertices[best]
        return self._solve_lazily(y)

    def _solve_lazily(self, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Try the best vertex found so far: optimal if its basis gives a primal-feasible point; else LP."""
        if self._found:
            values = np.array([v @ y for v, _, _ in self._found])
            v, rows, inverse = self._found[int(np.argmax(values))]
            point = inverse @ y[rows]
            if (self.w @ point >= y - 1e-9 * max(1.0, float(np.abs(y).max()))).all():
                return float(v @ y), v
        value, v = self._lp(y)
        rows = np.flatnonzero(v > 1e-10)
        if np.isfinite(value) and len(rows) == self.w.shape[1]:
            sub = self.w[rows]
            if abs(np.linalg.det(sub)) > 1e-12:
                self._found.append((v, rows, np.linalg.inv(sub)))
        return value, v

    def _lp(self, y: np.ndarray) -> tuple[float, np.ndarray]:
        # min eta s.t. sd * eta + X gamma >= y, (eta, gamma) free
        k1 = self.w.shape[1]
        res = linprog(np.eye(k1)[0], A_ub=-self.w, b_ub=-y, bounds=[(None, None)] * k1, method="highs")
        if res.status != 0:
            return math.nan, np.zeros(len(y))
        return float(res.fun), -np.asarray(res.ineqlin.marginals)

    def truncation(self, s: np.ndarray, c: np.ndarray, eta: float, gamma: np.ndarray) -> tuple[float, float]:
        """Interval of eta on which the vertex gamma stays optimal, given y = s + c eta."""
        if self.vertices is not None:
            a = self.vertices @ c
            b = self.vertices @ s
            low, high = a < 1 - 1e-10, a > 1 + 1e-10
            vlo = np.max(b[low] / (1 - a[low])) if low.any() else -np.inf
            vup = np.min(b[high] / (1 - a[high])) if high.any() else np.inf
            return float(min(vlo, eta)), float(max(vup, eta))
        return self._truncation_by_lp(s, c, eta)

    def _truncation_by_lp(self, s, c, eta, tol=1e-9):
        """Ends of {x : max_v v'(s + c x) <= x} around eta, by Newton steps on that convex function.

        Each linear programme at a point outside the set returns the vertex whose
        line crosses zero next; its root is the next point (HonestDiD's shortcut,
        here iterated to the end instead of switching to bisection).
        """
        scale = max(100.0, 20.0 * abs(eta) + 100.0)
        ends = []
        for direction in (-1.0, 1.0):
            x = eta + direction * scale
            end = direction * np.inf
            for _ in range(100):
                value, v = self._lp(s + c * x)
                if not np.isfinite(value) or value <= x + tol * max(1.0, abs(x)):
                    break
                slope = 1.0 - float(v @ c)
                if abs(slope) < 1e-14:
                    break
                x = float(v @ s) / slope
                end = x
            ends.append(end if np.isfinite(end) else direction * np.inf)
        return min(ends[0], eta), max(ends[1], eta)


def _truncated_normal_quantile(p: float, lo: float, hi: float) -> float:
    return float(stats.truncnorm.ppf(p, lo, hi))


def _accept_grid(y0, a1, x, sigma_y, grid, *, alpha, kappa, nuisance: bool, seed: int) -> np.ndarray:
    """Accept (True) / reject for each theta on the grid, for one polyhedron."""
    sd = np.sqrt(np.diag(sigma_y))
    dual = _Dual(sd, x if nuisance else np.zeros((len(sd), 0)))
    draws = r_mvnormal(SIMS, sigma_y, seed=seed)
    lf_cv = float(np.nanquantile(dual.eta(draws.T), 1 - kappa))
    size = (alpha - kappa) / (1 - kappa)
    ys = y0[:, None] - a1[:, None] * grid[None, :]
    if dual.vertices is not None and len(dual.vertices):
        return _accept_by_vertices(dual.vertices, ys, sigma_y, lf_cv=lf_cv, size=size, nuisance=nuisance)
    accept = np.zeros(len(grid), dtype=bool)
    for j in range(len(grid)):
        y = ys[:, j]
        eta, gamma = dual.solve(y)
        if not np.isfinite(eta):
            accept[j] = True  # HonestDiD does not reject when the programme fails
            continue
        if eta > lf_cv:
            continue
        var_b = float(gamma @ sigma_y @ gamma)
        if abs(var_b) < np.finfo(float).eps:
            accept[j] = not eta > 0
            continue
        sd_b = math.sqrt(var_b)
        c = sigma_y @ gamma / var_b
        vlo, vup = dual.truncation(y - c * float(gamma @ y), c, eta, gamma)
        zlo, zup = vlo / sd_b, (min(vup, lf_cv) if nuisance else vup) / sd_b
        stat = eta / sd_b
        if not zlo <= stat <= zup:
            accept[j] = True
            continue
        accept[j] = not stat > max(0.0, _truncated_normal_quantile(1 - size, zlo, zup))
    return accept


def _accept_by_vertices(vertices, ys, sigma_y, *, lf_cv, size, nuisance) -> np.ndarray:
    """The same test for every grid point at once, from the enumerated dual vertices."""
    values = vertices @ ys  # (vertices, grid)
    best = np.argmax(values, axis=0)
    eta = values[best, np.arange(ys.shape[1])]
    gamma = vertices[best]  # (grid, m)
    var_b = np.einsum("gi,ij,gj->g", gamma, sigma_y, gamma)
    degenerate = np.abs(var_b) < np.finfo(float).eps
    safe = np.where(degenerate, 1.0, var_b)
    c = (sigma_y @ gamma.T) / safe  # (m, grid)
    a = vertices @ c
    b = vertices @ (ys - c * eta)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = b / (1 - a)
    vlo = np.where(a < 1 - 1e-10, ratio, -np.inf).max(axis=0)
    vup = np.where(a > 1 + 1e-10, ratio, np.inf).min(axis=0)
    vlo, vup = np.minimum(vlo, eta), np.maximum(vup, eta)
    sd_b = np.sqrt(safe)
    zlo = vlo / sd_b
    zup = (np.minimum(vup, lf_cv) if nuisance else vup) / sd_b
    stat = eta / sd_b
    inside = (zlo <= stat) & (stat <= zup)
    cval = np.full(len(eta), np.inf)
    if inside.any():
        cval[inside] = np.maximum(0.0, stats.truncnorm.ppf(1 - size, zlo[inside], zup[inside]))
    accept = ~inside | ~(stat > cval)
    accept = np.where(degenerate, ~(eta > 0), accept)
    return np.where(eta > lf_cv, False, accept)


def rm_confidence_set(betahat: np.ndarray, sigma: np.ndarray, *, num_pre: int, num_post: int,
                      l_vec: np.ndarray, mbar: float, alpha: float = 0.05, grid_points: int = 1000,
                      seed: int = 0) -> tuple[float, float, np.ndarray, np.ndarray]:
    """C-LF confidence set for l' tau_post under Delta^RM(Mbar).

    Returns (lower, upper, grid, accepted): the outermost accepted grid points
    (NaN when none is accepted) and the acceptance on the grid.
    """
    post = slice(num_pre, num_pre + num_post)
    grid = theta_grid(betahat, sigma, num_pre=num_pre, num_post=num_post, l_vec=l_vec, mbar=mbar,
                      grid_points=grid_points)
    kappa = alpha / 10
    gamma_inv = np.linalg.inv(_gamma_basis(l_vec))
    accepted = np.zeros(grid_points, dtype=bool)
    for s in range(-(num_pre - 1), 1):
        for positive in (True, False):
            a = rm_constraints(num_pre, num_post, mbar, s, positive)
            post_rows = np.flatnonzero((a[:, post] != 0).any(axis=1))
            a = a[post_rows]
            a_gamma = a[:, post] @ gamma_inv
            y0 = a @ betahat
            sigma_y = a @ sigma @ a.T
            accepted |= _accept_grid(y0, a_gamma[:, 0], a_gamma[:, 1:], sigma_y, grid, alpha=alpha,
                                     kappa=kappa, nuisance=num_post > 1, seed=seed)
    if not accepted.any():
        return math.nan, math.nan, grid, accepted
    return float(grid[accepted].min()), float(grid[accepted].max()), grid, accepted
