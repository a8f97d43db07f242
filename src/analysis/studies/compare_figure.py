"""The compare study's funnel plot (split from :mod:`analysis.studies.compare`, which re-exports it).

:func:`funnel_figure` draws observed / expected against the expected number with the comparison's
overdispersion-aware limits, from the checked results rows only; :func:`label_offsets` keeps the labels
of neighbouring municipalities apart.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np


def label_offsets(x, y, *, near_x: float = 0.12, near_y: float = 0.05,
                  y_span: float | None = None) -> list[tuple[float, float, str]]:
    """Offsets (points) and alignment for point labels on a log-x plot so that neighbours do not overlap:
    a label goes right of its point, and when an earlier label lies within ``near_x`` decades and
    ``near_y`` of the y-range (``y_span``: the axis's; default the points'), it moves above, below or to
    the left instead."""
    x, y = np.log10(np.asarray(x, float)), np.asarray(y, float)
    span = float(y_span if y_span else np.ptp(y)) or 1.0
    choices = [(4, 0, "left"), (-4, 0, "right"), (0, 7, "center"), (0, -7, "center"), (4, 9, "left"), (4, -9, "left")]
    label_width = 2 * near_x  # a name of ~10 characters at 6 pt spans about this many decades
    placed: list[tuple[float, float, int]] = []
    out = []
    for i in np.argsort(x, kind="stable"):
        close_y = np.abs(y - y[i]) < near_y * span
        others = np.arange(len(x)) != i
        used = {k for (px, py, k) in placed if abs(px - x[i]) < near_x and abs(py - y[i]) < near_y * span}
        if (close_y & others & (x > x[i]) & (x - x[i] < label_width)).any():
            used.add(0)  # a point to the right would sit under the text
        if (close_y & others & (x < x[i]) & (x[i] - x < label_width)).any():
            used.add(1)
        k = next((k for k in range(len(choices)) if k not in used), 0)
        placed.append((x[i], y[i], k))
        out.append((i, choices[k]))
    return [c for _, c in sorted(out)]


def funnel_figure(u, comp, rows: Mapping[str, Mapping], *, municipality: str, lang: str, policy, log):
    """The funnel plot, O/E against E with 95 % and 99.8 % limits allowing for overdispersion, as a checked
    figure and its caption (``(None, "")`` without a comparison). ``municipality`` is drawn apart."""
    from analysis.report.checked import checked_figure
    from analysis.report.figures import legend
    from analysis.report.escape import plot_text
    from analysis.report.labels import fmt_number, t, t_plain
    from analysis.studies.compare import rows_table

    if comp is None:
        return None, ""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator

    outcome = u.outcome
    ratio = rows_table(rows, f"adjusted_ratio_{outcome}_", u.codes, name=f"adjusted_ratio_{outcome}",
                       policy=policy, log=log)
    expected = comp.table.set_index("unit")["expected"]
    f = ratio.frame.assign(_held=ratio["suppressed"].to_numpy())
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    shown = f[~f["_held"]]
    xs = expected.reindex(shown["municipality_code"]).to_numpy(float)
    grid = np.geomspace(max(xs.min() * 0.7, 0.5), xs.max() * 1.4, 200)
    lim = comp.limits(grid)
    for level, style in (("95", "--"), ("99.8", ":")):
        shown_level = level.replace(".", ",") if lang == "nl" else level
        ax.plot(grid, lim[f"upper_{level}"], style, color="0.25", lw=1,
                label=t_plain("compare.limit", lang, level=shown_level))
        ax.plot(grid, lim[f"lower_{level}"], style, color="0.25", lw=1)
    ax.axhline(1.0, color="0.25", lw=0.8)
    mine = (shown["municipality_code"] == municipality).to_numpy()
    ax.scatter(xs[~mine], shown.loc[~mine, "estimate"], s=18, color="#0072b2",
               label=t_plain("compare.municipalities", lang))
    if mine.any():
        ax.scatter(xs[mine], shown.loc[mine, "estimate"], s=60, color="#d55e00", zorder=3,
                   label=plot_text(u.name(municipality)))
    ys = shown["estimate"].to_numpy(float)
    low, high = ax.get_ylim()
    for i, (dx, dy, ha) in enumerate(label_offsets(xs, ys, y_span=high - low)):
        ax.annotate(plot_text(u.name(shown["municipality_code"].iloc[i])), (xs[i], ys[i]), fontsize=6,
                    xytext=(dx, dy), textcoords="offset points", ha=ha, va="center")
    if f["_held"].any():  # withheld municipalities: an x at the foot, no position
        ax.plot([0.02], [0.03], transform=ax.transAxes, label=t_plain("figure.withheld_legend", lang),
                marker="x", color="0.35", ms=6, mew=1.4, ls="none", clip_on=False)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_number(v, lang, digits=0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_number(v, lang, digits=1)))
    ax.set_xlabel(t_plain("compare.expected_axis", lang))
    ax.set_ylabel(t_plain("compare.ratio_axis", lang))
    legend(ax)  # above the axes, off the limits and the points
    fig.tight_layout()
    od = comp.overdispersion
    checked = checked_figure(fig, name=f"funnel_{outcome}", tables=[ratio.select(["municipality_code", "estimate"])])
    caption = t("compare.funnel_caption", lang, outcome=t(f"compare.outcome.{outcome}", lang), year=u.year,
                phi=fmt_number(od.phi, lang, digits=2), tau=fmt_number(np.sqrt(od.tau2), lang, digits=3),
                units=od.n_units)
    return checked, caption
