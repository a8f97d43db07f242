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

Above :data:`PERSON_BLOCK` persons, ``person_year`` and ``person_month`` are built per range of person
ids (:func:`_build_in_blocks`): their inputs are split once into the ranges, and each range's rows are
computed, sorted and appended to the table's one Parquet file. This path is exact: every row depends on
one person only and the ranges follow each other in id order, so the tables are the one-piece build's,
row for row and with its Parquet schema; the time grows linearly with the population and the memory
with the block size only.

The store directory is keyed by the dataset's content hash, which covers every table file
*and* ``dataset.yml`` (``observation_end`` decides where open spells end and which years the
grids hold), the merge option and the store layout version. It is written atomically: into a
temporary directory ``<root>/.tmp-build-<host>-<pid>-<random>``, which is removed on any
exception (interrupts included) and renamed into place at the end. A build killed outright
(SIGKILL, power loss) cannot clean up after itself, so every call of ``build_store`` first removes
the temporary directories of builds whose process is gone (same host, pid no longer running) or that are
older than :data:`STALE_AFTER_S`.

The last file written into a store is ``store.json``: the size and sha256 of every table.
Before a store is reused it is verified against it (``verify="quick"``: every file present with
its recorded size and a readable Parquet footer; ``verify="full"``: also every sha256), and a
store that fails (a truncated or missing file, no manifest because the build never finished) is
moved aside, deleted and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from analysis.data.load import STORE_VERSION, Dataset
from analysis.data.sql_columns import ROW, lit, typed_select
from analysis.data.workspace import TMP_PREFIX, host, workspace
from analysis.errors import check_choice

log = logging.getLogger(__name__)

MANIFEST = "store.json"
#: A temporary build directory this old is stale whatever its pid says (another host, a reused pid).
STALE_AFTER_S = 24 * 3600
VERIFY = ("quick", "full")
#: person_year and person_month are built for this many persons at a time (a range of person ids: their
#: year and month grids and joins are what needs memory), so their build stays within the memory limit
#: and its time grows linearly with the population.
PERSON_BLOCK = 250_000
#: Person ids sampled per block to choose the ranges' bounds.
SAMPLE_PER_BLOCK = 64

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
        """A DuckDB connection with one view per store table, under the dataset's memory limit (the one
        ``load_dataset`` was given, else $RENDEERT_MEMORY_LIMIT or 2GB): a study's queries work in a
        bounded amount of memory whatever the population, spilling to disk beyond it."""
        from analysis.data.workspace import memory_limit

        con = duckdb.connect()
        con.execute(f"SET memory_limit = '{memory_limit(getattr(self.dataset.tables, '_limit', None))}'")
        con.execute("SET threads = 2")
        for t in TABLES:
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{self.path(t).as_posix()}')")
        return con


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "dataset"


def _month(col: str) -> str:
    return f"(year({col}) * 12 + month({col}) - 1)"


def _raw_views(con: duckdb.DuckDBPyConnection, ds: Dataset, spill: Path) -> dict:
    """A view ``raw_<table>`` per dataset table, typed as ``Dataset.tables`` types it, read from the
    validated file by DuckDB (a CSV is first streamed into a Parquet copy in ``spill``); a table repaired
    on load (``merge_touching``) is registered as its repaired frame. Returns {table: its columns}."""
    from analysis.data.lazy import LazyTables
    from analysis.data.validate_sql import columns_sql, relation, stage

    columns = {}
    for name in ds.tables:
        lazy = isinstance(ds.tables, LazyTables)
        if not lazy or ds.tables.merged(name):
            frame = ds.tables[name]
            con.register(f"frame_{name}", frame.assign(**{ROW: range(1, len(frame) + 1)}))
            con.execute(f"CREATE VIEW raw_{name} AS SELECT * FROM frame_{name}")
            columns[name] = [str(c) for c in frame.columns]
            continue
        source, staged = stage(ds.tables.source(name), spill)
        rel = relation(source, staged)
        cols = columns_sql(con, source, rel)
        con.execute(f"CREATE VIEW raw_{name} AS {typed_select(cols, rel, flags=False)}")
        columns[name] = [c.name for c in cols]
    return columns


def _person_year_sql(has_health: bool) -> str:
    """person_year of the persons in ``in_persons`` from the ``in_*`` relations (without ORDER BY)."""
    return f"""
        WITH grid AS (SELECT p.person_id, y.year, y.year - p.birth_year AS age, p.sex, p.municipality_code
                      FROM in_persons p CROSS JOIN years y),
        bm AS (SELECT b.person_id, y.year,
                      sum(LEAST(b.end_month, y.year * 12 + 11) - GREATEST(b.start_month, y.year * 12) + 1) AS months
               FROM in_bs b JOIN years y ON b.start_month <= y.year * 12 + 11 AND b.end_month >= y.year * 12
               GROUP BY ALL),
        em AS (SELECT e.person_id, y.year,
                      least(12, sum(LEAST(e.em, y.year * 12 + 11) - GREATEST(e.sm, y.year * 12) + 1)) AS months
               FROM in_emp e JOIN years y ON e.sm <= y.year * 12 + 11 AND e.em >= y.year * 12
               GROUP BY ALL),
        dec AS (SELECT DISTINCT b.person_id, y.year FROM in_bs b JOIN years y
                ON b.start_date <= make_date(y.year, 12, 31) AND b.end_date >= make_date(y.year, 12, 31))
        SELECT g.*, (dec.person_id IS NOT NULL)::TINYINT AS bijstand_dec31,
               COALESCE(bm.months, 0)::SMALLINT AS bijstand_months, COALESCE(em.months, 0)::SMALLINT AS employed_months,
               h.healthcare_costs_eur, h.mental_healthcare_costs_eur, h.gp_costs_eur,
               h.antidepressants::TINYINT AS antidepressants
        FROM grid g
        LEFT JOIN dec USING (person_id, year) LEFT JOIN bm USING (person_id, year) LEFT JOIN em USING (person_id, year)
        {'LEFT JOIN in_health h USING (person_id, year)' if has_health else 'LEFT JOIN (SELECT NULL AS person_id) h ON FALSE'}"""


def _person_month_sql(m0: int, m1: int, end) -> str:
    """person_month of the recipients in ``in_bs`` from the ``in_*`` relations (without ORDER BY)."""
    return f"""
        WITH rec AS (SELECT person_id, GREATEST(min(start_month), {m0}) AS first_m,
                            LEAST(max(end_month), {m1}) AS last_m
                     FROM in_bs WHERE end_month >= {m0} GROUP BY person_id),
        grid AS (SELECT person_id, unnest(range(first_m, last_m + 1)) AS month FROM rec),
        b AS (SELECT DISTINCT person_id, unnest(range(start_month, end_month + 1)) AS month FROM in_bs
              WHERE person_id IN (SELECT person_id FROM rec)),
        e AS (SELECT DISTINCT person_id, unnest(range(sm, em + 1)) AS month FROM in_emp
              WHERE person_id IN (SELECT person_id FROM rec)),
        o AS (SELECT DISTINCT person_id, unnest(range({_month('start_date::DATE')},
                     {_month(f"COALESCE(end_date::DATE, DATE '{end}')")} + 1)) AS month
              FROM in_other WHERE person_id IN (SELECT person_id FROM rec)),
        pt AS (SELECT DISTINCT person_id, unnest(range({_month('start_date::DATE')},
                      {_month(f"COALESCE(end_date::DATE, DATE '{end}')")} + 1)) AS month
               FROM in_partners WHERE person_id IN (SELECT person_id FROM rec))
        SELECT g.person_id, g.month::INTEGER AS month,
               (b.person_id IS NOT NULL)::TINYINT AS bijstand, (o.person_id IS NOT NULL)::TINYINT AS other_benefit,
               (e.person_id IS NOT NULL)::TINYINT AS employed, (pt.person_id IS NOT NULL)::TINYINT AS partnered,
               p.municipality_code
        FROM grid g JOIN in_persons p USING (person_id)
        LEFT JOIN b USING (person_id, month) LEFT JOIN e USING (person_id, month)
        LEFT JOIN o USING (person_id, month) LEFT JOIN pt USING (person_id, month)"""


#: The columns the one-piece COPY writes NOT NULL (DuckDB proves them from its statistics); the blocks'
#: Parquet writer is given the same schema.
_NOT_NULL = {"person_year": ("year",), "person_month": ("person_id",)}


def _cuts(con, n_persons: int) -> list[str]:
    """Person ids that cut the persons into ranges of about :data:`PERSON_BLOCK` (none: one block).

    Chosen from a sample of person ids: the blocks' sizes vary a little, their rows never depend on them."""
    blocks = -(-n_persons // PERSON_BLOCK)
    if blocks <= 1:
        return []
    sample = min(n_persons, blocks * SAMPLE_PER_BLOCK)
    ids = sorted({r[0] for r in con.execute(
        f"SELECT person_id FROM raw_persons USING SAMPLE reservoir({sample} ROWS) REPEATABLE (18)").fetchall()
        if r[0] is not None})
    return sorted({ids[len(ids) * k // blocks] for k in range(1, blocks)})


def _block_of(cuts: list[str], lo: int = 0) -> str:
    """SQL of the block number of ``person_id`` (how many cuts are at or below it), a binary search."""
    if not cuts:
        return str(lo)
    mid = len(cuts) // 2
    return (f"CASE WHEN person_id < {lit(cuts[mid])} THEN {_block_of(cuts[:mid], lo)} "
            f"ELSE {_block_of(cuts[mid + 1:], lo + mid + 1)} END")


def _build_in_blocks(con, inputs: dict, cuts: list[str], work: Path, out: Path, *, has_health: bool,
                     m0: int, m1: int, end) -> None:
    """person_year and person_month block by block: each input is split once into person_id ranges (one
    pass, a Parquet file per range), then each range's rows are computed, sorted and appended. Every row
    depends on one person only and the ranges follow each other in id order, so both tables are the
    ones the one-piece build writes, row for row; time grows linearly with the persons and memory with
    the block size only."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    block = _block_of(cuts)
    work.mkdir(parents=True, exist_ok=True)
    for name, sql in inputs.items():
        con.execute(f"COPY (SELECT *, {block} AS blk FROM ({sql})) TO {lit((work / name).as_posix())} "
                    "(FORMAT parquet, PARTITION_BY (blk))")
    queries = {"person_year": _person_year_sql(has_health) + " ORDER BY person_id, year",
               "person_month": _person_month_sql(m0, m1, end) + " ORDER BY g.person_id, g.month"}
    writers = {}
    con.execute("SET preserve_insertion_order = true")  # else the streamed rows of an ORDER BY come unordered
    try:
        for k in range(len(cuts) + 1):
            for name, sql in inputs.items():
                part = work / name / f"blk={k}"
                src = (f"read_parquet({lit((part / '*.parquet').as_posix())}, hive_partitioning = false)"
                       if part.is_dir() else f"({sql} LIMIT 0)")
                con.execute(f"CREATE OR REPLACE TEMP VIEW in_{name} AS SELECT * FROM {src}")
            for table, sql in queries.items():
                reader = con.sql(sql).to_arrow_reader(1 << 17)
                if table not in writers:
                    schema = pa.schema([f.with_nullable(f.name not in _NOT_NULL[table]) for f in reader.schema])
                    writers[table] = pq.ParquetWriter(out / f"{table}.parquet", schema)
                for batch in reader:
                    writers[table].write_batch(batch.cast(writers[table].schema))
    finally:
        con.execute("SET preserve_insertion_order = false")
        for w in writers.values():
            w.close()
    shutil.rmtree(work, ignore_errors=True)


def _build(con: duckdb.DuckDBPyConnection, ds: Dataset, out: Path) -> None:
    start, end = ds.meta["observation_start"], ds.meta["observation_end"]
    m0, m1 = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    spill = Path(con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]).parent
    columns = _raw_views(con, ds, spill)

    def write(table: str, sql: str) -> None:
        t0 = time.perf_counter()
        con.execute(f"COPY ({sql}) TO '{(out / (table + '.parquet')).as_posix()}' (FORMAT parquet)")
        log.info("store table %s written in %.1f s", table, time.perf_counter() - t0)

    write("persons", f"SELECT * EXCLUDE ({ROW}) FROM raw_persons ORDER BY {ROW}")
    con.execute(f"""
        CREATE TEMP TABLE bij AS
        SELECT person_id, start_date::DATE AS start_date,
               COALESCE(end_date::DATE, DATE '{end}') AS end_date, end_date IS NULL AS open,
               municipality_code, {'monthly_amount_eur' if 'monthly_amount_eur' in columns['benefit_spells'] else 'NULL::DOUBLE AS monthly_amount_eur'}
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
    inputs = {  # what person_year and person_month read, each a relation with person_id
        "persons": "SELECT person_id, birth_year, sex, municipality_code FROM raw_persons",
        "bs": "SELECT person_id, start_date, end_date, start_month, end_month FROM bs",
        "emp": "SELECT person_id, sm, em FROM emp",
        "other": "SELECT person_id, start_date, end_date FROM raw_benefit_spells WHERE benefit <> 'bijstand'",
        "partners": "SELECT person_id, start_date, end_date FROM raw_partnerships"}
    if has_health:
        inputs["health"] = f"SELECT * EXCLUDE ({ROW}) FROM raw_health_yearly"
    n_persons = con.execute("SELECT count(*) FROM raw_persons").fetchall()[0][0]
    cuts = _cuts(con, n_persons)
    t0 = time.perf_counter()
    if not cuts:
        for name, sql in inputs.items():
            con.execute(f"CREATE TEMP VIEW in_{name} AS {sql}")
        write("person_year", _person_year_sql(has_health) + " ORDER BY person_id, year")
        write("person_month", _person_month_sql(m0, m1, end) + " ORDER BY g.person_id, g.month")
    else:
        _build_in_blocks(con, inputs, cuts, spill / "blocks", out, has_health=has_health, m0=m0, m1=m1, end=end)
    log.info("person_year and person_month in %d block(s) in %.1f s", len(cuts) + 1, time.perf_counter() - t0)
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


_host = host


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but not ours, or cannot tell: leave it
    return True


def remove_stale_builds(root: Path, *, now: float | None = None) -> list[Path]:
    """Delete temporary build directories under ``root`` whose build is dead; return them."""
    removed = []
    if not root.is_dir():
        return removed
    now = time.time() if now is None else now
    for tmp in root.glob(TMP_PREFIX + "*"):
        parts = tmp.name[len(TMP_PREFIX):].split("-")
        try:
            host, pid = parts[0], int(parts[1])
            age = now - tmp.stat().st_mtime
        except (IndexError, ValueError, OSError):
            continue
        if (host == _host() and not _alive(pid)) or age > STALE_AFTER_S:
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_manifest(out: Path, dataset: Dataset) -> None:
    tables = {t: {"bytes": (out / f"{t}.parquet").stat().st_size, "sha256": _sha256(out / f"{t}.parquet")}
              for t in TABLES}
    manifest = {"store_version": STORE_VERSION, "content_hash": dataset.content_hash,
                "dataset_files": dataset.sha256, "tables": tables}
    with open(out / MANIFEST, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())


def verify_store(path: Path, *, verify: str = "quick") -> str | None:
    """Why the store at ``path`` cannot be reused (None when it is sound).

    ``quick``: manifest present, every table present with its recorded size and a readable Parquet
    footer. ``full``: also the sha256 of every table.
    """
    import pyarrow.parquet as pq

    check_choice("verify", verify, VERIFY)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        recorded = manifest["tables"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{MANIFEST} is missing or unreadable (the build did not finish)"
    for t in TABLES:
        file = path / f"{t}.parquet"
        entry = recorded.get(t) if isinstance(recorded, dict) else None
        if entry is None:
            return f"{MANIFEST} does not list {file.name}"
        try:
            size = file.stat().st_size
        except OSError:
            return f"{file.name} is missing"
        if size != entry.get("bytes"):
            return f"{file.name} has {size} bytes, the manifest says {entry.get('bytes')} (truncated or replaced)"
        try:
            pq.read_metadata(file)
        except Exception as exc:  # noqa: BLE001 - any failure to read the footer means: rebuild
            return f"{file.name} is not a readable Parquet file ({exc})"
        if verify == "full" and _sha256(file) != entry.get("sha256"):
            return f"{file.name} does not match its sha256 in the manifest"
    return None


def build_store(dataset: Dataset, *, root: str | Path = "data/processed", verify: str = "quick",
                memory_limit: str | None = None) -> Store:
    """Build (or reuse, after verifying it) the processed store of ``dataset`` under ``root``.

    ``verify`` is how a store found on disk is checked before reuse: ``"quick"`` (sizes and
    Parquet footers against ``store.json``) or ``"full"`` (also every file's sha256).
    DuckDB reads the validated table files itself, within ``memory_limit`` (default ``"2GB"`` or
    $RENDEERT_MEMORY_LIMIT), spilling to a directory under ``root`` that is removed afterwards.
    """
    from analysis.data.workspace import memory_limit as check_limit

    check_choice("verify", verify, VERIFY)
    memory_limit = check_limit(memory_limit)
    root = Path(root)
    base = root / _slug(dataset.name)
    target = base / dataset.content_hash[:16]
    remove_stale_builds(root)
    if target.is_dir():
        reason = verify_store(target, verify=verify)
        if reason is None:
            return Store(root=target, dataset=dataset)
        log.warning("processed store %s is damaged (%s); rebuilding it", target, reason)
        aside = root / f"{TMP_PREFIX}{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}-damaged"
        try:
            os.replace(target, aside)
        except FileNotFoundError:  # another process moved it first
            pass
        shutil.rmtree(aside, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f"{TMP_PREFIX}{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        with workspace(root, limit=memory_limit, see_nan=False) as (con, _spill):
            _build(con, dataset, tmp)
        _write_manifest(tmp, dataset)  # last: a store without it is unfinished
        base.mkdir(parents=True, exist_ok=True)
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
