"""Reading the files of a dataset directory without trusting them.

Every file of a dataset is read through :func:`open_binary` (the one place that opens a file,
so a test can make it fail), and every way a file can be unusable becomes a :class:`FileProblem`
naming the rule and how to fix it, never a traceback: a file that cannot be opened, a symbolic
link that leads out of the dataset directory, an empty file, a CSV that is not UTF-8 (the line
and byte are named), is not comma separated or repeats a column, a Parquet file that is
truncated or corrupt, a YAML file that is malformed, holds a tag (``!!python/object/...``: YAML
is read with ``yaml.safe_load`` rules and every explicit tag is refused) or repeats a key.

Values are not checked here; ``load.py`` checks them against the contract.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import yaml

_CHUNK = 1 << 20
_MAX_TEXT = 120


class FileProblem(Exception):
    """A file of the dataset cannot be used; ``rule`` names the broken rule, ``fix`` the remedy."""

    def __init__(self, rule: str, message: str, fix: str) -> None:
        super().__init__(message)
        self.rule, self.message, self.fix = rule, message, fix


def open_binary(path: Path) -> BinaryIO:
    """Open a file of the dataset for reading (the only opener: tests replace it to simulate faults)."""
    return open(path, "rb")


def _open(path: Path) -> BinaryIO:
    try:
        return open_binary(path)
    except PermissionError as exc:
        raise FileProblem("readable", f"cannot be read: permission denied ({exc.strerror})",
                          "give your account read access to the file (for example `chmod a+r FILE`) "
                          "or ask the owner of the extract for it") from None
    except OSError as exc:
        raise FileProblem("readable", f"cannot be read: {exc.strerror or exc}",
                          "check that the file exists and is a regular, readable file") from None


def check_inside(file: Path, root: Path) -> None:
    """Refuse a file (usually a symbolic link) whose real location is outside the dataset directory."""
    real, base = file.resolve(), root.resolve()
    if not real.is_relative_to(base):
        raise FileProblem("inside-dataset", f"is a symbolic link to {real}, outside the dataset directory {base}",
                          "copy the file into the dataset directory instead of linking to it: a dataset "
                          "is one self-contained directory, so its hash covers everything it reads")
    if file.is_symlink() and not real.exists():
        raise FileProblem("readable", f"is a broken symbolic link (to {real})",
                          "replace the link by the file itself")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with _open(path) as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _size(f: BinaryIO) -> int:
    f.seek(0, io.SEEK_END)
    size = f.tell()
    f.seek(0)
    return size


def _first_bad_utf8(f: BinaryIO) -> tuple[int, int, bytes]:
    """(line, byte offset, the offending bytes) of the first invalid UTF-8 sequence in ``f``."""
    f.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    for block in iter(lambda: f.read(_CHUNK), b""):
        try:
            decoder.decode(block)
        except UnicodeDecodeError as exc:
            # the decoder may hold back up to 3 bytes of an incomplete sequence from the previous block
            start = max(exc.start - len(exc.object) + len(block), 0)
            line += block[:start].count(b"\n")
            return line, offset + start, block[start:start + 4]
        offset += len(block)
        line += block.count(b"\n")
    return line, offset, b""


def _not_utf8(f: BinaryIO) -> FileProblem:
    f.seek(0)
    head = f.read(4)
    if head[:2] == b"\x1f\x8b":
        return FileProblem("utf-8", "is gzip-compressed, not plain text", "unpack it (`gunzip FILE`) and keep the .csv")
    line, offset, bad = _first_bad_utf8(f)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        guess = " (it looks UTF-16 encoded, as Excel saves 'Unicode text')"
    elif bad[:1] >= b"\x80":
        guess = " (it looks latin-1 / Windows-1252 encoded, as Excel saves it)"
    else:
        guess = ""
    return FileProblem("utf-8", f"is not UTF-8 text: byte {bad[:1].hex(' ') or '?'} at line {line} "
                                f"(byte offset {offset}) is not valid UTF-8{guess}",
                       "save the file as UTF-8 (in Excel: 'CSV UTF-8'; on the command line: "
                       "`iconv -f latin1 -t utf-8 FILE > NEW`)")


def read_csv(path: Path) -> pd.DataFrame:
    """Read a table CSV (UTF-8, comma separated, header row) as strings, empty cells missing."""
    with _open(path) as f:
        _check_csv_head(f)
        return next(_read_chunks(f, None))


#: Rows per chunk when a CSV is streamed (strings only: a chunk of 200,000 rows is some tens of MB).
CSV_CHUNK_ROWS = 200_000


def _check_csv_head(f: BinaryIO) -> list:
    """The header of a table CSV after the checks that need only its first line (size, UTF-8, separator)."""
    if _size(f) == 0:
        raise FileProblem("empty-file", "is empty (0 bytes): no header row and no data",
                          "export the table again; a table file holds a header row and one row per record")
    try:
        header_line = f.readline().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_utf8(f) from None
    if "\0" in header_line:
        raise FileProblem("utf-8", "is not a text file (its first line holds NUL bytes)",
                          "export the table as CSV text (UTF-8, comma separated)")
    header = next(csv.reader([header_line]), [])
    if len(header) <= 1 and (";" in header_line or "\t" in header_line):
        sep = "semicolons" if ";" in header_line else "tabs"
        raise FileProblem("comma-separated", f"is separated by {sep}, not commas "
                                             f"(header {header_line.strip()[:_MAX_TEXT]!r})",
                          "save it comma separated with a point as decimal separator "
                          "(Excel in a Dutch locale uses semicolons)")
    _check_unique_header(header)
    return header


def _csv_syntax_error(detail: str) -> FileProblem:
    return FileProblem("csv-syntax", f"is not valid CSV: {detail}",
                       "give every row as many fields as the header; quote fields that contain "
                       "a comma or a line break")


def _check_field_counts(f: BinaryIO) -> None:
    """Refuse a row with more fields than the header, streaming (pandas' chunked reader lets a ragged
    row through when it starts a chunk, so this is a pass of its own, in pandas' wording)."""
    f.seek(0)
    text = io.TextIOWrapper(f, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text)
        n = len(next(reader, []))
        for row in reader:
            if len(row) > n:
                raise _csv_syntax_error(f"Expected {n} fields in line {reader.line_num}, saw {len(row)}")
    except UnicodeDecodeError:
        raise _not_utf8(f) from None
    except csv.Error as exc:
        raise _csv_syntax_error(str(exc)) from None
    finally:
        text.detach()


def _read_chunks(f: BinaryIO, chunk_rows: int | None):
    f.seek(0)
    try:
        if chunk_rows is None:
            yield pd.read_csv(f, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
            return
        yield from pd.read_csv(f, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8",
                               chunksize=chunk_rows)
    except UnicodeDecodeError:
        raise _not_utf8(f) from None
    except pd.errors.EmptyDataError:
        raise FileProblem("empty-file", "has no header row", "export the table again with a header row") from None
    except pd.errors.ParserError as exc:
        raise _csv_syntax_error(str(exc).replace("Error tokenizing data. C error: ", "").strip()) from None


def iter_csv(path: Path, *, chunk_rows: int | None = None):
    """Stream a table CSV as chunks of strings (empty cells missing), with the checks of :func:`read_csv`.

    Memory stays at one chunk whatever the size of the file; a file without data rows yields one
    empty chunk with the header's columns.
    """
    csv.field_size_limit(1 << 30)
    with _open(path) as f:
        _check_csv_head(f)
        _check_field_counts(f)
        yield from _read_chunks(f, chunk_rows or CSV_CHUNK_ROWS)


def csv_to_parquet(path: Path, out: Path, *, row_column: str = "__row",
                   chunk_rows: int | None = None) -> list:
    """Write a table CSV as a Parquet file of strings plus ``row_column`` (data rows counted from 1),
    streaming; returns the column names as pandas gives them. Raises :class:`FileProblem` like
    :func:`read_csv`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer, names, start = None, None, 1
    try:
        for chunk in iter_csv(path, chunk_rows=chunk_rows):
            if names is None:
                names = [str(c) for c in chunk.columns]
                schema = pa.schema([(row_column, pa.int64())] + [(n, pa.string()) for n in names])
                writer = pq.ParquetWriter(out, schema)
            arrays = [pa.array(np.arange(start, start + len(chunk), dtype=np.int64))]
            arrays += [pa.array(chunk[c].to_numpy(dtype=object), type=pa.string(), from_pandas=True)
                       for c in chunk.columns]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            start += len(chunk)
    finally:
        if writer is not None:
            writer.close()
    return names or []


def parquet_columns(path: Path) -> tuple[list, dict]:
    """(columns as pandas names them, {column: pandas dtype}) of a Parquet table, from its footer only.

    Raises :class:`FileProblem` for an empty, truncated or corrupt file. The dtypes are those
    ``read_table(...).to_pandas()`` gives (an empty table of the file's schema is converted), so
    the rules treat a column exactly as the pandas loader did; a date column is ``"date32"``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with _open(path) as f:
        if _size(f) == 0:
            raise FileProblem("empty-file", "is empty (0 bytes)", "write the table again")
        try:
            schema = pq.read_schema(f)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise FileProblem("parquet", f"is not a readable Parquet file, probably truncated or corrupt ({exc})",
                              "write or copy the file again and compare its size with the original") from None
    _check_unique_header(schema.names)
    try:
        empty = schema.empty_table().to_pandas()
    except (pa.ArrowException, ValueError, OverflowError, TypeError) as exc:
        raise FileProblem("parquet", f"holds values pandas cannot represent ({exc})",
                          "store dates as date32 or timestamps without time zone, numbers as int or float") from None
    dtypes = {str(c): empty[c].dtype for c in empty.columns}
    for f in schema:  # pandas shows a Parquet date as object: name it, so that SQL can take it as a date
        if str(f.name) in dtypes and (pa.types.is_date32(f.type) or pa.types.is_date64(f.type)):
            dtypes[str(f.name)] = "date32"
    return [str(c) for c in empty.columns], dtypes


def _check_unique_header(names: list) -> None:
    seen, dup = set(), []
    for n in names:
        if n in seen and n not in dup:
            dup.append(n)
        seen.add(n)
    if dup:
        raise FileProblem("unique-columns", f"repeats the column(s) {', '.join(map(repr, dup))}",
                          "keep one column of each name")


def read_parquet(path: Path) -> tuple[pd.DataFrame, dict]:
    """Read a Parquet table; returns (frame, {float column: mask of NaN values}).

    pandas shows a Parquet null and a float NaN alike, so the NaN masks (an empty cell is
    allowed where the contract says so, a NaN never is) are taken from the Arrow table.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    with _open(path) as f:
        if _size(f) == 0:
            raise FileProblem("empty-file", "is empty (0 bytes)", "write the table again")
        try:
            table = pq.read_table(f)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise FileProblem("parquet", f"is not a readable Parquet file, probably truncated or corrupt ({exc})",
                              "write or copy the file again and compare its size with the original") from None
    _check_unique_header(table.schema.names)
    nan_masks = {}
    for name, col in zip(table.schema.names, table.columns):
        if pa.types.is_floating(col.type):
            mask = pc.fill_null(pc.is_nan(col), False).to_numpy(zero_copy_only=False)
            if mask.any():
                nan_masks[name] = np.asarray(mask, dtype=bool)
    try:
        frame = table.to_pandas()
    except (pa.ArrowException, ValueError, OverflowError) as exc:
        raise FileProblem("parquet", f"holds values pandas cannot represent ({exc})",
                          "store dates as date32 or timestamps without time zone, numbers as int or float") from None
    return frame.reset_index(drop=True), nan_masks


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses repeated keys (the safe loader keeps the last silently) and
    leaves dates as text: YAML's own date conversion raises a bare ValueError on 2017-02-30 and
    turns a time zone into a datetime; the caller parses dates strictly instead."""


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader, node, deep=False):
    keys = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in keys:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} appears twice (line {mark.line + 1})", mark)
        keys.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


#: Deeper YAML is refused before it is built (a settings file is a few levels deep; deep nesting is slow).
MAX_YAML_DEPTH = 32


def _explicit_tags(text: str) -> list:
    """Tags written in the text (``!x``, ``!!x``, ``!<...>``), from the parser's events, not a regex.

    Refuses nesting deeper than :data:`MAX_YAML_DEPTH` on the way.
    """
    tags, depth = [], 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise FileProblem("yaml-syntax", f"is nested more than {MAX_YAML_DEPTH} levels deep "
                                                 f"(line {event.start_mark.line + 1})",
                                  "write plain `key: value` lines")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if getattr(event, "tag", None) is not None:
            tags.append((event.tag, event.start_mark.line + 1))
    return tags


def safe_load_yaml(text: str) -> object:
    """Parse YAML text with the safe loader; refuse tags and repeated keys; dates stay text.

    Raises :class:`FileProblem` (rules ``yaml-syntax``, ``yaml-tag``, ``yaml-duplicate-key``).
    """
    try:
        tags = _explicit_tags(text)
        if tags:
            tag, line = tags[0]
            raise FileProblem("yaml-tag", f"holds the YAML tag {tag!r} at line {line}; tags are not allowed "
                                          "(a tag such as !!python/object can make a YAML reader run code)",
                              "remove the tag and write the value as plain text, a number or a date")
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass, tags refused above
    except yaml.constructor.ConstructorError as exc:
        duplicate = "appears twice" in str(exc.problem)
        raise FileProblem("yaml-duplicate-key" if duplicate else "yaml-syntax", f"is refused: {exc.problem}",
                          "write each key once" if duplicate else "write plain `key: value` lines") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FileProblem("yaml-syntax", f"is not valid YAML{where}: {problem}",
                          "fix the YAML syntax (one `key: value` per line, quote values holding ': ' or '#')") from None
    except ValueError as exc:  # a value the safe constructors cannot build
        raise FileProblem("yaml-syntax", f"holds a value that cannot be read ({exc})",
                          "write plain text, numbers and dates YYYY-MM-DD") from None
    except RecursionError:
        raise FileProblem("yaml-syntax", "is nested too deeply to read",
                          "write plain `key: value` lines") from None


def read_yaml(path: Path) -> object:
    """Read a YAML file (UTF-8) through :func:`safe_load_yaml`."""
    with _open(path) as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_utf8(io.BytesIO(data)) from None
    return safe_load_yaml(text)


def show_value(value) -> str:
    """A value as it is shown in a message: quoted, shortened, invisible characters made visible."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "empty"
    if isinstance(value, (float, np.floating)):
        return "empty" if np.isnan(value) else repr(float(value))  # text cells are quoted: 'nan' is text
    text = str(value)
    shown = repr(text[:_MAX_TEXT] + ("..." if len(text) > _MAX_TEXT else ""))
    if not text.isascii():
        shown += f" (non-ASCII: {ascii(text[:_MAX_TEXT])})"
    return shown


__all__ = ["CSV_CHUNK_ROWS", "FileProblem", "check_inside", "csv_to_parquet", "file_sha256", "iter_csv",
           "open_binary", "parquet_columns", "read_csv", "read_parquet", "read_yaml", "safe_load_yaml",
           "show_value"]
