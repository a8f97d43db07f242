"""Figures built from disclosure-safe tables (withheld cells are NaN and are not drawn)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from analysis.report import theme  # noqa: F401  (applies the theme)


def _percent_axis(axis, lang: str = "nl") -> None:
    axis.set_major_formatter(FuncFormatter(
        lambda v, _: (f"{100 * v:.1f}%".replace(".", ",") if lang == "nl" else f"{100 * v:.1f}%")))


def line_by_group(table: pd.DataFrame, *, x: str, y: str, group: str, ylabel: str = "", xlabel: str = "",
                  percent: bool = False, lang: str = "nl", lower: str | None = None, upper: str | None = None):
    fig, ax = plt.subplots()
    for name, part in table.groupby(group, sort=False):
        part = part.sort_values(x)
        ax.plot(part[x], part[y], marker="o", ms=3, label=str(name))
        if lower and upper:
            ax.fill_between(part[x], part[lower], part[upper], alpha=0.2)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    if percent:
        _percent_axis(ax.yaxis, lang)
        ax.set_ylim(bottom=0)
    if table[group].nunique() > 1:
        ax.legend()
    fig.tight_layout()
    return fig


def bar(table: pd.DataFrame, *, x: str, y: str, xlabel: str = "", percent: bool = False, lang: str = "nl"):
    fig, ax = plt.subplots(figsize=(7.0, 0.28 * len(table) + 1.0))
    shown = table.dropna(subset=[x])
    ax.barh(shown[y].astype(str), shown[x], color=theme.PALETTE[0])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if percent:
        _percent_axis(ax.xaxis, lang)
    fig.tight_layout()
    return fig


def grouped_bars(table: pd.DataFrame, *, x: str, y: str, group: str, ylabel: str = ""):
    wide = table.pivot(index=x, columns=group, values=y)
    fig, ax = plt.subplots()
    width = 0.8 / max(len(wide.columns), 1)
    pos = np.arange(len(wide.index))
    for i, col in enumerate(wide.columns):
        ax.bar(pos + i * width - 0.4 + width / 2, wide[col].to_numpy(), width=width, label=str(col))
    ax.set_xticks(pos, [str(v) for v in wide.index])
    ax.set_ylabel(ylabel)
    ax.legend()
    fig.tight_layout()
    return fig


def event_study_plot(frame: pd.DataFrame, *, ylabel: str, xlabel: str, reference: float | None = -1,
                     band: bool = True, title: str | None = None, ax=None, percent: bool = False,
                     lang: str = "nl", label: str | None = None, color=None):
    """Estimates by event time with pointwise intervals and, if present, the uniform band."""
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
    if reference is not None:
        ax.axvline(reference + 0.5, color="0.5", ls="--", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if percent:
        _percent_axis(ax.yaxis, lang)
    if title:
        ax.set_title(title)
    if own:
        fig.tight_layout()
        return fig
    return ax
