"""Benchmark: Callaway & Sant'Anna ATT(g,t) (``att_gt``) at register scale, 2 cores.

Targets (issue #3):

- unconditional, 1,000,000 units x 10 periods, balanced: under 5 s;
- doubly robust with two covariates, 100,000 units x 60 periods: under 60 s and 4 GB.

The synthetic panels have staggered cohorts and a known effect that grows with time
since treatment, ATT(g,t) = 0.5 + 0.02 (t - g) for t >= g and 0 before. In the
covariate design both the trend and who is never treated depend on the covariates,
so parallel trends hold only conditionally (the unconditional estimate is biased,
the doubly robust one is not); the printed errors against the truth are a sanity
check, not a test.

Each measurement runs in a fresh process, so peak RSS (``resource.getrusage``,
``ru_maxrss``) is that of one run: the long frame (built before the clock starts),
the estimation and the aggregations. Seconds are wall time of ``att_gt`` (panel
building included) and of each aggregation separately.

    python benchmarks/bench_did.py                       # both targets
    python benchmarks/bench_did.py --only unconditional --n 200000
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
import pandas as pd

EFFECT, SLOPE = 0.5, 0.02
CASES = {
    "unconditional": {"n": 1_000_000, "periods": 10, "cohorts": [4, 6, 8], "covariates": []},
    "dr": {"n": 100_000, "periods": 60, "cohorts": list(range(13, 55)), "covariates": ["x1", "x2"]},
}


def simulate(n: int, periods: int, cohorts: list[int], *, covariates: bool, seed: int = 0) -> pd.DataFrame:
    """Long panel sorted by unit and period; columns id, t, y, g (0 = never treated), x1, x2."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = (rng.random(n) < 0.5).astype(float)
    if covariates:
        p_never = 1 / (1 + np.exp(-(-0.4 + 0.6 * x1 - 0.4 * x2)))
        never = rng.random(n) < p_never
    else:
        never = rng.random(n) < 0.4
    g = np.where(never, 0, rng.choice(cohorts, size=n))
    t = np.arange(1, periods + 1)
    trend = 0.05 * t[None, :] * ((x1 + 0.5 * x2)[:, None] if covariates else 1.0)
    y = rng.normal(size=(n, 1)) + 0.02 * t[None, :] + trend + rng.normal(scale=0.5, size=(n, periods))
    treated = (g[:, None] > 0) & (t[None, :] >= g[:, None])
    y += treated * (EFFECT + SLOPE * (t[None, :] - g[:, None]))
    frame = pd.DataFrame({"id": np.repeat(np.arange(n), periods), "t": np.tile(t, n), "y": y.ravel(),
                          "g": np.repeat(g, periods)})
    if covariates:
        frame["x1"] = np.repeat(x1, periods)
        frame["x2"] = np.repeat(x2, periods)
    return frame


def truth_simple(cohort: np.ndarray, periods: int) -> float:
    """The simple aggregation's estimand: post cells weighted by cohort share."""
    gs, counts = np.unique(cohort[cohort > 0], return_counts=True)
    num = den = 0.0
    for g, c in zip(gs, counts):
        for t in range(int(g), periods + 1):
            num += c * (EFFECT + SLOPE * (t - g))
            den += c
    return num / den


def run(case: str, n: int) -> dict:
    from analysis.estimators import att_gt

    spec = CASES[case]
    frame = simulate(n, spec["periods"], spec["cohorts"], covariates=bool(spec["covariates"]))
    out = {"case": case, "units": n, "periods": spec["periods"], "rows": len(frame)}
    start = time.perf_counter()
    result = att_gt(frame, outcome="y", unit="id", time="t", cohort="g", covariates=spec["covariates"],
                    method="dr")
    out["att_gt_s"] = time.perf_counter() - start
    out["cells"] = len(result.estimates)
    out["path"] = result.diagnostics["path"]
    est = result.estimates
    post = est[est["time"] >= est["group"]]
    out["max_abs_error_post_cells"] = float((post["estimate"] - (EFFECT + SLOPE * post["event_time"])).abs().max())
    out["median_se_post_cells"] = float(post["std_error"].median())
    start = time.perf_counter()
    simple = result.aggregate("simple").estimates.loc["ATT"]
    out["simple_s"] = time.perf_counter() - start
    out["simple_error"] = float(simple["estimate"] - truth_simple(result.cohorts, spec["periods"]))
    out["simple_se"] = float(simple["std_error"])
    start = time.perf_counter()
    result.aggregate("dynamic")
    out["dynamic_s"] = time.perf_counter() - start
    out["total_s"] = out["att_gt_s"] + out["simple_s"] + out["dynamic_s"]
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    return out


def measure(case: str, n: int) -> dict:
    """One run in a child process; its timings and peak RSS."""
    code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_did as b; "
            f"print(json.dumps(b.run({case!r}, {n})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        return {"case": case, "units": n, "error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(CASES), help="run one case")
    parser.add_argument("--n", type=int, help="units (default: the case's target size)")
    args = parser.parse_args()
    for case in [args.only] if args.only else list(CASES):
        out = measure(case, args.n or CASES[case]["n"])
        if "error" in out:
            print(f"{case}: failed: {out['error']}")
            continue
        print(f"{case}: {out['units']:,} units x {out['periods']} periods, {out['cells']} cells ({out['path']})\n"
              f"  att_gt {out['att_gt_s']:.2f} s, simple {out['simple_s']:.2f} s, dynamic {out['dynamic_s']:.2f} s"
              f" (total {out['total_s']:.2f} s), peak RSS {out['peak_rss_gb']:.2f} GB\n"
              f"  max |ATT(g,t) - truth| over post cells {out['max_abs_error_post_cells']:.4f} "
              f"(median se {out['median_se_post_cells']:.4f}); simple ATT - truth {out['simple_error']:.4f} "
              f"(se {out['simple_se']:.4f})", flush=True)
        print(json.dumps(out))


if __name__ == "__main__":
    main()
