"""Benchmark: our Callaway & Sant'Anna ``att_gt`` beside csdid (the Python port of R ``did``) on the same data.

Same panels as ``bench_did.py`` (staggered cohorts, known effects; with covariates, parallel
trends hold only conditionally). Both sides estimate every ATT(g,t) with never-treated controls,
doubly robust, analytic standard errors (csdid: ``bstrap=False``), then the simple aggregation.
Each side runs in its own fresh process, so peak RSS is that side's alone. The estimates are
compared cell by cell: the two implement one estimator, so they should agree to rounding.

csdid is not a dependency of the workbench: on first use it is installed into
``benchmarks/.peers/`` (``pip install --target ... --no-deps csdid drdid``; its other requirements,
numpy, pandas, scipy, statsmodels and patsy, are already in the venv).

    python benchmarks/bench_did_peers.py                         # the default cases below
    python benchmarks/bench_did_peers.py --case dr --n 100000 --periods 24
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PEERS = HERE / ".peers"
#: (case, units, periods): sizes at which csdid finishes in minutes on 2 cores
DEFAULT = [("unconditional", 100_000, 10), ("dr", 20_000, 24), ("dr", 100_000, 24)]


def ensure_csdid() -> None:
    if not (PEERS / "csdid").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(PEERS), "--no-deps",
                        "csdid==0.4.3", "drdid==1.1.7"], check=True)


def _data(case: str, n: int, periods: int):
    sys.path.insert(0, str(HERE))
    import bench_did

    covariates = case == "dr"
    cohorts = [4, 6, 8] if periods <= 10 else list(range(periods // 4, periods - 2))
    return bench_did.simulate(n, periods, cohorts, covariates=covariates), ["x1", "x2"] if covariates else []


def run_side(side: str, case: str, n: int, periods: int, out: str) -> dict:
    frame, covs = _data(case, n, periods)
    import pandas as pd

    if side == "ours":
        from analysis.estimators import att_gt
    else:
        sys.path.insert(0, str(PEERS))
        from csdid.att_gt import ATTgt
    start = time.perf_counter()  # imports excluded: the estimation alone
    if side == "ours":
        r = att_gt(frame, outcome="y", unit="id", time="t", cohort="g", covariates=covs, method="dr")
        cells = r.estimates[["group", "time", "estimate", "std_error"]]
        mid = time.perf_counter()
        simple = float(r.aggregate("simple").estimates.loc["ATT", "estimate"])
    else:
        fit = ATTgt(yname="y", tname="t", idname="id", gname="g", data=frame, control_group="nevertreated",
                    xformla="y~" + ("+".join(covs) if covs else "1")).fit(est_method="dr", bstrap=False)
        res = fit.results  # unrounded (the printed summary rounds to 4 decimals)
        cells = pd.DataFrame({"group": np.asarray(res["group"]), "time": np.asarray(res["year"]),
                              "estimate": np.asarray(res["att"], dtype=float),
                              "std_error": np.asarray(res["se"], dtype=float)})
        mid = time.perf_counter()
        simple = float(fit.aggte(typec="simple").atte["overall_att"])
    end = time.perf_counter()
    cells.to_csv(out, index=False)
    return {"side": side, "case": case, "units": n, "periods": periods, "cells": len(cells),
            "att_gt_s": round(mid - start, 2), "simple_s": round(end - mid, 2), "simple": simple,
            "peak_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["unconditional", "dr"])
    parser.add_argument("--n", type=int)
    parser.add_argument("--periods", type=int)
    parser.add_argument("--side", choices=["ours", "csdid"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(run_side(args.side, args.case, args.n, args.periods, args.out)))
        return
    ensure_csdid()
    import pandas as pd

    cases = [(args.case, args.n, args.periods)] if args.case else DEFAULT
    rows = []
    for case, n, periods in cases:
        res = {}
        for side in ("ours", "csdid"):
            out = HERE / "results" / f"peers-{case}-{n}-{periods}-{side}.csv"
            out.parent.mkdir(exist_ok=True)
            done = subprocess.run([sys.executable, __file__, "--side", side, "--case", case, "--n", str(n),
                                   "--periods", str(periods), "--out", str(out)], capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{side} {case} {n}x{periods} failed: {done.stderr.strip().splitlines()[-1]}")
                continue
            res[side] = json.loads(done.stdout.strip().splitlines()[-1])
            res[side]["cells_file"] = out
            rows.append(res[side])
            print(res[side], flush=True)
        if len(res) == 2:
            a = pd.read_csv(res["ours"]["cells_file"])
            b = pd.read_csv(res["csdid"]["cells_file"])
            m = a.merge(b, on=["group", "time"], suffixes=("_ours", "_csdid"))
            diff = float(np.max(np.abs(m["estimate_ours"] - m["estimate_csdid"])))
            se = float(np.nanmax(np.abs(m["std_error_ours"] - m["std_error_csdid"]) / m["std_error_csdid"]))
            print(f"  {case} {n:,} x {periods}: {len(m)} common cells, max |ATT(g,t) ours - csdid| = {diff:.2e}, "
                  f"max relative se difference {se:.2e}; "
                  f"speed-up {res['csdid']['att_gt_s'] / max(res['ours']['att_gt_s'], 1e-9):.0f}x", flush=True)
            rows[-1]["max_abs_diff_vs_ours"] = diff
    table = pd.DataFrame(rows).drop(columns="cells_file", errors="ignore")
    (HERE / "results" / "did_peers.md").write_text(table.to_markdown(index=False) + "\n")
    print(table.to_markdown(index=False))


if __name__ == "__main__":
    main()
