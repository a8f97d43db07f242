"""Shared figure faults of issue #16: legends off the data, one colour per group across figures and
languages, the report's language on every axis."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis.report import figures, theme  # noqa: E402
from analysis.report.checked import public_table  # noqa: E402


def _lines(groups, *, values=None):
    years = [2019, 2020, 2021, 2022]
    rows = [{"year": y, "group": g, "value": (values or {}).get(g, 0.1 * (i + 1)) + 0.01 * j}
            for i, g in enumerate(groups) for j, y in enumerate(years)]
    return public_table(pd.DataFrame(rows), name="lines", source="a test table", keys=["year", "group"])


def _colours(fig) -> dict:
    ax = fig.axes[0]
    return {line.get_label(): matplotlib.colors.to_hex(line.get_color()) for line in ax.get_lines()
            if not line.get_label().startswith("_")}


def test_a_group_keeps_its_colour_whatever_the_order_and_the_language():
    nl = figures.line_by_group(_lines(["Vrouwen", "Mannen"]), x="year", y="value", group="group", lang="nl")
    swapped = figures.line_by_group(_lines(["Mannen", "Vrouwen"]), x="year", y="value", group="group", lang="nl")
    en = figures.line_by_group(_lines(["Men", "Women"]), x="year", y="value", group="group", lang="en")
    a, b, c = _colours(nl.figure), _colours(swapped.figure), _colours(en.figure)
    for f in (nl, swapped, en):
        plt.close(f.figure)
    assert a == b
    assert a["Vrouwen"] == c["Women"] and a["Mannen"] == c["Men"]
    assert a["Vrouwen"] != a["Mannen"]


def test_unknown_groups_get_distinct_colours_independent_of_order():
    labels = ["alpha", "beta", "gamma", "delta", "epsilon"]
    forward, backward = theme.group_colours(labels), theme.group_colours(labels[::-1])
    assert forward == backward
    assert len(set(forward.values())) == len(labels)


def test_a_single_series_has_the_same_colour_in_every_language_and_never_the_pale_yellow():
    """The job-loss event study was drawn black in Dutch and pale yellow in English."""
    nl, en = theme.group_colours(["Gebruik van antidepressiva"]), theme.group_colours(["Antidepressant use"])
    assert nl["Gebruik van antidepressiva"] == en["Antidepressant use"] == theme.PALETTE[0]
    many = theme.group_colours([f"group {i}" for i in range(7)])
    assert "#F0E442" not in many.values() and len(set(many.values())) == 7


def test_the_legend_stands_off_the_data():
    # two series that fill the whole plot area: any legend inside the axes would cover data
    table = _lines(["Vrouwen", "Mannen"], values={"Vrouwen": 0.0, "Mannen": 1.0})
    fig = figures.line_by_group(table, x="year", y="value", group="group", lang="nl").figure
    fig.canvas.draw()
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend_box = ax.get_legend().get_window_extent(renderer)
    plot_box = ax.get_window_extent(renderer)
    plt.close(fig)
    assert legend_box.y0 >= plot_box.y1 - 1, (legend_box, plot_box)


def test_effects_on_a_share_are_points_on_a_dutch_axis():
    from analysis.report.checked import public_table as pt

    frame = pd.DataFrame({"event_time": np.arange(-3, 4), "estimate": np.linspace(-0.02, 0.05, 7)})
    frame = frame.assign(ci_lower=frame["estimate"] - 0.01, ci_upper=frame["estimate"] + 0.01,
                         std_error=0.005, n=100)
    table = pt(frame, name="es", source="a test table", keys=["event_time"])
    fig = figures.event_study([{"Vrouwen": table}], ylabel="Effect", xlabel="Maanden", name="es",
                              percent=True, lang="nl").figure
    fig.canvas.draw()
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    label = ax.get_ylabel()
    plt.close(fig)
    assert not any("%" in s or "." in s for s in ticks), ticks
    assert label == "Effect (procentpunt)"


@pytest.mark.parametrize("lang, decimal", [("nl", ","), ("en", ".")])
def test_survival_axis_decimals_follow_the_language(lang, decimal):
    curve = pd.DataFrame({"group": "all", "time": [0, 1, 2, 3], "survival": [1.0, 0.8, 0.6, 0.5],
                          "ci_lower": [1.0, 0.7, 0.5, 0.4], "ci_upper": [1.0, 0.9, 0.7, 0.6]})
    table = public_table(curve, name="km", source="a test table", keys=["group", "time"])
    fig = figures.survival(table, xlabel="t", ylabel="S", lang=lang).figure
    fig.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    plt.close(fig)
    other = "." if decimal == "," else ","
    assert any(decimal in s for s in ticks) and not any(other in s for s in ticks), ticks
