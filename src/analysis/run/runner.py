"""Run one study notebook with papermill and turn it into a report.

A run writes ``reports/<study>/<run-id>/``: the executed ``notebook.ipynb``,
``report.pdf``, ``results.json`` (written by the notebook's last cell, so a
failed run has none) and ``manifest.json``. A failing cell stops the run; the
partial notebook is kept for debugging and the error names the cell.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

import papermill
from papermill.exceptions import PapermillExecutionError

from analysis.errors import DataValidationError, ParameterError, RunError, StudyError
from analysis.paths import project_root, reports_root, resolve_path
from analysis.run import manifest as mf
from analysis.run.catalog import Study, get_study
from analysis.run.params import validate_parameters

#: Errors raised inside a notebook that mean "bad input", not "bug": shown without traceback.
_INPUT_ERRORS = {
    "DataValidationError": DataValidationError,
    "ParameterError": ParameterError,
    "StudyError": StudyError,
}


@dataclass(frozen=True)
class RunOutcome:
    study: str
    run_dir: Path
    results: dict
    manifest: dict

    @property
    def pdf(self) -> Path:
        return self.run_dir / "report.pdf"


@contextmanager
def _kernel_transport() -> Iterator[Any]:
    """Kernel configuration for one run.

    On POSIX the kernel talks over IPC sockets in a private temporary directory: parallel runs of a
    batch then have no TCP ports to race for (jupyter_client picks free ports and releases them before
    the kernel binds them) and the kernel's traffic, which carries microdata, stays off the network.
    Windows has no IPC sockets and keeps TCP on localhost.
    """
    from traitlets.config import Config

    if os.name != "posix":
        yield Config()
        return
    with tempfile.TemporaryDirectory(prefix="rendeert-kernel-") as private:
        yield Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(private, "k")}})


def new_run_id(parameters: Mapping[str, Any]) -> str:
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    digest = hashlib.sha256(
        (json.dumps(parameters, sort_keys=True, default=str) + uuid.uuid4().hex).encode()
    ).hexdigest()[:6]
    return f"{stamp}-{digest}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _dataset_dir(parameters: Mapping[str, Any]) -> Path | None:
    if "dataset" not in parameters:
        return None
    path = resolve_path(parameters["dataset"])
    if not (path / "dataset.yml").is_file():
        raise ParameterError(
            f"Dataset directory {str(path)!r} has no dataset.yml. Point --dataset at a directory in the "
            "shape of the data contract, or create the synthetic one with `make data` "
            "(`rendeert synth --out data/raw/synthetic-default`)."
        )
    return path


def _link_latest(run_dir: Path) -> None:
    latest = run_dir.parent / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(run_dir.name, target_is_directory=True)
    except OSError:  # file systems without symlinks (Windows): a pointer file instead
        (run_dir.parent / "latest.txt").write_text(run_dir.name + "\n", encoding="utf-8")


def prepare(study_name: str, given: Mapping[str, Any]) -> tuple[Study, dict]:
    """Validate a run's parameters before any kernel starts: returns the study and full parameters."""
    study = get_study(study_name)
    checked = validate_parameters(study, given)
    if "dataset" in checked:
        checked["dataset"] = str(_dataset_dir(checked))
    elif any(p.name == "dataset" for p in study.user_parameters):  # the declared default must exist too
        import ast

        _dataset_dir({"dataset": ast.literal_eval(study.parameter("dataset").default)})
    return study, checked


def run_study(
    study_name: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    out_root: Path | None = None,
    run_id: str | None = None,
    progress: bool = True,
    pdf: bool = True,
    extra_manifest: Mapping[str, Any] | None = None,
) -> RunOutcome:
    """Run ``study_name`` with ``parameters``; raise ``RunError`` naming the failing cell."""
    study, params = prepare(study_name, dict(parameters or {}))
    out_root = Path(out_root) if out_root else reports_root()
    run_id = run_id or new_run_id(params)
    run_dir = (out_root / study.name / run_id).resolve()
    run_dir.mkdir(parents=True, exist_ok=False)
    dataset_dir = _dataset_dir(params)

    manifest = {
        "study": study.name,
        "run_id": run_id,
        "notebook": str(study.notebook.relative_to(project_root())) if study.notebook.is_relative_to(project_root()) else str(study.notebook),
        "parameters": params,
        "defaults": {p.name: p.default for p in study.user_parameters},
        "seed": params.get("seed"),
        "dataset": None,
        "git": mf.git_state(),
        "versions": mf.package_versions(),
        "environment": mf.environment(),
        "start_time": _now(),
        "end_time": None,
        "status": "running",
    }
    if extra_manifest:
        manifest.update(extra_manifest)
    if dataset_dir is not None:
        manifest["dataset"] = {"path": str(dataset_dir), **mf.dataset_fingerprint(dataset_dir)}
    mf.write_json(run_dir / "manifest.json", manifest)

    notebook_out = run_dir / "notebook.ipynb"
    started = time.perf_counter()
    try:
        with _kernel_transport() as kernel_config:
            papermill.execute_notebook(
                str(study.notebook),
                str(notebook_out),
                parameters={**params, "output_dir": str(run_dir)},
                kernel_name="python3",
                progress_bar=progress,
                cwd=str(project_root()),
                start_timeout=180,
                config=kernel_config,
            )
    except PapermillExecutionError as exc:
        manifest.update(status="failed", end_time=_now(), error={
            "cell_index": exc.cell_index, "execution_count": exc.exec_count,
            "ename": exc.ename, "evalue": exc.evalue,
        })
        mf.write_json(run_dir / "manifest.json", manifest)
        if exc.ename in _INPUT_ERRORS:
            raise _INPUT_ERRORS[exc.ename](exc.evalue) from None
        raise RunError(
            f"Study {study.name!r} failed in cell {exc.exec_count} (cell index {exc.cell_index}): "
            f"{exc.ename}: {exc.evalue}\nThe partial notebook is kept for debugging: {notebook_out}"
        ) from None

    results_path = run_dir / "results.json"
    if not results_path.is_file():
        manifest.update(status="failed", end_time=_now(), error="no results.json")
        mf.write_json(run_dir / "manifest.json", manifest)
        raise RunError(
            f"Study {study.name!r} ran but wrote no results.json; its last cell must call "
            f"`study.finish()`. Notebook: {notebook_out}"
        )
    results = json.loads(results_path.read_text(encoding="utf-8"))
    log_path = run_dir / "disclosure_log.json"
    disclosure_log = json.loads(log_path.read_text(encoding="utf-8")) if log_path.is_file() else []
    manifest["disclosure_log"] = disclosure_log
    manifest["execution_seconds"] = round(time.perf_counter() - started, 2)

    info_path = run_dir / "report_info.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
    manifest.update(status="ok", end_time=_now())
    if pdf:
        from analysis.report.pdf import export_pdf

        meta = {
            "dataset_name": info.get("dataset_name") or results.get("dataset", {}).get("name"),
            "dataset_source": info.get("dataset_source"),
            "run_date": manifest["start_time"][:10],
            "parameters": results.get("parameters") or params,
            "run_id": run_id,
        }
        export_pdf(
            notebook_out, run_dir / "report.pdf",
            title=info.get("title") or study.title,
            meta=meta,
            appendix={"manifest": manifest, "disclosure_log": disclosure_log},
            lang=str(params.get("lang", "nl")),
        )
    manifest.update(end_time=_now())
    mf.write_json(run_dir / "manifest.json", manifest)
    _link_latest(run_dir)
    return RunOutcome(study=study.name, run_dir=run_dir, results=results, manifest=manifest)


def compare_results(first: dict, second: dict) -> list[str]:
    """Differences between two results.json documents' estimates (empty when identical)."""
    a = {e["name"]: e for e in first.get("estimates", [])}
    b = {e["name"]: e for e in second.get("estimates", [])}
    diffs = [f"{n}: only in the original run" for n in sorted(set(a) - set(b))]
    diffs += [f"{n}: only in the rerun" for n in sorted(set(b) - set(a))]
    for name in sorted(set(a) & set(b)):
        for key in ("estimate", "se", "ci_low", "ci_high", "n", "suppressed"):
            if a[name].get(key) != b[name].get(key):
                diffs.append(f"{name}.{key}: {a[name].get(key)!r} != {b[name].get(key)!r}")
    return diffs


def rerun(run_dir: Path, *, out_root: Path | None = None, progress: bool = True) -> tuple[RunOutcome, list[str]]:
    """Rerun a study from its manifest; returns the new run and the list of differences."""
    run_dir = Path(run_dir)
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        raise ParameterError(f"{str(run_dir)!r} holds no manifest.json; give a run directory reports/<study>/<run-id>.")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    original = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    notes = []
    if manifest.get("dataset"):
        now = mf.dataset_fingerprint(Path(manifest["dataset"]["path"]))
        if now["sha256"] != manifest["dataset"]["sha256"]:
            notes.append("the dataset's files changed since the original run")
    outcome = run_study(manifest["study"], manifest["parameters"], out_root=out_root, progress=progress,
                        extra_manifest={"rerun_of": str(run_dir)})
    return outcome, notes + compare_results(original, outcome.results)
