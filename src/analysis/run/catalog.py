"""Which studies exist and which parameters each declares.

A study is a notebook in ``notebooks/``: a jupytext percent-format text
notebook ``NN_<name>.py`` (the layout every study moves to) or, until it has
moved, an ``.ipynb``. ``00_overview.ipynb`` and ``00_overview.py`` are both the
study ``overview``: a leading number only orders the list.

Its cell tagged ``parameters`` declares each parameter once, as
``name: "TYPE" = default  # help`` (:mod:`analysis.run.declarations`: type,
default, help, allowed values or range; the help is never parsed). A text
notebook must use that form. An ``.ipynb`` whose parameters cell has no string
annotation keeps the older form ``name: type = value  # help [a|b]``, read by
papermill's inspection with the allowed values at the end of the help, until
it moves.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import papermill

from analysis.errors import ParameterError
from analysis.paths import project_root
from analysis.run.declarations import Declaration, is_declared_form, parse_declarations

#: Parameters every study declares; the runner fills ``output_dir`` itself.
RUNNER_PARAMETERS = ("output_dir",)
#: The file suffixes of a study notebook: text notebook (jupytext percent) and Jupyter's own format.
NOTEBOOK_SUFFIXES = (".py", ".ipynb")
#: The kernel a text notebook runs on when its header names none (a JupyterLab save writes one).
DEFAULT_KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


@dataclass(frozen=True)
class Parameter:
    """One declared notebook parameter.

    ``type_name`` and ``default`` are the declaration's text (``default`` as written, so
    ``ast.literal_eval(p.default)`` is its value); ``declaration`` is the parsed declaration of the
    ``name: "TYPE" = default  # help`` form, ``None`` for the older form.
    """

    name: str
    type_name: str
    default: str
    help: str
    declaration: Declaration | None = None

    def describe(self) -> str:
        """The declaration as a line: as written for the declared form."""
        if self.declaration is not None:
            return self.declaration.source
        return f"{self.name}: {self.type_name} = {self.default}  # {self.help}"


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

    @property
    def is_text(self) -> bool:
        """Whether the study is a text notebook (jupytext percent format)."""
        return self.notebook.suffix == ".py"

    def read(self):
        """The notebook as an in-memory ``nbformat`` notebook (see :func:`read_notebook`)."""
        return read_notebook(self.notebook)


def _study_name(path: Path) -> str:
    return re.sub(r"^\d+[_-]", "", path.stem)


def notebooks_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "notebooks"


def read_notebook(path: Path):
    """A study notebook as an ``nbformat`` v4 notebook, from ``.ipynb`` or a percent-format ``.py``.

    A text notebook is read with jupytext; it has no outputs, and when its header names no kernel it
    gets :data:`DEFAULT_KERNELSPEC`, so papermill knows its language.
    """
    path = Path(path)
    if path.suffix == ".py":
        import jupytext

        try:
            nb = jupytext.read(path, fmt="py:percent")
        except Exception as exc:  # jupytext raises several types for a malformed header or cell marker
            raise ParameterError(f"{path.name} cannot be read as a jupytext percent notebook: {exc}. Cells start "
                                 "with `# %%` lines (`# %% [markdown]` for text).") from None
        nb.metadata.setdefault("kernelspec", dict(DEFAULT_KERNELSPEC))
        return nb
    import nbformat

    return nbformat.read(path, as_version=4)


def write_ipynb(notebook: Path, target: Path) -> Path:
    """Write ``notebook`` (either format) to ``target`` as ``.ipynb``, for tools that need a path
    (papermill); the jupytext bookkeeping of a text notebook is left out. Returns ``target``."""
    import nbformat

    nb = read_notebook(notebook)
    nb.metadata.pop("jupytext", None)
    nbformat.write(nb, target)
    return target


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _parameters_cell(nb):
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def _legacy_parameters(path: Path) -> tuple[Parameter, ...]:
    declared = papermill.inspect_notebook(str(path))
    return tuple(
        Parameter(
            name=name,
            type_name=(info.get("inferred_type_name") or "None").strip(),
            default=str(info.get("default")),
            help=(info.get("help") or "").strip(),
        )
        for name, info in declared.items()
    )


#: Studies parsed so far, by (path, modification time, size): a batch plan validates every combination
#: against its study (1,500 over all municipalities and two years), and parsing nine notebooks for each took
#: minutes. A notebook that changed on disk is parsed anew; a notebook that fails is not remembered.
_PARSED: dict[tuple, Study] = {}


def inspect_study(path: Path) -> Study:
    """Read a study notebook's declared parameters (refuses a notebook without them); an unchanged
    notebook is parsed once per process (:data:`_PARSED`)."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _PARSED:
        _PARSED[key] = _inspect(path)
    return _PARSED[key]


def _inspect(path: Path) -> Study:
    nb = read_notebook(path)
    cell = _parameters_cell(nb)
    tag = '`# %% tags=["parameters"]`' if path.suffix == ".py" else "the tag 'parameters'"
    missing = ParameterError(
        f"{path.name} has no cell tagged 'parameters'; mark the cell that declares "
        f'`name: "TYPE" = default  # help` lines with {tag}.'
    )
    if cell is None:
        raise missing
    if path.suffix == ".py" or is_declared_form(cell.source):
        declarations = parse_declarations(cell.source, where=f"{path.name}, parameters cell")
        params = tuple(Parameter(name=d.name, type_name=d.annotation, default=d.default_source, help=d.help,
                                 declaration=d) for d in declarations)
    else:
        params = _legacy_parameters(path)
    if not params:
        raise missing
    return Study(name=_study_name(path), notebook=path, parameters=params, title=_title(nb, _study_name(path)))


def study_paths(root: Path | None = None) -> dict[str, Path]:
    """The notebook of every study, by name, in file order; refuses a study present in both formats."""
    found: dict[str, Path] = {}
    paths = [p for s in NOTEBOOK_SUFFIXES for p in notebooks_dir(root).glob(f"*{s}")]
    for path in sorted(paths, key=lambda p: p.name):
        name = _study_name(path)
        if name in found:
            raise ParameterError(
                f"Study {name!r} exists twice: notebooks/{found[name].name} and notebooks/{path.name}. Keep one "
                "(the .py text notebook is the source once a study has moved; delete the .ipynb)."
            )
        found[name] = path
    return found


def list_studies(root: Path | None = None, *, required: bool = False) -> dict[str, Study]:
    """Every study in ``notebooks/``, by name, in file order; ``required`` refuses a project without any
    (``rendeert studies`` and ``run all`` would otherwise do nothing and succeed)."""
    studies = {name: inspect_study(path) for name, path in study_paths(root).items()}
    if required and not studies:
        hint = (f" RENDEERT_HOME is set to {os.environ['RENDEERT_HOME']!r}: point it at a checkout of rendeert, or "
                "unset it." if os.environ.get("RENDEERT_HOME") else " Run rendeert from inside a checkout of rendeert.")
        raise ParameterError(f"No study notebooks in {notebooks_dir(root)} (expected notebooks/NN_<name>.py).{hint}")
    return studies


def get_study(name: str, root: Path | None = None) -> Study:
    studies = list_studies(root)
    if name not in studies:
        raise ParameterError(
            f"Unknown study {name!r}. Available studies: {', '.join(studies) or '(none)'}. "
            "List them with `rendeert studies`."
        )
    return studies[name]
