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

From the month after assignment a participant's bijstand and work follow a small monthly model of its
own (exit to work, exit for other reasons, job loss and re-entry, job finding; the main model's
hazards), where each arm shifts the log-odds of exit to work during the 24 months after assignment by
:data:`ARM_LOG_ODDS`. Every participant is simulated in every arm with the same random numbers (own
stream ``default_rng([seed, 7101])``), so each has a potential outcome per arm; the factual path (the
assigned arm) replaces the participant's months after assignment in every world of the main model, and
programme starts after assignment are dropped (participants get the experiment's arm instead).

The truths (``truths["experiment"]`` in truth.json) are differences of potential outcomes averaged over
the analysed participants (those whose 24 follow-up months are observed before they reach 67): the
sample average treatment effect of each arm against control on

- ``exit_to_work_24m``: a bijstand spell ending in the assignment month or the 23 after it, followed by
  work within 31 days (share);
- ``bijstand_months_24m``: months with bijstand in the 24 months after the assignment month.

The persons who reach 67 during follow-up are the experiment's attrition (their outcomes are not
measured: the state pension ends bijstand), equal in expectation across arms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.synthetic import tables as tb
from analysis.data.synthetic.model import Population, World, logistic

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


def _enrol(pop: Population, fact: World, start_year: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and assignment months of the participants: first month in bijstand in the enrolment year."""
    codes = np.array([c for c, _, _ in tb.MUNICIPALITIES], dtype=object)
    here = np.isin(codes[pop.municipality], MUNICIPALITIES)
    window = fact.bijstand[:, ENROLMENT_FIRST_MONTH:ENROLMENT_FIRST_MONTH + ENROLMENT_MONTHS]
    any_month = window.any(axis=1)
    month = ENROLMENT_FIRST_MONTH + window.argmax(axis=1)
    age = start_year + month // 12 - pop.birth_year
    ok = here & any_month & (age >= AGE_RANGE[0]) & (age <= AGE_RANGE[1])
    rows = np.flatnonzero(ok)
    return rows, month[rows]


def _randomise(strata: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Equal shares within each stratum: a random order, arms dealt in turn from a random first arm."""
    arm = np.empty(len(strata), dtype=np.int8)
    for s in sorted(set(strata)):
        idx = np.flatnonzero(strata == s)
        idx = idx[rng.permutation(len(idx))]
        arm[idx] = (np.arange(len(idx)) + rng.integers(len(ARMS))) % len(ARMS)
    return arm


def _paths(pop: Population, rows: np.ndarray, month: np.ndarray, *, shift: np.ndarray, draws: np.ndarray,
           n_months: int, start_year: int, switch_off: str | None = None,
           blocked_until: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """bijstand, employed and exit-to-work matrices (participants x months) from the month after assignment
    on (earlier months False); ``shift`` the exit-to-work log-odds per participant.

    ``switch_off`` is the world's (``model.simulate_world``): "job_loss" removes the return to bijstand on a
    job loss (this model's job-loss effect); "delay_exit" blocks a person's first exit to work in the
    calendar year in which that spell would end, with ``blocked_until`` (per participant: the month up to
    which exits are blocked, -1 none; ``-2`` for "first exit still to come") carrying the state of the main
    model's months before assignment. Other switches have no effect here (this model has no divorce or
    programme effect)."""
    k = len(rows)
    delay = switch_off == "delay_exit"
    if delay:
        tried = blocked_until != -2
        blocked_until = np.where(tried, blocked_until, -1).astype(np.int32)
    e = 0.7 * (pop.education[rows] - 1.0) + 0.9 * pop.u[rows] - 0.35 * (pop.migration[rows] == 2)
    bij = np.zeros((k, n_months), dtype=bool)
    emp = np.zeros((k, n_months), dtype=bool)
    etw = np.zeros((k, n_months), dtype=bool)
    cur_bij = np.ones(k, dtype=bool)
    cur_emp = np.zeros(k, dtype=bool)
    dur = np.full(k, 1, dtype=np.int32)
    left_other = np.full(k, -10_000, dtype=np.int32)
    for t in range(int(month.min()) + 1, n_months):
        live = t > month
        d = draws[:, t].T
        age = start_year + t // 12 - pop.birth_year[rows]
        active = (age >= AGE_RANGE[0]) & (age <= AGE_RANGE[1])
        treated = (t - month >= 1) & (t - month <= FOLLOW_UP)
        p_work = logistic(-3.3 + 1.0 * e - 0.015 * np.minimum(dur, 60) + treated * shift)
        to_work = live & cur_bij & active & (d[0] < p_work)
        if delay:  # as model.simulate_world's "delay_exit": the spell's last month is t - 1
            first_try = to_work & ~tried
            tried |= first_try
            blocked_until[first_try] = ((t - 1) // 12) * 12 + 12
            to_work &= t > blocked_until
        other = live & cur_bij & ~to_work & ((d[0] > 1 - logistic(-4.0 + 0.1 * (age > 60))) | ~active)
        lose = live & cur_emp & ((d[1] < logistic(-4.7 - 0.5 * e)) | ~active)
        back = lose & active & (d[2] < 0.3) & (switch_off != "job_loss")
        find = live & ~cur_bij & ~cur_emp & active & (d[1] < logistic(-2.4 + 0.9 * e)) & (t - left_other >= 2)
        enter = live & ~cur_bij & ~cur_emp & ~find & active & (d[2] < logistic(-6.4 - 1.0 * e + 0.2 * pop.sex_f[rows]))
        left_other[other] = t
        cur_bij = np.where(live, (cur_bij & ~to_work & ~other) | back | enter, cur_bij)
        cur_emp = np.where(live, (cur_emp & ~lose) | to_work | find, cur_emp)
        dur = np.where(live, np.where(cur_bij, dur + 1, 0), dur)
        bij[:, t] = live & cur_bij
        emp[:, t] = live & cur_emp
        etw[:, t] = to_work
    return bij, emp, etw


def _outcomes(bij: np.ndarray, etw: np.ndarray, month: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """exit to work in months a+1..a+24 (spell ending in a..a+23) and bijstand months in a+1..a+24."""
    cols = month[:, None] + np.arange(1, FOLLOW_UP + 1)[None, :]
    r = np.arange(len(month))[:, None]
    return etw[r, cols].any(axis=1).astype(float), bij[r, cols].sum(axis=1).astype(float)


def _first_exit_block(fact: World, rows: np.ndarray, month: np.ndarray) -> np.ndarray:
    """The "delay_exit" world's block state at assignment, from the (unspliced) factual world: that world
    equals the factual one up to a person's first exit to work (the same random numbers), which it blocks
    until the January after the spell's last month. -2: no exit to work tried up to the assignment month;
    else the month up to which exits are blocked (``model.simulate_world``)."""
    etw = fact.exit_to_work[rows]
    has = etw.any(axis=1)
    t0 = np.where(has, etw.argmax(axis=1), -1)
    tried = has & (t0 <= month)
    return np.where(tried, ((t0 - 1) // 12) * 12 + 12, -2).astype(np.int32)


def apply(pop: Population, worlds: dict, *, ids: np.ndarray, seed: int, start_year: int,
          switch_off: dict | None = None) -> tuple[pd.DataFrame, dict] | None:
    """Enrol, randomise and simulate the experiment in every world and splice it in (in place).

    Each world enrols on its own paths (who is in bijstand there in the enrolment year, and when);
    ``switch_off`` maps a world's name to its ``model.simulate_world`` switch (absent: none), which the
    experiment's model honours. A person keeps one arm in every world (the randomisation's in the factual
    world, otherwise a draw of their own) and one set of random numbers. Returns the contract's
    ``experiments`` table and the truths (``truths["experiment"]``), or None (nothing changed) when fewer
    than :data:`MIN_PARTICIPANTS` are enrolled or an arm would be empty."""
    switch_off = switch_off or {}
    fact = worlds["factual"]
    n_months = fact.bijstand.shape[1]
    rows, month = _enrol(pop, fact, start_year)
    rng = np.random.default_rng([seed, RNG_STREAM])
    codes = np.array([c for c, _, _ in tb.MUNICIPALITIES], dtype=object)
    age = start_year + month // 12 - pop.birth_year[rows]
    strata = (codes[pop.municipality[rows]] + "_" + np.where(pop.sex_f[rows] == 1, "F", "M") + "_"
              + _age_band(age)).astype(str)
    arm = _randomise(strata, rng)
    if len(rows) < MIN_PARTICIPANTS or len(set(arm.tolist())) < len(ARMS):
        return None  # too small a population for the experiment: no table, the worlds untouched
    days = rng.integers(0, 28, len(rows))
    # every world enrols on its own paths, all taken before any splice
    enrolled = {name: (rows, month) if name == "factual" else _enrol(pop, w, start_year) for name, w in worlds.items()}
    blocks = {name: _first_exit_block(fact, *enrolled[name]) for name in worlds
              if switch_off.get(name) == "delay_exit"}
    union = np.unique(np.concatenate([r for r, _ in enrolled.values()]))
    sub = np.random.default_rng([seed, RNG_STREAM, 1])
    draws = sub.random((len(union), n_months, 3))  # one set per person, the same in every world
    person_arm = sub.integers(len(ARMS), size=len(union))  # the arm of a person enrolled only elsewhere
    person_arm[np.searchsorted(union, rows)] = arm
    shifts = np.array([ARM_LOG_ODDS[a] for a in ARMS])
    at = np.searchsorted(union, rows)
    potential = {}
    for j, name in enumerate(ARMS):
        bij, _, etw = _paths(pop, rows, month, shift=np.full(len(rows), shifts[j]), draws=draws[at],
                             n_months=n_months, start_year=start_year)
        potential[name] = _outcomes(bij, etw, month)
    for name, world in worlds.items():
        r, m = enrolled[name]
        at_w = np.searchsorted(union, r)
        bij, emp, etw = _paths(pop, r, m, shift=shifts[person_arm[at_w]], draws=draws[at_w], n_months=n_months,
                               start_year=start_year, switch_off=switch_off.get(name), blocked_until=blocks.get(name))
        after = np.arange(n_months)[None, :] > m[:, None]
        world.bijstand[r] = np.where(after, bij, world.bijstand[r])
        world.employed[r] = np.where(after, emp, world.employed[r])
        world.exit_to_work[r] = np.where(after, etw, world.exit_to_work[r])
        world.ww[r] &= ~after
        later = world.programme_month[r] > m
        world.programme_month[r[later]] = -1
    table = pd.DataFrame({
        "person_id": ids[rows], "experiment": EXPERIMENT, "arm": np.array(ARMS, dtype=object)[arm],
        "assignment_date": pd.to_datetime(tb._dates(start_year, month, days)), "stratum": strata, "cluster": None,
    }).sort_values("person_id", kind="mergesort").reset_index(drop=True)
    end_age = start_year + (month + FOLLOW_UP) // 12 - pop.birth_year[rows]
    analysed = (end_age <= AGE_RANGE[1]) & (month + FOLLOW_UP < n_months)
    truth = {"name": EXPERIMENT, "municipalities": list(MUNICIPALITIES), "arms": list(ARMS),
             "n_participants": int(len(rows)), "n_analysed": int(analysed.sum()),
             "n_by_arm": {a: int((arm == j).sum()) for j, a in enumerate(ARMS)}}
    for k, outcome in enumerate(("exit_to_work_24m", "bijstand_months_24m")):
        y0 = potential["control"][k][analysed]
        truth[f"control_mean_{outcome}"] = float(y0.mean()) if len(y0) else None
        for name in ARMS[1:]:
            diff = potential[name][k][analysed] - y0
            truth[f"itt_{outcome}_{name}"] = float(diff.mean()) if len(diff) else None
    return table, truth


PARAMETERS = {"experiment": EXPERIMENT, "municipalities": list(MUNICIPALITIES), "arms": list(ARMS),
              "arm_exit_to_work_log_odds": ARM_LOG_ODDS, "enrolment": "2017 (stock in January and inflow)",
              "follow_up_months": FOLLOW_UP, "strata": "municipality x sex x age band (18-34, 35-49, 50-66)"}
