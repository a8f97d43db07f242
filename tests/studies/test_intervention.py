"""intervention against the simulator's truth: AIPW within 3 SE, the naive comparison not."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.data.synthetic import generate
from analysis.errors import StudyError
from analysis.estimators.risk_set import risk_set_frame
from analysis.run.runner import run_study

Z_MAX = 3.0  # the criterion


def study_steps(dataset, out, **options):
    """The notebook's first steps (options, rd.start, the programme, the population, the risk sets) with its
    declared defaults for everything not given: (run, opts, design)."""
    import ast

    import analysis as rd
    from pathlib import Path

    from analysis.run.catalog import inspect_study
    from analysis.studies import intervention

    run = rd.start("intervention", title_key="intervention.title",
                   parameters={"dataset": str(dataset), "output_dir": str(out), **options})
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "30_intervention.py"  # RENDEERT_HOME may be a tmp dir
    p = {q.name: ast.literal_eval(q.default) for q in inspect_study(notebook).parameters} | run.parameters
    own = ("intervention", "outcome_months", "monthly_benefit_eur", "discount_rate", "horizon_months",
           "health_savings_run", "heterogeneity", "gates_groups", "by", "max_controls", "covariates", "control_group",
           "anticipation", "municipality", "seed")
    opts = intervention.programme(run, intervention.options(**{k: p[k] for k in own}))
    pop = rd.population(run.store, **{k: p[k] for k in ("municipality", "age_min", "age_max", "sex", "first_year",
                                                         "last_year")})
    return run, opts, intervention.risk_sets(run, pop, opts)


@pytest.mark.slow
def test_aipw_recovers_truth_and_naive_does_not(tmp_path):
    draw = generate(tmp_path / "d", n_persons=50_000, seed=303)
    outcome = run_study("intervention", {"dataset": str(draw)}, out_root=tmp_path / "r", progress=False, pdf=False)
    truth = json.loads((draw / "truth.json").read_text())["truths"]
    est = {e["name"]: e for e in outcome.results["estimates"]}
    for name in ("att_months_bijstand_24m", "att_employed_24m", "att_ladder_step_12m"):
        e = est[name]
        assert abs(e["estimate"] - truth[name]) <= Z_MAX * e["se"], (name, e, truth[name])
    naive = est["naive_months_bijstand_24m"]
    assert abs(naive["estimate"] - truth["att_months_bijstand_24m"]) > Z_MAX * naive["se"]
    assert 0 <= est["prob_pays_off"]["estimate"] <= 1
    for name in ("net_benefit_per_participant_eur", "benefit_cost_ratio", "social_npv_per_participant_eur",
                 "fiscal_npv_gemeente_per_participant_eur", "fiscal_npv_rijk_per_participant_eur",
                 "fiscal_npv_zorgverzekeraar_per_participant_eur", "benefit_cost_ratio_social"):
        assert est[name]["estimate"] is not None and est[name]["ci_low"] <= est[name]["ci_high"], name
    for name in ("prob_social_npv_positive", "prob_fiscal_npv_gemeente_positive"):
        assert 0 <= est[name]["estimate"] <= 1
    assert outcome.results["parameters"]["discount_rate"] == 0.0225


@pytest.mark.slow
def test_dataset_without_interventions_gets_a_clear_message(tmp_path):
    draw = generate(tmp_path / "d", n_persons=2_000, seed=4)
    (draw / "interventions.parquet").unlink()
    with pytest.raises(StudyError, match=r"no interventions table"):
        run_study("intervention", {"dataset": str(draw)}, out_root=tmp_path / "r", progress=False, pdf=False)


def test_risk_set_excludes_immortal_time_by_construction():
    """Hand-worked: A starts in month 5 of a spell begun in month 0; B is in bijstand from month 0 and
    starts in month 9 (a control at month 5); C's spell began in month 2 (other duration); D left in month 4."""
    spells = pd.DataFrame({"person_id": ["A", "B", "C", "D"], "start_month": [0, 0, 2, 0],
                           "end_month": [20, 20, 20, 4]})
    starts = pd.DataFrame({"person_id": ["A", "B"], "month": [5, 9]})
    frame = risk_set_frame(spells, starts)
    at5 = frame[frame["month"] == 5].set_index("person_id")
    assert set(at5.index) == {"A", "B"} and at5.loc["A", "treated"] == 1 and at5.loc["B", "treated"] == 0
    at9 = frame[frame["month"] == 9].set_index("person_id")
    assert set(at9.index) == {"B"} or at9.empty  # no one else at duration 9 who has not started: dropped


def _exit_health_run(root, *, sha: str, municipality: str, savings):
    run = root / "reports" / "exit_health" / "20260101-000000-abc"
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps({
        "study": "exit_health", "dataset": {"sha256": sha}, "parameters": {"municipality": municipality,
                                                                             "horizon_years": 5},
        "estimates": [{"name": "health_savings_per_exit_eur", "estimate": savings, "n": None if savings is None
                       else 50, "suppressed": savings is None}]}))
    return run


@pytest.mark.parametrize("municipality, savings, message", [
    ("GM0363", 120.0, r"is for municipality='GM0363'"),
    ("all", None, r"withheld \(or has no\) health_savings_per_exit_eur"),
])
def test_health_savings_only_from_a_published_run_of_the_same_population(tmp_path, monkeypatch, municipality,
                                                                          savings, message):
    """A withheld saving is never read as 0, and another population's saving is never borrowed."""
    from types import SimpleNamespace

    from analysis.studies.intervention import _health_savings

    monkeypatch.setenv("RENDEERT_HOME", str(tmp_path))
    run = _exit_health_run(tmp_path, sha="abc", municipality=municipality, savings=savings)
    ctx = SimpleNamespace(dataset=SimpleNamespace(content_hash="abc"),
                          parameters={"municipality": "all", "health_savings_run": str(run)})
    with pytest.raises(StudyError, match=message):
        _health_savings(ctx)
    if savings is not None:  # the same population reads the published value and the years it sums
        ctx.parameters["municipality"] = municipality
        assert _health_savings(ctx) == (savings, 5)


def test_health_savings_run_that_does_not_exist_is_refused(tmp_path):
    from analysis.studies.intervention import health_savings_results

    with pytest.raises(StudyError, match=r"health_savings_run=.*does not exist"):
        health_savings_results(str(tmp_path / "nowhere"))


def test_input_run_is_recorded_with_the_sha256_of_its_results(tmp_path, monkeypatch):
    """The manifest names the run directory an input came from and the hash of its results.json."""
    import hashlib

    from analysis.run.manifest import input_runs

    monkeypatch.setenv("RENDEERT_HOME", str(tmp_path))
    run = _exit_health_run(tmp_path, sha="abc", municipality="all", savings=10.0)
    expected = hashlib.sha256((run / "results.json").read_bytes()).hexdigest()
    (rec,) = input_runs({"health_savings_run": str(run), "seed": 0, "other_run": ""})
    assert rec == {"parameter": "health_savings_run", "path": str(run.resolve()), "results_sha256": expected}


@pytest.mark.parametrize("rate, ok", [(-0.01, True), (0.0225, True), (-0.011, False)])
def test_discount_rate_from_minus_one_percent_up_is_declared(rate, ok):
    from analysis.errors import ParameterError
    from analysis.run.catalog import get_study
    from analysis.run.params import validate_parameters

    study = get_study("intervention")
    assert study.parameter("discount_rate").default in ("0.0225", 0.0225)
    if ok:
        assert validate_parameters(study, {"discount_rate": rate})["discount_rate"] == rate
    else:
        with pytest.raises(ParameterError, match="discount_rate"):
            validate_parameters(study, {"discount_rate": rate})


CLOSED = 1e-8  # the same arithmetic along two code paths


@pytest.mark.slow
def test_returns_write_both_accounts_and_the_window_case_is_the_stops_scenario(tmp_path, monkeypatch):
    """The older business case (benefit saved over the window minus the cost, discounted) is by construction
    the gemeente's account in the scenario where the effect stops after the window; the MKBA rows of the
    issue are written with intervals, and heterogeneity=False writes no GATES."""
    from analysis.studies import intervention

    monkeypatch.setenv("RENDEERT_HOME", str(tmp_path))
    draw = generate(tmp_path / "d", n_persons=12_000, seed=5)
    run, opts, design = study_steps(draw, tmp_path / "o", heterogeneity=False, discount_rate=-0.01)
    fx = intervention.effects(run, design, opts)
    mk = intervention.returns(run, fx, opts).mkba
    assert intervention.heterogeneity(run, design, opts) is None
    rows = {e["name"]: e for e in run.estimates}
    assert not any(name.startswith("gates_") for name in rows)
    stops = rows["fiscal_npv_gemeente_per_participant_eur_stops"]["estimate"]
    assert abs(stops - rows["net_benefit_per_participant_eur"]["estimate"]) <= CLOSED * abs(stops)
    for name in ("social_npv_per_participant_eur", "fiscal_npv_gemeente_per_participant_eur",
                 "fiscal_npv_rijk_per_participant_eur", "fiscal_npv_zorgverzekeraar_per_participant_eur",
                 "benefit_cost_ratio_social"):
        assert rows[name]["ci_low"] is not None and rows[name]["ci_low"] <= rows[name]["ci_high"], name
    assert mk.spec["discount_rate"] == run.parameters["discount_rate"] == opts.discount_rate == -0.01
    # transfers net out: the social account is the sum of all actors' accounts (no displacement by default)
    acc = mk.accounts.loc["total"]
    assert abs(acc["social"] - acc[["gemeente", "rijk", "zorgverzekeraar", "participant"]].sum()) <= CLOSED * 1e4


@pytest.mark.parametrize("options, message", [
    ({"by": "income"}, r"by='income' is not allowed; choose 'none' or a categorical column"),
    ({"discount_rate": -0.02}, r"discount_rate=-0.02 is not allowed; give a yearly real rate from -0.01"),
    ({"horizon_months": 12}, r"horizon_months=12 must lie between outcome_months \(24\) and 1200"),
    ({"gates_groups": 1}, r"gates_groups=1 must lie between 2 and 10"),
])
def test_options_are_refused_before_reading_data(options, message):
    """Refused before any dataset is read (``options`` takes no dataset at all)."""
    from analysis.errors import ParameterError
    from analysis.studies import intervention

    with pytest.raises(ParameterError, match=message):
        intervention.options(**options)


def test_the_risk_sets_hold_only_the_population_asked_for(tmp_path, monkeypatch):
    """Every risk-set row (participants and comparisons) is in the population of rd.population and its start
    month in the population's years and age band; the design's units count those rows' persons."""
    monkeypatch.setenv("RENDEERT_HOME", str(tmp_path))
    draw = generate(tmp_path / "d", n_persons=3_000, seed=6)
    persons = pd.read_parquet(draw / "persons.parquet").set_index("person_id")
    run, opts, design = study_steps(draw, tmp_path / "o", sex="F", age_min=30, age_max=55, first_year=2015,
                                    last_year=2020)
    f = design.frame
    assert len(f) > 0 and (f["treated"] == 1).any()
    assert (persons.loc[f["person_id"], "sex"] == "F").all()
    age = f["month"] // 12 - persons.loc[f["person_id"], "birth_year"].to_numpy()
    assert age.between(30, 55).all() and (f["month"] // 12).between(2015, 2020).all()
    assert design.units == (f.loc[f["treated"] == 1, "person_id"].nunique(),
                            f.loc[f["treated"] == 0, "person_id"].nunique())
    assert run.parameters["sex"] == "F" and run.parameters["age_min"] == 30


@pytest.mark.parametrize("options, message", [
    ({"covariates": ["income"]}, r"covariates"),
    ({"anticipation": 13}, r"anticipation=13 must be a whole number of months from 0 to 12"),
    ({"anticipation": 1.5}, r"anticipation=1.5 must be a whole number"),
    ({"control_group": "never_treated"}, r"control_group"),
])
def test_design_options_the_risk_set_design_cannot_honour_are_refused(options, message):
    from analysis.errors import ParameterError
    from analysis.studies import intervention

    with pytest.raises(ParameterError, match=message):
        intervention.options(**options)


def test_base_period_is_not_a_parameter_of_the_risk_set_design():
    """The design compares outcomes after the start at one month (no reference period): the notebook declares
    no base_period, so the runner refuses it rather than accept a value that changes nothing."""
    from analysis.errors import ParameterError
    from analysis.run.catalog import get_study
    from analysis.run.params import validate_parameters

    study = get_study("intervention")
    assert "base_period" not in [q.name for q in study.parameters]
    with pytest.raises(ParameterError, match="base_period"):
        validate_parameters(study, {"base_period": "universal"})


@pytest.fixture(scope="module")
def small_draw(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("design") / "d", n_persons=4_000, seed=8)


def _raw(draw, opts):
    """From the raw interventions table, not the study: each person's first start of the programme (absolute
    month, year * 12 + month - 1)."""
    inter = pd.read_parquet(draw / "interventions.parquet")
    inter = inter[inter["intervention"] == opts.intervention]
    d = pd.to_datetime(inter["start_date"])
    first = pd.Series((d.dt.year * 12 + d.dt.month - 1).to_numpy(), index=inter["person_id"].to_numpy())
    return first.groupby(level=0).min()


def test_not_yet_treated_keeps_only_comparisons_without_a_start_in_the_window(small_draw, tmp_path, monkeypatch):
    """control_group="not_yet_treated": no comparison row belongs to a person whose first start falls in the
    outcome window (start month + 1 .. + outcome_months); the default risk set does keep such persons (they
    count as comparisons until they start), so the option changes the design as it says."""
    monkeypatch.setenv("RENDEERT_HOME", str(tmp_path))
    run, opts, design = study_steps(small_draw, tmp_path / "a")
    run2, opts2, nyt = study_steps(small_draw, tmp_path / "b", control_group="not_yet_treated")
    assert opts2.control_group == "not_yet_treated" and run2.parameters["control_group"] == "not_yet_treated"
    first = _raw(small_draw, opts)
    h = opts.outcome_months
    for frame, allowed in ((design.frame, True), (nyt.frame, False)):
        ctrl = frame[frame["treated"] == 0]
        start = ctrl["person_id"].map(first)
        assert (start.isna() | (start > ctrl["month"])).all(), "nobody is a comparison after their own start"
        in_window = int((start <= ctrl["month"] + h).sum())
        assert (in_window > 0) if allowed else (in_window == 0), in_window
    # the participants are the same starts; only comparisons leave
    key = ["person_id", "month"]
    treated = lambda f: f.loc[f["treated"] == 1, key].sort_values(key).reset_index(drop=True)  # noqa: E731
    assert set(map(tuple, treated(nyt.frame).to_numpy())) <= set(map(tuple, treated(design.frame).to_numpy()))
    assert len(nyt.frame[nyt.frame["treated"] == 0]) < len(design.frame[design.frame["treated"] == 0])


ANTICIPATION = 3  # months: the risk set is formed this long before each start


def test_anticipation_forms_the_risk_set_months_before_the_start(small_draw, tmp_path, monkeypatch):
    """anticipation=k: each participant's risk set is formed in month start - k (base_month), at the spell
    duration then, with covariates of that month; comparison persons were in bijstand in the base month at
    that duration and had not started by the start month; outcomes still run from the start month."""
    from analysis.data import build_store, load_dataset

    monkeypatch.setenv("RENDEERT_HOME", str(tmp_path))
    run, opts, design = study_steps(small_draw, tmp_path / "k", anticipation=ANTICIPATION, max_controls=100)
    assert opts.anticipation == ANTICIPATION
    f = design.frame
    first = _raw(small_draw, opts)
    assert (f["month"] - f["base_month"] == ANTICIPATION).all()
    part = f[f["treated"] == 1]
    assert (part["person_id"].map(first) == part["month"]).all(), "a participant's start month is their first start"
    ctrl = f[f["treated"] == 0]
    later = ctrl["person_id"].map(first)
    assert (later.isna() | (later > ctrl["month"])).all(), "comparisons have not started by the start month"
    # in bijstand in the base month at the participants' duration (store spells, merged)
    spells = build_store(load_dataset(small_draw), root=tmp_path / "p").read("bijstand_spells")
    m = f.merge(spells[["person_id", "start_month", "end_month"]], on="person_id")
    covering = m[(m["start_month"] <= m["base_month"]) & (m["end_month"] >= m["base_month"])]
    assert len(covering.drop_duplicates(["person_id", "month"])) == len(f)
    assert ((covering["base_month"] - covering["start_month"]) == covering["duration"]).all()
    births = pd.read_parquet(small_draw / "persons.parquet").set_index("person_id")["birth_year"]
    assert (f["age"] == f["base_month"] // 12 - f["person_id"].map(births)).all(), "covariates at the base month"
    # the months in bijstand after the start count months start + 1 .. start + h (the outcome is not moved)
    h = opts.outcome_months
    one = m.assign(overlap=(np.minimum(m["end_month"], m["month"] + h)
                            - np.maximum(m["start_month"], m["month"] + 1) + 1).clip(lower=0))
    expected = one.groupby(["person_id", "month"])["overlap"].sum()
    got = f.set_index(["person_id", "month"])["months_bijstand"]
    assert (got == expected.reindex(got.index).fillna(0)).all()


def test_a_municipality_covariate_is_labelled_by_its_name_when_the_dataset_has_one():
    """The balance table listed 'gemeente GM0014' where the reader knows Groningen."""
    from analysis.studies.intervention import covariate_label

    assert covariate_label("muni_GM0014", "nl", {"GM0014": "Groningen"}) == "gemeente Groningen"
    assert covariate_label("muni_GM0014", "nl") == "gemeente GM0014"
