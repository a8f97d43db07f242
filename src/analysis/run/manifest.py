"""The manifest: everything needed to rerun a study to the same numbers.

Written by the runner beside every run's results: parameters, the dataset's
path and the sha256 of each input table, the git commit and whether the tree
was dirty, versions of Python and the key packages, the seed, start and end
times, where the run ran (host and process id), the disclosure policy (its
rules and the sha256 of the file they came from) and the disclosure-control
log, which names withheld cells and their rule but never their counts.

A run marks its manifest ``running`` while it runs and registers itself in
``<reports>/.running/``; every exit path the runner can catch turns that into
``ok``, ``failed`` or ``interrupted``. A process killed outright (SIGKILL, power
loss) cannot do so: :func:`sweep_stale_runs`, called at the start of every run,
marks the manifests of runs whose process no longer exists ``interrupted``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from analysis.paths import project_root

KEY_PACKAGES = (
    "rendeert", "numpy", "pandas", "scipy", "statsmodels", "scikit-learn", "duckdb",
    "pyarrow", "lifelines", "pyfixest", "matplotlib", "seaborn", "papermill", "typst",
    "pypandoc-binary",
)
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def dataset_fingerprint(dataset_dir: Path) -> dict:
    """sha256 of every file in a dataset directory, and one hash over them all."""
    files = {}
    for p in sorted(dataset_dir.iterdir()):
        if p.is_file() and p.suffix in (".csv", ".parquet", ".yml", ".yaml"):
            files[p.name] = file_sha256(p)
    overall = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    return {"files": files, "sha256": overall}


def study_files(run_dir: Path) -> dict:
    """Files a study wrote into its run directory and listed in ``files.json`` (e.g. the experiment
    study's assignment), each with its sha256 as it is on disk now; empty when there is no list."""
    listed = Path(run_dir) / "files.json"
    if not listed.is_file():
        return {}
    entries = json.loads(listed.read_text(encoding="utf-8"))
    return {name: {**info, "sha256": file_sha256(Path(run_dir) / name)} for name, info in entries.items()
            if (Path(run_dir) / name).is_file()}


def input_runs(parameters: Mapping[str, Any]) -> list[dict]:
    """Inputs from other runs: every non-empty parameter named ``*_run`` names a run directory; its path
    and the sha256 of its results.json (None when absent: the study then refuses the run)."""
    from analysis.paths import resolve_path

    out = []
    for name, value in parameters.items():
        if name.endswith("_run") and isinstance(value, str) and value:
            path = resolve_path(value)
            results = path / "results.json"
            out.append({"parameter": name, "path": str(path),
                        "results_sha256": file_sha256(results) if results.is_file() else None})
    return out


def git_state(root: Path | None = None) -> dict:
    """The commit of the project checkout and whether its tree has uncommitted changes."""
    root = root or project_root()

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def environment() -> dict:
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "executable": sys.executable,
    }


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a temporary file of this process, then rename); no partial file on failure."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# -- the disclosure policy and the log --------------------------------------------------------------

#: Rules about the number of units behind a cell: the log shows "<min_units" for them, never the n.
SIZE_RULES = ("min_units", "numerator", "complement", "min_treated", "min_control", "at_risk")


def policy_record(policy, path: str | os.PathLike | None) -> dict:
    """The policy as the manifest records it: its rules, the file they came from and its sha256."""
    rules = policy.to_dict() if hasattr(policy, "to_dict") else asdict(policy)
    if path is None:
        return {"file": None, "sha256": None, "rules": rules}
    return {"file": str(Path(path).resolve()), "sha256": file_sha256(Path(path)), "rules": rules}


def safe_log(records: Iterable[Mapping], *, min_units: int) -> list[dict]:
    """Disclosure-log records as they may be published: object, cell, rule, and n only as "<min_units".

    Whatever a notebook wrote, a count of a withheld cell never passes: a size rule shows
    ``"<10"``, any other rule ``None``.
    """
    out = []
    for r in records:
        rule = str(r.get("rule", ""))
        out.append({"object": str(r.get("object", "")), "cell": str(r.get("cell", "")), "rule": rule,
                    "n": f"<{min_units}" if rule in SIZE_RULES else None})
    return out


# -- runs that did not end -------------------------------------------------------------------------

RUNNING_DIR = ".running"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":  # pragma: no cover - Windows
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def mark_running(out_root: Path, run_dir: Path) -> Path:
    """Register a starting run (host, pid, run directory) so that a later run can tell if it died."""
    d = Path(out_root) / RUNNING_DIR
    d.mkdir(parents=True, exist_ok=True)
    marker = d / f"{run_dir.parent.name}+{run_dir.name}.json"
    write_json(marker, {"run_dir": str(run_dir), "host": socket.gethostname(), "pid": os.getpid()})
    return marker


def unmark_running(marker: Path | None) -> None:
    if marker is not None:
        try:
            Path(marker).unlink()
        except OSError:
            pass


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def finish_manifest(run_dir: Path, status: str, error: Any = None) -> None:
    """Set a run's manifest status (and end time, error) if it is still ``running``; never raises."""
    path = Path(run_dir) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("status") != "running":
            return
        manifest.update(status=status, end_time=_utc_now())
        if error is not None:
            manifest["error"] = error
        write_json(path, manifest)
    except (OSError, ValueError):
        pass


def remove_partial_files(run_dir: Path) -> None:
    """Half-written files a killed run may leave: temporary JSON and PDF files."""
    for pattern in (".*.tmp", ".*.partial.pdf", "*.json.tmp"):
        for p in Path(run_dir).glob(pattern):
            try:
                p.unlink()
            except OSError:
                pass


def sweep_stale_runs(out_root: Path) -> list[Path]:
    """Mark runs whose process on this host has died ``interrupted``; returns their run directories."""
    d = Path(out_root) / RUNNING_DIR
    swept = []
    if not d.is_dir():
        return swept
    host = socket.gethostname()
    for marker in d.glob("*.json"):
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if info.get("host") != host or _pid_alive(int(info.get("pid", 0))):
            continue
        run_dir = Path(info["run_dir"])
        finish_manifest(run_dir, "interrupted", "the process running this study ended without finishing it "
                        "(killed or power loss); no results were published")
        remove_partial_files(run_dir)
        unmark_running(marker)
        swept.append(run_dir)
    return swept


# -- the manifest as the report's appendix shows it ---------------------------------------------------
#: Packages named in the appendix; the others are in manifest.json.
APPENDIX_PACKAGES = ("python", "rendeert")


def _when(manifest: Mapping) -> str | None:
    times = [str(manifest[k]).replace("T", " ").removesuffix("+00:00") for k in ("start_time", "end_time")
             if manifest.get(k)]
    return " – ".join(times) or None


def _parameters(manifest: Mapping) -> str | None:
    params = manifest.get("parameters") or {}
    return ", ".join(f"{k} = {v}" for k, v in params.items() if k not in ("output_dir", "dataset")) or None


def _dataset(manifest: Mapping) -> str | None:
    dataset = manifest.get("dataset") or {}
    if not dataset:
        return None
    return f"{Path(str(dataset.get('path', ''))).name} (sha256 {str(dataset.get('sha256', ''))[:12]})"


def _code(manifest: Mapping, lang: str) -> str | None:
    from analysis.report.labels import t_plain

    git = manifest.get("git") or {}
    if not git.get("commit"):
        return None
    return git["commit"][:12] + (f" ({t_plain('appendix.m.dirty', lang)})" if git.get("dirty") else "")


def _versions(manifest: Mapping) -> str | None:
    versions = manifest.get("versions") or {}
    shown = ", ".join(f"{k} {versions[k]}" for k in APPENDIX_PACKAGES if versions.get(k))
    return (shown + ", … (manifest.json)") if shown else None


def _inputs(manifest: Mapping) -> str | None:
    """Runs whose results this run read (``inputs``: a list of ``{"run": path, "sha256": ...}`` or a
    mapping name -> such a record)."""
    inputs = manifest.get("inputs")
    if not inputs:
        return None
    items = inputs.items() if isinstance(inputs, Mapping) else enumerate(inputs)
    out = []
    for name, rec in items:
        rec = rec if isinstance(rec, Mapping) else {"run": rec}
        run = Path(str(rec.get("run") or rec.get("path") or "")).name or str(name)
        sha = str(rec.get("sha256") or rec.get("results_sha256") or "")[:12]
        out.append(f"{run} (sha256 {sha})" if sha else run)
    return "; ".join(out)


#: The appendix's rows, in order: (catalogue key of the label, function of (manifest, lang) -> text or
#: None). A field added to the manifest gets its row by appending here.
APPENDIX_FIELDS: list[tuple[str, Any]] = [
    ("appendix.m.study", lambda m, lang: m.get("study")),
    ("run_id", lambda m, lang: m.get("run_id") or m.get("batch")),
    ("appendix.m.time", lambda m, lang: _when(m)),
    ("appendix.m.seconds", lambda m, lang: m.get("execution_seconds")),
    ("parameters", lambda m, lang: _parameters(m)),
    ("appendix.m.seed", lambda m, lang: m.get("seed")),
    ("dataset", lambda m, lang: _dataset(m)),
    ("report.m.inputs", lambda m, lang: _inputs(m)),
    ("appendix.m.git", _code),
    ("appendix.m.versions", lambda m, lang: _versions(m)),
    ("appendix.m.rerun_of", lambda m, lang: Path(str(m["rerun_of"])).name if m.get("rerun_of") else None),
    ("appendix.m.worker", lambda m, lang: m.get("batch_worker")),
    ("report.m.runs", lambda m, lang: m.get("runs")),
]


def appendix_rows(manifest: Mapping, lang: str = "nl") -> list[tuple[str, str]]:
    """The manifest in a few translated lines (label, value) for the report's appendix: what ran, on
    which data, with which code; the whole record is manifest.json."""
    from analysis.report.labels import t_plain

    rows = []
    for key, render in APPENDIX_FIELDS:
        value = render(manifest, lang)
        if value not in (None, "", {}, []):
            rows.append((t_plain(key, lang), str(value)))
    return rows
