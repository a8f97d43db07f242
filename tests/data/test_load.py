"""Every rule of the data contract, broken once: the loader names table, column, rule, count, rows."""

from __future__ import annotations

import pytest

from analysis.data import load_dataset
from analysis.errors import DataValidationError
from data_helpers import META, only_problem, write_dataset


def test_valid_dataset_loads(tiny):
    ds = load_dataset(tiny)
    assert set(ds.tables) == {"persons", "benefit_spells", "employment_spells", "partnerships", "health_yearly"}
    assert ds.tables["persons"]["person_id"].tolist() == ["P1", "P2", "P3"]
    assert ds.meta["observation_end"].isoformat() == "2017-12-31"
    assert len(ds.content_hash) == 64


def _broken(tmp_path, tables, table, old, new):
    assert old in tables[table], "the test's data must contain the text it replaces"
    tables[table] = tables[table].replace(old, new, 1)
    return write_dataset(tmp_path / "broken", tables)


@pytest.mark.parametrize("table,old,new,rule,message", [
    ("partnerships", "2015-02-14,divorce\nP2", "2009-02-14,divorce\nP2", "end-after-start",
     r"partnerships.csv, column end_date, rule end-after-start: 1 row has an end_date before its start_date; "
     r"row 1 \(start_date='2010-05-01', end_date='2009-02-14'\)\. Fix: "),
    ("persons", "P1,F,", "P1,X,", "code",
     r"persons.csv, column sex, rule code: 1 row has an unknown code \(allowed: F/M\); row 1 \(sex='X'\)"),
    ("persons", "GM0599", "GM599", "pattern",
     r"persons.csv, column municipality_code, rule pattern: 1 row has a malformed code .*; "
     r"row 3 \(municipality_code='GM599'\)"),
    ("persons", "P3,F,1990,GM0599,,middle\n", "P3,F,1990,GM0599,,middle\nP2,F,1961,GM0599,,\n", "unique",
     r"persons.csv, column person_id, rule unique: 1 row has a person_id that an earlier row already has; "
     r"row 4 \(person_id='P2'\)"),
    ("persons", "1990", "19x0", "number",
     r"persons.csv, column birth_year, rule number: 1 row has a value that is not a number; row 3 \(birth_year='19x0'\)"),
    ("benefit_spells", "P2,bijstand", "P9,bijstand", "known-person",
     r"benefit_spells.csv, column person_id, rule known-person: 1 row has a person_id that is not in persons; "
     r"row 4 \(person_id='P9'\)"),
    ("benefit_spells", "2015-10-05", "2015-08-01", "no-overlap",
     r"benefit_spells.csv, column start_date, rule no-overlap: 1 row has a spell that overlaps an earlier spell "
     r"of the same person and benefit; row 2 \(person_id='P1', benefit='bijstand', start_date='2015-08-01'"),
    ("benefit_spells", "2015-03-10", "2015-31-10", "date",
     r"benefit_spells.csv, column start_date, rule date: 1 row has a value that is not a date YYYY-MM-DD; "
     r"row 1 \(start_date='2015-31-10'\)"),
    ("benefit_spells", ",1620", ",-5", "minimum",
     r"benefit_spells.csv, column monthly_amount_eur, rule minimum: 1 row has a value below 0; "
     r"row 4 \(monthly_amount_eur='-5'\)"),
    ("benefit_spells", "P1,ww", "P1,aow", "code", r"benefit_spells.csv, column benefit, rule code: 1 row has an unknown code"),
    ("employment_spells", "2017-06-30", "2018-06-30", "within-observation",
     r"employment_spells.csv, column end_date, rule within-observation: 1 row has an end_date after observation_end "
     r"2017-12-31; row 1 \(end_date='2018-06-30'\)"),
    ("employment_spells", "P3,2014-01-01", "P3,2018-01-01", "within-observation",
     r"employment_spells.csv, column start_date, rule within-observation: 1 row has a start_date after observation_end"),
    ("health_yearly", "P2,2015,800", "P2,2015,-800", "minimum",
     r"health_yearly.csv, column healthcare_costs_eur, rule minimum: 1 row has a value below 0; row 2"),
    ("health_yearly", "P2,2015", "P2,2101", "maximum",
     r"health_yearly.csv, column year, rule maximum: 1 row has a value above 2100; row 2 \(year='2101'\)"),
    ("health_yearly", "150,1", "150,2", "code", r"health_yearly.csv, column antidepressants, rule code: 1 row has an unknown code"),
    ("health_yearly", "P2,2015,800", "P1,2015,800", "unique",
     r"health_yearly.csv, column person_id \+ year, rule unique: 1 row has a person_id \+ year that an earlier row "
     r"already has; row 2 \(person_id='P1', year='2015'\)"),
    ("partnerships", "marriage,2010", "friendship,2010", "code", r"partnerships.csv, column kind, rule code: 1 row has an unknown code"),
    ("partnerships", "2015-02-14,divorce\nP2", ",divorce\nP2", "end-reason-needs-end",
     r"partnerships.csv, column end_reason, rule end-reason-needs-end: 1 row has an end_reason but no end_date; "
     r"row 1 \(end_date=empty, end_reason='divorce'\)"),
    ("persons", "P1,F,1980", "P1,,1980", "required-value",
     r"persons.csv, column sex, rule required-value: 1 row has an empty cell; row 1\. Fix: fill in sex"),
])
def test_rule_broken(tmp_path, tables, table, old, new, rule, message):
    path = _broken(tmp_path, tables, table, old, new)
    with pytest.raises(DataValidationError, match=message) as info:
        load_dataset(path)
    problem = only_problem(info, rule)
    assert problem.count == 1 and "Fix: " in str(problem)


def test_missing_required_table(tmp_path, tables):
    del tables["health_yearly"]
    with pytest.raises(DataValidationError, match=r"health_yearly.csv, rule required-table: is missing") as info:
        load_dataset(write_dataset(tmp_path / "d", tables))
    only_problem(info, "required-table")


def test_missing_required_column(tmp_path, tables):
    tables["persons"] = tables["persons"].replace("birth_year", "born")
    with pytest.raises(DataValidationError, match=r"persons.csv, column birth_year, rule required-columns: has no "
                                                  r"column\(s\) birth_year \(it has person_id, sex, born,") as info:
        load_dataset(write_dataset(tmp_path / "d", tables))
    only_problem(info, "required-columns")


def test_missing_dataset_yml(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataValidationError, match=r"no dataset.yml"):
        load_dataset(tmp_path / "empty")


def test_bad_meta_date(tmp_path, tables):
    with pytest.raises(DataValidationError, match=r"dataset.yml, rule meta-date: observation_end 'soon' is not a "
                                                  r"date YYYY-MM-DD") as info:
        load_dataset(write_dataset(tmp_path / "d", tables, META.replace("2017-12-31", "soon")))
    only_problem(info, "meta-date")


def test_all_problems_reported_together_with_at_most_five_rows(tmp_path, tables):
    rows = "".join(f"P{i},X,1980,GM0363,,\n" for i in range(10, 20))
    tables["persons"] = tables["persons"] + rows
    with pytest.raises(DataValidationError) as info:
        load_dataset(write_dataset(tmp_path / "d", tables))
    msg = str(info.value)
    assert ("persons.csv, column sex, rule code: 10 rows have an unknown code (allowed: F/M); rows 4 (sex='X'), "
            "5 (sex='X'), 6 (sex='X'), 7 (sex='X'), 8 (sex='X') (the first 5 of 10).") in msg
    assert msg.endswith("Fix the extract; nothing was written.")


def test_csv_and_parquet_give_the_same_tables(tiny, tmp_path):
    ds = load_dataset(tiny)
    pq = tmp_path / "pq"
    pq.mkdir()
    (pq / "dataset.yml").write_text(META)
    for name, frame in ds.tables.items():
        frame.to_parquet(pq / f"{name}.parquet", index=False)
    ds2 = load_dataset(pq)
    for name in ds.tables:
        a, b = ds.tables[name].reset_index(drop=True), ds2.tables[name].reset_index(drop=True)
        assert a.astype(str).equals(b.astype(str)), name


def test_merge_touching_is_a_named_option(tmp_path, tables):
    tables["employment_spells"] += "P1,2017-07-01,2017-09-30,2300\n"
    path = write_dataset(tmp_path / "d", tables)
    plain = load_dataset(path)
    merged = load_dataset(path, merge_touching=True)
    assert len(plain.tables["employment_spells"]) == 3
    assert len(merged.tables["employment_spells"]) == 2
    assert merged.options["merged_touching_spells"]["employment_spells"] == 1
    assert merged.content_hash != plain.content_hash


def test_no_contract_column_looks_identifying():
    """The identifying-name rule must never refuse a column the contract itself defines."""
    from analysis.data.contract import TABLES
    from analysis.data.load import _identifying

    for name, spec in TABLES.items():
        assert _identifying(name, [c.name for c in spec.columns]) == [], name
