"""A large dataset in seconds: copies of a small one, stacked, with renamed person ids.

    python benchmarks/stack_dataset.py --base data/raw/synthetic-default --persons 4000000 --out /tmp/stacked-4000000

Copy ``k`` of the base dataset's ``n`` persons gets the ids ``P`` + the zero-padded number ``k * n + i``
(``i`` the person's row in the base ``persons`` table); every other column is kept as it is, the
municipality too, so each municipality grows by the same factor. The last copy may be partial: it
holds the base's first persons and their rows. ``municipalities.population`` is recounted from the
stacked ``persons``. Tables are written copy by copy with pyarrow (copies gathered into row groups of
about a million rows), so memory is the base dataset's and a row group's, whatever the size written.

**For memory and time only.** A stacked dataset has the tables' shape and size at scale, not a
population: every person has ``k`` identical twins, so estimates and their standard errors mean
nothing, and the simulator's ``truth.json`` is not copied (its counts would be off by the factor).
``dataset.yml`` says so under ``stacked``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

ID_PREFIX = "P"
#: Digits of the ids at least (the simulator's ``P0000000``); more when the stacked size needs them.
MIN_ID_DIGITS = 7
#: Copies are gathered into row groups of about this many rows (pyarrow's default largest row group).
ROW_GROUP_ROWS = 1024 * 1024
#: Columns that hold a person id and are renamed with the person; any other column is copied unchanged.
ID_COLUMNS = ("person_id", "partner_id")
NOTE = ("stacked copies of another dataset with renamed person ids: for memory and time measurements "
        "only (every person has identical twins; estimates mean nothing)")


class StackError(ValueError):
    """The base dataset cannot be stacked (a benchmark helper, not part of the analysis package)."""


def _read_base(base: Path) -> tuple[dict, dict[str, pa.Table]]:
    meta_path = base / "dataset.yml"
    if not meta_path.is_file():
        raise StackError(f"{base}: no dataset.yml; give --base a dataset directory (data contract), for example "
                         "data/raw/synthetic-default after `make data`")
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    csv = sorted(p.name for p in base.glob("*.csv"))
    if csv:
        raise StackError(f"{base}: tables {csv} are CSV; stacking reads Parquet tables only. Write the base "
                         "with `rendeert synth` (Parquet), or convert the tables to Parquet first")
    tables = {p.stem: pq.read_table(p) for p in sorted(base.glob("*.parquet"))}
    if "persons" not in tables:
        raise StackError(f"{base}: no persons.parquet; the ids of every table are renamed from it")
    return meta, tables


def _positions(table: pa.Table, column: str, ids: pa.Array, name: str) -> pa.Array | None:
    """Each row's person as its row number in the base ``persons`` (null where the id is null)."""
    values = table[column]
    if pa.types.is_null(values.type):
        return None
    pos = pc.index_in(values, value_set=ids)
    missing = pc.sum(pc.and_(pc.is_null(pos), pc.is_valid(values))).as_py() or 0
    if missing:
        raise StackError(f"{name}.{column}: {missing} ids are not in persons; stack a dataset that validates "
                         "(`rendeert validate BASE`)")
    return pos.combine_chunks() if isinstance(pos, pa.ChunkedArray) else pos


def stack_dataset(base: str | Path, out: str | Path, *, persons: int, name: str | None = None) -> Path:
    """Write ``persons`` persons made of stacked copies of ``base`` to the new directory ``out``."""
    base, out = Path(base), Path(out)
    if not isinstance(persons, int) or persons < 1:
        raise StackError(f"persons is {persons!r}; give a whole number of persons >= 1, for example 1000000")
    if out.exists():
        raise StackError(f"{out} exists; stacking writes a new directory (remove it, or give another --out)")
    meta, tables = _read_base(base)
    ids = tables["persons"]["person_id"].combine_chunks()
    n_base = len(ids)
    copies = -(-persons // n_base)
    rest = persons - (copies - 1) * n_base  # persons in the last copy, 1..n_base
    digits = max(MIN_ID_DIGITS, len(str(persons - 1)))
    plan = {}  # table -> (table, {column: positions}, positions that decide membership)
    for tname, table in tables.items():
        cols = {c: p for c in ID_COLUMNS if c in table.column_names
                if (p := _positions(table, c, ids, tname)) is not None}
        plan[tname] = (table, cols, cols.get("person_id"))
    tmp = out.with_name(out.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=False)
    writers = {t: pq.ParquetWriter(tmp / f"{t}.parquet", plan[t][0].schema, use_dictionary=_dictionary(plan[t][0]))
               for t in plan if t != "municipalities"}
    pending: dict[str, list[pa.Table]] = {t: [] for t in writers}

    def flush(tname: str, *, last: bool = False) -> None:
        parts = pending[tname]
        if parts and (last or sum(len(p) for p in parts) >= ROW_GROUP_ROWS):
            writers[tname].write_table(pa.concat_tables(parts), row_group_size=ROW_GROUP_ROWS)
            parts.clear()

    try:
        for k in range(copies):
            first = k * n_base
            new_ids = pa.array([f"{ID_PREFIX}{first + i:0{digits}d}" for i in range(n_base)], pa.string())
            for tname in writers:
                table, cols, members = plan[tname]
                if members is None:  # a table without persons: once
                    if k == 0:
                        pending[tname].append(table)
                    continue
                part = table
                positions = dict(cols)
                if k == copies - 1 and rest < n_base:
                    keep = pc.less(members, rest)
                    part = table.filter(keep)
                    positions = {c: p.filter(keep) for c, p in cols.items()}
                for c, p in positions.items():
                    part = part.set_column(part.schema.get_field_index(c), c, pc.take(new_ids, p))
                pending[tname].append(part)
                flush(tname)
        for tname in writers:
            flush(tname, last=True)
    finally:
        for writer in writers.values():
            writer.close()
    if "municipalities" in tables:
        pq.write_table(_recount(tables["municipalities"], tables["persons"], copies, rest), tmp / "municipalities.parquet")
    stacked_meta = {
        "name": name or f"stacked-{persons}",
        "source": f"{persons} persons: {copies} copies of {meta.get('name', base.name)} ({n_base} persons) "
                  "with renamed person ids (benchmarks/stack_dataset.py); for memory and time only",
        "synthetic": True,
        "observation_start": str(meta["observation_start"]),
        "observation_end": str(meta["observation_end"]),
        "stacked": {"base": str(base.resolve()), "base_name": meta.get("name"), "base_persons": n_base,
                    "copies": copies, "last_copy_persons": rest, "note": NOTE},
    }
    (tmp / "dataset.yml").write_text(yaml.safe_dump(stacked_meta, sort_keys=False), encoding="utf-8")
    tmp.rename(out)
    return out


def _dictionary(table: pa.Table) -> list[str]:
    """The columns worth a dictionary: codes, not ids or amounts (dictionary pages of millions of distinct
    ids or amounts make the write twice as slow and gain little)."""
    return [f.name for f in table.schema if f.name not in ID_COLUMNS and not pa.types.is_floating(f.type)]


def _recount(municipalities: pa.Table, persons: pa.Table, copies: int, rest: int) -> pa.Table:
    """The population column as the stacked persons' count per municipality (it is the count in the base)."""
    if "population" not in municipalities.column_names:
        return municipalities
    codes = persons["municipality_code"].to_pylist()
    count: dict[str, int] = {}
    for i, code in enumerate(codes):
        count[code] = count.get(code, 0) + (copies - 1) + (1 if i < rest else 0)
    population = pa.array([count.get(c, 0) for c in municipalities["municipality_code"].to_pylist()],
                          municipalities.schema.field("population").type)
    return municipalities.set_column(municipalities.schema.get_field_index("population"), "population", population)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="a dataset directory with Parquet tables")
    parser.add_argument("--persons", type=int, required=True)
    parser.add_argument("--out", required=True, help="the new dataset directory (must not exist)")
    parser.add_argument("--name", help="the name in dataset.yml (default stacked-PERSONS)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        out = stack_dataset(args.base, args.out, persons=args.persons, name=args.name)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{out}: {args.persons:,} persons stacked in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
