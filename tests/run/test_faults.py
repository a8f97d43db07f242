"""Bad input and faults leave no trace: no run directory for refused input, no half-written report.pdf,
no manifest stuck at "running", no kernel files, a killed batch worker costs its own run only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from analysis.errors import ParameterError, RunError, StudyError
from analysis.run import cli
from analysis.run import manifest as mf
from analysis.run.batch import run_batch
from analysis.run.runner import KERNEL_DIR_PREFIX, rerun, run_study
from toy_study import toy  # noqa: F401  (fixture)

#: how long a subprocess run may take to reach its sleeping cell (kernel start on a loaded 2-core machine)
START_TIMEOUT_S = 120


def _run_dirs(root: Path) -> list[Path]:
    base = root / "reports" / "toy"
    return sorted(p for p in base.iterdir() if p.is_dir() and p.name != "latest") if base.is_dir() else []


def _cli(args: list[str], root: Path) -> subprocess.Popen:
    env = {**os.environ, "RENDEERT_HOME": str(root)}
    return subprocess.Popen([sys.executable, "-m", "analysis.run.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


# -- refused input ------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("error", ["DataValidationError", "ParameterError", "StudyError"])
def test_input_error_in_the_notebook_leaves_no_run_directory(toy, capsys, error):  # noqa: F811
    status = cli.main(["run", "toy", "-p", "refuse", error, "--no-pdf"])
    err = capsys.readouterr().err
    assert status == 2
    assert f"refused on purpose: {error}" in err and "Traceback" not in err
    assert _run_dirs(toy) == [], "a refused run writes no run directory"
    assert not any((toy / "reports" / ".running").glob("*")), "and leaves no running marker"


def test_refused_parameters_leave_nothing(toy):  # noqa: F811
    with pytest.raises(ParameterError, match=r"'n' must be of type int"):
        run_study("toy", {"n": "many"}, pdf=False, progress=False)
    assert not (toy / "reports").exists()


# -- YAML files ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("n: !!python/object/apply:os.system ['echo hacked']\n", r"is not plain YAML.*tags such as !!python"),
    ("n: [1, 2\nlang: nl\n", r"is not plain YAML at line \d+, column \d+"),
    ("- 1\n- 2\n", r"must hold a mapping name: value; found list"),
])
def test_malformed_or_tagged_parameter_file_exits_2_naming_it(toy, tmp_path, capsys, text, message):  # noqa: F811
    f = tmp_path / "params.yml"
    f.write_text(text)
    status = cli.main(["run", "toy", "-f", str(f), "--no-pdf"])
    err = capsys.readouterr().err
    assert status == 2
    assert "params.yml" in err and "Traceback" not in err
    import re

    assert re.search(message, err), err
    assert not (toy / "reports").exists()


@pytest.mark.parametrize(("text", "message"), [
    ("n: !!python/name:os.system\n", r"grid.yml.*is not plain YAML.*!!python"),
    ("n: [1, 2]]\n", r"grid.yml.*is not plain YAML"),
    ("n: [2, 3, 2]\n", r"Grid parameter 'n' lists 2 more than once"),
])
def test_bad_grid_file_exits_2(toy, tmp_path, capsys, text, message):  # noqa: F811
    f = tmp_path / "grid.yml"
    f.write_text(text)
    status = cli.main(["batch", "toy", "--grid", str(f), "--no-pdf", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    import re

    assert re.search(message, err), err
    assert not (tmp_path / "out").exists()


def test_grid_file_not_utf8_is_refused(toy, tmp_path, capsys):  # noqa: F811
    f = tmp_path / "grid.yml"
    f.write_bytes("municipality: [Súdwest-Fryslân]\n".encode("latin-1"))
    assert cli.main(["batch", "toy", "--grid", str(f), "--no-pdf"]) == 2
    assert "is not UTF-8 text" in capsys.readouterr().err


# -- duplicates in a batch ----------------------------------------------------------------------------

def test_duplicate_values_in_a_parameter_list_are_refused(toy, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "out"
    status = cli.main(["batch", "toy", "-p", "municipality", "GM0363,GM0363", "--no-pdf", "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert "Grid parameter 'municipality' lists 'GM0363' more than once" in err
    assert not out.exists(), "nothing runs"


def test_values_equal_after_conversion_are_refused(toy, tmp_path):  # noqa: F811
    with pytest.raises(ParameterError, match=r"are the same run of 'toy'"):
        run_batch("toy", {"n": ["2", "02"]}, out_root=tmp_path, pdf=False, progress=False)
    with pytest.raises(ParameterError, match=r"'n' is given twice with -p"):
        from analysis.run.batch import read_grid

        read_grid(None, [("n", "1"), ("n", "2")])


# -- the policy reaches the run -----------------------------------------------------------------------

def test_loosening_policy_is_refused_with_exit_2(toy, tmp_path, capsys):  # noqa: F811
    loose = tmp_path / "loose.yml"
    loose.write_text("min_units: 5\n")
    for args in (["run", "toy", "--no-pdf"], ["batch", "toy", "-p", "n", "1,2", "--no-pdf"]):
        assert cli.main([*args, "--policy", str(loose)]) == 2
        err = capsys.readouterr().err
        assert "loosens the CBS rules (min_units 5 < 10)" in err and "Traceback" not in err
    assert not (toy / "reports").exists()
    tagged = tmp_path / "tagged.yml"
    tagged.write_text("min_units: !!python/object/apply:os.getpid []\n")
    assert cli.main(["run", "toy", "--no-pdf", "--policy", str(tagged)]) == 2
    assert "tagged.yml" in capsys.readouterr().err


@pytest.mark.slow
def test_policy_goes_to_the_kernel_and_the_manifest(toy, tmp_path):  # noqa: F811
    strict = tmp_path / "strict.yml"
    strict.write_text("min_units: 15\ndominance_share: 0.8\n")
    outcome = run_study("toy", {}, pdf=False, progress=False, policy=strict)
    seen = json.loads((outcome.run_dir / "kernel_env.json").read_text())
    assert seen["RENDEERT_POLICY"] == str(strict.resolve()), "the kernel reads the policy from $RENDEERT_POLICY"
    manifest = json.loads((outcome.run_dir / "manifest.json").read_text())
    assert manifest["policy"]["rules"]["min_units"] == 15 and manifest["policy"]["rules"]["dominance_share"] == 0.8
    import hashlib

    assert manifest["policy"]["sha256"] == hashlib.sha256(strict.read_bytes()).hexdigest()
    # the log keeps no count of the withheld cell: "<15" under this policy, and results.json has n null
    assert manifest["disclosure_log"] == [{"object": "small", "cell": "estimate", "rule": "min_units", "n": "<15"}]
    assert json.loads((outcome.run_dir / "disclosure_log.json").read_text())[0]["n"] == "<15"
    small = [e for e in json.loads((outcome.run_dir / "results.json").read_text())["estimates"] if e["name"] == "small"]
    assert small[0]["n"] is None
    default = run_study("toy", {}, pdf=False, progress=False)
    assert json.loads((default.run_dir / "kernel_env.json").read_text())["RENDEERT_POLICY"] is None
    assert json.loads((default.run_dir / "manifest.json").read_text())["policy"]["file"] is None


# -- faults -------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_failed_pdf_leaves_no_report_and_a_failed_manifest(toy, monkeypatch):  # noqa: F811
    import typst

    def broken(source, output=None, **kw):
        Path(output).write_bytes(b"%PDF-1.7 half")  # a compiler that dies half-way through writing
        raise RuntimeError("typst crashed")

    monkeypatch.setattr(typst, "compile", broken)
    with pytest.raises(RunError, match=r"Typst could not compile .*typst crashed"):
        run_study("toy", {}, progress=False, pdf=True)
    (run_dir,) = _run_dirs(toy)
    assert not (run_dir / "report.pdf").exists(), "no half-written report.pdf"
    assert not list(run_dir.glob("*.partial.pdf")) and not list(run_dir.glob(".*.partial.pdf"))
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"


@pytest.mark.slow
def test_full_disk_marks_the_run_failed(toy, monkeypatch):  # noqa: F811
    import errno

    import analysis.run.register as register

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(register, "record_run", full)
    with pytest.raises(RunError, match=r"could not write its output .*No space left on device"):
        run_study("toy", {}, progress=False, pdf=False)
    (run_dir,) = _run_dirs(toy)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "No space left" in manifest["error"]
    assert not list((toy / "reports" / ".running").glob("*"))


def test_stale_running_manifest_of_a_dead_process_is_marked_interrupted(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run_dir = tmp_path / "toy" / "r1"
    run_dir.mkdir(parents=True)
    mf.write_json(run_dir / "manifest.json", {"status": "running", "end_time": None})
    (run_dir / ".manifest.json.999.tmp").write_text("{half")
    marker = mf.mark_running(tmp_path, run_dir)
    info = json.loads(marker.read_text())
    mf.write_json(marker, {**info, "pid": dead.pid})
    alive_dir = tmp_path / "toy" / "r2"
    alive_dir.mkdir()
    mf.write_json(alive_dir / "manifest.json", {"status": "running"})
    mf.mark_running(tmp_path, alive_dir)  # this process: alive
    assert mf.sweep_stale_runs(tmp_path) == [run_dir]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["end_time"]
    assert not list(run_dir.glob(".*.tmp")), "half-written files of the dead run are removed"
    assert json.loads((alive_dir / "manifest.json").read_text())["status"] == "running"


@pytest.mark.slow
def test_killed_run_is_marked_interrupted_and_leaves_no_kernel_files(toy):  # noqa: F811
    proc = _cli(["run", "toy", "-p", "sleep", "60", "--no-pdf"], toy)
    _wait_for(lambda: any((d / "kernel_env.json").exists() for d in _run_dirs(toy)), START_TIMEOUT_S)
    kernel_dirs = list(Path(tempfile.gettempdir()).glob(f"{KERNEL_DIR_PREFIX}{proc.pid}-*"))
    assert kernel_dirs, "the kernel's files live in a private directory named after the run's process"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    (run_dir,) = _run_dirs(toy)
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "running"  # nobody could say otherwise
    with pytest.raises(ParameterError):  # the next run (even a refused one) ...
        run_study("toy", {"n": "x"}, pdf=False, progress=False)
    outcome = run_study("toy", {}, pdf=False, progress=False)  # ... a real one sweeps
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"
    assert not any(d.exists() for d in kernel_dirs), "no kernel files of the killed run remain"
    assert json.loads((outcome.run_dir / "manifest.json").read_text())["status"] == "ok"
    assert not (run_dir / "report.pdf").exists()


@pytest.mark.slow
def test_sigterm_ends_the_run_interrupted(toy):  # noqa: F811
    proc = _cli(["run", "toy", "-p", "sleep", "60", "--no-pdf"], toy)
    _wait_for(lambda: any((d / "kernel_env.json").exists() for d in _run_dirs(toy)), START_TIMEOUT_S)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err
    (run_dir,) = _run_dirs(toy)
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"
    assert not list((toy / "reports" / ".running").glob("*"))
    assert not list(Path(tempfile.gettempdir()).glob(f"{KERNEL_DIR_PREFIX}{proc.pid}-*"))


@pytest.mark.slow
def test_killed_batch_worker_costs_only_its_own_run(toy, tmp_path):  # noqa: F811
    grid = {"n": [1, 2, 3], "kill_parent": [False, True]}
    batch_dir = run_batch("toy", grid, workers=2, out_root=tmp_path, pdf=False, progress=False)
    runs = pd.read_csv(batch_dir / "runs.csv")
    assert len(runs) == 6
    ok = runs[runs["status"] == "ok"]
    assert sorted(ok["n"]) == [1, 2, 3] and not ok["kill_parent"].any(), "every run whose worker lived succeeded"
    dead = runs[runs["status"] == "failed"]
    assert len(dead) == 3 and dead["kill_parent"].all()
    assert dead["error"].str.contains("worker process died .killed by signal 9.").all()
    statuses = [json.loads(p.read_text())["status"] for p in (tmp_path / "toy").glob("2*/manifest.json")]
    assert sorted(statuses) == ["interrupted"] * 3 + ["ok"] * 3, "no manifest stays 'running'"


# -- latest --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_latest_moves_only_with_rendeert_run(toy, tmp_path):  # noqa: F811
    assert cli.main(["run", "toy", "--no-pdf"]) == 0
    latest = toy / "reports" / "toy" / "latest"
    first = latest.resolve()
    import analysis.run.runner as runner

    original = runner.run_study
    runner.run_study = lambda *a, **k: original(*a, **{**k, "pdf": False})
    try:
        again, _ = rerun(first, progress=False)
    finally:
        runner.run_study = original
    assert latest.resolve() == first and again.run_dir != first, "a rerun leaves latest alone"
    run_batch("toy", {"n": [1, 2]}, workers=1, out_root=toy / "reports", pdf=False, progress=False)
    assert latest.resolve() == first, "a batch leaves latest alone"


def test_study_error_is_exit_2(toy, capsys, monkeypatch):  # noqa: F811
    import analysis.run.runner as runner

    def refuse(*a, **k):
        raise StudyError("too few persons for the event study")

    monkeypatch.setattr(runner, "run_study", refuse)
    assert cli.main(["run", "toy", "--no-pdf"]) == 2
    assert "Traceback" not in capsys.readouterr().err
