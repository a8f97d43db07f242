"""The simulated experiment is part of every potential-outcome world (issue #17).

The experiment of :mod:`analysis.data.synthetic.experiments` runs inside the main model of every world: who
is enrolled there, and when, follows that world's own paths (a person whose bijstand in 2017 a separation
caused is not enrolled in the world without it), persons outside the experiment are exactly the world
without the experiment, and the factual world is the one with every participant in the arm the
randomisation gave. The expected values are the definition of enrolment (docstring) applied to each
world's own bijstand, and ``model.simulate_world`` run without the experiment or with the table's arms,
never the experiment's own output.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from analysis.data import synthetic as syn
from analysis.data.synthetic import experiments as ex, exit_risk_set, model, programme, tables as tb
from analysis.errors import ParameterError

PERSONS, SEED = 8_000, 3  # about 130 participants in the four municipalities: seconds to simulate
WORLD_LIST = syn.WORLDS + (exit_risk_set.WORLD,)
EXACT = 1e-12  # a mean of whole month counts computed two ways: equal up to floating-point rounding


@pytest.fixture(scope="module")
def sim():
    pop = programme.with_programme_effect(syn._population(PERSONS, np.random.default_rng([SEED, 1])), "constant")

    def run(off, trial=None):
        return model.simulate_world(pop, seed=SEED, n_months=syn.N_MONTHS, start_year=syn.START_YEAR,
                                    switch_off=off, trial=trial)

    ids = np.array([f"P{i:07d}" for i in range(PERSONS)], dtype=object)
    worlds, trial = ex.simulate_worlds(pop, run, WORLD_LIST, ids=ids, seed=SEED, start_year=syn.START_YEAR)
    assert trial is not None, "the fixture's population is too small for the experiment"
    without = {name: run(off) for name, off in WORLD_LIST}
    return {"pop": pop, "run": run, "worlds": worlds, "without": without, "table": trial[0], "truth": trial[1]}


def _enrolment_by_definition(pop, world) -> np.ndarray:
    """The docstring's rule on one world's own bijstand: aged 18-66 in 2017 in one of the municipalities, the
    first month of 2017 in bijstand (-1: not enrolled)."""
    codes = np.array([c for c, _, _ in tb.MUNICIPALITIES], dtype=object)
    age = 2017 - pop.birth_year
    ok = np.isin(codes[pop.municipality], ["GM0344", "GM0014", "GM0772", "GM0153"]) & (age >= 18) & (age <= 66)
    months = world.bijstand[:, 36:48]
    return np.where(ok & months.any(axis=1), 36 + months.argmax(axis=1), -1)


def test_each_world_enrols_on_its_own_paths(sim):
    pop, worlds = sim["pop"], sim["worlds"]
    for name, world in worlds.items():
        np.testing.assert_array_equal(world.assignment_month, _enrolment_by_definition(pop, world), err_msg=name)
    fact = worlds["factual"].assignment_month >= 0
    for name in ("no_divorce", "no_job_loss"):
        caused = fact & (worlds[name].assignment_month < 0)
        assert caused.sum() > 0, f"{name}: some participants are in bijstand in 2017 only because of the cause"
    # the experiments table is the factual world's enrolment
    table = sim["table"]
    rows = np.flatnonzero(fact)
    assert list(table["person_id"]) == [f"P{i:07d}" for i in rows]
    months = (table["assignment_date"].dt.year - syn.START_YEAR) * 12 + table["assignment_date"].dt.month - 1
    np.testing.assert_array_equal(months.to_numpy(), worlds["factual"].assignment_month[rows])


def test_persons_outside_the_experiment_are_the_world_without_it(sim):
    """Not enrolled in a world: every month as in that world without the experiment; enrolled: the same up
    to the assignment month (the arm acts from the month after it)."""
    for name, world in sim["worlds"].items():
        base = sim["without"][name]
        a = world.assignment_month
        out = a < 0
        for field in ("bijstand", "employed", "exit_to_work", "ww", "programme_month"):
            np.testing.assert_array_equal(getattr(world, field)[out], getattr(base, field)[out],
                                          err_msg=f"{name}.{field}")
        upto = np.arange(syn.N_MONTHS)[None, :] <= np.where(out, syn.N_MONTHS, a)[:, None]
        np.testing.assert_array_equal(np.where(upto, world.bijstand, False), np.where(upto, base.bijstand, False),
                                      err_msg=name)
        # participants get the arm instead of a programme: no programme start after assignment
        assert not ((a >= 0) & (world.programme_month > a)).any(), name


def test_the_factual_world_is_the_world_with_the_assigned_arms(sim):
    """Put together from the per-arm runs, the factual world equals one run with the table's arms."""
    pop, table = sim["pop"], sim["table"]
    rows = table["person_id"].str[1:].astype(int).to_numpy()
    shift = np.zeros(PERSONS)
    shift[rows] = table["arm"].map(ex.ARM_LOG_ODDS).to_numpy()
    direct = sim["run"](None, ex.Trial(eligible=ex._eligible(pop, syn.START_YEAR), shift=shift))
    fact = sim["worlds"]["factual"]
    for f in fields(model.World):
        a, b = getattr(fact, f.name), getattr(direct, f.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=f.name)
    assert fact.union_events == direct.union_events


def test_the_truth_is_the_mean_of_the_per_arm_runs(sim):
    """The ITT truth of an arm: its run minus the control run, per analysed participant, averaged."""
    pop, table, truth = sim["pop"], sim["table"], sim["truth"]
    rows = table["person_id"].str[1:].astype(int).to_numpy()
    month = sim["worlds"]["factual"].assignment_month[rows]
    eligible = ex._eligible(pop, syn.START_YEAR)
    runs = {arm: sim["run"](None, ex.Trial(eligible=eligible, shift=np.full(PERSONS, ex.ARM_LOG_ODDS[arm])))
            for arm in ("control", "intensive_support")}
    end_age = 2014 + (month + 24) // 12 - pop.birth_year[rows]
    keep = end_age <= 66
    assert truth["n_analysed"] == int(keep.sum())
    months = {arm: np.array([w.bijstand[r, m + 1:m + 25].sum() for r, m in zip(rows, month)])
              for arm, w in runs.items()}
    expect = (months["intensive_support"] - months["control"])[keep].mean()
    assert truth["itt_bijstand_months_24m_intensive_support"] == pytest.approx(expect, abs=EXACT)
    assert truth["control_mean_bijstand_months_24m"] == pytest.approx(months["control"][keep].mean(), abs=EXACT)


def test_the_experiment_is_in_the_default_draw_and_can_be_left_out():
    on = syn.simulate(3_000, seed=2)
    assert "experiments" in on.tables and "experiment" in on.truth["truths"]
    assert on.truth["parameters"]["experiment"] is True
    off = syn.simulate(3_000, seed=2, experiment=False)
    assert "experiments" not in off.tables and "experiment" not in off.truth["truths"]
    assert off.meta["name"].endswith("-no-experiment") and on.meta["name"] == "synthetic-n3000-seed2"
    dyn = syn.simulate(300, seed=2, dynamics=True)
    assert "experiments" not in dyn.tables
    with pytest.raises(ParameterError, match="dynamic world has no experiment"):
        syn.simulate(300, seed=2, dynamics=True, experiment=True)
    with pytest.raises(ParameterError, match="give True, False or None"):
        syn.simulate(300, seed=2, experiment="yes")


def test_synth_cli_writes_the_experiment_unless_told_not_to(tmp_path):
    from analysis.run.cli import main

    assert main(["synth", "--persons", "3000", "--seed", "2", "--out", str(tmp_path / "on")]) == 0
    assert (tmp_path / "on" / "experiments.parquet").is_file()
    assert main(["synth", "--persons", "3000", "--seed", "2", "--no-experiment", "--out", str(tmp_path / "off")]) == 0
    assert not (tmp_path / "off" / "experiments.parquet").exists()
