"""Figures mark withheld cells visibly (a grey x where the cell would be), never leave them out as if zero,
and record only published cells."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from analysis.estimators.results import EffectResult, tidy_estimates
from analysis.report import figures
from analysis.report.disclosure import DisclosureLog, DisclosurePolicy, checked_result, safe_aggregate

POLICY = DisclosurePolicy()


def _counts(frame, by):
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        return safe_aggregate(frame, by=by, stat="count", policy=POLICY, log=DisclosureLog(), name="t")


def _x_marks(fig):
    return [line for ax in fig.axes for line in ax.get_lines() if line.get_marker() == "x"]


def test_bar_marks_the_withheld_bar():
    table = _counts(pd.DataFrame({"g": ["a"] * 30 + ["b"] * 3 + ["c"] * 20}), ["g"])
    checked = figures.bar(table, x="value", y="g")
    marks = _x_marks(checked.figure)
    assert len(marks) == 1 and list(marks[0].get_ydata()) == [1]  # the second bar, b
    heights = [p.get_width() for p in checked.figure.axes[0].patches]
    assert heights == [30, 0, 20]
    assert checked.any_withheld and {c["cell"] for c in checked.cells()} == {"a", "c"}


def test_grouped_bars_and_lines_mark_withheld_cells():
    frame = pd.DataFrame({"year": [2020] * 12 + [2021] * 4 + [2020] * 15 + [2021] * 15,
                          "flow": ["in"] * 16 + ["out"] * 30})
    table = _counts(frame, ["year", "flow"])
    bars = figures.grouped_bars(table, x="year", y="value", group="flow")
    assert len(_x_marks(bars.figure)) == 1 and len(_x_marks(bars.figure)[0].get_xdata()) >= 1
    lines = figures.line_by_group(table, x="year", y="value", group="flow")
    marked = _x_marks(lines.figure)
    assert marked and 2021 in list(marked[0].get_xdata())


def test_event_study_marks_terms_on_too_few_treated_units():
    terms = ["e=-1", "e=0", "e=1"]
    est = tidy_estimates(terms, [0.0, 0.1, 0.2], [0.01, 0.01, 0.01], n=np.array([50, 50, 4]))
    est["event_time"] = [-1, 0, 1]
    result = EffectResult(estimates=est, estimand="ATT(e)")
    log = DisclosureLog()
    checked = checked_result(result, policy=POLICY, log=log, name="es")
    assert list(checked["suppressed"]) == [False, False, True]
    assert log.to_records() == [{"object": "es", "cell": "e=1", "rule": "min_units", "n": "<10"}]
    fig = figures.event_study([{"all": checked}], ylabel="", xlabel="", name="es")
    assert list(_x_marks(fig.figure)[0].get_xdata()) == [1]
    cells = {c["cell"] for c in fig.cells()}
    assert "all, e=0, 0 | estimate" in cells and not any("e=1," in c for c in cells)
