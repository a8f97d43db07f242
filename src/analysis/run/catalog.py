"""Which studies exist and which parameters each declares.

A study is a notebook in ``notebooks/`` whose cell tagged ``parameters``
declares each parameter as ``name: type = value  # help``. Papermill's own
inspection reads that cell, so ``papermill --help-notebook`` documents the
same parameters. ``00_overview.ipynb`` is the study ``overview``: a leading
number only orders the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import papermill

from analysis.errors import ParameterError
from analysis.paths import project_root

#: Parameters every study declares; the runner fills ``output_dir`` itself.
RUNNER_PARAMETERS = ("output_dir",)


@dataclass(frozen=True)
class Parameter:
    """One declared notebook parameter."""

    name: str
    type_name: str
    default: str
    help: str


@dataclass(frozen=True)
class Study:
    """A study notebook and its declared parameters (in declaration order)."""

    name: str
    notebook: Path
    parameters: tuple[Parameter, ...]
    title: str

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def user_parameters(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.name not in RUNNER_PARAMETERS)


def _study_name(path: Path) -> str:
    return re.sub(r"^\d+[_-]", "", path.stem)


def notebooks_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "notebooks"


def _title(nb_path: Path) -> str:
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return _study_name(nb_path)


def inspect_study(path: Path) -> Study:
    """Read a study notebook's declared parameters (refuses a notebook without them)."""
    declared = papermill.inspect_notebook(str(path))
    if not declared:
        raise ParameterError(
            f"{path.name} has no cell tagged 'parameters'; tag the cell that declares "
            "`name: type = value  # help` lines."
        )
    params = tuple(
        Parameter(
            name=name,
            type_name=(info.get("inferred_type_name") or "None").strip(),
            default=str(info.get("default")),
            help=(info.get("help") or "").strip(),
        )
        for name, info in declared.items()
    )
    return Study(name=_study_name(path), notebook=path, parameters=params, title=_title(path))


def list_studies(root: Path | None = None) -> dict[str, Study]:
    """Every study in ``notebooks/``, by name, in file order."""
    studies = {}
    for path in sorted(notebooks_dir(root).glob("*.ipynb")):
        study = inspect_study(path)
        studies[study.name] = study
    return studies


def get_study(name: str, root: Path | None = None) -> Study:
    studies = list_studies(root)
    if name not in studies:
        raise ParameterError(
            f"Unknown study {name!r}. Available studies: {', '.join(studies) or '(none)'}. "
            "List them with `rendeert studies`."
        )
    return studies[name]
