"""The simulator's job-loss health effects (synthetic/jobloss.py): only job losers never on bijstand change,
only from the year of the job end, and the other tables of a seed stay as they were."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.synthetic import START_YEAR, jobloss, model, simulate, truth as tr
from analysis.data.synthetic import _population

N, SEED = 2_000, 4  # small: every worlds' run takes about a second


@pytest.fixture(scope="module")
def draw():
    # without the simulated experiment, which changes its participants' months (and so their health) in
    # every world: the reconstruction below is of the job-loss step alone
    return simulate(N, seed=SEED, experiment=False)


def _without_job_loss_health():
    """The health table of the same draw before the job-loss step (the world without its effect)."""
    rng = np.random.default_rng([SEED, 1])
    pop = _population(N, rng)
    world = model.simulate_world(pop, seed=SEED, n_months=120, start_year=START_YEAR, switch_off=None)
    health, _ = tr.health(pop, world, seed=SEED, start_year=START_YEAR, pre_exit_dip=False)
    return pop, world, health


@pytest.mark.slow  # simulates the draw's worlds twice
def test_only_job_losers_never_on_bijstand_change_and_only_from_the_job_end_year(draw):
    pop, world, before = _without_job_loss_health()
    after = draw.tables["health_yearly"]
    ids = np.array([f"P{i:07d}" for i in range(N)], dtype=object)
    before = before.assign(person_id=ids[before["_row"]]).drop(columns="_row")
    merged = after.merge(before, on=["person_id", "year"], suffixes=("", "_0"))
    changed = (merged["mental_healthcare_costs_eur"] != merged["mental_healthcare_costs_eur_0"]) | (
        merged["antidepressants"] != merged["antidepressants_0"])
    rows = pd.Index(ids).get_indexer(merged["person_id"])
    end = jobloss.first_job_end(world)
    eligible = (end >= 0) & ~world.bijstand.any(axis=1)
    from_end_year = merged["year"].to_numpy() >= START_YEAR + end[rows] // 12
    assert changed.any()
    assert not changed[~(eligible[rows] & from_end_year)].any()
    # antidepressants only switch on, costs only rise; total costs rise by the mental-health increase
    assert (merged["antidepressants"] >= merged["antidepressants_0"]).all()
    extra = merged["mental_healthcare_costs_eur"] - merged["mental_healthcare_costs_eur_0"]
    assert (extra >= 0).all()
    np.testing.assert_allclose(merged["healthcare_costs_eur"] - merged["healthcare_costs_eur_0"], extra, atol=0.011)


def test_truths_are_bounded_by_the_model_effects(draw):
    truths = draw.truth["truths"]
    full = truths["att_antidepressants_job_loss_50plus_e1"]
    # a prescription switches on with probability EFFECTS at most (fewer: some had one already, some were on bijstand)
    assert 0 < full <= jobloss.EFFECTS["antidepressants"]
    assert 0 < truths["att_mental_healthcare_costs_eur_job_loss_50plus_e0"] < truths[
        "att_mental_healthcare_costs_eur_job_loss_50plus_e1"] <= 2 * jobloss.EFFECTS["mental_costs_eur"]
    assert truths["job_loss_50plus_treated"] > 0
