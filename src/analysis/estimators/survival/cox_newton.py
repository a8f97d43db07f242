"""Cox partial likelihood (Efron or Breslow ties) by Newton-Raphson, vectorised for millions of spells.

Written by hand because neither statsmodels ``PHReg`` nor lifelines' ``CoxPHFitter`` fits a
million right-censored spells with heavily tied (monthly) durations in seconds: both loop over
event times in Python or build per-event matrices. This module computes the same estimator
(R ``coxph`` and statsmodels agree with it on the Rossi data, see tests/reference/rossi) from
sums:

- rows are grouped by distinct duration; per group the sums of ``r = exp(x'b)``, ``r x`` and
  ``r x x'`` (over everyone, and over the events) come from ``np.bincount``, and the risk-set
  sums ``S0, S1, S2`` are reverse cumulative sums over groups (risk set at t: duration >= t);
- Efron's correction replaces, for the l-th of d tied events at t, ``S`` by ``S - (l/d) E``
  (E the sums over the tied events). Every quantity of the score and information is a sum
  over (t, l) of scalars 1/den, f/den, 1/den^2, f/den^2, f^2/den^2 times the small S and E
  arrays, so the (t, l) expansion holds one float per event, never a p x p matrix.

Counting-process rows (entry, stop] (delayed entry, time-varying covariates as one row per
episode) change only the risk sets: a row is at risk at t when entry < t <= stop, so the sums over
rows with stop >= t lose the rows with entry >= t, again a reverse cumulative sum (of each row's
weight at the last distinct stop time <= its entry). Tied events all end at t > entry and stay in.

Covariates are centred (the partial likelihood does not change) and ``exp`` is shifted by the
largest linear predictor, so nothing overflows.
"""

from __future__ import annotations

import numpy as np

from analysis.errors import EstimationError


def _group_sums(gid: np.ndarray, weights: np.ndarray, X: np.ndarray, pairs, G: int):
    s0 = np.bincount(gid, weights, minlength=G)
    s1 = np.column_stack([np.bincount(gid, weights * X[:, k], minlength=G) for k in range(X.shape[1])])
    s2 = np.column_stack([np.bincount(gid, weights * X[:, a] * X[:, b], minlength=G) for a, b in pairs])
    return s0, s1, s2


def _square(flat: np.ndarray, pairs, p: int) -> np.ndarray:
    """(G, p(p+1)/2) upper-triangle sums -> (G, p, p) symmetric."""
    out = np.empty((flat.shape[0], p, p))
    for k, (a, b) in enumerate(pairs):
        out[:, a, b] = out[:, b, a] = flat[:, k]
    return out


def fit_cox(time: np.ndarray, event: np.ndarray, X: np.ndarray, *, entry: np.ndarray | None = None,
            ties: str = "efron", tol: float = 1e-13, max_iter: int = 50, names: list[str] | None = None) -> dict:
    """Maximum partial-likelihood estimate; returns params, cov (inverse information), loglik, iterations.

    ``entry`` (optional): the start of each (entry, stop] row, with entry < stop. ``names`` label the
    columns of ``X`` in error messages.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    X = X - X.mean(axis=0)
    uniq, gid = np.unique(time, return_inverse=True)
    G = len(uniq)
    pairs = [(a, b) for a in range(p) for b in range(a, p)]
    d = np.bincount(gid[event], minlength=G)
    jj = np.flatnonzero(d)
    rep = np.repeat(jj, d[jj])  # one row per event: its time group
    within = np.arange(len(rep)) - np.repeat(np.cumsum(d[jj]) - d[jj], d[jj])
    f = within / d[rep] if ties == "efron" else np.zeros(len(rep))
    if entry is not None:
        # rows leave the risk sets of every stop time <= their entry: index of the last such time
        k = np.searchsorted(uniq, np.asarray(entry, dtype=float), side="right") - 1
        late = np.flatnonzero(k >= 0)
        k_late, X_late = k[late], X[late]
    x_events = X[event].sum(axis=0)
    ge, Xe = gid[event], X[event]

    def evaluate(beta):
        eta = X @ beta
        shift = eta.max()
        r = np.exp(eta - shift)
        g0, g1, g2 = _group_sums(gid, r, X, pairs, G)
        e0, e1, e2 = _group_sums(ge, r[event], Xe, pairs, G)
        S0 = np.cumsum(g0[::-1])[::-1]
        S1 = np.cumsum(g1[::-1], axis=0)[::-1]
        S2 = np.cumsum(g2[::-1], axis=0)[::-1]
        if entry is not None:
            l0, l1, l2 = _group_sums(k_late, r[late], X_late, pairs, G)
            S0 = S0 - np.cumsum(l0[::-1])[::-1]
            S1 = S1 - np.cumsum(l1[::-1], axis=0)[::-1]
            S2 = S2 - np.cumsum(l2[::-1], axis=0)[::-1]
        den = S0[rep] - f * e0[rep]
        if (den <= 0).any():
            raise EstimationError("cox: a risk set became empty; check durations and events.")
        loglik = float(eta[event].sum() - np.log(den).sum() - shift * len(rep))
        inv, finv = np.bincount(rep, 1 / den, minlength=G), np.bincount(rep, f / den, minlength=G)
        inv2 = np.bincount(rep, 1 / den**2, minlength=G)
        finv2 = np.bincount(rep, f / den**2, minlength=G)
        f2inv2 = np.bincount(rep, f**2 / den**2, minlength=G)
        score = x_events - (S1 * inv[:, None]).sum(0) + (e1 * finv[:, None]).sum(0)
        s2 = _square((S2 * inv[:, None] - e2 * finv[:, None]).sum(0)[None, :], pairs, p)[0]
        outer = (np.einsum("g,ga,gb->ab", inv2, S1, S1) - np.einsum("g,ga,gb->ab", finv2, S1, e1)
                 - np.einsum("g,ga,gb->ab", finv2, e1, S1) + np.einsum("g,ga,gb->ab", f2inv2, e1, e1))
        return loglik, score, s2 - outer

    beta = np.zeros(p)
    loglik, score, info = evaluate(beta)
    loglik0 = loglik
    for iteration in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            raise EstimationError("cox: the information matrix is singular (collinear covariates?).") from None
        for _ in range(30):  # step halving keeps the likelihood increasing
            new = evaluate(beta + step)
            if new[0] >= loglik - 1e-12 * abs(loglik):
                break
            step = step / 2
        beta = beta + step
        steady = np.max(np.abs(step) / (1 + np.abs(beta))) < 1e-9
        converged = steady or abs(new[0] - loglik) <= tol * (abs(loglik) + 1)
        loglik, score, info = new
        if converged:
            # a likelihood that flattens while a coefficient keeps moving by whole units is monotone:
            # the estimate is infinite (R coxph warns "coefficient may be infinite")
            drifting = np.flatnonzero(np.abs(step) > 1e-4 * (1 + np.abs(beta)))
            if not steady and len(drifting):
                raise EstimationError(
                    f"cox: the partial likelihood has no maximum in {[names[k] if names else k for k in drifting]}: "
                    "their coefficient grows without bound, as when every event falls in one level of a covariate.")
            break
    else:
        raise EstimationError(f"cox: Newton-Raphson did not converge in {max_iter} iterations.")
    return {"params": beta, "cov": np.linalg.inv(info), "loglik": loglik, "loglik_null": loglik0,
            "iterations": iteration, "events": int(event.sum())}
