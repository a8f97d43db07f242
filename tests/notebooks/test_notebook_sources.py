"""Every study is one jupytext percent-format text notebook, notebooks/NN_<name>.py, with a declared
parameters cell: the notebook is its own source (issue #16). No generated .ipynb and no second copy of a
study exists for a test to compare it with; a researcher's edit in JupyterLab changes that one file."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.run.catalog import inspect_study

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
STUDIES = {p.stem.split("_", 1)[1]: p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))}


def test_the_project_has_studies_and_no_generated_notebooks():
    assert STUDIES, "notebooks/ holds no study"
    leftovers = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert leftovers == [], f"studies are .py text notebooks; remove or convert: {leftovers}"
    assert not (ROOT / "tools" / "notebook_specs").exists(), "notebook specs are gone: the .py is the source"


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_study_is_a_declared_text_notebook(name):
    study = inspect_study(STUDIES[name])  # refuses a notebook without a parameters cell, or a bad declaration
    undeclared = [p.name for p in study.parameters if p.declaration is None]
    assert study.parameters and not undeclared, (name, undeclared)
