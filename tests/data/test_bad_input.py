"""Issue 13, item 8: every bad input is refused in one clean error naming file, column, rule,
count, example rows with their values, and a fix; nothing is executed, nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import analysis.data.files as files_mod
from analysis.data import load_dataset
from analysis.errors import DataValidationError
from data_helpers import META, TABLES, only_problem, write_dataset
from data_bad_inputs import BAD_INPUTS


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_refused_with_one_problem(tmp_path, case):
    build, rule, pattern = BAD_INPUTS[case]
    path = build(tmp_path)
    with pytest.raises(DataValidationError, match=pattern) as info:
        load_dataset(path)
    problem = only_problem(info, rule)
    message = str(info.value)
    assert "Fix: " in str(problem) and problem.fix
    assert message.endswith("nothing was written.")
    assert "Traceback" not in message


def test_tagged_yaml_is_not_executed(tmp_path, monkeypatch):
    build, _, _ = BAD_INPUTS["tagged-yaml"]
    path = build(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataValidationError, match="tags are not allowed"):
        load_dataset(path)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("tag", ["!!str 2014-01-01", "!custom tiny", "!<tag:example.com,2000:x> y"])
def test_every_yaml_tag_refused(tmp_path, tag):
    meta = META.replace("name: tiny", f"name: {tag}")
    with pytest.raises(DataValidationError, match=r"dataset.yml, rule yaml-tag: holds the YAML tag") as info:
        load_dataset(write_dataset(tmp_path / "d", meta=meta))
    only_problem(info, "yaml-tag")


def test_unreadable_file_simulated(tmp_path, monkeypatch):
    path = write_dataset(tmp_path / "d")
    real = files_mod.open_binary

    def opener(p):
        if Path(p).name == "employment_spells.csv":
            raise PermissionError(13, "Permission denied", str(p))
        return real(p)

    monkeypatch.setattr(files_mod, "open_binary", opener)
    with pytest.raises(DataValidationError, match=r"employment_spells.csv, rule readable: cannot be read: permission "
                                                  r"denied \(Permission denied\)\. Fix: give your account read") as info:
        load_dataset(path)
    only_problem(info, "readable")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root reads a chmod 000 file anyway; test_unreadable_file_simulated covers the path")
def test_unreadable_file_chmod(tmp_path):
    path = write_dataset(tmp_path / "d")
    (path / "persons.csv").chmod(0)
    try:
        with pytest.raises(DataValidationError, match=r"persons.csv, rule readable: cannot be read: permission denied"):
            load_dataset(path)
    finally:
        (path / "persons.csv").chmod(0o644)


def test_symlink_inside_the_dataset_is_fine(tmp_path):
    path = write_dataset(tmp_path / "d")
    (path / "sources").mkdir()
    (path / "partnerships.csv").rename(path / "sources" / "partnerships.csv")
    (path / "partnerships.csv").symlink_to(Path("sources") / "partnerships.csv")
    assert len(load_dataset(path).tables["partnerships"]) == 2


@pytest.mark.parametrize("column", [
    "bsn", "BSN", "Bsn_Hash", "burgerservicenummer", "name", "Naam", "voornaam", "VoorNaam", "achternaam",
    "surname", "first_name", "FirstName", "last_name", "full-name", "address", "ADRES", "woonadres", "straat",
    "huisnummer", "postcode", "Post_Code", "postcode_4", "zipcode", "zip", "email", "E_Mail", "e-mail",
    "telefoon", "phone", "Telephone", "mobiel", "geboortedatum", "GeboorteDatum", "date_of_birth", "birth_date",
    "DOB", "iban",
])
def test_identifying_columns_refused_in_any_case(tmp_path, column):
    lines = TABLES["persons"].splitlines()
    lines = [lines[0] + f",{column}"] + [ln + ",secret-value" for ln in lines[1:]]
    tables = dict(TABLES, persons="\n".join(lines) + "\n")
    with pytest.raises(DataValidationError, match=rf"persons.csv, column {column}, rule no-identifying-columns: "
                                                  rf"the column\(s\) {column} look identifying") as info:
        load_dataset(write_dataset(tmp_path / "d", tables))
    only_problem(info, "no-identifying-columns")
    assert "secret-value" not in str(info.value)  # the values of an identifying column are never shown


@pytest.mark.parametrize("column", ["household_size", "income_decile", "mailing_wave", "postal_region", "zipper"])
def test_ordinary_extra_columns_are_not_taken_for_identifying(tmp_path, column):
    lines = TABLES["persons"].splitlines()
    lines = [lines[0] + f",{column}"] + [ln + ",3" for ln in lines[1:]]
    load_dataset(write_dataset(tmp_path / "d", dict(TABLES, persons="\n".join(lines) + "\n")))


def test_header_only_persons_is_refused(tmp_path):
    tables = dict(TABLES, persons=TABLES["persons"].splitlines()[0] + "\n")
    with pytest.raises(DataValidationError, match=r"persons.csv, rule rows: has a header but no data rows") as info:
        load_dataset(write_dataset(tmp_path / "d", tables))
    # and the references into the empty population are reported in the same pass
    assert {"rows", "known-person"} == {p.rule for p in info.value.problems}


def test_utf8_with_bom_and_nulls_in_parquet_are_accepted(tmp_path):
    path = write_dataset(tmp_path / "d")
    (path / "persons.csv").write_bytes(b"\xef\xbb\xbf" + TABLES["persons"].encode())
    frame = pd.read_csv(path / "benefit_spells.csv", dtype=str, keep_default_na=False)
    frame["monthly_amount_eur"] = [1150.0, None, 1600.0, 1620.0]  # a Parquet null: an empty, optional amount
    frame["end_date"] = frame["end_date"].replace("", None)
    (path / "benefit_spells.csv").unlink()
    frame.to_parquet(path / "benefit_spells.parquet", index=False)
    ds = load_dataset(path)
    assert ds.tables["persons"]["person_id"].tolist() == ["P1", "P2", "P3"]
    assert ds.tables["benefit_spells"]["monthly_amount_eur"].isna().tolist() == [False, True, False, False]


def test_all_independent_problems_in_one_pass(tmp_path):
    """One broken rule in dataset.yml and in every table: one error lists them all."""
    tables = dict(TABLES)
    tables["persons"] = tables["persons"].replace("1980", "1980.5").replace("GM0599", "GM٠٣٦٣")
    tables["benefit_spells"] = tables["benefit_spells"].replace(",1620", ",inf")
    tables["employment_spells"] = tables["employment_spells"].replace("2016-02-15", "2016-02-15T09:00:00")
    tables["partnerships"] = tables["partnerships"].replace("marriage,2010", "friendship,2010", 1)
    tables["health_yearly"] = tables["health_yearly"].replace("person_id,", "person_id,email,").replace(
        "\nP1,", "\nP1,a@b.nl,").replace("\nP2,", "\nP2,c@d.nl,")
    path = write_dataset(tmp_path / "d", tables, META.replace("source: hand-made test data\n", ""))
    (path / "interventions.csv").write_bytes(BAD_INPUTS["latin-1"][0](tmp_path / "x").joinpath(
        "interventions.csv").read_bytes())
    with pytest.raises(DataValidationError) as info:
        load_dataset(path)
    found = {(p.file, p.rule) for p in info.value.problems}
    assert found == {
        ("dataset.yml", "meta-key"), ("persons.csv", "whole-number"), ("persons.csv", "pattern"),
        ("benefit_spells.csv", "finite"), ("employment_spells.csv", "date-without-time"),
        ("partnerships.csv", "code"), ("health_yearly.csv", "no-identifying-columns"),
        ("interventions.csv", "utf-8"),
    }
    assert str(info.value).startswith(f"{path}: the dataset breaks the data contract (8 problems;")
    assert "a@b.nl" not in str(info.value)


def test_refused_dataset_writes_nothing_to_processed(tmp_path, monkeypatch):
    from analysis.studies.base import setup_study

    monkeypatch.setenv("RENDEERT_HOME", str(tmp_path / "home"))
    path = BAD_INPUTS["fractional-birth-year"][0](tmp_path)
    with pytest.raises(DataValidationError):
        setup_study("intake", dataset=str(path), output_dir=str(tmp_path / "out"))
    assert not (tmp_path / "home" / "data" / "processed").exists()


def test_header_only_optional_table_is_an_empty_table(tmp_path):
    """An optional table with a header and no rows says "none of these": accepted, unlike a required one."""
    path = write_dataset(tmp_path / "d")
    (path / "interventions.csv").write_text("person_id,intervention,start_date,end_date,cost_eur\n")
    assert len(load_dataset(path).tables["interventions"]) == 0


def test_safe_load_yaml_for_other_settings_files():
    """The YAML reader other settings files (parameters, grids) can share: plain YAML in, tags refused."""
    from analysis.data.files import FileProblem, safe_load_yaml

    assert safe_load_yaml("window_months: [12, 13]\nmunicipality: GM0363\n") == {
        "window_months": [12, 13], "municipality": "GM0363"}
    with pytest.raises(FileProblem, match=r"holds the YAML tag 'tag:yaml.org,2002:python/name:os.system'"):
        safe_load_yaml("f: !!python/name:os.system\n")
