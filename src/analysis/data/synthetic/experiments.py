"""A randomised multi-arm experiment in some municipalities, with its potential outcomes.

Modelled on the Participatiewet experiments of 2017-2019 ("experimenten Participatiewet": six
municipalities tried several treatments against regular service; Verlaat et al. 2020, CPB/Erasmus
synthesis): everyone in bijstand in :data:`MUNICIPALITIES` during the enrolment year (the stock in its
first month and the inflow after it), aged 18-66, is assigned at random, within strata of
municipality x sex x age band, to one of :data:`ARMS`:

- ``control``: regular service;
- ``exemption``: exempted from the re-integration obligations ("vrijstelling");
- ``intensive_support``: intensive guidance by a caseworker ("intensivering");
- ``extra_earnings``: keeps a larger part of what they earn besides the benefit ("bijverdienen").

The experiment runs inside the main monthly model (``model.simulate_world(..., trial=Trial(...))``): from
the month after assignment, during 24 months, the participant's arm shifts the log-odds of exit to work
by :data:`ARM_LOG_ODDS`, and programme starts after assignment do not happen (participants get the
experiment's arm instead); everything else (job loss, WW, the effects of a separation or a job loss on
entry, every world's switch) is the main model's. It is in every world the truths use: each world enrols
on its own paths (who is in bijstand there in 2017, and when), a person has one arm in every world (the
randomisation's for the factual participants, a draw of their own, equal probabilities, for persons
enrolled only in a counterfactual world: nothing in a world depends on another person's arm) and the
worlds' common random numbers. The factual world is run once per arm with every participant in that arm:
those runs are the participants' potential outcomes (who is enrolled and when does not depend on the arm,
which acts from the month after assignment), and the factual world is put together from them after the
randomisation.

Why it is built this way (issue #17). The first version enrolled on the factual world and spliced the
participants' months after assignment, simulated by a small model of its own, into every world. Two
faults, measured on 25,000 persons, seed 101 (414 participants):

- the same spliced path went into counterfactual worlds in which the person was not enrolled: 32
  participants were in bijstand in 2017 only because of a separation and got bijstand in the world
  without it (57 in the world without job loss; in ``exit_not_now`` the splice undid the blocked first
  exit). The divorce truth lost 31 of the participants' 36 excess inflows: attributable share 0.0855
  with the splice against 0.0955 without the experiment, while the data hardly changed;
- the small model was not the main model (a return to bijstand on 30% of job losses, no WW, the spell
  duration restarted at 1, no separation or job-loss effects): participants, mostly persons with a low
  latent employability and so more often separated, churned in and out of bijstand after 2017
  (participants' inflow from 2015 on: 375 without the experiment, 399 with it). The separated persons'
  inflow without a separation then rose faster than the comparison persons' (the at-risk design's
  parallel-trends gap in the no-divorce world: 0.030 without the experiment, 0.038 with it), which
  moved the intake estimate from 0.122 to 0.126 and its standard error from 0.0097 to 0.0060: 6.7
  standard errors from the (wrong) truth. Enrolling each world on its own paths with the small model
  put the truth right (0.0933) but left the estimate at 0.128 (5.7 standard errors): the small model's
  churn remained. Inside the main model the truth is 0.0955 and the design's gap 0.030, as without the
  experiment (that gap is this draw's: seeds 1 and 102-104 give -0.011 to -0.003).

The truths (``truths["experiment"]`` in truth.json) are differences of potential outcomes (the per-arm
runs of the factual world) averaged over the analysed participants (those whose 24 follow-up months are
observed before they reach 67): the sample average treatment effect of each arm against control on

- ``exit_to_work_24m``: a bijstand spell ending in the assignment month or the 23 after it, followed by
  work within 31 days (share);
- ``bijstand_months_24m``: months with bijstand in the 24 months after the assignment month.

The persons who reach 67 during follow-up are the experiment's attrition (their outcomes are not
measured: the state pension ends bijstand), equal in expectation across arms.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

import numpy as np
import pandas as pd

from analysis.data.synthetic import tables as tb
from analysis.data.synthetic.model import Population, World
from analysis.data.synthetic.shards import Layout, ShardStreams, fold_all, mean, resolve

EXPERIMENT = "participatiewet_2017"
#: Utrecht, Groningen, Eindhoven, Enschede (Utrecht and Groningen took part in the real experiments).
MUNICIPALITIES = ("GM0344", "GM0014", "GM0772", "GM0153")
ARMS = ("control", "exemption", "intensive_support", "extra_earnings")
#: Log-odds shift of the monthly exit to work in months 1..24 after assignment, per arm (the truths are
#: NOT these numbers: they are measured from the potential outcomes).
ARM_LOG_ODDS = {"control": 0.0, "exemption": -0.15, "intensive_support": 0.55, "extra_earnings": 0.3}
ENROLMENT_FIRST_MONTH = 36  # January 2017 (month 0 is January of the start year, 2014)
ENROLMENT_MONTHS = 12
FOLLOW_UP = 24
AGE_RANGE = (18, 66)
AGE_BANDS = ((18, 34), (35, 49), (50, 66))
RNG_STREAM = 7101
#: below this many participants (a tiny simulated population) there is no experiment: no table, no truth
MIN_PARTICIPANTS = 4 * len(ARMS)


def _age_band(age: np.ndarray) -> np.ndarray:
    out = np.empty(len(age), dtype=object)
    for lo, hi in AGE_BANDS:
        out[(age >= lo) & (age <= hi)] = f"{lo}_{hi}"
    return out


@dataclass(frozen=True)
class Trial:
    """The experiment inside one run of ``model.simulate_world``: who may be enrolled and each person's arm.

    The world calls :meth:`enrol` at the end of every month with its own bijstand state, so each world
    enrols on its own paths; :meth:`exit_shift` and :meth:`after` give the arm's effect and the end of
    programme starts from the month after assignment."""

    eligible: np.ndarray  # bool per person: lives in one of MUNICIPALITIES, aged 18-66 in the enrolment year
    shift: np.ndarray  # per person: the exit-to-work log-odds of their arm (ARM_LOG_ODDS)

    def enrol(self, assigned: np.ndarray, bijstand_now: np.ndarray, t: int) -> None:
        """Assign (in place) the eligible persons in bijstand in month ``t`` of the enrolment year, once."""
        if ENROLMENT_FIRST_MONTH <= t < ENROLMENT_FIRST_MONTH + ENROLMENT_MONTHS:
            assigned[self.eligible & bijstand_now & (assigned < 0)] = t

    def exit_shift(self, assigned: np.ndarray, t: int) -> np.ndarray:
        since = t - assigned
        return np.where((assigned >= 0) & (since >= 1) & (since <= FOLLOW_UP), self.shift, 0.0)

    def after(self, assigned: np.ndarray, t: int) -> np.ndarray:
        return (assigned >= 0) & (t > assigned)


def _eligible(pop: Population, start_year: int) -> np.ndarray:
    codes = np.array([c for c, _, _ in tb.MUNICIPALITIES], dtype=object)
    age = start_year + ENROLMENT_FIRST_MONTH // 12 - pop.birth_year  # the enrolment year is one calendar year
    return np.isin(codes[pop.municipality], MUNICIPALITIES) & (age >= AGE_RANGE[0]) & (age <= AGE_RANGE[1])


def _randomise(strata: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Equal shares within each stratum: a random order, arms dealt in turn from a random first arm."""
    arm = np.empty(len(strata), dtype=np.int8)
    for s in sorted(set(strata)):
        idx = np.flatnonzero(strata == s)
        idx = idx[rng.permutation(len(idx))]
        arm[idx] = (np.arange(len(idx)) + rng.integers(len(ARMS))) % len(ARMS)
    return arm


def _outcomes(bij: np.ndarray, etw: np.ndarray, month: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """exit to work in months a+1..a+24 (spell ending in a..a+23) and bijstand months in a+1..a+24."""
    cols = month[:, None] + np.arange(1, FOLLOW_UP + 1)[None, :]
    r = np.arange(len(month))[:, None]
    return etw[r, cols].any(axis=1).astype(float), bij[r, cols].sum(axis=1).astype(float)


def _with_rows(world: World, other: World, rows: np.ndarray) -> None:
    """Give ``world`` (in place) the persons ``rows`` of ``other``: persons do not interact in the model."""
    for f in fields(World):
        value = getattr(world, f.name)
        if isinstance(value, np.ndarray):
            value[rows] = getattr(other, f.name)[rows]


def simulate_worlds(pop: Population, run_world: Callable, world_list, *, ids: np.ndarray, seed: int,
                    start_year: int, tick: Callable = lambda: None) -> tuple[dict, tuple | None]:
    """Simulate every world of ``world_list`` ((name, switch_off), the factual one first) with the experiment
    inside; ``run_world(switch_off, trial)`` runs one world (``model.simulate_world``), for one shard.

    Returns the worlds and (the ``experiments`` table, ``truths["experiment"]``), or the worlds without an
    experiment and None (:func:`simulate_shard_worlds`)."""
    worlds, table, shard_truths = simulate_shard_worlds(pop, run_world, world_list, ids=ids, seed=seed,
                                                        start_year=start_year, tick=tick)
    return worlds, None if table is None else (table, finish_truth(fold_all(shard_truths)))


def finish_truth(folded: dict) -> dict:
    """``truths["experiment"]`` from the shards' added counts and ratios (``shards.fold_all``)."""
    return {"name": EXPERIMENT, "municipalities": list(MUNICIPALITIES), "arms": list(ARMS), **resolve(folded)}


def simulate_shard_worlds(pop: Population, run_world: Callable, world_list, *, ids: np.ndarray, seed: int,
                          start_year: int, tick: Callable = lambda: None,
                          layout: Layout | None = None) -> tuple[dict, pd.DataFrame | None, list]:
    """The worlds of a block of shards (``layout``, default one) with the experiment inside, randomised within
    each shard.

    The factual world is run once per arm with every participant in that arm (their potential outcomes;
    who is enrolled and when does not depend on the arm: the arm acts from the month after assignment),
    then randomised within strata of each shard (each shard's own stream), and assembled from those runs.
    Every other world runs with the same arms: the factual participants' arm, and a draw of their own
    (equal probabilities) for persons enrolled only there. A shard with fewer than
    :data:`MIN_PARTICIPANTS` participants, or with an empty arm, has no experiment: its persons are not
    eligible (every world of theirs is the world without it). Returns the worlds, the ``experiments``
    table (None when no shard has the experiment) and each shard's truth (counts and ``shards.Ratio``;
    None for a shard without the experiment)."""
    layout = layout or Layout.single(len(pop.u))
    eligible = _eligible(pop, start_year)
    shifts = np.array([ARM_LOG_ODDS[a] for a in ARMS])
    fact = run_world(None, Trial(eligible=eligible, shift=np.full(len(eligible), shifts[0])))  # all in control
    tick()
    codes = np.array([c for c, _, _ in tb.MUNICIPALITIES], dtype=object)
    parts = []
    for sl, rng in zip(layout.slices, ShardStreams(seed, (RNG_STREAM,), layout).generators):
        rows = sl.start + np.flatnonzero(fact.assignment_month[sl] >= 0)
        month = fact.assignment_month[rows].astype(np.int64)
        age = start_year + month // 12 - pop.birth_year[rows]
        strata = (codes[pop.municipality[rows]] + "_" + np.where(pop.sex_f[rows] == 1, "F", "M") + "_"
                  + _age_band(age)).astype(str)
        arm = _randomise(strata, rng)
        if len(rows) < MIN_PARTICIPANTS or len(set(arm.tolist())) < len(ARMS):
            parts.append(None)  # too few participants in this shard: no experiment here
            eligible[sl] = False
            continue
        parts.append((rows, month, strata, arm, rng.integers(0, 28, len(rows))))
    if all(p is None for p in parts):
        # too small a population for the experiment: no table, no truth, every world without it
        worlds = {name: run_world(off, None) for name, off in world_list}
        return worlds, None, [None] * len(parts)
    if any(p is None for p in parts):  # the shards without the experiment: the factual world without it
        fact = run_world(None, Trial(eligible=eligible, shift=np.full(len(eligible), shifts[0])))
    rows, month, strata, arm, days = (np.concatenate([p[i] for p in parts if p is not None]) for i in range(5))
    person_arm = ShardStreams(seed, (RNG_STREAM, 2), layout).integers(len(ARMS))
    person_arm[rows] = arm
    potential = {ARMS[0]: _outcomes(fact.bijstand[rows], fact.exit_to_work[rows], month)}
    for j, name in enumerate(ARMS[1:], start=1):
        other = run_world(None, Trial(eligible=eligible, shift=np.full(len(eligible), shifts[j])))
        tick()
        potential[name] = _outcomes(other.bijstand[rows], other.exit_to_work[rows], month)
        _with_rows(fact, other, rows[arm == j])
        del other
    worlds = {"factual": fact}
    for name, off in world_list:
        if name != "factual":
            worlds[name] = run_world(off, Trial(eligible=eligible, shift=shifts[person_arm]))
            tick()
    n_months = fact.bijstand.shape[1]
    table = pd.DataFrame({
        "person_id": ids[rows], "experiment": EXPERIMENT, "arm": np.array(ARMS, dtype=object)[arm],
        "assignment_date": pd.to_datetime(tb._dates(start_year, month, days)), "stratum": strata, "cluster": None,
    }).sort_values("person_id", kind="mergesort").reset_index(drop=True)
    end_age = start_year + (month + FOLLOW_UP) // 12 - pop.birth_year[rows]
    analysed = (end_age <= AGE_RANGE[1]) & (month + FOLLOW_UP < n_months)
    truths, at = [], 0
    for p in parts:
        if p is None:
            truths.append(None)
            continue
        here = slice(at, at + len(p[0]))
        at = here.stop
        truths.append(_shard_truth(arm[here], analysed[here],
                                   {a: (y[0][here], y[1][here]) for a, y in potential.items()}))
    return worlds, table, truths


def _shard_truth(arm: np.ndarray, analysed: np.ndarray, potential: dict) -> dict:
    """One shard's participants: counts, and the means of the ITT truth as ``shards.Ratio``."""
    truth = {"n_participants": int(len(arm)), "n_analysed": int(analysed.sum()),
             "n_by_arm": {a: int((arm == j).sum()) for j, a in enumerate(ARMS)}}
    for k, outcome in enumerate(("exit_to_work_24m", "bijstand_months_24m")):
        y0 = potential["control"][k][analysed]
        truth[f"control_mean_{outcome}"] = mean(y0, empty=None)
        for name in ARMS[1:]:
            truth[f"itt_{outcome}_{name}"] = mean(potential[name][k][analysed] - y0, empty=None)
    return truth


PARAMETERS = {"experiment": EXPERIMENT, "municipalities": list(MUNICIPALITIES), "arms": list(ARMS),
              "arm_exit_to_work_log_odds": ARM_LOG_ODDS, "enrolment": "2017 (stock in January and inflow)",
              "follow_up_months": FOLLOW_UP, "strata": "municipality x sex x age band (18-34, 35-49, 50-66)"}
