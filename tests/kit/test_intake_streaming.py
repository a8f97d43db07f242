"""The intake design's lean builders equal the dense computations they replace (issue #18).

Each reference below is the code the study ran before (kept here verbatim in substance): the whole-array
int16 difference array of ``interval_matrix``, the rows x months matrix of union starts of
``divorce_cohorts``, the units x months employment matrix read at 12 lags for prior dependence, and the
whole ``persons`` frame of the population. The new paths are exact: 0/1 and integer arithmetic, so the
comparisons are equalities (``array_equal``), not tolerances.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.kit import events


def _interval_matrix_dense(rows, start, end, n, T):
    """The previous interval_matrix: one n x (T + 1) int16 difference array."""
    start = np.clip(np.asarray(start, dtype=np.int64), 0, T)
    end = np.clip(np.asarray(end, dtype=np.int64), -1, T - 1)
    ok = end >= start
    diff = np.zeros((n, T + 1), dtype=np.int16)
    np.add.at(diff, (rows[ok], start[ok]), 1)
    np.add.at(diff, (rows[ok], end[ok] + 1), -1)
    return np.cumsum(diff[:, :T], axis=1, dtype=np.int16) > 0


def _divorce_dense(store, persons):
    """The previous divorce_cohorts: partnered matrix, cohorts and the rows x T matrix of union starts."""
    ds = store.dataset
    start, end = ds.meta["observation_start"], ds.meta["observation_end"]
    m0, m1 = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    T = m1 - m0 + 1
    unions = ds.tables["partnerships"]
    people = persons[persons["person_id"].isin(unions["person_id"])].reset_index(drop=True)
    rows = pd.Index(people["person_id"]).get_indexer(unions["person_id"])
    u = unions[rows >= 0]
    rows = rows[rows >= 0]
    s = events._month(u["start_date"]) - m0
    e = np.where(u["end_date"].isna(), T - 1, events._month(u["end_date"].fillna(pd.Timestamp(end))) - m0)
    partnered = _interval_matrix_dense(rows, s, e, len(people), T)
    ended = u["end_reason"].isin(["divorce", "separation"]).to_numpy() & u["end_date"].notna().to_numpy()
    first = np.full(len(people), np.iinfo(np.int64).max)
    np.minimum.at(first, rows[ended], e[ended])
    in_window = (first >= 0) & (first < T)
    cohort = np.where(in_window, first + 1, 0).astype(float)
    not_yet = np.arange(T)[None, :] < np.where(in_window, first, T)[:, None]
    union_start = np.full((len(people), T), -1, dtype=np.int32)
    order = np.argsort(s, kind="stable")
    for r, a, b in zip(rows[order], s[order], e[order]):
        lo, hi = max(a, 0), min(b, T - 1)
        if hi >= lo:
            union_start[r, lo:hi + 1] = a
    base = events._person_covariates(people)

    def covariates_at(b):
        year = (m0 + b) // 12
        dur = np.where(union_start[:, b] != -1, (b - union_start[:, b]) / 12.0, 0.0)
        return np.column_stack([year - base["birth_year"], base["female"], base["education_middle"],
                                base["education_high"], base["migration_western"], base["migration_non_western"],
                                (dur >= 2) & (dur < 5), dur >= 5])

    return people["person_id"].to_numpy(), cohort, partnered & not_yet, covariates_at, T


def test_interval_matrix_equals_the_dense_difference_array(monkeypatch):
    rng = np.random.default_rng(11)
    n, T, m = 500, 40, 3_000
    rows = rng.integers(0, n, m)
    start = rng.integers(-10, T + 5, m)
    end = start + rng.integers(-3, 30, m)          # some empty (end < start), some past the window
    expected = _interval_matrix_dense(rows, start, end, n, T)
    assert expected.any() and not expected.all()
    for block in (7, 64, 100_000):                # blocks smaller than, dividing and larger than n
        monkeypatch.setattr(events, "INTERVAL_BLOCK_ROWS", block)
        got = events.interval_matrix(rows, start, end, n, T)
        assert got.dtype == bool and np.array_equal(got, expected)
    assert not events.interval_matrix(rows[:0], start[:0], end[:0], n, T).any()


def test_union_duration_counts_a_union_from_the_month_before_the_window_as_none():
    # the dense matrix used -1 for "no union", so a union starting at position -1 had duration 0 there
    rows, start, end = np.array([0, 1, 2]), np.array([-1, -30, 5]), np.array([20, 20, 20])
    got = events.union_duration_at(rows, start, end, 3, 24, 10)
    assert np.array_equal(got, np.array([0.0, 40 / 12.0, 5 / 12.0]))


def test_divorce_cohorts_equal_the_dense_build(small):
    _, store, _ = small
    persons = store.dataset.tables["persons"]
    ids, cohort, at_risk, cov_dense, T = _divorce_dense(store, persons)
    ev = events.divorce_cohorts(store, persons=persons)
    assert np.array_equal(ev.unit_ids, ids)
    assert np.array_equal(ev.cohort, cohort) and (cohort > 0).sum() > 0
    assert np.array_equal(ev.at_risk, at_risk)
    durations = 0
    for b in range(T):
        new, old = ev.covariates_at(b), cov_dense(b)
        assert np.array_equal(new, old), b
        durations += int(old[:, -2:].sum())
    assert durations > 0                           # the union-duration columns are not all zero


def test_read_columns_equals_the_full_table(small):
    _, store, _ = small
    ds = store.dataset
    cols = ["person_id", "start_date", "end_date", "end_reason"]
    got = events.read_columns(ds, "partnerships", cols)
    pd.testing.assert_frame_equal(got, ds.tables["partnerships"][cols])


@pytest.mark.parametrize("event", ["divorce", "job_loss"])
def test_design_equals_the_dense_design(small, event):
    """design(): the same units, cohorts, sexes and prior dependence as from the whole persons frame and
    the units x months employment matrix (the previous code)."""
    import analysis as rd
    from analysis.kit.events import employment_matrix
    from analysis.studies.intake.effects import design

    _, store, _ = small
    meta = store.dataset.meta
    pop = rd.population(store, first_year=meta["observation_start"].year, last_year=meta["observation_end"].year)

    class _Run:  # what design() reads of a run
        dataset = store.dataset
        policy = type("P", (), {"min_units": 10})()

    _Run.store = store
    dsg = design(_Run(), pop, event=event, by="education")
    builder = events.divorce_cohorts if event == "divorce" else events.job_end_cohorts
    ev = builder(store, persons=pop.persons())
    assert np.array_equal(dsg.cohorts.unit_ids, ev.unit_ids) and np.array_equal(dsg.cohorts.at_risk, ev.at_risk)
    for b in (0, len(ev.periods) // 2):
        assert np.array_equal(dsg.cohorts.covariates_at(b), ev.covariates_at(b))
    T, m0 = len(ev.periods), int(ev.periods[0])
    emp = employment_matrix(store, ev.unit_ids, m0, T)
    c = ev.cohort.astype(int)
    treated = c > 0
    worked = np.zeros(len(c), dtype=bool)
    for lag in range(1, 13):
        pos = np.clip(c - 1 - lag, 0, T - 1)
        worked |= treated & (c - 1 - lag >= 0) & emp[np.arange(len(c)), pos]
    persons = pop.persons().set_index("person_id").loc[ev.unit_ids]
    assert np.array_equal(dsg.people["cohort"].to_numpy(), c)
    assert np.array_equal(dsg.people["sex"].to_numpy(), persons["sex"].to_numpy())
    assert list(dsg.people["dependent"]) == list(np.where(treated, ~worked, None))
    assert worked.sum() > 0
    if event == "divorce":                         # both kinds of prior dependence occur
        assert worked.sum() < treated.sum()
    assert np.array_equal(dsg.people["education"].to_numpy(), persons["education"].astype(str).to_numpy())


@pytest.mark.parametrize("event", ["divorce", "job_end"])
def test_event_cohorts_native_equal_with_only_covariate_columns(small, event):
    """rd.event_cohorts reads only the covariate columns of persons: the same cohorts and covariates."""
    import analysis as rd
    from analysis.kit.cohorts import NATIVE

    _, store, _ = small
    meta = store.dataset.meta
    pop = rd.population(store, first_year=meta["observation_start"].year, last_year=meta["observation_end"].year)
    new = rd.event_cohorts(pop, event=event)
    old = NATIVE[(event, "month")](store, persons=pop.persons())
    assert np.array_equal(new.unit_ids, old.unit_ids) and np.array_equal(new.cohort, old.cohort)
    for b in (0, len(old.periods) // 2, len(old.periods) - 1):
        assert np.array_equal(new.covariates_at(b), old.covariates_at(b))


def test_design_of_a_shorter_period_equals_the_whole_persons_frame(small):
    """A period shorter than the data's (the kit's generic cohorts): sex and ``by`` of the units read by id
    equal those of the whole persons frame (the previous code)."""
    import analysis as rd
    from analysis.studies.intake.effects import design

    _, store, _ = small
    meta = store.dataset.meta
    pop = rd.population(store, first_year=meta["observation_start"].year + 1, last_year=meta["observation_end"].year)

    class _Run:
        dataset = store.dataset
        policy = type("P", (), {"min_units": 10})()

    _Run.store = store
    dsg = design(_Run(), pop, event="divorce", by="migration_background")
    persons = pop.persons().set_index("person_id").loc[dsg.cohorts.unit_ids]
    assert len(dsg.people) > 0 and (dsg.people["cohort"] > 0).any()
    assert np.array_equal(dsg.people["sex"].to_numpy(), persons["sex"].to_numpy())
    assert np.array_equal(dsg.people["migration_background"].to_numpy(),
                          persons["migration_background"].astype(str).to_numpy())
