"""rd.person_year / rd.person_month against truth.json and direct pandas computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.kit.panels import person_month, person_year
from analysis.kit.population import population

#: float32 matrices hold a share to about 7 digits.
FLOAT32_TOL = 1e-6


def test_bijstand_on_31_december_equals_the_simulator_truth(small):
    _, store, truth = small
    pop = population(store, age_min=18, age_max=66)  # the truth's population: ages 18-66 each year
    share = person_year(pop, outcomes=["bijstand"]).mean("bijstand")
    for year, value in share.items():
        assert value == pytest.approx(truth[f"bijstand_share_{year}"], abs=FLOAT32_TOL), year


def test_monthly_inflow_counts_equal_the_simulator_truth(small):
    _, store, truth = small
    pop = population(store, age_min=0, age_max=120)
    inflow = person_month(pop, outcomes=["inflow"])["inflow"].reshape(len(pop), 10, 12).sum(axis=(0, 2))
    # 2014: the truth does not count spells in the window's first month (they may have started earlier)
    for j, year in enumerate(range(2015, 2024), start=1):
        assert int(inflow[j]) == truth[f"inflow_{year}"], year


def test_health_columns_equal_health_yearly(small):
    path, store, _ = small
    pop = population(store, age_min=50, age_max=66, first_year=2016, last_year=2021)
    panel = person_year(pop, outcomes=["antidepressants", "mental_healthcare_costs_eur"])
    health = pd.read_parquet(path / "health_yearly.parquet")
    health = health[health["person_id"].isin(pop.person_ids) & health["year"].between(2016, 2021)]
    for col in ("antidepressants", "mental_healthcare_costs_eur"):
        wide = health.pivot(index="person_id", columns="year", values=col).loc[pop.person_ids]
        np.testing.assert_allclose(panel[col], wide.to_numpy(dtype=float), rtol=FLOAT32_TOL)


def test_employed_in_december_and_monthly_from_the_spells(small):
    path, store, _ = small
    pop = population(store, age_min=50, age_max=66)
    spells = pd.read_parquet(path / "employment_spells.parquet")
    spells = spells[spells["person_id"].isin(pop.person_ids)]
    start = pd.to_datetime(spells["start_date"])
    end = pd.to_datetime(spells["end_date"]).fillna(pd.Timestamp("2023-12-31"))
    yearly = person_year(pop, outcomes=["employed"])["employed"]
    monthly = person_month(pop, outcomes=["employed"])["employed"]
    index = pd.Index(pop.person_ids)
    for year in (2015, 2019, 2023):
        dec = pd.Timestamp(year, 12, 1)
        # employed in December: a spell covering some day of the month
        on = spells.loc[(start <= dec + pd.offsets.MonthEnd(0)) & (end >= dec), "person_id"].unique()
        expected = np.zeros(len(pop), dtype=bool)
        expected[index.get_indexer(on)] = True
        np.testing.assert_array_equal(yearly[:, year - 2014] == 1, expected)
        np.testing.assert_array_equal(monthly[:, (year - 2014) * 12 + 11] == 1, expected)


def test_ladder_step_is_the_latest_measurement(small):
    path, store, _ = small
    pop = population(store, age_min=18, age_max=66)
    ladder = pd.read_parquet(path / "participation_ladder.parquet")
    ladder = ladder[ladder["person_id"].isin(pop.person_ids)].assign(date=lambda f: pd.to_datetime(f["date"]))
    panel = person_year(pop, outcomes=["ladder_step"])["ladder_step"]
    upto = ladder[ladder["date"] <= "2019-12-31"].sort_values("date").groupby("person_id")["step"].last()
    rows = pd.Index(pop.person_ids).get_indexer(upto.index)
    np.testing.assert_array_equal(panel[rows, 2019 - 2014], upto.to_numpy(dtype=float))
    assert np.isnan(np.delete(panel[:, 2019 - 2014], rows)).all()


def test_refuses_unknown_or_monthly_health_outcomes(small):
    _, store, _ = small
    pop = population(store)
    with pytest.raises(ParameterError, match="health is yearly"):
        person_month(pop, outcomes=["antidepressants"])
    with pytest.raises(ParameterError, match="'wellbeing' is not available"):
        person_year(pop, outcomes=["wellbeing"])
