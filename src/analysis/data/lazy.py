"""``Dataset.tables``: a read-only mapping of table name to typed pandas frame, read on first access.

Validation (``validate_sql.py``) does not keep any table in memory; a study that asks for
``ds.tables["persons"]`` gets the frame then, read from the validated file with the same typing
SQL the validation used (``sql_columns.py``), and cached. A table repaired by an option
(``merge_touching``) is materialised when first read (the pandas repair of ``load.py``).

The keys are the tables the dataset has, so ``"interventions" in ds.tables`` and
``ds.tables.get(...)`` read nothing. ``columns(name)`` gives a table's contract columns without
reading it. A file that changed (size or modification time) since it was validated is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.contract import TABLES
from analysis.data.validate_sql import Source, columns_sql, relation, to_pandas
from analysis.data.sql_columns import ROW, typed_select
from analysis.errors import DataValidationError


def _csv_arrow(source: Source):
    """A CSV table as an Arrow table of strings with ``__row`` (data rows from 1), streamed by chunks."""
    import numpy as np
    import pyarrow as pa

    from analysis.data.files import iter_csv

    batches, names, start = [], None, 1
    for chunk in iter_csv(source.file):
        names = [str(c) for c in chunk.columns]
        arrays = [pa.array(np.arange(start, start + len(chunk), dtype=np.int64))]
        arrays += [pa.array(chunk[c].to_numpy(dtype=object), type=pa.string(), from_pandas=True)
                   for c in chunk.columns]
        batches.append(pa.Table.from_arrays(arrays, names=[ROW, *names]))
        start += len(chunk)
    return pa.concat_tables(batches), names


def check_unchanged(source: Source) -> None:
    """Refuse a table file that is gone or changed (size or time of change) since it was validated."""
    try:
        stat = source.file.stat()
    except OSError as exc:
        raise DataValidationError(f"{source.file}: cannot be read any more ({exc.strerror or exc}); it was "
                                  "validated when the dataset was loaded. Load the dataset again.") from None
    if (stat.st_size, stat.st_mtime_ns) != (source.size, source.mtime_ns):
        raise DataValidationError(f"{source.file}: changed since the dataset was validated (size or time of "
                                  "change differ). Load the dataset again so that it is validated (and hashed) "
                                  "as it is now.")


def read_table(source: Source, *, limit: str | None = None) -> pd.DataFrame:
    """The typed frame of one validated table file (contract columns only, in contract order)."""
    from analysis.data.workspace import connect, memory_limit

    check_unchanged(source)
    con = connect(":memory:", limit=memory_limit(limit), spill=None)
    try:
        if source.is_csv:
            table, names = _csv_arrow(source)
            source = Source(source.table, source.file, tuple(names), None, source.size, source.mtime_ns)
            con.register("csv_rows", table)
            rel = "csv_rows"
        else:
            rel = relation(source)
        cols = columns_sql(con, source, rel)
        # a scan keeps the file's order (no sort, which would need memory DuckDB cannot spill here)
        con.execute("SET preserve_insertion_order = true")
        table = con.sql(typed_select(cols, rel, flags=False)).to_arrow_table()
        rows = table.column(ROW).to_numpy()
        if len(rows) and not (np.diff(rows) == 1).all():  # never seen; then sort by the row number
            table = table.take(np.argsort(rows, kind="stable"))
        frame = to_pandas(table, cols)
    finally:
        con.close()
    return frame


class LazyTables(Mapping):
    """Table name -> typed pandas frame, read from its validated file on first access and cached."""

    def __init__(self, sources: dict, *, merged: dict | None = None, limit: str | None = None,
                 rows: dict | None = None) -> None:
        self._sources = dict(sources)
        self._rows = dict(rows or {})
        self._merged = dict(merged or {})  # table -> key of the touching-spell merge applied on read
        self._limit = limit
        self._cache: dict = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._sources:
            raise KeyError(name)
        with self._lock:
            if name not in self._cache:
                frame = read_table(self._sources[name], limit=self._limit)
                if name in self._merged:
                    from analysis.data.load import merge_touching_spells

                    frame = merge_touching_spells(frame, self._merged[name])[0]
                self._cache[name] = frame
            return self._cache[name]

    def __iter__(self):
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)

    def __contains__(self, name) -> bool:
        return name in self._sources

    def source(self, name: str) -> Source:
        """Where table ``name`` comes from (file, columns, dtypes)."""
        return self._sources[name]

    def columns(self, name: str) -> list:
        """The contract columns table ``name`` has, in contract order, without reading it."""
        return [c.name for c in TABLES[name].columns if c.name in self._sources[name].columns]

    def merged(self, name: str) -> bool:
        """Whether the table is repaired on read (``merge_touching``): then it is materialised."""
        return name in self._merged

    def n_rows(self) -> dict:
        """Rows per table as validated (after the merge of touching spells), without reading any."""
        return {n: self._rows[n] if n in self._rows else len(self[n]) for n in self._sources}

    def loaded(self) -> list:
        return [n for n in self._sources if n in self._cache]

    def files(self) -> dict:
        return {n: Path(s.file) for n, s in self._sources.items()}

    def __repr__(self) -> str:
        return f"LazyTables({', '.join(self._sources)}; read: {', '.join(self.loaded()) or 'none'})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, LazyTables):
            return NotImplemented
        return self._sources == other._sources and self._merged == other._merged

    __hash__ = None

    def __getstate__(self) -> dict:  # pickled (to a worker) without the frames read so far
        return {"sources": self._sources, "merged": self._merged, "limit": self._limit, "rows": self._rows}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["sources"], merged=state["merged"], limit=state["limit"], rows=state["rows"])


__all__ = ["LazyTables", "read_table"]
