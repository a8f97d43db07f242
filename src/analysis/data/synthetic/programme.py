"""Scenario ``programme_effect``: a programme effect that varies with observed characteristics.

The default world (``"constant"``) raises the exit-to-work log-odds by
``model.EFFECTS["programme_exit_work"]`` for everyone in months 1..12 after a
programme start. ``"heterogeneous"`` makes that effect depend on education, which
the data show (``persons.education``): :data:`EFFECT_BY_EDUCATION` (log-odds, low /
middle / high), so the programme works best for the low educated and slightly delays
the high educated (a lock-in effect: time in the programme is time not spent searching). ``"none"`` gives the programme no effect at all: a homogeneous
world (every person's effect is zero), the null of a heterogeneity test.

No random numbers are drawn here: the effect is a function of observed education,
so every other table of a seed is the default draw up to the programme's effect.
truth.json holds, under ``truths["programme_effect_by_group"]``, the true effects
per education level and per migration background, with the estimand of the
intervention study (``att_months_bijstand_24m``, ``att_employed_24m``: starting now
versus not now, for the participants of the most frequent programme, werkfit).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from analysis.data.synthetic import tables as tb
from analysis.data.synthetic.shards import Layout, mean, per_shard
from analysis.errors import ParameterError

PROGRAMME_EFFECTS = ("constant", "heterogeneous", "none")
#: exit-to-work log-odds of the programme in months 1..12 after a start, by education (low, middle, high)
EFFECT_BY_EDUCATION = (3.0, 1.0, -1.0)
#: the study's outcome window and the programme whose effects the truth describes (code 0 = werkfit)
HORIZON = 24
PROGRAMME_CODE = 0


def with_programme_effect(pop, programme_effect: str):
    """``pop`` with its per-person programme effect (log-odds) for the scenario; ``"constant"``: unchanged."""
    if programme_effect not in PROGRAMME_EFFECTS:
        raise ParameterError(f"programme_effect={programme_effect!r} is not allowed; choose one of "
                             f"{', '.join(PROGRAMME_EFFECTS)}.")
    if programme_effect == "constant":
        return pop
    if programme_effect == "none":
        return replace(pop, programme_effect=np.zeros(len(pop.u)))
    return replace(pop, programme_effect=np.asarray(EFFECT_BY_EDUCATION, dtype=float)[pop.education])


def truth_by_group(pop, worlds: dict, *, layout: Layout | None = None) -> list:
    """True effects per education level and migration background: participants of werkfit whose 24-month
    window is observed, factual world minus the world where that start does not happen then; for each shard
    of ``layout`` (default one) in shard order (``shards.Ratio`` and counts)."""
    return per_shard(layout or Layout.single(len(pop.u)), _by_group, pop, worlds["factual"], worlds["delayed_start"])


def _by_group(pop, fact, cf) -> dict:
    m = fact.programme_month
    T = fact.bijstand.shape[1]
    sel = (m >= 0) & (m + HORIZON < T) & (fact.programme_kind == PROGRAMME_CODE)
    rows = np.flatnonzero(sel)
    idx = m[rows][:, None] + np.arange(1, HORIZON + 1)[None, :]
    months = fact.bijstand[rows[:, None], idx].sum(axis=1) - cf.bijstand[rows[:, None], idx].sum(axis=1)
    emp = (fact.employed[rows, m[rows] + HORIZON].astype(float) - cf.employed[rows, m[rows] + HORIZON].astype(float))
    out = {}
    for column, codes, labels in (("education", pop.education, tb.EDUCATION),
                                  ("migration_background", pop.migration, tb.MIGRATION)):
        out[column] = {}
        for code, label in enumerate(labels):
            here = codes[rows] == code
            out[column][str(label)] = {
                "participants": int(here.sum()),
                "att_months_bijstand_24m": mean(months[here], empty=None),
                "att_employed_24m": mean(emp[here], empty=None)}
    return out
