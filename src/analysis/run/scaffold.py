"""``rendeert new NAME [--from STUDY]``: start a study from the template or from another study.

Writes ``notebooks/NN_<NAME>.py`` (a jupytext percent-format text notebook) and
``tests/studies/test_<NAME>.py`` (a test that runs it on a small synthetic
dataset and checks its results.json against the data contract). Without
``--from`` the notebook is ``templates/study.py``: a title cell, the parameters
cell with the population parameters, the setup call, one example step on
checked tables and the results cell. With ``--from STUDY`` it is that study's
notebook, converted to percent format (outputs dropped), its title and
study name replaced (and its report-title key dropped, so the copy's title is its own notebook's) and an
older-form parameters cell rewritten in the declared
form (``name: "TYPE" = default  # help``, allowed values ``[a|b]`` at the end of
a help becoming ``Literal["a", "b"]``).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path

from analysis.errors import ParameterError
from analysis.paths import project_root
from analysis.run.catalog import get_study, notebooks_dir, read_notebook, study_paths
from analysis.run.params import allowed_values

NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
#: Names the command line gives a meaning of its own (``rendeert run all``).
RESERVED = ("all", "latest")
NAME_TOKEN, TITLE_TOKEN = "__STUDY_NAME__", "__STUDY_TITLE__"
#: Studies numbered from here in steps of ten, below the validation study (90).
LAST_NUMBER = 90


@dataclass(frozen=True)
class NewStudy:
    """What ``rendeert new`` wrote."""

    name: str
    notebook: Path
    test: Path
    source: Path  # the template or the study it was copied from


def templates_dir(root: Path | None = None) -> Path:
    """``templates/`` of the project, else of this source checkout."""
    for base in (root or project_root(), Path(__file__).resolve().parents[3]):
        if (base / "templates" / "study.py").is_file():
            return base / "templates"
    raise ParameterError("templates/study.py is missing: `rendeert new` copies it. Restore it from the repository "
                         "(git checkout -- templates/).")


def check_name(name: str, root: Path | None = None) -> None:
    """Refuse a name that is not a valid study name or that a study already has."""
    if not isinstance(name, str) or not NAME.match(name) or keyword.iskeyword(name) or name in RESERVED:
        raise ParameterError(
            f"Study name {name!r} is not allowed: use 2 to 40 lower-case letters, digits and underscores, starting "
            f"with a letter (for example job_loss_50plus), not a Python keyword nor {', '.join(RESERVED)}."
        )
    existing = study_paths(root)
    if name in existing:
        raise ParameterError(f"A study {name!r} exists already (notebooks/{existing[name].name}); choose another name "
                             f"or edit that notebook.")
    test = _test_path(name, root)
    if test.exists():
        raise ParameterError(f"{test} exists already; choose another study name or remove that test first.")


def _test_path(name: str, root: Path | None) -> Path:
    return (root or project_root()) / "tests" / "studies" / f"test_{name}.py"


def next_number(root: Path | None = None) -> str:
    """The next free ``NN`` prefix: ten above the highest below 90, else one above the highest."""
    numbers = []
    for path in study_paths(root).values():
        m = re.match(r"^(\d+)[_-]", path.name)
        if m:
            numbers.append(int(m.group(1)))
    below = [n for n in numbers if n < LAST_NUMBER]
    candidate = (max(below, default=0) // 10 + 1) * 10
    if candidate >= LAST_NUMBER or candidate in numbers:
        candidate = max(numbers, default=0) + 1
    return f"{candidate:02d}"


def default_title(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def new_study(name: str, *, from_study: str | None = None, root: Path | None = None) -> NewStudy:
    """Write the notebook and the test of a new study ``name``; refuses an invalid or existing name."""
    check_name(name, root)
    notebook = notebooks_dir(root) / f"{next_number(root)}_{name}.py"
    if from_study is None:
        source = templates_dir(root) / "study.py"
        text = source.read_text(encoding="utf-8").replace(NAME_TOKEN, name).replace(TITLE_TOKEN, default_title(name))
    else:
        origin = get_study(from_study, root)
        source = origin.notebook
        text = _copy_as_text(origin, name)
    test_text = (templates_dir(root) / "test_study.py").read_text(encoding="utf-8").replace(NAME_TOKEN, name)
    test = _test_path(name, root)
    notebook.parent.mkdir(parents=True, exist_ok=True)
    test.parent.mkdir(parents=True, exist_ok=True)
    notebook.write_text(text, encoding="utf-8")
    test.write_text(test_text, encoding="utf-8")
    return NewStudy(name=name, notebook=notebook, test=test, source=source)


# --- copying a study -----------------------------------------------------------------------------

def declared_line(p) -> str:
    """An older-form parameter (``analysis.run.catalog.Parameter``) as a declared-form line."""
    import ast

    help_text = p.help
    choices = allowed_values(help_text)
    if choices is not None:
        help_text = re.sub(r"\s*\[[^\[\]]+\]\s*$", "", help_text)
    base = p.type_name.split("[")[0].strip().lower()
    try:
        default = ast.literal_eval(p.default)
    except (ValueError, SyntaxError):
        default = None
    if choices is not None and base in ("str", "int"):
        values = [int(c) for c in choices] if base == "int" else list(choices)
        annotation = "Literal[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in values) + "]"
    elif base in ("list", "tuple"):
        element = "int" if default and all(isinstance(v, int) and not isinstance(v, bool) for v in default) else "str"
        annotation = f"list[{element}]"
    elif base in ("int", "float", "str", "bool"):
        annotation = base
    else:
        raise ParameterError(f"Parameter {p.name!r} of type {p.type_name!r} has no declared form; declare it by hand "
                             f'as `{p.name}: "TYPE" = ...` (see docs/architecture.md, "Parameters are declared once").')
    quote = "'" if '"' in annotation else '"'
    default_text = p.default if base != "tuple" else repr(list(default or []))
    return f"{p.name}: {quote}{annotation}{quote} = {default_text}" + (f"  # {help_text}" if help_text else "")


def _copy_as_text(origin, name: str) -> str:
    import jupytext

    nb = read_notebook(origin.notebook)
    old_title = origin.title
    title = default_title(name)
    renamed_title = False
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            if "parameters" in cell.metadata.get("tags", []) and any(p.declaration is None for p in origin.parameters):
                cell.source = "\n".join(declared_line(p) for p in origin.parameters)
            elif "parameters" not in cell.metadata.get("tags", []):
                # the copy is a study of its own: not the origin's report title (it takes the notebook's)
                cell.source = re.sub(rf"""title_key=(["']){re.escape(origin.name)}\.title\1,\s*""", "", cell.source)
                # the study's own name as a literal (setup_study("intake", ...)) becomes the new name
                cell.source = re.sub(rf"""(["']){re.escape(origin.name)}\1""", rf"\g<1>{name}\g<1>", cell.source)
        elif cell.cell_type == "markdown" and not renamed_title:
            lines = cell.source.splitlines()
            for i, line in enumerate(lines):
                if line.startswith("# "):
                    lines[i:i + 1] = [f"# {title}", "",
                                      f"*Copied from the study `{origin.name}` ({old_title}, "
                                      f"notebooks/{origin.notebook.name}) by `rendeert new {name} --from "
                                      f"{origin.name}`: rewrite the question, data, estimand and assumption.*"]
                    cell.source = "\n".join(lines)
                    renamed_title = True
                    break
        for key in ("papermill", "execution", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
    nb.metadata.pop("papermill", None)
    return jupytext.writes(nb, fmt="py:percent")


__all__ = ["NewStudy", "check_name", "declared_line", "new_study", "next_number", "templates_dir"]
