"""Validation as SQL over the files, lazy tables, the store read from the files (issue #18).

The rules themselves are tested rule by rule in test_load.py and test_bad_input.py (unchanged); these
tests hold what is new: nothing is read until asked for, the spill directory goes away, streaming
does not change row numbers or example values, and the store built from the files equals the store
built from the typed frames (the way it was built before).
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import analysis.data.files as files_mod
import analysis.data.store as store_mod
from analysis.data import build_store, load_dataset
from analysis.data.lazy import LazyTables
from analysis.data.load import Dataset
from analysis.errors import DataValidationError, ParameterError
from data_helpers import META, TABLES, only_problem, write_dataset


def test_tables_are_read_on_first_access_and_cached(tiny, tmp_path):
    ds = load_dataset(tiny, work_dir=tmp_path / "work")
    assert isinstance(ds.tables, LazyTables) and ds.tables.loaded() == []
    assert "persons" in ds.tables and "interventions" not in ds.tables and ds.tables.get("interventions") is None
    assert ds.tables.loaded() == []  # membership and get of a missing table read nothing
    persons = ds.tables["persons"]
    assert ds.tables["persons"] is persons and ds.tables.loaded() == ["persons"]
    assert ds.n_rows() == {"persons": 3, "benefit_spells": 4, "employment_spells": 2, "partnerships": 2,
                           "health_yearly": 2}
    with pytest.raises(TypeError):
        ds.tables["persons"] = persons  # read-only


def test_typed_as_the_contract_says(tiny, tmp_path):
    t = load_dataset(tiny, work_dir=tmp_path / "work").tables
    spells = t["benefit_spells"]
    assert spells["start_date"].dtype == "datetime64[ns]" and spells["end_date"].dtype == "datetime64[ns]"
    assert spells["end_date"].isna().tolist() == [False, False, False, True]  # open spell: NaT
    assert t["persons"]["birth_year"].dtype == "Int64" and t["persons"]["person_id"].dtype == object
    assert t["persons"]["migration_background"].tolist() == ["dutch", "western", None]
    assert t["health_yearly"]["healthcare_costs_eur"].dtype == "float64"
    assert list(t["persons"].index) == [0, 1, 2]


def test_spill_directory_is_removed_after_success_and_failure(tiny, tmp_path):
    work = tmp_path / "work" / "processed"
    load_dataset(tiny, work_dir=work)
    assert not (tmp_path / "work").exists()  # the directories it had to create are gone too
    work.mkdir(parents=True)
    bad = write_dataset(tmp_path / "bad", dict(TABLES, persons=TABLES["persons"].replace("P1,F", "P1,Q")))
    with pytest.raises(DataValidationError):
        load_dataset(bad, work_dir=work)
    assert list(work.iterdir()) == []


def test_memory_limit_is_checked(tiny, tmp_path, monkeypatch):
    with pytest.raises(ParameterError, match=r"memory_limit='lots' is not a memory size"):
        load_dataset(tiny, memory_limit="lots", work_dir=tmp_path)
    monkeypatch.setenv("RENDEERT_MEMORY_LIMIT", "2 gigabytes")
    with pytest.raises(ParameterError, match=r"memory_limit='2 gigabytes'"):
        load_dataset(tiny, work_dir=tmp_path)
    monkeypatch.setenv("RENDEERT_MEMORY_LIMIT", "256MB")
    assert load_dataset(tiny, work_dir=tmp_path).tables["persons"].shape == (3, 6)


def test_a_file_changed_after_validation_is_refused(tiny, tmp_path):
    ds = load_dataset(tiny, work_dir=tmp_path / "work")
    (tiny / "persons.csv").write_text(TABLES["persons"] + "P4,M,1999,GM0363,dutch,low\n")
    with pytest.raises(DataValidationError, match=r"persons.csv: changed since the dataset was validated"):
        ds.tables["persons"]


def test_ragged_row_at_a_chunk_start_is_refused(tmp_path, monkeypatch):
    """pandas' chunked reader lets a row with too many fields through when it starts a chunk."""
    monkeypatch.setattr(files_mod, "CSV_CHUNK_ROWS", 1)
    tables = dict(TABLES, persons=TABLES["persons"].replace("P2,M,1975,GM0363,western,high",
                                                            "P2,M,1975,GM0363,western,high,extra"))
    with pytest.raises(DataValidationError, match=r"persons.csv, rule csv-syntax: is not valid CSV: Expected 6 "
                                                  r"fields in line 3, saw 7") as info:
        load_dataset(write_dataset(tmp_path / "d", tables), work_dir=tmp_path / "work")
    only_problem(info, "csv-syntax")


def test_row_numbers_and_values_across_csv_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(files_mod, "CSV_CHUNK_ROWS", 2)  # rows 7 and 9 are in the 4th and 5th chunk
    rows = "".join(f"P{i},{'X' if i in (13, 15) else 'F'},1980,GM0363,,\n" for i in range(10, 16))
    tables = dict(TABLES, persons=TABLES["persons"] + rows)
    with pytest.raises(DataValidationError, match=r"persons.csv, column sex, rule code: 2 rows have an unknown "
                                                  r"code \(allowed: F/M\); rows 7 \(sex='X'\), 9 \(sex='X'\)\."):
        load_dataset(write_dataset(tmp_path / "d", tables), work_dir=tmp_path / "work")


def test_example_values_from_the_right_parquet_row_group(tmp_path):
    path = write_dataset(tmp_path / "d")
    persons = pd.DataFrame({"person_id": [f"P{i}" for i in range(1, 8)], "sex": list("FMFMFMF"),
                            "birth_year": [1980, 1975, 1990, 1985, 1700, 1960, 1950],
                            "municipality_code": ["GM0363"] * 7})
    (path / "persons.csv").unlink()
    pq.write_table(pa.Table.from_pandas(persons, preserve_index=False), path / "persons.parquet", row_group_size=2)
    assert pq.ParquetFile(path / "persons.parquet").metadata.num_row_groups == 4
    with pytest.raises(DataValidationError, match=r"persons.parquet, column birth_year, rule minimum: 1 row has a "
                                                  r"value below 1900; row 5 \(birth_year='1700'\)") as info:
        load_dataset(path, work_dir=tmp_path / "work")
    only_problem(info, "minimum")


def test_unicode_blanks_are_stripped_as_python_strips_them(tmp_path):
    """A no-break space or an ideographic space around an id is stripped, so the reference still holds."""
    tables = dict(TABLES, health_yearly=TABLES["health_yearly"].replace("P2,2015", "\u00a0P2\u3000,2015"))
    ds = load_dataset(write_dataset(tmp_path / "d", tables), work_dir=tmp_path / "work")
    assert ds.tables["health_yearly"]["person_id"].tolist() == ["P1", "P2"]


def test_merge_touching_counts_in_sql_and_repairs_on_read(tmp_path):
    tables = dict(TABLES)
    # P1: a job touching the one before (2017-06-30 -> 2017-07-01) and one a day later than touching
    tables["employment_spells"] += "P1,2017-07-01,2017-09-30,2300\nP1,2017-10-02,2017-11-30,2300\n"
    ds = load_dataset(write_dataset(tmp_path / "d", tables), merge_touching=True, work_dir=tmp_path / "work")
    assert ds.options["merged_touching_spells"] == {"benefit_spells": 0, "employment_spells": 1}
    assert ds.tables.merged("employment_spells") and ds.n_rows()["employment_spells"] == 3
    emp = ds.tables["employment_spells"].query("person_id == 'P1'")
    assert emp["end_date"].dt.strftime("%Y-%m-%d").tolist() == ["2017-09-30", "2017-11-30"]


def test_pickled_tables_read_again_from_the_files(tiny, tmp_path):
    ds = load_dataset(tiny, work_dir=tmp_path / "work")
    ds.tables["persons"]
    copy = pickle.loads(pickle.dumps(ds))
    assert copy.tables.loaded() == [] and copy.tables == ds.tables
    pd.testing.assert_frame_equal(copy.tables["persons"], ds.tables["persons"])


def _frames_dataset(ds: Dataset) -> Dataset:
    """The same dataset with its tables as a plain dict of frames: the store registers them in DuckDB,
    as it did before it read the files itself."""
    return Dataset(path=ds.path, meta=ds.meta, tables={n: ds.tables[n] for n in ds.tables}, sha256=ds.sha256,
                   content_hash=ds.content_hash, options=ds.options)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_store_from_the_files_equals_the_store_from_the_frames(tmp_path, fmt):
    from analysis.data.synthetic import generate

    path = generate(tmp_path / "d", n_persons=2_000, seed=5)
    if fmt == "csv":  # the same dataset as CSV (dates as text, empty cells for nulls)
        for file in path.glob("*.parquet"):
            pd.read_parquet(file).to_csv(file.with_suffix(".csv"), index=False, date_format="%Y-%m-%d")
            file.unlink()
    ds = load_dataset(path, work_dir=tmp_path / "work")
    from_files = build_store(ds, root=tmp_path / "files")
    from_frames = build_store(_frames_dataset(ds), root=tmp_path / "frames")
    for name in store_mod.TABLES:
        a, b = pq.read_table(from_files.path(name)), pq.read_table(from_frames.path(name))
        assert a.num_rows > 0 or name == "benefit_ends", name
        assert a.schema.equals(b.schema) and a.equals(b), name


def test_store_build_leaves_no_spill_directory(tiny, tmp_path):
    root = tmp_path / "proc"
    build_store(load_dataset(tiny, work_dir=tmp_path / "work"), root=root)
    assert [p.name for p in root.iterdir()] == ["tiny"]


def test_nan_in_parquet_is_seen_despite_statistics(tmp_path):
    """Parquet statistics leave NaN out; DuckDB must not conclude from them that there is none."""
    path = write_dataset(tmp_path / "d")
    frame = pd.read_csv(path / "health_yearly.csv")
    frame["gp_costs_eur"] = frame["gp_costs_eur"].astype(float)
    frame.loc[1, "gp_costs_eur"] = np.nan
    (path / "health_yearly.csv").unlink()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).set_column(
        4, "gp_costs_eur", pa.array(frame["gp_costs_eur"].to_numpy(), from_pandas=False)),
        path / "health_yearly.parquet")
    with pytest.raises(DataValidationError, match=r"health_yearly.parquet, column gp_costs_eur, rule finite: 1 row "
                                                  r"has a NaN \(not a number\) value, not a null; row 2\."):
        load_dataset(path, work_dir=tmp_path / "work")


def test_timestamp_outside_the_pandas_range_is_refused(tmp_path):
    """pandas holds nanosecond timestamps (1677-2262): a Parquet timestamp of the year 1000 cannot be a date."""
    import datetime

    path = write_dataset(tmp_path / "d")
    (path / "employment_spells.csv").unlink()
    pq.write_table(pa.table({
        "person_id": ["P1", "P3"],
        "start_date": pa.array([datetime.datetime(1000, 1, 1), datetime.datetime(2014, 1, 1)], pa.timestamp("us")),
        "end_date": pa.array([None, None], pa.timestamp("us"))}), path / "employment_spells.parquet")
    with pytest.raises(DataValidationError, match=r"employment_spells.parquet, rule parquet: holds values pandas "
                                                  r"cannot represent") as info:
        load_dataset(path, work_dir=tmp_path / "work")
    only_problem(info, "parquet")
