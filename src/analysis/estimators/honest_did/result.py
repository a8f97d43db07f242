"""The result of :func:`analysis.estimators.honest_did`: robust intervals per M, the original interval, the breakdown."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from analysis.estimators.results import _number

__all__ = ["HonestDiDResult"]

LABELS = {"relative_magnitudes": "M\u0304 (relative magnitudes)", "smoothness": "M (smoothness)"}


@dataclass(frozen=True)
class HonestDiDResult:
    """Sensitivity of an event-study effect to violations of parallel trends (Rambachan & Roth 2023).

    Attributes
    ----------
    estimates
        One row per M (smoothness) or M-bar (relative magnitudes): columns
        ``m, ci_low, ci_high`` (the robust interval; NaN when the set is empty).
    original
        The non-robust interval of the same target: ``estimate, std_error, ci_low, ci_high``.
    breakdown
        The smallest searched M at which the robust interval includes 0;
        ``inf`` when it excludes 0 at every M searched (the breakdown lies above
        the largest M), ``NaN`` when the original interval already includes 0.
    breakdown_note
        That reading in words.
    restriction, target, method
        ``"relative_magnitudes"`` (C-LF) or ``"smoothness"`` (FLCI); ``"first"`` or ``"average"``.
    spec, diagnostics
        Every option the numbers depend on; grid, terms used, warnings.
    """

    estimates: pd.DataFrame
    original: pd.Series
    breakdown: float
    breakdown_note: str
    restriction: str
    target: str
    method: str
    n: int | None = None
    spec: Mapping[str, object] = field(default_factory=dict)
    diagnostics: Mapping[str, object] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The robust intervals (a copy)."""
        return self.estimates.copy()

    def summary(self) -> str:
        o = self.original
        lines = [
            f"Sensitivity to violations of parallel trends (Rambachan & Roth 2023): {self.restriction}, "
            f"{self.method}, target {self.target}, alpha {self.spec.get('alpha')}",
            f"Original: estimate {o['estimate']:.6g}, {1 - self.spec.get('alpha', 0.05):.0%} CI "
            f"[{o['ci_low']:.6g}, {o['ci_high']:.6g}]",
            "",
            self.estimates.to_string(index=False, float_format=lambda x: f"{x:.6g}"),
            "",
            f"Breakdown value: {self.breakdown:.6g} ({self.breakdown_note})",
        ]
        warns = self.diagnostics.get("warnings") or []
        if warns:
            lines += ["", "Warnings:"] + [f"- {w}" for w in warns]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        o = self.original
        table = self.estimates.to_html(index=False, float_format=lambda x: f"{x:.4g}")
        return (f"<p><b>Sensitivity to parallel-trends violations</b> ({self.restriction}, {self.method}, "
                f"target {self.target})</p><p>Original: {o['estimate']:.4g} [{o['ci_low']:.4g}, "
                f"{o['ci_high']:.4g}]</p>{table}<p><b>Breakdown value:</b> {self.breakdown:.4g} "
                f"({self.breakdown_note})</p>")

    def plot(self, ax=None, *, xlabel: str | None = None, ylabel: str = ""):
        """Robust intervals against M, with the original interval left of the smallest M (createSensitivityPlot)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        frame = self.estimates
        m = frame["m"].to_numpy(dtype=float)
        gap = float(np.min(np.diff(np.sort(m)))) if len(m) > 1 else 1.0
        x_orig = float(m.min()) - gap
        o = self.original
        ax.errorbar([x_orig], [0.5 * (o["ci_low"] + o["ci_high"])], yerr=[[0.5 * (o["ci_high"] - o["ci_low"])]],
                    fmt="none", capsize=4, color="tab:red", label="Original")
        mid = 0.5 * (frame["ci_low"] + frame["ci_high"])
        ax.errorbar(m, mid, yerr=0.5 * (frame["ci_high"] - frame["ci_low"]), fmt="none", capsize=4,
                    color="#01a2d9", label=self.method)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel(xlabel or LABELS[self.restriction])
        ax.set_ylabel(ylabel)
        ax.legend(loc="best", frameon=False)
        return ax

    def to_estimates(self, prefix: str, *, unit: str = "") -> list[dict]:
        """Rows of ``results.json``: one per M (robust interval) and ``breakdown_mbar_<prefix>`` / ``breakdown_m_<prefix>``."""
        tag = "mbar" if self.restriction == "relative_magnitudes" else "m"
        est = _number(self.original["estimate"])
        rows = [{"name": f"{prefix}_honest_{tag}{r.m:g}", "estimate": est, "se": None,
                 "ci_low": _number(r.ci_low), "ci_high": _number(r.ci_high), "n": self.n, "unit": unit,
                 "suppressed": False} for r in self.estimates.itertuples()]
        row = {"name": f"breakdown_{tag}_{prefix}", "estimate": _number(self.breakdown), "se": None,
               "ci_low": None, "ci_high": None, "n": self.n, "unit": "M-bar" if tag == "mbar" else unit,
               "suppressed": False}
        if not math.isfinite(self.breakdown):
            row["note"] = self.breakdown_note
        rows.append(row)
        return rows
