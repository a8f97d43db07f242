"""Disclosure control: nothing based on too few persons leaves a run.

Default policy (``disclosure.yml``), following the CBS rules for exporting
results from microdata:

- every published cell (a count, a mean, a share, a category in a figure)
  rests on at least ``min_units`` (10) persons;
- a sum or mean of amounts is withheld when its two largest contributors make
  up more than 90 percent of it (dominance);
- no minimum, maximum or single person's value is published (refused);
- models need at least ``min_residual_df`` (10) residual degrees of freedom;
- in a two-way table of counts, a row with exactly one withheld cell gets a
  second one withheld (secondary suppression), so the first cannot be derived
  from a total.

Aggregation and control happen in one pass (:func:`safe_aggregate`), so a
study never holds an unchecked table it could show by mistake. Every withheld
cell is logged (object, cell, rule, n) for the manifest and the report's
appendix, and marked ``suppressed`` in results.json. Hand-written: the rules
are CBS's, small, and must be auditable here.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import yaml

from analysis.errors import ParameterError, SmallCellWarning, check_choice

DEFAULT_FILE = Path(__file__).with_name("disclosure.yml")
STATS = ("count", "sum", "mean", "share")


@dataclass(frozen=True)
class DisclosurePolicy:
    min_units: int = 10
    dominance_top_n: int = 2
    dominance_share: float = 0.9
    min_residual_df: int = 10
    symbol: str = "x"

    @classmethod
    def load(cls, path: str | Path | None = None) -> "DisclosurePolicy":
        """The default policy, or a user's file (which may tighten it, never loosen it)."""
        default = cls(**yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8")))
        if path is None:
            return default
        p = Path(path)
        if not p.is_file():
            raise ParameterError(f"Disclosure policy file {str(p)!r} does not exist.")
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        unknown = set(data) - set(asdict(default))
        if unknown:
            raise ParameterError(f"{p.name}: unknown policy keys {sorted(unknown)}; allowed: {sorted(asdict(default))}.")
        policy = cls(**{**asdict(default), **data})
        looser = []
        if policy.min_units < default.min_units:
            looser.append(f"min_units {policy.min_units} < {default.min_units}")
        if policy.min_residual_df < default.min_residual_df:
            looser.append(f"min_residual_df {policy.min_residual_df} < {default.min_residual_df}")
        if policy.dominance_share > default.dominance_share:
            looser.append(f"dominance_share {policy.dominance_share} > {default.dominance_share}")
        if policy.dominance_top_n < default.dominance_top_n:
            looser.append(f"dominance_top_n {policy.dominance_top_n} < {default.dominance_top_n}")
        if looser:
            raise ParameterError(f"{p.name} loosens the CBS rules ({'; '.join(looser)}); a policy may only tighten them.")
        return policy


@dataclass
class DisclosureLog:
    """What was withheld, and why: for the manifest and the report's appendix."""

    entries: list = field(default_factory=list)

    def add(self, obj: str, cell: str, rule: str, n: int | None) -> None:
        self.entries.append({"object": obj, "cell": cell, "rule": rule, "n": None if n is None else int(n)})

    def to_records(self) -> list:
        return list(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def _cell_name(keys) -> str:
    keys = keys if isinstance(keys, tuple) else (keys,)
    return ", ".join(str(k) for k in keys)


def safe_aggregate(frame: pd.DataFrame, *, by: Sequence[str], value: str | None = None, stat: str = "count",
                   policy: DisclosurePolicy, log: DisclosureLog, name: str) -> pd.DataFrame:
    """Aggregate ``frame`` by ``by`` and withhold what the policy forbids.

    One row of ``frame`` is one unit (a person, or a person-year where the table
    says so). Returns columns ``by..., n, value, suppressed``; withheld cells have
    ``value`` NaN. ``stat`` is "count", "sum", "mean" (of an amount) or "share"
    (mean of a 0/1 column); minimum and maximum are refused.
    """
    if stat in ("min", "max", "median"):
        raise ParameterError(f"stat={stat!r}: a {stat} is a single person's value and is never published.")
    check_choice("stat", stat, STATS)
    by = list(by)
    if stat != "count" and value is None:
        raise ParameterError(f"stat={stat!r} needs a value column.")
    if frame.empty:
        return pd.DataFrame(columns=[*by, "n", "value", "suppressed"])
    grouped = frame.groupby(by, observed=True, sort=True)
    out = grouped.size().rename("n").reset_index()
    if stat == "count":
        out["value"] = out["n"].astype(float)
    else:
        vals = grouped[value]
        out["value"] = (vals.sum() if stat == "sum" else vals.mean()).to_numpy()
    out["suppressed"] = False
    small = out["n"] < policy.min_units
    for i in np.flatnonzero(small.to_numpy()):
        log.add(name, _cell_name(tuple(out.loc[i, by])), "min_units", out.loc[i, "n"])
    out.loc[small, "suppressed"] = True
    if stat in ("sum", "mean"):
        top = grouped[value].apply(lambda s: np.sort(np.abs(s.to_numpy()))[-policy.dominance_top_n:].sum())
        total = grouped[value].apply(lambda s: np.abs(s.to_numpy()).sum())
        dominated = (top.to_numpy() > policy.dominance_share * total.to_numpy()) & (total.to_numpy() > 0)
        for i in np.flatnonzero(dominated & ~out["suppressed"].to_numpy()):
            log.add(name, _cell_name(tuple(out.loc[i, by])), "dominance", out.loc[i, "n"])
        out.loc[dominated, "suppressed"] = True
    if stat == "count" and len(by) >= 2:
        out = _secondary(out, by, log, name)
    if out["suppressed"].any():
        warnings.warn(f"{name}: {int(out['suppressed'].sum())} cell(s) withheld by disclosure control.",
                      SmallCellWarning, stacklevel=2)
    out.loc[out["suppressed"], "value"] = np.nan
    return out


def _secondary(out: pd.DataFrame, by: list, log: DisclosureLog, name: str) -> pd.DataFrame:
    """In each row (first ``by`` key) with exactly one withheld cell, withhold the smallest other one too."""
    for _, idx in out.groupby(by[0], observed=True).groups.items():
        cells = out.loc[idx]
        if len(cells) >= 2 and cells["suppressed"].sum() == 1:
            j = cells.loc[~cells["suppressed"], "n"].idxmin()
            out.loc[j, "suppressed"] = True
            log.add(name, _cell_name(tuple(out.loc[j, by])), "secondary", out.loc[j, "n"])
    return out


def apply_to_table(frame: pd.DataFrame, *, counts: str, policy: DisclosurePolicy, log: DisclosureLog,
                   name: str, key: str | None = None) -> pd.DataFrame:
    """Blank every number in rows whose ``counts`` column is below the minimum (the count itself too)."""
    out = frame.copy()
    small = pd.to_numeric(out[counts], errors="coerce") < policy.min_units
    for i in np.flatnonzero(small.to_numpy()):
        cell = str(out.iloc[i][key]) if key else str(out.index[i])
        log.add(name, cell, "min_units", out.iloc[i][counts])
    numeric = out.select_dtypes("number").columns
    out[numeric] = out[numeric].astype(float)
    out.loc[small.to_numpy(), numeric] = np.nan
    return out


def apply_to_estimates(rows: Iterable[dict], *, policy: DisclosurePolicy, log: DisclosureLog,
                       residual_df: int | None = None) -> list[dict]:
    """results.json rows: withhold those resting on too few persons or on too few residual dof."""
    out = []
    for row in rows:
        row = dict(row)
        rule = None
        if row.get("n") is not None and row["n"] < policy.min_units:
            rule = "min_units"
        elif residual_df is not None and residual_df < policy.min_residual_df:
            rule = "residual_df"
        if rule or row.get("suppressed"):
            row.update(estimate=None, se=None, ci_low=None, ci_high=None, suppressed=True)
            if rule:
                log.add(row["name"], "estimate", rule, row.get("n"))
        out.append(row)
    return out
