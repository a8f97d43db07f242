"""Job loss and mental health: the simulator's effect of losing a job on antidepressant use and
mental-health costs, and its truths (the job_loss study, notebooks/60_job_loss.py).

The event is a person's first end of employment in the window (the month of a spell's end not
followed by work the next month: the first job end the data show). From the calendar year of
that job end on, in the factual world:

- antidepressants: a person without a prescription gets one with probability
  ``EFFECTS["antidepressants"]`` (half of it in the year of the job end);
- mental-health costs rise by ``EFFECTS["mental_costs_eur"]`` euros (half in the year of the
  job end) times a gamma(2, 0.5) draw (mean 1); total health-care costs by the same amount.

The effect is twice as large for a job end at 50 or older (``OLDER_AGE``) and applies only to
persons never on bijstand in the window, so the health of bijstand recipients (the exit_health,
intervention and designs tests) is the default draw unchanged. The draws come from an own random
stream, so no other table of a seed changes. The world without the effect is the health table
before this step; the truths are differences of those potential outcomes, never the constants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.synthetic.shards import Layout, ShardStreams, mean, per_shard

#: Effects from the year after the job end on (half in its year), for a job end at OLDER_AGE or older
#: (half as large for a younger job end).
EFFECTS = {"antidepressants": 0.05, "mental_costs_eur": 160.0}
OLDER_AGE = 50
#: The job_loss study's default population: job ends at 50 up to the state pension age.
AGE_BAND = (50, 66)
STREAM = 7101
OUTCOMES = ("antidepressants", "mental_healthcare_costs_eur")
EVENT_TIMES = (0, 1, 2, 3)

DEFINITIONS = {
    "att_<outcome>_job_loss_50plus": "job_loss study: mean over person-years t >= g of persons whose first job end "
                                     "falls in year g >= 2015, employed in December of g-1 and aged 50-66 (year - "
                                     "birth_year) in g-1, outcome with minus without the job-loss health effect "
                                     "(<outcome>: antidepressants, mental_healthcare_costs_eur)",
    "att_<outcome>_job_loss_50plus_e<k>": "the same over person-years with t - g = k",
}


def first_job_end(world) -> np.ndarray:
    """Month of each person's first end of employment (employed, not employed the next month); -1 if none."""
    ends = world.employed[:, :-1] & ~world.employed[:, 1:]
    return np.where(ends.any(axis=1), ends.argmax(axis=1), -1)


def health_effects(pop, world, health: pd.DataFrame, *, seed: int, start_year: int, layout: Layout | None = None):
    """The health table with the job-loss effects added, and the truths (module docstring) of each shard of
    ``layout`` (default one), in shard order (``shards.Ratio`` and counts)."""
    n_years = int(health["year"].nunique())
    n = len(pop.u)
    layout = layout or Layout.single(n)
    rng = ShardStreams(seed, (STREAM,), layout)
    uni = rng.random(tail=(n_years,))
    size = rng.gamma(2.0, 0.5, tail=(n_years,))
    end = first_job_end(world)
    g = np.where(end >= 0, end // 12, -1)                       # year index of the first job end
    age_at_end = start_year + g - pop.birth_year
    scale = np.where(age_at_end >= OLDER_AGE, 1.0, 0.5) * (g >= 0) * ~world.bijstand.any(axis=1)
    k = np.where(g[:, None] >= 0, np.arange(n_years)[None, :] - g[:, None], -99)
    dose = scale[:, None] * np.where(k == 0, 0.5, 1.0) * (k >= 0)

    rows, cols = health["_row"].to_numpy(), health["year"].to_numpy() - start_year
    ad0 = np.zeros((n, n_years))
    ad0[rows, cols] = health["antidepressants"].to_numpy()
    mental0 = np.zeros((n, n_years))
    mental0[rows, cols] = health["mental_healthcare_costs_eur"].to_numpy()
    ad1 = np.maximum(ad0, (uni < EFFECTS["antidepressants"] * dose).astype(float))
    extra = np.round(EFFECTS["mental_costs_eur"] * dose * size, 2)
    mental1 = mental0 + extra
    out = health.assign(antidepressants=ad1[rows, cols].astype(np.int8),
                        mental_healthcare_costs_eur=np.round(mental1[rows, cols], 2),
                        healthcare_costs_eur=np.round(health["healthcare_costs_eur"].to_numpy() + extra[rows, cols], 2))

    # the study's treated: first job end in year g >= 1, employed in December of g-1, aged 50-66 then
    base = np.clip(12 * g - 1, 0, world.employed.shape[1] - 1)
    age_base = start_year + g - 1 - pop.birth_year
    treated = (g >= 1) & world.employed[np.arange(n), base] & (age_base >= AGE_BAND[0]) & (age_base <= AGE_BAND[1])
    return out, per_shard(layout, _truth, treated, k, (ad1, ad0), (mental1, mental0))


def _truth(treated, k, ad, mental) -> dict:
    cells = treated[:, None] & (k >= 0)
    truth = {}
    for name, (y1, y0) in (("antidepressants", ad), ("mental_healthcare_costs_eur", mental)):
        diff = y1 - y0
        truth[f"att_{name}_job_loss_50plus"] = mean(diff[cells])
        for e in EVENT_TIMES:
            truth[f"att_{name}_job_loss_50plus_e{e}"] = mean(diff[cells & (k == e)])
    truth["job_loss_50plus_treated"] = int(treated.sum())
    return truth
