"""pyproject.toml and environment.yml must agree about which packages the project needs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: Packages only the conda route lists: the interpreter and its installer.
CONDA_ONLY = {"python", "pip"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    for extra in project.get("optional-dependencies", {}).values():
        names |= {_name(r) for r in extra}
    return names


def _environment() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(r) for r in dep.get("pip", []) if not r.startswith("-e")}
        else:
            names.add(_name(dep))
    return names - CONDA_ONLY


def test_environment_named_rendeert_on_conda_forge():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["name"] == "rendeert"
    assert "conda-forge" in env["channels"]
    assert "-e ." in next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]


def test_pyproject_and_environment_agree():
    py, conda = _pyproject(), _environment()
    assert py - conda == set(), f"in pyproject.toml only: {sorted(py - conda)}"
    assert conda - py == set(), f"in environment.yml only: {sorted(conda - py)}"


def test_required_packages_declared():
    required = {"jupyterlab", "pandas", "statsmodels", "scikit-learn", "seaborn", "papermill", "nbval"}
    assert required <= _pyproject()
