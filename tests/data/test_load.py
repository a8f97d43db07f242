"""Every rule of the data contract, broken once: the loader names table, column, rule, count, rows."""

from __future__ import annotations

import pytest

from analysis.data import load_dataset
from analysis.errors import DataValidationError
from conftest import META, write_dataset


def test_valid_dataset_loads(tiny):
    ds = load_dataset(tiny)
    assert set(ds.tables) == {"persons", "benefit_spells", "employment_spells", "partnerships", "health_yearly"}
    assert ds.tables["persons"]["person_id"].tolist() == ["P1", "P2", "P3"]
    assert ds.meta["observation_end"].isoformat() == "2017-12-31"
    assert len(ds.content_hash) == 64


def _broken(tmp_path, tables, table, old, new):
    tables[table] = tables[table].replace(old, new, 1)
    return write_dataset(tmp_path / "broken", tables)


@pytest.mark.parametrize("table,old,new,message", [
    ("partnerships", "2015-02-14,divorce\nP2", "2009-02-14,divorce\nP2",
     r"partnerships.csv: 1 row has end_date before start_date \(rows 1\)"),
    ("persons", "P1,F,", "P1,X,", r"persons.csv: 1 row has an unknown code in sex \(allowed: F/M\) \(rows 1\)"),
    ("persons", "GM0599", "GM599", r"persons.csv: 1 row has a malformed municipality_code .* \(rows 3\)"),
    ("persons", "P2,M,1975", "P1,M,1975", r"persons.csv: 1 row has a duplicate person_id \(rows 2\)"),
    ("persons", "1990", "19x0", r"persons.csv: 1 row has a non-numeric value in birth_year \(rows 3\)"),
    ("benefit_spells", "P2,bijstand", "P9,bijstand", r"benefit_spells.csv: 1 row has a person_id not in persons \(rows 4\)"),
    ("benefit_spells", "2015-10-05", "2015-08-01",
     r"benefit_spells.csv: 1 row has overlapping spells of the same person and benefit \(rows 2\)"),
    ("benefit_spells", "2015-03-10", "2015-31-10", r"benefit_spells.csv: 1 row has an unparseable date in start_date"),
    ("benefit_spells", ",1620", ",-5", r"benefit_spells.csv: 1 row has monthly_amount_eur below 0 \(rows 4\)"),
    ("benefit_spells", "P1,ww", "P1,aow", r"benefit_spells.csv: 1 row has an unknown code in benefit"),
    ("employment_spells", "2017-06-30", "2018-06-30", r"employment_spells.csv: 1 row has end_date after observation_end"),
    ("health_yearly", "P2,2015,800", "P2,2015,-800", r"health_yearly.csv: 1 row has healthcare_costs_eur below 0 \(rows 2\)"),
    ("health_yearly", "150,1", "150,2", r"health_yearly.csv: 1 row has an unknown code in antidepressants"),
    ("partnerships", "marriage,2010", "friendship,2010", r"partnerships.csv: 1 row has an unknown code in kind"),
    ("partnerships", "2015-02-14,divorce\nP2", ",divorce\nP2", r"partnerships.csv: 1 row has an end_reason but no end_date"),
])
def test_rule_broken(tmp_path, tables, table, old, new, message):
    path = _broken(tmp_path, tables, table, old, new)
    with pytest.raises(DataValidationError, match=message):
        load_dataset(path)


def test_missing_required_table(tmp_path, tables):
    del tables["health_yearly"]
    with pytest.raises(DataValidationError, match=r"health_yearly.csv: required table missing"):
        load_dataset(write_dataset(tmp_path / "d", tables))


def test_missing_required_column(tmp_path, tables):
    tables["persons"] = tables["persons"].replace("birth_year", "born")
    with pytest.raises(DataValidationError, match=r"persons.csv: missing required column\(s\) birth_year"):
        load_dataset(write_dataset(tmp_path / "d", tables))


@pytest.mark.parametrize("column", ["bsn", "name", "address", "postcode", "first_name", "postcode_4"])
def test_identifying_columns_refused(tmp_path, tables, column):
    lines = tables["persons"].splitlines()
    lines = [lines[0] + f",{column}"] + [ln + ",x" for ln in lines[1:]]
    tables["persons"] = "\n".join(lines) + "\n"
    with pytest.raises(DataValidationError, match=rf"persons.csv: column\(s\) {column} look identifying"):
        load_dataset(write_dataset(tmp_path / "d", tables))


def test_missing_dataset_yml(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataValidationError, match=r"no dataset.yml"):
        load_dataset(tmp_path / "empty")


def test_bad_meta_date(tmp_path, tables):
    with pytest.raises(DataValidationError, match=r"observation_end 'soon' is not a date"):
        load_dataset(write_dataset(tmp_path / "d", tables, META.replace("2017-12-31", "soon")))


def test_all_problems_reported_together_with_at_most_five_rows(tmp_path, tables):
    rows = "".join(f"P{i},X,1980,GM0363,,\n" for i in range(10, 20))
    tables["persons"] = tables["persons"] + rows
    with pytest.raises(DataValidationError) as info:
        load_dataset(write_dataset(tmp_path / "d", tables))
    msg = str(info.value)
    assert "10 rows have an unknown code in sex (allowed: F/M) (rows 4, 5, 6, 7, 8)" in msg
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
