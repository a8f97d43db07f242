"""Every study in notebooks/ has exactly one source, during the move to text notebooks (issue #16).

A study is either

- moved: one jupytext percent notebook ``notebooks/NN_<name>.py`` whose cell tagged ``parameters``
  declares every parameter as ``name: "TYPE" = default  # help``, and no spec; or
- not yet moved: a generated ``notebooks/NN_<name>.ipynb`` and its spec ``tools/notebook_specs/<name>.py``,
  from which ``tools/make_notebook.py`` writes it; the committed notebook's cells are the spec's.

The comparison runs once per spec still present and for nothing else, so each study's move (delete
its ``.ipynb`` and its spec, add its ``.py``) is independent of the others'; when the last spec is gone
no test reads tools/ (and tools/make_notebook.py can go).
"""

from __future__ import annotations

import importlib.util
import runpy
from pathlib import Path

import pytest

from analysis.run.catalog import _study_name, inspect_study, study_paths

ROOT = Path(__file__).resolve().parents[2]
SPECS_DIR = ROOT / "tools" / "notebook_specs"
SPECS = sorted(SPECS_DIR.glob("*.py")) if SPECS_DIR.is_dir() else []
STUDIES = study_paths(ROOT)


def _make_notebook():
    """tools/make_notebook.py, the generator the specs are written for (loaded by path)."""
    spec = importlib.util.spec_from_file_location("make_notebook", ROOT / "tools" / "make_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_project_has_studies():
    assert STUDIES, "notebooks/ holds no study"


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_study_is_a_declared_text_notebook_or_still_has_its_spec(name):
    path = STUDIES[name]
    spec = SPECS_DIR / f"{name}.py"
    if path.suffix == ".py":
        assert not spec.exists(), (f"{path.name} is the study's source now: delete its old spec "
                                   f"tools/notebook_specs/{name}.py")
        study = inspect_study(path)  # refuses a notebook without a parameters cell, or a malformed declaration
        undeclared = [p.name for p in study.parameters if p.declaration is None]
        assert study.parameters and not undeclared, (path.name, undeclared)
    else:
        assert spec.is_file(), (f"{path.name} is a generated notebook without its spec tools/notebook_specs/"
                                f"{name}.py; move the study to notebooks/{path.stem}.py (docs/architecture.md, "
                                "'Study kit') or restore the spec")


if SPECS:  # with no spec left there is nothing to compare, and no test reads tools/

    @pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
    def test_generated_notebook_matches_its_spec(spec):
        import nbformat

        matches = [p for p in (ROOT / "notebooks").glob("*.ipynb") if _study_name(p) == spec.stem]
        assert len(matches) == 1, (f"tools/notebook_specs/{spec.name} has {len(matches)} generated notebooks "
                                   f"notebooks/NN_{spec.stem}.ipynb; a moved study deletes its spec")
        built = _make_notebook().build(runpy.run_path(str(spec))["CELLS"])
        committed = nbformat.read(matches[0], as_version=4)
        assert [c.source for c in committed.cells] == [c.source for c in built.cells], (
            f"{matches[0].name} differs from its spec: python tools/make_notebook.py tools/notebook_specs/"
            f"{spec.name} notebooks/{matches[0].name}")
