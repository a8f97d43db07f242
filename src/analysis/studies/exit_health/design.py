"""exit_health's design: who is compared with whom, in which year, and with which covariates.

The treated of cohort g left bijstand for work in calendar year g (the spell's end) and were on bijstand on
31 December of g - 1 (the base year; with ``anticipation=k`` the base is g - 1 - k). The comparison group
is chosen by ``control_group``:

- ``"risk_set"`` (default): persons on bijstand on that same 31 December who do not leave for work in year
  g + anticipation (they may leave later): the effect of leaving now rather than not now (Sianesi 2004),
  no conditioning on the future;
- ``"not_yet_treated"``: on bijstand on that 31 December and not yet left for work by the cell's year;
- ``"never_treated"``: on bijstand on that 31 December and never left for work in the window;
- ``"all_recipients"``: the old design, everyone ever on bijstand who has not (yet) left for work, whether
  on bijstand in the base year or not (kept for comparison: biased where health drifts with the state).

Covariates (``covariates``, groups of columns of :func:`analysis.kit.events.exit_to_work_cohorts`) at the
base year enter the doubly robust estimator (Sant'Anna & Zhao 2020). A covariate constant in the persons
an estimate rests on (``female`` among women) is left out before the estimator sees it, and the estimator
itself leaves out columns constant or collinear within a cohort; both are reported
(:attr:`Estimate.dropped`), never a singular matrix. No estimator code here: composition of
``analysis.kit.events`` and :func:`analysis.estimators.did.at_risk.att_gt_at_risk`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

OUTCOMES = ("antidepressants", "healthcare_costs_eur", "mental_healthcare_costs_eur", "gp_costs_eur")
CONTROL_GROUPS = ("risk_set", "not_yet_treated", "never_treated", "all_recipients")
#: covariate name (the ``covariates`` parameter) -> columns of the cohorts' covariates
COVARIATE_COLUMNS = {
    "age": ("age",),
    "female": ("female",),
    "education": ("education_middle", "education_high"),
    "migration_background": ("migration_western", "migration_non_western"),
    "spell_duration": ("spell_1_2_years", "spell_2_years_plus"),
    "recent_bijstand_months": ("recent_months_7_12", "recent_months_13_18", "recent_months_19_24"),
}
DEFAULT_COVARIATES = ("age", "female", "education", "migration_background", "spell_duration",
                      "recent_bijstand_months")
#: the estimator's comparison rule behind each control group
_ESTIMATOR_CONTROL = {"risk_set": "risk_set", "not_yet_treated": "not_yet_treated", "never_treated": "never_treated",
                      "all_recipients": "not_yet_treated"}


@dataclass(frozen=True)
class ExitDesign:
    """Cohorts (exit to work; placebo: exit for other reasons) and outcome matrices of the persons with
    complete health records, units in the same order everywhere."""

    work: object                   # EventCohorts, rows restricted to ``complete``
    other: object                  # EventCohorts of the placebo, same units
    years: np.ndarray
    outcomes: dict                 # outcome -> units x years float matrix
    female: np.ndarray
    age_first: np.ndarray          # age in the first year of the window
    dropped_incomplete: int
    rows: np.ndarray = field(repr=False)   # positions of the kept units in the cohorts' own arrays


@dataclass(frozen=True)
class Estimate:
    """One at-risk Callaway & Sant'Anna fit, with what it left out and why."""

    result: object | None          # GroupTimeResult, None when nothing could be estimated
    dropped: tuple                 # covariate names left out: constant in all these persons
    dropped_in_cohorts: tuple = ()  # covariate names left out of some cohorts' models (constant or collinear there)
    reason: str = ""


def build(store, *, exit_window_days: int, municipality: str = "all", population=None) -> ExitDesign:
    """The design's cohorts and outcome matrices from the processed store.

    ``population`` (an ``rd.population``) restricts the persons to it, the years to its
    ``first_year``..``last_year`` (a person who left before the first year is left out: treated before the
    window) and the risk of the event to the years inside its age band; ``municipality`` alone is the
    older selection by municipality over the data's whole window.
    """
    from analysis.kit.events import exit_to_work_cohorts

    persons = store.read("persons") if population is None else population.persons()
    if municipality != "all":
        persons = persons[persons["municipality_code"] == municipality]
    work = exit_to_work_cohorts(store, exit_window_days=exit_window_days, persons=persons)
    other = exit_to_work_cohorts(store, exit_window_days=exit_window_days, persons=persons, reason="other")
    if population is not None:
        work, other = _in_window(work, other, population)
    years = np.asarray(work.periods)
    py = store.read("person_year", columns=["person_id", "year", *OUTCOMES])
    r = pd.Index(work.unit_ids).get_indexer(py["person_id"])
    c = py["year"].to_numpy() - years[0]
    ok = (r >= 0) & (c >= 0) & (c < len(years))
    n, T = len(work.unit_ids), len(years)
    mats = {}
    for o in OUTCOMES:
        m = np.full((n, T), np.nan)
        m[r[ok], c[ok]] = py[o].to_numpy(dtype=float)[ok]
        mats[o] = m
    complete = np.ones(n, dtype=bool)
    for m in mats.values():
        complete &= ~np.isnan(m).any(axis=1)
    rows = np.flatnonzero(complete)
    info = persons.set_index("person_id").loc[work.unit_ids[rows]]
    return ExitDesign(work=_subset(work, rows), other=_subset(other, rows), years=years,
                      outcomes={o: m[rows] for o, m in mats.items()},
                      female=(info["sex"] == "F").to_numpy(), age_first=(years[0] - info["birth_year"]).to_numpy(),
                      dropped_incomplete=int(n - len(rows)), rows=rows)


def _in_window(work, other, population):
    """Both cohort sets cut to the population's years, with the risk of the event inside its age band."""
    from dataclasses import replace

    years = np.asarray(work.periods)
    cols = np.flatnonzero((years >= population.definition.first_year) & (years <= population.definition.last_year))
    c0, T = int(cols[0]), len(cols)
    birth = pd.Series(population.birth_year, index=population.person_ids).loc[work.unit_ids].to_numpy()
    age = years[cols][None, :] - birth[:, None]
    band = (age >= population.definition.age_min) & (age <= population.definition.age_max)
    early = np.zeros(len(work.unit_ids), dtype=bool)
    cut = []
    for ev in (work, other):
        c = ev.cohort.astype(int) - c0
        early |= (ev.cohort > 0) & (c <= 0)
        cut.append(c)
    rows = np.flatnonzero(~early)
    out = []
    for ev, c in zip((work, other), cut):
        cohort = np.where((c >= 1) & (c <= T), c, 0)[rows].astype(ev.cohort.dtype)
        at = ev.covariates_at
        out.append(replace(ev, unit_ids=ev.unit_ids[rows], periods=years[cols], cohort=cohort,
                           at_risk=ev.at_risk[rows][:, cols] & band[rows],
                           covariates_at=lambda b, at=at: at(b + c0)[rows]))
    return out[0], out[1]


def _subset(ev, rows: np.ndarray):
    from dataclasses import replace

    at = ev.covariates_at
    return replace(ev, unit_ids=ev.unit_ids[rows], cohort=ev.cohort[rows], at_risk=ev.at_risk[rows],
                   covariates_at=lambda b: at(b)[rows])


def design_units(design: ExitDesign, *, keep: np.ndarray | None = None, placebo: bool = False,
                 control_group: str = "risk_set", anticipation: int = 0) -> tuple[int, int]:
    """Treated persons with a base year at risk inside the window, and persons who can be compared."""
    ev = design.other if placebo else design.work
    keep = np.ones(len(ev.cohort), dtype=bool) if keep is None else keep
    c, at = ev.cohort[keep].astype(int), ev.at_risk[keep]
    base = c - 2 - anticipation
    ok = (c > 0) & (base >= 0)
    treated = np.zeros(len(c), dtype=bool)
    treated[ok] = at[np.flatnonzero(ok), base[ok]]
    if control_group == "all_recipients":
        treated = ok
        return int(treated.sum()), int((~treated).sum())
    return int(treated.sum()), int((at.any(axis=1) & ~treated).sum())


def estimate(design: ExitDesign, outcome: str, *, keep: np.ndarray | None = None, placebo: bool = False,
             control_group: str = "risk_set", covariates=DEFAULT_COVARIATES, anticipation: int = 0,
             base_period: str = "universal", seed: int = 0, event_window: tuple | None = None) -> Estimate:
    """At-risk Callaway & Sant'Anna (doubly robust with ``covariates``) on the persons ``keep``."""
    from analysis.estimators.did.at_risk import att_gt_at_risk
    from analysis.errors import ParameterError

    ev = design.other if placebo else design.work
    keep = np.ones(len(ev.cohort), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    if not keep.any():
        return Estimate(result=None, dropped=(), reason="no persons")
    y = design.outcomes[outcome][keep]
    cohort = ev.cohort[keep]
    at_risk = np.ones_like(ev.at_risk[keep]) if control_group == "all_recipients" else ev.at_risk[keep]
    names = list(ev.covariate_names)
    cols = [names.index(c) for cov in covariates for c in COVARIATE_COLUMNS[cov]]
    dropped: list = []
    if cols:
        # a column constant in these persons at every base year (female among women) cannot enter: left
        # out, and said so (by covariate name)
        xs = [ev.covariates_at(b)[keep][:, cols] for b in range(len(design.years))]
        lo, hi = np.min([x.min(axis=0) for x in xs], axis=0), np.max([x.max(axis=0) for x in xs], axis=0)
        constant = {col for col, a, b in zip(cols, lo, hi) if a == b}
        dropped = [cov for cov in covariates if any(names.index(c) in constant for c in COVARIATE_COLUMNS[cov])]
        cols = [col for col in cols if col not in constant]
    kwargs = {}
    if cols:
        kwargs = {"covariates": lambda b: ev.covariates_at(b)[keep][:, cols],
                  "covariate_names": [names[c] for c in cols]}
    try:
        gt = att_gt_at_risk(y, cohort, at_risk, control=_ESTIMATOR_CONTROL[control_group], method="dr",
                            anticipation=anticipation, base_period=base_period, event_window=event_window,
                            seed=seed, **kwargs)
    except (ParameterError, np.linalg.LinAlgError) as exc:
        return Estimate(result=None, dropped=tuple(dropped), reason=str(exc))
    if gt.estimates.empty or not (gt.estimates["time"] >= gt.estimates["group"]).any():
        return Estimate(result=None, dropped=tuple(dropped), reason="no cohort could be estimated")
    inner = gt.diagnostics.get("dropped_covariates", [])
    in_cohorts = sorted({cov for cov in covariates if any(c in inner for c in COVARIATE_COLUMNS[cov])} - set(dropped))
    return Estimate(result=gt, dropped=tuple(dropped), dropped_in_cohorts=tuple(in_cohorts))


def long_frame(design: ExitDesign, outcome: str) -> pd.DataFrame:
    """person_id, year, the outcome and the exit-to-work year (0: none), for estimators on long panels."""
    n, T = design.outcomes[outcome].shape
    c = design.work.cohort.astype(int)
    g = np.where(c > 0, design.years[0] + c - 1, 0)
    return pd.DataFrame({"person_id": np.repeat(design.work.unit_ids, T), "year": np.tile(design.years, n),
                         outcome: design.outcomes[outcome].ravel(), "g_work": np.repeat(g, T)})
