"""Batch speed-up: 12 municipality runs of the overview study, one after another vs on 4 local workers.

"One after another" is measured twice: as a shell loop of ``rendeert run`` (what users do
without batches; every run pays the interpreter start) and as a batch with one worker.

    python benchmarks/bench_batch.py [--dataset data/raw/synthetic-default] [--runs 12] [--workers 4]

Writes benchmarks/results/batch.csv and prints the wall-clock seconds of both and the speed-up.
The issue's target: 4 workers take less than half the time of the sequential batch.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="data/raw/synthetic-default")
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--pdf", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    from analysis.paths import resolve_path
    from analysis.run.batch import run_batch

    dataset = resolve_path(args.dataset)
    persons = pd.read_parquet(dataset / "persons.parquet", columns=["municipality_code"])
    codes = list(persons["municipality_code"].value_counts().index[: args.runs])
    rows = []
    with tempfile.TemporaryDirectory(prefix="rendeert-bench-batch-") as tmp:
        start = time.perf_counter()
        for code in codes:
            subprocess.run([str(Path(sys.executable).with_name("rendeert")), "run", "overview", "-p", "dataset",
                            str(dataset), "-p", "municipality", code, "--out", str(Path(tmp) / "loop")]
                           + ([] if args.pdf else ["--no-pdf"]), check=True, capture_output=True)
        rows.append({"runs": len(codes), "workers": "loop of rendeert run", "seconds":
                     round(time.perf_counter() - start, 1), "cores": os.cpu_count(), "status": {"ok": len(codes)}})
        print(rows[-1], flush=True)
        for workers in (1, args.workers):
            start = time.perf_counter()
            batch = run_batch("overview", {"municipality": codes}, fixed={"dataset": str(dataset)},
                              workers=workers, out_root=Path(tmp) / f"w{workers}", pdf=args.pdf, progress=False)
            seconds = time.perf_counter() - start
            status = pd.read_csv(batch / "runs.csv")["status"].value_counts().to_dict()
            rows.append({"runs": len(codes), "workers": workers, "seconds": round(seconds, 1),
                         "cores": os.cpu_count(), "status": status})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["speed_up_vs_loop"] = (table["seconds"].iloc[0] / table["seconds"]).round(2)
    table["speed_up_vs_one_worker"] = (table["seconds"].iloc[1] / table["seconds"]).round(2)
    (HERE / "results").mkdir(exist_ok=True)
    table.to_csv(HERE / "results" / "batch.csv", index=False)
    print(table.to_markdown(index=False))


if __name__ == "__main__":
    main()
