"""Report text and numbers in Dutch and English."""

from __future__ import annotations

import pytest
import yaml

from analysis.errors import AnalysisError, ParameterError
from analysis.report.labels import catalogue_files, fmt_eur, fmt_number, fmt_pct, fmt_pp, t


def test_number_formats():
    assert fmt_number(1234567.891, "nl", 2) == "1.234.567,89"
    assert fmt_number(1234567.891, "en", 2) == "1,234,567.89"
    assert fmt_number(-0.04, "nl", 1) == "-0,0" or fmt_number(-0.04, "nl", 1) == "0,0"
    assert fmt_pct(0.213, "nl") == "21,3%" and fmt_pct(0.213, "en") == "21.3%"
    assert fmt_eur(1234.4, "nl") == "€ 1.234"
    assert fmt_pp(0.05, "en") == "5.0 percentage points"
    assert fmt_number(float("nan")) == "."


def test_every_label_has_both_languages():
    missing = []
    for path in catalogue_files():
        cat = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        missing += [f"{path.name}:{k}" for k, v in cat.items() if set(v) != {"nl", "en"}]
    assert missing == []


def test_placeholders_filled_and_errors():
    assert t("overview.scope_one", "en", code="GM0363") == "municipality GM0363"
    with pytest.raises(AnalysisError, match=r"No report text for key 'nope'"):
        t("nope")
    with pytest.raises(ParameterError, match=r"lang='de' is not allowed"):
        t("figure", "de")


def test_a_key_in_two_catalogue_files_is_refused(tmp_path, monkeypatch):
    from analysis.report import labels

    parts = tmp_path / "labels.d"
    parts.mkdir()
    (parts / "a.yml").write_text("figure: {nl: Figuur, en: Figure}\n", encoding="utf-8")
    monkeypatch.setattr(labels, "CATALOGUE_PARTS", parts)
    labels.catalogue.cache_clear()
    try:
        with pytest.raises(AnalysisError, match=r"'figure' is defined in both labels.yml and a.yml"):
            labels.catalogue()
    finally:
        monkeypatch.undo()
        labels.catalogue.cache_clear()
