"""requirements-ra.txt: what CBS installs inside Remote Access (Windows, CPython 3.12, no internet).

The fast tests read the files; the slow one asks pip (against the package index) whether every pin
resolves to a binary wheel for win_amd64 / CPython 3.12 and whether the pins are complete.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
WINDOWS = ROOT / "requirements-ra.txt"
LINUX = ROOT / "requirements-ra-linux.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """name -> version of every requirement line; refuses a line that is not an exact pin."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = PIN.match(line)
        assert m, f"{path.name}: {line!r} is not pinned with =="
        found[_norm(m.group(1))] = m.group(2)
    return found


def test_every_runtime_dependency_is_pinned():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {_norm(re.split(r"[<>=!~; \[]", d, maxsplit=1)[0]) for d in deps}
    windows = pins(WINDOWS)
    assert names <= set(windows), f"not pinned: {sorted(names - set(windows))}"
    assert "rendeert" not in windows, "the project itself is copied in, not installed from the index"


def test_linux_twin_has_the_same_versions():
    windows, linux = pins(WINDOWS), pins(LINUX)
    shared = set(windows) & set(linux)
    assert len(shared) > 0.95 * len(windows)
    assert {n: linux[n] for n in shared} == {n: windows[n] for n in shared}
    # what only one platform needs comes from markers of the packages themselves
    assert set(windows) - set(linux) <= {"colorama", "pywinpty", "pywin32", "tzdata", "appnope"}


def test_files_come_from_the_make_target():
    makefile = (ROOT / "Makefile").read_text()
    assert "requirements-ra:" in makefile and "--python-platform windows" in makefile
    for path in (WINDOWS, LINUX):
        assert "make requirements-ra" in path.read_text().splitlines()[1], path.name


def _python312() -> str | None:
    for candidate in ("/root/.pyenv/versions/3.12.1/bin/python3.12", shutil.which("python3.12")):
        if candidate and Path(candidate).is_file():
            return candidate
    return sys.executable if sys.version_info[:2] == (3, 12) else None


@pytest.mark.slow
def test_pins_resolve_to_windows_cpython312_wheels(tmp_path):
    """pip install --dry-run --platform win_amd64 --python-version 3.12 --only-binary=:all: -r requirements-ra.txt.

    pip evaluates environment markers on the machine it runs on, so it runs on a CPython 3.12 (then
    python_version markers are those of CBS's Python); what it adds beyond the pins may only be
    packages that the host's platform (Linux) needs: those of requirements-ra-linux.txt.
    """
    python = _python312()
    if python is None:
        pytest.skip("no CPython 3.12 on this machine (pyenv provides one on the project machines)")
    report = tmp_path / "report.json"
    run = subprocess.run(
        [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--disable-pip-version-check",
         "--platform", "win_amd64", "--python-version", "3.12", "--implementation", "cp", "--only-binary=:all:",
         "--target", str(tmp_path / "target"), "--report", str(report), "-r", str(WINDOWS)],
        capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    resolved = {_norm(i["metadata"]["name"]): i for i in json.loads(report.read_text())["install"]}
    windows, linux = pins(WINDOWS), pins(LINUX)
    assert set(windows) <= set(resolved), f"pins pip did not install: {sorted(set(windows) - set(resolved))}"
    for name, version in windows.items():
        assert resolved[name]["metadata"]["version"] == version, name
        wheel = resolved[name]["download_info"]["url"].rsplit("/", 1)[-1]
        assert wheel.endswith(".whl"), f"{name}: {wheel} is not a wheel"
        python_tag, abi_tag, platform_tag = wheel[:-4].split("-")[-3:]
        assert platform_tag in ("any", "win_amd64"), wheel
        assert re.search(r"(^|\.)(py3|cp312|cp3\d*)($|\.)", python_tag) and abi_tag in ("none", "abi3", "cp312"), wheel
    assert set(resolved) - set(windows) <= set(linux) - set(windows)


@pytest.mark.slow
def test_make_target_regenerates_the_committed_files(tmp_path):
    """`make requirements-ra` on a copy of the project gives the committed files again (pinned index date)."""
    venv = Path(sys.executable).parent.parent
    if not (venv / "bin" / "uv").is_file() or shutil.which("make") is None:
        pytest.skip("needs make and uv in this venv (pip install -e '.[dev]' brings uv)")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    run = subprocess.run(["make", "--no-print-directory", "requirements-ra", f"VENV={venv}"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    for path in (WINDOWS, LINUX):  # the pins, not the comments (their layout may change with uv's version)
        assert pins(tmp_path / path.name) == pins(path), f"{path.name} is not what make gives"
