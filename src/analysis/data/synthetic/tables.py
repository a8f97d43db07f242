"""Turn simulated monthly states into the data contract's tables (spells with dates)."""

from __future__ import annotations

import numpy as np
import pandas as pd

MUNICIPALITIES = [
    ("GM0363", "Amsterdam", 0.22), ("GM0599", "Rotterdam", 0.17), ("GM0518", "'s-Gravenhage", 0.14),
    ("GM0344", "Utrecht", 0.10), ("GM0772", "Eindhoven", 0.07), ("GM0014", "Groningen", 0.07),
    ("GM0153", "Enschede", 0.05), ("GM0202", "Arnhem", 0.05), ("GM0080", "Leeuwarden", 0.04),
    ("GM0935", "Maastricht", 0.04), ("GM0193", "Zwolle", 0.03), ("GM0050", "Zeewolde", 0.012),
    ("GM0088", "Schiermonnikoog", 0.0015), ("GM0096", "Vlieland", 0.0012),
]
EDUCATION = np.array(["low", "middle", "high"])
MIGRATION = np.array(["dutch", "western", "non_western"])
KINDS = np.array(["marriage", "registered_partnership", "cohabitation"])


def month_start(start_year: int, m: np.ndarray) -> np.ndarray:
    m = np.asarray(m)
    years = start_year + np.floor_divide(m, 12)
    months = np.mod(m, 12) + 1
    return (years.astype("int64") - 1970) * 12 + (months - 1)


def _dates(start_year: int, months: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Dates (datetime64[D]) for month indices and day-of-month offsets (0-based)."""
    base = month_start(start_year, months).astype("datetime64[M]").astype("datetime64[D]")
    return base + days.astype("timedelta64[D]")


def runs(matrix: np.ndarray):
    """Runs of True per row: arrays (row, first month, last month, open_at_end)."""
    n, t = matrix.shape
    padded = np.zeros((n, t + 2), dtype=np.int8)
    padded[:, 1:-1] = matrix
    diff = np.diff(padded, axis=1)
    r_s, c_s = np.nonzero(diff == 1)
    r_e, c_e = np.nonzero(diff == -1)
    order_s = np.lexsort((c_s, r_s))
    order_e = np.lexsort((c_e, r_e))
    rows, first, last = r_s[order_s], c_s[order_s], c_e[order_e] - 1
    return rows, first, last, last == t - 1


def spell_frame(matrix, ids, start_year, rng, *, left_open_start=None) -> pd.DataFrame:
    """Spells with random days inside their first and last month; open spells get no end_date.

    ``rng``: the block's ``shards.ShardStreams`` (a Generator is taken as one shard)."""
    rows, first, last, open_end = runs(matrix)
    if isinstance(rng, np.random.Generator):
        from analysis.data.synthetic.shards import ShardStreams

        rng = ShardStreams.wrap(rng, matrix.shape[0])
    sday = rng.integers(0, 28, rows=rows)
    eday = rng.integers(0, 28, rows=rows)
    same = first == last
    eday = np.where(same, sday + (eday % (28 - sday)), eday)
    start = _dates(start_year, first, sday)
    if left_open_start is not None:  # spells running at the start began before the window
        began = first == 0
        start = np.where(began, start - left_open_start[rows].astype("timedelta64[D]"), start)
    end = _dates(start_year, last, eday)
    frame = pd.DataFrame({"person_id": ids[rows], "start_date": pd.to_datetime(start),
                          "end_date": pd.to_datetime(end), "_row": rows, "_first": first, "_last": last})
    frame.loc[open_end, "end_date"] = pd.NaT
    return frame
