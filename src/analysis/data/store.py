"""The processed store: Parquet tables built with DuckDB from a validated dataset.

``build_store(dataset)`` writes ``<root>/<dataset-name>/<content-hash>/``:

- ``persons``            as validated;
- ``bijstand_spells``    bijstand spells merged so that a new spell starts only after at least one
                         full calendar month without bijstand (touching, overlapping and near spells
                         merged); open spells end at observation_end with ``censored``; months are
                         integers ``year * 12 + month - 1``;
- ``person_year``        one row per person and year of the window: age, sex, municipality,
                         bijstand on 31 December, months with bijstand and with employment (summed
                         over spells from their month ranges, no month grid: a month shared by two
                         consecutive jobs counts for each, capped at 12 a year), and the health
                         outcomes (null where health_yearly has no row);
- ``person_month``       one row per month for persons who receive bijstand at some time in the
                         window (the population of the exit_health and intervention studies), from
                         their first to their last month in the window: bijstand, other benefit,
                         employed, partnered (int8), municipality; only these columns and persons, to
                         keep the store small at national scale (other studies aggregate in DuckDB);
- ``partnership_ends``   unions that ended (month of the end date, kind, reason);
- ``employment_ends``    every employment spell that ended inside the window;
- ``benefit_ends``       ww / wia / other benefit spells that ended inside the window;
- ``bijstand_exits``     merged bijstand spells that ended, with days to the next employment start.

It is rebuilt only when the dataset's content hash changes, and written
atomically: into a temporary sibling directory, renamed into place at the end,
so an interrupted build leaves nothing half-written.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from analysis.data.load import Dataset

TABLES = ("persons", "bijstand_spells", "person_year", "person_month", "partnership_ends",
          "employment_ends", "benefit_ends", "bijstand_exits")


@dataclass(frozen=True)
class Store:
    root: Path
    dataset: Dataset

    def path(self, table: str) -> Path:
        if table not in TABLES:
            raise KeyError(f"Unknown store table {table!r}; tables: {', '.join(TABLES)}")
        return self.root / f"{table}.parquet"

    def read(self, table: str, columns=None) -> pd.DataFrame:
        return pd.read_parquet(self.path(table), columns=columns)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with one view per store table."""
        con = duckdb.connect()
        con.execute("SET threads = 2")
        for t in TABLES:
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{self.path(t).as_posix()}')")
        return con


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "dataset"


def _month(col: str) -> str:
    return f"(year({col}) * 12 + month({col}) - 1)"


def _build(con: duckdb.DuckDBPyConnection, ds: Dataset, out: Path) -> None:
    start, end = ds.meta["observation_start"], ds.meta["observation_end"]
    m0, m1 = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    for name, frame in ds.tables.items():
        con.register(f"raw_{name}", frame)

    def write(table: str, sql: str) -> None:
        con.execute(f"COPY ({sql}) TO '{(out / (table + '.parquet')).as_posix()}' (FORMAT parquet)")

    write("persons", "SELECT * FROM raw_persons")
    con.execute(f"""
        CREATE TEMP TABLE bij AS
        SELECT person_id, start_date::DATE AS start_date,
               COALESCE(end_date::DATE, DATE '{end}') AS end_date, end_date IS NULL AS open,
               municipality_code, {'monthly_amount_eur' if 'monthly_amount_eur' in ds.tables['benefit_spells'] else 'NULL::DOUBLE AS monthly_amount_eur'}
        FROM raw_benefit_spells WHERE benefit = 'bijstand'""")
    write("bijstand_spells", f"""
        WITH s AS (
            SELECT *, {_month('start_date')} AS sm, {_month('end_date')} AS em FROM bij),
        flagged AS (
            SELECT *, CASE WHEN sm <= max(em) OVER (PARTITION BY person_id ORDER BY start_date, end_date
                                                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) + 1
                           THEN 0 ELSE 1 END AS new_spell
            FROM s),
        numbered AS (
            SELECT *, sum(new_spell) OVER (PARTITION BY person_id ORDER BY start_date, end_date
                                           ROWS UNBOUNDED PRECEDING) AS spell_no FROM flagged)
        SELECT person_id, person_id || '-' || spell_no AS spell_id,
               min(start_date) AS start_date, max(end_date) AS end_date,
               bool_or(open) AS censored, min(sm)::INTEGER AS start_month, max(em)::INTEGER AS end_month,
               arg_min(municipality_code, start_date) AS municipality_code,
               arg_min(monthly_amount_eur, start_date) AS monthly_amount_eur,
               count(*)::INTEGER AS n_merged
        FROM numbered GROUP BY person_id, spell_no ORDER BY person_id, start_date""")
    con.execute(f"CREATE VIEW bs AS SELECT * FROM read_parquet('{(out / 'bijstand_spells.parquet').as_posix()}')")
    con.execute(f"""
        CREATE TEMP TABLE emp AS
        SELECT person_id, start_date::DATE AS start_date, COALESCE(end_date::DATE, DATE '{end}') AS end_date,
               end_date IS NULL AS open,
               GREATEST({_month('start_date::DATE')}, {m0}) AS sm,
               {_month(f"COALESCE(end_date::DATE, DATE '{end}')")} AS em
        FROM raw_employment_spells""")
    years = list(range(start.year, end.year + 1))
    con.execute(f"CREATE TEMP TABLE years AS SELECT unnest({years}) AS year")
    has_health = "health_yearly" in ds.tables
    write("person_year", f"""
        WITH grid AS (SELECT p.person_id, y.year, y.year - p.birth_year AS age, p.sex, p.municipality_code
                      FROM raw_persons p CROSS JOIN years y),
        bm AS (SELECT b.person_id, y.year,
                      sum(LEAST(b.end_month, y.year * 12 + 11) - GREATEST(b.start_month, y.year * 12) + 1) AS months
               FROM bs b JOIN years y ON b.start_month <= y.year * 12 + 11 AND b.end_month >= y.year * 12
               GROUP BY ALL),
        em AS (SELECT e.person_id, y.year,
                      least(12, sum(LEAST(e.em, y.year * 12 + 11) - GREATEST(e.sm, y.year * 12) + 1)) AS months
               FROM emp e JOIN years y ON e.sm <= y.year * 12 + 11 AND e.em >= y.year * 12
               GROUP BY ALL),
        dec AS (SELECT DISTINCT b.person_id, y.year FROM bs b JOIN years y
                ON b.start_date <= make_date(y.year, 12, 31) AND b.end_date >= make_date(y.year, 12, 31))
        SELECT g.*, (dec.person_id IS NOT NULL)::TINYINT AS bijstand_dec31,
               COALESCE(bm.months, 0)::SMALLINT AS bijstand_months, COALESCE(em.months, 0)::SMALLINT AS employed_months,
               h.healthcare_costs_eur, h.mental_healthcare_costs_eur, h.gp_costs_eur,
               h.antidepressants::TINYINT AS antidepressants
        FROM grid g
        LEFT JOIN dec USING (person_id, year) LEFT JOIN bm USING (person_id, year) LEFT JOIN em USING (person_id, year)
        {'LEFT JOIN raw_health_yearly h USING (person_id, year)' if has_health else 'LEFT JOIN (SELECT NULL AS person_id) h ON FALSE'}
        ORDER BY person_id, year""")
    write("person_month", f"""
        WITH rec AS (SELECT person_id, GREATEST(min(start_month), {m0}) AS first_m,
                            LEAST(max(end_month), {m1}) AS last_m
                     FROM bs WHERE end_month >= {m0} GROUP BY person_id),
        grid AS (SELECT person_id, unnest(range(first_m, last_m + 1)) AS month FROM rec),
        b AS (SELECT DISTINCT person_id, unnest(range(start_month, end_month + 1)) AS month FROM bs
              WHERE person_id IN (SELECT person_id FROM rec)),
        e AS (SELECT DISTINCT person_id, unnest(range(sm, em + 1)) AS month FROM emp
              WHERE person_id IN (SELECT person_id FROM rec)),
        o AS (SELECT DISTINCT person_id, unnest(range({_month('start_date::DATE')},
                     {_month(f"COALESCE(end_date::DATE, DATE '{end}')")} + 1)) AS month
              FROM raw_benefit_spells WHERE benefit <> 'bijstand' AND person_id IN (SELECT person_id FROM rec)),
        pt AS (SELECT DISTINCT person_id, unnest(range({_month('start_date::DATE')},
                      {_month(f"COALESCE(end_date::DATE, DATE '{end}')")} + 1)) AS month
               FROM raw_partnerships WHERE person_id IN (SELECT person_id FROM rec))
        SELECT g.person_id, g.month::INTEGER AS month,
               (b.person_id IS NOT NULL)::TINYINT AS bijstand, (o.person_id IS NOT NULL)::TINYINT AS other_benefit,
               (e.person_id IS NOT NULL)::TINYINT AS employed, (pt.person_id IS NOT NULL)::TINYINT AS partnered,
               p.municipality_code
        FROM grid g JOIN raw_persons p USING (person_id)
        LEFT JOIN b USING (person_id, month) LEFT JOIN e USING (person_id, month)
        LEFT JOIN o USING (person_id, month) LEFT JOIN pt USING (person_id, month)
        ORDER BY g.person_id, g.month""")
    write("partnership_ends", f"""
        SELECT person_id, end_date::DATE AS end_date, {_month('end_date::DATE')}::INTEGER AS month, kind, end_reason
        FROM raw_partnerships WHERE end_date IS NOT NULL AND end_date::DATE >= DATE '{start}'
        ORDER BY person_id, end_date""")
    write("employment_ends", f"""
        SELECT person_id, end_date, {_month('end_date')}::INTEGER AS month FROM emp
        WHERE NOT open AND end_date >= DATE '{start}' ORDER BY person_id, end_date""")
    write("benefit_ends", f"""
        SELECT person_id, benefit, end_date::DATE AS end_date, {_month('end_date::DATE')}::INTEGER AS month
        FROM raw_benefit_spells WHERE benefit <> 'bijstand' AND end_date IS NOT NULL
          AND end_date::DATE >= DATE '{start}' ORDER BY person_id, end_date""")
    write("bijstand_exits", """
        SELECT b.person_id, b.spell_id, b.end_date, b.end_month,
               min(date_diff('day', b.end_date, e.start_date)) AS days_to_employment
        FROM bs b LEFT JOIN emp e ON e.person_id = b.person_id AND e.start_date >= b.end_date
        WHERE NOT b.censored GROUP BY ALL ORDER BY b.person_id, b.end_date""")


def build_store(dataset: Dataset, *, root: str | Path = "data/processed") -> Store:
    """Build (or reuse) the processed store of ``dataset`` under ``root``."""
    base = Path(root) / _slug(dataset.name)
    target = base / dataset.content_hash[:16]
    if target.is_dir() and all((target / f"{t}.parquet").is_file() for t in TABLES):
        return Store(root=target, dataset=dataset)
    base.mkdir(parents=True, exist_ok=True)
    tmp = base / f".tmp-{dataset.content_hash}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        con = duckdb.connect()
        con.execute("SET threads = 2")
        con.execute("SET preserve_insertion_order = false")
        _build(con, dataset, tmp)
        con.close()
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished the same build first: keep theirs
            if not target.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Store(root=target, dataset=dataset)
