"""The overview study with its population parameters: a band of ages, one sex, one municipality.

Its bijstand shares equal the same share counted directly from the raw tables with pandas (not the store,
not DuckDB); results.json and the report's title block record the population. The age bands of the
population table are the fixed bands clipped to the population's band.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest

from analysis.kit.population import PopulationDefinition
from analysis.studies import overview

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
