"""Where the project lives: the directory holding ``pyproject.toml`` and ``notebooks/``.

Set ``RENDEERT_HOME`` to point the workbench at another checkout.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The project directory: $RENDEERT_HOME, else the nearest parent with notebooks/ and pyproject.toml."""
    env = os.environ.get("RENDEERT_HOME")
    if env:
        return Path(env).resolve()
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for candidate in (start, *start.parents):
            if (candidate / "pyproject.toml").is_file() and (candidate / "notebooks").is_dir():
                return candidate
    return Path.cwd()


def resolve_path(path: str | os.PathLike) -> Path:
    """A user path as given when it exists, else relative to the project root."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p.resolve()
    candidate = project_root() / p
    return candidate.resolve() if candidate.exists() else p.resolve()


def processed_root() -> Path:
    return project_root() / "data" / "processed"


def reports_root() -> Path:
    return project_root() / "reports"
