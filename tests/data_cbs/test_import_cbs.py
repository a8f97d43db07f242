"""The CBS microdata adapter on fake files in the CBS layout (written from a synthetic dataset)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from analysis.data import load_dataset
from analysis.data.cbs import import_cbs, load_mapping
from analysis.errors import DataValidationError
from analysis.run import cli
from fake_cbs import write_fake_cbs


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from analysis.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("syn") / "d", n_persons=3_000, seed=5)


@pytest.fixture(scope="module")
def cbs_dir(synthetic, tmp_path_factory):
    out = tmp_path_factory.mktemp("cbs") / "source"
    rin = write_fake_cbs(synthetic, out)
    return out, rin


@pytest.fixture(scope="module")
def imported(cbs_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("imp") / "dataset"
    return import_cbs(cbs_dir[0], out, progress=False), out


def test_output_passes_the_contract_and_keeps_leading_zeros(imported, cbs_dir, synthetic):
    report, out = imported
    ds = load_dataset(out)
    persons = ds.table("persons")
    assert len(persons) == len(pd.read_parquet(synthetic / "persons.parquet"))
    _, rin = cbs_dir
    assert persons["person_id"].str.fullmatch(r"R\d{9}").all()
    assert set(persons["person_id"]) == {"R" + r for r in rin.values()}
    assert persons["person_id"].str.startswith("R0").mean() > 0.9, "RINPERSOON numbers below 10^8 keep their zeros"


def test_placeholders_are_dropped_and_counted(imported):
    report, _ = imported
    gba = [d for d in report.dropped if d["file"] == "GBAPERSOON2023TABV3.sav" and "placeholder" in d["reason"]]
    assert gba and gba[0]["rows"] == 3


def test_newest_version_is_read_and_recorded(imported):
    report, out = imported
    files = {f["file"] for f in report.files}
    assert "GBAPERSOON2023TABV3.sav" in files and "GBAPERSOON2023TABV1.csv" not in files
    manifest = json.loads((out / "import_manifest.json").read_text())
    entry = next(f for f in manifest["files"] if f["file"] == "GBAPERSOON2023TABV3.sav")
    assert entry["version"] == 3 and len(entry["sha256"]) == 64
    assert "GBAPERSOON2023TABV3.sav" in yaml.safe_load((out / "dataset.yml").read_text())["source"]


def test_contents_round_trip(imported, cbs_dir, synthetic):
    """What went into the CBS layout comes back: sexes, municipalities, bijstand spells, N06A users."""
    _, out = imported
    _, rin = cbs_dir
    back = {k: "R" + v for k, v in rin.items()}
    ds = load_dataset(out)
    orig = pd.read_parquet(synthetic / "persons.parquet").assign(person_id=lambda d: d["person_id"].map(back))
    got = ds.table("persons").set_index("person_id")
    assert (got.loc[orig["person_id"], "sex"].to_numpy() == orig["sex"].to_numpy()).all()
    assert (got.loc[orig["person_id"], "municipality_code"].to_numpy() == orig["municipality_code"].to_numpy()).all()
    ob = pd.read_parquet(synthetic / "benefit_spells.parquet")
    gb = ds.table("benefit_spells")
    assert (gb["benefit"] == "bijstand").sum() == (ob["benefit"] == "bijstand").sum()
    assert (gb["benefit"] == "ww").sum() == (ob["benefit"] == "ww").sum()
    oh = pd.read_parquet(synthetic / "health_yearly.parquet")
    assert ds.table("health_yearly")["antidepressants"].sum() == oh["antidepressants"].sum()
    assert ds.table("health_yearly")["healthcare_costs_eur"].sum() == pytest.approx(oh["healthcare_costs_eur"].sum(),
                                                                                   rel=1e-9)
    op = pd.read_parquet(synthetic / "partnerships.parquet")
    gp = ds.table("partnerships")
    assert (gp["kind"] == "cohabitation").sum() == 0, "GBA has no cohabitation"
    assert len(gp) == (op["kind"] != "cohabitation").sum()


def test_missing_file_names_the_pattern(tmp_path):
    (tmp_path / "src").mkdir()
    with pytest.raises(DataValidationError, match=r"no health-cost file in .* matches the pattern|no health-cost file"):
        import_cbs(tmp_path / "src", tmp_path / "out", progress=False)


def test_user_mapping_renames_a_variable(cbs_dir, tmp_path):
    """A release that calls GBAGESLACHT 'GESLACHT': the user edits the mapping, not the code."""
    source, _ = cbs_dir
    import shutil

    import pyreadstat

    copy = tmp_path / "src"
    shutil.copytree(source, copy)
    frame, _ = pyreadstat.read_sav(str(copy / "GBAPERSOON2023TABV3.sav"))
    (copy / "GBAPERSOON2023TABV3.sav").unlink()
    pyreadstat.write_sav(frame.rename(columns={"GBAGESLACHT": "GESLACHT"}), str(copy / "GBAPERSOON2023TABV3.sav"))
    with pytest.raises(DataValidationError, match=r"no column\(s\) \['GBAGESLACHT'\]"):
        import_cbs(copy, tmp_path / "out1", progress=False)
    mapping = load_mapping()
    mapping["persons"]["columns"]["sex"] = "geslacht"
    path = tmp_path / "mapping.yml"
    path.write_text(yaml.safe_dump(mapping))
    report = import_cbs(copy, tmp_path / "out2", mapping=path, progress=False)
    assert report.rows["persons"] > 0


def test_cli(cbs_dir, tmp_path, capsys):
    assert cli.main(["import-cbs", str(cbs_dir[0]), "--out", str(tmp_path / "ds")]) == 0
    assert "persons:" in capsys.readouterr().out
    assert cli.main(["import-cbs", str(tmp_path / "nope"), "--out", str(tmp_path / "ds2")]) == 2


@pytest.mark.slow
def test_intake_study_runs_on_the_import(imported, tmp_path):
    from analysis.run.runner import run_study

    _, out = imported
    outcome = run_study("intake", {"dataset": str(out)}, out_root=tmp_path, progress=False, pdf=False)
    names = {e["name"] for e in outcome.results["estimates"]}
    assert {"share_inflow_after_divorce", "excess_bijstand_after_divorce_12m_F"} <= names
