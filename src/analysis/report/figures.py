"""Figures drawn from checked tables: each returns a :class:`~analysis.report.checked.CheckedFigure`.

Only checked tables are drawn (anything else raises ``DisclosureError``). A
withheld cell is marked where it would be, with a grey "x" at the foot of the
axes (for horizontal bars: at the start of the bar), never left out as if it
were zero; the legend says what the "x" means. Survival curves stop where
fewer than 10 remain at risk (``disclosure.survival_curve``) and show where.
Labels from the data are kept from being read as mathtext.

:func:`event_study_plot` draws an estimates frame on an axes for interactive
use (results objects' ``.plot``); the report does not take its output.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.transforms import blended_transform_factory

from analysis.report import theme
from analysis.report.checked import CheckedTable, _require, checked_figure
from analysis.report.escape import plot_text
from analysis.report.labels import AxisFormatter, format_axes, t_plain

MARK = dict(marker="x", color="0.35", ms=6, mew=1.4, ls="none", clip_on=False, zorder=5)


def _percent_axis(axis, lang: str = "nl", unit: str = "pct") -> None:
    axis.set_major_formatter(AxisFormatter(unit, lang))


def _unit(percent: bool, unit: str | None) -> str | None:
    """The value axis's unit: ``unit`` (see :data:`analysis.report.labels.AXIS_UNITS`), else ``pct``
    when ``percent``; ``pp`` for an effect on a share."""
    return unit or ("pct" if percent else None)


def _finish(fig, axes, *, lang: str, value_axis: str = "y", unit: str | None = None) -> None:
    """Tick labels in the report's language on every numeric axis (the value axis in ``unit``)."""
    for ax in np.atleast_1d(axes).ravel():
        if unit:
            axis = ax.yaxis if value_axis == "y" else ax.xaxis
            _percent_axis(axis, lang, unit)
            name = t_plain("figure.unit.pp", lang)
            if unit == "pp" and axis.get_label_text() and name not in axis.get_label_text():
                axis.set_label_text(f"{axis.get_label_text()} ({name})")
        format_axes(ax, lang)


def legend(ax, *, handles=None, labels=None, max_columns: int = 4) -> None:
    """The legend above the axes, off the data (never over a curve or bar): as many columns as the
    labels' length allows, one when they are long. Figures helpers use it for every legend."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    width_chars = ax.get_position().width * ax.figure.get_figwidth() * 15  # ~characters per inch at 8pt
    longest = max(len(str(x)) for x in labels) + 5
    ncol = int(max(1, min(max_columns, len(labels), width_chars // longest)))
    ax.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.01), ncol=ncol, fontsize=8,
              frameon=False, borderaxespad=0.2, handlelength=1.5, columnspacing=1.2)


def _mark_withheld(ax, xs, *, lang: str, horizontal: bool = False) -> bool:
    """A grey x at the foot of the axes at each withheld position; a legend entry once."""
    xs = list(xs)
    if not xs:
        return False
    label = t_plain("figure.withheld_legend", lang)
    if horizontal:
        trans = blended_transform_factory(ax.transAxes, ax.transData)
        ax.plot([0.01] * len(xs), xs, transform=trans, label=label, **MARK)
    else:
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        ax.plot(xs, [0.02] * len(xs), transform=trans, label=label, **MARK)
    return True


def line_by_group(table: CheckedTable, *, x: str, y: str, group: str, ylabel: str = "", xlabel: str = "",
                  percent: bool = False, lang: str = "nl", lower: str | None = None, upper: str | None = None,
                  name: str | None = None, unit: str | None = None):
    _require(table, "line_by_group")
    f, held = table.frame, table.withheld[y]
    fig, ax = plt.subplots(layout="constrained")
    colours = theme.group_colours(f[group].unique())
    withheld_x = []
    for key, part in f.assign(_held=held.to_numpy()).groupby(group, sort=False):
        part = part.sort_values(x)
        shown = part[~part["_held"]]
        ax.plot(shown[x], shown[y], marker="o", ms=3, label=plot_text(key), color=colours[key])
        if lower and upper:
            ax.fill_between(shown[x], shown[lower], shown[upper], alpha=0.2, color=colours[key])
        withheld_x += part.loc[part["_held"], x].tolist()
    marked = _mark_withheld(ax, sorted(set(withheld_x)), lang=lang)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    if percent:
        ax.set_ylim(bottom=0)
    if f[group].nunique() > 1 or marked:
        legend(ax)
    _finish(fig, ax, lang=lang, unit=_unit(percent, unit))
    return checked_figure(fig, name=name or table.name, tables=[table.select([*table.keys, y])])


def bar(table: CheckedTable, *, x: str, y: str, xlabel: str = "", percent: bool = False, lang: str = "nl",
        name: str | None = None, unit: str | None = None):
    """Horizontal bars: value column ``x`` per label ``y``; withheld bars are an x at the axis."""
    _require(table, "bar")
    f, held = table.frame, table.withheld[x].to_numpy()
    fig, ax = plt.subplots(figsize=(7.0, 0.28 * len(f) + 1.0), layout="constrained")
    labels = [plot_text(v) for v in f[y]]
    pos = np.arange(len(f))
    ax.barh(pos, np.where(held, 0.0, f[x].fillna(0).to_numpy(dtype=float)), color=theme.PALETTE[0])
    ax.set_yticks(pos, labels)
    marked = _mark_withheld(ax, pos[held], lang=lang, horizontal=True)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if marked:
        legend(ax)
    _finish(fig, ax, lang=lang, value_axis="x", unit=_unit(percent, unit))
    return checked_figure(fig, name=name or table.name, tables=[table.select([*table.keys, x])])


def grouped_bars(table: CheckedTable, *, x: str, y: str, group: str, ylabel: str = "", percent: bool = False,
                 lang: str = "nl", name: str | None = None, unit: str | None = None):
    """Vertical bars of ``y`` per ``x``, one per ``group``; a withheld bar is an x where it would stand."""
    _require(table, "grouped_bars")
    f = table.frame.assign(_held=table.withheld[y].to_numpy())
    xs = list(dict.fromkeys(f[x]))
    groups = list(dict.fromkeys(f[group]))
    fig, ax = plt.subplots(layout="constrained")
    colours = theme.group_colours(groups)
    width = 0.8 / max(len(groups), 1)
    pos = np.arange(len(xs))
    withheld = []
    for i, g in enumerate(groups):
        part = f[f[group] == g].set_index(x).reindex(xs)
        held = part["_held"].fillna(True).astype(bool).to_numpy()
        where = pos + i * width - 0.4 + width / 2
        ax.bar(where, np.where(held, 0.0, part[y].fillna(0).to_numpy(dtype=float)), width=width,
               label=plot_text(g), color=colours[g])
        withheld += list(where[held])
    _mark_withheld(ax, withheld, lang=lang)
    ax.set_xticks(pos, [plot_text(v) for v in xs])
    ax.set_ylabel(ylabel)
    legend(ax)
    _finish(fig, ax, lang=lang, unit=_unit(percent, unit))
    return checked_figure(fig, name=name or table.name, tables=[table.select([*table.keys, y])])


def event_study(panels: Sequence[Mapping[str, CheckedTable]], *, ylabel: str, xlabel: str, name: str,
                reference: float | None = -1, percent: bool = False, lang: str = "nl", band: bool = True,
                unit: str | None = None):
    """Estimates by event time (checked results, ``disclosure.checked_result``), one axes per panel and
    one series per label; withheld terms are an x at the foot of the axes. The estimates are effects:
    ``percent`` shows them in percentage points (``unit="pp"``), the axis label naming the unit."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), sharey=True, squeeze=False,
                             layout="constrained")
    tables = []
    for ax, series in zip(axes[0], panels):
        withheld = []
        colours = theme.group_colours(series)
        for i, (label, tb) in enumerate(series.items()):
            _require(tb, "event_study")
            f = tb.frame.assign(_held=tb.withheld["estimate"].to_numpy()).sort_values("event_time")
            shown = f[~f["_held"]]
            event_study_plot(shown, ylabel=ylabel if ax is axes[0][0] else "", xlabel=xlabel, reference=reference,
                             ax=ax, lang=lang, label=plot_text(label), color=colours[label], band=band)
            withheld += f.loc[f["_held"], "event_time"].tolist()
            tables.append(tb.with_key("series", label))
        _mark_withheld(ax, sorted(set(withheld)), lang=lang)
        if len(series) > 1 or withheld:  # one series: the caption names it; a legend would only crowd the plot
            legend(ax, max_columns=2)
    _finish(fig, axes, lang=lang, unit=unit or ("pp" if percent else None))  # an effect on a share: points
    return checked_figure(fig, name=name, tables=tables)


def survival(curve: CheckedTable, *, xlabel: str, ylabel: str, lang: str = "nl", labels: Mapping | None = None,
             name: str | None = None, min_units: int = 10):
    """Kaplan-Meier steps from ``disclosure.survival_curve``; a dotted line where a curve stops (fewer
    than ``min_units`` at risk after it)."""
    _require(curve, "survival")
    f = curve.frame
    fig, ax = plt.subplots(layout="constrained")
    colours = theme.group_colours(f["group"].unique())
    for i, (g, part) in enumerate(f.groupby("group", sort=False)):
        color = colours[g] if f["group"].nunique() > 1 else theme.PALETTE[0]
        label = plot_text((labels or {}).get(g, g))
        ax.step(part["time"], part["survival"], where="post", color=color,
                label=None if g == "all" and f["group"].nunique() == 1 else label)
        ax.fill_between(part["time"], part["ci_lower"], part["ci_upper"], step="post", alpha=0.2, color=color, lw=0)
        if g in curve.notes.get("stopped", ()):
            ax.axvline(part["time"].max(), color=color, ls=":", lw=0.9)
    if curve.notes.get("stopped"):
        ax.plot([], [], color="0.4", ls=":", label=t_plain("figure.curve_stops", lang, min_units=min_units))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    legend(ax)
    _finish(fig, ax, lang=lang)
    return checked_figure(fig, name=name or curve.name, tables=[curve])


def event_study_plot(frame: pd.DataFrame, *, ylabel: str, xlabel: str, reference: float | None = -1,
                     band: bool = True, title: str | None = None, ax=None, percent: bool = False,
                     lang: str = "nl", label: str | None = None, color=None):
    """Estimates by event time with pointwise intervals and, if present, the uniform band (an axes, or a
    raw figure for interactive use; the report takes :func:`event_study`)."""
    own = ax is None
    if own:
        fig, ax = plt.subplots()
    f = frame.sort_values("event_time")
    color = color or theme.PALETTE[0]
    if band and {"band_lower", "band_upper"} <= set(f.columns):
        ax.fill_between(f["event_time"], f["band_lower"], f["band_upper"], color=color, alpha=0.15, lw=0)
    ax.errorbar(f["event_time"], f["estimate"], yerr=[f["estimate"] - f["ci_lower"], f["ci_upper"] - f["estimate"]],
                fmt="o", ms=2.5, lw=0.8, color=color, label=label)
    ax.axhline(0, color="0.3", lw=0.8)
    if len(f) and f["event_time"].max() - f["event_time"].min() <= 16:  # a tick on every year, not every other
        from matplotlib.ticker import MultipleLocator

        ax.xaxis.set_major_locator(MultipleLocator(1))
    if reference is not None:
        ax.axvline(reference + 0.5, color="0.5", ls="--", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if percent:
        _percent_axis(ax.yaxis, lang)
    format_axes(ax, lang)
    if title:
        ax.set_title(title)
    if own:
        fig.tight_layout()
        return fig
    return ax


def sensitivity(table: CheckedTable, *, original: CheckedTable, xlabel: str, ylabel: str, name: str,
                percent: bool = False, lang: str = "nl", breakdown: float | None = None, unit: str | None = None):
    """Robust intervals against M-bar (``honest_did``), beside the original interval, as HonestDiD's
    sensitivity plot; both tables checked on the units of the effect they bound."""
    _require(table, "sensitivity")
    _require(original, "sensitivity")
    fig, ax = plt.subplots(figsize=(7.6, 3.4), layout="constrained")
    f = table.frame.assign(_held=table.withheld["ci_lower"].to_numpy())
    shown = f[~f["_held"]]
    o = original.frame.iloc[0]
    if not original.withheld["ci_lower"].iloc[0]:
        ax.errorbar([-0.15 * max(shown["m"].max() if len(shown) else 1, 1)], [0.5 * (o["ci_lower"] + o["ci_upper"])],
                    yerr=[[0.5 * (o["ci_upper"] - o["ci_lower"])]], fmt="none", capsize=4, lw=2,
                    color=theme.PALETTE[1], label=plot_text(t_plain("figure.original_ci", lang)))
    mid = 0.5 * (shown["ci_lower"] + shown["ci_upper"])
    ax.errorbar(shown["m"], mid, yerr=[mid - shown["ci_lower"], shown["ci_upper"] - mid], fmt="none", capsize=4,
                lw=2, color=theme.PALETTE[0], label=plot_text(t_plain("figure.robust_ci", lang)))
    ax.axhline(0, color="0.4", lw=0.8)
    if breakdown is not None and np.isfinite(breakdown):
        ax.axvline(breakdown, color="0.4", ls=":", lw=0.9)
    _mark_withheld(ax, f.loc[f["_held"], "m"].tolist(), lang=lang)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    legend(ax)
    _finish(fig, ax, lang=lang, unit=unit or ("pp" if percent else None))  # bounds on an effect: points
    return checked_figure(fig, name=name, tables=[table, original])
