"""The manifest: everything needed to rerun a study to the same numbers.

Written by the runner beside every run's results: parameters, the dataset's
path and the sha256 of each input table, the git commit and whether the tree
was dirty, versions of Python and the key packages, the seed, start and end
times, where the run ran, and the disclosure-control log.
"""

from __future__ import annotations

import hashlib
import json
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

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


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
