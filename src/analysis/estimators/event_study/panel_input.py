"""Reading a panel for the fast path: the outcome as a (units x periods) matrix, or moments.

From a DataFrame the balanced outcome matrix is built with numpy. From a
Parquet file the rows are streamed with pyarrow in batches and folded into the
cohort moments of :mod:`.cells` at once, so the 120-million-row panel never sits
in memory as a table: the file is read in the order (unit, time) if it is
stored that way, otherwise DuckDB sorts it (out of core) while streaming. The
periods are those of the first unit; every unit must have exactly these, and
units must come in increasing order, so each batch is checked with a few
vectorised comparisons. Cohorts are discovered batch by batch.
A panel that is not balanced raises :class:`NotBalanced`; the caller then takes
the general path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import DataValidationError
from analysis.estimators.event_study.cells import CohortMoments, MomentAccumulator

#: rows per streamed batch: 12 MB per numeric column, small next to the 3 GB budget
BATCH_ROWS = 1_500_000


class NotBalanced(Exception):
    """The panel is not balanced (or not stored in (unit, time) order); says why."""


def cohort_values(values) -> np.ndarray:
    """Cohorts as float with never treated (NaN or 0) as 0."""
    out = np.asarray(values, dtype=float).copy()
    out[np.isnan(out)] = 0.0
    return out


def balanced_matrix(frame: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str):
    """``(Y, unit_cohort, periods, unit_ids)`` of a balanced panel; raises NotBalanced otherwise."""
    unit_code, unit_ids = pd.factorize(frame[unit], sort=True)
    periods = np.sort(frame[time].unique())
    period_code = np.searchsorted(periods, frame[time].to_numpy())
    n_units, n_periods = len(unit_ids), len(periods)
    cell = unit_code.astype(np.int64) * n_periods + period_code
    if len(frame) != n_units * n_periods or np.bincount(cell, minlength=n_units * n_periods).max() > 1:
        raise NotBalanced(f"{len(frame)} rows for {n_units} units x {n_periods} periods")
    y = frame[outcome].to_numpy(dtype=float)
    if np.isnan(y).any():
        raise NotBalanced(f"{int(np.isnan(y).sum())} missing outcomes")
    matrix = np.empty(n_units * n_periods)
    matrix[cell] = y
    g = cohort_values(frame[cohort])
    unit_cohort = np.empty(n_units)
    unit_cohort[unit_code] = g
    return matrix.reshape(n_units, n_periods), unit_cohort, periods, unit_ids


def parquet_moments(path: str | Path, *, outcome: str, unit: str, time: str, cohort: str,
                    batch_rows: int = BATCH_ROWS, visit=None) -> tuple[CohortMoments, dict]:
    """Cohort moments of a balanced panel in a Parquet file, in one streamed pass.

    Returns the moments and facts for the diagnostics (``n_units``, ``read_order``).
    Raises NotBalanced when the panel is not balanced. ``visit(y_block, cohort_block)``, when
    given, is called with every block of whole units (units x periods outcomes and their cohorts):
    a second pass uses it for the units' terms in the estimates (disclosure dominance).
    """
    import duckdb
    import pyarrow.parquet as pq

    path = str(path)
    names = pq.ParquetFile(path).schema_arrow.names
    missing = [c for c in (outcome, unit, time, cohort) if c not in names]
    if missing:
        raise DataValidationError(f"{path}: columns {missing} not found; the file has {names}.")
    con = duckdb.connect()
    try:
        columns = [unit, time, cohort, outcome]
        try:
            batches = pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=columns)
            moments, n_units = _fold(batches, columns, visit)
            order = "file order"
        except _Unsorted:
            query = (f'SELECT "{unit}", "{time}", "{cohort}", "{outcome}" FROM read_parquet(?) '
                     f'ORDER BY "{unit}", "{time}"')
            reader = con.sql(query, params=[path]).to_arrow_reader(batch_rows)
            try:
                moments, n_units = _fold(reader, columns, visit)
            except _Unsorted as exc:
                raise NotBalanced(str(exc)) from None
            order = "sorted by DuckDB"
    finally:
        con.close()
    return moments, {"n_units": n_units, "read_order": order}


class _Unsorted(NotBalanced):
    pass


def _fold(batches, columns, visit=None):
    """Fold (unit, time)-ordered batches into moments; raise _Unsorted if not a balanced block layout.

    The periods are those of the first unit; every other unit must have exactly these.
    """
    acc: dict[float, list] = {}
    periods = None
    carry = None
    last_unit = None
    n_units = 0
    for batch in batches:
        parts = [batch.column(c).to_numpy(zero_copy_only=False) for c in columns]
        if carry is not None:
            parts = [np.concatenate([a, b]) for a, b in zip(carry, parts)]
        if periods is None:
            unit_col = parts[0]
            change = np.flatnonzero(unit_col[1:] != unit_col[:-1])
            if len(change) == 0:
                carry = parts
                continue
            periods = np.asarray(parts[1][:change[0] + 1])
            if len(periods) > 1 and not (np.diff(periods) > 0).all():
                raise _Unsorted("periods of the first unit are not in increasing order")
        n_periods = len(periods)
        n_full = (len(parts[0]) // n_periods) * n_periods
        carry = [p[n_full:] for p in parts]
        if n_full == 0:
            continue
        unit_col, time_col, cohort_col, y_col = (p[:n_full] for p in parts)
        last_unit = _check_block(unit_col, time_col, cohort_col, y_col, periods, last_unit)
        block_cohort = cohort_values(cohort_col[::n_periods])
        y = np.asarray(y_col, dtype=float).reshape(-1, n_periods)
        if visit is not None:
            visit(y, block_cohort)
        values, codes = np.unique(block_cohort, return_inverse=True)
        part = MomentAccumulator(len(values), n_periods)
        part.add(y, codes)
        for j, value in enumerate(values):
            entry = acc.setdefault(float(value), [0, np.zeros(n_periods), np.zeros((n_periods, n_periods))])
            entry[0] += part.counts[j]
            entry[1] += part.sums[j]
            entry[2] += part.cross[j]
        n_units += n_full // n_periods
    if periods is None or (carry is not None and len(carry[0])):
        left = 0 if carry is None else len(carry[0])
        raise _Unsorted(f"{left} rows left over after whole units")
    cohorts = np.array(sorted(acc))
    moments = CohortMoments(cohorts=cohorts, periods=periods,
                            counts=np.array([acc[g][0] for g in cohorts], dtype=np.int64),
                            sums=np.stack([acc[g][1] for g in cohorts]),
                            cross=np.stack([acc[g][2] for g in cohorts]))
    return moments, n_units


def _check_block(unit_col, time_col, cohort_col, y_col, periods, last_unit):
    """Whole units of len(periods) rows: unit non-decreasing, constant per block, increasing between."""
    n_periods = len(periods)
    if len(unit_col) > 1 and not (unit_col[1:] >= unit_col[:-1]).all():
        raise _Unsorted("units are not in increasing order")
    units = np.asarray(unit_col).reshape(-1, n_periods)
    first = units[:, 0]
    if not (units[:, -1] == first).all():
        raise _Unsorted("rows of a unit are not consecutive blocks of all periods")
    if len(first) > 1 and not (first[1:] > first[:-1]).all():
        raise _Unsorted("a unit has more rows than the first unit has periods")
    if last_unit is not None and not first[0] > last_unit:
        raise _Unsorted("units are not in increasing order")
    times = np.asarray(time_col).reshape(-1, n_periods)
    if not (times == periods[None, :]).all():
        raise _Unsorted("a unit does not have the same periods as the first unit")
    g = cohort_values(cohort_col).reshape(-1, n_periods)
    if not (g[:, -1] == g[:, 0]).all() or not (g == g[:, :1]).all():
        raise _Unsorted("cohort varies within a unit")
    y = np.asarray(y_col, dtype=float)
    if np.isnan(y).any():
        raise _Unsorted(f"{int(np.isnan(y).sum())} missing outcomes")
    return first[-1]
