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

Checks are vectorised (pandas, Arrow regexes; no Python loop over rows), so a
million persons validate in seconds. Written by hand rather than with pandera
because the contract's error format (counts, example values, one message for
all rules) and its cross-table rules (overlaps, references) are the point.
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
import pyarrow as pa
import pyarrow.compute as pc

from analysis.data.contract import ALLOWED_IDENTIFYING, ARM_PATTERN, IDENTIFYING, TABLES, Column, Table
from analysis.data.experiments_rules import check_experiments
from analysis.data.files import FileProblem, check_inside, file_sha256, read_csv, read_parquet, read_yaml
from analysis.data.problems import MAX_EXAMPLES, Problem, Problems
from analysis.errors import DataValidationError

#: Bump when the processed store's layout changes: it is part of every content hash.
STORE_VERSION = "2"


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


def _read_table(file: Path) -> tuple[pd.DataFrame, dict]:
    if file.suffix == ".csv":
        return read_csv(file), {}
    return read_parquet(file)


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


def _ascii_fullmatch(values: pd.Series, pattern: str) -> np.ndarray:
    """Rows of a string series that match ``pattern`` entirely (RE2 via Arrow: fast, ASCII classes)."""
    arr = pa.array(values.astype(object).where(values.notna(), None), type=pa.string(), from_pandas=True)
    hit = pc.match_substring_regex(arr, pattern)
    return np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)


_NAN_WORDS = ("nan", "-nan", "+nan", "na", "n/a", "null", "none", "inf", "-inf", "+inf",
              "infinity", "-infinity", "+infinity")
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATE_WITH_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]"


def _convert(frame: pd.DataFrame, col: Column, file: str, problems: Problems, nan_mask) -> pd.Series:
    raw = frame[col.name]
    missing = raw.isna().to_numpy()
    if nan_mask is not None:
        missing = missing & ~nan_mask
    textual = col.kind in ("id", "str") or (col.kind == "code" and isinstance(col.codes[0], str))
    report = dict(column=col.name, frame=frame)
    if textual:
        if col.kind == "id" and pd.api.types.is_numeric_dtype(raw) and not missing.all():
            problems.add(file, rule="string-id", message="numeric identifiers (the column is numeric)",
                         fix=f"store {col.name} as text: leading zeros matter and ids are never computed with",
                         mask=~missing, **report)
            return pd.Series([None] * len(raw), index=raw.index, dtype=object)  # unusable: no follow-up rules
        values = raw.astype("string").str.strip()
        missing = (values.isna() | (values == "")).to_numpy()
        values = values.mask(missing)
    elif col.kind == "date":
        values, missing = _convert_date(raw, missing, file, problems, report)
    else:  # int, float, numeric code
        values = pd.to_numeric(raw, errors="coerce")
        if values.dtype != np.float64:  # ints, nullable Int64/Float64 (pd.NA becomes NaN), bools
            values = values.astype("float64")
        unparsed = values.isna().to_numpy() & ~missing
        if nan_mask is not None:
            unparsed &= ~nan_mask
        if unparsed.any():
            words = raw[unparsed].astype(str).str.strip().str.lower().isin(_NAN_WORDS).to_numpy()
            nonfinite_text = np.zeros(len(raw), dtype=bool)
            nonfinite_text[np.flatnonzero(unparsed)[words]] = True
            unparsed &= ~nonfinite_text
        else:
            nonfinite_text = np.zeros(len(raw), dtype=bool)
        problems.add(file, rule="number", message="a value that is not a number",
                     fix=f"write {col.name} as a plain number with a point as decimal separator and no "
                         "thousands separator (1150.5, not 1.150,50)", mask=unparsed, **report)
        nonfinite = nonfinite_text | np.isinf(values.to_numpy())
        fix = (f"give {col.name} a real value, or leave the cell empty (a null) if the contract allows a "
               "missing value there")
        problems.add(file, rule="finite", message="a value that is not a finite number (nan, inf or a null word)",
                     fix=fix, mask=nonfinite, **report)
        if nan_mask is not None:  # pandas shows a NaN like an empty cell: name it instead of showing it
            problems.add(file, rule="finite", column=col.name, message="a NaN (not a number) value, not a null",
                         fix=fix, mask=nan_mask)
            nonfinite |= nan_mask
        values = values.where(~nonfinite)
        if col.kind == "int" or col.codes:
            frac = (values.notna() & (values != np.floor(values.fillna(0)))).to_numpy()
            problems.add(file, rule="whole-number", message="a value that is not a whole number",
                         fix=f"write {col.name} as a whole number (1980, not 1980.5)", mask=frac, **report)
            values = values.where(~frac)
    if not col.nullable:
        problems.add(file, rule="required-value", message="an empty cell",
                     fix=f"fill in {col.name} on every row: the contract requires it", column=col.name,
                     mask=missing)
    present = values.notna().to_numpy()
    if col.codes:
        bad = present & ~values.isin(col.codes).to_numpy()
        allowed = "/".join(map(str, col.codes))
        problems.add(file, rule="code", message=f"an unknown code (allowed: {allowed})",
                     fix=f"use one of {allowed} (codes are case sensitive)", mask=bad, **report)
    if col.pattern == ARM_PATTERN:
        bad = present & ~_ascii_fullmatch(values, col.pattern)
        problems.add(file, rule="name", message=f"a malformed {col.name} name (expected lowercase ASCII letters, "
                                                "digits and underscores, starting with a letter, at most 40)",
                     fix=f"name every {col.name} like `control` or `intensive_support`: the names become labels "
                         "and results names", mask=bad, **report)
    elif col.pattern:
        bad = present & ~_ascii_fullmatch(values, col.pattern)
        problems.add(file, rule="pattern", message="a malformed code (expected GM + 4 ASCII digits, e.g. GM0363)",
                     fix=f"write {col.name} as GM followed by the four-digit CBS municipality number, "
                         "in ASCII digits", mask=bad, **report)
    if col.minimum is not None:
        problems.add(file, rule="minimum", message=f"a value below {col.minimum:g}",
                     fix=f"check {col.name}: the contract allows {col.minimum:g} or more",
                     mask=present & (values < col.minimum).fillna(False).to_numpy(), **report)
    if col.maximum is not None:
        problems.add(file, rule="maximum", message=f"a value above {col.maximum:g}",
                     fix=f"check {col.name}: the contract allows at most {col.maximum:g}",
                     mask=present & (values > col.maximum).fillna(False).to_numpy(), **report)
    if textual:
        return values.astype(object).where(present, None)
    if col.kind == "int" or col.codes:
        return values.where(present).astype("Int64")
    return values


def _convert_date(raw: pd.Series, missing: np.ndarray, file: str, problems: Problems,
                  report: dict) -> tuple[pd.Series, np.ndarray]:
    """Dates as datetime64 (time zones and times of day refused), and the mask of empty cells."""
    name = report["column"]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        problems.add(file, rule="date-without-time-zone", message=f"a date with a time zone (column type {raw.dtype})",
                     fix=f"store {name} as a calendar date (Parquet date32, or a timestamp without time zone)",
                     mask=~missing, **report)
        return raw.dt.tz_localize(None).dt.normalize(), missing
    if pd.api.types.is_datetime64_any_dtype(raw):
        timed = (raw.notna() & (raw != raw.dt.normalize())).to_numpy()
        problems.add(file, rule="date-without-time", message="a date with a time of day",
                     fix=f"store {name} as a calendar date, without time of day", mask=timed, **report)
        return pd.to_datetime(raw).dt.normalize(), missing
    text = raw.astype("string").str.strip()
    missing = (text.isna() | (text == "")).to_numpy()
    shaped = _ascii_fullmatch(text, _DATE)
    values = pd.to_datetime(text.where(shaped), format="%Y-%m-%d", errors="coerce")
    bad = values.isna().to_numpy() & ~missing
    timed = np.zeros(len(raw), dtype=bool)
    if bad.any():
        timed[bad] = _ascii_fullmatch(text[bad], _DATE_WITH_TIME)
    problems.add(file, rule="date-without-time", message="a time of day or a time zone where a date is expected",
                 fix=f"write {name} as a date YYYY-MM-DD, without time or time zone", mask=timed, **report)
    problems.add(file, rule="date", message="a value that is not a date YYYY-MM-DD",
                 fix=f"write {name} as a real calendar date YYYY-MM-DD in ASCII digits (2015-03-10) between "
                     "the years 1678 and 2261, or leave it empty where the contract allows",
                 mask=bad & ~timed, **report)
    return values, missing


def _check_table(name: str, spec: Table, frame: pd.DataFrame, file: str, meta: dict,
                 problems: Problems, nan_masks: dict) -> pd.DataFrame | None:
    """The typed table, or None when it is unusable for cross-table checks (missing columns)."""
    ident = _identifying(name, frame.columns)
    if ident:  # the values are never shown
        problems.add(file, rule="no-identifying-columns", column=", ".join(ident),
                     message=f"the column(s) {', '.join(ident)} look identifying (names, addresses, "
                             "postcodes, BSN, birth dates, contact details)",
                     fix="remove them from the extract: the workbench never reads identifying data; "
                         "persons are known by a pseudonymous person_id")
    missing_cols = [c.name for c in spec.columns if c.required and c.name not in frame.columns]
    if missing_cols:
        has = ", ".join(map(str, frame.columns[:12])) + (", ..." if len(frame.columns) > 12 else "")
        problems.add(file, rule="required-columns", column=", ".join(missing_cols),
                     message=f"has no column(s) {', '.join(missing_cols)} (it has {has})",
                     fix="add or rename the columns as the data contract names them (names are case sensitive)")
        return None
    if frame.empty and spec.required:
        problems.add(file, rule="rows", message="has a header but no data rows",
                     fix=f"export {name} again: a required table with no rows is almost always a failed export")
    out = pd.DataFrame(index=frame.index)
    for col in spec.columns:
        if col.name in frame.columns:
            out[col.name] = _convert(frame, col, file, problems, nan_masks.get(col.name))
    shown = dict(frame=frame)
    if spec.unique:
        keyed = out[list(spec.unique)].notna().all(axis=1).to_numpy()  # an empty key is required-value's
        dup = out.duplicated(list(spec.unique), keep="first").to_numpy() & keyed
        problems.add(file, rule="unique", column=" + ".join(spec.unique),
                     message=f"a {' + '.join(spec.unique)} that an earlier row already has",
                     fix="keep one row per " + " + ".join(spec.unique), mask=dup, show=list(spec.unique), **shown)
    obs_end = pd.Timestamp(meta["observation_end"]) if isinstance(meta.get("observation_end"), date) else None
    for dcol in ("start_date", "date"):
        if dcol in out and obs_end is not None:
            problems.add(file, rule="within-observation", column=dcol,
                         message=f"a {dcol} after observation_end {obs_end.date()}",
                         fix="drop records that begin after the observation window, or extend "
                             "observation_end in dataset.yml", mask=(out[dcol] > obs_end).to_numpy(), **shown)
    if "start_date" in out and "end_date" in out:
        problems.add(file, rule="end-after-start", column="end_date", message="an end_date before its start_date",
                     fix="correct the dates; a one-day spell has end_date equal to start_date",
                     mask=(out["end_date"] < out["start_date"]).to_numpy(), show=["start_date", "end_date"], **shown)
        if obs_end is not None:
            problems.add(file, rule="within-observation", column="end_date",
                         message=f"an end_date after observation_end {obs_end.date()}",
                         fix="leave end_date empty for a spell still running at observation_end",
                         mask=(out["end_date"] > obs_end).to_numpy(), **shown)
    if "end_reason" in out:
        bad = (out["end_reason"].notna() & out["end_date"].isna()).to_numpy()
        problems.add(file, rule="end-reason-needs-end", column="end_reason", message="an end_reason but no end_date",
                     fix="give the end_date of the union, or leave end_reason empty while it lasts",
                     mask=bad, show=["end_date", "end_reason"], **shown)
    if spec.spell and obs_end is not None and {"start_date", "end_date"} <= set(out):
        key = list(spec.spell_key)
        problems.add(file, rule="no-overlap", column="start_date",
                     message="a spell that overlaps an earlier spell of the same person"
                             + (" and benefit" if "benefit" in spec.spell_key else ""),
                     fix="merge or correct overlapping spells (touching is fine: one may start the day after "
                         "the other ends)", mask=_overlaps(out, spec.spell_key, obs_end),
                     show=key + ["start_date", "end_date"], **shown)
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
    """Read and validate a dataset directory; raise one ``DataValidationError`` listing every problem.

    Independent problems are all reported in one pass: dataset.yml, every table file and the
    cross-table rules (references to persons and municipalities, checked on the tables that could
    be read). The error's ``problems`` attribute holds them as :class:`Problem` objects.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataValidationError(f"{path}: not a directory. Give the dataset directory (data contract). "
                                  "Nothing was written.")
    problems = Problems(path)
    meta, meta_sha = _read_meta(path, problems)
    tables, hashes, files = {}, {}, {}
    if meta_sha is not None:
        hashes["dataset.yml"] = meta_sha
    for name, spec in TABLES.items():
        file = _find_file(path, name, problems)
        if file is None:
            if spec.required and not any(p.file == f"{name}.csv" and p.rule == "one-file" for p in problems.items):
                problems.add(f"{name}.csv", rule="required-table",
                             message="is missing (neither .csv nor .parquet found)",
                             fix=f"add {name}.csv or {name}.parquet to the dataset directory")
            continue
        try:
            check_inside(file, path)
            raw, nan_masks = _read_table(file)
            hashes[file.name] = file_sha256(file)
        except FileProblem as exc:
            problems.add(file.name, rule=exc.rule, message=exc.message, fix=exc.fix)
            continue
        files[name] = file
        checked = _check_table(name, spec, raw, file.name, meta, problems, nan_masks)
        if checked is not None:
            tables[name] = checked
            if name == "experiments":
                check_experiments(checked, file.name, meta, problems)
    _check_references(tables, files, problems)
    problems.raise_if_any()
    options = {"merge_touching": bool(merge_touching)}
    if merge_touching:
        merged_counts = {}
        for name in ("benefit_spells", "employment_spells"):
            tables[name], merged_counts[name] = merge_touching_spells(tables[name], TABLES[name].spell_key)
        options["merged_touching_spells"] = merged_counts
    # dataset.yml is part of the key: observation_end decides where open spells end and which years exist
    content = json.dumps({"files": hashes, "options": {"merge_touching": bool(merge_touching)},
                          "store_version": STORE_VERSION}, sort_keys=True)
    return Dataset(path=path.resolve(), meta=meta, tables=tables, sha256=hashes,
                   content_hash=hashlib.sha256(content.encode()).hexdigest(), options=options)


def _check_references(tables: dict, files: dict, problems: Problems) -> None:
    """person_id and municipality_code must exist in persons / municipalities (when those could be read)."""
    if "persons" in tables:
        persons = pd.Index(tables["persons"]["person_id"].dropna().unique())
        for name, frame in tables.items():
            if TABLES[name].references_persons and "person_id" in frame:
                unknown = (frame["person_id"].notna() & ~frame["person_id"].isin(persons)).to_numpy()
                problems.add(files[name].name, rule="known-person", column="person_id",
                             message="a person_id that is not in persons", mask=unknown, frame=frame,
                             fix="add the person to persons or drop the rows: every table describes "
                                 "persons of the population")
    if "municipalities" in tables:
        known = pd.Index(tables["municipalities"]["municipality_code"].dropna().unique())
        for name in ("persons", "benefit_spells"):
            if name in tables:
                frame = tables[name]
                bad = (frame["municipality_code"].notna() & ~frame["municipality_code"].isin(known)).to_numpy()
                problems.add(files[name].name, rule="known-municipality", column="municipality_code",
                             message="a municipality_code that is not in municipalities", mask=bad, frame=frame,
                             fix="add the code to municipalities (or remove municipalities to skip names)")


__all__ = ["MAX_EXAMPLES", "STORE_VERSION", "Dataset", "Problem", "load_dataset", "merge_touching_spells"]
