"""The CBS microdata adapter on fake files in the documented CBS layouts (see fake_cbs.py).

Expected values come from the synthetic dataset the fake files were written from (the
simulator's tables), never from the adapter's own output.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from analysis.data import load_dataset
from analysis.data.cbs import health_columns, import_cbs, load_mapping, merge_conversions
from analysis.errors import DataValidationError
from analysis.run import cli
from fake_cbs import write_fake_cbs

# Sums of float costs written to .sav (IEEE doubles) and added back in another order: a relative
# error far below a cent on the totals.
FLOAT_SUM_REL = 1e-9


pytestmark = pytest.mark.xdist_group("import_cbs")  # one worker builds the module-scoped fixtures, once


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from analysis.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("syn") / "d", n_persons=3_000, seed=5)


@pytest.fixture(scope="module")
def cbs_dir(synthetic, tmp_path_factory):
    out = tmp_path_factory.mktemp("cbs") / "source"
    truth = write_fake_cbs(synthetic, out)
    return out, truth


@pytest.fixture(scope="module")
def imported(cbs_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("imp") / "dataset"
    return import_cbs(cbs_dir[0], out, progress=False), out


def _orig(synthetic, name, truth):
    frame = pd.read_parquet(synthetic / f"{name}.parquet")
    return frame.assign(person_id=frame["person_id"].map({k: "R" + v for k, v in truth.rin.items()}))


def test_output_passes_the_contract_and_keeps_leading_zeros(imported, cbs_dir, synthetic):
    _, out = imported
    persons = load_dataset(out).table("persons")
    assert len(persons) == len(pd.read_parquet(synthetic / "persons.parquet"))
    assert persons["person_id"].str.fullmatch(r"R\d{9}").all()
    assert set(persons["person_id"]) == {"R" + r for r in cbs_dir[1].rin.values()}
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


# -- ZVWZORGKOSTENTAB: cost columns by year ------------------------------------------------------------
def test_total_costs_sum_every_cost_column_of_the_year(imported, cbs_dir, synthetic):
    """Total = all cost columns the year's file has (2014 without MULTIDISC, 2018 with EERSTELIJNSVERBLIJF)."""
    _, out = imported
    orig = _orig(synthetic, "health_yearly", cbs_dir[1]).set_index(["person_id", "year"])
    got = load_dataset(out).table("health_yearly").set_index(["person_id", "year"])
    assert len(got) == len(orig)
    for col in ("healthcare_costs_eur", "mental_healthcare_costs_eur", "gp_costs_eur"):
        by_year_orig = orig[col].groupby(level="year").sum()
        by_year_got = got[col].groupby(level="year").sum()
        assert by_year_got.to_numpy() == pytest.approx(by_year_orig.to_numpy(), rel=FLOAT_SUM_REL), col
    pair = got["healthcare_costs_eur"].align(orig["healthcare_costs_eur"], join="inner")
    assert pair[0].to_numpy() == pytest.approx(pair[1].to_numpy(), rel=FLOAT_SUM_REL, abs=1e-6)


def test_manifest_lists_the_columns_summed_per_year(imported, cbs_dir):
    _, out = imported
    per_year = json.loads((out / "import_manifest.json").read_text())["health_columns"]
    layouts = cbs_dir[1].layouts
    assert set(per_year) == {str(y) for y in layouts}
    for year, used in per_year.items():
        expected = {c for c in layouts[int(year)] if not c.startswith("NOP")}
        assert set(used["summed"]) == expected, year
        assert "NOPZVWKHUISARTSINSCHRIJF" in used["not_summed"], "a breakdown of ZVWKHUISARTS, never added"
    assert "ZVWKMULTIDISC" not in per_year["2014"]["summed"] and "ZVWKMULTIDISC" in per_year["2015"]["summed"]
    assert "ZVWKEERSTELIJNSVERBLIJF" in per_year["2018"]["summed"]
    assert "ZVWKEERSTELIJNSVERBLIJF" not in per_year["2017"]["summed"]
    assert per_year["2016"]["empty"] == ["ZVWKGGZ"] and per_year["2016"]["mental"] == ["ZVWKSPECGGZ", "ZVWKGENBASGGZ"]


@pytest.mark.slow
def test_mental_health_from_zvwkggz_in_the_old_layout(synthetic, tmp_path):
    """Years written in the pre-2014 layout: mental = ZVWKGGZ (+ ZVWKEERSTELIJNSPSYCHO), the split absent."""
    truth = write_fake_cbs(synthetic, tmp_path / "src", old_ggz_years=(2014, 2015))
    report = import_cbs(tmp_path / "src", tmp_path / "out", progress=False)
    assert report.health_columns["2014"]["mental"] == ["ZVWKGGZ", "ZVWKEERSTELIJNSPSYCHO"]
    assert report.health_columns["2016"]["mental"] == ["ZVWKSPECGGZ", "ZVWKGENBASGGZ"]
    orig = _orig(synthetic, "health_yearly", truth)
    got = load_dataset(tmp_path / "out").table("health_yearly")
    for year in (2014, 2015):
        for col in ("mental_healthcare_costs_eur", "healthcare_costs_eur"):
            assert got.loc[got["year"] == year, col].sum() == pytest.approx(
                orig.loc[orig["year"] == year, col].sum(), rel=FLOAT_SUM_REL), (year, col)


def test_health_columns_never_count_both_ggz_layouts():
    """A file with ZVWKGGZ and the split both filled: ZVWKGGZ is used, the split is not summed."""
    spec = load_mapping()["health_costs"]
    frame = pd.DataFrame({"ZVWKHUISARTS": [10.0], "ZVWKGGZ": [5.0], "ZVWKSPECGGZ": [3.0], "ZVWKGENBASGGZ": [2.0],
                          "ZVWKOVERIG": [1.0], "NOPZVWKHUISARTSINSCHRIJF": [4.0]})
    used = health_columns(frame, spec)
    assert used["mental"] == ["ZVWKGGZ"]
    assert sorted(used["summed"]) == ["ZVWKGGZ", "ZVWKHUISARTS", "ZVWKOVERIG"]
    assert used["not_summed"] == ["NOPZVWKHUISARTSINSCHRIJF", "ZVWKGENBASGGZ", "ZVWKSPECGGZ"]


# -- GBAVERBINTENISPARTNERBUS: open ends and conversions -----------------------------------------------
def test_open_ended_unions_written_88888888_stay_open(imported, cbs_dir, synthetic):
    _, out = imported
    orig = _orig(synthetic, "partnerships", cbs_dir[1])
    orig = orig[orig["kind"] != "cohabitation"]
    got = load_dataset(out).table("partnerships")
    assert got["end_date"].isna().sum() == orig["end_date"].isna().sum() > 0
    benefits = load_dataset(out).table("benefit_spells")
    ob = pd.read_parquet(synthetic / "benefit_spells.parquet")
    assert benefits["end_date"].isna().sum() == ob["end_date"].isna().sum()


def test_conversions_continue_the_union_and_are_no_separation(imported, cbs_dir, synthetic):
    """P/H ends join the couple's next record: as many unions and divorces as in the synthetic data."""
    report, out = imported
    truth = cbs_dir[1]
    assert truth.conversions > 20
    assert report.conversions == {"joined": truth.conversions, "without_sequel": 0}
    orig = _orig(synthetic, "partnerships", truth)
    orig = orig[orig["kind"] != "cohabitation"]
    orig = orig.assign(start_date=pd.to_datetime(orig["start_date"]))
    got = load_dataset(out).table("partnerships")
    assert len(got) == len(orig)
    keys = ["person_id", "start_date"]
    merged = got.merge(orig, on=keys, suffixes=("", "_orig"), validate="one_to_one")
    assert len(merged) == len(orig), "every union keeps its first start date"
    assert (merged["end_date"].fillna(pd.Timestamp(0)) == pd.to_datetime(merged["end_date_orig"])
            .fillna(pd.Timestamp(0))).all()
    expected_reason = merged["end_reason_orig"].replace({"separation": "divorce"})
    assert (merged["end_reason"].fillna("") == expected_reason.fillna("")).all()
    assert (got["end_reason"] == "divorce").sum() == orig["end_reason"].isin(["divorce", "separation"]).sum()


def test_merge_conversions_chain_and_lonely_conversion():
    day = pd.Timestamp
    frame = pd.DataFrame({
        "person_id": ["a", "a", "a", "b"], "partner_id": ["x", "x", "x", "y"],
        "kind": ["registered_partnership", "marriage", "registered_partnership", "marriage"],
        "start_date": [day("2010-01-01"), day("2012-05-01"), day("2015-03-02"), day("2011-01-01")],
        "end_date": [day("2012-05-01"), day("2015-03-01"), day("2019-01-01"), day("2016-01-01")],
        "end_reason": [None, None, "divorce", None]})
    converted = pd.Series([True, True, False, True])
    got, joined, alone = merge_conversions(frame, converted, gap_days=1)
    assert (joined, alone) == (2, 1)
    a = got[got["person_id"] == "a"].iloc[0]
    assert (a["start_date"], a["end_date"], a["kind"], a["end_reason"]) == (
        day("2010-01-01"), day("2019-01-01"), "registered_partnership", "divorce")
    b = got[got["person_id"] == "b"].iloc[0]
    assert b["end_date"] == day("2016-01-01") and b["end_reason"] is None


# -- GBAPERSOONTAB: sex as codes or as labels ----------------------------------------------------------
def test_sex_from_codes_with_value_labels_in_the_sav(imported, cbs_dir, synthetic):
    _, out = imported
    orig = _orig(synthetic, "persons", cbs_dir[1]).set_index("person_id")
    got = load_dataset(out).table("persons").set_index("person_id")
    assert (got.loc[orig.index, "sex"] == orig["sex"]).all()


@pytest.mark.slow
def test_sex_from_value_labels_mannen_vrouwen(synthetic, tmp_path):
    """A person file exported with its value labels (Mannen/Vrouwen) instead of the codes 1/2."""
    truth = write_fake_cbs(synthetic, tmp_path / "src", sex_as="labels")
    assert "Vrouwen" in (tmp_path / "src" / "GBAPERSOON2023TABV3.csv").read_text()
    import_cbs(tmp_path / "src", tmp_path / "out", progress=False)
    orig = _orig(synthetic, "persons", truth).set_index("person_id")
    got = load_dataset(tmp_path / "out").table("persons").set_index("person_id")
    assert len(got) == len(orig)
    assert (got.loc[orig.index, "sex"] == orig["sex"]).all()


# -- VSLGWBTAB: year-suffixed gemeente column ----------------------------------------------------------
def test_municipality_from_the_year_suffixed_column(imported, cbs_dir, synthetic):
    _, out = imported
    orig = _orig(synthetic, "persons", cbs_dir[1]).set_index("person_id")
    got = load_dataset(out).table("persons").set_index("person_id")
    assert (got.loc[orig.index, "municipality_code"] == orig["municipality_code"]).all()
    assert "GM0999" not in set(got["municipality_code"]), "gem2022 and the earlier address are not used"


# -- SECMBUS: what counts as work and as bijstand -----------------------------------------------------
def test_secm_15_is_work_and_23_26_31_are_not_bijstand(imported, cbs_dir, synthetic):
    _, out = imported
    truth = cbs_dir[1]
    ds = load_dataset(out)
    oe = pd.read_parquet(synthetic / "employment_spells.parquet")
    ob = _orig(synthetic, "benefit_spells", truth)
    assert truth.family_workers > 0
    assert len(ds.table("employment_spells")) == len(oe), "SECM 15 (meewerkend gezinslid) is employment"
    gb = ds.table("benefit_spells")
    for benefit in ("bijstand", "ww", "wia", "other"):
        assert (gb["benefit"] == benefit).sum() == (ob["benefit"] == benefit).sum(), benefit
    students = {"R" + truth.rin[p] for p in truth.student_only}
    assert len(students) > 20
    assert not students & set(gb["person_id"]), "pupils, students and pensioners get no benefit spell"


# -- errors, mapping, CLI -----------------------------------------------------------------------------
def test_missing_file_names_the_pattern(tmp_path):
    (tmp_path / "src").mkdir()
    with pytest.raises(DataValidationError, match=r"no health-cost file in .* matches"):
        import_cbs(tmp_path / "src", tmp_path / "out", progress=False)


def test_missing_year_column_names_the_pattern(cbs_dir, tmp_path):
    import pyreadstat

    copy = tmp_path / "src"
    shutil.copytree(cbs_dir[0], copy)
    frame, _ = pyreadstat.read_sav(str(copy / "VSLGWB2023TAB03V1.sav"))
    pyreadstat.write_sav(frame.drop(columns=["gem2022", "gem2023"]), str(copy / "VSLGWB2023TAB03V1.sav"))
    with pytest.raises(DataValidationError, match=r"VSLGWB2023TAB03V1.sav has no column matching 'gem"):
        import_cbs(copy, tmp_path / "out", progress=False)


@pytest.mark.slow
@pytest.mark.slow
def test_cost_file_without_any_cost_column_is_refused(cbs_dir, tmp_path):
    import pyreadstat

    copy = tmp_path / "src"
    shutil.copytree(cbs_dir[0], copy)
    frame, _ = pyreadstat.read_sav(str(copy / "ZVWZORGKOSTEN2019TABV2.sav"))
    renamed = {c: c.replace("ZVWK", "KOSTEN") for c in frame.columns}
    pyreadstat.write_sav(frame.rename(columns=renamed), str(copy / "ZVWZORGKOSTEN2019TABV2.sav"))
    with pytest.raises(DataValidationError, match=r"ZVWZORGKOSTEN2019TABV2.sav has none of the cost columns"):
        import_cbs(copy, tmp_path / "out", progress=False)


def test_user_mapping_renames_a_variable(cbs_dir, tmp_path):
    """A release that calls GBAGESLACHT 'GESLACHT': the user edits the mapping, not the code."""
    import pyreadstat

    copy = tmp_path / "src"
    shutil.copytree(cbs_dir[0], copy)
    frame, _ = pyreadstat.read_sav(str(copy / "GBAPERSOON2023TABV3.sav"))
    pyreadstat.write_sav(frame.rename(columns={"GBAGESLACHT": "GESLACHT"}), str(copy / "GBAPERSOON2023TABV3.sav"))
    with pytest.raises(DataValidationError, match=r"no column\(s\) \['GBAGESLACHT'\]"):
        import_cbs(copy, tmp_path / "out1", progress=False)
    mapping = load_mapping()
    mapping["persons"]["columns"]["sex"] = "geslacht"
    path = tmp_path / "mapping.yml"
    path.write_text(yaml.safe_dump(mapping))
    report = import_cbs(copy, tmp_path / "out2", mapping=path, progress=False)
    assert report.rows["persons"] > 0


def test_every_assumption_in_the_mapping_names_its_source():
    """Each CHECK note in cbs_mapping.yml names a repository path, a URL, the code index or says none was found."""
    import re

    from analysis.data.cbs import DEFAULT_MAPPING

    lines = DEFAULT_MAPPING.read_text(encoding="utf-8").splitlines()
    notes = []
    for k, line in enumerate(lines):
        if "# CHECK:" in line:
            note = [line]
            for nxt in lines[k + 1:]:
                if not re.match(r"\s*#\s{2,}", nxt):  # continuation lines: "#   ..."
                    break
                note.append(nxt)
            notes.append(" ".join(part.split("#", 1)[-1].strip() for part in note))
    assert len(notes) >= 12
    source = re.compile(r"[\w.-]+/[\w.-]+ \S+\.(R|py|yml)\b|https?://|index|issue|no public source")
    for note in notes:
        assert source.search(note), note[:160]


@pytest.mark.slow
def test_cli(cbs_dir, tmp_path, capsys):
    assert cli.main(["import-cbs", str(cbs_dir[0]), "--out", str(tmp_path / "ds")]) == 0
    assert "persons:" in capsys.readouterr().out
    assert cli.main(["import-cbs", str(tmp_path / "nope"), "--out", str(tmp_path / "ds2")]) == 2


@pytest.mark.slow
def test_intake_and_exit_health_run_on_the_documented_layout_import(imported, tmp_path):
    from analysis.run.runner import run_study

    _, out = imported
    intake = run_study("intake", {"dataset": str(out)}, out_root=tmp_path, progress=False, pdf=False)
    names = {e["name"] for e in intake.results["estimates"]}
    assert {"share_inflow_after_divorce", "excess_bijstand_after_divorce_12m_F"} <= names
    health = run_study("exit_health", {"dataset": str(out)}, out_root=tmp_path, progress=False, pdf=False)
    assert any(e["name"].startswith("att_") for e in health.results["estimates"])
