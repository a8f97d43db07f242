"""The credible designs matter: on the simulator's dynamic world (unions that form, dissolve and are
registered late; health that drifts with time on bijstand) the old designs miss the potential-outcome
truth by more than 3 standard errors and the at-risk designs recover it (issue #14).

Old designs, as the studies had them: intake compares persons whose union ends with everyone in the
partnerships table not yet separated, base period the month before the registered end; exit_health
compares persons leaving bijstand for work with everyone ever on bijstand not yet gone to work.
New designs: comparison units at risk at the base period (in a union and not yet separated; on bijstand
on 31 December), covariates in the doubly robust estimator, anticipation of the registration lag
(intake), and a risk set (leaving now rather than not now) for exit_health.

Monte Carlo margin: the 3-se bands are the issue's; one seeded draw of 50,000 persons.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.data import build_store, load_dataset
from analysis.data.synthetic import generate
from analysis.estimators.did.at_risk import att_gt_at_risk
from analysis.kit.events import divorce_cohorts, exit_to_work_cohorts, interval_matrix

pytestmark = [pytest.mark.slow,
              pytest.mark.xdist_group("design_matters")]  # one worker builds the module-scoped world, once

PERSONS, SEED = 50_000, 1
#: the issue's criterion: the truth within 3 standard errors
Z = 3.0
#: divorces reach the register up to 9 months after the split (model.DYNAMICS)
LAG = 9


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("dynamic") / "d"
    generate(out, n_persons=PERSONS, seed=SEED, dynamics=True)
    store = build_store(load_dataset(out), root=tmp_path_factory.mktemp("processed"))
    return store, json.loads((out / "truth.json").read_text())["truths"]


def _z(estimate: pd.Series, truth: float) -> float:
    return float((estimate["estimate"] - truth) / estimate["std_error"])


@pytest.fixture(scope="module")
def divorces(world):
    store, _ = world
    ev = divorce_cohorts(store)
    spells = store.read("bijstand_spells")
    rows = pd.Index(ev.unit_ids).get_indexer(spells["person_id"])
    ok = rows >= 0
    m0 = ev.periods[0]
    y = interval_matrix(rows[ok], spells["start_month"].to_numpy()[ok] - m0, spells["end_month"].to_numpy()[ok] - m0,
                        len(ev.unit_ids), len(ev.periods)).astype(np.float32)
    female = store.read("persons").set_index("person_id").loc[ev.unit_ids, "sex"].to_numpy() == "F"
    return ev, y, female


@pytest.mark.parametrize("sex", ["F", "M"])
def test_intake_old_design_misses_and_the_at_risk_design_recovers(world, divorces, sex):
    _, truth = world
    ev, y, female = divorces
    sel = female if sex == "F" else ~female
    target = truth[f"excess_bijstand_after_divorce_12m_{sex}"]

    old = att_gt_at_risk(y[sel], ev.cohort[sel], np.ones((sel.sum(), len(ev.periods)), dtype=bool),
                         control="not_yet_treated", event_window=(12, 12))
    old_e12 = old.aggregate("dynamic", min_e=12, max_e=12, bootstrap_iterations=9).estimates.loc["e=12"]
    assert abs(_z(old_e12, target)) > Z, (old_e12["estimate"], target)

    covs = [c for c in ev.covariate_names if c != "female"]
    idx = [ev.covariate_names.index(c) for c in covs]
    new = att_gt_at_risk(y[sel], ev.cohort[sel], ev.at_risk[sel], covariates=lambda b: ev.covariates_at(b)[sel][:, idx],
                         covariate_names=covs, control="not_treated_in_window", anticipation=LAG,
                         event_window=(12, 12))
    new_e12 = new.aggregate("dynamic", min_e=12, max_e=12, bootstrap_iterations=9).estimates.loc["e=12"]
    assert abs(_z(new_e12, target)) < Z, (new_e12["estimate"], target)


@pytest.fixture(scope="module")
def exits(world):
    store, _ = world
    ev = exit_to_work_cohorts(store)
    py = store.read("person_year")
    py = py[py["person_id"].isin(ev.unit_ids)]
    return ev, py


@pytest.mark.parametrize("outcome", ["healthcare_costs_eur", "antidepressants"])
def test_exit_health_at_risk_risk_set_recovers_the_truth(world, exits, outcome):
    _, truth = world
    ev, py = exits
    y = py.pivot(index="person_id", columns="year", values=outcome).loc[ev.unit_ids].to_numpy(dtype=float)
    ok = ~np.isnan(y).any(axis=1)
    new = att_gt_at_risk(y[ok], ev.cohort[ok], ev.at_risk[ok], covariates=lambda b: ev.covariates_at(b)[ok],
                         covariate_names=ev.covariate_names, control="risk_set")
    att = new.aggregate("simple").estimates.loc["ATT"]
    assert abs(_z(att, truth[f"att_{outcome}_risk_set"])) < Z, (att["estimate"], truth[f"att_{outcome}_risk_set"])


def test_exit_health_old_design_misses_the_truth(world, exits):
    _, truth = world
    ev, py = exits
    y = py.pivot(index="person_id", columns="year", values="healthcare_costs_eur").loc[ev.unit_ids].to_numpy(float)
    ok = ~np.isnan(y).any(axis=1)
    old = att_gt_at_risk(y[ok], ev.cohort[ok], np.ones((ok.sum(), len(ev.periods)), dtype=bool),
                         control="not_yet_treated")
    att = old.aggregate("simple").estimates.loc["ATT"]
    assert abs(_z(att, truth["att_healthcare_costs_eur"])) > Z, (att["estimate"], truth["att_healthcare_costs_eur"])


@pytest.fixture(scope="module")
def study_design(world):
    """The exit_health study's own design (cohorts, risk sets, outcome matrices) on the dynamic world."""
    from analysis.studies.exit_health import design as dz

    store, _ = world
    return dz.build(store, exit_window_days=31, municipality="all")


@pytest.mark.parametrize("outcome", ["healthcare_costs_eur", "antidepressants"])
def test_exit_health_study_design_recovers_the_risk_set_truth_and_its_old_option_misses(world, study_design,
                                                                                          outcome):
    """The study's default (control_group="risk_set", its default covariates) within 3 se of the risk-set
    truth; its named old option (control_group="all_recipients") more than 3 se from the truth it was
    meant to estimate."""
    from analysis.studies.exit_health import design as dz

    _, truth = world
    new = dz.estimate(study_design, outcome).result.aggregate("simple").estimates.loc["ATT"]
    assert abs(_z(new, truth[f"att_{outcome}_risk_set"])) < Z, (new["estimate"], truth[f"att_{outcome}_risk_set"])
    if outcome == "healthcare_costs_eur":
        old = dz.estimate(study_design, outcome, control_group="all_recipients", covariates=[]).result
        att = old.aggregate("simple").estimates.loc["ATT"]
        assert abs(_z(att, truth[f"att_{outcome}"])) > Z, (att["estimate"], truth[f"att_{outcome}"])
