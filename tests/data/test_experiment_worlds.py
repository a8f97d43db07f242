"""The simulated experiment is part of every potential-outcome world (issue #17).

The splice of :mod:`analysis.data.synthetic.experiments` must leave each counterfactual world a world of
its own: who is enrolled there, and when, follows that world's own paths (a person whose bijstand in 2017
was caused by a separation is not enrolled in the world without it), a person enrolled in two worlds has
one arm and one set of random numbers in both, and the experiment's own model honours the world's switch
(no return to bijstand on a job loss without the job-loss effect; the first exit to work blocked in its
calendar year in the ``exit_not_now`` world, as ``model.simulate_world`` defines it). The expected values
are the unspliced worlds of ``model.simulate_world`` (the simulator's potential outcomes) and the
definitions in its docstring, never the splice's own output.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from analysis.data import synthetic as syn
from analysis.data.synthetic import experiments as ex, exit_risk_set, model, programme
from analysis.errors import ParameterError

PERSONS, SEED = 8_000, 3  # about 130 participants in the four municipalities: seconds to simulate


@pytest.fixture(scope="module")
def worlds():
    """(population, unspliced worlds, spliced worlds, enrolment per world, switch per world)."""
    pop = programme.with_programme_effect(syn._population(PERSONS, np.random.default_rng([SEED, 1])), "constant")
    world_list = syn.WORLDS + (exit_risk_set.WORLD,)
    before = {name: model.simulate_world(pop, seed=SEED, n_months=syn.N_MONTHS, start_year=syn.START_YEAR,
                                         switch_off=off) for name, off in world_list}
    after = copy.deepcopy(before)
    ids = np.array([f"P{i:07d}" for i in range(PERSONS)], dtype=object)
    trial = ex.apply(pop, after, ids=ids, seed=SEED, start_year=syn.START_YEAR, switch_off=dict(world_list))
    assert trial is not None, "the fixture's population is too small for the experiment"
    enrolled = {name: ex._enrol(pop, w, syn.START_YEAR) for name, w in before.items()}
    return pop, before, after, enrolled, dict(world_list)


def test_a_world_enrols_on_its_own_paths(worlds):
    """Persons enrolled in the factual world but not in a counterfactual one keep that world's own path."""
    _, before, after, enrolled, _ = worlds
    rows_f = enrolled["factual"][0]
    checked = 0
    for name in ("no_divorce", "no_job_loss"):
        only_factual = np.setdiff1d(rows_f, enrolled[name][0])
        assert len(only_factual) > 0, f"{name}: the fixture should have participants whose 2017 bijstand the cause made"
        for field in ("bijstand", "employed", "exit_to_work", "ww"):
            np.testing.assert_array_equal(getattr(after[name], field)[only_factual],
                                          getattr(before[name], field)[only_factual], err_msg=f"{name}.{field}")
        checked += len(only_factual)
    # and nobody outside a world's own enrolment is touched in it
    for name, (rows, _) in enrolled.items():
        others = np.setdiff1d(np.arange(PERSONS), rows)
        np.testing.assert_array_equal(after[name].bijstand[others], before[name].bijstand[others], err_msg=name)
    assert checked > 0


def test_one_assignment_and_path_in_every_world_without_its_switch(worlds):
    """Enrolled in the same month in the factual and the no-divorce or no-programme world (whose switch the
    experiment's model does not have): the same months after assignment in both, the same arm."""
    _, _, after, enrolled, _ = worlds
    rows_f, month_f = enrolled["factual"]
    for name in ("no_divorce", "no_programme", "delayed_start"):
        rows_w, month_w = enrolled[name]
        both, i_f, i_w = np.intersect1d(rows_f, rows_w, return_indices=True)
        same = month_f[i_f] == month_w[i_w]
        assert same.sum() > 0.8 * len(rows_f), name
        rows, month = both[same], month_f[i_f][same]
        later = np.arange(syn.N_MONTHS)[None, :] > month[:, None]
        for field in ("bijstand", "employed", "exit_to_work"):
            a, b = getattr(after["factual"], field)[rows], getattr(after[name], field)[rows]
            np.testing.assert_array_equal(np.where(later, a, False), np.where(later, b, False), err_msg=f"{name}.{field}")
        # programme starts after assignment are dropped in every world
        assert not (after[name].programme_month[rows_w] > month_w).any(), name


def _one_path(pop, rows, month, switch_off=None, blocked_until=None):
    draws = np.random.default_rng(11).random((len(rows), syn.N_MONTHS, 3))
    return ex._paths(pop, rows, month, shift=np.zeros(len(rows)), draws=draws, n_months=syn.N_MONTHS,
                     start_year=syn.START_YEAR, switch_off=switch_off, blocked_until=blocked_until)


def test_experiment_model_blocks_the_first_exit_in_its_calendar_year(worlds):
    """``delay_exit`` (model.simulate_world): the first exit to work, whose spell ends in month t0 - 1, does
    not happen up to and including the January after it; before t0 the paths are the factual ones."""
    pop, _, _, enrolled, _ = worlds
    rows, month = enrolled["factual"]
    bij1, _, etw1 = _one_path(pop, rows, month)
    bij0, _, etw0 = _one_path(pop, rows, month, "delay_exit", np.full(len(rows), -2, dtype=np.int32))
    has = etw1.any(axis=1)
    assert has.sum() > 20
    for i in np.flatnonzero(has):
        t0 = int(etw1[i].argmax())
        until = ((t0 - 1) // 12) * 12 + 12
        np.testing.assert_array_equal(bij0[i, :t0], bij1[i, :t0])
        assert not etw0[i, :until + 1].any(), (i, t0, until)
    # an exit blocked before assignment keeps its block after it
    block = np.full(len(rows), 120, dtype=np.int32)
    assert not _one_path(pop, rows, month, "delay_exit", block)[2].any()


def test_experiment_model_has_no_job_loss_effect_without_job_loss(worlds):
    """``job_loss`` switched off: nobody enters bijstand in the month the job is lost (the model's return)."""
    pop, _, _, enrolled, _ = worlds
    rows, month = enrolled["factual"]
    for switch, expect_returns in ((None, True), ("job_loss", False)):
        bij, emp, _ = _one_path(pop, rows, month, switch)
        lost = emp[:, :-1] & ~emp[:, 1:]
        back = lost & bij[:, 1:] & ~bij[:, :-1]
        assert back.any() == expect_returns, switch


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
