"""R's default normal random stream (``set.seed(seed); rnorm(n)``), written from R's documented algorithm.

HonestDiD's least-favourable critical value and its folded-normal quantile
are simulations on R's stream reset with ``set.seed(0)``. Drawing the same
numbers here makes the simulated quantities, and so the reported intervals,
equal to the R package's rather than equal in distribution only.

R's default generator (``?RNGkind``): Mersenne-Twister, seeded by
``set.seed`` with an initial scrambling by the linear congruential map
``seed <- 69069 * seed + 1`` (50 times, then once for each of the 625 seed
words; the first word is the position, 624); uniforms are the 32-bit output
times 2^-32 (kept inside (0, 1)); normals by inversion, each from two
uniforms ``u = floor(2^27 u1) + u2``, ``qnorm(u / 2^27)``. The 32-bit
Mersenne-Twister itself is numpy's :class:`numpy.random.MT19937` with that
state.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

__all__ = ["r_normal", "r_mvnormal"]

_BIG = 134217728.0  # 2^27
_I2_32M1 = 2.328306437080797e-10  # 1 / (2^32 - 1): R's fixup bound
_TWO_M32 = 2.3283064365386963e-10  # 2^-32


def _mt_state(seed: int) -> dict:
    s = int(seed) & 0xFFFFFFFF
    for _ in range(50):
        s = (69069 * s + 1) & 0xFFFFFFFF
    words = np.empty(625, dtype=np.uint64)
    for j in range(625):
        s = (69069 * s + 1) & 0xFFFFFFFF
        words[j] = s
    return {"bit_generator": "MT19937", "state": {"key": words[1:].astype(np.uint32), "pos": 624}}


def _uniforms(seed: int, n: int) -> np.ndarray:
    bitgen = np.random.MT19937()
    bitgen.state = _mt_state(seed)
    u = bitgen.random_raw(n).astype(np.float64) * _TWO_M32
    # R's fixup: values at 0 or 1 are moved just inside the interval
    u[u <= 0.0] = 0.5 * _I2_32M1
    u[1.0 - u <= 0.0] = 1.0 - 0.5 * _I2_32M1
    return u


def r_normal(n: int, *, seed: int = 0) -> np.ndarray:
    """``set.seed(seed); rnorm(n)`` in R (default kinds: Mersenne-Twister, Inversion)."""
    u = _uniforms(seed, 2 * n).reshape(n, 2)
    return ndtri((np.floor(_BIG * u[:, 0]) + u[:, 1]) / _BIG)


def r_mvnormal(n: int, sigma: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """``set.seed(seed); mvtnorm::rmvnorm(n, sigma = sigma)`` (method "eigen", rows filled first).

    mvtnorm multiplies an n x p matrix of standard normals, filled by row, by
    the symmetric square root of ``sigma`` (eigenvalues clipped at zero).
    """
    sigma = np.asarray(sigma, dtype=float)
    p = sigma.shape[0]
    values, vectors = np.linalg.eigh(sigma)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    return r_normal(n * p, seed=seed).reshape(n, p) @ root
