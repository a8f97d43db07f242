"""Every study notebook runs end to end on small synthetic data.

- papermill through the runner, with the PDF: results.json follows the data
  contract, the PDF has pages, its text holds the title and no code;
- nbval in lax mode on every notebook, parameterised for the small dataset.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from analysis.run.catalog import list_studies, write_ipynb
from analysis.run.runner import run_study

ROOT = Path(__file__).resolve().parents[2]
RESULT_KEYS = {"name", "estimate", "se", "ci_low", "ci_high", "n", "unit", "suppressed"}
# Studies that need data other than a contract dataset, and the parameters they get here.
STUDY_PARAMETERS: dict[str, dict] = {}
# With -n (loadgroup): the notebook runs on the session small dataset (conftest.py) go to one worker as a
# group, with test_batch_overview.py; a group starts before the single tests, so these long runs start early.
pytestmark = pytest.mark.xdist_group("notebook_runs")


def _pdf_text(pdf: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(pdf).pages)


def _check_results(results: dict) -> None:
    assert set(results) >= {"study", "parameters", "dataset", "estimates"}
    assert set(results["dataset"]) >= {"name", "path", "sha256"}
    for row in results["estimates"]:
        assert set(row) >= RESULT_KEYS, row
        for key in ("estimate", "se", "ci_low", "ci_high"):
            assert row[key] is None or isinstance(row[key], (int, float)), row
        if row["suppressed"]:
            assert row["estimate"] is None and row["se"] is None


def test_notebooks_committed_without_outputs():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        outputs = [c for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
        assert not outputs, f"{path.name} has outputs committed"
        assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), path.name


@pytest.mark.slow
def test_overview_end_to_end(small_dataset, tmp_path):
    outcome = run_study("overview", {"dataset": str(small_dataset)}, out_root=tmp_path, progress=False)
    results = json.loads((outcome.run_dir / "results.json").read_text())
    _check_results(results)
    names = {e["name"] for e in results["estimates"]}
    assert {"median_spell_months", "bijstand_share_2014", "bijstand_share_2023", "inflow_2015",
            "inflow_2023"} <= names
    truth = json.loads((small_dataset / "truth.json").read_text())
    truths = truth.get("truths", truth)
    for year in (2016, 2020, 2023):
        ours = next(e for e in results["estimates"] if e["name"] == f"inflow_{year}")
        assert ours["estimate"] == truths[f"inflow_{year}"], "inflow is a count: the definitions must agree exactly"
    text = _pdf_text(outcome.pdf)
    assert "Overzicht" in text
    assert "rd.start(" not in text and "import " not in text, "code must be hidden in the PDF"


@pytest.mark.slow
@pytest.mark.parametrize("study", sorted(list_studies()))
def test_nbval_lax(study, small_dataset, tmp_path):
    spec = list_studies()[study]
    params = {"output_dir": str(tmp_path)}
    if "dataset" in {p.name for p in spec.user_parameters}:
        params["dataset"] = str(small_dataset)
    params.update(STUDY_PARAMETERS.get(study, {}))
    source = spec.notebook
    if spec.is_text:  # a jupytext percent study: papermill and nbval read .ipynb
        source = write_ipynb(spec.notebook, tmp_path / f"source-{spec.notebook.stem}.ipynb")
    prepared = tmp_path / f"{spec.notebook.stem}.ipynb"
    papermill.execute_notebook(str(source), str(prepared), parameters=params, prepare_only=True,
                               progress_bar=False)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", str(prepared)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]

