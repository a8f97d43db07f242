"""What the runner tells the report about the data: synthetic or not, the period, the municipality's name."""

from __future__ import annotations

from analysis.run.runner import report_dataset_meta

META = "name: x\nsource: y\nobservation_start: '2014-01-01'\nobservation_end: '2023-12-31'\n"


def test_synthetic_flag_period_and_municipality_name(tmp_path):
    (tmp_path / "dataset.yml").write_text(META + "synthetic: true\n")
    (tmp_path / "municipalities.csv").write_text("municipality_code,name\nGM0363,Amsterdam\nGM0014,Groningen\n")
    meta = report_dataset_meta(tmp_path, {"municipality": "GM0014"})
    assert meta == {"synthetic": True, "observation_start": "2014-01-01", "observation_end": "2023-12-31",
                    "municipality_name": "Groningen"}
    assert "municipality_name" not in report_dataset_meta(tmp_path, {"municipality": "all"})


def test_an_extract_is_not_synthetic_and_an_unknown_code_has_no_name(tmp_path):
    (tmp_path / "dataset.yml").write_text(META)
    meta = report_dataset_meta(tmp_path, {"municipality": "GM9999"})
    assert meta["synthetic"] is False and meta["municipality_name"] is None


def test_a_simulator_dataset_written_before_the_flag_is_still_synthetic(tmp_path):
    (tmp_path / "dataset.yml").write_text(META)
    (tmp_path / "truth.json").write_text("{}")
    assert report_dataset_meta(tmp_path, {})["synthetic"] is True
