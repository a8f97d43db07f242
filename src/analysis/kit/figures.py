"""Figures from results objects, checked on their units before they are drawn (``rd.figures``).

``rd.figures.event_study(run, {"label": dynamic_result, ...}, xlabel=..., percent=...)`` judges
every event-time term of each result on its own units (``checked_result``: a term resting on
too few persons, or dominated by one or two, is drawn as an x where it would be) and returns the
checked figure ``run.report.figure`` takes. Other figures of checked tables: ``analysis.report.figures``.
"""

from __future__ import annotations

from typing import Mapping

from analysis.errors import ParameterError
from analysis.report import figures as _figures
from analysis.report.figures import bar, grouped_bars, line_by_group, survival  # noqa: F401  (re-exported)


def event_study(run, series: Mapping[str, object], *, xlabel: str, ylabel: str = "", name: str | None = None,
                reference: float = -1, percent: bool = False):
    """One axes with one series per label: a dynamic (event-time) result each, checked term by term."""
    from analysis.report.checked import checked_result

    if not isinstance(series, Mapping) or not series:
        raise ParameterError("figures.event_study: give the results as {label: result, ...}, e.g. "
                             "{'Antidepressants': dyn}.")
    name = name or "event_study " + ", ".join(series)
    tables = {}
    for label, result in series.items():
        est = getattr(result, "estimates", None)
        if est is None or "event_time" not in est.columns:
            raise ParameterError(f"figures.event_study: {label!r} has no event-time terms; give "
                                 "result.aggregate('dynamic') or an rd.event_study result.")
        terms = [t for t in est.index if t != "ATT"]
        tables[label] = checked_result(result, policy=run.report.policy, log=run.report.log, terms=terms,
                                       name=f"{name}: {label}")
    checked = _figures.event_study([tables], ylabel=ylabel, xlabel=xlabel, name=name, reference=reference,
                                   percent=percent, lang=run.lang)
    if len(series) == 1:  # one series: the caption names it, and a legend would lie over the data
        for ax in checked.figure.axes:
            if ax.get_legend() is not None:
                ax.get_legend().remove()
    return checked


__all__ = ["bar", "event_study", "grouped_bars", "line_by_group", "survival"]
