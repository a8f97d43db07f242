"""Validation and the store build at 1M and 4M persons: seconds and peak resident memory (issue #18).

    python benchmarks/bench_validate_store.py --scratch /work/tmp-scale [--main-src /work/main/src]

The datasets are stacked copies of one 50,000-person dataset (``--base``, default /work/data50k): copy
k gets the person ids ``k<kk>-<id>``, so 20 copies are a valid 1,000,000-person dataset and 80 copies a
4,000,000-person one (municipalities once). They are written with pyarrow one copy at a time (one
Parquet row group per copy), never the whole dataset in memory, under ``--scratch`` (not the
repository), and deleted at the end unless ``--keep``.

Each step runs in a fresh process (``--step validate|store``): ``validate`` is ``load_dataset`` (no
table read), ``store`` is ``load_dataset`` then ``build_store`` into an empty root. The parent waits for
the child with ``os.wait4``, so the peak is the child's own ``ru_maxrss``; seconds are the child's wall
time of the step (for ``store``: the build alone, and the whole process separately). ``--main-src``
also measures another checkout's code (the pandas loader) at the smaller size only: its peak at 4M is
11-17 GB. Writes benchmarks/results/validate_store.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE_PERSONS = 50_000


def stack(base: Path, out: Path, copies: int) -> Path:
    """``copies`` copies of the dataset ``base`` with prefixed person ids, written copy by copy."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    import yaml

    if (out / "dataset.yml").exists():
        return out
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for file in sorted(base.glob("*.parquet")):
        table = pq.read_table(file)
        if file.stem == "municipalities":
            pq.write_table(table, tmp / file.name)
            continue
        with pq.ParquetWriter(tmp / file.name, table.schema) as writer:
            for k in range(copies):
                copy = table
                for col in ("person_id", "partner_id"):
                    if col in copy.column_names and pa.types.is_string(copy.schema.field(col).type):
                        i = copy.column_names.index(col)
                        copy = copy.set_column(i, col, pc.binary_join_element_wise(f"k{k:02d}", copy[col], "-"))
                writer.write_table(copy)
    meta = yaml.safe_load((base / "dataset.yml").read_text())
    meta["name"] = f"{meta['name']}-x{copies}"
    meta["source"] = f"{copies} stacked copies of {base} (person ids prefixed per copy)"
    (tmp / "dataset.yml").write_text(yaml.safe_dump(meta, sort_keys=False))
    tmp.rename(out)
    return out


def child(step: str, data: Path, scratch: Path) -> dict:
    """Run in the fresh process: one step, timed."""
    from analysis.data import load_dataset

    t0 = time.perf_counter()
    work = scratch / "work"
    work.mkdir(parents=True, exist_ok=True)
    kwargs = {"work_dir": work} if "work_dir" in load_dataset.__code__.co_varnames else {}
    ds = load_dataset(data, **kwargs)
    t1 = time.perf_counter()
    out = {"validate_s": round(t1 - t0, 1)}
    if step == "store":
        from analysis.data import build_store

        root = scratch / "processed"
        shutil.rmtree(root, ignore_errors=True)
        store = build_store(ds, root=root)
        out["store_s"] = round(time.perf_counter() - t1, 1)
        out["person_month_rows"] = int(store.connect().execute("SELECT count(*) FROM person_month").fetchone()[0])
        shutil.rmtree(root, ignore_errors=True)
    out["process_s"] = round(time.perf_counter() - t0, 1)
    return out


def measure(step: str, data: Path, scratch: Path, src: Path, limit: str | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "RENDEERT_HOME": str(scratch)}
    if limit:
        env["RENDEERT_MEMORY_LIMIT"] = limit  # DuckDB's memory_limit in load_dataset and build_store
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", step, "--data", str(data), "--scratch",
                             str(scratch)], env=env, stdout=subprocess.PIPE, text=True, cwd=scratch)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{step} on {data} failed (exit {proc.returncode})")
    result = json.loads(stdout.strip().splitlines()[-1])
    return {**result, "peak_gb": round(usage.ru_maxrss / 1024 ** 2, 2), "wall_s": round(wall, 1)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scratch", type=Path, default=Path("/work/tmp-scale"))
    p.add_argument("--base", type=Path, default=Path("/work/data50k"))
    p.add_argument("--copies", type=int, nargs=2, default=[20, 80], metavar=("SMALL", "LARGE"))
    p.add_argument("--main-src", type=Path, help="another checkout's src/ to measure at the small size")
    p.add_argument("--keep", action="store_true", help="keep the stacked datasets")
    p.add_argument("--memory-limit", help="DuckDB memory_limit for this branch's code (default: its default, 2GB)")
    p.add_argument("--steps", nargs="+", default=["validate", "store"], choices=["validate", "store"])
    p.add_argument("--child")
    p.add_argument("--data", type=Path)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.data, args.scratch)))
        return
    src = HERE.parent / "src"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                            text=True).stdout.strip()
    rows = []
    try:
        for copies in args.copies:
            data = stack(args.base, args.scratch / f"stacked-{copies}", copies)
            persons = copies * BASE_PERSONS
            runs = [("this branch", src)] + ([("main (pandas)", args.main_src)]
                                              if args.main_src and copies == min(args.copies) else [])
            for code, where in runs:
                for step in args.steps:
                    r = measure(step, data, args.scratch, where, args.memory_limit if where == src else None)
                    rows.append({"code": code, "step": step, "persons": persons, **r})
                    print(rows[-1], flush=True)
    finally:
        if not args.keep:
            for copies in args.copies:
                shutil.rmtree(args.scratch / f"stacked-{copies}", ignore_errors=True)
            shutil.rmtree(args.scratch / "work", ignore_errors=True)
    write_report(rows, commit, args)


def write_report(rows: list, commit: str, args) -> None:
    small, large = (c * BASE_PERSONS for c in args.copies)
    lines = [f"# Validation and store build with bounded memory (issue #18)", "",
             f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}, {os.cpu_count()} cores "
             "(shared with other jobs), each step in a fresh process; peak = the process's maximum resident set "
             "(ru_maxrss via os.wait4). Datasets: stacked copies of a 50,000-person synthetic dataset "
             "(benchmarks/bench_validate_store.py). DuckDB memory_limit "
             f"{args.memory_limit or '2GB (the default)'}, 2 threads.", "",
             "| code | step | persons | peak GB | validate s | store build s | process s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['code']} | {r['step']} | {r['persons']:,} | {r['peak_gb']:.2f} | {r['validate_s']} | "
                     f"{r.get('store_s', '')} | {r['process_s']} |")
    mine = {(r["step"], r["persons"]): r for r in rows if r["code"] == "this branch"}
    lines += ["", f"Growth from {small:,} to {large:,} persons (this branch; target: peak ratio at most 1.3):", ""]
    for step in ("validate", "store"):
        a, b = mine.get((step, small)), mine.get((step, large))
        if a and b:
            lines.append(f"- {step}: peak {a['peak_gb']:.2f} -> {b['peak_gb']:.2f} GB, ratio "
                         f"{b['peak_gb'] / a['peak_gb']:.2f}; seconds {a['process_s']} -> {b['process_s']}, ratio "
                         f"{b['process_s'] / a['process_s']:.1f}")
    out = HERE / "results" / ("validate_store.md" if not args.memory_limit
                              else f"validate_store_{args.memory_limit}.md")
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
