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


# -- the units catalogue (issue #16: one style for all) --------------------------------------------
# Expected strings are the and the Dutch convention (decimal comma, thousands dot; CBS
# "procentpunt"), written out by hand, not taken from the formatters' output.

def test_percentage_points_never_carry_a_percent_sign():
    assert fmt_pp(0.1, "nl") == "10,0 procentpunt"
    assert fmt_pp(0.1, "en") == "10.0 percentage points"
    assert fmt_pp(-0.097, "nl") == "-9,7 procentpunt"
    assert fmt_pp(0.097, "nl", signed=True) == "+9,7 procentpunt"
    assert "%" not in fmt_pp(0.097, "nl")


def test_euros_are_whole_and_rounded_as_a_reader_rounds():
    from analysis.report.labels import fmt_eur

    assert fmt_eur(-380.5, "nl") == "€ -381"       # the "−380,500" -> "€ -381"
    assert fmt_eur(-380.5, "en") == "€ -381"
    assert fmt_eur(1234567.4, "nl") == "€ 1.234.567"
    assert fmt_eur(1234567.4, "en") == "€ 1,234,567"
    assert fmt_eur(-0.4, "nl") == "€ 0"             # rounds to zero: no sign
    assert fmt_eur(None) == "."


def test_rounding_is_half_away_from_zero_on_the_printed_decimal():
    assert fmt_number(2.675, "en", 2) == "2.68"      # a binary float would give 2.67
    assert fmt_number(0.25, "nl", 1) == "0,3"
    assert fmt_number(-0.25, "nl", 1) == "-0,3"


def test_months_and_probabilities():
    from analysis.report.labels import fmt_months, fmt_prob

    assert fmt_months(3.24, "nl") == "3,2 maanden"
    assert fmt_months(3.24, "en") == "3.2 months"
    assert fmt_months(1, "nl", digits=0) == "1 maand" and fmt_months(1, "en", digits=0) == "1 month"
    assert fmt_prob(0.234, "nl") == "0,23" and fmt_prob(0.234, "en") == "0.23"
    assert fmt_prob(0.0004, "nl") == "< 0,01"
    assert fmt_prob(0.0, "en") == "0.00"
    with pytest.raises(AnalysisError, match=r"fmt_prob got 1.5, which is not a probability"):
        fmt_prob(1.5)


def test_a_bad_language_is_refused_by_every_formatter():
    from analysis.report.labels import fmt_months

    with pytest.raises(ParameterError, match=r"lang='de' is not allowed"):
        fmt_months(3, "de")


def test_axis_formatter_writes_dutch_decimal_commas():
    from analysis.report.labels import axis_formatter

    assert axis_formatter("number", "nl").format_ticks([0.0, 0.2, 0.4]) == ["0,0", "0,2", "0,4"]
    assert axis_formatter("number", "en").format_ticks([0.0, 0.2, 0.4]) == ["0.0", "0.2", "0.4"]
    assert axis_formatter("number", "nl").format_ticks([0, 5000, 10000]) == ["0", "5000", "10.000"]
    assert axis_formatter("number", "nl").format_ticks([2015, 2020]) == ["2015", "2020"], "a year is not grouped"
    assert axis_formatter("number", "en").format_ticks([0, 20000]) == ["0", "20,000"]
    assert axis_formatter("pct", "nl").format_ticks([0.0, 0.025, 0.05]) == ["0,0%", "2,5%", "5,0%"]
    assert axis_formatter("pp", "nl").format_ticks([-0.05, 0.0, 0.05]) == ["-5", "0", "5"]
    assert axis_formatter("eur", "nl").format_ticks([-20000, 0, 20000]) == ["€ -20.000", "€ 0", "€ 20.000"]
    assert axis_formatter("months", "en", digits=1).format_ticks([1, 2]) == ["1.0", "2.0"]
    with pytest.raises(ParameterError, match=r"unit='kg' is not allowed"):
        axis_formatter("kg")


def test_format_axes_on_a_drawn_figure_leaves_no_decimal_point_on_a_dutch_axis():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.report.labels import format_axes

    fig, ax = plt.subplots()
    ax.plot([0.1, 0.5, 0.9], [0.15, 0.35, 0.25])
    format_axes(ax, "nl")
    fig.canvas.draw()
    labels = [tl.get_text() for tl in ax.get_xticklabels() + ax.get_yticklabels() if tl.get_text()]
    plt.close(fig)
    assert labels and not any("." in s for s in labels), labels
    assert any("," in s for s in labels), labels


def test_significant_digits_and_powers_of_ten():
    from analysis.report.labels import fmt_sci, fmt_sig

    assert fmt_sig(-0.0195052, "nl") == "-0,0195052" and fmt_sig(-0.0195052, "en") == "-0.0195052"
    assert fmt_sig(1794.34, "nl") == "1.794,34"
    assert fmt_sig(2.914, "nl") == "2,914"
    assert fmt_sci(1.7e-17, "nl") == "1,7·10⁻¹⁷" and fmt_sci(1.7e-17, "en") == "1.7·10⁻¹⁷"
    assert fmt_sci(1e-6, "nl") == "1·10⁻⁶"
    assert fmt_sig(1.5e-17, "nl") == "1,5·10⁻¹⁷"
