"""Event-time design of the event study: which dummy columns, and how terms aggregate them.

Plain functions, no estimation. Event time is ``e = t - g`` (periods since the
first treated period ``g``). Event times outside ``window = (lo, hi)`` are
*binned at the endpoints*: ``e <= lo`` counts as ``lo`` and ``e >= hi`` as ``hi``
(Schmidheiny & Siegloch 2023), so every treated observation stays in the sample
and the terms ``e=lo`` and ``e=hi`` read "lo or more periods before" and "hi or
more periods after". The reference event time gets no column.

- ``"twfe"``: one column per event time ``k``: ``1[g > 0, bin(t - g) = k]``.
- ``"sun_abraham"``: one column per treated cohort ``g`` (other than the control
  cohort) and event time ``k``: ``1[g_i = g, bin(t - g) = k]`` (Sun & Abraham
  2021, eq. 19); term ``e=k`` is the interaction-weighted average of the cohort
  effects with weights ``n_g / sum n_g'`` over the cohorts observed at ``k``
  (their eq. 20-21, with the shares computed from unit counts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EventDesign:
    """Event columns on the (cohort, period) grid and the terms built from them.

    ``design`` (G, T, K) column values per cohort and period; ``columns`` one
    ``(cohort or None, k)`` per column; ``terms`` the event times reported;
    ``weights`` (n_terms, K) maps columns to terms; ``units`` (n_terms,) the
    number of treated units observed at each term's event time; ``empty`` the
    event times in the window (other than the reference) without any data.
    """

    design: np.ndarray
    columns: list
    terms: list
    weights: np.ndarray
    units: np.ndarray
    empty: list


def binned_event_time(cohort, period, window: tuple[int, int]):
    """``clip(t - g, lo, hi)``; works elementwise on arrays."""
    return np.clip(np.asarray(period) - np.asarray(cohort), window[0], window[1])


def event_design(cohorts: np.ndarray, periods: np.ndarray, counts: np.ndarray, *,
                 window: tuple[int, int], reference: int, estimator: str,
                 control_cohort: float = 0) -> EventDesign:
    """Columns and aggregation weights for cohorts x periods with ``counts`` units per cohort.

    Cohort 0 is never treated; ``control_cohort`` (Sun-Abraham) also gets no columns.
    """
    cohorts = np.asarray(cohorts, dtype=float)
    periods = np.asarray(periods, dtype=float)
    counts = np.asarray(counts, dtype=float)
    lo, hi = window
    wanted = [k for k in range(lo, hi + 1) if k != reference]
    treated = (cohorts != 0) & (cohorts != control_cohort) & (counts > 0)
    binned = binned_event_time(cohorts[:, None], periods[None, :], window)   # (G, T)
    present = {k: [g for g in np.flatnonzero(treated) if np.any(binned[g] == k)] for k in wanted}
    terms = [k for k in wanted if present[k]]
    empty = [k for k in wanted if not present[k]]
    if estimator == "twfe":
        columns = [(None, k) for k in terms]
        design = np.stack([(binned == k) & treated[:, None] for k in terms], axis=2).astype(float) \
            if terms else np.zeros((len(cohorts), len(periods), 0))
        weights = np.eye(len(terms))
    else:
        columns = [(cohorts[g], k) for k in terms for g in present[k]]
        design = np.zeros((len(cohorts), len(periods), len(columns)))
        weights = np.zeros((len(terms), len(columns)))
        j = 0
        for row, k in enumerate(terms):
            total = counts[present[k]].sum()
            for g in present[k]:
                design[g, :, j] = binned[g] == k
                weights[row, j] = counts[g] / total
                j += 1
    units = np.array([counts[present[k]].sum() for k in terms], dtype=np.int64)
    return EventDesign(design=design, columns=columns, terms=terms, weights=weights,
                       units=units, empty=empty)
