"""What only the study "overview" composes: the frames it aggregates, as plain functions of typed objects.

The study itself is notebooks/00_overview.py (population, definitions, every disclosure-controlled table
and figure, the summary sentence). The functions here read the processed store for a population
(:func:`analysis.population`) and return frames or frozen objects; they hold no state and write nothing.

Definitions (also in the notebook and the report):
- age: year - birth year, on 31 December; a person counts in a year's figures when their age lies in the
  population's band (``age_min``..``age_max``, by default working age 18..66) that year;
- years: ``first_year``..``last_year`` whose 31 December lies in the observation window;
- bijstand share of a year: persons of the band with a bijstand spell covering 31 December, over all persons
  of the band;
- inflow of a year: new bijstand spells starting that year, a new spell being one that starts after at least
  one full calendar month without bijstand (touching or overlapping spells merged, in the processed store);
  spells starting in the first month of the observation window are left-censored and not counted;
- outflow of a year: spells ending that year (spells still running at the end of the window do not end);
- spell duration: months from the first to the last month of a merged spell; spells still running at the
  end of the window are censored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import ParameterError

#: Age bands of the population table, clipped to the population's band.
AGE_BANDS = ((18, 26), (27, 34), (35, 44), (45, 54), (55, 66))


@dataclass(frozen=True)
class Window:
    """The calendar years studied and the first month in which a new spell can be seen."""

    years: tuple[int, ...]
    first_month: pd.Timestamp  # spells starting before it are left-censored: not counted as inflow

    @property
    def last(self) -> int:
        return self.years[-1]


def window(pop) -> Window:
    """The years of ``pop``'s period whose 31 December lies in the dataset's observation window."""
    meta = pop.store.dataset.meta
    start, end = meta["observation_start"], meta["observation_end"]
    d = pop.definition
    years = tuple(y for y in range(d.first_year, d.last_year + 1) if dt.date(y, 12, 31) <= end)
    if not years:
        raise ParameterError(f"first_year={d.first_year}, last_year={d.last_year}: no 31 December of these years lies "
                             f"in the observation window (it ends {end}); give years whose end the data cover.")
    first_month = pd.Timestamp(start.year, start.month, 1) + pd.offsets.MonthBegin(1)
    return Window(years=years, first_month=first_month)


def age_bands(pop) -> list[str]:
    """The labels of :data:`AGE_BANDS` clipped to the population's age band (``"30-34"``, ..., ``"55"`` for a
    band of one year)."""
    d = pop.definition
    bands = [(max(lo, d.age_min), min(hi, d.age_max)) for lo, hi in AGE_BANDS]
    if d.age_min < AGE_BANDS[0][0]:
        bands.insert(0, (d.age_min, min(AGE_BANDS[0][0] - 1, d.age_max)))
    if d.age_max > AGE_BANDS[-1][1]:
        bands.append((max(AGE_BANDS[-1][1] + 1, d.age_min), d.age_max))
    return [f"{lo}-{hi}" if lo < hi else str(lo) for lo, hi in bands if lo <= hi]


def _band_of(age: pd.Series, labels: list[str]) -> pd.Series:
    out = pd.Series(pd.NA, index=age.index, dtype="string")
    for label in labels:
        lo, hi = (map(int, label.split("-")) if "-" in label else (int(label), int(label)))
        out[(age >= lo) & (age <= hi)] = label
    return out


def _in_band(column: str, pop) -> str:
    return f"{column} BETWEEN {int(pop.definition.age_min)} AND {int(pop.definition.age_max)}"


def persons_by_age_band(pop, *, year: int) -> pd.DataFrame:
    """One row per person of the band on 31 December ``year``: ``sex`` (F/M) and ``age_band``."""
    con = pop.connect()
    frame = con.execute(
        f"""SELECT p.person_id, p.sex, {int(year)} - p.birth_year AS age FROM population_persons p
            WHERE {_in_band(f'{int(year)} - p.birth_year', pop)}""").df()
    frame["age_band"] = _band_of(frame["age"], age_bands(pop))
    return frame.dropna(subset=["age_band"])[["person_id", "sex", "age_band"]]


def bijstand_on_december_31(pop, years) -> pd.DataFrame:
    """One row per person of the band and year: ``municipality_code``, ``year``, ``bijstand`` (1.0 when a
    bijstand spell covers 31 December)."""
    con = pop.connect()
    parts = []
    for year in years:
        dec31 = f"DATE '{int(year)}-12-31'"
        parts.append(con.execute(
            f"""SELECT p.person_id, p.municipality_code,
                       CAST(EXISTS (SELECT 1 FROM bijstand_spells s WHERE s.person_id = p.person_id
                             AND s.start_date <= {dec31} AND s.end_date >= {dec31}) AS DOUBLE) AS bijstand
                FROM population_persons p WHERE {_in_band(f'{int(year)} - p.birth_year', pop)}""").df()
                     .assign(year=int(year)))
    return pd.concat(parts, ignore_index=True)


def spells(pop, win: Window) -> pd.DataFrame:
    """The population's merged bijstand spells: ``person_id``, ``start_year``, ``end_year`` (NaN when still
    running), ``months``, ``ended`` (0/1), ``new`` (starts after the window's first month, so its start is
    seen), and ``in_band_at_start`` / ``in_band_at_end`` (the person's age in the band that year)."""
    con = pop.connect()
    frame = con.execute(
        f"""SELECT s.person_id, year(s.start_date) AS start_year, s.start_date,
                   CASE WHEN s.censored THEN NULL ELSE year(s.end_date) END AS end_year,
                   s.end_month - s.start_month + 1 AS months, CAST(NOT s.censored AS INTEGER) AS ended,
                   p.birth_year
            FROM bijstand_spells s JOIN population_persons p USING (person_id)""").df()
    d = pop.definition
    frame["new"] = pd.to_datetime(frame["start_date"]) >= win.first_month
    age_start = frame["start_year"] - frame["birth_year"]
    age_end = frame["end_year"] - frame["birth_year"]
    frame["in_band_at_start"] = age_start.between(d.age_min, d.age_max)
    frame["in_band_at_end"] = age_end.between(d.age_min, d.age_max)  # NaN (still running): False
    return frame.drop(columns=["start_date", "birth_year"])


def inflow(spell_frame: pd.DataFrame, win: Window) -> pd.DataFrame:
    """New spells by ``year`` of their start, for persons in the band that year."""
    s = spell_frame
    keep = s["new"] & s["in_band_at_start"] & s["start_year"].isin(win.years)
    return s[keep].assign(year=lambda f: f["start_year"].astype(int))


def outflow(spell_frame: pd.DataFrame, win: Window) -> pd.DataFrame:
    """Ended spells by ``year`` of their end, for persons in the band that year."""
    s = spell_frame.dropna(subset=["end_year"])
    keep = s["in_band_at_end"] & s["end_year"].isin(win.years)
    return s[keep].assign(year=lambda f: f["end_year"].astype(int))


def durations(spell_frame: pd.DataFrame, win: Window) -> pd.DataFrame:
    """The spells whose start is seen, in a year studied, by a person in the band then: ``months``, ``ended``."""
    s = spell_frame
    keep = s["new"] & s["in_band_at_start"] & s["start_year"].isin(win.years)
    return s[keep][["person_id", "months", "ended"]].reset_index(drop=True)


def partnership_ends(pop, win: Window) -> pd.DataFrame:
    """Partnerships of the population ending in a year studied, the person in the band then: ``year``,
    ``end_reason`` (the catalogue's code)."""
    con = pop.connect()
    frame = con.execute(
        f"""SELECT e.person_id, year(e.end_date) AS year, e.end_reason
            FROM partnership_ends e JOIN population_persons p USING (person_id)
            WHERE {_in_band('year(e.end_date) - p.birth_year', pop)}""").df()
    return frame[frame["year"].isin(win.years)].reset_index(drop=True)


def health_years(pop, win: Window) -> pd.DataFrame:
    """Person-years of the band in the years studied with health data: ``person_id``, ``year``,
    ``in_bijstand`` (bijstand in some month of the year), ``antidepressants`` (0/1), ``healthcare_costs_eur``."""
    con = pop.connect()
    years = ", ".join(str(int(y)) for y in win.years)
    return con.execute(
        f"""SELECT y.person_id, y.year, y.bijstand_months > 0 AS in_bijstand,
                   y.antidepressants::DOUBLE AS antidepressants, y.healthcare_costs_eur
            FROM person_year y JOIN population USING (person_id)
            WHERE {_in_band('y.age', pop)} AND y.year IN ({years}) AND y.healthcare_costs_eur IS NOT NULL""").df()


def municipality_names(dataset) -> dict:
    """Municipality code -> name from the dataset's municipalities table (empty without one)."""
    names = dataset.tables.get("municipalities")
    return dict(zip(names["municipality_code"], names["name"])) if names is not None else {}


def estimate_rows(table, *, prefix: str, key: str, unit: str, binomial_se: bool = False) -> list[dict]:
    """results.json rows ``<prefix>_<key value>`` from a checked table's cells (``value`` and ``n`` as
    disclosure control left them: a withheld cell gives a withheld row). ``binomial_se``: the standard error
    of a share, sqrt(p(1-p)/n), and its 95% interval."""
    rows = []
    frame = table.frame
    for k, value, n in zip(frame[key].tolist(), frame["value"].tolist(), frame["n"].tolist()):
        k = int(k) if isinstance(k, float) and k.is_integer() else k  # a year read back as 2023.0
        held = value is None or pd.isna(value)
        se = float(np.sqrt(value * (1 - value) / n)) if binomial_se and not held else None
        ci = (None, None) if se is None else (float(value - 1.96 * se), float(value + 1.96 * se))
        rows.append({"name": f"{prefix}_{k}", "estimate": None if held else float(value), "se": se,
                     "ci_low": ci[0], "ci_high": ci[1], "n": None if held or pd.isna(n) else int(n), "unit": unit,
                     "suppressed": bool(held)})
    return rows


def withheld_row(name: str, *, unit: str) -> dict:
    """A results.json row withheld before any number is computed (too few units to compute it at all)."""
    return {"name": name, "estimate": None, "se": None, "ci_low": None, "ci_high": None, "n": None, "unit": unit,
            "suppressed": True}


__all__ = ["AGE_BANDS", "Window", "age_bands", "bijstand_on_december_31", "durations", "estimate_rows",
           "health_years", "inflow", "municipality_names", "outflow", "partnership_ends", "persons_by_age_band",
           "spells", "window", "withheld_row"]
