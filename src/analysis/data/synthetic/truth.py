"""Health outcomes, the contract tables, and the truths measured between worlds.

Every truth here is a difference of simulated potential outcomes for the same
persons with the same random numbers (factual world minus the world without
the cause's effect), on exactly the estimand a study reports
(docs/architecture.md). None is copied from ``model.EFFECTS``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.synthetic import tables as tb
from analysis.data.synthetic.model import Population, World
from analysis.data.synthetic.shards import Layout, Ratio, ShardStreams, mean, per_shard

N_YEARS = 10
#: The dynamic world's state dependence of health: per bijstand month in the 24 months up to December.
STATE_EFFECTS = {"antidepressants_per_month": 0.008, "costs_per_month": 100.0, "mental_costs_per_month": 20.0}
P_START = 12  # the intake study counts inflow from the 13th month of the window
HORIZON = 24

DEFINITIONS = {
    "bijstand_share_<year>": "persons aged 18-66 (year - birth_year) with a bijstand spell covering 31 December / all persons aged 18-66",
    "inflow_<year>": "bijstand spells starting in the year after at least one full calendar month without bijstand; spells starting in the first month of the window are not counted",
    "share_inflow_after_divorce": "share of inflows from month 13 on with a partnership ending in divorce or separation in the inflow month or the 12 months before (factual data)",
    "excess_bijstand_after_divorce_12m_F": "mean over women with a first separation in month s (1 <= s, s+12 in the window) of bijstand in s+12, factual minus the world without the separation's effect",
    "excess_bijstand_after_divorce_12m_M": "the same for men",
    "attributable_share_inflow_divorce_24m": "inflows in months s..s+24 after first separations in month s >= 1 (counted within months 13-120) in the factual world minus the world without the effect, over all factual inflows in months 13-120",
    "*_job_loss*": "the same with the first end of an employment spell (month of its end date) as the event",
    "att_<outcome>": "mean over person-years t >= g of persons whose first exit to work falls in year g >= 2015 (cohorts with a pre-period), outcome with minus without the work effect on health",
    "att_<outcome>_e<k>": "the same over person-years with t - g = k",
    "att_<outcome>_at_risk": "dynamic world: the same over persons on bijstand on 31 December before their exit year (the at-risk design's treated), against the world where nobody leaves bijstand for work; _e<k> by years since",
    "att_<outcome>_risk_set": "dynamic world: the same persons, against the world where their first exit to work does not happen in that calendar year (later exits may): leaving now rather than not now (Sianesi 2004)",
    "att_months_bijstand_24m": "mean over first programme starts in month m (m+24 in the window) of months with bijstand in m+1..m+24, factual minus the world where that start does not happen then (later starts may: the risk-set estimand of starting now versus not now, Sianesi 2004)",
    "att_months_bijstand_24m_vs_never": "the same against the world without any programme effect",
    "att_employed_24m": "the same for being employed in month m+24",
    "att_ladder_step_12m": "the same for the participation-ladder step in month m+12: 6 if employed, else the latest caseworker measurement up to m+12 (starts with a measurement in both worlds)",
}


def _year_any(matrix: np.ndarray) -> np.ndarray:
    n, t = matrix.shape
    return matrix.reshape(n, t // 12, 12).any(axis=2)


def first_exit_year(world: World) -> np.ndarray:
    """Year of the last bijstand month before the first exit to work (the year of the spell's end date)."""
    has = world.exit_to_work.any(axis=1)
    first = np.where(has, world.exit_to_work.argmax(axis=1), -1)
    return np.where(has & (first >= 1), (first - 1) // 12, -1)


def recent_bijstand_months(world: World, window: int = 24) -> np.ndarray:
    """Persons x years: months with bijstand in the ``window`` months up to December of each year."""
    b = world.bijstand.astype(np.int16)
    n, T = b.shape
    cum = np.concatenate([np.zeros((n, 1), dtype=np.int32), np.cumsum(b, axis=1, dtype=np.int32)], axis=1)
    ends = np.arange(12, T + 1, 12)                     # months 0..end-1 of each year
    return (cum[:, ends] - cum[:, np.maximum(ends - window, 0)]).astype(float)


def health(pop: Population, world: World, *, seed: int, start_year: int, pre_exit_dip: bool,
           untreated_worlds: dict | None = None, layout: Layout | None = None):
    """Yearly health outcomes (factual) and, for the treated, the outcomes without the work effect.

    ``untreated_worlds`` (the dynamic world) switches to :func:`_state_health`. ``layout``: the persons'
    shards (default one), whose streams give the draws.
    """
    layout = layout or Layout.single(len(pop.u))
    if untreated_worlds is not None:
        return _state_health(pop, world, untreated_worlds, seed=seed, start_year=start_year,
                             pre_exit_dip=pre_exit_dip, layout=layout)
    n = len(pop.u)
    rng = ShardStreams(seed, (20_000,), layout)
    years = np.arange(N_YEARS)
    g = first_exit_year(world)
    ever_bij = world.bijstand.any(axis=1)
    k = np.where(g[:, None] >= 0, years[None, :] - g[:, None], -99)  # years since exit to work
    post = k >= 0
    female = pop.sex_f.astype(float)
    p0 = 0.06 + 0.03 * female[:, None] - 0.03 * pop.u[:, None] + 0.07 * ever_bij[:, None] + 0.002 * years[None, :]
    if pre_exit_dip:
        p0 = p0 + 0.05 * (k == -1) + 0.03 * (k == -2)
    p0 = np.clip(p0, 0.005, 0.9)
    effect_ad = np.where(k == 0, 0.02, 0.035) * post
    p1 = np.clip(p0 - effect_ad, 0.0, 0.9)
    uni = rng.random(tail=(N_YEARS,))
    ad0, ad1 = uni < p0, uni < p1

    base = 900 * np.exp(0.6 * rng.normal() - 0.25 * pop.u) + 700 * ever_bij
    shock = rng.gamma(2.0, 0.5, tail=(N_YEARS,))
    other0 = base[:, None] * shock + 35 * years[None, :]
    if pre_exit_dip:
        other0 = other0 + 500 * (k == -1) + 300 * (k == -2)
    mental_base = np.where(pop.u < -0.5, 450.0, 90.0) + 250 * ever_bij
    mental0 = mental_base[:, None] * rng.gamma(1.5, 1 / 1.5, tail=(N_YEARS,))
    gp0 = 140 + 40 * rng.gamma(2.0, 0.5, tail=(N_YEARS,))
    other1 = other0 - np.minimum(np.where(k == 0, 150.0, 300.0), 0.5 * other0) * post
    mental1 = mental0 - np.minimum(np.where(k == 0, 80.0, 150.0), 0.8 * mental0) * post
    gp1 = gp0 - np.minimum(15.0, 0.5 * gp0) * post
    truth = {
        "g": g, "k": k,
        "antidepressants": (ad1.astype(float), ad0.astype(float)),
        "healthcare_costs_eur": (np.round(other1 + mental1 + gp1, 2), np.round(other0 + mental0 + gp0, 2)),
        "mental_healthcare_costs_eur": (np.round(mental1, 2), np.round(mental0, 2)),
        "gp_costs_eur": (np.round(gp1, 2), np.round(gp0, 2)),
    }
    return _health_frame(start_year, n, ad1, other1 + mental1 + gp1, mental1, gp1), truth


def _health_frame(start_year, n, ad, total, mental, gp) -> pd.DataFrame:
    return pd.DataFrame({
        "_row": np.repeat(np.arange(n), N_YEARS),
        "year": np.tile(start_year + np.arange(N_YEARS), n),
        "healthcare_costs_eur": np.round(total.ravel(), 2),
        "mental_healthcare_costs_eur": np.round(mental.ravel(), 2),
        "gp_costs_eur": np.round(gp.ravel(), 2),
        "antidepressants": ad.ravel().astype(np.int8),
    })


def _state_health(pop: Population, world: World, untreated_worlds: dict, *, seed: int, start_year: int,
                  pre_exit_dip: bool, layout: Layout):
    """Health that depends on the current benefit state and its duration (the dynamic world).

    Antidepressant use and costs rise with the bijstand months in the 24 months up to December, on each
    world's own bijstand path, and work lowers them from the year of a world's first exit to work. The
    same random numbers in every world, so differences between worlds are the causal effects:

    - ``never``: the world in which nobody leaves bijstand for work, Y(infinity) (Callaway & Sant'Anna's
      untreated outcome; truths ``att_<outcome>_at_risk``);
    - ``not_now``: the world in which a person's first exit to work does not happen in that calendar
      year (later ones may), the risk-set estimand of leaving now rather than not now (Sianesi 2004;
      truths ``att_<outcome>_risk_set``).

    Persons off bijstand do not drift, so a comparison group of everyone ever on bijstand has the wrong
    counterfactual trend; and comparison units that stay "not yet treated" are those who left bijstand
    for other reasons more often (they can no longer leave for work), so conditioning on a later exit
    selects on the state too.
    """
    n = len(pop.u)
    rng = ShardStreams(seed, (20_000,), layout)
    years = np.arange(N_YEARS)
    female = pop.sex_f.astype(float)
    uni = rng.random(tail=(N_YEARS,))
    base = 900 * np.exp(0.6 * rng.normal() - 0.25 * pop.u)
    shock = rng.gamma(2.0, 0.5, tail=(N_YEARS,))
    mental_base = np.where(pop.u < -0.5, 450.0, 90.0)
    mental_draw = rng.gamma(1.5, 1 / 1.5, tail=(N_YEARS,))
    gp_draw = 140 + 40 * rng.gamma(2.0, 0.5, tail=(N_YEARS,))
    g_fact = first_exit_year(world)
    k_fact = np.where(g_fact[:, None] >= 0, years[None, :] - g_fact[:, None], -99)

    def outcomes(w: World | None, work: bool):
        """ad, total, mental, gp in world ``w`` (None: the factual world), with or without work effects."""
        wld = world if w is None else w
        recent = recent_bijstand_months(wld)
        g = first_exit_year(wld)
        k = np.where(g[:, None] >= 0, years[None, :] - g[:, None], -99)
        post = (k >= 0) & work
        p = 0.05 + 0.03 * female[:, None] - 0.03 * pop.u[:, None] + 0.002 * years[None, :] \
            + STATE_EFFECTS["antidepressants_per_month"] * recent
        other = base[:, None] * shock + 35 * years[None, :] + STATE_EFFECTS["costs_per_month"] * recent
        if pre_exit_dip:  # the dip sits before the factual exit in every world (anticipation of the job)
            p = p + 0.05 * (k_fact == -1) + 0.03 * (k_fact == -2)
            other = other + 500 * (k_fact == -1) + 300 * (k_fact == -2)
        p = np.clip(p, 0.005, 0.9)
        p = np.clip(p - np.where(k == 0, 0.02, 0.035) * post, 0.0, 0.9)
        mental = mental_base[:, None] * mental_draw + STATE_EFFECTS["mental_costs_per_month"] * recent * mental_draw
        other = other - np.minimum(np.where(k == 0, 150.0, 300.0), 0.5 * other) * post
        mental = mental - np.minimum(np.where(k == 0, 80.0, 150.0), 0.8 * mental) * post
        gp = gp_draw - np.minimum(15.0, 0.5 * gp_draw) * post
        return (uni < p).astype(float), np.round(other + mental + gp, 2), np.round(mental, 2), np.round(gp, 2)

    fact = outcomes(None, True)
    never = outcomes(untreated_worlds["never"], False)
    not_now = outcomes(untreated_worlds["not_now"], True)
    names = ("antidepressants", "healthcare_costs_eur", "mental_healthcare_costs_eur", "gp_costs_eur")
    truth = {"g": g_fact, "k": k_fact}
    for j, name in enumerate(names):
        truth[name] = (fact[j], never[j])
        truth[f"{name}:not_now"] = (fact[j], not_now[j])
    return _health_frame(start_year, n, fact[0], fact[1], fact[2], fact[3]), truth


def contract_tables(pop: Population, world: World, ids: np.ndarray, health: pd.DataFrame, *, seed: int,
                    start_year: int, layout: Layout | None = None) -> dict:
    """The contract's tables of the persons ``ids`` (a block; ``municipalities`` counts only them)."""
    rng = ShardStreams(seed, (30_000,), layout or Layout.single(len(ids)))
    codes = np.array([c for c, _, _ in tb.MUNICIPALITIES], dtype=object)
    persons = pd.DataFrame({
        "person_id": ids, "sex": np.where(pop.sex_f == 1, "F", "M"), "birth_year": pop.birth_year,
        "municipality_code": codes[pop.municipality], "migration_background": tb.MIGRATION[pop.migration],
        "education": tb.EDUCATION[pop.education],
    })
    earlier = rng.integers(1, 900)
    bij = tb.spell_frame(world.bijstand, ids, start_year, rng, left_open_start=earlier)
    partnered_at_start = world.partnered[bij["_row"].to_numpy(), bij["_first"].to_numpy()]
    bij = bij.assign(benefit="bijstand", municipality_code=codes[pop.municipality[bij["_row"]]],
                     monthly_amount_eur=np.where(partnered_at_start, 1620.0, 1150.0))
    ww = tb.spell_frame(world.ww, ids, start_year, rng)
    ww = ww.assign(benefit="ww", municipality_code=codes[pop.municipality[ww["_row"]]],
                   monthly_amount_eur=np.round(1500 + 600 * rng.random(rows=ww["_row"]), 2))
    emp = tb.spell_frame(world.employed, ids, start_year, rng, left_open_start=rng.integers(1, 3000))
    # an exit to work: the job starts 1-20 days after the bijstand spell ends
    etw_first = world.exit_to_work[emp["_row"].to_numpy(), emp["_first"].to_numpy()]
    link = emp[etw_first][["_row", "_first"]].reset_index().merge(
        bij[["_row", "_last", "end_date"]].assign(_first=bij["_last"] + 1), on=["_row", "_first"], how="left")
    gap = pd.to_timedelta(rng.integers(1, 21, rows=link["_row"]), unit="D")
    new_start = link["end_date"] + gap
    ok = new_start.notna().to_numpy()
    emp.loc[link["index"][ok], "start_date"] = new_start[ok].to_numpy()
    bad = emp["end_date"].notna() & (emp["end_date"] < emp["start_date"])
    emp.loc[bad, "end_date"] = emp.loc[bad, "start_date"]
    emp["monthly_wage_eur"] = np.round(1900 + 900 * np.exp(0.3 * pop.u[emp["_row"]])
                                       * rng.random(rows=emp["_row"]), 2)

    ev = pd.DataFrame(world.union_events, columns=["_row", "_s", "_e", "_kind", "end_reason"])
    sday = rng.integers(0, 28, rows=ev["_row"])
    eday = rng.integers(0, 28, rows=ev["_row"])
    start = pd.to_datetime(tb._dates(start_year, ev["_s"].to_numpy(), sday))
    end_m = ev["_e"].to_numpy()
    same = ev["_s"].to_numpy() == end_m
    eday = np.where(same, np.maximum(eday, sday), eday)
    end = pd.to_datetime(tb._dates(start_year, np.where(end_m < 0, 0, end_m), eday))
    partnerships = pd.DataFrame({
        "person_id": ids[ev["_row"]], "partner_id": None, "kind": tb.KINDS[ev["_kind"]],
        "start_date": start, "end_date": end.where(end_m >= 0), "end_reason": ev["end_reason"].replace("", None),
    }).sort_values(["person_id", "start_date"], kind="mergesort")

    prog = np.flatnonzero(world.programme_month >= 0)
    pstart = pd.to_datetime(tb._dates(start_year, world.programme_month[prog], rng.integers(0, 28, rows=prog)))
    pend = pstart + pd.Timedelta(days=182)
    obs_end = pd.Timestamp(start_year + N_YEARS - 1, 12, 31)
    kind = world.programme_kind[prog]
    interventions = pd.DataFrame({
        "person_id": ids[prog], "intervention": np.where(kind == 1, "taaltraject", "werkfit"),
        "start_date": pstart, "end_date": pend.where(pend <= obs_end),
        "cost_eur": np.round(np.where(kind == 1, 2400.0, 3600.0) * (0.8 + 0.4 * rng.random(rows=prog)), 2),
    })
    # participation ladder: the caseworker's assessment, recorded at the start of every bijstand spell
    # and each January in bijstand; one step up 12 months after a programme start
    rows_s, first_s = bij["_row"].to_numpy(), bij["_first"].to_numpy()
    rows_j, yrs = np.nonzero(world.bijstand[:, ::12])
    rows = np.concatenate([rows_s, rows_j])
    months = np.concatenate([first_s, yrs * 12])
    dates = np.concatenate([pd.to_datetime(bij["start_date"]).to_numpy().astype("datetime64[D]"),
                            tb._dates(start_year, yrs * 12, np.full(len(yrs), 14))])
    after_prog = (world.programme_month[rows] >= 0) & (months - world.programme_month[rows] >= 12)
    step = np.clip(pop.assessment[rows] + after_prog, 1, 6).astype(int)
    ladder = pd.DataFrame({"person_id": ids[rows], "date": pd.to_datetime(dates), "step": step})
    obs_start = pd.Timestamp(start_year, 1, 1)
    ladder = ladder[ladder["date"] >= obs_start].drop_duplicates().sort_values(["person_id", "date"])
    counts = persons["municipality_code"].value_counts()
    municipalities = pd.DataFrame({
        "municipality_code": [c for c, _, _ in tb.MUNICIPALITIES], "name": [m for _, m, _ in tb.MUNICIPALITIES],
    })
    municipalities["population"] = municipalities["municipality_code"].map(counts).fillna(0).astype(int)
    health_yearly = health.assign(person_id=ids[health["_row"]]).drop(columns="_row")
    cols = ["person_id", "benefit", "start_date", "end_date", "municipality_code", "monthly_amount_eur"]
    benefit_spells = pd.concat([bij[cols], ww[cols]]).sort_values(["person_id", "start_date"], kind="mergesort")
    return {
        "persons": persons,
        "benefit_spells": _as_dates(benefit_spells),
        "employment_spells": _as_dates(emp[["person_id", "start_date", "end_date", "monthly_wage_eur"]]),
        "partnerships": _as_dates(partnerships),
        "health_yearly": health_yearly[["person_id", "year", "healthcare_costs_eur", "mental_healthcare_costs_eur",
                                        "gp_costs_eur", "antidepressants"]],
        "interventions": _as_dates(interventions),
        "participation_ladder": _as_dates(ladder),
        "municipalities": municipalities,
    }


def _as_dates(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.reset_index(drop=True).copy()
    for col in ("start_date", "end_date", "date"):
        if col in out:
            out[col] = pd.to_datetime(out[col]).dt.date
    return out


def _inflow(bij: np.ndarray) -> np.ndarray:
    infl = np.zeros_like(bij)
    infl[:, 1:] = bij[:, 1:] & ~bij[:, :-1]
    return infl


def _event_truths(pop, fact: World, cf: World, first_event: np.ndarray, all_events: np.ndarray, tag: str) -> dict:
    n, T = fact.bijstand.shape
    out = {}
    infl1, infl0 = _inflow(fact.bijstand), _inflow(cf.bijstand)
    # share of inflows (months 13..T) preceded by the event within 12 months (same month included)
    ev_cum = np.cumsum(all_events, axis=1)
    recent = ev_cum - np.concatenate([np.zeros((n, 13), dtype=ev_cum.dtype), ev_cum[:, :-13]], axis=1) > 0
    mask = infl1[:, P_START:]
    out[f"share_inflow_after_{tag}"] = mean(recent[:, P_START:][mask])
    s = first_event
    for sex, code in (("F", 1), ("M", 0)):
        sel = (s >= 1) & (s + 12 < T) & (pop.sex_f == code)
        rows = np.flatnonzero(sel)
        out[f"excess_bijstand_after_{tag}_12m_{sex}"] = mean(
            fact.bijstand[rows, s[rows] + 12].astype(float) - cf.bijstand[rows, s[rows] + 12])
    excess = 0.0
    rows = np.flatnonzero(s >= 1)  # first separations with a pre-period, as the study's design
    for e in range(HORIZON + 1):
        t = s[rows] + e
        ok = (t >= P_START) & (t < T)
        r, tt = rows[ok], t[ok]
        excess += float((infl1[r, tt].astype(float) - infl0[r, tt]).sum())
    out[f"attributable_share_inflow_{tag}_24m"] = Ratio(excess, float(infl1[:, P_START:].sum()), np.nan)
    return out


#: The intervention study's ladder outcome: the step this many months after the start.
LADDER_MONTH = 12


def _ladder_at(pop: Population, world: World, rows: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The participation-ladder step in month ``at`` as the study defines it, in one world.

    6 (paid work) when employed then; otherwise the latest caseworker measurement up to ``at``
    (measurements at every bijstand spell start and each January in bijstand, one step up from 12
    months after a programme start: the rule ``contract_tables`` writes); NaN without one.
    """
    bij = world.bijstand[rows]
    T = bij.shape[1]
    prev = np.concatenate([np.zeros((len(rows), 1), dtype=bool), bij[:, :-1]], axis=1)
    measured = (bij & ~prev) | (bij & (np.arange(T) % 12 == 0)[None, :])
    measured &= np.arange(T)[None, :] <= at[:, None]
    has = measured.any(axis=1)
    last = T - 1 - np.argmax(measured[:, ::-1], axis=1)
    pm = world.programme_month[rows]
    step = np.clip(pop.assessment[rows] + ((pm >= 0) & (last - pm >= 12)), 1, 6).astype(float)
    return np.where(world.employed[rows, at], 6.0, np.where(has, step, np.nan))


def truths(pop: Population, worlds: dict, health_truth: dict, *, start_year: int,
           layout: Layout | None = None) -> list:
    """The truths of every shard of ``layout`` (default one), in shard order: trees of ``shards.Ratio``
    and counts, to be added over shards (``shards.fold_all``) and divided (``shards.resolve``)."""
    return per_shard(layout or Layout.single(len(pop.u)),
                     lambda p, w, h: _shard_truths(p, w, h, start_year=start_year), pop, worlds, health_truth)


def _shard_truths(pop: Population, worlds: dict, health_truth: dict, *, start_year: int) -> dict:
    fact = worlds["factual"]
    n, T = fact.bijstand.shape
    out: dict = {}
    # overview: descriptive truths from the factual world, on the report's date definitions
    for y in range(N_YEARS):
        age = start_year + y - pop.birth_year
        wa = (age >= 18) & (age <= 66)
        dec, jan = 12 * y + 11, 12 * y + 12
        on_dec31 = fact.bijstand[:, dec] & (fact.bijstand[:, jan] if jan < T else True)
        out[f"bijstand_share_{start_year + y}"] = mean(on_dec31[wa])
        infl = _inflow(fact.bijstand)[:, 12 * y:12 * y + 12]
        out[f"inflow_{start_year + y}"] = int(infl.sum())
    # intake: separations and job losses
    sep_all = np.zeros((n, T), dtype=bool)
    for i, _, e, _, _ in fact.union_events:
        if e >= 0:
            sep_all[i, e] = True
    out.update(_event_truths(pop, fact, worlds["no_divorce"], fact.separation_month, sep_all, "divorce"))
    ends = np.zeros((n, T), dtype=bool)
    ends[:, :-1] = fact.employed[:, :-1] & ~fact.employed[:, 1:]
    has = ends.any(axis=1)
    first_end = np.where(has, ends.argmax(axis=1), -1)
    out.update(_event_truths(pop, fact, worlds["no_job_loss"], first_end, ends, "job_loss"))
    # exit_health
    g, k = health_truth["g"], health_truth["k"]
    treated_py = (g[:, None] >= 1) & (k >= 0)
    # the at-risk design's treated: on bijstand in December of the year before the exit year
    december_before = np.clip(12 * g - 1, 0, T - 1)
    at_risk = (g >= 1) & fact.bijstand[np.arange(n), december_before]
    for outcome in ("antidepressants", "healthcare_costs_eur", "mental_healthcare_costs_eur", "gp_costs_eur"):
        y1, y0 = health_truth[outcome]
        diff = y1 - y0
        out[f"att_{outcome}"] = mean(diff[treated_py])
        if outcome in ("antidepressants", "healthcare_costs_eur"):
            for e in range(4):
                out[f"att_{outcome}_e{e}"] = mean(diff[treated_py & (k == e)])
        if f"{outcome}:not_now" not in health_truth:
            continue
        # the dynamic world: the at-risk designs' estimands, over persons on bijstand on 31 December before
        for suffix, d in (("_at_risk", diff), ("_risk_set", np.subtract(*health_truth[f"{outcome}:not_now"]))):
            out[f"att_{outcome}{suffix}"] = mean(d[treated_py & at_risk[:, None]])
            for e in range(4):
                out[f"att_{outcome}{suffix}_e{e}"] = mean(d[treated_py & at_risk[:, None] & (k == e)])
    # intervention
    m = fact.programme_month
    by = {}
    for name, code in (("all", None), ("werkfit", 0), ("taaltraject", 1)):
        sel = (m >= 0) & (m + HORIZON < T)
        if code is not None:
            sel &= fact.programme_kind == code
        rows = np.flatnonzero(sel)
        idx = m[rows][:, None] + np.arange(1, HORIZON + 1)[None, :]
        entry = {"participants": int(len(rows))}
        for suffix, cf in (("", worlds["delayed_start"]), ("_vs_never", worlds["no_programme"])):
            months1 = fact.bijstand[rows[:, None], idx].sum(axis=1)
            months0 = cf.bijstand[rows[:, None], idx].sum(axis=1)
            emp1 = fact.employed[rows, m[rows] + HORIZON].astype(float)
            emp0 = cf.employed[rows, m[rows] + HORIZON].astype(float)
            entry[f"att_months_bijstand_24m{suffix}"] = mean(months1 - months0, empty=None)
            entry[f"att_employed_24m{suffix}"] = mean(emp1 - emp0, empty=None)
            step1 = _ladder_at(pop, fact, rows, m[rows] + LADDER_MONTH)
            step0 = _ladder_at(pop, cf, rows, m[rows] + LADDER_MONTH)
            both = ~np.isnan(step1) & ~np.isnan(step0)
            entry[f"att_ladder_step_12m{suffix}"] = mean((step1 - step0)[both], empty=None)
        by[name] = entry
    out["att_months_bijstand_24m"] = by["werkfit"]["att_months_bijstand_24m"]
    out["att_employed_24m"] = by["werkfit"]["att_employed_24m"]
    out["att_ladder_step_12m"] = by["werkfit"]["att_ladder_step_12m"]
    out["by_intervention"] = by
    return out
