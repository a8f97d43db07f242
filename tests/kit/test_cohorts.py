"""rd.event_cohorts against direct pandas computations on the contract tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.kit import at_risk
from analysis.kit.cohorts import EVENTS, cohort_counts, event_cohorts
from analysis.kit.population import population


def _employed_in(spells: pd.DataFrame, ids, month_start: pd.Timestamp) -> np.ndarray:
    start = pd.to_datetime(spells["start_date"])
    end = pd.to_datetime(spells["end_date"]).fillna(pd.Timestamp("2023-12-31"))
    on = spells.loc[(start <= month_start + pd.offsets.MonthEnd(0)) & (end >= month_start), "person_id"].unique()
    out = np.zeros(len(ids), dtype=bool)
    rows = pd.Index(ids).get_indexer(on)
    out[rows[rows >= 0]] = True
    return out


def test_yearly_job_end_cohorts_and_at_risk_from_the_spells(small):
    path, store, _ = small
    pop = population(store, age_min=50, age_max=66)
    c = event_cohorts(pop, event="job_end", frequency="year")
    spells = pd.read_parquet(path / "employment_spells.parquet")
    ended = spells[spells["end_date"].notna() & spells["person_id"].isin(pop.person_ids)]
    first = pd.to_datetime(ended["end_date"]).groupby(ended["person_id"]).min()
    cohort = pd.Series(c.cohort, index=c.unit_ids)
    expected = (first.dt.year - 2014 + 1).reindex(c.unit_ids).fillna(0)
    np.testing.assert_array_equal(cohort.to_numpy(), expected.to_numpy())
    birth = pop.persons().set_index("person_id").loc[c.unit_ids, "birth_year"].to_numpy()
    for year in (2015, 2018, 2022):
        employed = _employed_in(spells, c.unit_ids, pd.Timestamp(year, 12, 1))
        later = (first.reindex(c.unit_ids) > pd.Timestamp(year, 12, 31)).to_numpy() | first.reindex(c.unit_ids).isna().to_numpy()
        band = (year - birth >= 50) & (year - birth <= 66)
        np.testing.assert_array_equal(c.at_risk[:, year - 2014], employed & later & band)


def test_monthly_divorce_cohorts_count_the_separations(small):
    path, store, _ = small
    pop = population(store, age_min=18, age_max=66, sex="F")
    c = event_cohorts(pop, event="divorce", at_risk=at_risk.partnered())
    unions = pd.read_parquet(path / "partnerships.parquet")
    ends = unions[unions["end_reason"].isin(["divorce", "separation"]) & unions["person_id"].isin(pop.person_ids)]
    first = pd.to_datetime(ends["end_date"]).groupby(ends["person_id"]).min()
    assert c.n_treated == int((first >= "2014-01-01").sum())
    counts = cohort_counts(c)
    assert counts["events"].sum() == c.n_treated
    assert (counts["at_risk_at_base"] <= counts["events"]).all()


def test_every_event_builds_with_at_risk_only_before_the_event(small):
    _, store, _ = small
    pop = population(store, age_min=18, age_max=66, first_year=2015, last_year=2022)
    for event in EVENTS:
        for frequency in ("month", "year"):
            c = event_cohorts(pop, event=event, frequency=frequency)
            assert len(c.periods) == (8 if frequency == "year" else 96)
            g = c.cohort.astype(int)
            treated = np.flatnonzero(g > 0)
            # never at risk from the event period on
            assert not any(c.at_risk[i, g[i] - 1:].any() for i in treated), (event, frequency)


def test_refuses_an_unknown_event_or_rule(small):
    _, store, _ = small
    pop = population(store)
    with pytest.raises(ParameterError, match="event='marriage'"):
        event_cohorts(pop, event="marriage")
    with pytest.raises(ParameterError, match="not an at-risk rule"):
        event_cohorts(pop, event="divorce", at_risk="partnered")


def test_the_estimator_front_refuses_a_panel_and_cohorts_that_do_not_match(small):
    from analysis.kit.designs import att_gt_at_risk
    from analysis.kit.panels import person_month, person_year

    _, store, _ = small
    pop = population(store, age_min=50, age_max=66)
    yearly = event_cohorts(pop, event="job_end", frequency="year")
    with pytest.raises(ParameterError, match="person-month"):
        att_gt_at_risk(person_month(pop, outcomes=["employed"]), yearly, outcome="employed")
    panel = person_year(pop, outcomes=["antidepressants"])
    with pytest.raises(ParameterError, match="outcome='costs'"):
        att_gt_at_risk(panel, yearly, outcome="costs")
    with pytest.raises(ParameterError, match="not available for job_end"):
        att_gt_at_risk(panel, yearly, outcome="antidepressants", covariates=["union_5_years_plus"])
