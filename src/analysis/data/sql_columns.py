"""The contract's per-column rules as DuckDB SQL: a typed value and the rule flags of every column.

One definition serves validation (``validate_sql.py``: the flags), the lazily read frames of
``Dataset.tables`` and the store build (the typed values), so a value is typed the same way in all
three. The rules mirror the pandas loader they replace, branch for branch: what counts as missing,
which text is a number (``pd.to_numeric``'s grammar), which words are non-finite, which dates parse
(``YYYY-MM-DD`` in ASCII digits inside pandas' nanosecond range), text stripped of what Python's
``str.strip`` strips. Which branch a column takes depends on the dtype pandas gives the column of the
file (``files.parquet_columns``; every CSV column is text).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import pandas as pd

from analysis.data.contract import ARM_PATTERN, Column

ROW = "__row"
#: What ``str.strip()`` removes (Unicode whitespace), for DuckDB's ``trim(text, characters)``.
WHITESPACE = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
NAN_WORDS = ("nan", "-nan", "+nan", "na", "n/a", "null", "none", "inf", "-inf", "+inf",
             "infinity", "-infinity", "+infinity")
#: The text ``pd.to_numeric`` reads as a number (surrounding blanks allowed; no thousands separators,
#: underscores or hexadecimal).
NUMBER_RE = r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"
DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATE_WITH_TIME_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]"
#: The calendar days a pandas nanosecond timestamp holds (``pd.Timestamp.min`` is 1677-09-21 00:12).
DATE_MIN, DATE_MAX = "1677-09-22", "2262-04-11"
_NS_PER_DAY = 86_400_000_000_000


def quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


@dataclass
class Flag:
    """A rule of one column: the SQL of its offending rows and how the problem reads."""

    rule: str
    message: str
    fix: str
    sql: str
    show: bool = True  # the examples show the column's value (False: row numbers only)


@dataclass
class ColumnSQL:
    """A contract column as SQL: helper expressions over the raw column, its typed value, its rules."""

    name: str
    kind: str  # "text", "date", "int", "float"
    helpers: list = field(default_factory=list)  # (alias, expression over the raw columns)
    value: str = "NULL"  # over the raw columns and the helpers
    flags: list = field(default_factory=list)  # Flag, in the order the loader reports them
    strips: bool = False  # text that is stripped: the flagged select also says whether any value needs it

    @property
    def out_type(self) -> str:
        return {"text": "VARCHAR", "date": "DATE", "int": "BIGINT", "float": "DOUBLE"}[self.kind]


def _safe(sql: str) -> str:
    return f"COALESCE(({sql}), false)"


#: The same set as an RE2 character class (DuckDB's ``trim`` with a character set is slow: a regex
#: tests whether there is anything to strip at all, and strips only then).
_WS_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in WHITESPACE) + "]"


def strip_sql(text: str) -> str:
    """``text.strip()`` in SQL (Unicode whitespace at either end removed). Text that begins and ends
    with a printable ASCII character (almost all) is kept as it is without running the regex."""
    edges = f"^{_WS_CLASS}+|{_WS_CLASS}+$"
    return (f"CASE WHEN {text}[1] BETWEEN '!' AND '~' AND {text}[-1] BETWEEN '!' AND '~' THEN {text} "
            f"ELSE regexp_replace({text}, {lit(edges)}, '', 'g') END")


def needs_strip_sql(raw: str) -> str:
    """Whether a raw value has anything :func:`strip_sql` would strip (or is empty)."""
    text = f"CAST({raw} AS VARCHAR)"
    return (f"{raw} IS NOT NULL AND NOT ({text}[1] BETWEEN '!' AND '~' AND {text}[-1] BETWEEN '!' AND '~') "
            f"AND regexp_matches({text}, {lit(f'^{_WS_CLASS}|{_WS_CLASS}$|^$')})")


def _stripped(raw: str, strip: bool = True) -> str:
    text = f"CAST({raw} AS VARCHAR)"
    return f"NULLIF({strip_sql(text) if strip else text}, '')"


#: The dtype ``parquet_columns`` gives a Parquet date32/date64 column (pandas shows it as object).
DATE32 = "date32"


def column_sql(col: Column, dtype, *, i: int, nonnull: int | None = None, strip: bool = True) -> ColumnSQL:
    """The SQL of contract column ``col`` whose file column has pandas dtype ``dtype`` (None: text;
    :data:`DATE32`: a Parquet date column, object in pandas).

    ``i`` numbers the helper aliases; ``nonnull`` is the count of non-null values (only needed for a
    numeric ``id`` column: numeric ids are refused unless the column is empty). ``strip=False`` leaves
    text as it is (for a column known to hold nothing to strip: the queries after the first scan).
    """
    raw = quote(col.name)
    date32 = isinstance(dtype, str) and dtype == DATE32
    pandas_dtype = None if (dtype is None or date32) else dtype
    numeric_dtype = pandas_dtype is not None and pd.api.types.is_numeric_dtype(pandas_dtype)
    float_dtype = pandas_dtype is not None and pd.api.types.is_float_dtype(pandas_dtype)
    textual = col.kind in ("id", "str") or (col.kind == "code" and isinstance(col.codes[0], str))
    t, x, v = f"_t{i}", f"_x{i}", f"_v{i}"
    out = ColumnSQL(col.name, "text" if textual else "date" if col.kind == "date"
                    else "int" if (col.kind == "int" or col.codes) else "float")
    flags = out.flags
    if textual:
        if col.kind == "id" and numeric_dtype and (nonnull is None or nonnull > 0):
            flags.append(Flag("string-id", "numeric identifiers (the column is numeric)",
                              f"store {col.name} as text: leading zeros matter and ids are never computed with",
                              f"{raw} IS NOT NULL"))
            out.value = "NULL::VARCHAR"
            return out  # unusable: no follow-up rules
        if strip:  # _w: the value begins and ends with printable ASCII (nothing to strip), tested once
            text = f"CAST({raw} AS VARCHAR)"
            out.helpers.append((f"_w{i}", f"{text}[1] BETWEEN '!' AND '~' AND {text}[-1] BETWEEN '!' AND '~'"))
            edges = f"^{_WS_CLASS}+|{_WS_CLASS}+$"
            out.helpers.append((t, f"NULLIF(CASE WHEN _w{i} THEN {text} ELSE regexp_replace({text}, {lit(edges)}, "
                                   "'', 'g') END, '')"))
        else:
            out.helpers.append((t, _stripped(raw, False)))
        missing, out.value, out.strips = f"{t} IS NULL", t, strip
    elif col.kind == "date":
        missing = f"{raw} IS NULL"
        if isinstance(dtype, pd.DatetimeTZDtype):
            flags.append(Flag("date-without-time-zone", f"a date with a time zone (column type {dtype})",
                              f"store {col.name} as a calendar date (Parquet date32, or a timestamp without "
                              "time zone)", f"{raw} IS NOT NULL"))
            out.value = f"CAST(timezone({lit(str(dtype.tz))}, {raw}) AS DATE)"
        elif date32:  # its text is always YYYY-MM-DD: only pandas' range can refuse it
            out.value = f"CASE WHEN {raw} BETWEEN DATE '{DATE_MIN}' AND DATE '{DATE_MAX}' THEN {raw} END"
            flags.append(Flag("date-without-time", "a time of day or a time zone where a date is expected",
                              f"write {col.name} as a date YYYY-MM-DD, without time or time zone", "false"))
            flags.append(Flag("date", "a value that is not a date YYYY-MM-DD",
                              f"write {col.name} as a real calendar date YYYY-MM-DD in ASCII digits (2015-03-10) "
                              "between the years 1678 and 2261, or leave it empty where the contract allows",
                              f"{raw} IS NOT NULL AND NOT ({raw} BETWEEN DATE '{DATE_MIN}' AND DATE '{DATE_MAX}')"))
        elif pandas_dtype is not None and pd.api.types.is_datetime64_any_dtype(pandas_dtype):
            flags.append(Flag("date-without-time", "a date with a time of day",
                              f"store {col.name} as a calendar date, without time of day",
                              f"{raw} IS NOT NULL AND epoch_ns({raw}) % {_NS_PER_DAY} <> 0"))
            # a timestamp outside pandas' range (pyarrow refused to convert it before): a date rule
            inside = f"CAST({raw} AS DATE) BETWEEN DATE '{DATE_MIN}' AND DATE '{DATE_MAX}'"
            flags.append(Flag("date", "a value that is not a date YYYY-MM-DD",
                              f"write {col.name} as a real calendar date YYYY-MM-DD in ASCII digits (2015-03-10) "
                              "between the years 1678 and 2261, or leave it empty where the contract allows",
                              f"{raw} IS NOT NULL AND NOT ({inside})"))
            out.value = f"CASE WHEN {inside} THEN CAST({raw} AS DATE) END"
        else:
            out.helpers.append((t, _stripped(raw)))
            out.helpers.append((x, f"CASE WHEN regexp_full_match({t}, {lit(DATE_RE)}) THEN TRY_CAST({t} AS DATE) END"))
            out.value = f"CASE WHEN {x} BETWEEN DATE '{DATE_MIN}' AND DATE '{DATE_MAX}' THEN {x} END"
            missing = f"{t} IS NULL"
            bad = f"{t} IS NOT NULL AND NOT ({x} IS NOT NULL AND {x} BETWEEN DATE '{DATE_MIN}' AND DATE '{DATE_MAX}')"
            timed = f"{bad} AND regexp_matches({t}, {lit(DATE_WITH_TIME_RE)})"
            flags.append(Flag("date-without-time", "a time of day or a time zone where a date is expected",
                              f"write {col.name} as a date YYYY-MM-DD, without time or time zone", timed))
            flags.append(Flag("date", "a value that is not a date YYYY-MM-DD",
                              f"write {col.name} as a real calendar date YYYY-MM-DD in ASCII digits (2015-03-10) "
                              "between the years 1678 and 2261, or leave it empty where the contract allows",
                              f"{bad} AND NOT ({timed})"))
    else:  # int, float, numeric code
        missing = f"{raw} IS NULL"
        if numeric_dtype:
            out.helpers.append((x, f"CAST({raw} AS DOUBLE)"))
            unparsed, nonfinite = "false", f"isinf({x})"
            nan = f"isnan({x})" if float_dtype else "false"
        else:
            s = f"CAST({raw} AS VARCHAR)"
            words = f"lower({strip_sql(s)}) IN ({', '.join(map(lit, NAN_WORDS))})"
            out.helpers.append((t, words))
            out.helpers.append((x, f"CASE WHEN regexp_full_match({s}, {lit(NUMBER_RE)}) "
                                   f"THEN TRY_CAST({s} AS DOUBLE) END"))
            unparsed = f"{raw} IS NOT NULL AND {x} IS NULL AND NOT {t}"
            nonfinite, nan = f"{t} OR isinf({x})", "false"
        flags.append(Flag("number", "a value that is not a number",
                          f"write {col.name} as a plain number with a point as decimal separator and no "
                          "thousands separator (1150.5, not 1.150,50)", unparsed))
        fix = (f"give {col.name} a real value, or leave the cell empty (a null) if the contract allows a "
               "missing value there")
        flags.append(Flag("finite", "a value that is not a finite number (nan, inf or a null word)", fix, nonfinite))
        if float_dtype:  # a NaN in a Parquet float column (not a null): named, not shown
            flags.append(Flag("finite", "a NaN (not a number) value, not a null", fix, nan, show=False))
        finite = f"CASE WHEN NOT {_safe(nonfinite)} AND NOT {_safe(nan)} THEN {x} END"
        if out.kind == "int":
            out.helpers.append((v, finite))
            frac = f"{v} IS NOT NULL AND {v} <> floor({v})"
            flags.append(Flag("whole-number", "a value that is not a whole number",
                              f"write {col.name} as a whole number (1980, not 1980.5)", frac))
            out.value = f"CASE WHEN NOT {_safe(frac)} THEN {v} END"
        else:
            out.value = finite
    if not col.nullable:
        flags.append(Flag("required-value", "an empty cell",
                          f"fill in {col.name} on every row: the contract requires it", missing, show=False))
    value = out.value
    present = f"({value}) IS NOT NULL"
    if col.codes:
        allowed = "/".join(map(str, col.codes))
        codes = ", ".join(lit(c) if isinstance(c, str) else repr(float(c)) for c in col.codes)
        flags.append(Flag("code", f"an unknown code (allowed: {allowed})",
                          f"use one of {allowed} (codes are case sensitive)",
                          f"{present} AND ({value}) NOT IN ({codes})"))
    if col.pattern == ARM_PATTERN:
        flags.append(Flag("name", f"a malformed {col.name} name (expected lowercase ASCII letters, digits and "
                                  "underscores, starting with a letter, at most 40)",
                          f"name every {col.name} like `control` or `intensive_support`: the names become labels "
                          "and results names", f"{present} AND NOT regexp_full_match({value}, {lit(col.pattern)})"))
    elif col.pattern:
        flags.append(Flag("pattern", "a malformed code (expected GM + 4 ASCII digits, e.g. GM0363)",
                          f"write {col.name} as GM followed by the four-digit CBS municipality number, "
                          "in ASCII digits", f"{present} AND NOT regexp_full_match({value}, {lit(col.pattern)})"))
    if col.minimum is not None:
        flags.append(Flag("minimum", f"a value below {col.minimum:g}",
                          f"check {col.name}: the contract allows {col.minimum:g} or more",
                          f"{present} AND ({value}) < {col.minimum!r}"))
    if col.maximum is not None:
        flags.append(Flag("maximum", f"a value above {col.maximum:g}",
                          f"check {col.name}: the contract allows at most {col.maximum:g}",
                          f"{present} AND ({value}) > {col.maximum!r}"))
    return out


def typed_select(columns: list, relation: str, *, flags: bool) -> str:
    """SELECT of ``__row``, every column's typed value under its own name and (``flags``) a boolean
    ``_f<i>_<j>`` per rule, from ``relation`` (which has ``__row`` and the raw columns)."""
    helpers = [f"{expr} AS {alias}" for c in columns for alias, expr in c.helpers]
    inner = f"SELECT *{''.join(', ' + h for h in helpers)} FROM {relation}"
    outs = [f"CAST(({c.value}) AS {c.out_type}) AS {quote(c.name)}" for c in columns]
    if flags:
        outs += [f"{_safe(f.sql)} AS _f{i}_{j}" for i, c in enumerate(columns) for j, f in enumerate(c.flags)]
        outs += [f"{raw} IS NOT NULL AND NOT COALESCE(_w{i}, false) AND regexp_matches(CAST({raw} AS VARCHAR), "
                 f"{lit(f'^{_WS_CLASS}|{_WS_CLASS}$|^$')}) AS _s{i}"
                 for i, c in enumerate(columns) if c.strips for raw in [quote(c.name)]]
    return f"SELECT {ROW}, {', '.join(outs)} FROM ({inner})"


__all__ = ["DATE32", "ColumnSQL", "Flag", "ROW", "column_sql", "lit", "needs_strip_sql", "quote", "strip_sql",
           "typed_select"]
