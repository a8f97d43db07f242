"""Fast path of the event study: exact OLS and CR1 from cohort-level moments.

Why this is written by hand
---------------------------
pyfixest (our reference implementation) builds the regressors row by row: a
panel of 1,000,000 persons x 120 months is 120 million rows, and with person
and month fixed effects plus event-time dummies it does not fit in 24 GB. In a
*balanced* panel every regressor is a function of (cohort, period) only, so the
regression and its cluster-robust covariance can be computed exactly from a few
cohort-level sums. This module holds that algebra as plain functions.

Derivation
----------
Units ``i`` belong to cohorts ``g`` (first treated period; never treated is a
cohort of its own) and are observed in every period ``t = 1..T`` (balanced).
The model is ``y_it = a_i + x(g_i, t)'b + e_it`` where ``x(g, t)`` stacks period
dummies (all but the first period) and the event-time (or cohort x event-time)
dummies; ``n_g`` is the number of units of cohort ``g``.

1. Partial out the unit effects (Frisch-Waugh-Lovell): demean within unit. The
   demeaned regressor is ``z(g, t) = x(g, t) - (1/T) sum_s x(g, s)``; write
   ``Z_g`` for the ``T x K`` matrix of cohort ``g``. Its columns sum to zero:
   ``Z_g' 1 = 0``.
2. Normal equations. ``sum_i Z_{g_i}' (y_i - ybar_i 1) = sum_g Z_g' S_g`` with
   ``S_g = sum_{i in g} y_i`` (the T-vector of cohort-by-period sums; the unit
   mean drops because ``Z_g' 1 = 0``), and
   ``A = sum_i Z_{g_i}' Z_{g_i} = sum_g n_g Z_g' Z_g``. So ``b = A^{-1} r`` with
   ``r = sum_g Z_g' S_g``: only the cohort-by-period cell sums of the outcome.
3. Scores. The residual of unit ``i`` is ``e_i = y_i - ybar_i 1 - Z_g b`` and
   its score is ``s_i = Z_g' e_i = Z_g' y_i - h_g`` with ``h_g = Z_g' Z_g b``
   (again ``Z_g' 1 = 0``). Clustering by unit, the meat is
   ``M = sum_g sum_{i in g} s_i s_i'
       = sum_g [Z_g' C_g Z_g - Z_g' S_g h_g' - h_g S_g' Z_g + n_g h_g h_g']``
   with ``C_g = sum_{i in g} y_i y_i'`` (T x T). The sufficient statistics are
   therefore ``(n_g, S_g, C_g)`` per cohort, computed in one pass over the
   outcome matrix (or streamed from Parquet batch by batch).
4. CR1 covariance as fixest/pyfixest by default:
   ``V = G/(G-1) * (N-1)/(N-K) * A^{-1} M A^{-1}`` with ``G`` clusters (units),
   ``N = n T`` observations and ``K`` = the estimated slopes (T-1 period
   dummies and the event dummies) + 1: pyfixest's default ``k_fixef="nonnested"``
   drops the unit effects, which are nested in the clusters, but adds one back
   for the fully nested effect (as fixest does; fixest issue #554).

The first ``T_used`` periods may be used instead of all ``T`` (Sun-Abraham with
the last-treated cohort as control drops the periods from its treatment on):
moments restrict by slicing ``S_g[:T_used]`` and ``C_g[:T_used, :T_used]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CohortMoments:
    """Sufficient statistics of a balanced panel for regressors in (cohort, period).

    ``cohorts`` (G,) cohort values (0 = never treated), ``periods`` (T,) sorted
    period values, ``counts`` (G,) units per cohort, ``sums`` (G, T) outcome sums
    per cohort and period, ``cross`` (G, T, T) per-cohort ``sum_i y_i y_i'``.
    """

    cohorts: np.ndarray
    periods: np.ndarray
    counts: np.ndarray
    sums: np.ndarray
    cross: np.ndarray

    def first_periods(self, n_periods: int) -> "CohortMoments":
        """The same moments restricted to the first ``n_periods`` periods."""
        return CohortMoments(self.cohorts, self.periods[:n_periods], self.counts,
                             self.sums[:, :n_periods], self.cross[:, :n_periods, :n_periods])


def cohort_moments(outcome: np.ndarray, cohort_code: np.ndarray, cohorts: np.ndarray,
                   periods: np.ndarray) -> CohortMoments:
    """Moments from an outcome matrix (units x periods) and each unit's cohort code."""
    n_cohorts, n_periods = len(cohorts), len(periods)
    acc = MomentAccumulator(n_cohorts, n_periods)
    acc.add(outcome, cohort_code)
    return acc.result(cohorts, periods)


class MomentAccumulator:
    """Accumulates (n_g, S_g, C_g) over blocks of units (one pass, bounded memory)."""

    def __init__(self, n_cohorts: int, n_periods: int):
        self.counts = np.zeros(n_cohorts, dtype=np.int64)
        self.sums = np.zeros((n_cohorts, n_periods))
        self.cross = np.zeros((n_cohorts, n_periods, n_periods))

    def add(self, outcome: np.ndarray, cohort_code: np.ndarray) -> None:
        """Add a block: ``outcome`` (units x periods, float), ``cohort_code`` (units,)."""
        order = np.argsort(cohort_code, kind="stable")
        codes = cohort_code[order]
        bounds = np.flatnonzero(np.diff(codes)) + 1
        starts = np.r_[0, bounds]
        ends = np.r_[bounds, len(codes)]
        for start, end in zip(starts, ends):
            g = codes[start]
            block = outcome[order[start:end]]
            self.counts[g] += end - start
            self.sums[g] += block.sum(axis=0)
            self.cross[g] += block.T @ block

    def result(self, cohorts: np.ndarray, periods: np.ndarray) -> CohortMoments:
        return CohortMoments(np.asarray(cohorts), np.asarray(periods), self.counts.copy(),
                             self.sums.copy(), self.cross.copy())


def within_unit_design(design: np.ndarray) -> np.ndarray:
    """Demean the (cohort, period, column) design over periods: ``z(g, t)`` of the derivation."""
    return design - design.mean(axis=1, keepdims=True)


def period_dummies(n_cohorts: int, n_periods: int) -> np.ndarray:
    """Period dummies for periods 2..T (the first is the base), shape (G, T, T-1)."""
    eye = np.eye(n_periods)[:, 1:]
    return np.broadcast_to(eye, (n_cohorts, n_periods, n_periods - 1))


@dataclass(frozen=True)
class CellFit:
    """OLS slopes and CR1 covariance of the event columns (period dummies are nuisance)."""

    coef: np.ndarray
    vcov: np.ndarray
    n_obs: int
    n_clusters: int
    n_slopes: int
    rank_deficient: bool
    #: (X'X)^-1 of all slopes (period dummies first, event columns last), the demeaned design z of the
    #: cohorts with units (``kept``) and h_g = Z_g' Z_g b: what a unit's score needs (:func:`unit_influence`)
    bread: np.ndarray | None = None
    z: np.ndarray | None = None
    h: np.ndarray | None = None
    kept: np.ndarray | None = None


def fit_from_moments(moments: CohortMoments, event_design: np.ndarray, *,
                     rcond: float = 1e-10) -> CellFit:
    """Fit ``y ~ event columns | unit + period`` from cohort moments, CR1 by unit.

    ``event_design`` has shape (G, T, K_event): the value of each event column in
    cohort g and period t. Returns coefficients and covariance of the event columns.
    """
    counts = moments.counts.astype(float)
    n_cohorts, n_periods = moments.sums.shape
    keep = counts > 0
    design = np.concatenate([period_dummies(n_cohorts, n_periods), event_design], axis=2)[keep]
    z = within_unit_design(design)                         # (G, T, K)
    n_g = counts[keep]
    sums = moments.sums[keep]
    cross = moments.cross[keep]
    zt = z.transpose(0, 2, 1)
    a_g = zt @ z                                           # Z_g' Z_g
    a = np.einsum("g,gkl->kl", n_g, a_g)
    zs = np.einsum("gtk,gt->gk", z, sums)                  # Z_g' S_g
    r = zs.sum(axis=0)
    scale = np.sqrt(np.clip(np.diag(a), np.finfo(float).tiny, None))
    a_scaled = a / np.outer(scale, scale)
    eigen = np.linalg.eigvalsh(a_scaled)
    rank_deficient = bool(eigen.min() <= rcond * eigen.max())
    bread = np.linalg.pinv(a_scaled, rcond=rcond, hermitian=True) / np.outer(scale, scale)
    coef = bread @ r
    h = np.einsum("gkl,l->gk", a_g, coef)                  # h_g = Z_g' Z_g b
    meat = ((zt @ cross @ z).sum(axis=0)
            - np.einsum("gk,gl->kl", zs, h) - np.einsum("gk,gl->kl", h, zs)
            + np.einsum("g,gk,gl->kl", n_g, h, h))
    n_units = int(n_g.sum())
    n_obs = n_units * n_periods
    n_slopes = design.shape[2]
    df_k = n_slopes + 1                                    # + the fully nested unit effect
    factor = n_units / (n_units - 1) * (n_obs - 1) / (n_obs - df_k)
    vcov = factor * bread @ meat @ bread
    k_event = event_design.shape[2]
    return CellFit(coef=coef[-k_event:], vcov=vcov[-k_event:, -k_event:], n_obs=n_obs,
                   n_clusters=n_units, n_slopes=n_slopes, rank_deficient=rank_deficient,
                   bread=bread, z=z, h=h, kept=np.flatnonzero(keep))


def unit_terms(fit: CellFit, outcome: np.ndarray, cohort_code: np.ndarray, term_weights: np.ndarray) -> np.ndarray:
    """Each unit's term in every reported term: ``L A^-1 Z_g' y_i`` (units x terms); they sum to ``L b``.

    ``b = A^-1 sum_i Z_g' y_i`` (derivation, step 2) is linear in the units' outcomes, and ``L``
    (``term_weights``, terms x event columns) maps the event columns to the terms. These terms are
    what the dominance rule judges: one person's extreme outcome shows in its own term (scores at the
    fitted coefficients would spread it over everyone through the period effects).
    """
    k_event = term_weights.shape[1]
    full = np.zeros((term_weights.shape[0], fit.bread.shape[0]))
    full[:, -k_event:] = term_weights
    r = fit.bread @ full.T                                  # K x terms
    out = np.zeros((len(cohort_code), term_weights.shape[0]))
    for j, g in enumerate(fit.kept):
        rows = np.flatnonzero(cohort_code == g)
        if len(rows):
            out[rows] = outcome[rows] @ (fit.z[j] @ r)
    return out
