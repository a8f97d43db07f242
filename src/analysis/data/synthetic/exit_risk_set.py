"""The exit_health study's risk-set truth in the default world: leaving for work now rather than not now.

The at-risk design of exit_health (issue #14) compares persons who leave bijstand for work in year g
with persons on bijstand in December of g - 1 who do not leave for work in g (they may leave later).
Its estimand is the effect of leaving *now* rather than *not now* (Sianesi 2004), not the effect against
a world without any exit to work. In the default world (``dynamics=False``) that truth is measured here
from potential outcomes, as every other truth:

- the ``exit_not_now`` world (``model.simulate_world(..., switch_off="delay_exit")``, the same random
  numbers as the factual world): a person's first exit to work does not happen in the calendar year in
  which that spell would end; later exits may (and do, at the model's own hazard);
- health in each world from :func:`analysis.data.synthetic.truth.health` (the same random numbers in
  every world, drawn from its own stream; the work effect starts in each world's own first exit year);
- ``att_<outcome>_risk_set``: mean over person-years t >= g of persons whose first exit to work falls in
  year g >= 2015 and who were on bijstand on 31 December of g - 1 (the design's treated) of health in
  the factual world minus health in the ``exit_not_now`` world; ``att_<outcome>_risk_set_e<k>`` the
  same over t - g = k.

With ``pre_exit_dip`` the dip sits before the factual exit in every world (as in the dynamic world), so
after the exit it is in neither: both worlds' health is taken without it.
"""

from __future__ import annotations

import numpy as np

from analysis.data.synthetic import truth as tr
from analysis.data.synthetic.model import Population, World
from analysis.data.synthetic.shards import Layout, mean, per_shard

#: The world simulated for this truth (name, ``switch_off``), added to the default world's worlds.
WORLD = ("exit_not_now", "delay_exit")
OUTCOMES = ("antidepressants", "healthcare_costs_eur", "mental_healthcare_costs_eur", "gp_costs_eur")
DYNAMIC = ("antidepressants", "healthcare_costs_eur")
#: Years since the exit with their own truth (the study publishes e0..e3).
EVENT_TIMES = range(4)

DEFINITIONS = {"att_<outcome>_risk_set (default world)": (
    "default world: mean over person-years t >= g of persons whose first exit to work falls in year "
              "g >= 2015 and who were on bijstand on 31 December of g - 1, health in the factual world minus the "
              "world where that first exit to work does not happen in its calendar year (later exits may): "
              "leaving now rather than not now, the risk-set design's estimand (Sianesi 2004); _e<k> by t - g = k")}


def risk_set_truths(pop: Population, factual: World, not_now: World, *, seed: int, start_year: int,
                    layout: Layout | None = None) -> list:
    """``att_<outcome>_risk_set`` and ``..._e<k>`` from the factual and the ``exit_not_now`` world, for each
    shard of ``layout`` (default one) in shard order (``shards.Ratio``)."""
    layout = layout or Layout.single(len(pop.u))
    _, fact = tr.health(pop, factual, seed=seed, start_year=start_year, pre_exit_dip=False, layout=layout)
    _, later = tr.health(pop, not_now, seed=seed, start_year=start_year, pre_exit_dip=False, layout=layout)
    return per_shard(layout, _truths, factual, fact, later)


def _truths(factual: World, fact: dict, later: dict) -> dict:
    g, k = fact["g"], fact["k"]
    n, T = factual.bijstand.shape
    december_before = np.clip(12 * g - 1, 0, T - 1)
    treated = (g >= 1) & factual.bijstand[np.arange(n), december_before]
    cells = treated[:, None] & (k >= 0)
    out = {}
    for outcome in OUTCOMES:
        diff = fact[outcome][0] - later[outcome][0]      # both with the work effect of their own world
        out[f"att_{outcome}_risk_set"] = mean(diff[cells], empty=None)
        if outcome in DYNAMIC:
            for e in EVENT_TIMES:
                sel = cells & (k == e)
                out[f"att_{outcome}_risk_set_e{e}"] = mean(diff[sel], empty=None)
    return out
