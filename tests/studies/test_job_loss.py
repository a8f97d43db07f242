"""The job_loss study (notebooks/60_job_loss.py) recovers the simulator's truth; it is written with the
public API only, in under 40 lines of code, and declares the population and design parameters."""

from __future__ import annotations

import json
import re

import pytest

from analysis.run.catalog import get_study, read_notebook
from analysis.run.runner import run_study

PERSONS = 20_000  # about 4 600 job ends at 50-66 with a base year: standard errors of 0.006 and € 5
SEED = 3
Z = 3.0  # an estimate lies within 3 standard errors of the truth unless the estimator is biased
#: The study counts treated persons from the data's employment spells, the truth from the simulated
#: months; a job starting days after a bijstand spell ends can move a spell start into the next month.
TREATED_REL_TOL = 0.02
MAX_CODE_LINES = 40  # issue #16: the worked example fits in under 40 lines of code cells
POPULATION = ("municipality", "age_min", "age_max", "sex", "first_year", "last_year")
DESIGN = ("covariates", "control_group", "anticipation", "base_period")


pytestmark = pytest.mark.xdist_group("study_job_loss")  # one worker builds the module-scoped fixtures, once


@pytest.fixture(scope="module")
def draw(tmp_path_factory):
    from analysis.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("job_loss") / "d", n_persons=PERSONS, seed=SEED)


@pytest.mark.slow
def test_effects_on_antidepressants_and_mental_health_costs_match_the_truth(draw, tmp_path):
    outcome = run_study("job_loss", {"dataset": str(draw)}, out_root=tmp_path, progress=False, pdf=False)
    results = json.loads((outcome.run_dir / "results.json").read_text(encoding="utf-8"))
    truth = json.loads((draw / "truth.json").read_text(encoding="utf-8"))["truths"]
    rows = {r["name"]: r for r in results["estimates"]}
    for outcome_name in ("antidepressants", "mental_healthcare_costs_eur"):
        for suffix in ("", "_e0", "_e1", "_e2", "_e3"):
            row = rows[f"att_{outcome_name}{suffix}"]
            expected = truth[f"att_{outcome_name}_job_loss_50plus{suffix}"]
            assert not row["suppressed"], row
            assert abs(row["estimate"] - expected) < Z * row["se"], (row, expected)
        assert rows[f"pretrend_p_{outcome_name}"]["unit"] == "p-value"
    n = rows["att_antidepressants"]["n"]
    assert n == pytest.approx(truth["job_loss_50plus_treated"], rel=TREATED_REL_TOL)
    assert results["parameters"]["age_min"] == 50 and results["parameters"]["age_max"] == 66


@pytest.mark.slow
def test_effects_by_sex_partition_the_treated_and_the_population_is_recorded(draw, tmp_path):
    outcome = run_study("job_loss", {"dataset": str(draw), "by": "sex", "age_min": 55},
                        out_root=tmp_path, progress=False, pdf=False)
    results = json.loads((outcome.run_dir / "results.json").read_text(encoding="utf-8"))
    assert results["parameters"]["by"] == "sex" and results["parameters"]["age_min"] == 55
    n = {r["name"]: r["n"] for r in results["estimates"]}
    everyone = json.loads((draw / "truth.json").read_text(encoding="utf-8"))["truths"]["job_loss_50plus_treated"]
    assert 0 < n["att_antidepressants"] < everyone, "a narrower age band than the truth's 50-66"
    for name in ("antidepressants", "mental_healthcare_costs_eur"):
        # every treated person is a woman or a man: the groups' treated add up to the whole population's
        assert n[f"att_{name}_sex_F"] + n[f"att_{name}_sex_M"] == n[f"att_{name}"]


def test_declares_the_population_and_design_parameters():
    study = get_study("job_loss")
    names = [p.name for p in study.user_parameters]
    assert set(POPULATION + DESIGN) <= set(names)
    assert study.parameter("sex").declaration.choices == ("all", "F", "M")
    assert study.parameter("age_max").declaration.default == 66


def test_written_with_the_public_api_in_under_forty_lines():
    nb = read_notebook(get_study("job_loss").notebook)
    code = [c for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    lines = [line for c in code for line in c.source.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert len(lines) < MAX_CODE_LINES, len(lines)
    source = "\n".join(lines)
    assert "import analysis as rd" in source
    assert not re.search(r"from analysis[.\s]|import analysis\.", source), "only the public API (rd.*)"
    assert "duckdb" not in source.lower() and "SELECT" not in source
