"""Every rule of the data contract as SQL in DuckDB, over the table files, with bounded memory.

``load.py`` finds the files, reads ``dataset.yml`` and calls :func:`check_tables` inside a
:func:`workspace.workspace` (memory limit, spill directory). Per table file:

- the file checks of ``files.py`` (unreadable, outside the directory, empty, not UTF-8, not comma
  separated, ragged rows, repeated columns, a corrupt Parquet footer); a CSV is then streamed into a
  Parquet file of strings in the spill directory (with its data row number), a Parquet file is read
  where it lies (``file_row_number``);
- the schema rules (identifying columns, required columns) from the header alone;
- one scan that types every contract column and flags every per-column rule
  (``sql_columns.column_sql``) into a table of the workspace database; one aggregate counts every
  flag, and a top-5 query per broken rule gives the example rows;
- the rules over rows: ``unique`` (a window), dates inside the observation window, end after start,
  an end reason only with an end date, ``no-overlap`` (a running maximum of end dates per person);
- the experiments rules (``experiments_rules.py``) on the typed experiments table, which is small.

Then the references (anti-joins on person_id and municipality_code). The example values are read
back from the file for the example rows only (row groups holding them, through pyarrow and pandas,
so a value is shown exactly as the pandas loader showed it). Messages, counts and row numbers are
those of the pandas loader this replaces (tests/data/ hold them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from analysis.data.contract import TABLES, Table
from analysis.data.files import FileProblem, csv_to_parquet, parquet_columns, show_value
from analysis.data.problems import MAX_EXAMPLES, Problem, Problems
from analysis.data.sql_columns import ROW, column_sql, lit, quote, typed_select


@dataclass(frozen=True)
class Source:
    """One table file as validated: where it is, its columns (as pandas names them) and dtypes."""

    table: str
    file: Path
    columns: tuple
    dtypes: tuple  # pandas dtype per column; None for a CSV (every column is text)
    size: int
    mtime_ns: int

    @property
    def is_csv(self) -> bool:
        return self.file.suffix == ".csv"

    def dtype(self, column: str):
        return None if self.dtypes is None else self.dtypes[self.columns.index(column)]

    def contract_columns(self) -> list:
        return [c for c in TABLES[self.table].columns if c.name in self.columns]


def describe(table: str, file: Path) -> Source:
    """The file's columns and dtypes from its header or footer (raises :class:`FileProblem`)."""
    stat = file.stat()
    if file.suffix == ".csv":
        from analysis.data.files import _check_csv_head, _open

        with _open(file) as f:
            header = _check_csv_head(f)
        # pandas names an empty header cell "Unnamed: i"; the real names come from the streamed read
        return Source(table, file, tuple(header), None, stat.st_size, stat.st_mtime_ns)
    columns, dtypes = parquet_columns(file)
    return Source(table, file, tuple(columns), tuple(dtypes[c] for c in columns), stat.st_size, stat.st_mtime_ns)


def relation(source: Source, staged: Path | None = None) -> str:
    """A FROM expression with ``__row`` (data rows from 1) and the raw columns of the table file."""
    if source.is_csv:
        if staged is None:
            raise ValueError("a CSV table is read through its staged Parquet copy")
        return f"read_parquet({lit(staged.as_posix())})"
    return (f"(SELECT *, file_row_number + 1 AS {ROW} FROM read_parquet({lit(source.file.as_posix())}, "
            "file_row_number = true))")


def stage(source: Source, spill: Path) -> tuple[Source, Path | None]:
    """For a CSV, its rows as a Parquet file of strings in ``spill`` (and the columns pandas names)."""
    if not source.is_csv:
        return source, None
    staged = spill / f"{source.table}.parquet"
    names = csv_to_parquet(source.file, staged, row_column=ROW)
    return Source(source.table, source.file, tuple(names), None, source.size, source.mtime_ns), staged


def columns_sql(con, source: Source, rel: str, *, plain: frozenset = frozenset()) -> list:
    """``column_sql`` of every contract column in the file (counting non-nulls of numeric id columns);
    the columns in ``plain`` hold no text to strip (found by the first scan), so they are not stripped."""
    out = []
    for i, col in enumerate(source.contract_columns()):
        dtype = source.dtype(col.name)
        nonnull = None
        if col.kind == "id" and dtype is not None and not isinstance(dtype, str) \
                and pd.api.types.is_numeric_dtype(dtype):
            nonnull = con.execute(f"SELECT count({quote(col.name)}) FROM {rel}").fetchone()[0]
        out.append(column_sql(col, dtype, i=i, nonnull=nonnull, strip=col.name not in plain))
    return out


class _Examples:
    """Values of example rows read back from a Parquet file (the table's or its staged CSV copy)."""

    def __init__(self, path: Path, offset_column: str | None) -> None:
        self.path, self.offset_column, self._file, self._groups = path, offset_column, None, {}

    def values(self, rows: list, columns: list) -> dict:
        import pyarrow.parquet as pq

        if self._file is None:
            self._file = pq.ParquetFile(self.path)
            starts, n = [], 0
            for g in range(self._file.metadata.num_row_groups):
                starts.append(n)
                n += self._file.metadata.row_group(g).num_rows
            self._starts = starts
        out = {}
        for row in rows:
            idx = row - 1
            g = max(i for i, s in enumerate(self._starts) if s <= idx)
            key = (g, tuple(columns))
            if key not in self._groups:
                self._groups[key] = self._file.read_row_group(g, columns=list(columns))
            one = self._groups[key].slice(idx - self._starts[g], 1)
            try:
                frame = one.to_pandas()
                out[row] = {c: frame[c].iloc[0] for c in columns}
            except Exception:  # noqa: BLE001 - a value pandas cannot hold is shown as Arrow prints it
                out[row] = {c: one.column(c)[0].as_py() for c in columns}
        return out


def _add(problems: Problems, file: str, *, rule, message, fix, column, count, rows, values) -> None:
    if not count:
        return
    shown = tuple((r, ", ".join(f"{c}={show_value(v)}" for c, v in values.get(r, {}).items())) for r in rows)
    problems.items.append(Problem(file, rule, message, fix, column, int(count), shown))


def _first_rows(con, sql: str) -> tuple[int, list]:
    """(count, first five row numbers) of a query returning ``__row`` of offending rows."""
    found = con.execute(f"SELECT {ROW}, count(*) OVER () FROM ({sql}) ORDER BY {ROW} LIMIT {MAX_EXAMPLES}").fetchall()
    return (found[0][1] if found else 0), [int(r[0]) for r in found]


def check_table(con, name: str, source: Source, rel: str, meta: dict, problems: Problems,
                examples: _Examples, rows: dict | None = None) -> str | None:
    """Check one table; returns the SQL of its typed rows (a subquery), None when it is unusable.
    ``rows`` receives the table's number of rows."""
    from analysis.data.load import _identifying

    spec: Table = TABLES[name]
    file = source.file.name
    ident = _identifying(name, source.columns)
    if ident:  # the values are never shown
        problems.add(file, rule="no-identifying-columns", column=", ".join(ident),
                     message=f"the column(s) {', '.join(ident)} look identifying (names, addresses, "
                             "postcodes, BSN, birth dates, contact details)",
                     fix="remove them from the extract: the workbench never reads identifying data; "
                         "persons are known by a pseudonymous person_id")
    missing_cols = [c.name for c in spec.columns if c.required and c.name not in source.columns]
    if missing_cols:
        has = ", ".join(map(str, source.columns[:12])) + (", ..." if len(source.columns) > 12 else "")
        problems.add(file, rule="required-columns", column=", ".join(missing_cols),
                     message=f"has no column(s) {', '.join(missing_cols)} (it has {has})",
                     fix="add or rename the columns as the data contract names them (names are case sensitive)")
        return None
    cols = columns_sql(con, source, rel)
    # nothing is materialised: each query below types the columns it needs as it scans the file
    flagged = f"({typed_select(cols, rel, flags=True)})"
    present = {c.name for c in cols}
    strips = [i for i, c in enumerate(cols) if c.strips]
    checks = []  # (rule, message, fix, column, shown columns, flag SQL over the typed table or a row query)
    for i, c in enumerate(cols):
        for j, f in enumerate(c.flags):
            checks.append((f.rule, f.message, f.fix, c.name, [c.name] if f.show else [], ("flag", f"_f{i}_{j}")))
    if spec.unique:
        keys = ", ".join(quote(k) for k in spec.unique)
        keyed = " AND ".join(f"{quote(k)} IS NOT NULL" for k in spec.unique)

        def unique_query(typed: str) -> str:
            # a hash aggregate tells whether there may be a duplicate; the exact window (a sort) runs only then
            maybe = con.execute(f"SELECT count(*) FROM (SELECT hash({keys}) AS h FROM {typed} WHERE {keyed} "
                                "GROUP BY h HAVING count(*) > 1)").fetchone()[0]
            if not maybe:
                return f"SELECT {ROW} FROM {typed} WHERE false"
            return (f"SELECT {ROW} FROM (SELECT {ROW}, {keyed} AS keyed, row_number() OVER (PARTITION BY {keys} "
                    f"ORDER BY {ROW}) AS n FROM {typed}) WHERE keyed AND n > 1")

        checks.append(("unique", f"a {' + '.join(spec.unique)} that an earlier row already has",
                       "keep one row per " + " + ".join(spec.unique), " + ".join(spec.unique), list(spec.unique),
                       ("query", unique_query)))
    obs_end = meta["observation_end"] if isinstance(meta.get("observation_end"), date) else None
    for dcol in ("start_date", "date"):
        if dcol in present and obs_end is not None:
            checks.append(("within-observation", f"a {dcol} after observation_end {obs_end}",
                           "drop records that begin after the observation window, or extend "
                           "observation_end in dataset.yml", dcol, [dcol],
                           ("flag", f"{quote(dcol)} > DATE '{obs_end}'")))
    if {"start_date", "end_date"} <= present:
        checks.append(("end-after-start", "an end_date before its start_date",
                       "correct the dates; a one-day spell has end_date equal to start_date", "end_date",
                       ["start_date", "end_date"], ("flag", "end_date < start_date")))
        if obs_end is not None:
            checks.append(("within-observation", f"an end_date after observation_end {obs_end}",
                           "leave end_date empty for a spell still running at observation_end", "end_date",
                           ["end_date"], ("flag", f"end_date > DATE '{obs_end}'")))
    if "end_reason" in present:
        checks.append(("end-reason-needs-end", "an end_reason but no end_date",
                       "give the end_date of the union, or leave end_reason empty while it lasts", "end_reason",
                       ["end_date", "end_reason"], ("flag", "end_reason IS NOT NULL AND end_date IS NULL")))
    if spec.spell and obs_end is not None and {"start_date", "end_date"} <= present:
        key = list(spec.spell_key)
        checks.append(("no-overlap", "a spell that overlaps an earlier spell of the same person"
                       + (" and benefit" if "benefit" in spec.spell_key else ""),
                       "merge or correct overlapping spells (touching is fine: one may start the day after "
                       "the other ends)", "start_date", key + ["start_date", "end_date"],
                       ("query", lambda typed: overlap_query(typed, key, obs_end))))
    # one scan counts every per-row rule, the rows, and which text columns have anything to strip
    flag_sql = [c[5][1] for c in checks if c[5][0] == "flag"]
    found = con.execute("SELECT " + "".join(f"count(*) FILTER (WHERE COALESCE(({f}), false)), " for f in flag_sql)
                        + "".join(f"bool_or(_s{i}), " for i in strips) + f"count(*) FROM {flagged}").fetchone()
    if found[-1] == 0 and spec.required:
        problems.add(file, rule="rows", message="has a header but no data rows",
                     fix=f"export {name} again: a required table with no rows is almost always a failed export")
    plain = frozenset(cols[i].name for i, strip in zip(strips, found[len(flag_sql):-1]) if not strip)
    typed = f"({typed_select(columns_sql(con, source, rel, plain=plain), rel, flags=False)})"
    if rows is not None:
        rows[name] = int(found[-1])
    counts = iter(found[:len(flag_sql)])
    for rule, message, fix, column, show, (how, sql) in checks:
        if how == "flag":
            count = next(counts)
            example_rows = [int(r[0]) for r in con.execute(
                f"SELECT {ROW} FROM {flagged} WHERE COALESCE(({sql}), false) ORDER BY {ROW} LIMIT {MAX_EXAMPLES}"
            ).fetchall()] if count else []
        else:
            count, example_rows = _first_rows(con, sql(typed))
        shown = [c for c in show if c in source.columns]
        values = examples.values(example_rows, shown) if example_rows and shown else {}
        _add(problems, file, rule=rule, message=message, fix=fix, column=column, count=count, rows=example_rows,
             values=values)
    if name == "experiments":
        from analysis.data.experiments_rules import check_experiments

        check_experiments(typed_frame(con, typed, cols), file, meta, problems)  # small: materialised
    return typed


def overlap_query(typed: str, key: list, obs_end) -> str:
    """Rows whose spell starts on or before the latest end of an earlier spell with the same key."""
    keys = ", ".join(quote(k) for k in key)
    keyed = " AND ".join(f"{quote(k)} IS NOT NULL" for k in key)
    return f"""
        SELECT {ROW} FROM (
            SELECT {ROW}, start_date, max(COALESCE(end_date, DATE '{obs_end}')) OVER (
                PARTITION BY {keys} ORDER BY start_date, COALESCE(end_date, DATE '{obs_end}'), {ROW}
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
            FROM {typed} WHERE start_date IS NOT NULL AND {keyed})
        WHERE start_date <= prev_end"""


def typed_frame(con, typed: str, cols: list) -> pd.DataFrame:
    """Typed rows (a table or subquery) as the pandas frame the loader gives (see :func:`to_pandas`)."""
    names = ", ".join(quote(c.name) for c in cols)
    return to_pandas(con.sql(f"SELECT {names} FROM {typed} ORDER BY {ROW}").to_arrow_table(), cols)


def to_pandas(table, cols: list) -> pd.DataFrame:
    """Arrow -> pandas with the loader's dtypes: text object (None when empty), whole numbers Int64,
    numbers float64, dates datetime64[ns] (NaT when empty)."""
    import pyarrow as pa

    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    data = {}
    for c in cols:
        arr = table.column(c.name)
        if c.kind == "text":
            data[c.name] = pd.Series(arr.to_pandas(), dtype=object)
        elif c.kind == "int":
            data[c.name] = pd.Series(arr.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get),
                                     dtype="Int64")
        elif c.kind == "float":
            data[c.name] = pd.Series(arr.to_numpy(zero_copy_only=False), dtype="float64")
        else:
            data[c.name] = pd.Series(arr.cast(pa.timestamp("ns")).to_pandas(), dtype="datetime64[ns]")
    frame = pd.DataFrame(data, index=pd.RangeIndex(table.num_rows))
    return frame


def check_references(con, typed: dict, sources: dict, problems: Problems) -> None:
    """person_id and municipality_code must exist in persons / municipalities (when those could be read)."""
    def unknown(name: str, column: str, ref: str, ref_column: str, rule: str, message: str, fix: str) -> None:
        t, c = typed[name], quote(column)
        known = f"known_{ref}_{ref_column}"
        con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {known} AS SELECT DISTINCT {quote(ref_column)} AS k "
                    f"FROM {typed[ref]} WHERE {quote(ref_column)} IS NOT NULL")
        query = (f"SELECT t.{ROW} FROM {t} t ANTI JOIN {known} r ON t.{c} = r.k WHERE t.{c} IS NOT NULL")
        count, rows = _first_rows(con, query)
        values = {}
        if rows:
            found = con.execute(f"SELECT {ROW}, {c} FROM {t} WHERE {ROW} IN ({', '.join(map(str, rows))})").fetchall()
            values = {int(r): {column: v} for r, v in found}
        _add(problems, sources[name].file.name, rule=rule, message=message, fix=fix, column=column, count=count,
             rows=rows, values=values)

    if "persons" in typed:
        for name in typed:
            if TABLES[name].references_persons and "person_id" in sources[name].columns:
                unknown(name, "person_id", "persons", "person_id", "known-person",
                        "a person_id that is not in persons",
                        "add the person to persons or drop the rows: every table describes persons of the population")
    if "municipalities" in typed:
        for name in ("persons", "benefit_spells"):
            if name in typed:
                unknown(name, "municipality_code", "municipalities", "municipality_code", "known-municipality",
                        "a municipality_code that is not in municipalities",
                        "add the code to municipalities (or remove municipalities to skip names)")


def touching_count(con, typed: str, key: tuple) -> int:
    """Spells that start the day after the previous spell (same key, in start order) ends: what
    ``load.merge_touching_spells`` merges."""
    keys = ", ".join(quote(k) for k in key)
    return int(con.execute(f"""
        SELECT count(*) FROM (
            SELECT start_date, lag(end_date) OVER (PARTITION BY {keys} ORDER BY start_date, {ROW}) AS prev
            FROM {typed}) WHERE start_date = prev + INTERVAL 1 DAY""").fetchone()[0])


def file_problem(problems: Problems, file: str, exc: FileProblem) -> None:
    problems.add(file, rule=exc.rule, message=exc.message, fix=exc.fix)


__all__ = ["Source", "check_references", "check_table", "describe", "relation", "stage", "to_pandas",
           "touching_count", "typed_frame"]
