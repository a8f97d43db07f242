"""Load a dataset directory and check every rule of the data contract.

A dataset is a directory with ``<table>.csv`` or ``<table>.parquet`` per
table plus ``dataset.yml`` (``shared/data-contract.md``). Every table is
checked before anything is computed: files that cannot be read safely
(``files.py``: unreadable, a symbolic link out of the directory, empty, not
UTF-8, not comma separated, a truncated Parquet file, malformed or tagged
YAML), missing tables or columns, identifying columns (Dutch and English
names, any case), types (whole numbers, finite numbers: no ``inf``/``nan``),
dates (``YYYY-MM-DD`` in ASCII digits, no time of day, no time zone), codes
(municipalities ``GM`` + 4 ASCII digits), end before start, overlapping spells,
duplicates, references to unknown persons or municipalities, values out of range.

All independent failures are collected over every file and raised together as
one ``DataValidationError`` (``problems.py``): each names the file, the column,
the rule, the number of offending rows, up to five example rows (data rows
counted from 1, the header not counted) with their values, and how to fix it.
The values of identifying columns are never shown. Nothing is repaired
silently: merging touching spells is the named option ``merge_touching``,
recorded in ``Dataset.options``.

``Dataset.content_hash`` keys the processed store; it covers every table file
and ``dataset.yml`` (its ``observation_end`` decides where open spells end).

The rules run as SQL in DuckDB over the table files (``validate_sql.py``, the
per-column SQL in ``sql_columns.py``), with a memory limit and a spill directory
that is removed afterwards (``workspace.py``), so memory does not grow with the
population. No table is kept: ``Dataset.tables`` is a read-only mapping that reads
a table, typed, when it is first asked for (``lazy.py``). Written by hand rather
than with pandera because the contract's error format (counts, example values,
one message for all rules) and its cross-table rules (overlaps, references) are
the point.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.contract import ALLOWED_IDENTIFYING, IDENTIFYING, TABLES
from analysis.data.files import FileProblem, check_inside, file_sha256, read_yaml
from analysis.data.problems import MAX_EXAMPLES, Problem, Problems
from analysis.errors import DataValidationError

#: Bump when the processed store's layout changes: it is part of every content hash.
STORE_VERSION = "2"


@dataclass(frozen=True)
class Dataset:
    """A validated dataset: its tables (typed pandas frames, read on first access) and where they came from.

    ``tables`` is a read-only mapping (:class:`analysis.data.lazy.LazyTables`): the keys are the tables
    the dataset has; a frame is read from its validated file when first asked for, then cached.
    """

    path: Path
    meta: dict
    tables: Mapping
    sha256: dict
    content_hash: str
    options: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.meta.get("name"))

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    def n_rows(self) -> dict:
        """Rows per table (after the repairs applied), without reading any table."""
        rows = getattr(self.tables, "n_rows", None)
        return rows() if rows is not None else {n: len(f) for n, f in self.tables.items()}


#: Observation windows of register data fall inside these dates (pandas dates end in 2262).
META_DATE_RANGE = (date(1900, 1, 1), date(2100, 12, 31))


def _read_meta(path: Path, problems: Problems) -> tuple[dict, str | None]:
    """dataset.yml as a dict with dates parsed (empty on failure) and its sha256 (None when unreadable)."""
    meta_path = path / "dataset.yml"
    if not (meta_path.is_file() or meta_path.is_symlink()):
        raise DataValidationError(
            f"{path}: no dataset.yml. A dataset directory holds one file per table and a dataset.yml "
            "with name, source, observation_start and observation_end (see docs/data-contract). "
            "Nothing was written."
        )
    try:
        check_inside(meta_path, path)
        meta = read_yaml(meta_path)
        digest = file_sha256(meta_path)
    except FileProblem as exc:
        problems.add("dataset.yml", rule=exc.rule, message=exc.message, fix=exc.fix)
        return {}, None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        problems.add("dataset.yml", rule="yaml-mapping",
                     message=f"holds a {type(meta).__name__}, not a mapping of keys to values",
                     fix="write one `key: value` per line: name, source, observation_start, observation_end")
        return {}, digest
    for key in ("name", "source", "observation_start", "observation_end"):
        if key not in meta:
            problems.add("dataset.yml", rule="meta-key", message=f"has no key {key!r}",
                         fix=f"add a line `{key}: ...` (see the data contract)")
    for key in ("name", "source"):
        if key in meta and not isinstance(meta[key], (str, int, float)):
            problems.add("dataset.yml", rule="meta-text",
                         message=f"{key} is a {type(meta[key]).__name__}, not a text",
                         fix=f"write {key} as one line of text (quote it if it holds ': ' or '#')")
    for key in ("observation_start", "observation_end"):  # text: the strict YAML reader keeps dates as text
        if key not in meta:
            continue
        value, parsed = meta[key], None
        if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value, flags=re.ASCII):
            try:
                parsed = date.fromisoformat(value)
            except ValueError:
                pass
        if parsed is None or not META_DATE_RANGE[0] <= parsed <= META_DATE_RANGE[1]:
            problems.add("dataset.yml", rule="meta-date",
                         message=f"{key} {value!r} is not a date YYYY-MM-DD between {META_DATE_RANGE[0]} "
                                 f"and {META_DATE_RANGE[1]}",
                         fix=f"write {key} as a real calendar date YYYY-MM-DD, for example 2023-12-31, "
                             "without time or time zone")
            parsed = None
        meta[key] = parsed
    start, end = meta.get("observation_start"), meta.get("observation_end")
    if isinstance(start, date) and isinstance(end, date) and end <= start:
        problems.add("dataset.yml", rule="meta-order",
                     message=f"observation_end {end} is not after observation_start {start}",
                     fix="give the first and the last day the spell tables cover, in that order")
    return meta, digest


def _find_file(path: Path, table: str, problems: Problems) -> Path | None:
    csv, parquet = path / f"{table}.csv", path / f"{table}.parquet"
    present = [p for p in (csv, parquet) if p.is_file() or p.is_symlink()]
    if len(present) == 2:
        problems.add(f"{table}.csv", rule="one-file", message=f"both {table}.csv and {table}.parquet exist",
                     fix="keep one of them: the loader will not guess which is current")
        return None
    return present[0] if present else None


def _words(column: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(column))
    return [w for w in re.split(r"[^0-9a-z]+", spaced.lower()) if w]


#: Short identifying words matched only as whole words (``zip``), not inside others (``zipper``).
_COMPOUND_MIN = 5
_COMPOUND_SHORT = {"bsn", "naam", "name", "adres"}


def _identifying(table: str, columns) -> list[str]:
    allowed = ALLOWED_IDENTIFYING.get(table, set())
    found = []
    for col in columns:
        if str(col).lower() in allowed:
            continue
        words = _words(col)
        compact = "".join(words)
        for word in IDENTIFYING:
            compound = len(word) >= _COMPOUND_MIN or word in _COMPOUND_SHORT
            if word in words or compact == word or (
                    compound and (compact.startswith(word) or compact.endswith(word))):
                found.append(str(col))
                break
    return found


def merge_touching_spells(frame: pd.DataFrame, key: tuple) -> tuple[pd.DataFrame, int]:
    """Merge spells of the same key where one starts the day after the other ends; returns (frame, merged)."""
    f = frame.sort_values(list(key) + ["start_date"], kind="mergesort").reset_index(drop=True)
    same = np.ones(len(f), dtype=bool)
    for k in key:
        same &= (f[k] == f[k].shift()).to_numpy()
    touches = same & (f["start_date"] == f["end_date"].shift() + pd.Timedelta(days=1)).to_numpy()
    group = np.cumsum(~touches)
    agg = {c: "first" for c in f.columns if c not in ("end_date",)}
    agg["end_date"] = "last"
    merged = f.groupby(group, sort=False).agg(agg)[list(f.columns)].reset_index(drop=True)
    return merged, int(touches.sum())


def load_dataset(path: str | Path, *, merge_touching: bool = False, memory_limit: str | None = None,
                 work_dir: str | Path | None = None) -> Dataset:
    """Read and validate a dataset directory; raise one ``DataValidationError`` listing every problem.

    Independent problems are all reported in one pass: dataset.yml, every table file and the
    cross-table rules (references to persons and municipalities, checked on the tables that could
    be read). The error's ``problems`` attribute holds them as :class:`Problem` objects.

    The rules run as SQL in DuckDB over the files (``validate_sql.py``), with ``memory_limit``
    (default ``"2GB"`` or $RENDEERT_MEMORY_LIMIT) and a spill directory under ``work_dir`` (default
    the processed root) that is removed afterwards; no table is held in memory. ``Dataset.tables``
    reads a table when it is first asked for.
    """
    from analysis.data import validate_sql as v
    from analysis.data.lazy import LazyTables
    from analysis.data.workspace import memory_limit as check_limit
    from analysis.data.workspace import workspace

    import duckdb

    limit = check_limit(memory_limit)
    path = Path(path)
    if not path.is_dir():
        raise DataValidationError(f"{path}: not a directory. Give the dataset directory (data contract). "
                                  "Nothing was written.")
    problems = Problems(path)
    meta, meta_sha = _read_meta(path, problems)
    hashes, sources, typed, n_rows = {}, {}, {}, {}
    if meta_sha is not None:
        hashes["dataset.yml"] = meta_sha
    merged_counts = {}
    with workspace(work_dir, limit=limit) as (con, spill):
        for name, spec in TABLES.items():
            file = _find_file(path, name, problems)
            if file is None:
                if spec.required and not any(p.file == f"{name}.csv" and p.rule == "one-file"
                                             for p in problems.items):
                    problems.add(f"{name}.csv", rule="required-table",
                                 message="is missing (neither .csv nor .parquet found)",
                                 fix=f"add {name}.csv or {name}.parquet to the dataset directory")
                continue
            try:
                check_inside(file, path)
                digest = file_sha256(file)
                source, staged = v.stage(v.describe(name, file), spill)
                hashes[file.name] = digest
            except FileProblem as exc:
                v.file_problem(problems, file.name, exc)
                continue
            try:
                table = v.check_table(con, name, source, v.relation(source, staged), meta, problems,
                                      v._Examples(staged or file, None), rows=n_rows)
            except duckdb.ConversionException as exc:  # e.g. a timestamp outside pandas' range
                v.file_problem(problems, file.name, FileProblem(
                    "parquet", f"holds values pandas cannot represent ({exc})",
                    "store dates as date32 or timestamps without time zone, numbers as int or float"))
                continue
            except duckdb.Error as exc:  # a data page the footer promised cannot be read
                v.file_problem(problems, file.name, FileProblem(
                    "parquet", f"is not a readable Parquet file, probably truncated or corrupt ({exc})",
                    "write or copy the file again and compare its size with the original"))
                continue
            sources[name] = source
            if table is not None:
                typed[name] = table
        v.check_references(con, typed, sources, problems)
        problems.raise_if_any()
        if merge_touching:
            for name in ("benefit_spells", "employment_spells"):
                merged_counts[name] = v.touching_count(con, typed[name], TABLES[name].spell_key)
    options = {"merge_touching": bool(merge_touching)}
    merged = {}
    if merge_touching:
        merged = {name: TABLES[name].spell_key for name in merged_counts}
        options["merged_touching_spells"] = merged_counts
    # dataset.yml is part of the key: observation_end decides where open spells end and which years exist
    content = json.dumps({"files": hashes, "options": {"merge_touching": bool(merge_touching)},
                          "store_version": STORE_VERSION}, sort_keys=True)
    tables = LazyTables({n: sources[n] for n in typed}, merged=merged, limit=limit,
                        rows={n: n_rows[n] - merged_counts.get(n, 0) for n in typed})
    return Dataset(path=path.resolve(), meta=meta, tables=tables, sha256=hashes,
                   content_hash=hashlib.sha256(content.encode()).hexdigest(), options=options)


__all__ = ["MAX_EXAMPLES", "STORE_VERSION", "Dataset", "Problem", "load_dataset", "merge_touching_spells"]
