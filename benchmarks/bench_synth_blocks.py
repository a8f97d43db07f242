"""Benchmark: the synthetic generator in blocks (issue #18), at national scale.

Each run is ``rendeert synth --persons N --seed 1 --workers K [--block-persons B]`` in a fresh process
(``python -c 'from analysis.run.cli import main; ...'``). Measured from outside:

- ``wall_s``: wall-clock seconds of the run;
- ``cpu_s``: user + system CPU seconds of the process and its worker processes (``getrusage`` of the
  waited-for children; on a machine shared with other jobs the wall time mostly measures the wait for a
  core, the CPU time does not);
- ``peak_tree_gb``: the largest sum of the resident sets of the process and all its descendants, sampled
  every 0.2 s with psutil (the figure the 16 GB target is about); ``peak_process_gb``: the largest single
  process (``ru_maxrss`` of the children);
- ``disk_mb``: the dataset directory's size; the data are deleted after each run.

    python benchmarks/bench_synth_blocks.py --persons 1000000 --workers 1 --data /work/tmp-scale
    python benchmarks/bench_synth_blocks.py --plan 1000000:1,4000000:1,4000000:2 --data /work/tmp-scale --write

``--write`` appends each run to benchmarks/results/synth_blocks.csv and rewrites synth_blocks.md from it
(with the growth factors against the smallest run of the same worker count).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SAMPLE_S = 0.2


def _tree_rss(proc) -> int:
    import psutil

    total = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def measure(n: int, workers: int, *, data: Path, block_persons: int | None = None) -> dict:
    """One generation in a fresh process; see the module docstring."""
    import psutil

    out = data / f"synth-{n}-w{workers}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-c", "import sys; from analysis.run.cli import main; sys.exit(main(sys.argv[1:]))",
           "synth", "--persons", str(n), "--seed", "1", "--out", str(out), "--workers", str(workers)]
    if block_persons is not None:
        cmd += ["--block-persons", str(block_persons)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watched, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(watched))
        time.sleep(SAMPLE_S)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"synth --persons {n} --workers {workers} failed with exit status {proc.returncode}")
    disk = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    shutil.rmtree(out, ignore_errors=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                            text=True).stdout.strip()
    return {"persons": n, "workers": workers, "block_persons": block_persons or 200_000,
            "wall_s": round(wall, 1),
            "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
            "peak_tree_gb": round(peak / 2**30, 2), "peak_process_gb": round(after.ru_maxrss / 2**20, 2),
            "disk_mb": round(disk / 2**20, 1),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared), "
                       f"{psutil.virtual_memory().total / 2**30:.0f} GB", "commit": commit}


#: What the table does not show (kept with the table when it is rewritten).
NOTES = """Notes.

- The old generator (all persons in one block, before issue #18) needed 9.0 GB at 1,000,000 persons and
  17.8 GB at 2,000,000 (issue #18's table); it is not run here (above the 6 GB this shared machine allows a
  run). In blocks the peak is one block's (about 2.2 GB at 200,000 persons) plus, with two workers, the
  second block and the main process that writes: it does not grow with the population.
- 18,000,000 persons with two workers (2026-12-02 07:54 UTC, commit of the 4M rows) did not finish in the
  time available: it was stopped after 41 of its 90 blocks (8,000,000 persons written, person ids of 8
  digits) at 21.4 minutes of wall time and 1,528 CPU seconds, with a peak of 4.77 GB for the process tree,
  reached by block 23 and flat after it (4.41 GB after 5 blocks). At that rate (about 190 CPU microseconds
  per person) 18,000,000 persons need about 3,500 CPU seconds: some 30 minutes of wall time with two
  workers on two otherwise idle cores (it ran at 7,100 persons a second while sharing them).
- Wall times here are on a shared machine (the runs waited for a core most of the time); the CPU seconds
  are the work done.
"""


def write(rows: list) -> None:
    csv = RESULTS / "synth_blocks.csv"
    frame = pd.read_csv(csv) if csv.exists() else None
    if rows:
        frame = pd.DataFrame(rows) if frame is None else pd.concat([frame, pd.DataFrame(rows)], ignore_index=True)
        frame.to_csv(csv, index=False)
    table = frame.copy()
    base = table.groupby("workers")["persons"].transform("min")
    for col, new in (("peak_tree_gb", "peak_growth"), ("cpu_s", "cpu_growth")):
        ref = table.merge(table[table["persons"] == base][["workers", col]].drop_duplicates("workers"),
                          on="workers", suffixes=("", "_ref"), how="left")[f"{col}_ref"].to_numpy()
        table[new] = (table[col] / ref).round(2)
    table["persons_growth"] = (table["persons"] / base).round(1)
    lines = ["# Synthetic generation in blocks (issue #18)", "",
             "Written by `benchmarks/bench_synth_blocks.py`; one row per run, each `rendeert synth` in a fresh "
             "process (seed 1, the experiment in, blocks of 200,000 persons). `peak_tree_gb`: the largest sum of "
             "the resident sets of the process and its workers (sampled every 0.2 s); `cpu_s`: CPU seconds of "
             "the process and its workers; growth factors against the smallest run with the same number of "
             "workers (`persons_growth` is the size ratio).", "",
             table.to_markdown(index=False), "", NOTES]
    (RESULTS / "synth_blocks.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--block-persons", type=int, default=None)
    parser.add_argument("--plan", help="runs as persons:workers,persons:workers,...")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "rendeert-bench-synth",
                        help="where the datasets are written (and deleted after each run); not inside the repository")
    parser.add_argument("--write", action="store_true", help="append to benchmarks/results/synth_blocks.*")
    parser.add_argument("--render", action="store_true", help="only rewrite synth_blocks.md from synth_blocks.csv")
    args = parser.parse_args(argv)
    if args.render:
        write([])
        return 0
    plan = ([tuple(int(v) for v in item.split(":")) for item in args.plan.split(",")] if args.plan
            else [(args.persons, args.workers)])
    args.data.mkdir(parents=True, exist_ok=True)
    for n, workers in plan:
        row = measure(n, workers, data=args.data, block_persons=args.block_persons)
        print(row, flush=True)
        if args.write:
            write([row])
    return 0


if __name__ == "__main__":
    sys.exit(main())
