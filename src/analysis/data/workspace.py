"""Where DuckDB works: one connection with a memory limit and a spill directory that is removed after.

Validation and the store build each open a :func:`workspace`: a DuckDB database file and its
``temp_directory`` in a fresh directory ``<root>/.tmp-build-<host>-<pid>-<random>-spill`` (the
processed root by default), ``SET memory_limit`` (:data:`DEFAULT_MEMORY_LIMIT`, or the
``RENDEERT_MEMORY_LIMIT`` environment variable, or the caller's value) and two threads. DuckDB
spills what does not fit to that directory, so the working set stays bounded whatever the
population. The directory is removed on the way out (exceptions and interrupts included), and so
are the parent directories the workspace had to create; a process killed outright leaves its
directory behind for ``store.remove_stale_builds`` (same name scheme as a store build).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import uuid
from contextlib import contextmanager
from pathlib import Path

from analysis.errors import ParameterError

TMP_PREFIX = ".tmp-build-"
THREADS = 2
DEFAULT_MEMORY_LIMIT = "2GB"
_LIMIT = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


def host() -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", socket.gethostname()).strip("-") or "dataset"
    return name[:40].replace("-", "_") or "host"


def memory_limit(value: str | None = None) -> str:
    """The DuckDB memory limit to use: ``value``, else $RENDEERT_MEMORY_LIMIT, else the default."""
    chosen = value if value is not None else os.environ.get("RENDEERT_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
    if not isinstance(chosen, str) or not _LIMIT.match(chosen.strip()):
        raise ParameterError(f"memory_limit={chosen!r} is not a memory size; give a number and a unit, "
                             "for example '2GB' or '512MB' (units KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
    return chosen.strip()


def connect(path: str, *, limit: str, spill: Path | None, see_nan: bool = True):
    import duckdb

    con = duckdb.connect(path)
    con.execute(f"SET memory_limit = '{limit}'")
    con.execute(f"SET threads = {THREADS}")
    con.execute("SET preserve_insertion_order = false")
    try:  # a terminal would show DuckDB's progress bar; in Jupyter the setting needs ipywidgets
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:
        pass
    if see_nan:
        # Parquet min/max statistics leave NaN out, and DuckDB's statistics propagation then folds isnan(x)
        # to false for a column that holds NaN (seen with DuckDB 2.0): validation must see every value. A
        # validated dataset holds no NaN, so the store build keeps the optimizer (it also marks columns
        # without nulls NOT NULL in the store's Parquet schema, as the store always had).
        con.execute("SET disabled_optimizers = 'statistics_propagation'")
    if spill is not None:
        con.execute(f"SET temp_directory = '{spill.as_posix()}'")
    return con


@contextmanager
def workspace(root: Path | None, *, limit: str | None = None, see_nan: bool = True):
    """Yield (connection, spill directory) in a fresh directory under ``root``; remove it afterwards."""
    from analysis.paths import processed_root

    root = Path(root) if root is not None else processed_root()
    limit = memory_limit(limit)
    created = [p for p in (root, *root.parents) if not p.exists()]
    spill = root / f"{TMP_PREFIX}{host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}-spill"
    con = None
    try:
        spill.mkdir(parents=True)
        con = connect((spill / "work.duckdb").as_posix(), limit=limit, spill=spill / "duckdb", see_nan=see_nan)
        yield con, spill
    finally:
        if con is not None:
            con.close()
        shutil.rmtree(spill, ignore_errors=True)
        for p in created:  # the directories made for the workspace, innermost first, if still empty
            try:
                p.rmdir()
            except OSError:
                break


__all__ = ["DEFAULT_MEMORY_LIMIT", "THREADS", "TMP_PREFIX", "connect", "host", "memory_limit", "workspace"]
