"""Every step at national-scale sizes, each in a fresh process: seconds, peak memory, disk (issue #18).

    python benchmarks/scale.py --sizes 1000000,4000000 [--steps validate,store,overview,...]
        [--data-from generate|stack] [--base DIR] [--cap-gb 14] [--workdir DIR] [--out benchmarks/results/scale]
    make bench-scale                      # 1M and 4M; 18M once, outside CI: make bench-scale SCALE_SIZES=1000000,4000000,18000000

Per size the dataset comes first: ``generate`` runs ``rendeert synth`` (step ``synth``), ``stack`` writes
copies of a 50,000-person dataset with renamed ids (step ``stack``, benchmarks/stack_dataset.py: for
memory and time only, the estimates mean nothing). Then each step runs in its own process, through the
CLI or the public functions only, so whatever the code does today is what is measured:

- ``validate``: ``analysis.data.load_dataset(DIR)`` (what every study's set-up calls first);
  ``validate_cli``: ``rendeert validate DIR`` (it also prints every table's row count);
- ``store``: ``build_store(load_dataset(DIR), root=<project>/data/processed)``, the store the studies
  then reuse (removed at the end unless ``--keep``);
- a study name: ``rendeert run STUDY --dataset DIR --out WORKDIR/reports-N``, PDF included.

Recorded per step: wall seconds, CPU seconds (the step's process and its descendants: their rusage once
reaped, or for a tree killed at the cap the CPU time polled from each process, whichever is larger), peak
resident memory of the whole process tree (psutil, every 0.2 s, the sum of RSS over the process and its
descendants, so a study's kernel counts; shared pages count once per process, so it errs high), disk
use of what the step wrote, and the exit status. A step whose tree passes ``--cap-gb`` is killed (the
whole tree) and recorded as ``> cap``. Results: ``<out>.json`` (machine, date, commit, every row),
``<out>.md`` (the tables and the growth factor between sizes) and ``<out>.png`` (peak GB against
persons per step, with the 16 GB line).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STACK = HERE / "stack_dataset.py"
#: How often the process tree is measured (seconds).
POLL_S = 0.2
#: The memory a CBS Remote Access workspace typically has (issue #18): the figure's reference line.
TARGET_GB = 16
GB = 1024 ** 3
DATA_STEPS = ("synth", "stack")
DATA_FROM = ("generate", "stack")
CORE_STEPS = ("validate", "validate_cli", "store")
BASE_PERSONS = 50_000
SEED = 1


# ---- measuring one command ------------------------------------------------------------------------

def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _rss(procs, cpu_seen: dict) -> int:
    """The summed RSS of ``procs``; records each one's own CPU seconds so far in ``cpu_seen``."""
    total = 0
    for p in procs:
        try:
            with p.oneshot():
                total += p.memory_info().rss
                t = p.cpu_times()
                cpu_seen[(p.pid, p.create_time())] = t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return total


def _kill(procs) -> None:
    for p in procs:
        try:
            p.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def measure(cmd: list[str], *, cap_gb: float, env: dict | None = None, timeout_s: float | None = None,
            log: Path | None = None) -> dict:
    """Run ``cmd`` in a fresh process; its wall and CPU seconds, the peak RSS of its tree, how it ended.

    stderr goes to ``log`` (stdout to ``log`` + ``.out``; its JSON lines, merged, are returned as ``inner``).
    ``status`` is ``ok``, ``failed`` (non-zero exit; ``error`` holds the last line of stderr), ``> cap``
    (the tree passed ``cap_gb`` and was killed) or ``timeout``.
    """
    cap = cap_gb * GB
    log = Path(log) if log else Path(tempfile.mkstemp(prefix="rendeert-scale-", suffix=".log")[1])
    out_path = log.with_name(log.name + ".out")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(out_path, "w") as out, open(log, "w") as err:  # files, not pipes: a full pipe would stall the step
        proc = psutil.Popen(cmd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        peak, status, cpu_seen = 0, None, {}
        while True:
            procs = _tree(proc)
            peak = max(peak, _rss(procs, cpu_seen))
            if peak > cap:
                status = "> cap"
                _kill(procs)
                break
            if timeout_s is not None and time.perf_counter() - start > timeout_s:
                status = "timeout"
                _kill(procs)
                break
            try:
                proc.wait(timeout=POLL_S)
                break
            except psutil.TimeoutExpired:
                continue
        code = proc.wait()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # a killed tree's grandchildren are never reaped into our rusage: then the polled sum is the better count
    cpu = max(cpu, sum(cpu_seen.values()))
    row = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_gb": round(peak / GB, 3),
           "exit": code, "status": status or ("ok" if code == 0 else "failed")}
    if row["status"] == "failed":
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        row["error"] = lines[-1][:300] if lines else f"exit status {code}"
    inner = {}
    for line in out_path.read_text(errors="replace").splitlines():  # the JSON lines of --run-step, merged
        if line.startswith("{"):
            try:
                inner.update(json.loads(line))
            except json.JSONDecodeError:
                pass
    if inner:
        row["inner"] = inner
    return row


def disk_bytes(path: Path) -> int:
    """Bytes under ``path`` (a file or a directory; 0 when absent)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# ---- the steps --------------------------------------------------------------------------------------

def _rendeert() -> list[str]:
    exe = Path(sys.executable).parent / "rendeert"
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("rendeert")
    return [found] if found else [sys.executable, "-m", "analysis.run.cli"]


def _inner(step: str, dataset: Path, processed: Path | None) -> None:
    """``--run-step``: one step in this (fresh) process, through the public functions.

    Prints a JSON line after each phase (flushed, so a step killed at the cap still tells how far it got):
    ``validated`` with the seconds of ``load_dataset`` and this process's peak so far, then for ``store``
    ``built`` with the seconds of ``build_store`` and the store's directory.
    """
    start = time.perf_counter()
    from analysis.data import load_dataset

    ds = load_dataset(dataset)
    print(json.dumps({"phase": "validated", "load_s": round(time.perf_counter() - start, 2),
                      "load_peak_gb": round(_own_peak_gb(), 3)}), flush=True)
    if step == "store":
        from analysis.data import build_store
        from analysis.paths import processed_root

        t0 = time.perf_counter()
        store = build_store(ds, root=processed or processed_root())
        print(json.dumps({"phase": "built", "build_s": round(time.perf_counter() - t0, 2),
                          "store": str(store.root)}), flush=True)


def _own_peak_gb() -> float:
    """This process's peak resident memory so far (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / GB if sys.platform == "darwin" else peak * 1024 / GB


def step_command(step: str, *, persons: int, dataset: Path, workdir: Path, base: Path | None = None,
                 synth_args: list[str] = (), processed: Path | None = None) -> tuple[list[str], Path | None]:
    """The command of ``step`` at ``persons`` and the path whose disk use it reports.

    ``processed``: where the ``store`` step builds (default the project's data/processed, which the
    studies read, so they reuse it).
    """
    if step == "synth":
        return [*_rendeert(), "synth", "--persons", str(persons), "--seed", str(SEED), "--out", str(dataset),
                *synth_args], dataset
    if step == "stack":
        return [sys.executable, str(STACK), "--base", str(base), "--persons", str(persons), "--out",
                str(dataset)], dataset
    if step in ("validate", "store"):
        where = ["--processed", str(processed)] if processed else []
        return [sys.executable, str(Path(__file__).resolve()), "--run-step", step, "--dataset", str(dataset),
                *where], None
    if step == "validate_cli":
        return [*_rendeert(), "validate", str(dataset)], None
    reports = workdir / f"reports-{persons}"
    return [*_rendeert(), "run", step, "--dataset", str(dataset), "--out", str(reports)], reports / step


def dataset_rows(dataset: Path) -> dict[str, int]:
    """Rows per table, from the Parquet footers (nothing is read)."""
    import pyarrow.parquet as pq

    return {p.stem: pq.ParquetFile(p).metadata.num_rows for p in sorted(dataset.glob("*.parquet"))}


def default_studies() -> list[str]:
    """Every study that runs on a dataset (declares a ``dataset`` parameter), in catalogue order."""
    from analysis.run.catalog import list_studies

    return [s.name for s in list_studies(required=True).values()
            if any(p.name == "dataset" for p in s.user_parameters)]


def bundled_base(workdir: Path, *, cap_gb: float, env: dict) -> Path:
    """The base of stacked data: the bundled 50,000-person dataset, generated into ``workdir`` if absent."""
    from analysis.paths import project_root

    bundled = project_root() / "data" / "raw" / "synthetic-default"
    if (bundled / "dataset.yml").is_file():
        return bundled
    base = workdir / f"base-{BASE_PERSONS}"
    if not (base / "dataset.yml").is_file():
        shutil.rmtree(base, ignore_errors=True)
        cmd = [*_rendeert(), "synth", "--persons", str(BASE_PERSONS), "--seed", str(SEED), "--out", str(base)]
        row = measure(cmd, cap_gb=cap_gb, env=env, log=workdir / "base.log")
        if row["status"] != "ok":
            raise SystemExit(f"could not generate the base dataset {base}: {row}")
    return base


def run_size(persons: int, steps: list[str], *, data_from: str, base: Path | None, workdir: Path,
             cap_gb: float, env: dict, synth_args: list[str], timeout_s: float | None = None,
             keep: bool = False, echo=print) -> list[dict]:
    """The dataset step, then every step of ``steps`` at ``persons``, each in a fresh process."""
    data_step = "synth" if data_from == "generate" else "stack"
    dataset = workdir / f"{data_step}-{persons}"
    shutil.rmtree(dataset, ignore_errors=True)
    shutil.rmtree(dataset.with_name(dataset.name + ".partial"), ignore_errors=True)
    shutil.rmtree(workdir / f"reports-{persons}", ignore_errors=True)
    from analysis.paths import processed_root

    stores_before = _stores(processed_root())
    rows = []
    plan = [data_step, *[s for s in steps if s not in DATA_STEPS]]
    for step in plan:
        row = {"step": step, "persons": persons}
        if step != data_step and not (dataset / "dataset.yml").is_file():
            row.update(status="skipped", error=f"no dataset: the {data_step} step did not finish")
            rows.append(row)
            echo(_line(row))
            continue
        cmd, written = step_command(step, persons=persons, dataset=dataset, workdir=workdir, base=base,
                                    synth_args=synth_args)
        log = workdir / f"{step}-{persons}.log"
        row.update(measure(cmd, cap_gb=cap_gb, env=env, timeout_s=timeout_s, log=log), log=str(log))
        store = (row.get("inner") or {}).get("store")
        if store:
            written = Path(store)
        if written is not None and Path(written).exists():
            row["disk_gb"] = round(disk_bytes(written) / GB, 4)
        if step == data_step and row["status"] == "ok":
            row["rows"] = dataset_rows(dataset)
        rows.append(row)
        echo(_line(row))
    if not keep:
        for store in _stores(processed_root()) - stores_before:  # under the project's data/processed: ours only
            shutil.rmtree(store, ignore_errors=True)
            if store.parent.is_dir() and not any(store.parent.iterdir()):
                store.parent.rmdir()
        try:  # the unfinished build of a store step killed at the cap
            from analysis.data.store import remove_stale_builds
        except ImportError:
            pass
        else:
            remove_stale_builds(processed_root())
        shutil.rmtree(dataset, ignore_errors=True)
        shutil.rmtree(workdir / f"reports-{persons}", ignore_errors=True)
    return rows


def _stores(root: Path) -> set[Path]:
    """The store directories under ``root`` (``<dataset>/<content hash>``)."""
    return {p for p in root.glob("*/*") if p.is_dir() and not p.parent.name.startswith(".")} if root.is_dir() else set()


def _line(row: dict) -> str:
    extra = f" ({row['error']})" if row.get("error") else ""
    if row.get("status") == "skipped":
        return f"{row['persons']:>11,}  {row['step']:<14} skipped{extra}"
    return (f"{row['persons']:>11,}  {row['step']:<14} {row['wall_s']:>8.1f} s  {row['cpu_s']:>8.1f} CPU s  "
            f"{row['peak_gb']:>6.2f} GB  {row['status']}{extra}")


# ---- growth, tables, figure -------------------------------------------------------------------------

def growth(rows: list[dict]) -> list[dict]:
    """Per step, each size against the one before it: persons, peak and time ratios.

    A peak that was capped is a lower bound, so its ratio is too (``peak_ratio_is_lower_bound``).
    """
    by_step: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("status") in ("ok", "> cap") and r.get("peak_gb"):
            by_step.setdefault(r["step"], []).append(r)
    out = []
    for step, rs in by_step.items():
        rs = sorted(rs, key=lambda r: r["persons"])
        for a, b in zip(rs, rs[1:]):
            out.append({"step": step, "from": a["persons"], "to": b["persons"],
                        "persons_ratio": round(b["persons"] / a["persons"], 2),
                        "peak_ratio": round(b["peak_gb"] / a["peak_gb"], 2),
                        "peak_ratio_is_lower_bound": b["status"] == "> cap",
                        "time_ratio": round(b["wall_s"] / a["wall_s"], 2) if b["status"] == "ok" else None,
                        "valid": a["status"] == "ok"})
    return out


def _fmt(row: dict, key: str, digits: int) -> str:
    value = row.get(key)
    return "" if value is None else f"{value:,.{digits}f}"


def _disk_mb(row: dict) -> str:
    return "" if row.get("disk_gb") is None else f"{row['disk_gb'] * 1024:,.0f}"


def _notes(row: dict) -> str:
    inner = row.get("inner") or {}
    parts = []
    if "load_s" in inner:
        parts.append(f"load_dataset {inner['load_s']:.1f} s")
    if "build_s" in inner:
        parts.append(f"build_store {inner['build_s']:.1f} s")
    if row.get("rows"):
        parts.append(f"{sum(row['rows'].values()):,} rows")
    return "; ".join(parts)


def markdown(meta: dict, rows: list[dict], growths: list[dict]) -> str:
    lines = [f"# Scale benchmark ({meta['date']})", "",
             f"Machine: {meta['machine']}, {meta['cpu_count']} cores, {meta['ram_gb']} GB RAM; "
             f"commit `{meta['commit']}`; data: {meta['data_from']}; cap {meta['cap_gb']} GB.", ""]
    if meta.get("label"):
        lines += [f"**{meta['label']}**", ""]
    if meta["data_from"] == "stack":
        lines += [f"Stacked data (copies of `{meta.get('base')}` with renamed ids, benchmarks/stack_dataset.py): "
                  "for memory and time only; the estimates mean nothing.", ""]
    lines += ["| step | persons | wall s | CPU s | peak GB | disk MB | status | notes |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        peak = _fmt(r, "peak_gb", 2)
        status = r.get("status", "")
        if status == "> cap":
            peak = f"> {meta['cap_gb']:g}"
        if r.get("error"):
            status += f": {r['error'][:120]}"
        lines.append(f"| {r['step']} | {r['persons']:,} | {_fmt(r, 'wall_s', 1)} | {_fmt(r, 'cpu_s', 1)} | "
                     f"{peak} | {_disk_mb(r)} | {status} | {_notes(r)} |")
    if growths:
        lines += ["", "Growth between sizes (peak and wall time at the larger size over the smaller):", "",
                  "| step | from | to | persons x | peak x | time x |", "|---|---|---|---|---|---|"]
        for g in growths:
            peak = ("> " if g["peak_ratio_is_lower_bound"] else "") + f"{g['peak_ratio']:.2f}"
            time_x = "" if g["time_ratio"] is None else f"{g['time_ratio']:.2f}"
            lines.append(f"| {g['step']} | {g['from']:,} | {g['to']:,} | {g['persons_ratio']:g} | {peak} | {time_x} |")
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], path: Path, *, cap_gb: float) -> None:
    """Peak GB against persons, one line per step; a capped point is an open marker at the cap."""
    try:
        import analysis.report.theme  # noqa: F401  (the house look: palette, fonts, Agg backend)
    except ImportError:
        import matplotlib

        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(8.0, 4.2))
    steps = list(dict.fromkeys(r["step"] for r in rows))
    markers = "osDvP*Xhp<>d"  # with colour, so that more steps than the palette's colours stay apart
    for i, step in enumerate(steps):
        pts = sorted((r for r in rows if r["step"] == step and r.get("status") in ("ok", "> cap")),
                     key=lambda r: r["persons"])
        if not pts:
            continue
        xs = [r["persons"] / 1e6 for r in pts]
        ys = [cap_gb if r["status"] == "> cap" else r["peak_gb"] for r in pts]
        (line,) = ax.plot(xs, ys, marker=markers[i % len(markers)], label=step)
        capped = [(x, y) for x, y, r in zip(xs, ys, pts) if r["status"] == "> cap"]
        if capped:
            ax.plot(*zip(*capped), linestyle="none", marker="^", markersize=9, markerfacecolor="white",
                    color=line.get_color())
    ax.axhline(TARGET_GB, color="black", linestyle="--", linewidth=1)
    if cap_gb < TARGET_GB:
        ax.axhline(cap_gb, color="grey", linestyle=":", linewidth=1)
        ax.annotate(f"cap {cap_gb:g} GB", xy=(0, cap_gb), xycoords=("axes fraction", "data"), xytext=(4, 3),
                    textcoords="offset points", fontsize=8, color="grey")
    ax.annotate(f"{TARGET_GB} GB", xy=(0, TARGET_GB), xycoords=("axes fraction", "data"), xytext=(4, 3),
                textcoords="offset points", fontsize=8)
    ax.set_xlabel("persons (millions)")
    ax.set_ylabel("peak resident memory (GB)")
    ax.set_ylim(0, max(TARGET_GB, *(r.get("peak_gb") or 0 for r in rows)) * 1.1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_title("Peak memory of each step's process tree; open triangle: stopped at the cap", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def machine() -> dict:
    def commit() -> str:
        try:
            out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                                 text=True, check=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True).stdout.strip()
            return out + ("+dirty" if dirty else "")
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    return {"machine": f"{platform.node()} ({platform.machine()}, {platform.system()} {platform.release()})",
            "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "ram_gb": round(psutil.virtual_memory().total / GB, 1),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit()}


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(f"--sizes {text!r}: give whole numbers of persons separated by commas, e.g. 1000000,4000000")
    if not sizes or min(sizes) < 1:
        raise SystemExit(f"--sizes {text!r}: give at least one size of 1 or more persons")
    return sorted(sizes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,4000000", help="persons, comma separated")
    parser.add_argument("--steps", help="comma separated: validate, validate_cli, store and study names "
                                        "(default: validate, store and every study that runs on a dataset)")
    parser.add_argument("--data-from", default="generate", choices=DATA_FROM)
    parser.add_argument("--base", help="with --data-from stack: the dataset to copy (default: the bundled "
                                       "data/raw/synthetic-default, generated into the workdir if absent)")
    parser.add_argument("--synth-args", default="", help="extra options of `rendeert synth`, e.g. '--workers 2'")
    parser.add_argument("--cap-gb", type=float, default=14.0, help="kill a step whose process tree passes this")
    parser.add_argument("--timeout-min", type=float, help="kill a step that runs longer than this")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "rendeert-scale"))
    parser.add_argument("--out", default=str(HERE / "results" / "scale"), help="writes OUT.json, OUT.md, OUT.png")
    parser.add_argument("--label", help="a line the table carries (e.g. 'example at small sizes')")
    parser.add_argument("--keep", action="store_true", help="keep datasets, stores and reports afterwards")
    parser.add_argument("--run-step", choices=("validate", "store"), help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--processed", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_step:
        _inner(args.run_step, Path(args.dataset), Path(args.processed) if args.processed else None)
        return 0
    sizes = _sizes(args.sizes)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else \
        ["validate", "store", *default_studies()]
    if args.cap_gb <= 0:
        raise SystemExit(f"--cap-gb {args.cap_gb}: give the memory a step may take, in GB (> 0), e.g. 14")
    known = {*CORE_STEPS, *DATA_STEPS, *default_studies()}
    unknown = [s for s in steps if s not in known]
    if unknown:
        raise SystemExit(f"--steps: unknown {', '.join(unknown)}; allowed: {', '.join(sorted(known))} "
                         "(studies from `rendeert studies`)")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    base = None
    if args.data_from == "stack":
        base = Path(args.base) if args.base else bundled_base(workdir, cap_gb=args.cap_gb, env=env)
    meta = {**machine(), "sizes": sizes, "steps": steps, "data_from": args.data_from, "cap_gb": args.cap_gb,
            "base": str(base) if base else None, "synth_args": args.synth_args, "label": args.label}
    rows = []
    for n in sizes:
        rows += run_size(n, steps, data_from=args.data_from, base=base, workdir=workdir, cap_gb=args.cap_gb,
                         env=env, synth_args=args.synth_args.split(), keep=args.keep,
                         timeout_s=args.timeout_min * 60 if args.timeout_min else None)
    growths = growth(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = {ext: Path(f"{out}.{ext}") for ext in ("json", "md", "png")}
    files["json"].write_text(json.dumps({**meta, "rows": rows, "growth": growths}, indent=2) + "\n")
    text = markdown(meta, rows, growths)
    files["md"].write_text(text)
    figure(rows, files["png"], cap_gb=args.cap_gb)
    print(text)
    print("written: " + ", ".join(str(f) for f in files.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
