"""The recipients-only reads of exit_health and kit.events (issue #18) against the whole-table computation.

exit_health's design and ``exit_to_work_cohorts`` now read, in SQL, only the bijstand recipients of the
population (their spells, exits, bijstand months, health outcomes and persons rows), and ``person_rows`` reads a
raw table's rows of some persons from its file. Equivalence is the test: the old computation, which read the
whole ``persons`` and ``person_year`` tables into pandas, is kept here verbatim as the reference, and the new
path must give the same arrays and frames (exactly: every value is copied, nothing is summed in another order).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

N_PERSONS = 3_000  # a few seconds to draw and store; a few hundred recipients, every cohort and covariate
SEED = 11


@pytest.fixture(scope="module")
def draw(tmp_path_factory):
    """(dataset directory, its store) of a small synthetic draw."""
    from analysis.data import build_store, load_dataset
    from analysis.data.synthetic import generate

    root = tmp_path_factory.mktemp("recipients")
    path = generate(root / "d", n_persons=N_PERSONS, seed=SEED)
    return path, build_store(load_dataset(path, work_dir=root / "work"), root=root / "processed")


# ---- the old computation (before issue #18's recipients-only reads), the reference ------------------------

def old_exit_to_work_cohorts(store, *, exit_window_days: int = 31, persons: pd.DataFrame | None = None,
                         reason: str = "work") -> EventCohorts:
    """Yearly exit-to-work cohorts among everyone with bijstand in the window (module docstring).

    ``reason="other"`` gives the placebo's cohorts instead: the first exit from bijstand *not* followed by a
    job within ``exit_window_days``, at risk = on bijstand in December and no such exit yet.
    """
    from analysis.errors import check_choice
    from analysis.kit.events import EventCohorts, COVARIATES, _person_covariates

    check_choice("reason", reason, ("work", "other"))
    which = (f"days_to_employment IS NOT NULL AND days_to_employment <= {int(exit_window_days)}" if reason == "work"
             else f"days_to_employment IS NULL OR days_to_employment > {int(exit_window_days)}")
    ds = store.dataset
    start, end = ds.meta["observation_start"], ds.meta["observation_end"]
    years = np.arange(start.year, end.year + 1)
    con = store.connect()
    spells = con.execute("SELECT person_id, start_month, end_month FROM bijstand_spells").df()
    exits = con.execute(f"""SELECT person_id, min(year(end_date)) AS year FROM bijstand_exits
                            WHERE {which} GROUP BY person_id""").df()
    people = store.read("persons") if persons is None else persons
    people = people[people["person_id"].isin(spells["person_id"])].reset_index(drop=True)
    index = pd.Index(people["person_id"])
    n, T = len(people), len(years)
    m0 = start.year * 12 + start.month - 1
    rows = index.get_indexer(spells["person_id"])
    sp = spells[rows >= 0]
    rows = rows[rows >= 0]
    decembers = years * 12 + 11
    # on bijstand in December of year t; spell start of the spell covering that December
    on_dec = np.zeros((n, T), dtype=bool)
    spell_start = np.full((n, T), -1, dtype=np.int32)
    sm, em = sp["start_month"].to_numpy(), sp["end_month"].to_numpy()
    for j, dm in enumerate(decembers):
        cover = (sm <= dm) & (em >= dm)
        on_dec[rows[cover], j] = True
        spell_start[rows[cover], j] = sm[cover]
    # bijstand months in the 24 months up to 31 December of each year (the state health drifts with)
    bm = con.execute("SELECT person_id, year, bijstand_months FROM person_year WHERE bijstand_months > 0").df()
    months = np.zeros((n, T))
    br = index.get_indexer(bm["person_id"])
    okb = br >= 0
    months[br[okb], bm["year"].to_numpy()[okb] - years[0]] = bm["bijstand_months"].to_numpy()[okb]
    recent = months + np.concatenate([np.zeros((n, 1)), months[:, :-1]], axis=1)
    g = np.zeros(n)
    er = index.get_indexer(exits["person_id"])
    ok = er >= 0
    g[er[ok]] = exits["year"].to_numpy()[ok] - years[0] + 1                  # position 1..T
    not_yet = np.arange(T)[None, :] < np.where(g > 0, g - 1, T)[:, None]    # years before the exit year
    at_risk = on_dec & not_yet
    base = _person_covariates(people)

    def covariates_at(b: int) -> np.ndarray:
        dur = np.where(spell_start[:, b] >= 0, (decembers[b] - spell_start[:, b] + 1) / 12.0, 0.0)
        return np.column_stack([years[b] - base["birth_year"], base["female"], base["education_middle"],
                                base["education_high"], base["migration_western"], base["migration_non_western"],
                                (dur > 1) & (dur <= 2), dur > 2,
                                (recent[:, b] > 6) & (recent[:, b] <= 12), (recent[:, b] > 12) & (recent[:, b] <= 18),
                                recent[:, b] > 18])

    del m0
    left = "left for work" if reason == "work" else "left for other reasons"
    return EventCohorts(event="exit_to_work" if reason == "work" else "exit_other", unit_ids=people["person_id"].to_numpy(),
                        periods=years, cohort=g, at_risk=at_risk,
                        at_risk_rule=f"on bijstand on 31 December of the base year and not yet {left}",
                        covariate_names=COVARIATES + ("spell_1_2_years", "spell_2_years_plus", "recent_months_7_12",
                                                     "recent_months_13_18", "recent_months_19_24"), covariates_at=covariates_at, frequency="year")


def old_build(store, *, exit_window_days: int, municipality: str = "all", population=None):
    """exit_health's design as it was: whole persons and person_year read into pandas."""
    from analysis.studies.exit_health.design import OUTCOMES, ExitDesign, _subset

    persons = store.read("persons") if population is None else population.persons()
    if municipality != "all":
        persons = persons[persons["municipality_code"] == municipality]
    work = old_exit_to_work_cohorts(store, exit_window_days=exit_window_days, persons=persons)
    other = old_exit_to_work_cohorts(store, exit_window_days=exit_window_days, persons=persons, reason="other")
    if population is not None:
        work, other = _old_in_window(work, other, population)
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
                      dropped_incomplete=int(n - len(rows)), rows=rows, persons=info.reset_index())


def _old_in_window(work, other, population):
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


# ---- equivalence --------------------------------------------------------------------------------------------

def assert_same_cohorts(new, old) -> None:
    """Units in the same order, the same cohorts, risk sets and covariates at every base period."""
    np.testing.assert_array_equal(new.unit_ids, old.unit_ids)
    np.testing.assert_array_equal(new.periods, old.periods)
    np.testing.assert_array_equal(new.cohort, old.cohort)
    np.testing.assert_array_equal(new.at_risk, old.at_risk)
    assert (new.event, new.at_risk_rule, new.covariate_names) == (old.event, old.at_risk_rule, old.covariate_names)
    for b in range(len(new.periods)):
        np.testing.assert_array_equal(new.covariates_at(b), old.covariates_at(b))


@pytest.mark.parametrize("reason", ["work", "other"])
def test_exit_to_work_cohorts_from_the_recipients_equal_the_whole_table_cohorts(draw, reason):
    from analysis.kit.events import exit_to_work_cohorts

    _, store = draw
    new = exit_to_work_cohorts(store, exit_window_days=31, reason=reason)
    old = old_exit_to_work_cohorts(store, exit_window_days=31, reason=reason)
    assert 0 < new.n_treated < len(new.unit_ids) < len(store.read("persons", columns=["person_id"]))
    assert_same_cohorts(new, old)
    # persons given (a subset, in another order): the same units as the whole-table code gives for them
    persons = store.read("persons").sample(frac=0.5, random_state=1)
    assert_same_cohorts(exit_to_work_cohorts(store, persons=persons, reason=reason),
                        old_exit_to_work_cohorts(store, persons=persons, reason=reason))


@pytest.mark.parametrize("where", [
    {},
    pytest.param({"first_year": 2016, "last_year": 2021, "age_min": 25, "age_max": 55}, marks=pytest.mark.slow),
    pytest.param({"sex": "F", "municipality": None}, marks=pytest.mark.slow),  # None: the most common one
])
def test_exit_health_design_from_the_recipients_equals_the_whole_table_design(draw, where):
    import analysis as rd
    from analysis.studies.exit_health.design import build

    _, store = draw
    if "municipality" in where:
        where = {**where, "municipality": str(store.read("persons")["municipality_code"].mode()[0])}
    pop = rd.population(store, **where)
    new, old = build(store, exit_window_days=31, population=pop), old_build(store, exit_window_days=31, population=pop)
    assert new.work.n_treated > 0
    assert_same_cohorts(new.work, old.work)
    assert_same_cohorts(new.other, old.other)
    np.testing.assert_array_equal(new.years, old.years)
    assert new.outcomes.keys() == old.outcomes.keys()
    for o in new.outcomes:
        np.testing.assert_array_equal(new.outcomes[o], old.outcomes[o])
    for field in ("female", "age_first", "rows"):
        np.testing.assert_array_equal(getattr(new, field), getattr(old, field))
    assert new.dropped_incomplete == old.dropped_incomplete
    pd.testing.assert_frame_equal(new.persons, old.persons)


def test_exit_health_design_without_a_population_equals_the_whole_table_design(draw):
    from analysis.studies.exit_health.design import build

    _, store = draw
    code = str(store.read("persons")["municipality_code"].mode()[0])
    for municipality in ("all", code):
        new = build(store, exit_window_days=31, municipality=municipality)
        old = old_build(store, exit_window_days=31, municipality=municipality)
        assert_same_cohorts(new.work, old.work)
        for o in new.outcomes:
            np.testing.assert_array_equal(new.outcomes[o], old.outcomes[o])
        pd.testing.assert_frame_equal(new.persons, old.persons)


# ---- person_rows: a raw table's rows of some persons, read from the file ------------------------------------

def _as_csv(path):
    """The dataset as CSV files (dates as text, empty cells for nulls), as tests/data does."""
    for file in path.glob("*.parquet"):
        pd.read_parquet(file).to_csv(file.with_suffix(".csv"), index=False, date_format="%Y-%m-%d")
        file.unlink()
    return path


@pytest.mark.parametrize("fmt, merge", [("parquet", False), pytest.param("csv", False, marks=pytest.mark.slow),
                                        ("parquet", True)])
def test_person_rows_are_the_rows_dataset_tables_gives(tmp_path, fmt, merge):
    """The same rows, order, dtypes and index as filtering ``dataset.tables[name]``; a table repaired on load
    (merge_touching) gives its repaired rows; only the file of an unrepaired table is read (no frame cached)."""
    import shutil

    from analysis.data import load_dataset
    from analysis.data.synthetic import generate
    from analysis.kit.events import person_rows

    path = generate(tmp_path / "d", n_persons=1_500, seed=4)
    if fmt == "csv":
        _as_csv(path)
    ds = load_dataset(path, merge_touching=merge, work_dir=tmp_path / "w")
    ref = load_dataset(path, merge_touching=merge, work_dir=tmp_path / "w")
    rng = np.random.default_rng(0)
    for name in ("employment_spells", "interventions", "participation_ladder", "benefit_spells"):
        whole = ref.tables[name]
        ids = rng.choice(whole["person_id"].unique(), size=len(whole["person_id"].unique()) // 3, replace=False)
        expected = whole[whole["person_id"].isin(ids)].reset_index(drop=True)
        assert 0 < len(expected) < len(whole)
        pd.testing.assert_frame_equal(person_rows(ds, name, ids), expected)
        columns = list(whole.columns[::-1][:2])
        pd.testing.assert_frame_equal(person_rows(ds, name, ids, columns=columns), expected[columns])
        pd.testing.assert_frame_equal(person_rows(ds, name, None, columns=columns),
                                      whole[columns].reset_index(drop=True))
    repaired = {"benefit_spells", "employment_spells"} if merge else set()
    assert set(ds.tables.loaded()) == repaired
    shutil.rmtree(tmp_path / "w", ignore_errors=True)


def old_employment_matrix(store, unit_ids, m0: int, T: int) -> np.ndarray:
    """employment_matrix as it was: the whole employment_spells table in pandas."""
    from analysis.kit.events import _month, interval_matrix

    ds = store.dataset
    end = ds.meta["observation_end"]
    emp = ds.tables["employment_spells"]
    rows = pd.Index(unit_ids).get_indexer(emp["person_id"])
    ok = rows >= 0
    e = emp[ok]
    s = _month(e["start_date"]) - m0
    f = np.where(e["end_date"].isna(), T - 1, _month(e["end_date"].fillna(pd.Timestamp(end))) - m0)
    return interval_matrix(rows[ok], s, f, len(unit_ids), T)


def test_employment_matrix_of_some_units_equals_the_whole_table_matrix(draw, tmp_path):
    from analysis.data import build_store, load_dataset
    from analysis.kit.events import employment_matrix

    path, _ = draw
    fresh = build_store(load_dataset(path, work_dir=tmp_path / "w"), root=tmp_path / "p")
    meta = fresh.dataset.meta
    m0 = meta["observation_start"].year * 12 + meta["observation_start"].month - 1
    T = meta["observation_end"].year * 12 + meta["observation_end"].month - m0
    ids = fresh.read("persons")["person_id"].sample(frac=0.2, random_state=3).to_numpy()
    new = employment_matrix(fresh, ids, m0, T)
    assert fresh.dataset.tables.loaded() == []  # read from the file, filtered to the units
    old = old_employment_matrix(fresh, ids, m0, T)
    assert new.any() and not new.all()
    np.testing.assert_array_equal(new, old)
