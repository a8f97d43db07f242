"""docs/writing-a-study.md: its code blocks are the job_loss notebook's code cells, and they run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib
import pytest

from analysis.run.catalog import get_study, read_notebook

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-a-study.md"


def _blocks() -> list[str]:
    return [b.strip() for b in re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)]


def test_the_code_blocks_are_the_notebook_cells():
    cells = [c.source.strip() for c in read_notebook(get_study("job_loss").notebook).cells if c.cell_type == "code"]
    assert _blocks() == cells


@pytest.mark.slow
def test_the_worked_example_runs_on_small_data(small, tmp_path):
    matplotlib.use("Agg")
    path, _, _ = small
    blocks = _blocks()
    namespace: dict = {}
    exec(compile(blocks[0], "writing-a-study.md: parameters", "exec"), namespace)
    namespace.update(dataset=str(path), output_dir=str(tmp_path), by="education")  # the subgroup cell runs too
    for i, block in enumerate(blocks[1:], start=1):
        exec(compile(block, f"writing-a-study.md: block {i}", "exec"), namespace)
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    names = {r["name"] for r in results["estimates"]}
    assert {"att_antidepressants", "att_mental_healthcare_costs_eur", "pretrend_p_antidepressants"} <= names
    assert {f"att_antidepressants_education_{level}" for level in ("low", "middle", "high")} <= names
    assert results["parameters"]["age_min"] == 50
    assert (tmp_path / "published.json").is_file()


def test_a_copy_of_job_loss_is_a_study_of_its_own(tmp_path, monkeypatch):
    from analysis.run.scaffold import new_study

    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='toy'\n")
    source = get_study("job_loss").notebook
    (root / "notebooks" / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("RENDEERT_HOME", str(root))
    made = new_study("benefit_end_health", from_study="job_loss", root=root)
    text = made.notebook.read_text(encoding="utf-8")
    assert 'rd.start("benefit_end_health", parameters=dict(' in text
    assert "job_loss.title" not in text, "the copy does not inherit the report title"
    assert "# # Benefit end health" in text
