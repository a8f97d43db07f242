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
(:attr:`Estimate.dropped`), never a singular matrix.

The design hands the notebook the kit's typed objects, so that the estimator call is the public one,
visible in a cell (``rd.att_gt_at_risk(design.panel, design.cohorts(control_group), outcome=...,
covariates=design.covariate_columns(covariates), control=estimator_control(control_group), ...)``);
:func:`estimate` is that same call for the design's other fits (groups, placebo, other comparison groups).
No estimator code here: composition of ``analysis.kit`` and :func:`analysis.kit.designs.att_gt_at_risk`.

Memory (issue #18): :func:`build` reads, in SQL over the store's Parquet files, only the persons rows, spells,
exits, bijstand months and health outcomes of the population's bijstand recipients (a few percent of the
persons), never a whole table, so it grows with the recipients. The path is exact: the same design, value for
value, as reading the whole ``persons`` and ``person_year`` tables (tests/studies/test_recipients_streaming.py
keeps that computation as the reference).
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
    persons: pd.DataFrame | None = field(default=None, repr=False)  # the units' persons rows, same order

    @property
    def panel(self):
        """The outcome matrices as a kit :class:`~analysis.kit.panels.Panel` (person-year, the design's units)."""
        from types import MappingProxyType

        from analysis.kit.panels import Panel

        n = len(self.work.unit_ids)
        return Panel(frequency="year", unit_ids=self.work.unit_ids, periods=self.years,
                     outcomes=MappingProxyType(dict(self.outcomes)), in_band=np.ones((n, len(self.years)), dtype=bool))

    def cohorts(self, control_group: str = "risk_set", *, placebo: bool = False):
        """The exit cohorts (``placebo``: exit for other reasons) with the at-risk rule of ``control_group``:
        on bijstand on 31 December of the base year, or, for the old design ``"all_recipients"``, everyone."""
        from dataclasses import replace

        from analysis.errors import check_choice

        check_choice("control_group", control_group, CONTROL_GROUPS)
        ev = self.other if placebo else self.work
        if control_group == "all_recipients":
            ev = replace(ev, at_risk=np.ones_like(ev.at_risk),
                         at_risk_rule="ever on bijstand in the window (the old design: no at-risk rule)")
        return ev

    def constant_covariates(self, covariates, *, placebo: bool = False) -> tuple[str, ...]:
        """The covariates (names of the ``covariates`` parameter) with a column constant in these persons at
        every base year (``female`` among women): that column cannot enter the model."""
        return self._covariates(covariates, placebo)[1]

    def covariate_columns(self, covariates, *, placebo: bool = False) -> list[str]:
        """The cohorts' covariate columns behind ``covariates``, without those constant in these persons."""
        return self._covariates(covariates, placebo)[0]

    def _covariates(self, covariates, placebo: bool) -> tuple[list, tuple]:
        ev = self.other if placebo else self.work
        names = list(ev.covariate_names)
        cols = [names.index(c) for cov in covariates for c in COVARIATE_COLUMNS[cov]]
        if not cols or not len(ev.cohort):
            return [names[c] for c in cols], ()
        xs = [ev.covariates_at(b)[:, cols] for b in range(len(self.years))]
        lo, hi = np.min([x.min(axis=0) for x in xs], axis=0), np.max([x.max(axis=0) for x in xs], axis=0)
        constant = {col for col, a, b in zip(cols, lo, hi) if a == b}
        dropped = tuple(cov for cov in covariates if any(names.index(c) in constant for c in COVARIATE_COLUMNS[cov]))
        return [names[c] for c in cols if c not in constant], dropped

    def within(self, keep: np.ndarray) -> "ExitDesign":
        """The same design on the persons ``keep`` (a boolean over the units): a subgroup."""
        from dataclasses import replace

        keep = np.asarray(keep, dtype=bool)
        rows = np.flatnonzero(keep)
        return replace(self, work=_subset(self.work, rows), other=_subset(self.other, rows),
                       outcomes={o: m[rows] for o, m in self.outcomes.items()}, female=self.female[rows],
                       age_first=self.age_first[rows], rows=self.rows[rows],
                       persons=None if self.persons is None else self.persons.iloc[rows].reset_index(drop=True))

    def members(self, column: str, value) -> np.ndarray:
        """Boolean over the units: the persons whose ``persons`` column ``column`` equals ``value``."""
        from analysis.errors import ParameterError

        if self.persons is None or column not in self.persons.columns or column in ("person_id", "birth_year"):
            have = [] if self.persons is None else [c for c in self.persons.columns if c not in ("person_id", "birth_year")]
            raise ParameterError(f"by={column!r} is not a categorical column of persons; use one of: {', '.join(have)}.")
        return (self.persons[column].astype(str) == str(value)).to_numpy()


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

    Every read is restricted in SQL to the bijstand recipients of the population (:func:`recipients`) and
    to the columns used, so memory grows with the recipients, not with the population; exact: the same
    design as reading the whole ``persons`` and ``person_year`` tables (tests/studies/test_recipients_streaming.py).
    """
    from analysis.kit.events import exit_to_work_cohorts

    persons = recipients(store, population)
    if municipality != "all":
        persons = persons[persons["municipality_code"] == municipality]
    work = exit_to_work_cohorts(store, exit_window_days=exit_window_days, persons=persons)
    other = exit_to_work_cohorts(store, exit_window_days=exit_window_days, persons=persons, reason="other")
    if population is not None:
        work, other = _in_window(work, other, population, persons)
    years = np.asarray(work.periods)
    py = _outcomes(store, work.unit_ids)
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
                      dropped_incomplete=int(n - len(rows)), rows=rows, persons=info.reset_index())


def recipients(store, population=None) -> pd.DataFrame:
    """The ``persons`` rows (every column) of the persons with a bijstand spell: of ``population`` in its
    order (by person id), else of the store in its order. Only these rows are read (the design's units are
    among them: a person without a spell is never in an exit cohort)."""
    from analysis.kit.events import recipients as store_recipients

    if population is None:
        return store_recipients(store)
    con = population.connect()
    try:
        return con.execute("SELECT p.* FROM population_persons p WHERE p.person_id IN "
                           "(SELECT person_id FROM bijstand_spells) ORDER BY p.person_id").df()
    finally:
        con.close()


def _outcomes(store, unit_ids) -> pd.DataFrame:
    """person_year's health outcomes of the units only (person_id, year, OUTCOMES), typed as the Parquet
    file holds them (an integer column with nulls as float, as ``store.read`` gives it)."""
    con = store.connect()
    try:
        con.register("units", pd.DataFrame({"person_id": np.asarray(unit_ids, dtype=object)}))
        return con.sql(f"SELECT person_id, year, {', '.join(OUTCOMES)} FROM person_year "
                       "WHERE person_id IN (SELECT person_id FROM units)").to_arrow_table().to_pandas()
    finally:
        con.close()


def _in_window(work, other, population, persons):
    """Both cohort sets cut to the population's years, with the risk of the event inside its age band
    (birth years from ``persons``, the population's rows of the units)."""
    from dataclasses import replace

    years = np.asarray(work.periods)
    cols = np.flatnonzero((years >= population.definition.first_year) & (years <= population.definition.last_year))
    c0, T = int(cols[0]), len(cols)
    birth = persons.set_index("person_id")["birth_year"].loc[work.unit_ids].to_numpy(dtype=int)
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


def estimator_control(control_group: str) -> str:
    """The estimator's comparison rule behind a control group (``all_recipients``: not yet treated, with
    everyone at risk, :meth:`ExitDesign.cohorts`)."""
    from analysis.errors import check_choice

    check_choice("control_group", control_group, CONTROL_GROUPS)
    return _ESTIMATOR_CONTROL[control_group]


def cohort_dropped(result, covariates) -> tuple[str, ...]:
    """Covariates (parameter names) of which the estimator left a column out of some cohort's model."""
    inner = result.diagnostics.get("dropped_covariates", []) if result is not None else []
    return tuple(sorted({cov for cov in covariates if any(c in inner for c in COVARIATE_COLUMNS[cov])}))


def estimable(result) -> bool:
    """Whether a group-time result has a post-exit cell (else nothing can be aggregated)."""
    return (result is not None and not result.estimates.empty
            and bool((result.estimates["time"] >= result.estimates["group"]).any()))


def estimate(design: ExitDesign, outcome: str, *, keep: np.ndarray | None = None, placebo: bool = False,
             control_group: str = "risk_set", covariates=DEFAULT_COVARIATES, anticipation: int = 0,
             base_period: str = "universal", seed: int = 0, event_window: tuple | None = None) -> Estimate:
    """At-risk Callaway & Sant'Anna (doubly robust with ``covariates``) on the persons ``keep``: the notebook's
    call (:func:`analysis.kit.designs.att_gt_at_risk` on the design's panel and cohorts) for the fits a
    table needs beside the main one."""
    from analysis.errors import ParameterError
    from analysis.kit.designs import att_gt_at_risk

    if keep is not None:
        keep = np.asarray(keep, dtype=bool)
        if not keep.any():
            return Estimate(result=None, dropped=(), reason="no persons")
        design = design.within(keep)
    elif not len(design.work.cohort):
        return Estimate(result=None, dropped=(), reason="no persons")
    columns, dropped = design._covariates(covariates, placebo)
    try:
        gt = att_gt_at_risk(design.panel, design.cohorts(control_group, placebo=placebo), outcome=outcome,
                            covariates=columns, control=estimator_control(control_group), method="dr",
                            anticipation=anticipation, base_period=base_period, event_window=event_window, seed=seed)
    except (ParameterError, np.linalg.LinAlgError) as exc:
        return Estimate(result=None, dropped=dropped, reason=str(exc))
    if not estimable(gt):
        return Estimate(result=None, dropped=dropped, reason="no cohort could be estimated")
    in_cohorts = tuple(c for c in cohort_dropped(gt, covariates) if c not in dropped)
    return Estimate(result=gt, dropped=dropped, dropped_in_cohorts=in_cohorts)


def long_frame(design: ExitDesign, outcome: str) -> pd.DataFrame:
    """person_id, year, the outcome and the exit-to-work year (0: none), for estimators on long panels."""
    n, T = design.outcomes[outcome].shape
    c = design.work.cohort.astype(int)
    g = np.where(c > 0, design.years[0] + c - 1, 0)
    return pd.DataFrame({"person_id": np.repeat(design.work.unit_ids, T), "year": np.tile(design.years, n),
                         outcome: design.outcomes[outcome].ravel(), "g_work": np.repeat(g, T)})
