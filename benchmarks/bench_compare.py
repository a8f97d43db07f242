"""Benchmark: the ``compare`` study (issue #15) at 50,000 and 1,000,000 persons, 2 cores.

Each size runs in a fresh process: generate a synthetic dataset with municipal effects
(``generate(..., municipal_effects=True)``, not timed in the study figure), then the notebook's
steps (notebooks/50_compare.py) in-process through the public API, without papermill or PDF:
setup (store build and population), the units at risk, the reference logit (with municipal fixed
effects), the comparison (ratios, overdispersion, shrinkage, ranks), funnel, table, peers and summary. Peak memory is ``ru_maxrss`` of that process (the generator's included, so
it is an upper bound of the study's own). Results go to ``benchmarks/results/compare.csv`` and
``compare.md`` with date, machine and commit.

    python benchmarks/bench_compare.py                    # 50,000 and 1,000,000
    python benchmarks/bench_compare.py --sizes 50000
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _defaults(study: str) -> dict:
    """The declared defaults of a study's parameters (the notebook's parameters cell)."""
    import ast

    from analysis.run.catalog import get_study

    return {d.name: ast.literal_eval(d.default) for d in get_study(study).user_parameters}


def one(n: int) -> dict:
    """The notebook's steps (notebooks/50_compare.py, default parameters) through the public API, timed."""
    import analysis as rd
    from analysis.data.synthetic import generate
    from analysis.studies import compare as cmp

    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        t0 = time.perf_counter()
        data = generate(Path(tmp) / "data", n_persons=n, seed=1, municipal_effects=True)
        t_gen = time.perf_counter() - t0
        steps = {}
        t = time.perf_counter()
        p = {**_defaults("compare"), "dataset": str(data), "output_dir": str(Path(tmp) / "out")}
        run = rd.start("compare", parameters=p)
        pop = rd.population(run.store, municipality="all", age_min=p["age_min"], age_max=p["age_max"], sex=p["sex"],
                            first_year=p["first_year"], last_year=p["last_year"])
        steps["setup_store"] = time.perf_counter() - t
        t = time.perf_counter()
        units = cmp.units(pop, outcome=p["outcome"], year=p["year"], covariates=p["covariates"])
        steps["population_frame"] = time.perf_counter() - t
        t = time.perf_counter()
        model = cmp.reference_model(units)
        steps["reference_model"] = time.perf_counter() - t
        t = time.perf_counter()
        raw = cmp.raw_rates(units, policy=run.policy, log=run.report.log)
        rows = {r["name"]: r for r in run.add(cmp.raw_rate_rows(units, raw))}
        comparison = cmp.standardise(units, model, raw, seed=0)
        rows |= {r["name"]: r for r in run.add(cmp.comparison_rows(units, comparison),
                                               residual_df=model.residual_df)}
        figure, caption = cmp.funnel_figure(units, comparison, rows, municipality="all", lang=run.lang,
                                            policy=run.policy, log=run.report.log)
        cmp.comparison_table(units, raw, comparison, rows, lang=run.lang, policy=run.policy, log=run.report.log)
        cmp.peers_table(units, raw, lang=run.lang, k=cmp.N_PEERS)
        cmp.methods_text(units, comparison, lang=run.lang)
        cmp.summary_text(units, comparison, rows, municipality="all", lang=run.lang, min_units=run.policy.min_units)
        run.finish()
        steps["compare_report"] = time.perf_counter() - t
    return {"persons": n, "generate_s": round(t_gen, 2), **{f"{k}_s": round(v, 2) for k, v in steps.items()},
            "study_s": round(sum(steps.values()), 2), "rows": len(units.frame) if hasattr(units, "frame") else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50000,1000000")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one)))
        return 0
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, cwd=ROOT)
        if out.returncode:
            print(out.stderr[-3000:], file=sys.stderr)
            return out.returncode
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine":
            f"{platform.node()} {platform.machine()}, {__import__('os').cpu_count()} cores (shared)", "commit": commit}
    import pandas as pd

    table = pd.DataFrame(rows).assign(**meta)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "compare.csv"
    if path.exists():
        table = pd.concat([pd.read_csv(path), table], ignore_index=True)
    table.to_csv(path, index=False)
    (RESULTS / "compare.md").write_text(
        "# compare study timings\n\nWritten by `benchmarks/bench_compare.py`; one row per run.\n\n"
        + table.to_markdown(index=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
