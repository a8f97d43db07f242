"""``rd.event_cohorts``: event cohorts of a population for any event in the data, with an at-risk rule.

``event_cohorts(pop, event=..., at_risk=rule, frequency="month"|"year")`` returns an
:class:`~analysis.kit.events.EventCohorts` over the population's years: each unit's
first event period (the cohort; 0 = none in the period) and the units x periods
matrix of being at risk: in the rule's state (:mod:`analysis.kit.at_risk`), inside
the population's age band, and the event not yet had. Events (first in the period):

- ``divorce``: a union ends by divorce or separation (month of the end); default rule ``partnered``;
- ``job_end``: an employment spell ends (month of its end date); default ``employed``;
- ``benefit_end``: a ww, wia or other benefit spell ends (``benefit=`` one of them); default ``on_benefit``;
- ``exit_to_work``: a bijstand spell ends and a job starts within ``exit_window_days``
  (month of the spell's end); default ``on_bijstand``;
- ``programme_start``: a re-integration programme starts (``interventions``); default ``on_bijstand``;
- ``ladder_step``: a participation-ladder measurement higher than the person's previous one; default ``on_bijstand``.

Yearly cohorts (health is yearly): the cohort is the calendar year of the event month,
at risk in year t means at risk in December of t. The default rule with the
population's full window and the native frequency of an existing builder
(monthly divorce and job end, yearly exit to work) uses that builder
(:mod:`analysis.kit.events`), with its event-specific covariates; otherwise the
covariates are age, sex, education and migration background at the base period.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, check_choice
from analysis.kit import at_risk as rules
from analysis.kit import events as ev

EVENTS = ("divorce", "job_end", "benefit_end", "exit_to_work", "programme_start", "ladder_step")
FREQUENCIES = ("month", "year")
DEFAULT_RULE = {"divorce": rules.partnered, "job_end": rules.employed, "benefit_end": rules.on_benefit,
                "exit_to_work": rules.on_bijstand, "programme_start": rules.on_bijstand,
                "ladder_step": rules.on_bijstand}
#: Events with a builder of their own in kit/events.py, at its native frequency.
NATIVE = {("divorce", "month"): ev.divorce_cohorts, ("job_end", "month"): ev.job_end_cohorts,
          ("exit_to_work", "year"): ev.exit_to_work_cohorts}


def _first_event_month(store, event: str, *, exit_window_days: int, benefit: str | None) -> pd.Series:
    """Absolute month (year * 12 + month - 1) of each person's first event, indexed by person_id."""
    con = store.connect()
    if event == "divorce":
        sql = "SELECT person_id, min(month) AS m FROM partnership_ends WHERE end_reason IN ('divorce', 'separation') GROUP BY 1"
    elif event == "job_end":
        sql = "SELECT person_id, min(month) AS m FROM employment_ends GROUP BY 1"
    elif event == "benefit_end":
        where = f"WHERE benefit = '{benefit}'" if benefit else ""
        sql = f"SELECT person_id, min(month) AS m FROM benefit_ends {where} GROUP BY 1"
    elif event == "exit_to_work":
        sql = (f"SELECT person_id, min(end_month) AS m FROM bijstand_exits WHERE days_to_employment IS NOT NULL "
               f"AND days_to_employment <= {int(exit_window_days)} GROUP BY 1")
    else:
        table = "interventions" if event == "programme_start" else "participation_ladder"
        frame = store.dataset.tables.get(table)
        if frame is None or frame.empty:
            raise ParameterError(f"event_cohorts: event={event!r} needs the optional table {table!r}, which this "
                                 "dataset does not have; choose another event or a dataset with that table.")
        if event == "programme_start":
            months = ev._month(frame["start_date"])
            return pd.Series(months, index=frame["person_id"].to_numpy()).groupby(level=0).min()
        f = frame.assign(_d=pd.to_datetime(frame["date"])).sort_values(["person_id", "_d"])
        up = f["step"].to_numpy() > f.groupby("person_id")["step"].shift().to_numpy()
        f = f[up]
        return pd.Series(ev._month(f["_d"]), index=f["person_id"].to_numpy()).groupby(level=0).min()
    d = con.execute(sql).df()
    return pd.Series(d["m"].to_numpy(), index=d["person_id"].to_numpy())


def _covariate_columns(pop) -> list[str]:
    """The persons columns the cohorts' covariates use (``events._person_covariates``), those the store has."""
    import pyarrow.parquet as pq

    have = pq.read_schema(pop.store.path("persons")).names
    return [c for c in ("birth_year", "sex", "education", "migration_background") if c in have]


def _generic(pop, event: str, rule, frequency: str, *, exit_window_days: int, benefit: str | None):
    years = pop.years
    m0, T = int(years[0]) * 12, 12 * len(years)
    ids_all = pop.person_ids
    state = rule.state(pop.store, ids_all, m0, T) & np.repeat(pop.in_band(years), 12, axis=1)
    first = _first_event_month(pop.store, event, exit_window_days=exit_window_days, benefit=benefit)
    pos_all = first.reindex(ids_all).to_numpy(dtype=float) - m0            # NaN: no event
    keep = state.any(axis=1)
    ids, state, pos = ids_all[keep], state[keep], pos_all[keep]
    in_window = ~np.isnan(pos) & (pos >= 0) & (pos < T)
    # the first event before the period: not at risk at all (the event has happened)
    before = ~np.isnan(pos) & (pos < 0)
    event_pos = np.where(in_window, pos, T).astype(int)
    not_yet = np.arange(T)[None, :] < event_pos[:, None]
    at = state & not_yet & ~before[:, None]
    people = pop.persons(ids, columns=_covariate_columns(pop))
    base = ev._person_covariates(people)
    if frequency == "month":
        cohort = np.where(in_window, event_pos + 1, 0).astype(float)
        periods = np.arange(m0, m0 + T)
        year_of = lambda b: (m0 + b) // 12  # noqa: E731
    else:
        decembers = np.arange(len(years)) * 12 + 11
        cohort = np.where(in_window, event_pos // 12 + 1, 0).astype(float)
        at = at[:, decembers]
        periods = years
        year_of = lambda b: int(years[b])  # noqa: E731

    def covariates_at(b: int) -> np.ndarray:
        return np.column_stack([year_of(b) - base["birth_year"], base["female"], base["education_middle"],
                                base["education_high"], base["migration_western"], base["migration_non_western"]])

    when = "in the base month" if frequency == "month" else "in December of the base year"
    return ev.EventCohorts(event=event, unit_ids=ids, periods=periods, cohort=cohort, at_risk=at,
                           at_risk_rule=f"{rule.description} {when}, aged {pop.definition.age_min}-"
                                        f"{pop.definition.age_max} then, and no {event.replace('_', ' ')} yet",
                           covariate_names=ev.COVARIATES, covariates_at=covariates_at, frequency=frequency)


def _native(pop, event: str, frequency: str, **options) -> ev.EventCohorts:
    """The event's own builder on the population's persons, restricted to its age band."""
    builder = NATIVE[(event, frequency)]
    c = builder(pop.store, persons=pop.persons(columns=_covariate_columns(pop)), **options)
    years = c.periods // 12 if frequency == "month" else c.periods
    band = pop.in_band(np.asarray(years))
    rows = pd.Index(pop.person_ids).get_indexer(c.unit_ids)
    at = c.at_risk & band[rows]
    return replace(c, event=event, at_risk=at,
                   at_risk_rule=f"{c.at_risk_rule}, aged {pop.definition.age_min}-{pop.definition.age_max} then")


def event_cohorts(pop, *, event: str, at_risk: rules.AtRisk | None = None, frequency: str = "month",
                  exit_window_days: int = 31, benefit: str | None = None) -> ev.EventCohorts:
    """Event cohorts of ``pop`` for ``event`` with the at-risk rule ``at_risk`` (module docstring)."""
    check_choice("event", event, EVENTS)
    check_choice("frequency", frequency, FREQUENCIES)
    if at_risk is not None and not isinstance(at_risk, rules.AtRisk):
        raise ParameterError(f"event_cohorts: at_risk={at_risk!r} is not an at-risk rule; give one of "
                             "rd.at_risk.partnered(), employed(), on_bijstand(), on_benefit(), anyone().")
    if benefit is not None:
        check_choice("benefit", benefit, rules.BENEFITS)
    rule = at_risk or (rules.on_benefit(benefit) if event == "benefit_end" else DEFAULT_RULE[event]())
    meta = pop.store.dataset.meta
    full = (pop.definition.first_year, pop.definition.last_year) == (meta["observation_start"].year,
                                                                     meta["observation_end"].year)
    default = at_risk is None or at_risk.name == DEFAULT_RULE[event]().name
    if full and default and (event, frequency) in NATIVE:
        options = {"exit_window_days": exit_window_days} if event == "exit_to_work" else {}
        return _native(pop, event, frequency, **options)
    return _generic(pop, event, rule, frequency, exit_window_days=exit_window_days, benefit=benefit)


def cohort_counts(cohorts: ev.EventCohorts) -> pd.DataFrame:
    """Per cohort: its period, the units with the event, and how many of them were at risk at the base
    period (those an at-risk estimator uses). Not a checked table: publish through disclosure control."""
    rows = []
    for g in np.unique(cohorts.cohort[cohorts.cohort > 0]).astype(int):
        members = cohorts.cohort == g
        base = g - 2
        usable = int(cohorts.at_risk[members, base].sum()) if base >= 0 else 0
        rows.append({"period": cohorts.periods[g - 1], "events": int(members.sum()), "at_risk_at_base": usable})
    return pd.DataFrame(rows, columns=["period", "events", "at_risk_at_base"])


__all__ = ["EVENTS", "cohort_counts", "event_cohorts"]
