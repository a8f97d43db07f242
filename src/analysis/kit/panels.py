"""Person-month and person-year panels of a population, with named outcomes.

A :class:`Panel` is units x periods matrices, one per outcome, for the persons of
a :class:`~analysis.kit.population.Population` over its years (bounded memory:
one float32 matrix per outcome, no long frame unless ``to_frame`` is asked for).

Outcomes (``OUTCOMES``):

- ``bijstand``: person-month: bijstand that month (merged spells of the store);
  person-year: bijstand on 31 December (the store's ``bijstand_dec31``);
- ``bijstand_months``, ``employed_months`` (person-year only): months with each;
- ``employed``: person-month: employed that month; person-year: employed in December;
- ``inflow``: a bijstand spell (merged) starts in the period;
- any health column of ``health_yearly`` (person-year only): ``antidepressants``,
  ``healthcare_costs_eur``, ``mental_healthcare_costs_eur``, ``gp_costs_eur``; NaN where
  the data hold no row;
- ``ladder_step``: the latest participation-ladder measurement up to the period's
  end (31 December for a year), NaN before the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd

from analysis.errors import ParameterError
from analysis.kit.events import employment_matrix, interval_matrix

HEALTH = ("antidepressants", "healthcare_costs_eur", "mental_healthcare_costs_eur", "gp_costs_eur")
MONTHLY = ("bijstand", "employed", "inflow", "ladder_step")
YEARLY = ("bijstand", "bijstand_months", "employed", "employed_months", "inflow", "ladder_step") + HEALTH
OUTCOMES = {"month": MONTHLY, "year": YEARLY}


@dataclass(frozen=True)
class Panel:
    """Units x periods outcome matrices of one population."""

    frequency: str                  # "month" or "year"
    unit_ids: np.ndarray
    periods: np.ndarray             # years, or months as year * 12 + month - 1
    outcomes: Mapping[str, np.ndarray] = field(repr=False)
    in_band: np.ndarray = field(repr=False)    # units x periods: inside the population's age band
    definition: object = None       # the population's definition

    def __getitem__(self, outcome: str) -> np.ndarray:
        if outcome not in self.outcomes:
            raise KeyError(f"{outcome!r} is not in this panel; it has: {', '.join(self.outcomes)}")
        return self.outcomes[outcome]

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.unit_ids), len(self.periods)

    def mean(self, outcome: str) -> pd.Series:
        """The outcome's mean per period over the units in the age band (not a checked table: for a
        look in the notebook; publish through analysis.report.disclosure)."""
        y = np.where(self.in_band, self[outcome], np.nan)
        with np.errstate(invalid="ignore"):
            return pd.Series(np.nanmean(y, axis=0), index=self.periods, name=outcome)

    def to_frame(self, outcomes=None) -> pd.DataFrame:
        """A long frame: person_id, period, in_band and the outcomes (only for small populations)."""
        names = list(outcomes or self.outcomes)
        n, T = self.shape
        frame = pd.DataFrame({"person_id": np.repeat(self.unit_ids, T), "period": np.tile(self.periods, n),
                              "in_band": self.in_band.ravel()})
        for name in names:
            frame[name] = self[name].ravel()
        return frame

    def __repr__(self) -> str:
        n, T = self.shape
        return (f"Panel(person-{self.frequency}, {n} persons x {T} {self.frequency}s "
                f"{self.periods[0]}..{self.periods[-1]}, outcomes={list(self.outcomes)})")


def _check_outcomes(outcomes, frequency: str) -> tuple:
    allowed = OUTCOMES[frequency]
    if isinstance(outcomes, str) or not outcomes:
        raise ParameterError(f"person_{frequency}: outcomes={outcomes!r}; give a list of outcome names, e.g. "
                             f"outcomes=[{allowed[0]!r}]. Allowed: {', '.join(allowed)}.")
    for o in outcomes:
        if o not in allowed:
            extra = " (health is yearly: use person_year)" if o in HEALTH else ""
            raise ParameterError(f"person_{frequency}: outcome {o!r} is not available{extra}; allowed: "
                                 f"{', '.join(allowed)}.")
    return tuple(dict.fromkeys(outcomes))


def _bijstand_months(store, ids, m0: int, T: int):
    spells = store.connect().execute("SELECT person_id, start_month, end_month FROM bijstand_spells").df()
    rows = pd.Index(ids).get_indexer(spells["person_id"])
    ok = rows >= 0
    s = spells["start_month"].to_numpy()[ok] - m0
    e = spells["end_month"].to_numpy()[ok] - m0
    on = interval_matrix(rows[ok], s, e, len(ids), T)
    start = np.zeros((len(ids), T), dtype=bool)
    inside = (s >= 0) & (s < T)
    start[rows[ok][inside], s[inside]] = True
    return on, start


def _ladder(store, ids, ends: np.ndarray) -> np.ndarray:
    """Units x periods: the latest ladder step measured on or before each period's last month."""
    out = np.full((len(ids), len(ends)), np.nan)
    table = store.dataset.tables.get("participation_ladder")
    if table is None or table.empty:
        return out
    d = pd.to_datetime(table["date"])
    frame = pd.DataFrame({"row": pd.Index(ids).get_indexer(table["person_id"]),
                          "month": (d.dt.year * 12 + d.dt.month - 1).to_numpy(), "step": table["step"].to_numpy(),
                          "date": d})
    frame = frame[frame["row"] >= 0].sort_values(["row", "date"])
    for j, end in enumerate(ends):
        seen = frame[frame["month"] <= end].groupby("row")["step"].last()
        out[seen.index.to_numpy(), j] = seen.to_numpy()
    return out


def person_month(pop, *, outcomes) -> Panel:
    """Person-month panel of ``pop`` over its years (module docstring for the outcomes)."""
    outcomes = _check_outcomes(outcomes, "month")
    ids = pop.person_ids
    m0, T = pop.definition.first_year * 12, 12 * len(pop.years)
    months = np.arange(m0, m0 + T)
    out = {}
    if {"bijstand", "inflow"} & set(outcomes):
        on, start = _bijstand_months(pop.store, ids, m0, T)
        out["bijstand"], out["inflow"] = on.astype(np.float32), start.astype(np.float32)
    if "employed" in outcomes:
        out["employed"] = employment_matrix(pop.store, ids, m0, T).astype(np.float32)
    if "ladder_step" in outcomes:
        out["ladder_step"] = _ladder(pop.store, ids, months).astype(np.float32)
    in_band = np.repeat(pop.in_band(pop.years), 12, axis=1)
    return Panel(frequency="month", unit_ids=ids, periods=months,
                 outcomes=MappingProxyType({o: out[o] for o in outcomes}), in_band=in_band,
                 definition=pop.definition)


def person_year(pop, *, outcomes) -> Panel:
    """Person-year panel of ``pop`` over its years (module docstring for the outcomes)."""
    outcomes = _check_outcomes(outcomes, "year")
    ids, years = pop.person_ids, pop.years
    n, T = len(ids), len(years)
    stored = [o for o in outcomes if o in HEALTH + ("bijstand_months", "employed_months")]
    if "bijstand" in outcomes:
        stored.append("bijstand_dec31")
    out = {}
    if stored:
        con = pop.connect()
        frame = con.execute(f"""SELECT person_id, year, {', '.join(stored)} FROM person_year
                                SEMI JOIN population USING (person_id)
                                WHERE year BETWEEN {int(years[0])} AND {int(years[-1])}""").df()
        rows = pd.Index(ids).get_indexer(frame["person_id"])
        cols = frame["year"].to_numpy() - years[0]
        for name in stored:
            m = np.full((n, T), np.nan, dtype=np.float32)
            m[rows, cols] = frame[name].to_numpy(dtype=float)
            out["bijstand" if name == "bijstand_dec31" else name] = m
    m0 = int(years[0]) * 12
    decembers = np.arange(T) * 12 + 11
    if "inflow" in outcomes:
        _, start = _bijstand_months(pop.store, ids, m0, 12 * T)
        out["inflow"] = start.reshape(n, T, 12).any(axis=2).astype(np.float32)
    if "employed" in outcomes:
        out["employed"] = employment_matrix(pop.store, ids, m0, 12 * T)[:, decembers].astype(np.float32)
    if "ladder_step" in outcomes:
        out["ladder_step"] = _ladder(pop.store, ids, m0 + decembers).astype(np.float32)
    return Panel(frequency="year", unit_ids=ids, periods=years,
                 outcomes=MappingProxyType({o: out[o] for o in outcomes}), in_band=pop.in_band(years),
                 definition=pop.definition)


__all__ = ["OUTCOMES", "Panel", "person_month", "person_year"]
