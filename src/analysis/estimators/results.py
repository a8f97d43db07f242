"""Results objects shared by every estimator.

An estimator returns a frozen :class:`EffectResult`: one tidy table of
estimates (indexed by term) from which every view is derived (text summary,
HTML in a notebook, a plot, rows of ``results.json``). Estimator-specific
results (group-time effects, Cox models, ...) subclass it or hold one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd
from scipy import stats

COLUMNS = ("estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n")


def tidy_estimates(
    terms, estimate, std_error, *, n, alpha: float = 0.05, dof: float | None = None
) -> pd.DataFrame:
    """Build the standard estimates table from point estimates and standard errors.

    Confidence intervals and p-values are normal-based unless ``dof`` gives the
    degrees of freedom of a t distribution.
    """
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    if dof is None:
        crit = stats.norm.ppf(1 - alpha / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = 2 * stats.norm.sf(np.abs(est / se))
    else:
        crit = stats.t.ppf(1 - alpha / 2, dof)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = 2 * stats.t.sf(np.abs(est / se), dof)
    n_arr = np.broadcast_to(np.asarray(n), est.shape)
    frame = pd.DataFrame(
        {
            "estimate": est,
            "std_error": se,
            "ci_lower": est - crit * se,
            "ci_upper": est + crit * se,
            "p_value": p,
            "n": n_arr.astype("int64"),
        },
        index=pd.Index(list(terms), name="term"),
    )
    return frame


def _number(value) -> float | None:
    """A JSON-safe number: None for missing or non-finite values."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class EffectResult:
    """Tidy estimates plus everything needed to judge and reproduce them.

    Attributes
    ----------
    estimates
        Indexed by term (``"ATT"``, ``"e=-1"``, a covariate name), columns
        ``estimate, std_error, ci_lower, ci_upper, p_value, n``.
    estimand
        What is estimated, in words or a short label (``"ATT"``, ``"ATT(e)"``).
    spec
        Every option the numbers depend on.
    diagnostics
        Balance, overlap, pre-trend test, warnings raised, ...
    """

    estimates: pd.DataFrame
    estimand: str
    spec: Mapping[str, object] = field(default_factory=dict)
    diagnostics: Mapping[str, object] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The estimates table (a copy), indexed by term, with the standard columns."""
        return self.estimates.loc[:, list(COLUMNS)].copy()

    def __getitem__(self, term: str) -> pd.Series:
        return self.estimates.loc[term]

    def summary(self) -> str:
        """A plain-text summary: estimand, options, and the estimates table."""
        spec = ", ".join(f"{k}={v}" for k, v in self.spec.items() if not isinstance(v, (list, dict, tuple)) or len(v) < 6)
        table = self.to_frame().to_string(float_format=lambda x: f"{x:.6g}")
        warns = self.diagnostics.get("warnings") or []
        lines = [f"Estimand: {self.estimand}", f"Specification: {spec}", "", table]
        if warns:
            lines += ["", "Warnings:"] + [f"- {w}" for w in warns]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        table = self.to_frame().to_html(float_format=lambda x: f"{x:.4g}")
        return f"<p><b>Estimand:</b> {self.estimand}</p>{table}"

    def plot(self, ax=None, *, terms=None, label_map=None):
        """Point estimates with confidence intervals, one row per term."""
        import matplotlib.pyplot as plt

        frame = self.to_frame() if terms is None else self.to_frame().loc[list(terms)]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.4 * len(frame) + 1))
        y = np.arange(len(frame))
        ax.errorbar(
            frame["estimate"], y,
            xerr=[frame["estimate"] - frame["ci_lower"], frame["ci_upper"] - frame["estimate"]],
            fmt="o", capsize=3,
        )
        labels = [label_map.get(t, t) if label_map else t for t in frame.index]
        ax.set_yticks(y, labels)
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.invert_yaxis()
        return ax

    def to_estimates(self, prefix: str = "", *, unit: str = "", terms=None, names=None) -> list[dict]:
        """Rows of ``results.json`` (data-contract.md), one per term.

        ``names`` maps a term to the full estimate name; otherwise the name is
        ``prefix + term`` (with ``prefix`` alone for the single term ``"ATT"``).
        Disclosure control is applied later by ``analysis.report.disclosure``.
        """
        frame = self.to_frame() if terms is None else self.to_frame().loc[list(terms)]
        rows = []
        for term, r in frame.iterrows():
            if names and term in names:
                name = names[term]
            elif term == "ATT" and prefix:
                name = prefix
            else:
                name = f"{prefix}{term}"
            rows.append(
                {
                    "name": name,
                    "estimate": _number(r["estimate"]),
                    "se": _number(r["std_error"]),
                    "ci_low": _number(r["ci_lower"]),
                    "ci_high": _number(r["ci_upper"]),
                    "n": int(r["n"]),
                    "unit": unit,
                    "suppressed": False,
                }
            )
        return rows
