"""Intake study against the simulator's truth on a fresh draw (another seed than the bundled data)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.data.synthetic import generate
from analysis.run.runner import run_study

#: the issue's criterion: every estimate within three of its reported standard errors of the truth
Z_MAX = 3.0


# With -n (loadgroup) a group starts before the single tests: the long truth test starts early, not last.
pytestmark = pytest.mark.xdist_group("study_intake")


@pytest.fixture(scope="module")
def draw(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("intake") / "d", n_persons=25_000, seed=101)


@pytest.mark.slow
def test_estimates_within_three_se_of_truth(draw, tmp_path):
    outcome = run_study("intake", {"dataset": str(draw)}, out_root=tmp_path, progress=False, pdf=False)
    truth = json.loads((draw / "truth.json").read_text())["truths"]
    names = ["share_inflow_after_divorce", "excess_bijstand_after_divorce_12m_F",
             "excess_bijstand_after_divorce_12m_M", "attributable_share_inflow_divorce_24m"]
    est = {e["name"]: e for e in outcome.results["estimates"]}
    for name in names:
        e = est[name]
        assert not e["suppressed"], name
        assert abs(e["estimate"] - truth[name]) <= Z_MAX * e["se"], (name, e["estimate"], truth[name], e["se"])
    # the descriptive share is a count ratio on the same data: it must agree exactly
    assert est["share_inflow_after_divorce"]["estimate"] == pytest.approx(truth["share_inflow_after_divorce"], abs=1e-12)
    # the report (issue #16): effects on a share in percentage points, the limitations placed apart
    from analysis.report.labels import fmt_pp
    from analysis.report.pdf import notebook_parts

    parts = notebook_parts(outcome.run_dir / "notebook.ipynb")
    assert fmt_pp(est["excess_bijstand_after_divorce_12m_F"]["estimate"], "nl") in parts["body"]
    effect_rows = [line for line in parts["body"].splitlines() if line.startswith(("| Vrouwen | 12 |", "| Mannen | 12 |"))]
    assert len(effect_rows) == 2 and not any("%" in row for row in effect_rows), effect_rows
    assert "Effect (procentpunt)" in parts["body"]
    assert parts["limitations"].startswith("De effecten rusten op de aanname")


@pytest.mark.slow
def test_no_separations_withholds_the_effects_and_says_so(tmp_path):
    """Without a single divorce or separation the run completes: the effects are withheld (n null), the
    0 % share is withheld (group disclosure), and the report says in a sentence what was withheld."""
    path = generate(tmp_path / "d", n_persons=3_000, seed=5)
    parts = pd.read_parquet(path / "partnerships.parquet")
    parts = parts[~parts["end_reason"].isin(["divorce", "separation"])]
    parts.to_parquet(path / "partnerships.parquet", index=False)
    outcome = run_study("intake", {"dataset": str(path)}, out_root=tmp_path / "r", progress=False, pdf=False)
    est = {e["name"]: e for e in outcome.results["estimates"]}
    for name in ("excess_bijstand_after_divorce_12m_F", "excess_bijstand_after_divorce_12m_M",
                 "attributable_share_inflow_divorce_24m", "share_inflow_after_divorce"):
        assert est[name]["suppressed"] and est[name]["estimate"] is None and est[name]["n"] is None, name
    log = json.loads((outcome.run_dir / "disclosure_log.json").read_text())
    assert {"object": "event_study", "cell": "all", "rule": "min_treated", "n": "<10"} in log
    notebook = (outcome.run_dir / "notebook.ipynb").read_text()
    assert "Het effect van de gebeurtenis wordt niet geschat" in notebook
    assert "Wegens geheimhouding" in notebook


def test_a_constant_or_collinear_covariate_is_left_out_and_named():
    """Within a group a constant covariate (female among women) and one that is a sum of others are left
    out; the rest are kept, in order (a rank argument on a design built to have exactly those defects)."""
    from types import SimpleNamespace

    import numpy as np

    from analysis.errors import ParameterError
    from analysis.studies.intake import Design, Options, covariates_for

    rng = np.random.default_rng(3)
    n = 200
    age = rng.integers(20, 60, n).astype(float)
    female = np.ones(n)
    edu_mid = rng.integers(0, 2, n).astype(float)
    edu_high = (1 - edu_mid) * rng.integers(0, 2, n)
    edu_any = edu_mid + edu_high  # collinear: the sum of the two before it
    x = np.column_stack([age, female, edu_mid, edu_high, edu_any])
    names = ("age", "female", "education_middle", "education_high", "education_any")
    cohorts = SimpleNamespace(covariate_names=names, covariates_at=lambda b: x, periods=np.arange(12))
    dsg = Design(event="divorce", cohorts=cohorts, people=pd.DataFrame({"cohort": np.zeros(n)}), min_units=10)
    keep = np.ones(n, dtype=bool)
    kept, dropped = covariates_for(dsg, Options(), keep)
    assert kept == ["age", "education_middle", "education_high"] and dropped == ["female", "education_any"]
    assert covariates_for(dsg, Options(covariates=()), keep) == ([], [])
    with pytest.raises(ParameterError, match="union_length"):
        covariates_for(dsg, Options(covariates=("union_length",)), keep)
