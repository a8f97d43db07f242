"""rd.population against direct pandas selections of the persons table."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.kit.population import population


def _persons(path) -> pd.DataFrame:
    return pd.read_parquet(path / "persons.parquet")


def test_age_band_sex_and_period_select_the_persons_pandas_selects(small):
    path, store, _ = small
    people = _persons(path)
    pop = population(store, age_min=50, age_max=66, sex="F", first_year=2016, last_year=2020)
    years = np.arange(2016, 2021)
    age = years[None, :] - people["birth_year"].to_numpy()[:, None]
    expected = people[((age >= 50) & (age <= 66)).any(axis=1) & (people["sex"] == "F").to_numpy()]
    assert list(pop.person_ids) == sorted(expected["person_id"])
    assert pop.in_band(years).sum() == int(((age >= 50) & (age <= 66))[expected.index].sum())


def test_municipality_and_where_conditions(small):
    path, store, _ = small
    people = _persons(path)
    code = people["municipality_code"].value_counts().index[0]
    pop = population(store, municipality=code, where={"education": "low", "migration_background": ["dutch", "western"]})
    expected = people[(people["municipality_code"] == code) & (people["education"] == "low")
                      & people["migration_background"].isin(["dutch", "western"])
                      & (people["birth_year"] >= 2014 - 66) & (people["birth_year"] <= 2023 - 18)]
    assert list(pop.person_ids) == sorted(expected["person_id"])
    assert pop.definition.to_dict()["where"] == {"education": "low", "migration_background": ["dutch", "western"]}
    con = pop.connect()
    assert con.execute("SELECT count(*) FROM population").fetchone()[0] == len(expected)
    assert con.execute("SELECT count(*) FROM population_persons WHERE education <> 'low'").fetchone()[0] == 0


def test_the_population_is_frozen_and_describes_itself(small):
    _, store, _ = small
    pop = population(store, age_min=30, age_max=55, sex="M")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(pop, "definition", None)
    assert "aged 30-55" in pop.describe() and "men" in pop.describe()
    assert pop.describe(min_units=10 ** 9).endswith("fewer than 1000000000 persons.")


@pytest.mark.parametrize("options, fragment", [
    (dict(age_min=60, age_max=50), "age_min=60 exceeds age_max=50"),
    (dict(sex="X"), "sex='X'"),
    (dict(first_year=2010), "first_year=2010"),
    (dict(municipality="GM9999"), "does not occur"),
    (dict(where={"birth_year": 1970}), "not a categorical column"),
    (dict(where={"education": "very_high"}), "very_high"),
])
def test_refuses_bad_definitions_with_the_value_received(small, options, fragment):
    _, store, _ = small
    with pytest.raises(ParameterError, match=fragment.replace("(", r"\(").replace("[", r"\[")):
        population(store, **options)
