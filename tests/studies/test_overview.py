"""The overview study with its population parameters: a band of ages, one sex, one municipality.

Its bijstand shares equal the same share counted directly from the raw tables with pandas (not the store,
not DuckDB); results.json and the report's title block record the population. The age bands of the
population table are the fixed bands clipped to the population's band.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.kit.population import PopulationDefinition
from analysis.studies import overview
from checked_tables import assert_same_table

PERSONS = 8_000  # enough women aged 30-55 in Amsterdam for the yearly shares to be published
SEED = 5
POPULATION = {"municipality": "GM0363", "age_min": 30, "age_max": 55, "sex": "F"}
#: The same share computed by DuckDB in the study and by pandas here: only the order of floating-point
#: operations differs.
SHARE_TOLERANCE = 1e-12
MIN_UNITS = 10  # the CBS minimum of units behind a published figure (the default policy)


def _band(age_min: int, age_max: int) -> SimpleNamespace:
    return SimpleNamespace(definition=PopulationDefinition(municipality="all", age_min=age_min, age_max=age_max,
                                                            sex="all", first_year=2014, last_year=2023))


@pytest.mark.parametrize("ages, bands", [
    ((18, 66), ["18-26", "27-34", "35-44", "45-54", "55-66"]),
    ((30, 55), ["30-34", "35-44", "45-54", "55"]),
    ((15, 70), ["15-17", "18-26", "27-34", "35-44", "45-54", "55-66", "67-70"]),
    ((40, 44), ["40-44"]),
])
def test_age_bands_are_the_fixed_bands_clipped_to_the_population(ages, bands):
    assert overview.age_bands(_band(*ages)) == bands


def _direct_share(dataset, year: int) -> tuple[int, int]:
    """(persons of the population in the band on 31 December ``year``, of whom with bijstand that day)."""
    persons = pd.read_parquet(dataset / "persons.parquet")
    spells = pd.read_parquet(dataset / "benefit_spells.parquet")
    spells = spells[spells["benefit"] == "bijstand"]
    day = pd.Timestamp(year, 12, 31)
    end = pd.to_datetime(spells["end_date"]).fillna(pd.Timestamp.max)
    covering = set(spells.loc[(pd.to_datetime(spells["start_date"]) <= day) & (end >= day), "person_id"])
    age = year - persons["birth_year"]
    mine = persons[(persons["municipality_code"] == POPULATION["municipality"]) & (persons["sex"] == POPULATION["sex"])
                   & (age >= POPULATION["age_min"]) & (age <= POPULATION["age_max"])]
    return len(mine), int(mine["person_id"].isin(covering).sum())


@pytest.mark.slow
def test_population_parameters_select_the_persons_counted(tmp_path_factory):
    from analysis.data.synthetic import generate
    from analysis.run.runner import run_study

    data = tmp_path_factory.mktemp("overview") / "d"
    generate(data, n_persons=PERSONS, seed=SEED)
    outcome = run_study("overview", {"dataset": str(data), **POPULATION}, out_root=tmp_path_factory.mktemp("runs"),
                        progress=False, pdf=True)
    results = json.loads((outcome.run_dir / "results.json").read_text())
    assert {k: results["parameters"][k] for k in POPULATION} == POPULATION
    assert (results["parameters"]["first_year"], results["parameters"]["last_year"]) == (2014, 2023)
    rows = {r["name"]: r for r in results["estimates"]}
    published = 0
    for year in range(2014, 2024):
        n, k = _direct_share(data, year)
        row = rows[f"bijstand_share_{year}"]
        if min(k, n - k) < MIN_UNITS:
            assert row["suppressed"], (year, n, k)
            continue
        published += 1
        assert row["n"] == n
        assert row["estimate"] == pytest.approx(k / n, abs=SHARE_TOLERANCE)
    assert published >= 5, "the dataset is meant to publish most years' shares"
    from pypdf import PdfReader

    text = " ".join(page.extract_text() or "" for page in PdfReader(outcome.pdf).pages)
    assert "30 tot en met 55 jaar" in text and "vrouwen" in text and "Amsterdam" in text


# -- the cells from DuckDB against the unit rows they replace (issue #18) ----------------------------------------
CELL_PERSONS = 3_000  # a few seconds to build; small enough that many cells are withheld


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    from analysis.data import build_store, load_dataset
    from analysis.data.synthetic import generate

    root = tmp_path_factory.mktemp("overview-cells")
    path = generate(root / "ds", n_persons=CELL_PERSONS, seed=SEED)
    return build_store(load_dataset(path), root=root / "processed")


def _rows(pop, sql: str) -> pd.DataFrame:
    con = pop.connect()
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def _reference_frames(pop, win) -> dict:
    """The unit-level frames the study aggregated before issue #18 (its former code, pandas where it was)."""
    d = pop.definition
    band = lambda col: f"{col} BETWEEN {d.age_min} AND {d.age_max}"  # noqa: E731
    people = _rows(pop, f"SELECT p.person_id, p.sex, {win.last} - p.birth_year AS age FROM population_persons p "
                        f"WHERE {band(f'{win.last} - p.birth_year')}")
    people["age_band"] = pd.Series(pd.NA, index=people.index, dtype="string")
    for label in overview.age_bands(pop):
        lo, hi = (map(int, label.split("-")) if "-" in label else (int(label), int(label)))
        people.loc[(people["age"] >= lo) & (people["age"] <= hi), "age_band"] = label
    parts = []
    for year in win.years:
        dec31 = f"DATE '{year}-12-31'"
        parts.append(_rows(pop, f"""SELECT p.person_id, p.municipality_code, CAST(EXISTS (SELECT 1 FROM bijstand_spells s
            WHERE s.person_id = p.person_id AND s.start_date <= {dec31} AND s.end_date >= {dec31}) AS DOUBLE) AS bijstand
            FROM population_persons p WHERE {band(f'{year} - p.birth_year')}""").assign(year=year))
    on_dec31 = pd.concat(parts, ignore_index=True)
    s = _rows(pop, """SELECT s.person_id, year(s.start_date) AS start_year, s.start_date,
                      CASE WHEN s.censored THEN NULL ELSE year(s.end_date) END AS end_year,
                      s.end_month - s.start_month + 1 AS months, CAST(NOT s.censored AS INTEGER) AS ended, p.birth_year
                      FROM bijstand_spells s JOIN population_persons p USING (person_id)""")
    new = pd.to_datetime(s["start_date"]) >= win.first_month
    at_start = (s["start_year"] - s["birth_year"]).between(d.age_min, d.age_max)
    at_end = (s["end_year"] - s["birth_year"]).between(d.age_min, d.age_max)
    seen = s[new & at_start & s["start_year"].isin(win.years)]
    ended = s[s["end_year"].notna() & at_end & s["end_year"].isin(win.years)]
    ends = _rows(pop, f"""SELECT e.person_id, year(e.end_date) AS year, e.end_reason FROM partnership_ends e
                          JOIN population_persons p USING (person_id) WHERE {band('year(e.end_date) - p.birth_year')}""")
    years = ", ".join(map(str, win.years))
    health = _rows(pop, f"""SELECT y.person_id, y.year, y.bijstand_months > 0 AS in_bijstand,
                            y.antidepressants::DOUBLE AS antidepressants, y.healthcare_costs_eur
                            FROM person_year y JOIN population USING (person_id)
                            WHERE {band('y.age')} AND y.year IN ({years}) AND y.healthcare_costs_eur IS NOT NULL""")
    return {"people": people.dropna(subset=["age_band"]), "on_dec31": on_dec31,
            "inflow": seen.assign(year=seen["start_year"].astype(int)),
            "outflow": ended.assign(year=ended["end_year"].astype(int)), "durations": seen[["months", "ended"]],
            "ends": ends[ends["year"].isin(win.years)], "health": health}


@pytest.mark.slow
@pytest.mark.parametrize("population", [
    {"municipality": "all", "age_min": 18, "age_max": 66, "sex": "all"},
    {"municipality": "GM0363", "age_min": 30, "age_max": 55, "sex": "F"},
])
def test_cells_from_duckdb_give_the_tables_of_the_unit_rows(small_store, population):
    """Every table of the study: its cells from DuckDB and safe_aggregate_cells give the checked table (values,
    n, rules) and disclosure log that safe_aggregate gives on the person and person-year rows."""
    import warnings

    import analysis as rd
    from analysis.errors import SmallCellWarning
    from analysis.report.disclosure import DisclosureLog, DisclosurePolicy

    pop = rd.population(small_store, first_year=2014, last_year=2023, **population)
    win = overview.window(pop)
    ref = _reference_frames(pop, win)
    policy = DisclosurePolicy()
    years = {"year": list(win.years)}
    bands = {"age_band": overview.age_bands(pop), "sex": ["F", "M"] if population["sex"] == "all" else ["F"]}
    reasons = sorted(ref["ends"]["end_reason"].unique())
    ended_levels = {"year": list(win.years), "end_reason": reasons} if reasons else None
    pairs = [  # (the unit rows and safe_aggregate's options, the cells and safe_aggregate_cells' options)
        ((ref["people"], dict(by=["age_band", "sex"], stat="count", total_published=True, levels=bands)),
         (overview.persons_by_age_band(pop, year=win.last, policy=policy), {})),
        ((ref["on_dec31"], dict(by=["year"], value="bijstand", stat="share", levels=years)),
         (overview.bijstand_on_december_31(pop, win.years, by=["year"], policy=policy), {})),
        ((ref["on_dec31"][ref["on_dec31"]["year"] == win.last],
          dict(by=["municipality_code"], value="bijstand", stat="share", total_published=True)),
         (overview.bijstand_on_december_31(pop, [win.last], by=["municipality_code"], policy=policy), {})),
        ((ref["inflow"], dict(by=["year"], stat="count", levels=years, unit_id="person_id")),
         (overview.inflow(pop, win, policy=policy), {"per_unit": True})),
        ((ref["outflow"], dict(by=["year"], stat="count", levels=years, unit_id="person_id")),
         (overview.outflow(pop, win, policy=policy), {"per_unit": True})),
        ((ref["ends"], dict(by=["year", "end_reason"], stat="count", levels=ended_levels)),
         (overview.partnership_ends(pop, win, policy=policy), {})),
        ((ref["health"], dict(by=["in_bijstand"], value="antidepressants", stat="share", unit_id="person_id",
                              levels={"in_bijstand": [True, False]})),
         (overview.health_years(pop, win, stat="share", policy=policy), {"per_unit": True})),
        ((ref["health"], dict(by=["in_bijstand"], value="healthcare_costs_eur", stat="mean", unit_id="person_id",
                              levels={"in_bijstand": [True, False]})),
         (overview.health_years(pop, win, stat="mean", policy=policy), {"per_unit": True})),
    ]
    ref_log, cell_log = DisclosureLog(), DisclosureLog()
    with warnings.catch_warnings(record=True):  # small cells are expected here: the logs are compared
        warnings.simplefilter("always", SmallCellWarning)
        for i, ((rows, options), (cells, cell_options)) in enumerate(pairs):
            expected = rd.safe_aggregate(rows, policy=policy, log=ref_log, name=f"t{i}", **options)
            options = {k: v for k, v in options.items() if k not in ("value", "unit_id")}
            got = rd.safe_aggregate_cells(cells, policy=policy, log=cell_log, name=f"t{i}", **options, **cell_options)
            assert_same_table(expected, got)
    assert cell_log.to_records() == ref_log.to_records()
    durations = overview.durations(pop, win)  # the same spells (Kaplan-Meier does not depend on their order)
    order = ["months", "ended"]
    np.testing.assert_array_equal(durations.to_numpy(int),
                                  ref["durations"].sort_values(order).to_numpy(int))
