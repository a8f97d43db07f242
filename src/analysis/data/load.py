"""Load a dataset directory and check every rule of the data contract.

A dataset is a directory with ``<table>.csv`` or ``<table>.parquet`` per
table plus ``dataset.yml`` (``shared/data-contract.md``). Every table is
checked before anything is computed: missing tables or columns, identifying
columns, types, unparseable dates, end before start, overlapping spells,
unknown codes, duplicates, references to unknown persons, values out of range.
All failures are collected and raised together as one ``DataValidationError``
naming table, column, rule, the number of offending rows and up to five
example rows (data rows counted from 1, the header not counted). Nothing is
repaired silently: merging touching spells is the named option
``merge_touching``, recorded in ``Dataset.options``.

Checks are vectorised pandas (no loops over rows), so a million persons
validate in seconds. Written by hand rather than with pandera because the
contract's error format (counts, example rows, one message for all rules) and
its cross-table rules (overlaps, references) are the point of the module.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from analysis.data.contract import ALLOWED_IDENTIFYING, IDENTIFYING, TABLES, Column, Table
from analysis.errors import DataValidationError

#: Bump when the processed store's layout changes: it is part of every content hash.
STORE_VERSION = "1"
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Dataset:
    """A validated dataset: its tables (typed pandas frames) and where they came from."""

    path: Path
    meta: dict
    tables: dict
    sha256: dict
    content_hash: str
    options: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.meta.get("name"))

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)


class _Problems:
    """Collects rule violations; raises them all at once."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, file: str, message: str, mask=None) -> None:
        if mask is None:
            self.lines.append(f"{file}: {message}")
            return
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        if n == 0:
            return
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(mask)[:MAX_EXAMPLES])
        noun = "row has" if n == 1 else "rows have"
        self.lines.append(f"{file}: {n} {noun} {message} (rows {rows})")

    def raise_if_any(self) -> None:
        if self.lines:
            raise DataValidationError("\n".join(self.lines) + "\nFix the extract; nothing was written.")


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_meta(path: Path, problems: _Problems) -> dict:
    meta_path = path / "dataset.yml"
    if not meta_path.is_file():
        raise DataValidationError(
            f"{path}: no dataset.yml. A dataset directory holds one file per table and a dataset.yml "
            "with name, source, observation_start and observation_end. Nothing was written."
        )
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    for key in ("name", "source", "observation_start", "observation_end"):
        if key not in meta:
            problems.add("dataset.yml", f"missing key {key!r}")
    for key in ("observation_start", "observation_end"):
        if key in meta:
            try:
                meta[key] = pd.Timestamp(str(meta[key])).date()
            except ValueError:
                problems.add("dataset.yml", f"{key} {meta[key]!r} is not a date YYYY-MM-DD")
    start, end = meta.get("observation_start"), meta.get("observation_end")
    if isinstance(start, date) and isinstance(end, date) and end <= start:
        problems.add("dataset.yml", f"observation_end {end} is not after observation_start {start}")
    return meta


def _find_file(path: Path, table: str) -> Path | None:
    csv, parquet = path / f"{table}.csv", path / f"{table}.parquet"
    if csv.is_file() and parquet.is_file():
        raise DataValidationError(
            f"{path}: both {table}.csv and {table}.parquet exist; keep one. Nothing was written."
        )
    return csv if csv.is_file() else parquet if parquet.is_file() else None


def _read_table(file: Path) -> pd.DataFrame:
    if file.suffix == ".csv":
        return pd.read_csv(file, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    return pd.read_parquet(file)


def _identifying(table: str, columns) -> list[str]:
    allowed = ALLOWED_IDENTIFYING.get(table, set())
    found = []
    for col in columns:
        low = col.lower()
        if low in allowed:
            continue
        parts = re.split(r"[_\W]+", low)
        if any(word in (low, parts[0], parts[-1]) for word in IDENTIFYING):
            found.append(col)
    return found


def _convert(frame: pd.DataFrame, col: Column, file: str, problems: _Problems) -> pd.Series:
    raw = frame[col.name]
    missing = raw.isna()
    textual = col.kind in ("id", "str") or (col.kind == "code" and isinstance(col.codes[0], str))
    if textual:
        if col.kind == "id" and pd.api.types.is_numeric_dtype(raw) and not missing.all():
            problems.add(file, f"column {col.name}: numeric identifiers; store ids as strings "
                               "(leading zeros matter)")
            return raw.astype("string")
        values = raw.astype("string").str.strip()
        missing = values.isna() | (values == "")
        values = values.mask(missing)
    elif col.kind == "date":
        if pd.api.types.is_datetime64_any_dtype(raw):
            values = pd.to_datetime(raw)
        else:
            text = raw.astype("string").str.strip()
            missing = text.isna() | (text == "")
            values = pd.to_datetime(text.mask(missing), format="%Y-%m-%d", errors="coerce")
            problems.add(file, f"an unparseable date in {col.name} (expected YYYY-MM-DD)",
                         (values.isna() & ~missing).to_numpy())
    else:  # int, float, numeric code
        values = pd.to_numeric(raw, errors="coerce")
        problems.add(file, f"a non-numeric value in {col.name}", (values.isna() & ~missing).to_numpy())
        if col.kind == "int" or col.codes:
            frac = values.notna() & (values != np.floor(values.fillna(0)))
            problems.add(file, f"a non-integer value in {col.name}", frac.to_numpy())
    if not col.nullable:
        problems.add(file, f"a missing value in required column {col.name}", missing.to_numpy())
    present = values.notna()
    if col.codes:
        bad = present & ~values.isin(col.codes)
        allowed = "/".join(map(str, col.codes))
        problems.add(file, f"an unknown code in {col.name} (allowed: {allowed})", bad.to_numpy())
    if col.pattern:
        bad = present & ~values.astype("string").str.match(col.pattern).fillna(False)
        problems.add(file, f"a malformed {col.name} (expected GM + 4 digits, e.g. GM0363)", bad.to_numpy())
    if col.minimum is not None:
        problems.add(file, f"{col.name} below {col.minimum:g}", (present & (values < col.minimum)).to_numpy())
    if col.maximum is not None:
        problems.add(file, f"{col.name} above {col.maximum:g}", (present & (values > col.maximum)).to_numpy())
    if textual:
        return values.astype(object).where(present, None)
    if col.kind == "int" or col.codes:
        return values.astype("Int64")
    return values


def _check_table(name: str, spec: Table, frame: pd.DataFrame, file: str, meta: dict,
                 problems: _Problems) -> pd.DataFrame:
    ident = _identifying(name, frame.columns)
    if ident:
        problems.add(file, f"column(s) {', '.join(ident)} look identifying (bsn, name, address, postcode); "
                           "remove them: the workbench never reads identifying data")
    missing_cols = [c.name for c in spec.columns if c.required and c.name not in frame.columns]
    if missing_cols:
        problems.add(file, f"missing required column(s) {', '.join(missing_cols)}")
        return frame
    out = pd.DataFrame(index=frame.index)
    for col in spec.columns:
        if col.name in frame.columns:
            out[col.name] = _convert(frame, col, file, problems)
    if spec.unique:
        dup = out.duplicated(list(spec.unique), keep="first")
        problems.add(file, f"a duplicate {' + '.join(spec.unique)}", dup.to_numpy())
    obs_end = pd.Timestamp(meta["observation_end"]) if isinstance(meta.get("observation_end"), date) else None
    for dcol in ("start_date", "date"):
        if dcol in out and obs_end is not None:
            problems.add(file, f"{dcol} after observation_end {obs_end.date()}", (out[dcol] > obs_end).to_numpy())
    if "start_date" in out and "end_date" in out:
        problems.add(file, "end_date before start_date", (out["end_date"] < out["start_date"]).to_numpy())
        if obs_end is not None:
            problems.add(file, f"end_date after observation_end {obs_end.date()} (leave it empty for a "
                               "spell still running)", (out["end_date"] > obs_end).to_numpy())
    if "end_reason" in out:
        bad = out["end_reason"].notna() & out["end_date"].isna()
        problems.add(file, "an end_reason but no end_date", bad.to_numpy())
    if spec.spell and obs_end is not None and {"start_date", "end_date"} <= set(out):
        problems.add(file, "overlapping spells of the same person" +
                     (" and benefit" if "benefit" in spec.spell_key else ""),
                     _overlaps(out, spec.spell_key, obs_end))
    return out


def _overlaps(frame: pd.DataFrame, key: tuple, obs_end: pd.Timestamp) -> np.ndarray:
    """Rows whose spell starts on or before the end of an earlier spell with the same key."""
    f = frame[list(key) + ["start_date", "end_date"]].copy()
    f["end_date"] = f["end_date"].fillna(obs_end)
    f["_row"] = np.arange(len(f))
    f = f.dropna(subset=["start_date"]).sort_values(list(key) + ["start_date", "end_date"], kind="mergesort")
    same = np.ones(len(f), dtype=bool)
    for k in key:
        same &= (f[k] == f[k].shift()).to_numpy()
    prev_end = f.groupby(list(key), sort=False)["end_date"].cummax().shift()
    hit = same & (f["start_date"] <= prev_end).to_numpy()
    mask = np.zeros(len(frame), dtype=bool)
    mask[f["_row"].to_numpy()[hit]] = True
    return mask


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


def load_dataset(path: str | Path, *, merge_touching: bool = False) -> Dataset:
    """Read and validate a dataset directory; raise ``DataValidationError`` listing every problem."""
    path = Path(path)
    if not path.is_dir():
        raise DataValidationError(f"{path}: not a directory. Give the dataset directory (data contract).")
    problems = _Problems()
    meta = _read_meta(path, problems)
    problems.raise_if_any()
    tables, hashes, files = {}, {}, {}
    for name, spec in TABLES.items():
        file = _find_file(path, name)
        if file is None:
            if spec.required:
                problems.add(f"{name}.csv", "required table missing (neither .csv nor .parquet found)")
            continue
        files[name] = file
        hashes[file.name] = _file_sha256(file)
        raw = _read_table(file)
        tables[name] = _check_table(name, spec, raw, file.name, meta, problems)
    problems.raise_if_any()
    persons = set(tables["persons"]["person_id"])
    for name, frame in tables.items():
        spec = TABLES[name]
        if spec.references_persons and "person_id" in frame:
            unknown = ~frame["person_id"].isin(persons)
            problems.add(files[name].name, "a person_id not in persons", unknown.to_numpy())
    if "municipalities" in tables:
        known = set(tables["municipalities"]["municipality_code"])
        for name in ("persons", "benefit_spells"):
            bad = ~tables[name]["municipality_code"].isin(known)
            problems.add(files[name].name, "a municipality_code not in municipalities", bad.to_numpy())
    problems.raise_if_any()
    options = {"merge_touching": bool(merge_touching)}
    if merge_touching:
        merged_counts = {}
        for name in ("benefit_spells", "employment_spells"):
            tables[name], merged_counts[name] = merge_touching_spells(tables[name], TABLES[name].spell_key)
        options["merged_touching_spells"] = merged_counts
    content = json.dumps({"files": hashes, "options": {"merge_touching": bool(merge_touching)},
                          "store_version": STORE_VERSION}, sort_keys=True)
    return Dataset(path=path.resolve(), meta=meta, tables=tables, sha256=hashes,
                   content_hash=hashlib.sha256(content.encode()).hexdigest(), options=options)
