"""Kaplan-Meier survival curves with confidence bands, on lifelines.

lifelines' ``KaplanMeierFitter`` gives the product-limit estimate with
exponential Greenwood ("log-log") confidence intervals, as R ``survfit`` with
``conf.type = "log-log"``; this module wraps it in a frozen result with a
tidy table, the median with its interval, and a plot in the house theme.
With ``entry`` (delayed entry, counting-process rows) a row is at risk at t when
entry < t <= duration, as in R's ``Surv(start, stop, event)``; the reported
``at_risk`` is that risk set.

Units (disclosure, issue #13): ``table`` keeps, per group and time, the number
``at_risk`` and the ``events`` at that time, so that a report can stop a curve
where fewer than 10 remain at risk; ``median_support()`` gives what judging a
median needs (the events at or before it and the units at risk after it). A
survival probability is not a sum of amounts: ``dominance`` is NaN, and the
``n`` of a term ``S@t`` is the number at risk at t.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.errors import ParameterError


@dataclass(frozen=True)
class KaplanMeierResult:
    table: pd.DataFrame  # group, time, at_risk, events, survival, std_error, ci_lower, ci_upper
    medians: pd.DataFrame  # group, estimate, ci_lower, ci_upper, n, events
    spec: dict

    def _part(self, group) -> pd.DataFrame:
        names = list(pd.unique(self.table["group"]))
        name = names[0] if group is None else group
        if name not in names:
            raise ParameterError(f"group={group!r} is not in this result; groups are {names}.")
        return self.table[self.table["group"] == name]

    def median_support(self, group=None) -> tuple[int, int]:
        """What the median of a group (default: the first) rests on: ``(events_up_to_median,
        at_risk_after_median)``.

        The median is the first time at which survival is 0.5 or less. ``events_up_to_median``
        counts the events at or before it; ``at_risk_after_median`` is the number at risk at the
        next time in the table (the units still observed after the median; 0 when the median is
        the last time). When the median is not reached, all events are counted and the units at
        risk after the last time, 0. The disclosure rule shows a median only when both are 10 or
        more.
        """
        part = self._part(group)
        time, surv = part["time"].to_numpy(float), part["survival"].to_numpy(float)
        events, at_risk = part["events"].to_numpy(float), part["at_risk"].to_numpy(float)
        reached = np.flatnonzero(surv <= 0.5)
        if len(reached) == 0:
            return int(events.sum()), 0
        i = int(reached[0])
        after = int(at_risk[i + 1]) if i + 1 < len(time) else 0
        return int(events[: i + 1].sum()), after

    def to_frame(self, times: Sequence[float] | None = None) -> pd.DataFrame:
        """House table: a term per (group, time), e.g. ``"S@t=12"`` (``"women:S@t=12"`` with groups); the
        survival, its Greenwood standard error, the log-log interval, ``n`` the number at risk at t,
        ``n_control`` (NA) and ``dominance`` (NaN) as every results table, and ``events`` the events at
        or before t.
        ``times`` default to every time in the table; between them the step function holds."""
        rows = []
        for name, part in self.table.groupby("group", sort=False):
            grid = part["time"].to_numpy() if times is None else np.asarray(times, dtype=float)
            idx = np.searchsorted(part["time"].to_numpy(), grid, side="right") - 1
            for t, i in zip(grid, idx):
                row = part.iloc[max(i, 0)]
                before = i < 0  # before the first time: survival 1, nobody has left yet
                term = (f"{name}:" if self.table["group"].nunique() > 1 else "") + f"S@t={t:g}"
                rows.append({"term": term, "estimate": 1.0 if before else float(row["survival"]),
                             "std_error": 0.0 if before else float(row["std_error"]),
                             "ci_lower": 1.0 if before else float(row["ci_lower"]),
                             "ci_upper": 1.0 if before else float(row["ci_upper"]),
                             "p_value": np.nan,
                             "n": int(part["at_risk"].iloc[0]) if before else int(row["at_risk"]),
                             "n_control": pd.NA, "dominance": np.nan,
                             "events": 0 if before else int(part["events"].iloc[: i + 1].sum())})
        frame = pd.DataFrame(rows).set_index("term")
        frame["n_control"] = frame["n_control"].astype("Int64")
        return frame

    @property
    def median(self) -> dict:
        """The median survival time of the (first) group, with its confidence interval."""
        return self.medians.iloc[0].to_dict()

    def plot(self, ax=None, *, labels: dict | None = None):
        import matplotlib.pyplot as plt

        from analysis.report import theme

        if ax is None:
            _, ax = plt.subplots()
        for i, (name, part) in enumerate(self.table.groupby("group", sort=False)):
            color = theme.PALETTE[i % len(theme.PALETTE)]
            label = (labels or {}).get(name, name)
            ax.step(part["time"], part["survival"], where="post", color=color, label=None if name == "all" else label)
            ax.fill_between(part["time"], part["ci_lower"], part["ci_upper"], step="post", alpha=0.2, color=color, lw=0)
        ax.set_ylim(0, 1.02)
        if self.table["group"].nunique() > 1:
            ax.legend()
        return ax


def kaplan_meier(frame: pd.DataFrame, *, duration: str, event: str, group: str | None = None,
                 entry: str | None = None, alpha: float = 0.05) -> KaplanMeierResult:
    """Kaplan-Meier estimate per group (or overall), with (1 - alpha) log-log confidence bands."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    for col in [duration, event] + ([group] if group else []) + ([entry] if entry else []):
        if col not in frame.columns:
            raise ParameterError(f"kaplan_meier: column {col!r} not in the data; columns: {list(frame.columns)}.")
    if (frame[duration] < 0).any():
        raise ParameterError(f"kaplan_meier: {int((frame[duration] < 0).sum())} negative durations in {duration!r}.")
    groups = frame.groupby(group, sort=True) if group else [("all", frame)]
    tables, medians = [], []
    for name, part in groups:
        kmf = KaplanMeierFitter(alpha=alpha)
        kmf.fit(part[duration], part[event], entry=part[entry] if entry else None)
        ci = kmf.confidence_interval_survival_function_
        events = kmf.event_table
        at_risk = events["at_risk"]
        if entry:
            # lifelines' table counts rows entering at t as at risk at t; its estimate (and R) does not:
            # entry < t <= stop. Report the risk set the estimate used (entrants of the first time only
            # precede it, and nothing can end there).
            at_risk = at_risk - events["entrance"].where(events.index != events.index[0], 0)
        tab = pd.DataFrame({
            "group": name, "time": kmf.survival_function_.index.to_numpy(),
            "at_risk": at_risk.reindex(kmf.survival_function_.index).to_numpy(),
            "events": events["observed"].reindex(kmf.survival_function_.index).to_numpy(),
            "survival": kmf.survival_function_.iloc[:, 0].to_numpy(),
            "std_error": np.nan,
            "ci_lower": ci.iloc[:, 0].to_numpy(), "ci_upper": ci.iloc[:, 1].to_numpy(),
        })
        # Greenwood: var(S) = S^2 sum d / (n (n - d)) over the risk sets the estimate used
        n_risk, d = tab["at_risk"].to_numpy(float), tab["events"].to_numpy(float)
        terms = np.divide(d, n_risk * (n_risk - d), out=np.zeros_like(d), where=(n_risk > d) & (d > 0))
        tab["std_error"] = tab["survival"] * np.sqrt(np.cumsum(terms))
        tables.append(tab)
        med_ci = median_survival_times(ci)
        medians.append({"group": name, "estimate": float(kmf.median_survival_time_),
                        "ci_lower": float(med_ci.iloc[0, 0]), "ci_upper": float(med_ci.iloc[0, 1]),
                        "n": int(len(part)), "events": int(part[event].sum())})
    return KaplanMeierResult(table=pd.concat(tables, ignore_index=True), medians=pd.DataFrame(medians),
                             spec={"duration": duration, "event": event, "group": group, "alpha": alpha,
                                   "entry": entry, "conf_type": "log-log (exponential Greenwood)"})
