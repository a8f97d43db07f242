"""Run every benchmark step in a fresh process and tabulate seconds and peak memory.

    python benchmarks/run_all.py [--sizes 50000 1000000] [--studies]     (make bench: everything, both sizes)

Each step runs as ``python benchmarks/run_all.py --step NAME --persons N`` in its own
process, so the peak resident set size (``ru_maxrss`` of the child) is that step's alone.
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

import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = Path(tempfile.gettempdir()) / "rendeert-bench"


def dataset(n: int) -> Path:
    return DATA / f"synthetic-{n}"


def step(name: str, n: int) -> dict:
    start = time.perf_counter()
    extra = {}
    if name == "generate":
        from analysis.data.synthetic import generate

        generate(dataset(n), n_persons=n, seed=1)
    elif name == "validate":
        from analysis.data import load_dataset

        ds = load_dataset(dataset(n))
        extra["rows"] = int(sum(ds.n_rows().values()))  # row counts from validation: no table is read
    elif name == "store":
        import shutil

        from analysis.data import build_store, load_dataset

        ds = load_dataset(dataset(n))
        root = DATA / f"processed-{n}"
        shutil.rmtree(root, ignore_errors=True)
        start = time.perf_counter()  # the build alone
        store = build_store(ds, root=root)
        extra["person_month_rows"] = int(store.connect().execute("SELECT count(*) FROM person_month").fetchone()[0])
    elif name == "did":
        import numpy as np

        from analysis.estimators import att_gt

        rng = np.random.default_rng(0)
        periods = 10
        g = rng.choice([0, 4, 6, 8], size=n)
        y = rng.normal(size=(n, periods)) + 0.5 * ((g[:, None] > 0) & (np.arange(1, periods + 1)[None, :] >= g[:, None]))
        frame = pd.DataFrame({"id": np.repeat(np.arange(n), periods), "t": np.tile(np.arange(1, periods + 1), n),
                              "y": y.ravel(), "g": np.repeat(g, periods)})
        start = time.perf_counter()
        r = att_gt(frame, outcome="y", unit="id", time="t", cohort="g")
        r.aggregate("simple")
        extra["cells"] = len(r.estimates)
    elif name.startswith("bench_did:"):  # benchmarks/bench_did.py cases at their target sizes
        sys.path.insert(0, str(HERE))
        import bench_did

        extra = {k: v for k, v in bench_did.run(name.split(":", 1)[1], n).items() if k.endswith("_s")}
    elif name in ("cox", "cox_statsmodels"):  # n right-censored spells, 5 covariates, durations in months 1..120
        import numpy as np

        from analysis.estimators import cox

        rng = np.random.default_rng(0)
        X = rng.normal(size=(n, 5))
        months = np.ceil(rng.exponential(20 / np.exp(X @ [0.5, -0.3, 0.1, 0.0, 0.2]))).clip(1, 120)
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)]).assign(
            months=months, ended=(rng.random(n) < 0.7).astype(int))
        start = time.perf_counter()
        fit = cox(frame, duration="months", event="ended", covariates=[f"x{i}" for i in range(5)],
                  engine="newton" if name == "cox" else "statsmodels")
        extra["engine"] = fit.diagnostics["engine"]
    elif name == "cox_tv":  # n persons as counting-process rows: delayed entry, a covariate switching mid-spell
        import numpy as np

        from analysis.estimators import cox

        rng = np.random.default_rng(0)
        X = rng.normal(size=(n, 4))
        entry = rng.integers(0, 24, n).astype(float)
        stop = entry + np.ceil(rng.exponential(20 / np.exp(X @ [0.5, -0.3, 0.1, 0.0]))).clip(1, 120)
        ended = (rng.random(n) < 0.7).astype(int)
        switch = entry + np.floor(rng.uniform(0, 1, n) * (stop - entry))
        two = switch > entry  # these persons get two rows: (entry, switch] and (switch, stop], z flips between them
        z0 = (rng.random(n) < 0.5).astype(float)
        frame = pd.DataFrame({
            **{f"x{i}": np.concatenate([X[:, i], X[two, i]]) for i in range(4)},
            "z": np.concatenate([z0, 1 - z0[two]]),
            "start": np.concatenate([entry, switch[two]]),
            "stop": np.concatenate([np.where(two, switch, stop), stop[two]]),
            "ended": np.concatenate([np.where(two, 0, ended), ended[two]]),
        })
        extra["rows"] = len(frame)
        start = time.perf_counter()
        fit = cox(frame, duration="stop", event="ended", covariates=[*(f"x{i}" for i in range(4)), "z"], entry="start")
        extra["engine"] = fit.diagnostics["engine"]
    elif name.startswith("study:"):
        from analysis.run.runner import run_study

        run_study(name.split(":", 1)[1], {"dataset": str(dataset(n))}, out_root=DATA / "reports", progress=False)
    else:
        raise SystemExit(f"unknown step {name}")
    seconds = time.perf_counter() - start
    # the largest of this process and its children (a study's kernel runs in a child process)
    peak_mb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    return {"step": name, "persons": n, "seconds": round(seconds, 2), "peak_mb": round(peak_mb), **extra}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="+", type=int, default=[50_000, 1_000_000])
    parser.add_argument("--step")
    parser.add_argument("--persons", type=int)
    parser.add_argument("--studies", action="store_true", help="also time every study at every size")
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.persons)))
        return
    rows = []
    plan = [(s, n) for n in args.sizes for s in ("generate", "validate", "store", "did")]
    plan += [("bench_did:unconditional", 1_000_000), ("bench_did:dr", 100_000)]
    plan += [("cox", n) for n in args.sizes] + [("cox_statsmodels", min(args.sizes))]
    plan += [("cox_tv", n) for n in args.sizes]
    if args.studies:
        plan += [(f"study:{s}", n) for n in args.sizes for s in ("overview", "intake", "exit_health", "intervention")]
    for name, n in plan:
        out = subprocess.run([sys.executable, __file__, "--step", name, "--persons", str(n)], capture_output=True,
                             text=True)
        if out.returncode != 0:
            rows.append({"step": name, "persons": n, "seconds": None, "peak_mb": None,
                         "error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"})
        else:
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    if len(args.sizes) > 1:  # how each step grows with size: time and memory at the largest over the smallest
        small, large = min(args.sizes), max(args.sizes)
        wide = table.pivot_table(index="step", columns="persons", values=["seconds", "peak_mb"], aggfunc="first")
        if ("seconds", small) in wide and ("seconds", large) in wide:
            growth = (wide[("seconds", large)] / wide[("seconds", small)]).rename("time_growth")
            table = table.merge(growth.round(1), left_on="step", right_index=True, how="left")
    (HERE / "results").mkdir(exist_ok=True)
    table.to_csv(HERE / "results" / "benchmarks.csv", index=False)
    (HERE / "results" / "benchmarks.md").write_text(table.to_markdown(index=False) + "\n")
    print(table.to_markdown(index=False))


if __name__ == "__main__":
    main()
