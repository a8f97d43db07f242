"""`rendeert validate DIR` on every bad input: exit 2, the rule named on stderr, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.run import cli
from data_helpers import write_dataset
from data_bad_inputs import BAD_INPUTS


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_validate_exits_2_in_process(tmp_path, capsys, case):
    build, rule, pattern = BAD_INPUTS[case]
    path = build(tmp_path)
    code = cli.main(["validate", str(path)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_BAD_INPUT
    assert "Traceback" not in err
    assert f"rule {rule}:" in err and "Fix: " in err


def test_validate_ok(tmp_path, capsys):
    assert cli.main(["validate", str(write_dataset(tmp_path / "d"))]) == 0
    assert "valid (persons 3" in capsys.readouterr().out


def _rendeert(args, home: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("rendeert")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "analysis.run.cli"]
    env = {**os.environ, "RENDEERT_HOME": str(home), "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(command + args, capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_rendeert_validate_command_exits_2_without_traceback(tmp_path, case):
    build, rule, _ = BAD_INPUTS[case]
    path = build(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    proc = _rendeert(["validate", str(path)], home)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"rule {rule}:" in proc.stderr
    assert list(home.rglob("*")) == []  # nothing written, no data/processed


@pytest.mark.slow
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root reads a chmod 000 file anyway; the simulated opener test covers the path")
def test_rendeert_validate_unreadable_file(tmp_path):
    path = write_dataset(tmp_path / "d")
    (path / "persons.csv").chmod(0)
    try:
        proc = _rendeert(["validate", str(path)], tmp_path)
    finally:
        (path / "persons.csv").chmod(0o644)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "persons.csv, rule readable" in proc.stderr


def test_validate_unreadable_file_simulated(tmp_path, capsys, monkeypatch):
    import analysis.data.files as files_mod

    path = write_dataset(tmp_path / "d")
    real = files_mod.open_binary

    def opener(p):
        if Path(p).name == "persons.csv":
            raise PermissionError(13, "Permission denied", str(p))
        return real(p)

    monkeypatch.setattr(files_mod, "open_binary", opener)
    assert cli.main(["validate", str(path)]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "persons.csv, rule readable: cannot be read: permission denied" in err and "Traceback" not in err
