"""Control cannot be skipped: a study that shows a raw DataFrame or an unchecked figure fails."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from analysis.errors import DisclosureError, SmallCellWarning
from analysis.report import Report, figures
from analysis.report.checked import CheckedTable
from analysis.report.disclosure import safe_aggregate


def _report(tmp_path):
    return Report("test", figure_dir=tmp_path / "figures")


def test_raw_dataframe_refused_with_a_way_to_check_it(tmp_path):
    report = _report(tmp_path)
    with pytest.raises(DisclosureError, match=r"got a DataFrame.*safe_aggregate"):
        report.table(pd.DataFrame({"municipality": ["Vlieland"], "n": [3]}), caption="raw")
    with pytest.raises(DisclosureError, match=r"no longer takes \['counts'\]"):
        report.table(pd.DataFrame({"n": [30]}), caption="raw", counts="n")
    assert report.published == [] and report.tables == []


def test_unchecked_matplotlib_figure_refused(tmp_path):
    report = _report(tmp_path)
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    with pytest.raises(DisclosureError, match=r"got a Figure.*analysis.report.figures"):
        report.figure(fig, caption="raw")
    assert not list((tmp_path / "figures").glob("*.png")) if (tmp_path / "figures").exists() else True


def test_a_checked_table_cannot_be_made_by_hand():
    with pytest.raises(DisclosureError, match="made by the disclosure helpers"):
        CheckedTable(name="x", keys=("g",), _frame=pd.DataFrame({"g": ["a"], "value": [3.0]}),
                     _units=pd.DataFrame({"value": [3]}), _held=pd.DataFrame({"value": [False]}))


def test_figures_refuse_raw_frames():
    with pytest.raises(DisclosureError):
        figures.bar(pd.DataFrame({"v": [1.0], "l": ["a"]}), x="v", y="l")


def test_checked_table_and_figure_are_shown_and_recorded(tmp_path):
    report = _report(tmp_path)
    frame = pd.DataFrame({"g": ["a"] * 12 + ["b"] * 4})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = safe_aggregate(frame, by=["g"], stat="count", policy=report.policy, log=report.log, name="counts")
    assert any(issubclass(w.category, SmallCellWarning) for w in caught)
    report.table(table, caption="Counts")
    report.figure(figures.bar(table, x="value", y="g"), caption="Counts")
    shown = {(c["object"], c["cell"], c["value"], c["n"]) for c in report.published}
    assert ("counts", "a | value", 12.0, 12) in shown
    assert not any(c["cell"].startswith("b") for c in report.published)  # the withheld cell is not recorded
    assert (tmp_path / "figures" / "figure-01.png").is_file()


def test_a_results_object_is_shown_checked_on_its_units(tmp_path):
    import numpy as np

    from analysis.estimators.results import EffectResult, tidy_estimates

    est = tidy_estimates(["big", "small"], [0.1, 0.2], [0.01, 0.01], n=np.array([200, 4]),
                         n_control=np.array([300, 300]), dominance=np.array([0.01, 0.01]))
    report = _report(tmp_path)
    table = report.table(EffectResult(estimates=est, estimand="ATT"), caption="Effects")
    assert list(table["suppressed"]) == [False, True]
    assert {c["cell"] for c in report.published if c["cell"].startswith("small")} == set()
    assert [(e["cell"], e["rule"], e["n"]) for e in report.log.to_records()] == [("small", "min_units", "<10")]


def test_a_kaplan_meier_result_must_go_through_survival_curve(tmp_path):
    import pandas as pd

    from analysis.estimators import kaplan_meier

    km = kaplan_meier(pd.DataFrame({"d": range(1, 31), "e": 1}), duration="d", event="e")
    with pytest.raises(DisclosureError, match="survival_curve"):
        _report(tmp_path).table(km, caption="KM")
