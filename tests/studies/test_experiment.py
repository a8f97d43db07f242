"""Study "experiment" (issue #17) against the simulator's truth and closed forms.

- the ITT estimates recover the true arm effects of the simulated experiment (potential outcomes in
  truth.json) within 3 standard errors;
- the outcomes the study measures from the contract tables are the simulator's own outcomes;
- the design numbers (MDE, required size, power) equal the closed form of Bloom (1995) computed here from
  the published inputs (at the target effect with the mean of the two arms' Bernoulli variances), and the power of the individual design agrees with a seeded simulation;
- the randomisation-inference p-values agree with the large-sample p-values (the exact enumeration is in
  tests/estimators/test_experiments.py);
- ``rendeert run experiment`` runs end to end (assignment file hashed in the manifest), the study is
  listed by ``rendeert studies``, and a dataset without an experiments table still gets its design.

The study is the notebook notebooks/70_experiment.py: the tests execute its code cells in-process (the
parameters cell first, then the given parameters, as papermill injects them) and read the objects its
cells hand on (``run``, ``units``, ``parts``, ``effects``).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.data.synthetic import generate
from analysis.errors import ParameterError
from analysis.run.catalog import get_study

Z_MAX = 3.0  # the criterion: within 3 standard errors of the truth
CLOSED = 1e-9  # closed form on the same inputs, in floating point
#: 4,000 simulated experiments: the sd of a rejection rate near 0.5 is 0.008; 3 sd
SIM_MARGIN = 0.025
#: permutation and t-test p-values agree to O(1/sqrt(n)) at ~80 per arm (Lehmann & Romano 2005, 15.2), and the
#: RI p-value carries its own Monte Carlo error (400 permutations: sd <= 0.025)
RI_MARGIN = 0.12
PERSONS, SEED = 20_000, 5
PERMUTATIONS = 400


def run_notebook(**parameters) -> dict:
    """Execute the study notebook's code cells with ``parameters`` injected after its parameters cell;
    returns the notebook's namespace."""
    nb = get_study("experiment").read()
    namespace: dict = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        exec(compile(cell.source, "70_experiment.py", "exec"), namespace)
        if "parameters" in cell.metadata.get("tags", []):
            namespace.update(parameters)
    return namespace


pytestmark = pytest.mark.xdist_group("study_experiment")  # one worker builds the module-scoped fixtures, once


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiment")
    data = generate(root / "data", n_persons=PERSONS, seed=SEED)
    ns = run_notebook(dataset=str(data), permutations=PERMUTATIONS, output_dir=str(root / "out"))
    truth = json.loads((data / "truth.json").read_text())["truths"]["experiment"]
    rows = {e["name"]: e for e in ns["run"].estimates}
    return {"data": data, "run": ns["run"], "frame": ns["parts"].frame, "population": ns["units"].frame,
            "effects": ns["effects"], "truth": truth, "rows": rows}


@pytest.mark.slow
def test_itt_recovers_the_true_arm_effects(world):
    truth, rows = world["truth"], world["rows"]
    arms = [a for a in truth["arms"] if a != "control"]
    assert len(arms) == 3
    for outcome in ("exit_to_work_24m", "bijstand_months_24m"):
        for arm in arms:
            name = f"itt_{outcome}_{arm}"
            e = rows[name]
            assert not e["suppressed"], name
            assert abs(e["estimate"] - truth[name]) <= Z_MAX * e["se"], (name, e["estimate"], e["se"], truth[name])
    # the analysed participants are the simulator's (same persons observed)
    assert int(world["frame"]["observed"].sum()) == truth["n_analysed"]
    assert len(world["frame"]) == truth["n_participants"]


@pytest.mark.slow
def test_balance_and_assignment_shares_follow_the_randomisation(world):
    frame = world["frame"]
    counts = frame.groupby("arm").size()
    assert counts.max() - counts.min() <= frame["stratum"].nunique(), "arms equal within each stratum, up to one"
    assert set(counts.index) == set(world["truth"]["arms"])


@pytest.mark.slow
def test_design_numbers_are_the_closed_form(world):
    """MDE = (z_{1-alpha/(2k)} + z_power) sd sqrt((1/p_t + 1/p_c) DEFF (1 - R^2) / n) (Bloom 1995), with p_c =
    1/(k+1), p_t = 1/(k+1), DEFF = 1 + (m - 1) ICC for teams of m; computed here, not by the estimator."""
    rows, p = world["rows"], world["run"].parameters
    rate = rows["design_base_rate_exit_to_work_24m"]["estimate"]
    n = rows["design_size"]["estimate"]
    r2 = rows["design_r2"]["estimate"]
    sd = np.sqrt(rate * (1 - rate))
    target = p["target_effect_pp"] / 100
    # at the target the treated share is rate + target: the mean of the two arms' variances
    sd_target = np.sqrt((rate * (1 - rate) + (rate + target) * (1 - rate - target)) / 2)
    size_exact = world["population"].groupby("year").size().mean() * p["enrolment_years"]
    assert n == round(size_exact)
    for k in (1, p["treatment_arms"]):
        z = stats.norm.ppf(1 - p["alpha"] / (2 * k)) + stats.norm.ppf(p["power"])
        share = 1 / (k + 1)
        for design, factor in (("individual", 1.0), ("stratified", 1 - r2),
                               ("cluster", (1 + (p["cluster_size"] - 1) * p["icc"]) * (1 - r2))):
            se1 = sd * np.sqrt((2 / share) * factor)  # the standard error times sqrt(n)
            mde = z * se1 / np.sqrt(size_exact)
            assert rows[f"mde_{design}_{k}arms"]["estimate"] == pytest.approx(mde, rel=CLOSED)
            se1 = sd_target * np.sqrt((2 / share) * factor)
            need = (z * se1 / target) ** 2
            got = rows[f"required_n_{design}_{k}arms"]["estimate"]
            if design == "cluster":
                assert got == np.ceil(need / p["cluster_size"]) * p["cluster_size"]
            else:
                assert got == np.ceil(need)
            zc = stats.norm.ppf(1 - p["alpha"] / (2 * k))
            pw = stats.norm.sf(zc - target * np.sqrt(size_exact) / se1) + stats.norm.cdf(-zc - target * np.sqrt(size_exact) / se1)
            assert rows[f"power_{design}_{k}arms"]["estimate"] == pytest.approx(pw, rel=CLOSED)


@pytest.mark.slow
def test_power_of_the_individual_design_by_simulation(world):
    """4,000 seeded two-arm experiments of the required size, Bernoulli outcomes at the base rate plus the
    target effect, analysed with a two-sided z-test: the rejection rate is the design's power."""
    rows, p = world["rows"], world["run"].parameters
    rate = rows["design_base_rate_exit_to_work_24m"]["estimate"]
    n = int(rows["required_n_individual_1arms"]["estimate"])
    target = p["target_effect_pp"] / 100
    rng = np.random.default_rng(20171)
    half = n // 2
    y0 = rng.random((4000, half)) < rate
    y1 = rng.random((4000, n - half)) < rate + target
    m0, m1 = y0.mean(axis=1), y1.mean(axis=1)
    se = np.sqrt(m0 * (1 - m0) / half + m1 * (1 - m1) / (n - half))
    rejected = np.abs(m1 - m0) / se > stats.norm.ppf(1 - p["alpha"] / 2)
    assert rejected.mean() == pytest.approx(p["power"], abs=SIM_MARGIN)


@pytest.mark.slow
def test_randomisation_inference_agrees_with_the_large_sample_p(world):
    for outcome in ("exit_to_work_24m", "bijstand_months_24m"):
        res = world["effects"][outcome]
        est = res.estimates
        assert (est["p_value_ri"] >= 1 / (PERMUTATIONS + 1)).all()
        assert np.abs(est["p_value_ri"] - est["p_value"]).max() <= RI_MARGIN, est[["p_value", "p_value_ri"]]
        # Holm over the arms: the smallest p times the number of arms, then step-down and monotone
        p = est["p_value"].sort_values()
        k = len(p)
        expected = np.minimum(np.maximum.accumulate([(k - i) * v for i, v in enumerate(p)]), 1)
        assert np.allclose(est.loc[p.index, "p_value_holm"], expected, atol=CLOSED)


@pytest.mark.slow
def test_assignment_file_is_seeded_stratified_and_hashed(world):
    out = world["run"].output_dir
    body = (out / "assignment.csv").read_bytes()
    files = json.loads((out / "files.json").read_text())
    assert files["assignment.csv"]["sha256"] == hashlib.sha256(body).hexdigest()
    frame = pd.read_csv(out / "assignment.csv")
    per = frame.groupby(["stratum", "arm"]).size().unstack(fill_value=0)
    assert (per.max(axis=1) - per.min(axis=1) <= 1).all(), "equal shares within each stratum, up to one unit"
    from analysis.estimators.experiments import assign

    population = world["population"]
    units = population[population["year"] == world["run"].parameters["last_year"]].drop_duplicates("person_id")
    again = assign(units, arms=list(per.columns.sort_values()), strata=["stratum"], seed=0)
    assert set(again.frame["person_id"].astype(str)) == set(frame["person_id"].astype(str))


def test_parameters_are_checked_against_the_dataset(tmp_path):
    data = generate(tmp_path / "d", n_persons=2_000, seed=2)
    out = str(tmp_path / "o")
    with pytest.raises(ParameterError, match=r"covariates=.*\['income'\] are not known; allowed: female"):
        run_notebook(dataset=str(data), covariates=["female", "income"], output_dir=out)
    with pytest.raises(ParameterError, match=r"give years from 2015 to 2021"):
        run_notebook(dataset=str(data), first_year=2016, last_year=2022, output_dir=out)
    with pytest.raises(ParameterError, match=r"experiment='nope' is not in this dataset's experiments table "
                                             r"\(experiments: participatiewet_2017\)"):
        run_notebook(dataset=str(data), experiment="nope", output_dir=out)
    with pytest.raises(ParameterError, match=r"by='income' is not a column the participants carry"):
        run_notebook(dataset=str(data), by="income", output_dir=out)
    with pytest.raises(ParameterError, match=r"control_group='placebo' is not an arm of the experiment"):
        run_notebook(dataset=str(data), control_group="placebo", output_dir=out)
    (data / "experiments.parquet").unlink()
    with pytest.raises(ParameterError, match=r"the dataset has no experiments table"):
        run_notebook(dataset=str(data), experiment="nope", output_dir=out)


def test_a_tiny_population_has_no_experiment_and_still_loads(tmp_path):
    """Too few persons for the experiment: no table (never one without a control arm), no truth, the tables valid."""
    from analysis.data import load_dataset

    data = generate(tmp_path / "tiny", n_persons=300, seed=3)
    assert not (data / "experiments.parquet").exists()
    assert "experiment" not in json.loads((data / "truth.json").read_text())["truths"]
    assert "experiments" not in load_dataset(data).tables


@pytest.mark.slow
def test_dataset_without_experiments_still_gets_its_design(tmp_path):
    data = generate(tmp_path / "d", n_persons=4_000, seed=11)
    (data / "experiments.parquet").unlink()
    ns = run_notebook(dataset=str(data), output_dir=str(tmp_path / "o"), permutations=0)
    assert ns["parts"] is None
    assert ns["effects"] == {}
    names = {e["name"] for e in ns["run"].estimates}
    assert "mde_stratified_3arms" in names and not any(n.startswith("itt_") for n in names)
    assert (tmp_path / "o" / "results.json").is_file()


@pytest.mark.slow
def test_rendeert_run_experiment_end_to_end(tmp_path, capsys):
    from analysis.run import cli

    assert cli.main(["studies"]) == 0
    assert "experiment  (notebooks/70_experiment.py)" in capsys.readouterr().out
    data = generate(tmp_path / "d", n_persons=4_000, seed=11)
    out = tmp_path / "reports"
    assert cli.main(["run", "experiment", "--dataset", str(data), "--no-pdf", "--out", str(out),
                     "-p", "permutations", "99", "--lang", "en"]) == 0
    run = next((out / "experiment").glob("2*"))
    results = json.loads((run / "results.json").read_text())
    names = {e["name"] for e in results["estimates"]}
    assert {"itt_exit_to_work_24m_intensive_support", "p_ri_bijstand_months_24m_exemption",
            "mde_cluster_3arms", "attrition_difference_extra_earnings"} <= names
    manifest = json.loads((run / "manifest.json").read_text())
    digest = hashlib.sha256((run / "assignment.csv").read_bytes()).hexdigest()
    assert manifest["files"]["assignment.csv"]["sha256"] == digest
    assert manifest["files"]["assignment.csv"]["spec"]["seed"] == 0


def test_itt_falls_back_to_hc1_when_a_stratum_holds_one_unit():
    """A unit alone in its stratum has leverage 1: HC2 (1 - h in the denominator) is undefined. The estimator
    says so with a SmallCellWarning and reports HC1, which must equal statsmodels' HC1 on the same design."""
    import statsmodels.api as sm

    from analysis.errors import SmallCellWarning
    from analysis.estimators.experiments import itt

    rng = np.random.default_rng(3)
    n = 40
    frame = pd.DataFrame({"arm": np.tile(["control", "treatment"], n // 2), "y": rng.normal(size=n),
                          "stratum": ["a"] * (n - 1) + ["b"]})
    with pytest.warns(SmallCellWarning, match="leverage 1"):
        res = itt(frame, outcome="y", arm="arm", strata=["stratum"], permutations=0)
    assert res.spec["se"] == "HC1"
    x = np.column_stack([(frame["arm"] == "treatment").astype(float), np.ones(n), (frame["stratum"] == "b")])
    ref = sm.OLS(frame["y"].to_numpy(), x).fit(cov_type="HC1")
    assert res.estimates.loc["arm=treatment", "std_error"] == pytest.approx(ref.bse[0], rel=CLOSED)


def test_a_constant_or_collinear_covariate_is_dropped_not_fatal():
    """Within a subgroup a covariate can be constant (sex among women) or a copy of another: neither adds a
    dimension to [1, arm, strata], so both are left out and the rest kept."""
    from analysis.studies.experiment import _usable

    rng = np.random.default_rng(7)
    n = 60
    frame = pd.DataFrame({"arm": np.tile(["control", "a", "b"], n // 3), "stratum": np.repeat(["s1", "s2"], n // 2),
                          "age": rng.normal(40, 10, n), "female": np.ones(n)})
    frame["age_copy"] = 2 * frame["age"] + 1  # collinear with age and the constant
    frame["in_s2"] = (frame["stratum"] == "s2").astype(float)  # the strata determine it
    assert _usable(frame, ["female", "age", "age_copy", "in_s2"], "control") == ["age"]


@pytest.mark.slow
def test_population_parameters_select_the_participants_and_by_splits_them(world, tmp_path):
    ns = run_notebook(dataset=str(world["data"]), output_dir=str(tmp_path / "o"), permutations=0, age_min=25,
                      age_max=55, sex="F", by="education")
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert {k: results["parameters"][k] for k in ("age_min", "age_max", "sex", "by")} == {
        "age_min": 25, "age_max": 55, "sex": "F", "by": "education"}
    parts = ns["parts"].frame
    assert (parts["sex"] == "F").all() and parts["age"].between(25, 55).all()
    assert 0 < len(parts) < len(world["frame"])
    units = ns["units"].frame
    assert (units["sex"] == "F").all() and units["age"].between(25, 55).all()
    rows = {e["name"]: e for e in results["estimates"]}
    levels = sorted(parts.loc[parts["observed"] == 1, "education"].unique())
    for arm in ns["parts"].arms:
        whole = rows[f"itt_exit_to_work_24m_{arm}"]
        groups = {name: r for name, r in rows.items() if name.startswith(f"itt_exit_to_work_24m_{arm}_education_")}
        assert groups and set(groups) <= {f"itt_exit_to_work_24m_{arm}_education_{v}" for v in levels}
        assert all(r["n"] is None or r["n"] < whole["n"] for r in groups.values()), "a group is part of the whole"
