"""Studies as jupytext percent-format text notebooks (notebooks/NN_<name>.py) beside .ipynb ones.

The catalog lists both kinds; a text study declares its parameters as ``name: "TYPE" = default  # help``;
a researcher's edit in JupyterLab (saved through jupytext's own contents manager, as JupyterLab saves)
leaves it valid; the runner executes it and the run's notebook.ipynb is the only .ipynb written.
"""

from __future__ import annotations

import json

import nbformat
import pytest

from analysis.errors import ParameterError
from analysis.run import cli
from analysis.run.catalog import get_study, list_studies, read_notebook
from analysis.run.params import validate_parameters
from analysis.run.runner import run_study
from notebook_builder import build_notebook

TEXT_STUDY = '''# %% [markdown]
# # Text toy study
#
# **Question.** Does a text notebook run?

# %% tags=["parameters"]
n: "Annotated[int, Range(1, 10)]" = 3  # how many rows
scale: "float" = 1.0  # multiplier
lang: 'Literal["nl", "en"]' = "nl"  # report language
tags: "list[str]" = ["a"]  # labels [x|y] are prose here
output_dir: "str" = ""  # set by the runner

# %%
import json, pathlib
rows = [{"name": f"x_{i}", "estimate": float(i) * scale, "se": None, "ci_low": None, "ci_high": None,
         "n": 100, "unit": "value", "suppressed": False} for i in range(n)]

# %%
pathlib.Path(output_dir, "results.json").write_text(json.dumps(
    {"study": "texttoy", "parameters": {"n": n, "lang": lang}, "dataset": {}, "estimates": rows}))
'''

OLD_PARAMS = '''
n: int = 3  # how many draws
lang: str = "nl"  # report language [nl|en]
output_dir: str = ""  # set by the runner
'''


@pytest.fixture()
def project(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='toy'\n")
    nb = build_notebook([("markdown", "# Old toy"), ("parameters", OLD_PARAMS), ("code", "x = n")])
    nbformat.write(nb, root / "notebooks" / "01_oldtoy.ipynb")
    (root / "notebooks" / "05_texttoy.py").write_text(TEXT_STUDY, encoding="utf-8")
    monkeypatch.setenv("RENDEERT_HOME", str(root))
    monkeypatch.delenv("RENDEERT_POLICY", raising=False)
    return root


def test_catalog_lists_both_kinds_in_file_order(project):
    studies = list_studies()
    assert list(studies) == ["oldtoy", "texttoy"]
    text, old = studies["texttoy"], studies["oldtoy"]
    assert text.is_text and not old.is_text
    assert text.title == "Text toy study"
    assert [p.name for p in text.user_parameters] == ["n", "scale", "lang", "tags"]
    n = text.parameter("n")
    assert (n.type_name, n.default, n.help) == ("Annotated[int, Range(1, 10)]", "3", "how many rows")
    assert text.parameter("tags").declaration.choices is None, "the help of a declared parameter is prose"
    assert old.parameter("n").declaration is None and old.parameter("n").type_name == "int"


def test_text_study_parameters_validate_against_the_declaration(project):
    study = get_study("texttoy")
    assert validate_parameters(study, {"n": "10", "lang": "en", "tags": "x,z"}) == {
        "n": 10, "lang": "en", "tags": ["x", "z"]}
    with pytest.raises(ParameterError, match=r"'n' received '11': outside the allowed range. Allowed: an integer "
                                             r"from 1 to 10"):
        validate_parameters(study, {"n": "11"})
    with pytest.raises(ParameterError, match=r"(?s)no parameter 'm'.*Valid parameters:.*n: \"Annotated"):
        run_study("texttoy", {"m": 1}, pdf=False, progress=False)
    assert not (project / "reports").exists(), "a refused run writes nothing"


def test_studies_command_prints_both_kinds_and_each_declaration(project, capsys):
    assert cli.main(["studies"]) == 0
    out = capsys.readouterr().out
    assert "oldtoy  (notebooks/01_oldtoy.ipynb): Old toy" in out
    assert "texttoy  (notebooks/05_texttoy.py): Text toy study" in out
    assert '    n: "Annotated[int, Range(1, 10)]" = 3  # how many rows' in out
    assert '    lang: str = "nl"  # report language [nl|en]' in out
    assert cli.main(["studies", "texttoy"]) == 0
    out = capsys.readouterr().out
    assert "allowed: an integer from 1 to 10; default 3" in out
    assert "allowed: one of 'nl', 'en'; default \"nl\"" in out


def test_run_study_help_prints_the_declarations(project, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "texttoy", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "usage:" in out and "parameters (-p NAME VALUE):" in out
    assert 'scale: "float" = 1.0  # multiplier' in out and "allowed: a number; default 1.0" in out
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "nope", "--help"])
    assert exit_.value.code == 2
    assert "Unknown study 'nope'" in capsys.readouterr().err


def test_a_study_in_both_formats_is_refused(project):
    (project / "notebooks" / "05_oldtoy.py").write_text(TEXT_STUDY, encoding="utf-8")
    with pytest.raises(ParameterError, match=r"'oldtoy' exists twice: notebooks/01_oldtoy.ipynb and "
                                             r"notebooks/05_oldtoy.py"):
        list_studies()


@pytest.mark.parametrize("text,pattern", [
    (TEXT_STUDY.replace('# %% tags=["parameters"]', "# %%"), r'no cell tagged .parameters.*# %% tags=\["parameters"\]'),
    (TEXT_STUDY.replace('n: "Annotated[int, Range(1, 10)]" = 3', "n: int = 3"),
     r'05_texttoy.py, parameters cell, line 1: the type of .n. must be a string, `n: "int" = ...`'),
])
def test_a_text_study_must_declare_its_parameters(project, text, pattern):
    (project / "notebooks" / "05_texttoy.py").write_text(text, encoding="utf-8")
    with pytest.raises(ParameterError, match=pattern):
        list_studies()


def _jupyterlab_contents_manager(root):
    """The contents manager JupyterLab saves through when jupytext is installed (its server extension)."""
    from jupyter_server.services.contents.largefilemanager import LargeFileManager
    from jupytext.sync_contentsmanager import build_sync_jupytext_contents_manager_class

    return build_sync_jupytext_contents_manager_class(LargeFileManager)(root_dir=str(root))


def test_jupyterlab_edit_with_added_cells_and_outputs_leaves_the_study_valid(project):
    path = project / "notebooks" / "05_texttoy.py"
    manager = _jupyterlab_contents_manager(project / "notebooks")
    model = manager.get("05_texttoy.py")
    assert model["type"] == "notebook", "JupyterLab opens the text study as a notebook"
    nb = model["content"]
    nb.cells.insert(2, nbformat.v4.new_markdown_cell("## My own note\nA researcher's added text."))
    added = nbformat.v4.new_code_cell("extra = n * 2\nprint('OUTPUT-MARKER', extra)")
    added.outputs = [nbformat.v4.new_output("stream", name="stdout", text="OUTPUT-MARKER 6\n")]
    nb.cells.insert(4, added)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = i + 1  # as after "Run all"
    nb.metadata["kernelspec"] = {"name": "rendeert", "display_name": "Python (rendeert)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.12.1"}
    manager.save({"type": "notebook", "content": nb}, "05_texttoy.py")

    text = path.read_text(encoding="utf-8")
    assert "OUTPUT-MARKER 6" not in text, "outputs are never stored in a percent file"
    assert "print('OUTPUT-MARKER', extra)" in text and "## My own note" in text
    assert sorted(p.name for p in path.parent.iterdir()) == ["01_oldtoy.ipynb", "05_texttoy.py"], \
        "the save changed that one file and wrote no other"
    reread = read_notebook(path)
    assert all(not c.get("outputs") for c in reread.cells if c.cell_type == "code")
    assert len(reread.cells) == 6
    study = get_study("texttoy")
    assert [p.name for p in study.user_parameters] == ["n", "scale", "lang", "tags"]
    assert validate_parameters(study, {"n": "4", "lang": "en"}) == {"n": 4, "lang": "en"}
    with pytest.raises(ParameterError, match="outside the allowed range"):
        validate_parameters(study, {"n": 0})


@pytest.mark.slow
def test_runner_executes_a_text_study_and_writes_one_ipynb(project):
    outcome = run_study("texttoy", {"n": "4", "scale": "2", "lang": "en"}, pdf=False, progress=False)
    assert [e["estimate"] for e in outcome.results["estimates"]] == [0.0, 2.0, 4.0, 6.0]
    assert outcome.results["parameters"] == {"n": 4, "lang": "en"}
    assert sorted(p.name for p in outcome.run_dir.glob("*.ipynb")) == ["notebook.ipynb"]
    assert sorted(p.name for p in (project / "notebooks").iterdir()) == ["01_oldtoy.ipynb", "05_texttoy.py"]
    executed = nbformat.read(outcome.run_dir / "notebook.ipynb", as_version=4)
    assert executed.metadata["papermill"]["input_path"] == str(project / "notebooks" / "05_texttoy.py")
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert executed.cells[0].cell_type == "markdown" and executed.cells[0].source.startswith("# Text toy study")
    manifest = json.loads((outcome.run_dir / "manifest.json").read_text())
    assert manifest["notebook"].endswith("05_texttoy.py") and manifest["defaults"]["n"] == "3"


def test_an_ipynb_with_string_annotations_is_read_in_the_declared_form(project):
    declared = 'lang: \'Literal["nl", "en"]\' = "nl"  # language [not|parsed]\noutput_dir: "str" = ""  # runner'
    nb = build_notebook([("markdown", "# Declared ipynb"), ("parameters", declared), ("code", "x = lang")])
    nbformat.write(nb, project / "notebooks" / "02_declared.ipynb")
    study = get_study("declared")
    assert study.parameter("lang").declaration.choices == ("nl", "en")
    assert study.parameter("lang").help == "language [not|parsed]"
    with pytest.raises(ParameterError, match=r"'lang' received 'de': not one of the allowed values"):
        validate_parameters(study, {"lang": "de"})


def test_a_project_without_study_notebooks_is_refused_with_the_folder_named(tmp_path, monkeypatch):
    """`rendeert run all` with RENDEERT_HOME pointing at an empty folder used to run nothing and exit 0."""
    monkeypatch.setenv("RENDEERT_HOME", str(tmp_path))
    with pytest.raises(ParameterError, match=r"No study notebooks in .*notebooks.*RENDEERT_HOME"):
        list_studies(required=True)
    assert list_studies() == {}  # the API outside a checkout (rd.start of a study not in a catalogue) still works
    assert cli.main(["studies"]) != 0
