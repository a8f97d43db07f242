"""Bad inputs of issue 13, each a dataset built to break exactly one rule.

``BAD_INPUTS`` maps a case id to (build, rule, pattern): ``build(tmp_path)`` writes the dataset and
returns its directory, ``rule`` is the one rule it breaks, ``pattern`` a regex the message must match
(file, column, rule, count and the offending values). Shared by the loader and the CLI tests.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

from data_helpers import META, TABLES, write_dataset


def _replace(table: str, old: str, new: str):
    def build(tmp_path: Path) -> Path:
        tables = dict(TABLES)
        assert old in tables[table], f"{old!r} not in {table}"
        tables[table] = tables[table].replace(old, new, 1)
        return write_dataset(tmp_path / "bad", tables)
    return build


def _file(name: str, content: bytes):
    def build(tmp_path: Path) -> Path:
        path = write_dataset(tmp_path / "bad")
        (path / name).write_bytes(content)
        return path
    return build


def _meta(text: str):
    def build(tmp_path: Path) -> Path:
        return write_dataset(tmp_path / "bad", meta=text)
    return build


def _as_parquet(table: str, change):
    """Write ``table`` as Parquet after ``change(frame)`` (the CSV removed)."""
    def build(tmp_path: Path) -> Path:
        path = write_dataset(tmp_path / "bad")
        frame = pd.read_csv(path / f"{table}.csv", dtype=str, keep_default_na=False)
        (path / f"{table}.csv").unlink()
        frame = change(frame)
        frame.to_parquet(path / f"{table}.parquet", index=False)
        return path
    return build


def _truncated_parquet(tmp_path: Path) -> Path:
    path = _as_parquet("persons", lambda f: f)(tmp_path)
    data = (path / "persons.parquet").read_bytes()
    (path / "persons.parquet").write_bytes(data[: len(data) // 2])
    return path


def _tz_dates(frame):
    frame["start_date"] = pd.to_datetime(frame["start_date"]).dt.tz_localize("Europe/Amsterdam")
    frame["end_date"] = pd.to_datetime(frame["end_date"].replace("", None))
    return frame


def _timed_dates(frame):
    frame["start_date"] = pd.to_datetime(frame["start_date"])
    frame.loc[1, "start_date"] += pd.Timedelta(hours=12, minutes=30)
    frame["end_date"] = pd.to_datetime(frame["end_date"].replace("", None))
    return frame


def _nan_parquet(tmp_path: Path) -> Path:
    """monthly_amount_eur with a NaN value (not a null: Parquet keeps them apart) in row 3."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = write_dataset(tmp_path / "bad")
    frame = pd.read_csv(path / "benefit_spells.csv", dtype=str, keep_default_na=False)
    (path / "benefit_spells.csv").unlink()
    amounts = frame.pop("monthly_amount_eur").astype(float).to_numpy()
    amounts[2] = np.nan
    frame["end_date"] = frame["end_date"].replace("", None)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column("monthly_amount_eur", pa.array(amounts, from_pandas=False))
    assert table.column("monthly_amount_eur").null_count == 0
    pq.write_table(table, path / "benefit_spells.parquet")
    return path


def _symlink_outside(tmp_path: Path) -> Path:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "partnerships.csv").write_text(TABLES["partnerships"])
    path = write_dataset(tmp_path / "bad")
    (path / "partnerships.csv").unlink()
    (path / "partnerships.csv").symlink_to(outside / "partnerships.csv")
    return path


def _meta_symlink_outside(tmp_path: Path) -> Path:
    (tmp_path / "shared.yml").write_text(META)
    path = write_dataset(tmp_path / "bad")
    (path / "dataset.yml").unlink()
    (path / "dataset.yml").symlink_to(tmp_path / "shared.yml")
    return path


def _broken_symlink(tmp_path: Path) -> Path:
    path = write_dataset(tmp_path / "bad")
    (path / "partnerships.csv").unlink()
    (path / "partnerships.csv").symlink_to(path / "gone.csv")
    return path


def _both_formats(tmp_path: Path) -> Path:
    path = write_dataset(tmp_path / "bad")
    pd.read_csv(path / "health_yearly.csv").to_parquet(path / "health_yearly.parquet", index=False)
    return path


def _numeric_ids(frame):
    frame["person_id"] = frame["person_id"].str[1:].astype(int)
    frame["end_date"] = frame["end_date"].replace("", None)
    return frame


def _municipalities(tmp_path: Path) -> Path:
    path = write_dataset(tmp_path / "bad")
    (path / "municipalities.csv").write_text("municipality_code,name\nGM0363,Amsterdam\n")
    return path


LATIN1 = ("person_id,intervention,start_date,end_date,cost_eur\n"
          "P1,Werkcafé,2016-01-01,2016-03-01,500\n").encode("latin-1")
HEALTH_HEADER = TABLES["health_yearly"].splitlines()[0] + "\n"
TAGGED = META.replace("name: tiny", 'name: !!python/object/apply:os.system ["echo pwned > PWNED"]')

BAD_INPUTS = {
    "empty-csv": (_file("persons.csv", b""), "empty-file",
                  r"persons.csv, rule empty-file: is empty \(0 bytes\)"),
    "gzip-csv": (_file("persons.csv", gzip.compress(TABLES["persons"].encode())), "utf-8", r"persons.csv, rule utf-8: is gzip-compressed, not plain text"),
    "utf-16-csv": (_file("persons.csv", TABLES["persons"].encode("utf-16")), "utf-8",
                   r"persons.csv, rule utf-8: is not UTF-8 text: byte ff at line 1 .*it looks UTF-16"),
    "header-only-csv": (_file("health_yearly.csv", HEALTH_HEADER.encode()), "rows",
                        r"health_yearly.csv, rule rows: has a header but no data rows"),
    "fractional-birth-year": (_replace("persons", "1980", "1980.5"), "whole-number",
                              r"persons.csv, column birth_year, rule whole-number: 1 row has a value that is not "
                              r"a whole number; row 1 \(birth_year='1980.5'\)"),
    "latin-1": (_file("interventions.csv", LATIN1), "utf-8",
                r"interventions.csv, rule utf-8: is not UTF-8 text: byte e9 at line 2 .*latin-1"),
    "malformed-yaml": (_meta("name: tiny\nsource: [hand-made\nobservation_start: 2014-01-01\n"), "yaml-syntax",
                       r"dataset.yml, rule yaml-syntax: is not valid YAML at line \d+, column \d+"),
    "tagged-yaml": (_meta(TAGGED), "yaml-tag",
                    r"dataset.yml, rule yaml-tag: holds the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' "
                    r"at line 1; tags are not allowed"),
    "yaml-not-a-mapping": (_meta("- tiny\n- 2014-01-01\n"), "yaml-mapping",
                           r"dataset.yml, rule yaml-mapping: holds a list, not a mapping"),
    "yaml-duplicate-key": (_meta(META + "observation_end: 2024-12-31\n"), "yaml-duplicate-key",
                           r"dataset.yml, rule yaml-duplicate-key: is refused: the key 'observation_end' appears "
                           r"twice \(line 5\)"),
    "yaml-name-not-text": (_meta(META.replace("name: tiny", "name: {first: tiny}")), "meta-text",
                           r"dataset.yml, rule meta-text: name is a dict, not a text"),
    "yaml-too-deep": (_meta("name: " + "[" * 5000 + "]" * 5000 + "\n"), "yaml-syntax",
                      r"dataset.yml, rule yaml-syntax: is nested more than 32 levels deep \(line 1\)"),
    "yaml-impossible-date": (_meta(META.replace("2017-12-31", "2017-02-30")), "meta-date",
                             r"dataset.yml, rule meta-date: observation_end '2017-02-30' is not a date YYYY-MM-DD "
                             r"between 1900-01-01 and 2100-12-31"),
    "yaml-far-date": (_meta(META.replace("2017-12-31", "3000-12-31")), "meta-date",
                      r"dataset.yml, rule meta-date: observation_end '3000-12-31' is not a date"),
    "yaml-date-with-time": (_meta(META.replace("2017-12-31", "2017-12-31T00:00:00+01:00")), "meta-date",
                            r"dataset.yml, rule meta-date: observation_end '2017-12-31T00:00:00\+01:00' is not a date"),
    "yaml-missing-key": (_meta(META.replace("source: hand-made test data\n", "")), "meta-key",
                         r"dataset.yml, rule meta-key: has no key 'source'"),
    "yaml-end-before-start": (_meta(META.replace("2014-01-01", "2019-01-01")), "meta-order",
                              r"dataset.yml, rule meta-order: observation_end 2017-12-31 is not after "
                              r"observation_start 2019-01-01"),
    "truncated-parquet": (_truncated_parquet, "parquet",
                          r"persons.parquet, rule parquet: is not a readable Parquet file, probably truncated"),
    "tz-aware-parquet-date": (_as_parquet("benefit_spells", _tz_dates), "date-without-time-zone",
                              r"benefit_spells.parquet, column start_date, rule date-without-time-zone: 4 rows have "
                              r"a date with a time zone \(column type datetime64\[.*, Europe/Amsterdam\]\); "
                              r"rows 1 \(start_date='2015-03-10 00:00:00\+01:00'\), 2 "),
    "time-of-day-parquet-date": (_as_parquet("benefit_spells", _timed_dates), "date-without-time",
                                 r"benefit_spells.parquet, column start_date, rule date-without-time: 1 row has a "
                                 r"date with a time of day; row 2 \(start_date='2015-10-05 12:30:00'\)"),
    "tz-aware-csv-date": (_replace("benefit_spells", "2015-03-10", "2015-03-10T00:00:00+01:00"), "date-without-time",
                          r"benefit_spells.csv, column start_date, rule date-without-time: 1 row has a time of day "
                          r"or a time zone where a date is expected; row 1 \(start_date='2015-03-10T00:00:00\+01:00'\)"),
    "non-ascii-date": (_replace("benefit_spells", "2015-03-10", "٢٠١٥-03-10"), "date",
                       r"benefit_spells.csv, column start_date, rule date: 1 row has a value that is not a date "
                       r"YYYY-MM-DD; row 1 \(start_date='٢٠١٥-03-10' \(non-ASCII: "),
    "symlink-outside": (_symlink_outside, "inside-dataset",
                        r"partnerships.csv, rule inside-dataset: is a symbolic link to .*elsewhere/partnerships.csv, "
                        r"outside the dataset directory"),
    "yaml-symlink-outside": (_meta_symlink_outside, "inside-dataset",
                             r"dataset.yml, rule inside-dataset: is a symbolic link to .*shared.yml, outside"),
    "broken-symlink": (_broken_symlink, "readable", r"partnerships.csv, rule readable: is a broken symbolic link"),
    "inf-amount": (_replace("benefit_spells", ",1620", ",inf"), "finite",
                   r"benefit_spells.csv, column monthly_amount_eur, rule finite: 1 row has a value that is not a "
                   r"finite number .*; row 4 \(monthly_amount_eur='inf'\)"),
    "nan-amount": (_replace("health_yearly", "P2,2015,800", "P2,2015,NaN"), "finite",
                   r"health_yearly.csv, column healthcare_costs_eur, rule finite: 1 row has a value that is not a "
                   r"finite number .*; row 2 \(healthcare_costs_eur='NaN'\)"),
    "nan-amount-parquet": (_nan_parquet, "finite",
                           r"benefit_spells.parquet, column monthly_amount_eur, rule finite: 1 row has a NaN \(not a number\) "
                           r"value, not a null; row 3\. Fix"),
    "non-ascii-municipality": (_replace("persons", "GM0599", "GM٠٣٦٣"), "pattern",
                               r"persons.csv, column municipality_code, rule pattern: 1 row has a malformed code "
                               r"\(expected GM \+ 4 ASCII digits, e.g. GM0363\); row 3 \(municipality_code='GM٠٣٦٣' "
                               r"\(non-ASCII: 'GM\\u0660\\u0663\\u0666\\u0663'\)\)"),
    "identifying-column": (_replace("persons", "education\nP1,F,1980,GM0363,dutch,low",
                                    "education,Achternaam\nP1,F,1980,GM0363,dutch,low,Jansen"), "no-identifying-columns",
                           r"persons.csv, column Achternaam, rule no-identifying-columns: the column\(s\) Achternaam "
                           r"look identifying"),
    "semicolons": (_file("persons.csv", TABLES["persons"].replace(",", ";").encode()), "comma-separated",
                   r"persons.csv, rule comma-separated: is separated by semicolons, not commas"),
    "ragged-row": (_replace("persons", "P2,M,1975,GM0363,western,high", "P2,M,1975,GM0363,western,high,extra"),
                   "csv-syntax", r"persons.csv, rule csv-syntax: is not valid CSV: Expected 6 fields in line 3, saw 7"),
    "repeated-column": (_replace("persons", "education\n", "sex\n"), "unique-columns",
                        r"persons.csv, rule unique-columns: repeats the column\(s\) 'sex'"),
    "csv-and-parquet": (_both_formats, "one-file",
                        r"health_yearly.csv, rule one-file: both health_yearly.csv and health_yearly.parquet exist"),
    "numeric-ids": (_as_parquet("partnerships", _numeric_ids), "string-id",
                    r"partnerships.parquet, column person_id, rule string-id: 2 rows have numeric identifiers"),
    "unknown-municipality": (_municipalities, "known-municipality",
                             r"persons.csv, column municipality_code, rule known-municipality: 1 row has a "
                             r"municipality_code that is not in municipalities; row 3 \(municipality_code='GM0599'\)"),
}
