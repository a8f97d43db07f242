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
import subprocess
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

from analysis.errors import AnalysisError, DataValidationError, ParameterError, RunError, StudyError
from analysis.paths import project_root, reports_root, resolve_path
from analysis.run import manifest as mf
from analysis.run.catalog import Study, get_study
from analysis.run.declarations import register_papermill_translator
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


KERNEL_DIR_PREFIX = "rendeert-kernel-"


def _kernel_manager_class():
    """An AsyncKernelManager that adds the run's own environment variables (RENDEERT_POLICY) to the kernel's.

    Passed per run through the traitlets config, so parallel runs in one process (Dask threads) never
    share ``os.environ``.
    """
    from jupyter_client import AsyncKernelManager
    from traitlets import Dict

    class RunKernelManager(AsyncKernelManager):
        extra_env = Dict(help="environment variables added for this run's kernel").tag(config=True)

        async def _async_pre_start_kernel(self, **kw):
            kw["env"] = {**(kw.get("env") or os.environ), **self.extra_env}
            # what a cell prints reaches the notebook over the kernel's sockets; the process's own stderr
            # carries only the kernel's log (ZMQ tracebacks when a run is interrupted), not for the user.
            kw.setdefault("stderr", subprocess.DEVNULL)
            return await super()._async_pre_start_kernel(**kw)

    return RunKernelManager


def _sweep_kernel_dirs() -> None:
    """Remove private kernel directories (sockets, connection file) left by killed runs on this machine."""
    import shutil

    for d in Path(tempfile.gettempdir()).glob(f"{KERNEL_DIR_PREFIX}*-*"):
        try:
            pid = int(d.name.removeprefix(KERNEL_DIR_PREFIX).split("-")[0])
        except ValueError:
            continue
        if not mf._pid_alive(pid):
            shutil.rmtree(d, ignore_errors=True)


@contextmanager
def _kernel_transport(env: Mapping[str, str] | None = None) -> Iterator[Any]:
    """Kernel configuration for one run.

    On POSIX the kernel talks over IPC sockets in a private temporary directory: parallel runs of a
    batch then have no TCP ports to race for (jupyter_client picks free ports and releases them before
    the kernel binds them) and the kernel's traffic, which carries microdata, stays off the network.
    Windows has no IPC sockets and keeps TCP on localhost. The connection file lives in the same
    directory, so every kernel file of a run goes with it; the directory name carries the process id, so
    a later run removes what a killed one left (:func:`_sweep_kernel_dirs`). ``env`` is added to the
    kernel's environment.
    """
    from traitlets.config import Config

    manager = _kernel_manager_class()
    with tempfile.TemporaryDirectory(prefix=f"{KERNEL_DIR_PREFIX}{os.getpid()}-") as private:
        kernel = {"connection_file": os.path.join(private, "kernel.json")}
        if os.name == "posix":
            kernel.update(transport="ipc", ip=os.path.join(private, "k"))
        yield Config({"KernelManager": kernel, manager.__name__: {"extra_env": dict(env or {})}}), manager


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


def report_dataset_meta(dataset_dir: Path | None, parameters: Mapping[str, Any]) -> dict:
    """What the report's title block says about the data: synthetic or not (``synthetic: true`` in
    dataset.yml, or a simulator's truth.json beside the tables), the observation period, and the name of
    the municipality a municipal run is about (from the optional ``municipalities`` table)."""
    if dataset_dir is None:
        return _public_meta(parameters)
    import yaml

    try:
        meta = yaml.safe_load((dataset_dir / "dataset.yml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        meta = {}
    out = {"synthetic": bool(meta.get("synthetic")) or (dataset_dir / "truth.json").is_file(),
           "observation_start": str(meta.get("observation_start") or "") or None,
           "observation_end": str(meta.get("observation_end") or "") or None}
    code = parameters.get("municipality")
    if code not in (None, "", "all"):
        out["municipality_name"] = _municipality_name(dataset_dir, str(code))
    return out


def _public_meta(parameters: Mapping[str, Any]) -> dict:
    """A study on public aggregates (no dataset directory): a municipality named by CBS's classification of
    its ``year`` (bundled StatLine names), so the title block reads "Amsterdam (GM0363)"."""
    code, year = parameters.get("municipality"), parameters.get("year")
    if code in (None, "", "all") or not isinstance(year, int):
        return {}
    from analysis.studies.benchmark import municipality_names

    try:
        name = municipality_names(year, directory=_statline_dir(parameters)).get(str(code))
    except (ParameterError, OSError, ValueError):
        return {}
    return {"municipality_name": name} if name else {}


def _statline_dir(parameters: Mapping[str, Any]) -> Path | None:
    given = parameters.get("statline_dir")
    return resolve_path(given) if given else None


def _municipality_name(dataset_dir: Path, code: str) -> str | None:
    import pandas as pd

    for path in (dataset_dir / "municipalities.parquet", dataset_dir / "municipalities.csv"):
        if not path.is_file():
            continue
        try:
            frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str)
        except (OSError, ValueError):
            return None
        hit = frame.loc[frame["municipality_code"].astype(str) == code, "name"] if "name" in frame else []
        return str(hit.iloc[0]) if len(hit) else None
    return None


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


POLICY_ENV = "RENDEERT_POLICY"


def load_policy(path: str | os.PathLike | None = None):
    """The disclosure policy of a run: ``path``, else the file named by $RENDEERT_POLICY, else the default.

    Returns ``(policy, path or None)``. A file that loosens the CBS rules is refused
    (``ParameterError``, exit 2), before anything is written.
    """
    from analysis.report.disclosure import DisclosurePolicy

    if path is None and os.environ.get(POLICY_ENV):
        path = os.environ[POLICY_ENV]
    if path is None:
        return DisclosurePolicy.load(None), None
    p = resolve_path(path)
    if not p.is_file():
        raise ParameterError(f"Disclosure policy file {str(path)!r} does not exist (--policy or ${POLICY_ENV}). "
                             "Give a YAML file that tightens the rules of src/analysis/report/disclosure.yml.")
    return _load_policy_file(p), p


def _load_policy_file(p: Path):
    import yaml

    from analysis.report.disclosure import DisclosurePolicy

    from analysis.run.params import read_yaml_file

    data = read_yaml_file(p, "Disclosure policy file")
    if data is not None and not isinstance(data, dict):
        raise ParameterError(f"Disclosure policy file {str(p)!r} must be a mapping of rule to value "
                             f"(`min_units: 15`); found {type(data).__name__}.")
    try:
        return DisclosurePolicy.load(p)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ParameterError(f"Disclosure policy file {str(p)!r} is not plain YAML ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0]}). Write it as `min_units: 15` lines.") from None
    except TypeError as exc:
        raise ParameterError(f"Disclosure policy file {str(p)!r} must be a mapping of rule to value: {exc}.") from None


def run_study(
    study_name: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    out_root: Path | None = None,
    run_id: str | None = None,
    progress: bool = True,
    pdf: bool = True,
    extra_manifest: Mapping[str, Any] | None = None,
    policy: str | os.PathLike | None = None,
    link_latest: bool = False,
    notebook: Path | None = None,
) -> RunOutcome:
    """Run ``study_name`` with ``parameters``; raise ``RunError`` naming the failing cell.

    ``policy`` is a disclosure-policy file (tightening only; default $RENDEERT_POLICY, else the CBS
    default): the kernel receives it as $RENDEERT_POLICY and the manifest records it. Bad input
    (``DataValidationError``, ``ParameterError``, ``StudyError``, in the parameters or raised by the
    notebook) leaves no run directory. Any other failure, an interrupt or a full disk leaves the manifest
    ``failed`` or ``interrupted`` and no report.pdf. ``link_latest`` moves ``<study>/latest`` to this run
    (only ``rendeert run`` and ``run all`` do). ``notebook`` executes that notebook instead of the
    study's (a rerun passes the run's own saved notebook).
    """
    study, params = prepare(study_name, dict(parameters or {}))
    policy_obj, policy_path = load_policy(policy)
    out_root = Path(out_root) if out_root else reports_root()
    run_id = run_id or new_run_id(params)
    run_dir = (out_root / study.name / run_id).resolve()
    try:
        mf.sweep_stale_runs(out_root)
        _sweep_kernel_dirs()
        run_dir.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise ParameterError(f"Cannot create the run directory {str(run_dir)!r}: {exc.strerror or exc}. "
                             "Check --out: it must be a directory you can write to.") from None
    marker = None
    try:
        marker = mf.mark_running(out_root, run_dir)
        outcome = _execute(study, params, run_dir=run_dir, run_id=run_id, progress=progress, pdf=pdf,
                           extra_manifest=extra_manifest, policy=policy_obj, policy_path=policy_path,
                           notebook=Path(notebook) if notebook else None)
    except tuple(_INPUT_ERRORS.values()):
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)  # refused input: no trace of the run
        _remove_empty(run_dir.parent)
        raise
    except (KeyboardInterrupt, SystemExit):
        mf.finish_manifest(run_dir, "interrupted", "interrupted (Ctrl-C or a termination signal)")
        raise
    except AnalysisError:
        mf.finish_manifest(run_dir, "failed")
        raise
    except BaseException as exc:  # a full disk, a bug: the manifest says so, then the error goes on
        mf.finish_manifest(run_dir, "failed", f"{type(exc).__name__}: {exc}")
        if isinstance(exc, OSError):
            raise RunError(f"Study {study.name!r} could not write its output in {run_dir}: {exc}") from None
        raise
    finally:
        mf.unmark_running(marker)
        if run_dir.is_dir():
            mf.remove_partial_files(run_dir)
    if link_latest:
        _link_latest(run_dir)
    return outcome


def _remove_empty(directory: Path) -> None:
    try:
        directory.rmdir()  # only when empty: the study's first run was refused
    except OSError:
        pass


def _sanitise_outputs(run_dir: Path, policy) -> tuple[dict, list]:
    """results.json and disclosure_log.json as they may leave the run: no n of a withheld cell anywhere."""
    results_path = run_dir / "results.json"
    results = json.loads(results_path.read_text(encoding="utf-8"))
    changed = False
    for row in results.get("estimates", []):
        if row.get("suppressed") and row.get("n") is not None:
            row["n"] = None
            changed = True
    if changed:
        mf.write_json(results_path, results)
    log_path = run_dir / "disclosure_log.json"
    raw = json.loads(log_path.read_text(encoding="utf-8")) if log_path.is_file() else []
    log = mf.safe_log(raw, min_units=policy.min_units)
    if log != raw:
        mf.write_json(log_path, log)
    return results, log


@contextmanager
def _notebook_source(study: Study, notebook: Path | None = None) -> Iterator[Path]:
    """The path papermill executes: an ``.ipynb`` study as it is; a text notebook (jupytext percent) read
    into an ``nbformat`` notebook and written to a temporary ``.ipynb`` outside the run directory, so the
    executed ``notebook.ipynb`` stays the run's only ``.ipynb``. ``notebook`` (an executed run's own
    notebook, for a rerun) is executed as it is."""
    if notebook is not None:
        if not notebook.is_file():
            raise ParameterError(f"Notebook {str(notebook)!r} does not exist; a rerun needs the run's notebook.ipynb.")
        yield notebook
        return
    if not study.is_text:
        yield study.notebook
        return
    from analysis.run.catalog import write_ipynb

    with tempfile.TemporaryDirectory(prefix="rendeert-notebook-") as tmp:
        yield write_ipynb(study.notebook, Path(tmp) / f"{study.notebook.stem}.ipynb")


def _record_source(notebook_out: Path, study: Study, notebook: Path | None = None) -> None:
    """Name the study's own notebook (not the temporary copy of a text notebook) as the executed
    notebook's input in its papermill metadata."""
    if notebook is not None or not study.is_text or not notebook_out.is_file():
        return
    import nbformat

    nb = nbformat.read(notebook_out, as_version=4)
    nb.metadata.setdefault("papermill", {})["input_path"] = str(study.notebook)
    nbformat.write(nb, notebook_out)


def _shown_path(path: Path) -> str:
    return str(path.relative_to(project_root())) if path.is_relative_to(project_root()) else str(path)


def _execute(study: Study, params: dict, *, run_dir: Path, run_id: str, progress: bool, pdf: bool,
             extra_manifest: Mapping[str, Any] | None, policy, policy_path: Path | None,
             notebook: Path | None = None) -> RunOutcome:
    dataset_dir = _dataset_dir(params)
    manifest = {
        "study": study.name,
        "run_id": run_id,
        "notebook": _shown_path(notebook or study.notebook),
        "parameters": params,
        "defaults": {p.name: p.default for p in study.user_parameters},
        "seed": params.get("seed"),
        "dataset": None,
        "policy": mf.policy_record(policy, policy_path),
        "git": mf.git_state(),
        "versions": mf.package_versions(),
        "environment": {**mf.environment(), "pid": os.getpid()},
        "start_time": _now(),
        "end_time": None,
        "status": "running",
        "input_runs": mf.input_runs(params),
    }
    if extra_manifest:
        manifest.update(extra_manifest)
    if dataset_dir is not None:
        manifest["dataset"] = {"path": str(dataset_dir), **mf.dataset_fingerprint(dataset_dir)}
    mf.write_json(run_dir / "manifest.json", manifest)

    notebook_out = run_dir / "notebook.ipynb"
    started = time.perf_counter()
    env = {POLICY_ENV: str(policy_path)} if policy_path is not None else {}
    register_papermill_translator()  # papermill reads declared parameters cells with our parser
    try:
        with _kernel_transport(env) as (kernel_config, manager), _notebook_source(study, notebook) as source:
            papermill.execute_notebook(
                str(source),
                str(notebook_out),
                parameters={**params, "output_dir": str(run_dir)},
                kernel_name="python3",
                progress_bar=progress,
                cwd=str(project_root()),
                start_timeout=180,
                config=kernel_config,
                kernel_manager_class=manager,
            )
    except PapermillExecutionError as exc:
        _record_source(notebook_out, study, notebook)
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
    _record_source(notebook_out, study, notebook)

    if not (run_dir / "results.json").is_file():
        manifest.update(status="failed", end_time=_now(), error="no results.json")
        mf.write_json(run_dir / "manifest.json", manifest)
        raise RunError(
            f"Study {study.name!r} ran but wrote no results.json; its last cell must call "
            f"`study.finish()`. Notebook: {notebook_out}"
        )
    results, disclosure_log = _sanitise_outputs(run_dir, policy)
    manifest["disclosure_log"] = disclosure_log
    manifest["files"] = mf.study_files(run_dir)
    manifest["execution_seconds"] = round(time.perf_counter() - started, 2)

    info_path = run_dir / "report_info.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
    if pdf:
        from analysis.report.pdf import export_pdf

        meta = {
            "dataset_name": info.get("dataset_name") or results.get("dataset", {}).get("name"),
            "dataset_source": info.get("dataset_source"),
            "run_date": manifest["start_time"][:10],
            "parameters": results.get("parameters") or params,
            "population": results.get("population") or results.get("parameters") or params,
            "run_id": run_id,
            **report_dataset_meta(dataset_dir, results.get("parameters") or params),
        }
        export_pdf(
            notebook_out, run_dir / "report.pdf",
            title=info.get("title") or study.title,
            meta=meta,
            appendix={"manifest": {**manifest, "status": "ok"}, "disclosure_log": disclosure_log,
                      "policy": manifest["policy"]},
            lang=str(params.get("lang", "nl")),
        )
    from analysis.run.register import record_run

    record_run(run_dir, manifest=manifest, results=results)
    manifest.update(status="ok", end_time=_now())
    mf.write_json(run_dir / "manifest.json", manifest)
    return RunOutcome(study=study.name, run_dir=run_dir, results=results, manifest=manifest)


def compare_results(first: dict, second: dict) -> list[str]:
    """Differences between two results.json documents' estimates (:func:`analysis.run.rerun.compare_results`)."""
    from analysis.run.rerun import compare_results as compare

    return compare(first, second)


def rerun(run_dir: Path, **options):
    """Rerun a finished run from its own notebook (:func:`analysis.run.rerun.rerun`); ``latest`` stays."""
    from analysis.run.rerun import rerun as rerun_run

    return rerun_run(run_dir, **options)
