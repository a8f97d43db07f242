"""Cumulative incidence with competing risks: the Aalen-Johansen estimator.

Leaving bijstand for work and leaving it for other reasons compete: one ends the
spell before the other can happen, so 1 - Kaplan-Meier of "exit to work" (treating
other exits as censored) overstates the share that leaves for work. The
Aalen-Johansen estimate of the cumulative incidence of cause k is

    F_k(t) = sum over event times t_j <= t of S(t_{j-1}) d_kj / n_j,

with S the all-cause Kaplan-Meier, n_j at risk and d_kj events of cause k at t_j.
Variance: the delta-method (Greenwood-type) estimator of Marubini & Valsecchi
(1995), as in SAS LIFETEST and lifelines (Collett 2015, p. 411); pointwise
intervals on the log(-log) scale, so they stay within (0, 1).

Written by hand (a few vectorised cumulative sums) because lifelines'
``AalenJohansenFitter`` jitters tied times at random (register durations in whole
months are all ties) and computes the variance in a Python loop over event times.
Without ties both give the same numbers (tested).

Units (disclosure, issue #13): ``curves`` keeps, per group, cause and event
time, the number ``at_risk`` and the ``events`` of that cause, so that a report
can stop a curve where fewer than 10 remain at risk; ``to_frame`` gives per
term the events of the cause at or before t (the numerator of the share) and
``n`` the units of the group. A cumulative incidence is not a sum of amounts:
``dominance`` is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import ParameterError


@dataclass(frozen=True)
class CumulativeIncidenceResult:
    curves: pd.DataFrame  # group, cause, time, at_risk, events, cif, std_error, ci_lower, ci_upper
    spec: dict

    def at(self, times: Sequence[float]) -> pd.DataFrame:
        """The curves evaluated at ``times`` (step functions: the last value at or before each time)."""
        rows = []
        for (group, cause), part in self.curves.groupby(["group", "cause"], sort=False):
            idx = np.searchsorted(part["time"].to_numpy(), np.asarray(times, float), side="right") - 1
            events = part["events"].cumsum().to_numpy()
            for t, i in zip(times, idx):
                vals = part.iloc[i] if i >= 0 else None
                rows.append({"group": group, "cause": cause, "time": t, "events": int(events[i]) if i >= 0 else 0,
                             **({k: float(vals[k]) for k in ("cif", "std_error", "ci_lower", "ci_upper")}
                                if vals is not None else {"cif": 0.0, "std_error": 0.0, "ci_lower": 0.0,
                                                          "ci_upper": 0.0})})
        return pd.DataFrame(rows)

    def to_frame(self, times: Sequence[float] | None = None) -> pd.DataFrame:
        """House table: a term per (group, cause, time), e.g. ``"work@t=24"``; ``n`` the units of the
        group, ``events`` the events of the cause at or before t."""
        times = times if times is not None else [float(self.curves["time"].max())]
        at = self.at(times)
        prefix = at["group"].astype(str) + ":" if self.curves["group"].nunique() > 1 else ""
        terms = prefix + at["cause"].astype(str) + "@t=" + at["time"].map(lambda v: f"{v:g}")
        sizes = self.spec.get("n_by_group") or {}
        n = at["group"].map(lambda g: sizes.get(g, self.spec["n"])).to_numpy()
        return pd.DataFrame({"estimate": at["cif"].to_numpy(), "std_error": at["std_error"].to_numpy(),
                             "ci_lower": at["ci_lower"].to_numpy(), "ci_upper": at["ci_upper"].to_numpy(),
                             "p_value": np.nan, "n": n.astype("int64"),
                             "n_control": pd.array([pd.NA] * len(at), dtype="Int64"), "dominance": np.nan,
                             "events": at["events"].to_numpy()}, index=pd.Index(terms, name="term"))

    def plot(self, ax=None, *, labels: dict | None = None, stacked: bool = False):
        import matplotlib.pyplot as plt

        from analysis.report import theme

        if ax is None:
            _, ax = plt.subplots()
        for i, ((group, cause), part) in enumerate(self.curves.groupby(["group", "cause"], sort=False)):
            color = theme.PALETTE[i % len(theme.PALETTE)]
            name = (labels or {}).get((group, cause), f"{group}: {cause}" if group != "all" else str(cause))
            t = np.r_[0, part["time"].to_numpy()]
            ax.step(t, np.r_[0, part["cif"].to_numpy()], where="post", color=color, label=name)
            ax.fill_between(t, np.r_[0, part["ci_lower"].to_numpy()], np.r_[0, part["ci_upper"].to_numpy()],
                            step="post", alpha=0.15, color=color, lw=0)
        ax.set_ylim(0, 1)
        ax.legend()
        return ax


def _one_group(time: np.ndarray, event: np.ndarray, causes: Sequence, z: float) -> pd.DataFrame:
    times, inv = np.unique(time, return_inverse=True)
    removed = np.bincount(inv, minlength=len(times))
    at_risk = np.cumsum(removed[::-1])[::-1].astype(float)
    observed = event != 0
    d = np.bincount(inv[observed], minlength=len(times)).astype(float)
    keep = d > 0
    times, at_risk, d = times[keep], at_risk[keep], d[keep]
    surv = np.cumprod(1 - d / at_risk)
    lag_s = np.r_[1.0, surv[:-1]]
    # first variance term's weight: d/(n(n-d)); zero where everyone left (then F(t) - F(t_j) = 0 anyway)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(at_risk > d, d / (at_risk * (at_risk - d)), 0.0)
    out = []
    for cause in causes:
        dk = np.bincount(inv[event == cause], minlength=len(keep)).astype(float)[keep]
        F = np.cumsum(lag_s * dk / at_risk)
        c = lag_s * dk / at_risk**2
        # Var F(t_i) = sum_{j<=i} a_j (F_i - F_j)^2 + sum_{j<=i} S_{j-1}^2 dk_j (n_j - dk_j)/n_j^3
        #              - 2 sum_{j<=i} c_j (F_i - F_j), expanded into cumulative sums
        A, AF, AFF = np.cumsum(a), np.cumsum(a * F), np.cumsum(a * F**2)
        B = np.cumsum(lag_s**2 * dk * (at_risk - dk) / at_risk**3)
        C, CF = np.cumsum(c), np.cumsum(c * F)
        var = np.clip(F**2 * A - 2 * F * AF + AFF + B - 2 * (F * C - CF), 0, None)
        se = np.sqrt(var)
        with np.errstate(divide="ignore", invalid="ignore"):
            se_t = se / (F * np.abs(np.log(F)))
            lower = np.where((F > 0) & (F < 1), F ** np.exp(z * se_t), F)
            upper = np.where((F > 0) & (F < 1), F ** np.exp(-z * se_t), F)
        out.append(pd.DataFrame({"cause": cause, "time": times, "at_risk": at_risk, "events": dk, "cif": F,
                                 "std_error": se, "ci_lower": lower, "ci_upper": upper}))
    return pd.concat(out, ignore_index=True)


def cumulative_incidence(frame: pd.DataFrame, *, duration: str, event: str, causes: Sequence | None = None,
                         group: str | None = None, alpha: float = 0.05) -> CumulativeIncidenceResult:
    """Aalen-Johansen cumulative incidence per cause (and group); ``event`` 0 = censored, else the cause."""
    for col in [duration, event] + ([group] if group else []):
        if col not in frame.columns:
            raise ParameterError(f"cumulative_incidence: column {col!r} not in the data.")
    data = frame.dropna(subset=[duration, event])
    if (data[duration] < 0).any():
        raise ParameterError(f"cumulative_incidence: {int((data[duration] < 0).sum())} negative durations.")
    present = [c for c in pd.unique(data[event]) if c != 0]
    causes = list(causes) if causes is not None else sorted(present, key=str)
    unknown = set(present) - set(causes)
    if unknown:
        raise ParameterError(f"cumulative_incidence: event codes {sorted(map(str, unknown))} are not among causes "
                             f"{causes} (0 means censored).")
    z = stats.norm.ppf(1 - alpha / 2)
    parts = data.groupby(group, sort=True) if group else [("all", data)]
    curves, sizes = [], {}
    for name, part in parts:
        c = _one_group(part[duration].to_numpy(float), part[event].to_numpy(), causes, z)
        curves.append(c.assign(group=name))
        sizes[name] = int(len(part))
    curves = pd.concat(curves, ignore_index=True)[["group", "cause", "time", "at_risk", "events", "cif",
                                                   "std_error", "ci_lower", "ci_upper"]]
    return CumulativeIncidenceResult(curves=curves, spec={"duration": duration, "event": event, "causes": causes,
                                                          "group": group, "alpha": alpha, "n": int(len(data)),
                                                          "n_by_group": sizes,
                                                          "variance": "delta method (Marubini & Valsecchi 1995)",
                                                          "ci": "log(-log)"})
