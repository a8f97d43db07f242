"""What only the study "overview" composes: the frames it aggregates, as plain functions of typed objects.

The study itself is notebooks/00_overview.py (population, definitions, every disclosure-controlled table
and figure, the summary sentence). The functions here read the processed store for a population
(:func:`analysis.population`) and return frozen objects or the tables' *cells*, computed in DuckDB (``GROUP BY``
the table's keys, :func:`analysis.report.cells.cell_stats`) for ``rd.safe_aggregate_cells``: no frame with a
row per person or person-year of the population reaches pandas (issue #18). Exact: the same counts, shares
and disclosure decisions as aggregating the unit rows with ``safe_aggregate`` (tests/studies/test_overview.py);
a mean of amounts may differ in the last bits of summation order. Kaplan-Meier reads one row of two small
integers per spell whose start is seen. They hold no state and write nothing.

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

from analysis.errors import ParameterError, check_choice
from analysis.report.cells import cell_stats

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


def _band_case(age: str, labels: list[str]) -> str:
    """A SQL CASE giving the label of ``labels`` whose ages contain ``age`` (NULL outside them)."""
    whens = []
    for label in labels:
        lo, hi = (map(int, label.split("-")) if "-" in label else (int(label), int(label)))
        whens.append(f"WHEN {age} BETWEEN {lo} AND {hi} THEN '{label}'")
    return f"CASE {' '.join(whens)} END"


def _in_band(column: str, pop) -> str:
    return f"{column} BETWEEN {int(pop.definition.age_min)} AND {int(pop.definition.age_max)}"


def _cells(pop, source: str, **options) -> pd.DataFrame:
    con = pop.connect()
    try:
        return cell_stats(con, source, **options)
    finally:
        con.close()


def persons_by_age_band(pop, *, year: int, policy) -> pd.DataFrame:
    """Cells of the persons of the band on 31 December ``year`` by ``age_band`` and ``sex`` (F/M): ``n``."""
    age = f"({int(year)} - p.birth_year)"
    source = f"""SELECT p.person_id, p.sex, {_band_case(age, age_bands(pop))} AS age_band
                 FROM population_persons p WHERE {_in_band(age, pop)}"""
    return _cells(pop, source, by=["age_band", "sex"], stat="count", policy=policy)


def _on_december_31(pop, years) -> str:
    """SQL: one row per person of the band and year: ``person_id``, ``municipality_code``, ``year``,
    ``bijstand`` (1.0 when a bijstand spell covers 31 December)."""
    parts = []
    for year in years:
        dec31 = f"DATE '{int(year)}-12-31'"
        parts.append(
            f"""SELECT p.person_id, p.municipality_code, CAST({int(year)} AS BIGINT) AS year,
                       CAST(EXISTS (SELECT 1 FROM bijstand_spells s WHERE s.person_id = p.person_id
                             AND s.start_date <= {dec31} AND s.end_date >= {dec31}) AS DOUBLE) AS bijstand
                FROM population_persons p WHERE {_in_band(f'{int(year)} - p.birth_year', pop)}""")
    return " UNION ALL ".join(parts)


def bijstand_on_december_31(pop, years, *, by=("year",), policy) -> pd.DataFrame:
    """Cells of the persons of the band on 31 December of ``years`` by ``by`` (``year`` and/or
    ``municipality_code``), for the share with a bijstand spell covering that day: ``n``, ``total``."""
    return _cells(pop, _on_december_31(pop, years), by=list(by), stat="share", value="bijstand", policy=policy)


def _spells_sql(pop, win: Window) -> str:
    """SQL: the population's merged bijstand spells with ``person_id``, ``start_year``, ``end_year`` (NULL when
    still running), ``months``, ``ended`` (0/1), ``new`` (starts in or after the window's first month, so its
    start is seen), ``in_band_at_start`` / ``in_band_at_end`` (the person's age in the band that year)."""
    first = win.first_month.date().isoformat()
    return f"""SELECT s.person_id, year(s.start_date) AS start_year,
                      CASE WHEN s.censored THEN NULL ELSE year(s.end_date) END AS end_year,
                      s.end_month - s.start_month + 1 AS months, CAST(NOT s.censored AS INTEGER) AS ended,
                      s.start_date >= DATE '{first}' AS new,
                      coalesce({_in_band('year(s.start_date) - p.birth_year', pop)}, false) AS in_band_at_start,
                      coalesce({_in_band('(CASE WHEN s.censored THEN NULL ELSE year(s.end_date) END) - p.birth_year',
                                         pop)}, false) AS in_band_at_end
               FROM bijstand_spells s JOIN population_persons p USING (person_id)"""


def _years(win: Window) -> str:
    return ", ".join(str(int(y)) for y in win.years)


def inflow(pop, win: Window, *, policy) -> pd.DataFrame:
    """Cells of new spells by ``year`` of their start, for persons in the band that year: ``n`` (spells) and
    ``units`` (persons)."""
    source = f"""SELECT person_id, CAST(start_year AS BIGINT) AS year FROM ({_spells_sql(pop, win)})
                 WHERE new AND in_band_at_start AND start_year IN ({_years(win)})"""
    return _cells(pop, source, by=["year"], stat="count", unit_id="person_id", policy=policy)


def outflow(pop, win: Window, *, policy) -> pd.DataFrame:
    """Cells of ended spells by ``year`` of their end, for persons in the band that year: ``n``, ``units``."""
    source = f"""SELECT person_id, CAST(end_year AS BIGINT) AS year FROM ({_spells_sql(pop, win)})
                 WHERE end_year IS NOT NULL AND in_band_at_end AND end_year IN ({_years(win)})"""
    return _cells(pop, source, by=["year"], stat="count", unit_id="person_id", policy=policy)


def durations(pop, win: Window) -> pd.DataFrame:
    """The spells whose start is seen, in a year studied, by a person in the band then: ``months``, ``ended``
    (one row per spell, two small integer columns: what Kaplan-Meier reads), ordered by them."""
    con = pop.connect()
    try:
        frame = con.execute(
            f"""SELECT CAST(months AS INTEGER) AS months, CAST(ended AS TINYINT) AS ended FROM ({_spells_sql(pop, win)})
                WHERE new AND in_band_at_start AND start_year IN ({_years(win)}) ORDER BY months, ended""").df()
    finally:
        con.close()
    return frame


def partnership_ends(pop, win: Window, *, policy) -> pd.DataFrame:
    """Cells of the partnerships of the population ending in a year studied, the person in the band then, by
    ``year`` and ``end_reason`` (the catalogue's code): ``n``."""
    source = f"""SELECT e.person_id, CAST(year(e.end_date) AS BIGINT) AS year, e.end_reason
                 FROM partnership_ends e JOIN population_persons p USING (person_id)
                 WHERE {_in_band('year(e.end_date) - p.birth_year', pop)} AND year(e.end_date) IN ({_years(win)})"""
    return _cells(pop, source, by=["year", "end_reason"], stat="count", policy=policy)


def _health_sql(pop, win: Window) -> str:
    return f"""SELECT y.person_id, y.year, y.bijstand_months > 0 AS in_bijstand,
                      y.antidepressants::DOUBLE AS antidepressants, y.healthcare_costs_eur
               FROM person_year y JOIN population USING (person_id)
               WHERE {_in_band('y.age', pop)} AND y.year IN ({_years(win)}) AND y.healthcare_costs_eur IS NOT NULL"""


def health_years(pop, win: Window, *, stat: str, policy) -> pd.DataFrame:
    """Cells of the person-years of the band in the years studied with health data, by ``in_bijstand``
    (bijstand in some month of the year): ``stat="share"`` of ``antidepressants`` (0/1) or ``"mean"`` of
    ``healthcare_costs_eur``, persons as units (``units``; a person's years are one contributor)."""
    check_choice("stat", stat, ("share", "mean"))
    value = "antidepressants" if stat == "share" else "healthcare_costs_eur"
    return _cells(pop, _health_sql(pop, win), by=["in_bijstand"], stat=stat, value=value, unit_id="person_id",
                  policy=policy)


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
           "window", "withheld_row"]
