"""The monthly model of the synthetic register: who works, divorces, enters and leaves bijstand.

Vectorised over persons, a loop over months only. Every random number is drawn
from a stream keyed by (seed, month, purpose), in the same order in every
"world", so that the factual world and the counterfactual worlds (a cause's
effect switched off) share their random numbers: common random numbers make
the difference between worlds the causal effect for each person.

Selection is realistic on purpose. A latent trait ``u`` (employability and
mental health, unobserved in the data) drives job loss, job finding, bijstand
entry and exit, programme assignment and health; observed education,
migration background and age do too. The partnership process does not depend
on work or bijstand, so separations happen at the same moment in every world.

The dynamic world (``dynamics=True``, the credible-designs issue) adds what makes
naive comparison groups wrong: unions form and dissolve throughout the window
(people partner later, separate and re-partner), a partner's income protects
against bijstand (lower entry, and an exit when a recipient moves in with a
partner), a divorce reaches the register 1-9 months after the couple split up (the
effect starts before the registered event: anticipation in the data), and the
counterfactual worlds switch a cause off for good: in
``switch_off="divorce"`` no union ends, in ``switch_off="exit_to_work"`` nobody
leaves bijstand for work. Those are the never-treated potential outcomes
Y(infinity) that Callaway & Sant'Anna identify.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.data.synthetic.shards import Layout, ShardStreams

N_MONTHS_DEFAULT = 120

#: The dynamic world's union and household effects (log-odds).
DYNAMICS = {
    "union_formation_monthly": 0.04,    # monthly probability that a single adult under 35 forms a union
    "union_formation_monthly_35_50": 0.01,  # the same at 35 to 49
    "partner_entry": -2.5,              # bijstand entry log-odds while partnered (the partner's income)
    "partner_exit": 0.8,                # probability that a recipient forming a union leaves bijstand then
    "young_entry": 2.0,                 # extra entry log-odds at 18-20, falling linearly to 0 at 30
    "registration_lag_months": (1, 9),  # a divorce is registered this many months after the split
}

#: Causal effects built into the model (log-odds unless said otherwise). The truths in truth.json
#: are NOT these numbers: they are computed from the simulated potential outcomes.
EFFECTS = {
    "divorce_entry_F": 2.3,        # bijstand entry log-odds, first 12 months after a separation, women
    "divorce_entry_M": 1.3,        # idem, men
    "divorce_dependent_extra": 0.8,  # extra when not employed in the 12 months before the separation
    "job_loss_entry": 1.2,         # bijstand entry log-odds, first 12 months after losing a job
    "programme_exit_work": 0.9,    # exit-to-work log-odds during months 1..12 after a programme start
}


def logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Population:
    sex_f: np.ndarray
    birth_year: np.ndarray
    education: np.ndarray  # 0 low, 1 middle, 2 high
    migration: np.ndarray  # 0 dutch, 1 western, 2 non_western
    municipality: np.ndarray  # index into MUNICIPALITIES
    u: np.ndarray  # latent employability / health
    assessment: np.ndarray  # caseworker's participation-ladder assessment (1..6), a noisy proxy of u
    municipal_effect: np.ndarray | None = None  # per person: the municipality's true effect (log-odds), or None
    programme_effect: np.ndarray | None = None  # per person: the programme's exit-to-work log-odds (programme.py)


@dataclass
class World:
    """Monthly states of one world (bool matrices persons x months) and its events."""

    employed: np.ndarray
    bijstand: np.ndarray
    ww: np.ndarray
    partnered: np.ndarray
    separation_month: np.ndarray  # first separation (divorce/separation) month, -1 if none
    job_loss_month: np.ndarray  # first job loss month, -1 if none
    programme_month: np.ndarray  # first programme start month, -1 if none
    programme_kind: np.ndarray  # 0 werkfit, 1 taaltraject
    exit_to_work: np.ndarray  # bool matrix: bijstand ended this month and work started
    union_kind: np.ndarray  # kind of the current union (0 marriage, 1 registered, 2 cohabitation)
    union_events: list  # (person, start_month, end_month or -1, kind, reason) for closed/open unions
    assignment_month: np.ndarray | None = None  # experiment (experiments.py): month assigned, -1 not; None no trial


def simulate_world(pop: Population, *, seed: int, n_months: int, start_year: int,
                   switch_off: str | None = None, dynamics: bool = False, trial=None,
                   layout: Layout | None = None) -> World:
    """Run the monthly model; ``switch_off`` names an effect to remove ("divorce", "job_loss", "programme"),
    or "delay_start": the first programme start offered to a person does not happen (later ones may);
    "exit_to_work" (dynamic world): nobody leaves bijstand for work; "delay_exit": a person's first exit
    to work does not happen in that calendar year (later ones may). With ``dynamics`` the union and
    household effects of :data:`DYNAMICS` are on and "divorce" means that no union ends. ``trial`` (an
    ``experiments.Trial``) runs the randomised experiment inside this world, on its own paths. ``layout``:
    the shards of the persons (``shards.Layout``; default one shard), whose own streams give the draws."""
    n = len(pop.u)
    layout = layout or Layout.single(n)
    edu_score = pop.education - 1.0
    nonwest = (pop.migration == 2).astype(float)
    e = 0.7 * edu_score + 0.9 * pop.u - 0.35 * nonwest  # employability index
    emp = np.zeros((n, n_months), dtype=bool)
    bij = np.zeros((n, n_months), dtype=bool)
    ww = np.zeros((n, n_months), dtype=bool)
    par = np.zeros((n, n_months), dtype=bool)
    etw = np.zeros((n, n_months), dtype=bool)
    sep_m = np.full(n, -1, dtype=np.int32)
    jl_m = np.full(n, -1, dtype=np.int32)
    last_sep = np.full(n, -10_000, dtype=np.int32)
    last_jl = np.full(n, -10_000, dtype=np.int32)
    prog_m = np.full(n, -1, dtype=np.int32)
    prog_kind = np.zeros(n, dtype=np.int8)
    skipped = np.zeros(n, dtype=bool)  # "delay_start" world: the first start offered did not happen
    dur = np.zeros(n, dtype=np.int32)  # months in the current bijstand spell
    ww_left = np.zeros(n, dtype=np.int32)
    last_emp = np.full(n, -10_000, dtype=np.int32)  # last month employed
    left_other = np.full(n, -10_000, dtype=np.int32)  # month of the last exit from bijstand not into work
    kind = np.zeros(n, dtype=np.int8)
    union_start = np.full(n, -1, dtype=np.int32)
    registered_end = np.full(n, -10_000, dtype=np.int32)  # month the last union's end is registered
    tried_exit = np.zeros(n, dtype=bool)  # "delay_exit" world
    blocked_until = np.full(n, -1, dtype=np.int32)
    unions: list = []
    assigned = np.full(n, -1, dtype=np.int32)  # ``trial`` (experiments.Trial): enrols, shifts exit to work

    rng0 = ShardStreams(seed, (10_001,), layout)
    age0 = start_year - pop.birth_year
    working = (age0 >= 18) & (age0 <= 66)
    p_emp0 = logistic(1.1 + 1.1 * e)
    cur_emp = working & (rng0.random() < p_emp0)
    p_bij0 = logistic(-2.9 - 1.2 * e)
    cur_bij = working & ~cur_emp & (rng0.random() < p_bij0)
    p_par0 = np.clip(0.15 + 0.012 * (age0 - 18), 0.05, 0.7)
    cur_par = (age0 >= 18) & (rng0.random() < p_par0)
    kind[:] = np.searchsorted([0.6, 0.65, 1.0], rng0.random())
    union_start[cur_par] = -1 - rng0.integers(1, 240, where=cur_par)
    dur[cur_bij] = rng0.integers(1, 60, where=cur_bij)
    last_emp[cur_emp] = -1

    for t in range(n_months):
        # the first 9 rows are the same either way
        draws = ShardStreams(seed, (t,), layout).random(lead=(11 if dynamics else 9,))
        age = start_year + t // 12 - pop.birth_year
        active = (age >= 18) & (age <= 66)

        # partnerships: independent of work and bijstand (same timing in every world)
        if dynamics:
            p_form = np.where(age < 35, DYNAMICS["union_formation_monthly"],
                              np.where(age < 50, DYNAMICS["union_formation_monthly_35_50"], 0.0))
            form = ~cur_par & (age >= 18) & (draws[0] < p_form) & (t > registered_end)
        else:
            form = ~cur_par & (age >= 18) & (draws[0] < 0.004)
        h_sep = logistic(-5.9 - 0.25 * edu_score - 0.25 * pop.u + 0.5 * (kind == 2))
        split = cur_par & (draws[1] < h_sep)
        if dynamics and switch_off == "divorce":
            split[:] = False  # Y(infinity): no union ends
        # the register sees a divorce (marriage, registered partnership) only when the court or the
        # municipality registers it, 1-9 months after the couple split up; a cohabitation ends in the
        # register when one partner moves out, the same month (dynamic world)
        lag = np.where(kind != 2, 1 + (draws[10] * 9).astype(np.int32), 0) if dynamics else np.zeros(n, np.int32)
        seen = t + lag < n_months  # registered inside the window; else the union is still open in the register
        for i in np.flatnonzero(split):
            if seen[i]:
                unions.append((i, int(union_start[i]), t + int(lag[i]), int(kind[i]),
                               "separation" if kind[i] == 2 else "divorce"))
            else:
                unions.append((i, int(union_start[i]), -1, int(kind[i]), ""))
        first_sep = split & seen & (sep_m < 0)
        sep_m[first_sep] = t + lag[first_sep]
        last_sep[split] = t
        registered_end[split] = t + lag[split]
        cur_par = (cur_par & ~split) | form
        kind[form] = np.searchsorted([0.45, 0.5, 1.0], draws[2][form])
        union_start[form] = t

        # employment: job loss and job finding (not while in bijstand: exits handled below)
        h_loss = logistic(-4.7 - 0.5 * e)
        lose = cur_emp & active & (draws[3] < h_loss)
        first_jl = lose & (jl_m < 0)
        jl_m[first_jl] = t
        last_jl[lose] = t
        ww_start = lose & (draws[4] < 0.55)
        ww_left[ww_start] = 3 + (draws[5][ww_start] * 10).astype(np.int32)
        h_find = logistic(-2.4 + 0.9 * e)
        # no job in the month right after leaving bijstand for other reasons: such a job could start within
        # 31 days of the spell's end and would then count as an exit to work in the data
        find = ~cur_emp & ~cur_bij & active & (draws[4] < h_find) & ~lose & (t - left_other >= 2)
        cur_emp = (cur_emp & ~lose & active) | find
        ww_now = ww_left > 0
        ww_left = np.maximum(ww_left - 1, 0)
        ww_now &= ~cur_emp

        # bijstand entry
        since_sep = t - last_sep
        since_jl = t - last_jl
        lin = -6.4 - 1.0 * e + 0.2 * (pop.sex_f == 1)
        if dynamics:
            lin = lin + DYNAMICS["partner_entry"] * cur_par
            lin = lin + DYNAMICS["young_entry"] * np.clip((30 - age) / 10, 0, 1)
        if switch_off != "divorce":
            recent = (since_sep >= 0) & (since_sep < 12)
            dep = (t - last_emp) > 12
            lin = lin + recent * np.where(pop.sex_f == 1, EFFECTS["divorce_entry_F"], EFFECTS["divorce_entry_M"])
            lin = lin + recent * dep * EFFECTS["divorce_dependent_extra"]
        if switch_off != "job_loss":
            lin = lin + ((since_jl >= 0) & (since_jl < 12)) * EFFECTS["job_loss_entry"]
        if pop.municipal_effect is not None:  # scenario municipal_effects: the municipality's own effect
            lin = lin + pop.municipal_effect
        enter = ~cur_bij & ~cur_emp & ~ww_now & active & (draws[6] < logistic(lin))

        # bijstand exit: to work (programme raises it) or for other reasons
        on_prog = (prog_m >= 0) & (t - prog_m >= 1) & (t - prog_m <= 12)
        lin_w = -3.3 + 1.0 * e - 0.015 * np.minimum(dur, 60)
        if switch_off != "programme":
            lin_w = lin_w + on_prog * (EFFECTS["programme_exit_work"] if pop.programme_effect is None
                                       else pop.programme_effect)
        if pop.municipal_effect is not None:  # a municipality that keeps people out also helps them to work
            lin_w = lin_w - pop.municipal_effect
        if trial is not None:
            lin_w = lin_w + trial.exit_shift(assigned, t)
        to_work = cur_bij & (draws[7] < logistic(lin_w))
        if switch_off == "exit_to_work":
            to_work[:] = False  # Y(infinity) of the exit_health study: nobody leaves bijstand for work
        elif switch_off == "delay_exit":  # a person's first exit to work does not happen in that calendar year
            first_try = to_work & ~tried_exit
            tried_exit |= first_try
            # the spell's last month is t - 1: no exit whose spell ends in that calendar year
            blocked_until[first_try] = ((t - 1) // 12) * 12 + 12
            to_work &= t > blocked_until
        other = cur_bij & ~to_work & (draws[7] > 1 - logistic(-4.0 + 0.1 * (age > 60)))
        if dynamics:  # moving in with an earning partner ends entitlement
            other |= cur_bij & ~to_work & form & (draws[9] < DYNAMICS["partner_exit"])
        aged_out = cur_bij & ~active
        # programme assignment: caseworkers pick recipients with better prospects, after 3 months, on what
        # they observe (the ladder assessment, education, age): selection on observables, strong enough
        # that a naive comparison is clearly wrong
        h_prog = logistic(-4.2 + 1.5 * (pop.assessment - 3) + 0.3 * edu_score - 0.02 * (age - 40))
        start_prog = cur_bij & ~to_work & ~other & (dur >= 3) & (prog_m < 0) & active & (draws[8] < h_prog)
        if trial is not None:  # participants get the experiment's arm instead of a programme
            start_prog &= ~trial.after(assigned, t)
        if switch_off == "delay_start":
            skip_now = start_prog & ~skipped
            skipped |= skip_now
            start_prog &= ~skip_now
        prog_m[start_prog] = t
        prog_kind[start_prog] = ((pop.migration[start_prog] == 2) & (pop.education[start_prog] == 0)).astype(np.int8)

        leave = to_work | other | aged_out
        left_other[other | aged_out] = t
        etw[:, t] = to_work
        cur_emp = cur_emp | to_work
        cur_bij = (cur_bij & ~leave) | enter
        if trial is not None:
            trial.enrol(assigned, cur_bij, t)
        dur = np.where(cur_bij, np.where(enter, 1, dur + 1), 0)
        last_emp[cur_emp] = t
        emp[:, t], bij[:, t], ww[:, t], par[:, t] = cur_emp, cur_bij, ww_now, cur_par
    for i in np.flatnonzero(cur_par):
        unions.append((i, int(union_start[i]), -1, int(kind[i]), ""))
    return World(employed=emp, bijstand=bij, ww=ww, partnered=par, separation_month=sep_m, job_loss_month=jl_m,
                 programme_month=prog_m, programme_kind=prog_kind, exit_to_work=etw, union_kind=kind,
                 union_events=unions, assignment_month=assigned if trial is not None else None)
