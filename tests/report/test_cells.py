"""Disclosure control on cells from the database gives the same checked table as on the unit rows.

The reference is :func:`safe_aggregate` on the rows themselves (the path the studies used before issue
#18); the cell path runs the GROUP BY in DuckDB (:func:`cell_stats`) and decides on the cells
(:func:`safe_aggregate_cells`). On random frames whose cells lie near the thresholds (sizes, numerators and
complements around 10, a few dominant amounts, withheld cells that force secondary suppression, levels without
rows, person-years with a unit id) both must publish the same values and n, withhold the same cells by the
same rules and write the same disclosure log.
"""

from __future__ import annotations

import warnings

import duckdb
import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError, SmallCellWarning
from analysis.report.cells import cell_stats, safe_aggregate_cells, safe_aggregate_sql
from analysis.report.disclosure import DisclosureLog, DisclosurePolicy, safe_aggregate
from checked_tables import assert_same_table

SEEDS = (0, 1, 2)
POLICY = DisclosurePolicy()


def _frame(seed: int, *, person_years: bool) -> pd.DataFrame:
    """Rows of cells (a, b) with sizes around the minimum; amounts with dominant contributors in some cells."""
    rng = np.random.default_rng(seed)
    parts = []
    pid = 0
    for a in ("a1", "a2", "a3", "a4"):
        for b in ("b1", "b2", "b3"):
            if rng.random() < 0.1:
                continue  # a cell without rows: only levels= shows it
            persons = int(rng.integers(3, 30))
            reps = rng.integers(1, 4, size=persons) if person_years else np.ones(persons, dtype=int)
            ids = np.repeat(np.arange(pid, pid + persons), reps)
            pid += persons
            m = len(ids)
            p = rng.choice([0.05, 0.3, 0.5, 0.7, 0.95])
            amount = rng.gamma(2.0, 500.0, size=m)
            if rng.random() < 0.3:  # one or two dominant contributors
                amount[: int(rng.integers(1, 3))] *= 1000.0
            amount[rng.random(m) < 0.05] = np.nan
            parts.append(pd.DataFrame({"a": a, "b": b, "pid": ids, "flag": (rng.random(m) < p).astype(float),
                                       "amount": amount, "w": rng.integers(1, 4, size=m)}))
    return pd.concat(parts, ignore_index=True)


def _same(expected, got) -> None:
    assert_same_table(expected, got)
    assert got.kinds == expected.kinds and got.keys == expected.keys


def _both(frame, *, by, stat, value=None, unit_id=None, **options):
    ref_log, cell_log = DisclosureLog(), DisclosureLog()
    with warnings.catch_warnings(record=True) as ref_warn:
        warnings.simplefilter("always", SmallCellWarning)
        expected = safe_aggregate(frame, by=by, value=value, stat=stat, unit_id=unit_id, policy=POLICY, log=ref_log,
                                  name="t", **options)
    con = duckdb.connect()
    con.register("rows", frame)
    with warnings.catch_warnings(record=True) as cell_warn:
        warnings.simplefilter("always", SmallCellWarning)
        got = safe_aggregate_sql(con, "SELECT * FROM rows", by=by, value=value, stat=stat, unit_id=unit_id,
                                 policy=POLICY, log=cell_log, name="t", **options)
    _same(expected, got)
    assert cell_log.to_records() == ref_log.to_records()
    assert len(cell_warn) == len(ref_warn)
    return expected


CASES = [  # (by, stat, value, unit_id, options)
    (["a"], "count", None, None, {}),
    (["a", "b"], "count", None, None, {}),
    (["a", "b"], "count", None, None, {"total_published": True}),
    (["a", "b"], "count", None, "pid", {}),
    (["a"], "share", "flag", None, {"total_published": True}),
    (["a", "b"], "share", "flag", None, {}),
    (["a", "b"], "share", "flag", "pid", {}),
    (["a"], "sum", "amount", None, {}),
    (["a", "b"], "mean", "amount", None, {}),
    (["a", "b"], "mean", "amount", "pid", {}),
    (["b"], "sum", "amount", "pid", {}),
]
LEVELS = {"a": ["a0", "a1", "a2", "a3", "a4"], "b": ["b1", "b2", "b3"]}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("person_years", [False, True])
@pytest.mark.parametrize("with_levels", [False, True])
def test_cells_from_the_database_decide_as_the_unit_rows(seed, person_years, with_levels):
    frame = _frame(seed, person_years=person_years)
    rules = set()
    for by, stat, value, unit_id, options in CASES:
        if unit_id is None and person_years:
            continue
        levels = {k: LEVELS[k] for k in by} if with_levels else None
        table = _both(frame, by=by, stat=stat, value=value, unit_id=unit_id, levels=levels, **options)
        rules |= set(table._raw["rule"].dropna())
    assert rules, "the frames are meant to put cells on both sides of the thresholds"


@pytest.mark.slow
def test_the_random_frames_reach_every_rule():
    """The cases above exercise each decision: size, numerator, complement, dominance and secondary."""
    seen = set()
    for seed in SEEDS:
        for person_years in (False, True):
            frame = _frame(seed, person_years=person_years)
            for by, stat, value, unit_id, options in CASES:
                if unit_id is None and person_years:
                    continue
                log = DisclosureLog()
                with warnings.catch_warnings(record=True):  # the withheld cells are the point here
                    warnings.simplefilter("always", SmallCellWarning)
                    t = safe_aggregate(frame, by=by, value=value, stat=stat, unit_id=unit_id, policy=POLICY, log=log,
                                       name="t", levels={k: LEVELS[k] for k in by}, **options)
                seen |= set(t._raw["rule"].dropna())
    assert {"min_units", "numerator", "complement", "dominance", "secondary"} <= seen


def test_counts_of_weighted_rows_equal_units():
    """Counts aggregated in the database (units=) and the cells path agree."""
    frame = _frame(3, person_years=False)
    con = duckdb.connect()
    con.register("rows", frame)
    cells = con.execute("SELECT a, b, sum(w)::DOUBLE AS n FROM rows GROUP BY a, b").df()
    with pytest.warns(SmallCellWarning):  # level a0 has no rows: withheld in both
        ref = safe_aggregate(frame, by=["a", "b"], stat="count", units="w", policy=POLICY, log=DisclosureLog(),
                             name="t", levels=LEVELS)
    with pytest.warns(SmallCellWarning):
        got = safe_aggregate_cells(cells, by=["a", "b"], stat="count", policy=POLICY, log=DisclosureLog(), name="t",
                                   levels=LEVELS)
    _same(ref, got)


def test_dominance_at_the_boundary():
    """Two contributors of exactly 90 % are not dominant (the rule is "more than 90 %"); 91 % is."""
    rows = pd.DataFrame({"a": ["x"] * 12 + ["y"] * 12,
                         "amount": [45.0, 45.0] + [1.0] * 10 + [45.5, 45.5] + [0.9] * 10})
    table = _both(rows, by=["a"], stat="sum", value="amount")
    assert table._raw["rule"].tolist() == [None, "dominance"]


def test_a_share_of_amounts_and_a_foreign_policy_are_refused():
    con = duckdb.connect()
    con.register("rows", _frame(0, person_years=False))
    with pytest.raises(ParameterError, match="0/1"):
        cell_stats(con, "SELECT * FROM rows", by=["a"], stat="share", value="amount", policy=POLICY)
    cells = cell_stats(con, "SELECT * FROM rows", by=["a"], stat="mean", value="amount", policy=POLICY)
    stricter = DisclosurePolicy(dominance_top_n=3)
    with pytest.raises(ParameterError, match="top_3"):
        safe_aggregate_cells(cells, by=["a"], stat="mean", policy=stricter, log=DisclosureLog(), name="t")
