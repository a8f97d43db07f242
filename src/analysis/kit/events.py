"""Event cohorts with their at-risk definition: who has the event when, and who could have had it.

An :class:`EventCohorts` holds, for one population, each unit's first event period
(the cohort; 0 = no event in the window), the units x periods matrix of being at
risk of the event, and the covariates at any base period. The at-risk matrix is
what makes a comparison group credible: :func:`analysis.estimators.did.at_risk.att_gt_at_risk`
compares the units that have the event with units at risk at the same base period.

- ``divorce_cohorts``: monthly; the event is the end of a union by divorce or
  separation (data-contract.md); at risk = in a union and not yet separated.
  Covariates at the base month: age, female, education (middle, high), migration
  background (western, non-western), union duration (2-5 years, 5 years or more; under 2 the reference).
- ``exit_to_work_cohorts``: yearly (health is yearly); the event is the first exit
  from bijstand to work (employment starting within ``exit_window_days`` of the spell's
  end), its period the calendar year of the spell's end; at risk in year t = on
  bijstand in December of year t and not yet left for work. Covariates at the base
  year: age, female, education, migration background, spell duration on 31 December
  (1-2 years, over 2 years; a year or less the reference) and bijstand months in the 24
  months up to that December (7-12, 13-18, 19-24; 6 or fewer the reference).

Matrices are built from spells with difference arrays per block of rows (``interval_matrix``), not by
expanding spells to rows. Memory at register scale (issue #18): the only units x periods arrays
``divorce_cohorts`` keeps are the at-risk matrix (bool); the union duration at a base month is
computed from the spell list when ``covariates_at`` asks for it (no units x periods matrix of union
starts), and tables are read by column (``read_columns``). Every path is exact (integer and 0/1
arithmetic): tests/kit/test_intake_streaming.py compares it with the dense code it replaced.

Reads (issue #18) are restricted to the persons asked for: ``exit_to_work_cohorts`` reads the spells, exits and
bijstand months of its persons (by default the store's bijstand recipients, :func:`recipients`) in SQL,
``employment_matrix`` the employment spells of its units (:func:`person_rows`: DuckDB over the validated file,
typed as ``Dataset.tables``). Both are exact: the same arrays as reading the whole tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

COVARIATES = ("age", "female", "education_middle", "education_high", "migration_western",
              "migration_non_western")


@dataclass(frozen=True)
class EventCohorts:
    """Units, their first event period and their risk of the event, for one population."""

    event: str
    unit_ids: np.ndarray
    periods: np.ndarray            # period labels: months (year * 12 + month - 1) or years
    cohort: np.ndarray             # first event period as position 1..T; 0 = none in the window
    at_risk: np.ndarray            # units x periods, bool
    at_risk_rule: str
    covariate_names: tuple
    covariates_at: Callable[[int], np.ndarray] = field(repr=False, compare=False)  # position -> n x k
    frequency: str = "month"

    @property
    def n_treated(self) -> int:
        return int((self.cohort > 0).sum())

    def covariates(self, names=None) -> np.ndarray:
        """Units x T x k covariates (only for small populations; estimators call ``covariates_at``)."""
        idx = [self.covariate_names.index(c) for c in (names or self.covariate_names)]
        return np.stack([self.covariates_at(b)[:, idx] for b in range(len(self.periods))], axis=1)


#: Rows of an interval matrix built at a time: its difference array (rows x T+1 int64) stays ~30 MB.
INTERVAL_BLOCK_ROWS = 32_768


def interval_matrix(rows: np.ndarray, start: np.ndarray, end: np.ndarray, n: int, T: int) -> np.ndarray:
    """n x T bool: True in periods start..end (positions, inclusive, clipped to the window) of each row.

    Built per block of ``INTERVAL_BLOCK_ROWS`` rows (spells sorted by row), so besides the n x T result
    only one block's difference array is held: the same matrix as a whole-array difference array."""
    rows = np.asarray(rows, dtype=np.int64)
    start = np.clip(np.asarray(start, dtype=np.int64), 0, T)
    end = np.clip(np.asarray(end, dtype=np.int64), -1, T - 1)
    ok = end >= start
    rows, start, end = rows[ok], start[ok], end[ok]
    order = np.argsort(rows, kind="stable")
    rows, start, end = rows[order], start[order], end[order]
    out = np.zeros((n, T), dtype=bool)
    width = T + 1
    for lo in range(0, n, INTERVAL_BLOCK_ROWS):
        hi = min(lo + INTERVAL_BLOCK_ROWS, n)
        i0, i1 = np.searchsorted(rows, [lo, hi])
        if i0 == i1:
            continue
        r = rows[i0:i1] - lo
        size = (hi - lo) * width
        diff = np.bincount(r * width + start[i0:i1], minlength=size)
        diff -= np.bincount(r * width + end[i0:i1] + 1, minlength=size)
        out[lo:hi] = np.cumsum(diff.reshape(hi - lo, width)[:, :T], axis=1) > 0
    return out


def read_columns(ds, table: str, columns: list) -> pd.DataFrame:
    """Only ``columns`` of a dataset table, every row, typed as ``Dataset.tables`` types them (:func:`person_rows`
    without a filter: read by DuckDB from the validated file, nothing else of the table kept)."""
    return person_rows(ds, table, None, columns=columns)


def _person_covariates(persons: pd.DataFrame) -> dict:
    edu = persons["education"].astype("string") if "education" in persons else pd.Series(pd.NA, index=persons.index)
    mig = persons["migration_background"].astype("string") if "migration_background" in persons \
        else pd.Series(pd.NA, index=persons.index)
    return {
        "birth_year": persons["birth_year"].to_numpy(dtype=float),
        "female": (persons["sex"] == "F").to_numpy(dtype=float),
        "education_middle": (edu == "middle").fillna(False).to_numpy(dtype=float),
        "education_high": (edu == "high").fillna(False).to_numpy(dtype=float),
        "migration_western": (mig == "western").fillna(False).to_numpy(dtype=float),
        "migration_non_western": (mig == "non_western").fillna(False).to_numpy(dtype=float),
    }


def _month(dates: pd.Series) -> np.ndarray:
    d = pd.to_datetime(dates)
    return (d.dt.year * 12 + d.dt.month - 1).to_numpy()


def union_duration_at(rows: np.ndarray, start: np.ndarray, end: np.ndarray, n: int, T: int, b: int) -> np.ndarray:
    """Per row, months since the start of the union covering position ``b`` (the latest-starting one if
    several do), 0 where none does; unions are positions ``start..end`` (clipped to the window when
    judging cover, not when measuring the duration). Computed from the spell list, no rows x T matrix.

    As the rows x T matrix of union starts did, a covering union that started at position -1 (the month
    before the window) counts as none: that matrix used -1 for "no union"."""
    cover = (np.maximum(start, 0) <= b) & (np.minimum(end, T - 1) >= b)
    latest = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(latest, rows[cover], start[cover])
    has = (latest != np.iinfo(np.int64).min) & (latest != -1)
    return np.where(has, (b - latest) / 12.0, 0.0)


def divorce_cohorts(store, *, persons: pd.DataFrame | None = None) -> EventCohorts:
    """Monthly divorce/separation cohorts among everyone ever in a union (see the module docstring)."""
    ds = store.dataset
    start, end = ds.meta["observation_start"], ds.meta["observation_end"]
    m0, m1 = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    T = m1 - m0 + 1
    unions = read_columns(ds, "partnerships", ["person_id", "start_date", "end_date", "end_reason"])
    people = ds.tables["persons"] if persons is None else persons
    people = people[people["person_id"].isin(unions["person_id"])].reset_index(drop=True)
    index = pd.Index(people["person_id"])
    rows = index.get_indexer(unions["person_id"])
    u = unions[rows >= 0]
    del unions
    rows = rows[rows >= 0]
    s = _month(u["start_date"]) - m0
    e = np.where(u["end_date"].isna(), T - 1, _month(u["end_date"].fillna(pd.Timestamp(end))) - m0)
    at_risk = interval_matrix(rows, s, e, len(people), T)           # partnered
    ended = u["end_reason"].isin(["divorce", "separation"]).to_numpy() & u["end_date"].notna().to_numpy()
    del u
    first = np.full(len(people), np.iinfo(np.int64).max)
    np.minimum.at(first, rows[ended], e[ended])
    in_window = (first >= 0) & (first < T)
    cohort = np.where(in_window, first + 1, 0).astype(float)          # position 1..T
    # not yet separated: before the first separation (a union ending before the window counts as none)
    stop = np.where(in_window, first, T)
    for lo in range(0, len(people), INTERVAL_BLOCK_ROWS):
        blk = slice(lo, lo + INTERVAL_BLOCK_ROWS)
        at_risk[blk] &= np.arange(T)[None, :] < stop[blk, None]
    # union duration at month b: months since the start of the union covering b, from the spells on demand
    spells = (rows.astype(np.int64), np.asarray(s, dtype=np.int64), np.asarray(e, dtype=np.int64))
    base = _person_covariates(people)
    n = len(people)

    def covariates_at(b: int) -> np.ndarray:
        year = (m0 + b) // 12
        dur = union_duration_at(*spells, n, T, b)
        return np.column_stack([year - base["birth_year"], base["female"], base["education_middle"],
                                base["education_high"], base["migration_western"], base["migration_non_western"],
                                (dur >= 2) & (dur < 5), dur >= 5])

    return EventCohorts(event="divorce", unit_ids=people["person_id"].to_numpy(), periods=np.arange(m0, m1 + 1),
                        cohort=cohort, at_risk=at_risk,
                        at_risk_rule="in a union in the base month and not yet separated",
                        covariate_names=COVARIATES + ("union_2_5_years", "union_5_years_plus"), covariates_at=covariates_at,
                        frequency="month")


def person_rows(dataset, table: str, ids, *, columns=None) -> pd.DataFrame:
    """The rows of the dataset's table ``table`` whose ``person_id`` is in ``ids`` (``None``: every row), typed
    and ordered as ``dataset.tables[table]`` gives them (index from 0), only ``columns`` (default all).

    Read by DuckDB from the validated file with the typing SQL of the loader (``analysis.data.validate_sql``),
    filtered to the persons before anything reaches pandas, so memory grows with the rows of these persons,
    not with the table. Exact: the same rows as ``dataset.tables[table][lambda f: f.person_id.isin(ids)]``.
    A table repaired on load (``merge_touching``: its rows are the repaired frame's), a table already read,
    or a dataset whose tables are plain frames is filtered in pandas instead.
    """
    from analysis.data.lazy import LazyTables

    tables = dataset.tables
    wanted = None if ids is None else pd.DataFrame({"person_id": pd.unique(np.asarray(ids, dtype=object))})
    if not isinstance(tables, LazyTables) or tables.merged(table) or table in tables.loaded():
        frame = tables[table]
        if wanted is not None:
            frame = frame[frame["person_id"].isin(wanted["person_id"])]
        return (frame if columns is None else frame[list(columns)]).reset_index(drop=True)
    return _filtered_read(tables, table, wanted, columns)


def _filtered_read(tables, table: str, wanted: pd.DataFrame | None, columns) -> pd.DataFrame:
    """:func:`person_rows` of a validated file: the loader's typed SELECT, semi-joined to ``wanted``."""
    from analysis.data.sql_columns import ROW, quote, typed_select
    from analysis.data.validate_sql import columns_sql, relation, stage, to_pandas
    from analysis.data.lazy import check_unchanged
    from analysis.data.workspace import memory_limit, workspace

    source = tables.source(table)
    check_unchanged(source)
    with workspace(None, limit=memory_limit(tables._limit)) as (con, spill):
        source, staged = stage(source, spill)   # a CSV: streamed into a Parquet copy first, as the store does
        rel = relation(source, staged)
        every = columns_sql(con, source, rel)
        by_name = {c.name: c for c in every}
        cols = every if columns is None else [by_name[name] for name in columns]
        typed = typed_select([c for c in every if (c.name == "person_id" and wanted is not None) or c in cols], rel,
                             flags=False)
        where = ""
        if wanted is not None:
            con.register("wanted_ids", wanted)
            where = "WHERE t.person_id IN (SELECT person_id FROM wanted_ids)"
        names = ", ".join(f"t.{quote(c.name)}" for c in cols)
        sql = f"SELECT {names} FROM ({typed}) t {where} ORDER BY t.{ROW}"
        return to_pandas(con.sql(sql).to_arrow_table(), cols)


def store_persons(store, ids, *, columns=None) -> pd.DataFrame:
    """The store's ``persons`` rows of the persons ``ids``, in the store's order and typed as
    ``store.read("persons")`` gives them (a filtered Parquet read: the other persons never reach pandas),
    only ``columns`` (``person_id`` always first)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    cols = None if columns is None else ["person_id", *[c for c in columns if c != "person_id"]]
    wanted = ids if isinstance(ids, (pa.Array, pa.ChunkedArray)) else pa.array(np.asarray(ids, dtype=object),
                                                                                  type=pa.string())
    if isinstance(wanted, pa.ChunkedArray):
        wanted = wanted.combine_chunks()
    return pq.read_table(store.path("persons"), columns=cols, filters=pc.field("person_id").isin(wanted)).to_pandas()


def recipients(store, *, columns=None) -> pd.DataFrame:
    """The store's ``persons`` rows of everyone with a bijstand spell, in the store's order (as
    ``store.read("persons")`` filtered to them), only ``columns``: read with a filter, never all persons."""
    con = store.connect()
    try:
        ids = con.sql("SELECT DISTINCT person_id FROM bijstand_spells").to_arrow_table().column(0)
    finally:
        con.close()
    return store_persons(store, ids, columns=columns)


def exit_to_work_cohorts(store, *, exit_window_days: int = 31, persons: pd.DataFrame | None = None,
                         reason: str = "work") -> EventCohorts:
    """Yearly exit-to-work cohorts among everyone with bijstand in the window (module docstring).

    ``reason="other"`` gives the placebo's cohorts instead: the first exit from bijstand *not* followed by a
    job within ``exit_window_days``, at risk = on bijstand in December and no such exit yet.

    ``persons`` (default: everyone, :func:`recipients`) are the persons considered; their spells, exits and
    bijstand months are read from the store in SQL restricted to them, so memory grows with the recipients
    among ``persons``, not with the store's population (exact: the same cohorts as reading everything).
    """
    from analysis.errors import check_choice

    check_choice("reason", reason, ("work", "other"))
    which = (f"days_to_employment IS NOT NULL AND days_to_employment <= {int(exit_window_days)}" if reason == "work"
             else f"days_to_employment IS NULL OR days_to_employment > {int(exit_window_days)}")
    ds = store.dataset
    start, end = ds.meta["observation_start"], ds.meta["observation_end"]
    years = np.arange(start.year, end.year + 1)
    people = recipients(store) if persons is None else persons
    con = store.connect()
    try:
        con.register("units", pd.DataFrame({"person_id": people["person_id"].to_numpy()}))
        mine = "person_id IN (SELECT person_id FROM units)"
        spells = con.execute(f"SELECT person_id, start_month, end_month FROM bijstand_spells WHERE {mine}").df()
        exits = con.execute(f"""SELECT person_id, min(year(end_date)) AS year FROM bijstand_exits
                                WHERE ({which}) AND {mine} GROUP BY person_id""").df()
        # bijstand months in the 24 months up to 31 December of each year (the state health drifts with)
        bm = con.execute(f"SELECT person_id, year, bijstand_months FROM person_year "
                         f"WHERE bijstand_months > 0 AND {mine}").df()
    finally:
        con.close()
    people = people[people["person_id"].isin(spells["person_id"])].reset_index(drop=True)
    index = pd.Index(people["person_id"])
    n, T = len(people), len(years)
    rows = index.get_indexer(spells["person_id"])
    sp = spells[rows >= 0]
    rows = rows[rows >= 0]
    decembers = years * 12 + 11
    # on bijstand in December of year t; spell start of the spell covering that December
    on_dec = np.zeros((n, T), dtype=bool)
    spell_start = np.full((n, T), -1, dtype=np.int32)
    sm, em = sp["start_month"].to_numpy(), sp["end_month"].to_numpy()
    for j, dm in enumerate(decembers):
        cover = (sm <= dm) & (em >= dm)
        on_dec[rows[cover], j] = True
        spell_start[rows[cover], j] = sm[cover]
    months = np.zeros((n, T))
    br = index.get_indexer(bm["person_id"])
    okb = br >= 0
    months[br[okb], bm["year"].to_numpy()[okb] - years[0]] = bm["bijstand_months"].to_numpy()[okb]
    recent = months + np.concatenate([np.zeros((n, 1)), months[:, :-1]], axis=1)
    g = np.zeros(n)
    er = index.get_indexer(exits["person_id"])
    ok = er >= 0
    g[er[ok]] = exits["year"].to_numpy()[ok] - years[0] + 1                  # position 1..T
    not_yet = np.arange(T)[None, :] < np.where(g > 0, g - 1, T)[:, None]    # years before the exit year
    at_risk = on_dec & not_yet
    base = _person_covariates(people)

    def covariates_at(b: int) -> np.ndarray:
        dur = np.where(spell_start[:, b] >= 0, (decembers[b] - spell_start[:, b] + 1) / 12.0, 0.0)
        return np.column_stack([years[b] - base["birth_year"], base["female"], base["education_middle"],
                                base["education_high"], base["migration_western"], base["migration_non_western"],
                                (dur > 1) & (dur <= 2), dur > 2,
                                (recent[:, b] > 6) & (recent[:, b] <= 12), (recent[:, b] > 12) & (recent[:, b] <= 18),
                                recent[:, b] > 18])

    left = "left for work" if reason == "work" else "left for other reasons"
    return EventCohorts(event="exit_to_work" if reason == "work" else "exit_other", unit_ids=people["person_id"].to_numpy(),
                        periods=years, cohort=g, at_risk=at_risk,
                        at_risk_rule=f"on bijstand on 31 December of the base year and not yet {left}",
                        covariate_names=COVARIATES + ("spell_1_2_years", "spell_2_years_plus", "recent_months_7_12",
                                                     "recent_months_13_18", "recent_months_19_24"), covariates_at=covariates_at, frequency="year")


def employment_matrix(store, unit_ids, m0: int, T: int) -> np.ndarray:
    """Units x months: employed in the month (from the contract's employment spells of these units only,
    :func:`person_rows`: memory grows with the units' spells, not with the table)."""
    ds = store.dataset
    end = ds.meta["observation_end"]
    emp = person_rows(ds, "employment_spells", unit_ids, columns=["person_id", "start_date", "end_date"])
    rows = pd.Index(unit_ids).get_indexer(emp["person_id"])
    ok = rows >= 0
    e = emp[ok]
    s = _month(e["start_date"]) - m0
    f = np.where(e["end_date"].isna(), T - 1, _month(e["end_date"].fillna(pd.Timestamp(end))) - m0)
    return interval_matrix(rows[ok], s, f, len(unit_ids), T)


def job_end_cohorts(store, *, persons: pd.DataFrame | None = None) -> EventCohorts:
    """Monthly job-loss cohorts among everyone ever employed: the event is the first end of employment
    not followed by another job within 31 days (the store's ``employment_ends``); at risk = employed in
    the base month and no job lost yet. Covariates: age, female, education, migration background."""
    ds = store.dataset
    start, end = ds.meta["observation_start"], ds.meta["observation_end"]
    m0, m1 = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    T = m1 - m0 + 1
    people = ds.tables["persons"] if persons is None else persons
    people = people[people["person_id"].isin(read_columns(ds, "employment_spells", ["person_id"])["person_id"])]
    people = people.reset_index(drop=True)
    ids = people["person_id"].to_numpy()
    employed = employment_matrix(store, ids, m0, T)
    ends = store.connect().execute("SELECT person_id, min(month) AS month FROM employment_ends GROUP BY person_id").df()
    rows = pd.Index(ids).get_indexer(ends["person_id"])
    ok = (rows >= 0) & (ends["month"].to_numpy() - m0 >= 0) & (ends["month"].to_numpy() - m0 < T)
    cohort = np.zeros(len(ids))
    cohort[rows[ok]] = ends["month"].to_numpy()[ok] - m0 + 1
    not_yet = np.arange(T)[None, :] < np.where(cohort > 0, cohort - 1, T)[:, None]
    base = _person_covariates(people)

    def covariates_at(b: int) -> np.ndarray:
        year = (m0 + b) // 12
        return np.column_stack([year - base["birth_year"], base["female"], base["education_middle"],
                                base["education_high"], base["migration_western"], base["migration_non_western"]])

    return EventCohorts(event="job_loss", unit_ids=ids, periods=np.arange(m0, m1 + 1), cohort=cohort,
                        at_risk=employed & not_yet, at_risk_rule="employed in the base month and no job lost yet",
                        covariate_names=COVARIATES, covariates_at=covariates_at, frequency="month")
