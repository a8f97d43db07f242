"""Results objects shared by every estimator.

An estimator returns a frozen :class:`EffectResult`: one tidy table of
estimates (indexed by term) from which every view is derived (text summary,
HTML in a notebook, a plot, rows of ``results.json``). Estimator-specific
results (group-time effects, Cox models, ...) subclass it or hold one.

Every term carries the units it rests on (disclosure interface, issue #13):
``n`` the units actually used (for ATT-type estimands the treated units used),
``n_control`` the comparison units used (NA where not applicable) and
``dominance``, the share of the two largest absolute per-unit contributions in
the sum of absolute per-unit contributions (:func:`dominance_share`; NaN where
not computable). Each estimator's module docstring says which contributions it
uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import ParameterError

COLUMNS = ("estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n")
#: The units columns every estimates table carries beside the standard ones.
UNIT_COLUMNS = ("n_control", "dominance")


def dominance_share(contributions, top_n: int = 2) -> float:
    """Share of the ``top_n`` largest absolute contributions in the sum of absolute contributions.

    ``contributions`` are per-unit terms (amounts, a unit's term in an estimating
    sum, influence-function values). The result lies in [0, 1]; NaN when the sum
    of absolute values is 0 (nothing to judge, e.g. no units). The dominance rule
    of disclosure-rules.md withholds a term when this share exceeds 0.9 for
    ``top_n=2``.
    """
    if isinstance(top_n, bool) or not isinstance(top_n, (int, np.integer)) or top_n < 1:
        raise ParameterError(f"top_n={top_n!r} is not allowed; give a whole number of at least 1 (the default is 2).")
    values = np.abs(np.asarray(contributions, dtype=float).ravel())
    if not np.all(np.isfinite(values)):
        bad = int((~np.isfinite(values)).sum())
        raise ParameterError(
            f"dominance_share received {bad} missing or infinite contribution(s) among {values.size}; "
            "drop units without a contribution (or with a missing outcome) before computing dominance."
        )
    total = values.sum()
    if values.size == 0 or total == 0:
        return float("nan")
    k = min(int(top_n), values.size)
    top = np.partition(values, values.size - k)[values.size - k:].sum()
    return float(min(1.0, top / total))


def units_used(treated, *, used=None, ids=None) -> tuple[int, int]:
    """Distinct treated and comparison units among the rows an estimate actually uses.

    ``treated`` is 1/0 per row, ``used`` a boolean mask of rows with a non-zero
    weight in the estimate (default: every row), ``ids`` the unit of each row
    (a person id when one person has several rows; default: each row is a unit).
    Returns ``(n_treated, n_control)``.
    """
    d = np.asarray(treated) == 1
    used = np.ones(len(d), dtype=bool) if used is None else np.asarray(used, dtype=bool)
    ids = np.arange(len(d)) if ids is None else np.asarray(ids)
    return int(pd.unique(ids[d & used]).size), int(pd.unique(ids[~d & used]).size)


def contributions_by_unit(terms, ids=None) -> np.ndarray:
    """Per-unit contributions: the absolute per-row terms summed within each unit.

    Summing absolute values (not the signed terms) never lets two rows of one
    person (a control in one risk set, treated in a later one) cancel and hide
    an amount.
    """
    terms = np.abs(np.asarray(terms, dtype=float))
    if ids is None:
        return terms
    return pd.Series(terms).groupby(np.asarray(ids), sort=False).sum().to_numpy()


def covariate_units(data: pd.DataFrame, covariates, *, ids=None) -> tuple[list[int], list[int | None]]:
    """What each model term rests on: units with a non-zero value of the covariate, and, for a 0/1
    covariate (a dummy), the units at 0 (its reference level); None for other covariates.

    A unit counts once however many rows it has (``ids``: the unit of each row; default: rows).
    A unit with rows on both sides of a dummy counts on both sides.
    """
    ids = np.arange(len(data)) if ids is None else np.asarray(ids)
    n, n_reference = [], []
    for c in covariates:
        x = data[c].to_numpy(float)
        n.append(int(pd.unique(ids[x != 0]).size))
        binary = np.isin(x, (0.0, 1.0)).all()
        n_reference.append(int(pd.unique(ids[x == 0]).size) if binary else None)
    return n, n_reference


def _column(values, shape, name: str):
    """Broadcast a per-term value (scalar or sequence) to the number of terms."""
    arr = np.asarray(values, dtype=object)
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        raise ParameterError(
            f"{name} has {arr.size} value(s) for {shape[0]} term(s); give one value or one per term."
        ) from None


def tidy_estimates(
    terms, estimate, std_error, *, n, alpha: float = 0.05, dof: float | None = None,
    n_control=None, dominance=None,
) -> pd.DataFrame:
    """Build the standard estimates table from point estimates and standard errors.

    Confidence intervals and p-values are normal-based unless ``dof`` gives the
    degrees of freedom of a t distribution. ``n`` is the number of units each
    term actually rests on (for ATT-type estimands: the treated units used),
    ``n_control`` the comparison units used (None: not applicable, stored as NA)
    and ``dominance`` the :func:`dominance_share` of the term's per-unit
    contributions (None: not computed, stored as NaN); each is a scalar or one
    value per term.
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
    nc = _column(n_control, est.shape, "n_control")
    nc = pd.array([pd.NA if v is None or pd.isna(v) else int(v) for v in nc], dtype="Int64")
    dom = _column(dominance, est.shape, "dominance")
    dom = np.array([np.nan if v is None else float(v) for v in dom], dtype=float)
    if np.any(dom[~np.isnan(dom)] < 0) or np.any(dom[~np.isnan(dom)] > 1):
        raise ParameterError(f"dominance={list(dom)!r} is not allowed; a dominance share lies in [0, 1] (or is NaN).")
    frame = pd.DataFrame(
        {
            "estimate": est,
            "std_error": se,
            "ci_lower": est - crit * se,
            "ci_upper": est + crit * se,
            "p_value": p,
            "n": n_arr.astype("int64"),
            "n_control": nc,
            "dominance": dom,
        },
        index=pd.Index(list(terms), name="term"),
    )
    return frame


def _number(value) -> float | None:
    """A JSON-safe number: None for missing or non-finite values."""
    if value is None or value is pd.NA:
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
        ``estimate, std_error, ci_lower, ci_upper, p_value, n, n_control, dominance``
        (see :func:`tidy_estimates`); estimator-specific columns may follow.
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
        """The estimates table (a copy), indexed by term: the standard columns plus ``n_control, dominance``.

        A table built without the units columns gets them as NA / NaN (unknown).
        """
        frame = self.estimates.loc[:, list(COLUMNS)].copy()
        frame["n_control"] = (self.estimates["n_control"].astype("Int64") if "n_control" in self.estimates
                              else pd.array([pd.NA] * len(frame), dtype="Int64"))
        frame["dominance"] = (self.estimates["dominance"].astype(float) if "dominance" in self.estimates
                              else np.nan)
        return frame

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

    def __init_subclass__(cls, **kwargs):
        """Keep the short ``__repr__`` in subclasses: a ``@dataclass`` subclass would otherwise generate one
        that prints every field (the whole estimates frame, the influence functions' closures)."""
        super().__init_subclass__(**kwargs)
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = EffectResult.__repr__

    def __repr__(self) -> str:
        """One line: the class, the estimand, the first terms with their estimates and units."""
        frame = self.estimates
        shown = []
        for term in list(frame.index)[:3]:
            est = frame.loc[term, "estimate"] if "estimate" in frame else float("nan")
            n = frame.loc[term, "n"] if "n" in frame else None
            shown.append(f"{term}={float(est):.4g}" + ("" if n is None or pd.isna(n) else f" (n={int(n)})"))
        more = f", ... {len(frame) - 3} more terms" if len(frame) > 3 else ""
        warns = len(self.diagnostics.get("warnings") or []) if isinstance(self.diagnostics, Mapping) else 0
        tail = f"; {warns} warning{'s' if warns != 1 else ''}" if warns else ""
        return f"{type(self).__name__}({self.estimand}: {', '.join(shown)}{more}{tail})"

    def _repr_html_(self) -> str:
        """The estimand, the specification, the warnings and the estimates table (for a notebook)."""
        import html

        table = self.to_frame().to_html(float_format=lambda x: f"{x:.4g}")
        spec = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td style='text-align:left'>"
                       f"{html.escape(_short(v))}</td></tr>" for k, v in self.spec.items())
        warns = self.diagnostics.get("warnings") or [] if isinstance(self.diagnostics, Mapping) else []
        warn_html = ("<p><b>Warnings</b></p><ul>" + "".join(f"<li>{html.escape(str(w))}</li>" for w in warns)
                     + "</ul>") if warns else ""
        spec_html = f"<details><summary>Specification</summary><table>{spec}</table></details>" if spec else ""
        return (f"<div><p><b>{html.escape(type(self).__name__)}</b>, estimand: {html.escape(str(self.estimand))}</p>"
                f"{spec_html}{warn_html}{table}</div>")

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
        Besides the data-contract keys each row carries the private keys
        ``_n_control`` and ``_dominance`` (None where unknown), which
        ``analysis.report.disclosure.apply_to_estimates`` judges and strips
        before the row is stored.
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
                    "n": None if pd.isna(r["n"]) else int(r["n"]),
                    "unit": unit,
                    "suppressed": False,
                    "_n_control": None if pd.isna(r["n_control"]) else int(r["n_control"]),
                    "_dominance": _number(r["dominance"]),
                }
            )
        return rows


def _short(value, limit: int = 80) -> str:
    """A specification value as short text (long lists and arrays cut)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    text = str(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


#: The columns ``compare`` shows per result.
COMPARE_COLUMNS = ("estimate", "ci_lower", "ci_upper", "n")


@dataclass(frozen=True)
class Comparison:
    """Several results side by side: one row per term, one column group per result (``compare``)."""

    labels: tuple
    results: tuple = field(repr=False)

    def to_frame(self, columns=COMPARE_COLUMNS) -> pd.DataFrame:
        """Terms x (label, column); a term a result does not have is NaN in its columns."""
        parts = {label: r.to_frame().loc[:, list(columns)] for label, r in zip(self.labels, self.results)}
        return pd.concat(parts, axis=1, sort=False)

    def specifications(self) -> pd.DataFrame:
        """Each result's estimand and specification, one column per label (where they differ shows)."""
        keys = list(dict.fromkeys(k for r in self.results for k in r.spec))
        rows = {"estimand": [str(r.estimand) for r in self.results]}
        rows.update({k: [_short(r.spec.get(k, "")) for r in self.results] for k in keys})
        return pd.DataFrame(rows, index=list(self.labels)).T

    def __repr__(self) -> str:
        return f"Comparison({', '.join(map(str, self.labels))})"

    def __str__(self) -> str:
        return self.to_frame().to_string(float_format=lambda x: f"{x:.4g}")

    def _repr_html_(self) -> str:
        import html

        spec = self.specifications()
        differ = spec[spec.nunique(axis=1) > 1]
        table = self.to_frame().to_html(float_format=lambda x: f"{x:.4g}")
        shown = differ.to_html() if len(differ) else "<p>Same specification.</p>"
        return (f"<div><p><b>Comparison</b> of {html.escape(', '.join(map(str, self.labels)))}</p>{table}"
                f"<details><summary>Where the specifications differ</summary>{shown}</details></div>")


def compare(*results, labels=None) -> Comparison:
    """Results objects side by side (``rd.compare(res_a, res_b, labels=["women", "men"])``)."""
    from analysis.errors import ParameterError

    if len(results) < 2:
        raise ParameterError(f"compare: give two or more results; received {len(results)}.")
    for r in results:
        if not isinstance(r, EffectResult):
            raise ParameterError(f"compare: {type(r).__name__} is not an estimator result (EffectResult); give the "
                                 "results of rd.att_gt, rd.event_study, rd.cox, ... or their aggregate(...).")
    labels = tuple(labels) if labels is not None else tuple(f"result {i + 1}" for i in range(len(results)))
    if len(labels) != len(results) or len(set(labels)) != len(labels):
        raise ParameterError(f"compare: labels={list(labels)!r} must be {len(results)} distinct labels, one per result.")
    return Comparison(labels=labels, results=tuple(results))
