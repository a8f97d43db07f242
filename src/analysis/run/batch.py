"""Batches: one study over many parameter sets, in parallel, each run in its own directory.

    rendeert batch STUDY --grid grid.yml [-p NAME v1,v2 ...] [--workers N] [--scheduler tcp://HOST:PORT] [--resume]

The grid is the Cartesian product of the listed values (a YAML mapping of
name -> list, or ``-p NAME v1,v2``; the value ``@municipalities`` expands to
every municipality code in the dataset, or for the benchmark study in the CBS
StatLine tables of the years asked for). Every combination is one run through
:func:`analysis.run.runner.run_study` in a separate process with its own
kernel, run directory, figures and manifest, so nothing shared can be
overwritten. Runs go to local processes, one per run and at most ``--workers``
at a time (default the number of cores; a killed process costs its own run
only), or, with ``--scheduler``, to an existing Dask distributed cluster;
notebooks do not change. A value listed twice in a parameter list is refused,
``--policy`` reaches every run, and a batch never moves ``<study>/latest``. A failing run does not stop the others; the
batch ends with a table of failures and a non-zero exit. ``--resume`` skips
combinations whose results already exist with the same parameters and the
same dataset hash. Each batch writes ``reports/<study>/batch-<id>/`` with
``runs.csv`` (one row per run: parameters, status, run directory, worker,
error naming the failing cell), ``summary.csv`` (every estimate of every run,
one row each, after cross-run disclosure control) and ``summary.pdf`` (forest
plot, funnel plot for municipality comparisons, table): see
:mod:`analysis.run.summary`.
"""

from __future__ import annotations

import ast
import itertools
import json
import multiprocessing
import os
import socket
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import yaml

from analysis.errors import AnalysisError, ParameterError
from analysis.paths import reports_root
from analysis.run.params import read_yaml_file

ALL_MUNICIPALITIES = "@municipalities"


@dataclass(frozen=True)
class RunSpec:
    key: str
    parameters: dict


def _duplicates(values) -> list:
    seen, dupes = [], []
    for v in values:
        key = json.dumps(v, sort_keys=True, default=str) if not isinstance(v, str) else v.strip()
        if key in seen and v not in dupes:
            dupes.append(v)
        seen.append(key)
    return dupes


def expand_grid(grid: Mapping[str, Any]) -> list[dict]:
    """Every combination of the grid's values (scalars count as one value).

    A value listed twice is refused: two runs of one population would both be published, and a
    list with repeats defeats the cross-run control that compares distinct runs.
    """
    names = list(grid)
    values = [v if isinstance(v, (list, tuple)) else [v] for v in grid.values()]
    for name, vals in zip(names, values):
        if len(vals) == 0:
            raise ParameterError(f"Grid parameter {name!r} has no values.")
        dupes = _duplicates(vals)
        if dupes:
            raise ParameterError(
                f"Grid parameter {name!r} lists {', '.join(map(repr, dupes))} more than once "
                f"(received {list(vals)!r}); give each value once.")
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


def read_grid(path: str | Path | None, params: list[tuple[str, str]] | None) -> dict:
    """Merge a grid file and ``-p NAME v1,v2`` options into one mapping name -> values."""
    grid: dict = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ParameterError(f"Grid file {str(p)!r} does not exist.")
        loaded = read_yaml_file(p, "Grid file") or {}
        if not isinstance(loaded, dict):
            raise ParameterError(f"Grid file {p.name} must be a mapping of parameter name to a list of values.")
        grid.update(loaded)
    given = set()
    for name, value in params or []:
        if name in given:
            raise ParameterError(f"Grid parameter {name!r} is given twice with -p; "
                                 "give it once with all its values.")
        given.add(name)
        grid[name] = [v.strip() for v in str(value).split(",")] if value != ALL_MUNICIPALITIES else value
    return grid


def _statline_municipalities(fixed: Mapping[str, Any], grid: Mapping[str, Any], default_year: str) -> list[str]:
    """Municipality codes in the CBS StatLine tables, present in every year the batch asks for."""
    from analysis.data.statline import load_participatiewet

    years = grid.get("year", fixed.get("year", default_year))
    years = [int(y) for y in (years if isinstance(years, (list, tuple)) else [years])]
    frame = load_participatiewet(tuple(years), directory=fixed.get("statline_dir") or None)
    gm = frame[frame["region_type"] == "GM"]
    per_year = [set(g["region"]) for _, g in gm.groupby("year")]
    return sorted(set.intersection(*per_year)) if per_year else []


def _municipalities(dataset: str | None) -> list[str]:
    from analysis.paths import resolve_path

    if not dataset:
        raise ParameterError(f"{ALL_MUNICIPALITIES} needs a dataset (--dataset) to list municipalities from.")
    d = resolve_path(dataset)
    for name in ("persons.parquet", "persons.csv"):
        if (d / name).is_file():
            frame = pd.read_parquet(d / name, columns=["municipality_code"]) if name.endswith("parquet") \
                else pd.read_csv(d / name, usecols=["municipality_code"], dtype=str)
            return sorted(frame["municipality_code"].dropna().unique())
    raise ParameterError(f"No persons table in {str(d)!r} to list municipalities from.")


def _effective_key(parameters: Mapping[str, Any], defaults: Mapping[str, str]) -> str:
    """A run's identity: its declared defaults overlaid with the parameters it was given."""
    import ast

    effective = {}
    for name, text in defaults.items():
        try:
            effective[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            effective[name] = text
    effective.update(parameters)
    return json.dumps(effective, sort_keys=True, default=str)


def plan(study: str, grid: Mapping[str, Any], fixed: Mapping[str, Any]) -> list[RunSpec]:
    """Validated run specifications, one per grid combination (checked before anything starts)."""
    from analysis.run.runner import prepare

    from analysis.run.catalog import get_study

    grid = dict(grid)
    declared = {p.name: p for p in get_study(study).user_parameters}
    for name, value in list(grid.items()):
        if value == ALL_MUNICIPALITIES or value == [ALL_MUNICIPALITIES]:
            if "dataset" not in declared and "statline_dir" in declared:  # a study on CBS StatLine figures
                grid[name] = _statline_municipalities(fixed, grid, declared["year"].default)
            else:
                grid[name] = _municipalities(fixed.get("dataset") or (
                    ast.literal_eval(declared["dataset"].default) if "dataset" in declared else None))
    specs = []
    seen: dict[str, dict] = {}
    for combo in expand_grid(grid):
        params = {**fixed, **combo}
        spec, checked = prepare(study, params)
        key = _effective_key(checked, {p.name: p.default for p in spec.user_parameters})
        if key in seen:  # "12" and 12, or a default listed again: the same run twice
            raise ParameterError(f"Grid combinations {seen[key]!r} and {combo!r} are the same run of {study!r} "
                                 "after conversion (a value listed twice); give each value once.")
        seen[key] = combo
        specs.append(RunSpec(key=key, parameters=checked))
    return specs


def _previous_results(study: str, out_root: Path) -> dict:
    """Existing successful runs of ``study``: key (parameters + dataset hash) -> run directory."""
    found = {}
    base = out_root / study
    if not base.is_dir():
        return found
    for manifest_path in base.glob("*/manifest.json"):
        try:
            m = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if m.get("status") == "ok" and (manifest_path.parent / "results.json").is_file():
            dhash = (m.get("dataset") or {}).get("sha256")
            key = _effective_key(m["parameters"], m.get("defaults", {}))
            found[(key, dhash)] = manifest_path.parent
    return found


def _dataset_hash(params: Mapping[str, Any]) -> str | None:
    from analysis.run.manifest import dataset_fingerprint

    if "dataset" not in params:
        return None
    return dataset_fingerprint(Path(params["dataset"]))["sha256"]


def execute_one(study: str, parameters: dict, out_root: str, pdf: bool = True, policy: str | None = None) -> dict:
    """Run one combination (in a worker process); never raises: returns a status record."""
    from analysis.run.runner import run_study

    where = f"{socket.gethostname()}:{os.getpid()}"
    started = time.perf_counter()
    try:
        outcome = run_study(study, parameters, out_root=Path(out_root), progress=False, pdf=pdf,
                            extra_manifest={"batch_worker": where}, policy=policy)
        return {"status": "ok", "run_dir": str(outcome.run_dir), "error": "", "worker": where,
                "seconds": round(time.perf_counter() - started, 1)}
    except AnalysisError as exc:
        return {"status": "failed", "run_dir": "", "error": str(exc), "worker": where,
                "seconds": round(time.perf_counter() - started, 1)}
    except Exception as exc:  # a crash in one run must not stop the batch; it is reported
        return {"status": "failed", "run_dir": "", "error": f"{type(exc).__name__}: {exc}", "worker": where,
                "seconds": round(time.perf_counter() - started, 1)}


def _worker_main(conn, study: str, parameters: dict, out_root: str, pdf: bool, policy: str | None) -> None:
    """Entry point of one run's own process: its status record goes back through ``conn``."""
    record = execute_one(study, parameters, out_root, pdf, policy)
    conn.send(record)
    conn.close()


class _Progress:
    """One live line for the batch: done, failed, running, of total."""

    def __init__(self, total: int, enabled: bool = True):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc="batch", unit="run", disable=not enabled, file=sys.stderr)
        self.failed = 0

    def update(self, record: dict, running: int) -> None:
        self.failed += record["status"] == "failed"
        self.bar.set_postfix(failed=self.failed, running=running)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def run_batch(
    study: str,
    grid: Mapping[str, Any],
    *,
    fixed: Mapping[str, Any] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    out_root: Path | None = None,
    pdf: bool = True,
    progress: bool = True,
    estimate: str | None = None,
    policy: str | os.PathLike | None = None,
) -> Path:
    """Run ``study`` for every grid combination; returns the batch directory (runs.csv, summary.csv/.pdf).

    ``estimate`` names the estimate that summary.pdf compares across runs (default: the first
    with a standard error). ``policy`` is a disclosure-policy file (tightening only) for every run
    and the summary. A batch never moves ``<study>/latest``.
    """
    from analysis.run.runner import load_policy

    if workers is not None and workers < 1:
        raise ParameterError(f"--workers {workers}: a batch needs at least one worker process.")
    if workers is not None and scheduler:
        raise ParameterError("--workers and --scheduler exclude each other: a Dask cluster brings its own workers.")
    out_root = Path(out_root) if out_root else reports_root()
    _, policy_path = load_policy(policy)
    policy = str(policy_path) if policy_path is not None else None
    specs = plan(study, grid, dict(fixed or {}))
    batch_dir = out_root / study / f"batch-{datetime.now().strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    try:
        batch_dir.mkdir(parents=True)
    except OSError as exc:
        raise ParameterError(f"Cannot create the batch directory {str(batch_dir)!r}: {exc.strerror or exc}. "
                             "Check --out: it must be a directory you can write to.") from None
    previous = _previous_results(study, out_root) if resume else {}
    hashes: dict = {}
    records, todo = [], []
    for spec in specs:
        dpath = spec.parameters.get("dataset")
        if dpath not in hashes:
            hashes[dpath] = _dataset_hash(spec.parameters)
        hit = previous.get((spec.key, hashes[dpath]))
        if hit is not None:
            records.append({"key": spec.key, **spec.parameters, "status": "skipped", "run_dir": str(hit),
                            "error": "", "worker": "", "seconds": 0.0})
        else:
            todo.append(spec)
    bar = _Progress(len(todo), enabled=progress)
    if scheduler:
        records += _run_dask(study, todo, scheduler, out_root, pdf, bar, policy)
    else:
        records += _run_local(study, todo, workers or os.cpu_count() or 1, out_root, pdf, bar, policy)
    bar.close()
    runs = pd.DataFrame(records)
    runs.to_csv(batch_dir / "runs.csv", index=False)
    summarise(runs, batch_dir, study=study, estimate=estimate, pdf=pdf,
              lang=str(dict(fixed or {}).get("lang", "nl")), policy=policy, out_root=out_root)
    return batch_dir


def _run_local(study, todo, workers, out_root, pdf, bar, policy=None) -> list[dict]:
    """Each run in its own process, at most ``workers`` at a time.

    A process that dies (killed, out of memory) costs its own run only: the others go on, the dead
    run is reported failed and its manifest marked interrupted. (A ProcessPoolExecutor would break
    the whole pool and lose every run in flight or queued.) "spawn": a forked copy of a parent that has
    started Arrow or DuckDB thread pools can deadlock.
    """
    from multiprocessing.connection import wait as wait_any

    from analysis.run.manifest import sweep_stale_runs

    ctx = multiprocessing.get_context("spawn")
    queue = list(todo)
    running: dict = {}  # sentinel -> (process, connection, spec)
    received: dict = {}  # sentinel -> the record its process sent
    records = []
    try:
        while queue or running:
            while queue and len(running) < workers:
                spec = queue.pop(0)
                receive, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_worker_main, args=(send, study, spec.parameters, str(out_root), pdf, policy),
                                   daemon=False)
                proc.start()
                send.close()
                running[proc.sentinel] = (proc, receive, spec)
            pipes = {entry[1]: sentinel for sentinel, entry in running.items() if sentinel not in received}
            ready_list = wait_any([*running, *pipes])
            for ready in sorted(ready_list, key=lambda r: r not in pipes):  # pipes first, then exits
                if ready in pipes:  # read the record as soon as it is sent: a full pipe never blocks a worker
                    try:
                        received[pipes[ready]] = ready.recv()
                    except (EOFError, OSError):
                        received[pipes[ready]] = None
                    continue
                if ready not in running:
                    continue
                proc, receive, spec = running.pop(ready)
                rec = received.pop(ready, None)
                if rec is None:
                    try:
                        rec = receive.recv() if receive.poll() else None
                    except (EOFError, OSError):
                        rec = None
                proc.join()
                receive.close()
                if rec is None:  # the worker process itself died: this run only
                    code = proc.exitcode
                    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    rec = {"status": "failed", "run_dir": "", "worker": f"{socket.gethostname()}:{proc.pid}",
                           "seconds": 0.0, "error": f"worker process died ({how}); only this run is lost, "
                           "the others went on. Rerun it with --resume."}
                    sweep_stale_runs(Path(out_root))
                records.append({"key": spec.key, **spec.parameters, **rec})
                bar.update(rec, running=len(running))
    finally:
        for proc, receive, _ in running.values():  # interrupted batch: stop the runs still going
            proc.terminate()
            proc.join(timeout=30)
    return records


def _run_dask(study, todo, scheduler, out_root, pdf, bar, policy=None) -> list[dict]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ParameterError(
            "--scheduler needs the packages dask and distributed (pip install 'dask[distributed]')."
        ) from None
    records = []
    with Client(scheduler, timeout="30s") as client:
        futures = {
            client.submit(execute_one, study, s.parameters, str(out_root), pdf, policy, pure=False, retries=1,
                          key=f"rendeert-{study}-{i}"): s
            for i, s in enumerate(todo)
        }
        for fut in as_completed(futures):
            spec = futures[fut]
            try:
                rec = fut.result()
            except Exception as exc:  # lost worker after retries: reported, not lost
                rec = {"status": "failed", "run_dir": "", "error": f"worker lost: {exc!r}", "worker": "",
                       "seconds": 0.0}
            records.append({"key": spec.key, **spec.parameters, **rec})
            bar.update(rec, running=sum(not f.done() for f in futures))
    return records


def summarise(runs: pd.DataFrame, batch_dir: Path, *, study: str = "", estimate: str | None = None,
              pdf: bool = True, lang: str = "nl", policy: str | os.PathLike | None = None,
              out_root: Path | None = None) -> pd.DataFrame:
    """summary.csv (and summary.pdf): every estimate of every successful or resumed run, one row each.

    Cross-run disclosure control runs first, so nothing in the summary, and nothing left in the
    runs, gives a small figure away by subtraction: a total against its published parts
    (:func:`analysis.run.summary.cross_run_control`), and every pair of runs, and every run against
    what was exported before from the same dataset (the register), whose n or numerators differ by
    1 to 9 units (:func:`analysis.run.summary.pairwise_control`). A withheld figure has no n.
    """
    from analysis.run import register
    from analysis.run.runner import load_policy
    from analysis.run.summary import (apply_to_runs, cross_run_control, pairwise_control, withhold_suppressed_counts,
                                      write_summary_pdf)

    rows, shas = [], {}
    for _, run in runs.iterrows():
        if run["status"] not in ("ok", "skipped"):
            continue
        results = json.loads((Path(run["run_dir"]) / "results.json").read_text(encoding="utf-8"))
        shas[str(run["run_dir"])] = (results.get("dataset") or {}).get("sha256")
        for e in results["estimates"]:
            rows.append({"run_dir": run["run_dir"], **{f"param_{k}": v for k, v in results["parameters"].items()},
                         **e})
    columns = ["run_dir", "name", "estimate", "se", "ci_low", "ci_high", "n", "unit", "suppressed"]
    summary = pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)
    policy_obj, policy_path = load_policy(policy)
    summary = withhold_suppressed_counts(summary)
    summary, log = cross_run_control(summary, policy_obj)
    earlier = []
    root = Path(out_root) if out_root else Path(batch_dir).parent.parent
    for sha in sorted({s for s in shas.values() if s}):
        earlier += register.exported_runs(sha, root=root)
    summary, pair_log = pairwise_control(summary, policy_obj, dataset_sha=shas, study=study, earlier=earlier)
    log += pair_log
    apply_to_runs(log)
    summary.to_csv(batch_dir / "summary.csv", index=False)
    # one entry per withheld figure: run, estimate, rule, n "<10" (never the remainder)
    (batch_dir / "disclosure_log.json").write_text(json.dumps(log, indent=2, default=str), encoding="utf-8")
    if pdf:
        write_summary_pdf(batch_dir, summary, runs, study=study, estimate=estimate, lang=lang, policy=policy_obj,
                          log=log, policy_path=policy_path)
    return summary


def failures_table(batch_dir: Path) -> str:
    runs = pd.read_csv(batch_dir / "runs.csv", dtype=str).fillna("")
    failed = runs[runs["status"] == "failed"]
    if failed.empty:
        return ""
    lines = [f"{len(failed)} of {len(runs)} runs failed:"]
    for _, r in failed.iterrows():
        first = r["error"].splitlines()[0] if r["error"] else ""
        lines.append(f"  {r['key']}: {first}")
    return "\n".join(lines)
