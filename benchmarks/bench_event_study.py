"""Benchmark: event study with person and month fixed effects, clustered by person.

Target (issue): 1,000,000 persons x 120 months, 20 event-time terms, from a
Parquet file, in under 10 s and 3 GB. Side by side with pyfixest at N = 100,000
(pyfixest does not fit the full size in 24 GB).

The panel is balanced with staggered cohorts and a known homogeneous effect
(0.5 from the event month on), generated here and written to Parquet in a temp
directory, sorted by (person, month) as a store writes it.

Each measurement runs in a fresh process so peak RSS (resource.getrusage,
ru_maxrss) is that of the estimation alone (plus imports).

    python benchmarks/bench_event_study.py            # 1,000,000 ours; 100,000 both
    python benchmarks/bench_event_study.py --n 200000 --compare-n 50000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

MONTHS = 120
WINDOW = (-10, 10)   # 21 event times minus the reference: 20 terms
EFFECT = 0.5


def write_panel(path: Path, n_persons: int, *, seed: int = 0, chunk: int = 100_000) -> None:
    """Balanced panel: person effect, month effect, AR noise, cohorts in months 13..108 or never (40%)."""
    rng = np.random.default_rng(seed)
    month_effect = np.cumsum(rng.normal(0, 0.05, MONTHS))
    months = np.arange(1, MONTHS + 1, dtype=np.int32)
    writer = None
    for start in range(0, n_persons, chunk):
        n = min(chunk, n_persons - start)
        cohort = np.where(rng.random(n) < 0.4, 0, rng.integers(13, 109, n)).astype(np.int32)
        y = rng.normal(size=(n, 1)) + month_effect[None, :] + rng.normal(size=(n, MONTHS))
        y += EFFECT * ((cohort[:, None] > 0) & (months[None, :] >= cohort[:, None]))
        table = pa.table({"person": np.repeat(np.arange(start, start + n, dtype=np.int64), MONTHS),
                          "month": np.tile(months, n), "cohort": np.repeat(cohort, MONTHS),
                          "y": y.ravel()})
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=1_000_000)
    writer.close()


def run_ours(path: str) -> dict:
    """Seconds exclude imports (duckdb, pyarrow, the package), as for pyfixest."""
    import duckdb  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from analysis.estimators.event_study import event_study

    start = time.perf_counter()
    result = event_study(path, outcome="y", unit="person", time="month", cohort="cohort", window=WINDOW)
    seconds = time.perf_counter() - start
    post = result.estimates.loc[[f"e={k}" for k in range(0, WINDOW[1] + 1)], "estimate"]
    return {"seconds": seconds, "path": result.diagnostics["path"], "terms": len(result.estimates),
            "mean_post_estimate": float(post.mean()), "e=0": result.estimates.loc["e=0"].to_dict()}


def run_pyfixest(path: str) -> dict:
    import pandas as pd
    import pyfixest as pf

    start = time.perf_counter()
    frame = pd.read_parquet(path)
    e = np.clip(frame["month"] - frame["cohort"], *WINDOW)
    frame["rel"] = np.where(frame["cohort"] > 0, e, -1)
    fit = pf.feols("y ~ i(rel, ref=-1) | person + month", data=frame, vcov={"CRV1": "person"})
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "terms": len(fit.coef()), "e=0": {"estimate": float(fit.coef()["rel::0"]),
                                                                    "std_error": float(fit.se()["rel::0"])}}


def measure(which: str, path: Path) -> dict:
    """Run one estimation in a child process; return its timing and peak RSS."""
    code = (f"import json, resource, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"import bench_event_study as b; out = b.run_{which}({str(path)!r}); "
            "out['peak_rss_gb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20; "
            "print(json.dumps(out))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="persons in the large run (ours only)")
    parser.add_argument("--compare-n", type=int, default=100_000,
                        help="persons in the side-by-side run (0: skip it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n, tools in ((args.compare_n, ("ours", "pyfixest")), (args.n, ("ours",))):
            if n <= 0:
                continue
            path = Path(tmp) / f"panel_{n}.parquet"
            start = time.perf_counter()
            write_panel(path, n)
            print(f"N = {n:,} persons x {MONTHS} months ({n * MONTHS:,} rows), "
                  f"parquet written in {time.perf_counter() - start:.1f} s, {path.stat().st_size / 2**20:.0f} MB")
            for tool in tools:
                out = measure(tool, path)
                if "error" in out:
                    print(f"  {tool:9s} failed: {out['error']}")
                    continue
                print(f"  {tool:9s} {out['seconds']:7.2f} s   peak RSS {out['peak_rss_gb']:.2f} GB   "
                      f"e=0: {out['e=0']['estimate']:.6f} (se {out['e=0']['std_error']:.6f})")
            path.unlink()
    print(f"true effect {EFFECT} from e=0 on; window {WINDOW}, reference -1; 2 cores, "
          f"parent peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")


if __name__ == "__main__":
    main()
