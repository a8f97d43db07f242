"""Benchmark: the at-risk designs (issue #14) beside the designs the studies used before, on the simulator.

One synthetic dataset (``analysis.data.synthetic.generate``, seed 1) of N persons; for each case the
study's own code builds the inputs from the processed store and the estimator runs as the study calls it:

- intake (divorce, monthly, event time -24..36, the whole population, no split by sex):
  ``intake_old`` the plain ``att_gt`` on ``Panel.from_arrays(y, cohort)`` with not-yet-treated controls
  and no covariates (the study before the at-risk design, commit 9518686^);
  ``intake_<control>`` ``att_gt_at_risk(y, cohort, at_risk, covariates=ev.covariates_at, method="dr",
  anticipation=3, base_period="universal")`` with ``control`` "risk_set", "not_yet_treated" and
  "not_treated_in_window" (what the study now uses); ``y`` is bijstand receipt (0/1) per person-month of
  everyone ever in a union (``intake._panel``), ``ev`` the divorce cohorts (``kit.events.divorce_cohorts``).
- exit to work (yearly, event time -4..4, antidepressant use): ``exit_old`` the plain ``att_gt`` on the
  long person-year frame of ``exit_health.panel`` (everyone ever on bijstand, not-yet-treated, dr without
  covariates, universal base; the study's defaults); ``exit_risk_set`` ``att_gt_at_risk(control="risk_set",
  method="dr", base_period="universal")`` on the persons x years matrix of the same outcome with the
  exit-to-work cohorts, their at-risk matrix (on bijstand on 31 December, not yet left for work) and
  covariates (``kit.events.exit_to_work_cohorts``); persons with a missing year are left out, as the study does.

Each case runs in a fresh process (``--case NAME --persons N``). Reported: ``prepare_s`` (inputs from the
store: the study's own code), ``estimate_s`` (the estimator), ``aggregate_s`` (``aggregate("dynamic")``), wall
time, and the same as CPU time of the process (``*_cpu_s``: on a machine shared with other jobs the
wall time mostly measures the wait for a core),
``peak_mb`` (``ru_maxrss`` of the whole process: dataset, store, inputs, estimation) and ``estimate_mb``
(the largest resident set sampled every 20 ms during estimation and aggregation, minus the resident set
when the estimator was called: what the estimator itself adds).

    python benchmarks/bench_at_risk.py --persons 50000              # every case at one size
    python benchmarks/bench_at_risk.py --persons 1000000 --write    # and update benchmarks/results/at_risk_1000000.*
    python benchmarks/bench_at_risk.py --case intake_risk_set --persons 50000

The dataset and its store are built once per size under $TMPDIR/rendeert-bench (the first case run
generates them, ~2 minutes and ~9 GB at 1,000,000 persons; not counted in any case).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = Path(tempfile.gettempdir()) / "rendeert-bench"
INTAKE_CONTROLS = ("risk_set", "not_yet_treated", "not_treated_in_window")
CASES = ("intake_old", *(f"intake_{c}" for c in INTAKE_CONTROLS), "exit_old", "exit_risk_set")
INTAKE_WINDOW = (-24, 36)
EXIT_WINDOW = (-4, 4)


def dataset(n: int) -> Path:
    """The synthetic dataset of n persons (generated on first use)."""
    path = DATA / f"synthetic-{n}"
    if not (path / "dataset.yml").exists():
        from analysis.data.synthetic import generate

        generate(path, n_persons=n, seed=1)
    return path


class PeakRss:
    """Largest resident set (MB) seen by a background thread sampling /proc/self/statm."""

    def __init__(self, every: float = 0.02):
        self.every, self.peak, self._stop = every, 0.0, threading.Event()
        self.page = os.sysconf("SC_PAGE_SIZE") / 2**20

    def now(self) -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def __enter__(self):
        self.start = self.now()
        self.peak = self.start
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self.now())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def _intake_inputs(n: int):
    """The intake study's own design (``intake.design``) on the whole population, divorce, bijstand receipt."""
    import analysis as rd
    from analysis.studies import intake

    run = intake.setup(dataset=str(dataset(n)))
    pop = rd.population(run.store)
    dsg = intake.design(run, pop, event="divorce")
    y = intake.outcome_matrix(run, dsg, "bijstand")  # persons x months, everyone at risk of a divorce
    return intake.Options(), dsg.people, y, dsg.cohorts


def _exit_inputs(n: int):
    """exit_health's own design (``exit_health.design.build``, the notebook's default 31 days) on everyone."""
    import analysis as rd
    from analysis.studies.exit_health import design as dz

    run = rd.start("exit_health", title_key="exit_health.title", parameters=dict(dataset=str(dataset(n))))
    return dz.build(run.store, exit_window_days=31, population=rd.population(run.store))


def run_case(case: str, n: int) -> dict:
    from analysis.estimators import att_gt
    from analysis.estimators.did.at_risk import att_gt_at_risk
    from analysis.estimators.did.panel import Panel
    from analysis.studies.exit_health import design as dz

    t0 = time.perf_counter()
    extra: dict = {}
    if case.startswith("intake_"):
        opts, people, y, ev = _intake_inputs(n)
        extra.update(units=int(len(people)), treated=int((ev.cohort > 0).sum()), periods=int(y.shape[1]))
        if case == "intake_old":
            def estimate():
                return att_gt(Panel.from_arrays(y, ev.cohort), control="not_yet_treated",
                              seed=0, event_window=INTAKE_WINDOW)
        else:
            control = case.removeprefix("intake_")

            def estimate():
                return att_gt_at_risk(y, ev.cohort, ev.at_risk, covariates=ev.covariates_at,
                                      covariate_names=list(ev.covariate_names), control=control, method="dr",
                                      anticipation=opts.anticipation, base_period=opts.base_period,
                                      event_window=INTAKE_WINDOW, seed=0)
    elif case == "exit_old":
        design = _exit_inputs(n)
        frame = dz.long_frame(design, "antidepressants")
        extra.update(units=int(frame["person_id"].nunique()), rows=int(len(frame)),
                     treated=int((frame.groupby("person_id")["g_work"].first() > 0).sum()))

        def estimate():
            return att_gt(frame, outcome="antidepressants", unit="person_id", time="year", cohort="g_work",
                          control="not_yet_treated", method="dr", seed=0, base_period="universal")
    elif case == "exit_risk_set":
        design = _exit_inputs(n)
        extra.update(units=int(len(design.work.cohort)), treated=int((design.work.cohort > 0).sum()),
                     periods=int(len(design.years)))

        def estimate():
            fit = dz.estimate(design, "antidepressants", control_group="risk_set", base_period="universal",
                              event_window=EXIT_WINDOW, seed=0)
            if fit.result is None:
                raise SystemExit(f"exit_risk_set: nothing estimated ({fit.reason})")
            return fit.result
    else:
        raise SystemExit(f"unknown case {case!r}; choose one of {', '.join(CASES)}")
    prepare_s = time.perf_counter() - t0
    with PeakRss() as rss:
        t1, c1 = time.perf_counter(), time.process_time()
        result = estimate()
        t2, c2 = time.perf_counter(), time.process_time()
        dyn = result.aggregate("dynamic")
        t3, c3 = time.perf_counter(), time.process_time()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    post = dyn.estimates.drop(index="ATT", errors="ignore")
    e0 = post.loc["e=0"] if "e=0" in post.index else None
    return {"case": case, "persons": n, "prepare_s": round(prepare_s, 1), "estimate_s": round(t2 - t1, 2),
            "aggregate_s": round(t3 - t2, 2), "estimate_cpu_s": round(c2 - c1, 2), "aggregate_cpu_s": round(c3 - c2, 2),
            "peak_mb": round(peak_mb), "estimate_mb": round(rss.peak - rss.start),
            "cells": int(len(result.estimates)), **extra,
            "att_e0": None if e0 is None else round(float(e0["estimate"]), 5),
            "se_e0": None if e0 is None else round(float(e0["std_error"]), 5)}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))) / 2**20
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    return {"date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gb": round(mem, 1), "python": platform.python_version(), "numpy": np.__version__,
            "commit": commit, "load_1min": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=50_000)
    parser.add_argument("--case", choices=CASES)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--write", action="store_true", help="write benchmarks/results/at_risk_<persons>.{csv,md}")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.persons)))
        return
    dataset(args.persons)                       # generate once, outside every case's clock and process
    info = machine()
    rows = []
    for case in args.cases:
        out = subprocess.run([sys.executable, __file__, "--case", case, "--persons", str(args.persons)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            last = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"
            rows.append({"case": case, "persons": args.persons, "error": last})
        else:
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
        if args.write:                          # after every case: a long run stopped early keeps what it measured
            write(pd.DataFrame(rows), info, args.persons)
    print(pd.DataFrame(rows).to_markdown(index=False))


def write(table: pd.DataFrame, info: dict, persons: int) -> None:
    """Update benchmarks/results/at_risk_<persons>.{csv,md} in place: the cases run now replace their rows
    (each row keeps the date and commit it was measured at), the other cases' rows stay, and so does a
    hand-written "## Notes" section at the end of the .md."""
    (HERE / "results").mkdir(exist_ok=True)
    stem = HERE / "results" / f"at_risk_{persons}"
    new = table.assign(**{k: info[k] for k in ("date_utc", "commit")})
    csv = stem.with_suffix(".csv")
    if csv.exists():
        old = pd.read_csv(csv)
        new = pd.concat([old[~old["case"].isin(new["case"])], new], ignore_index=True)
    order = {c: i for i, c in enumerate(CASES)}
    new = new.sort_values("case", key=lambda c: c.map(order)).reset_index(drop=True)
    new.to_csv(csv, index=False)
    header = ", ".join(f"{k} {v}" for k, v in info.items())
    md = stem.with_suffix(".md")
    notes = md.read_text().partition("\n## Notes")[2] if md.exists() else ""   # hand-written notes stay
    md.write_text(f"# bench_at_risk.py, {persons:,} persons\n\nlast run: {header}\n\n" + new.to_markdown(index=False)
                  + "\n" + (f"\n## Notes{notes}" if notes else ""))


if __name__ == "__main__":
    main()
