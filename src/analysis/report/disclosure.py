"""Disclosure control: nothing based on too few persons leaves a run.

Default policy (``disclosure.yml``), the CBS rules for exporting results from
microdata (../shared/disclosure-rules.md gives the sources):

- every published cell (a count, a mean, a share, an estimate, a point of a
  figure) rests on at least ``min_units`` (10) units;
- a share p of n units is withheld when its numerator n*p or its complement
  n*(1-p) is below the minimum (this covers 0 % and 100 %: group disclosure);
- a count a reader can compute from published figures (a share times a
  published total, a total minus published parts) counts as published: the
  helpers :func:`safe_ratio`, :func:`shares_within`, :func:`derived_counts`
  and :func:`safe_remainder` build such numbers from checked counts only, and
  secondary suppression keeps withheld cells from following from a total;
- a sum, mean or difference of amounts is withheld when its 2 largest
  contributors make up more than 90 % of the sum of absolute contributions
  (dominance);
- no minimum, maximum, median or single person's value: survival curves stop
  where fewer than 10 remain at risk; a median is shown only when 10 or more
  events lie at or before it and 10 or more units remain at risk after it;
- models need at least ``min_residual_df`` (10) residual degrees of freedom.

Nothing about a withheld cell is published: the log names object, cell and
rule and shows ``"<10"`` for the size rules, never the n; a withheld
estimate's ``n`` is null. Aggregation and control happen in one pass
(:func:`safe_aggregate`), which returns a :class:`CheckedTable`; the report
shows nothing else (see ``analysis.report.checked``). Hand-written: the rules
are CBS's, small, and must be auditable here.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import yaml

from analysis.errors import ParameterError, SmallCellWarning, check_choice

DEFAULT_FILE = Path(__file__).with_name("disclosure.yml")
POLICY_ENV = "RENDEERT_POLICY"
STATS = ("count", "sum", "mean", "share")
#: Rules of the log. The size rules show "<{min_units}" as their n; the others null.
SIZE_RULES = ("min_units", "numerator", "complement", "min_treated", "min_control", "at_risk")
RULES = SIZE_RULES + ("dominance", "secondary", "derived", "residual_df", "median", "single_value",
                      "differencing")


@dataclass(frozen=True)
class DisclosurePolicy:
    min_units: int = 10
    dominance_top_n: int = 2
    dominance_share: float = 0.9
    min_residual_df: int = 10
    symbol: str = "x"

    @classmethod
    def load(cls, path: str | Path | None = None) -> "DisclosurePolicy":
        """The policy of this run: ``path``, else the file named by ``$RENDEERT_POLICY``, else the default.

        A user's file may tighten the CBS rules (higher minimums, a lower dominance share), never
        loosen them.
        """
        default = cls(**yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8")))
        if path is None:
            path = os.environ.get(POLICY_ENV) or None
            if path is None:
                return default
        p = Path(path)
        if not p.is_file():
            raise ParameterError(f"Disclosure policy file {str(p)!r} does not exist; pass an existing YAML file "
                                 f"(keys: {sorted(asdict(default))}) or none for the CBS default.")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ParameterError(f"{p.name} is not a readable YAML policy file ({type(exc).__name__}); "
                                 "write it as 'key: value' lines, UTF-8.") from None
        if not isinstance(data, dict):
            raise ParameterError(f"{p.name} must hold 'key: value' lines, not a {type(data).__name__}.")
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

    def to_dict(self) -> dict:
        """The policy's values, for the manifest and the report's appendix."""
        return asdict(self)


@dataclass
class DisclosureLog:
    """What was withheld, and why: for the manifest and the report's appendix.

    Records are ``{"object", "cell", "rule", "n"}``; "n" is ``"<10"`` (``f"<{min_units}"``) for the
    size rules and None otherwise: the n of a withheld cell is never written.
    """

    min_units: int = 10
    entries: list = field(default_factory=list)

    def add(self, obj: str, cell: str, rule: str) -> None:
        check_choice("rule", rule, RULES)
        record = {"object": str(obj), "cell": str(cell), "rule": rule,
                  "n": f"<{self.min_units}" if rule in SIZE_RULES else None}
        if record not in self.entries:
            self.entries.append(record)

    def to_records(self) -> list:
        return [dict(e) for e in self.entries]

    def objects(self) -> list[str]:
        """The objects with something withheld, in the order first logged."""
        return list(dict.fromkeys(e["object"] for e in self.entries))

    def __len__(self) -> int:
        return len(self.entries)


# -- the rules, one function each ----------------------------------------------------------------
def share_rule(n, p, policy: DisclosurePolicy) -> str | None:
    """The rule a share ``p`` of ``n`` units breaks (min_units, numerator, complement), or None."""
    if n is None or pd.isna(n) or n < policy.min_units:
        return "min_units"
    if p is None or pd.isna(p):
        return None
    num = round(float(n) * float(p), 6)  # a share of counts times its n is the count, up to rounding
    if num < policy.min_units:
        return "numerator"
    if round(float(n) - num, 6) < policy.min_units:
        return "complement"
    return None


def dominance(values) -> float:
    """Share of the 2 largest absolute contributions in the sum of absolute contributions (NaN if 0)."""
    return top_share(values, top_n=2)


def top_share(values, *, top_n: int) -> float:
    a = np.abs(np.asarray(values, dtype=float))
    a = a[np.isfinite(a)]
    total = a.sum()
    if total <= 0:
        return float("nan")
    return float(np.sort(a)[-top_n:].sum() / total)


def dominated(values, policy: DisclosurePolicy) -> bool:
    share = top_share(values, top_n=policy.dominance_top_n)
    return bool(np.isfinite(share) and share > policy.dominance_share)


def cell_name(keys) -> str:
    keys = keys if isinstance(keys, tuple) else (keys,)
    return ", ".join(str(k) for k in keys)


# -- aggregation: one pass, returns a checked table ------------------------------------------------
def safe_aggregate(frame: pd.DataFrame, *, by: Sequence[str], value: str | None = None, stat: str = "count",
                   policy: DisclosurePolicy, log: DisclosureLog, name: str,
                   levels: Mapping[str, Sequence] | None = None, total_published: bool = False,
                   units: str | None = None, unit_id: str | None = None):
    """Aggregate ``frame`` by ``by`` and withhold what the policy forbids; a :class:`CheckedTable`.

    One row of ``frame`` is one unit (a person, or a person-year where the table says so). The table
    has columns ``by..., n, value`` and ``table["suppressed"]``; withheld cells are NaN (n too when
    it is below the minimum). ``stat``: "count", "sum" or "mean" of an amount (dominance applies) or
    "share" (mean of a 0/1 column; numerator and complement must both reach the minimum). Minimum,
    maximum and median are refused. ``levels`` completes the grid (a level without units is a
    withheld cell, shown as "x", not left out). Counts (and shares) of two or more keys get secondary
    suppression along every key; ``total_published=True`` adds it over the whole table, for a table
    whose total is published elsewhere (the withheld cells together must rest on 10 or more units).
    ``units`` (counts only) names a column holding how many units each row stands for, for counts
    aggregated in the database first (``GROUP BY ... count(*)``). ``unit_id`` names the unit (person)
    column when rows are not units (person-years): the size rules then count distinct units (for a
    share: units with and units without the property), and a unit's rows are one contributor in the
    dominance share.
    """
    if stat in ("min", "max", "median"):
        raise ParameterError(f"stat={stat!r}: a {stat} is a single person's value and is never published.")
    check_choice("stat", stat, STATS)
    by = list(by)
    if stat != "count" and value is None:
        raise ParameterError(f"stat={stat!r} needs a value column; pass value='<column>'.")
    missing = [c for c in by + ([value] if value else []) if c not in frame.columns]
    if missing:
        raise ParameterError(f"safe_aggregate({name!r}): columns {missing} not in the frame; columns: {list(frame.columns)}.")
    if stat == "share":
        vals = pd.to_numeric(frame[value], errors="coerce").dropna()
        if not vals.isin([0, 1]).all():
            raise ParameterError(f"safe_aggregate({name!r}): stat='share' needs a 0/1 column; {value!r} holds "
                                 f"{sorted(vals[~vals.isin([0, 1])].unique()[:5].tolist())}. Use stat='mean' for amounts.")
    if units is not None:
        if stat != "count":
            raise ParameterError(f"safe_aggregate({name!r}): units= is for stat='count' only; pass one row per unit.")
        frame = frame.assign(**{units: pd.to_numeric(frame[units]).fillna(0)})
    if unit_id is not None and unit_id not in frame.columns:
        raise ParameterError(f"safe_aggregate({name!r}): unit_id column {unit_id!r} not in the frame.")
    out = _group_stats(frame, by=by, value=value, stat=stat, units=units, unit_id=unit_id, policy=policy)
    table = _control(out, by=by, stat=stat, policy=policy, log=log, name=name, levels=levels,
                     total_published=total_published, per_unit=unit_id is not None)
    if table.any_withheld:
        warnings.warn(f"{name}: cells withheld by disclosure control (the disclosure log names them).",
                      SmallCellWarning, stacklevel=2)
    return table


def _control(out: pd.DataFrame, *, by, stat, policy, log, name, levels, total_published, per_unit: bool):
    """The decisions on per-cell statistics ``out`` (columns ``by..., n, value``, with ``per_unit`` also
    ``u_n`` and for shares ``u_num``/``u_comp``, for sums and means ``_dominated``): the grid completed by
    ``levels``, the size, share and dominance rules, secondary suppression, the log; a CheckedTable. The one
    place both :func:`safe_aggregate` (unit rows) and ``analysis.report.cells`` (cells from the database)
    decide."""
    from analysis.report.checked import _long_table

    if levels:
        lists = [list(levels.get(c, out[c].unique())) for c in by]
        grid = pd.MultiIndex.from_product(lists, names=by) if len(by) > 1 else pd.Index(lists[0], name=by[0])
        out = out.set_index(by).reindex(grid).reset_index()
        out["n"] = out["n"].fillna(0)
        if stat == "count":
            out["value"] = out["value"].fillna(0.0)
    dom = (out["_dominated"].map(lambda v: bool(v) if pd.notna(v) else False).to_numpy(dtype=bool)
           if "_dominated" in out else np.zeros(len(out), dtype=bool))
    if per_unit:  # the rules count distinct units (persons), not rows (person-years)
        for c in ("u_n", "u_num", "u_comp"):
            out[c] = out[c].fillna(0) if c in out else 0.0
    rules = []
    for i in range(len(out)):
        n = out.at[i, "n"] if not per_unit else out.at[i, "u_n"]
        if stat == "share" and not per_unit:
            rule = share_rule(n, out.at[i, "value"], policy)
        elif n < policy.min_units:
            rule = "min_units"
        elif stat == "share":
            rule = ("numerator" if out.at[i, "u_num"] < policy.min_units else
                    "complement" if out.at[i, "u_comp"] < policy.min_units else None)
        else:
            rule = None
        rules.append("dominance" if rule is None and dom[i] else rule)
    out["rule"] = pd.Series(rules, index=out.index, dtype=object)
    if stat in ("count", "share") and (len(by) >= 2 or total_published):
        lines = [[c for c in by if c != d] for d in by] if len(by) >= 2 else []
        if total_published:
            lines.append([])
        _secondary(out, lines, stat=stat, policy=policy)
    for i in np.flatnonzero(out["rule"].notna().to_numpy()):
        log.add(name, cell_name(tuple(out.loc[i, by])), out.at[i, "rule"])
    table = _long_table(out, by=by, stat=stat, name=name, policy=policy)
    if per_unit:
        table._units[:] = np.where(table._held.to_numpy(), np.nan, out[["u_n"]].to_numpy(dtype=float))
    return table


def _group_stats(frame: pd.DataFrame, *, by, value, stat, units, unit_id, policy) -> pd.DataFrame:
    """Per group: n (rows, or summed ``units``), value, and with ``unit_id`` the distinct units (u_n) and
    for shares those with (u_num) and without (u_comp) the property; ``_dominated`` for sums and means
    (contributions summed per unit when ``unit_id`` is given: a person is one contributor)."""
    if frame.empty:
        out = pd.DataFrame({c: pd.Series(dtype=frame[c].dtype) for c in by})
        out["n"], out["value"] = pd.Series(dtype=float), pd.Series(dtype=float)
        return out
    grouped = frame.groupby(by, observed=True, sort=True)
    out = (grouped[units].sum() if units else grouped.size()).rename("n").reset_index()
    out["n"] = out["n"].astype(float)
    if stat == "count":
        out["value"] = out["n"]
    elif stat == "share":
        out["value"] = grouped[value].sum().to_numpy(dtype=float) / out["n"].to_numpy()
    else:
        out["value"] = (grouped[value].sum() if stat == "sum" else grouped[value].mean()).to_numpy(dtype=float)
    if unit_id is not None:
        out["u_n"] = grouped[unit_id].nunique().to_numpy(dtype=float)
        if stat == "share":
            flag = pd.to_numeric(frame[value]) == 1
            for col, part in (("u_num", frame[flag]), ("u_comp", frame[~flag])):
                counts = part.groupby(by, observed=True)[unit_id].nunique()
                out[col] = out.set_index(by).index.map(lambda k: counts.get(k, 0)).to_numpy(dtype=float)
    if stat in ("sum", "mean"):
        if unit_id is not None:
            per_unit = frame.groupby([*by, unit_id], observed=True)[value].sum().groupby(level=list(range(len(by))))
            dom = per_unit.apply(lambda s: dominated(s.to_numpy(), policy))
        else:
            dom = grouped[value].apply(lambda s: dominated(s.to_numpy(), policy))
        out["_dominated"] = dom.to_numpy()
    return out


def _protected(out: pd.DataFrame, stat: str) -> list[np.ndarray]:
    """The counts a reader could derive for a group of withheld cells: units (and numerators, complements)."""
    n = out["n"].to_numpy(dtype=float)
    if stat != "share":
        return [n]
    num = np.nan_to_num(out["value"].to_numpy(dtype=float) * n)
    return [n, num, n - num]


def _secondary(out: pd.DataFrame, lines: list[list[str]], *, stat: str, policy: DisclosurePolicy) -> None:
    """Withhold more cells until, in every line with a withheld cell, the withheld cells together rest on
    ``min_units`` or more (units, and for shares numerators and complements): a total minus the published
    cells then reveals no small number. ``lines`` lists the keys that fix a line ([] = the whole table)."""
    changed = True
    while changed:
        changed = False
        for keys in lines:
            groups = out.groupby(keys, observed=True, dropna=False).groups.values() if keys else [out.index]
            for idx in groups:
                idx = np.asarray(list(idx))
                held = out.loc[idx, "rule"].notna().to_numpy()
                if not held.any() or held.all():
                    continue
                for counts in _protected(out.loc[idx], stat):
                    if counts[held].sum() >= policy.min_units:
                        continue
                    free = np.flatnonzero(~held)
                    pick = idx[free[np.argmin(counts[free])]]
                    out.at[pick, "rule"] = "secondary"
                    changed = True
                    break
                if changed:
                    break
            if changed:
                break


# -- estimates (rows of results.json) ---------------------------------------------------------------
def estimate_rule(row: Mapping, policy: DisclosurePolicy, residual_df: int | None = None) -> str | None:
    """The rule a results.json row breaks, or None (the interface of issue #13, section 2)."""
    n = row.get("n")
    if n is None or pd.isna(n) or n < policy.min_units:
        return "min_units"
    n_control = row.get("_n_control")
    if n_control is not None and not pd.isna(n_control) and n_control < policy.min_units:
        return "min_control"
    dom = row.get("_dominance")
    if dom is not None and not pd.isna(dom) and dom > policy.dominance_share:
        return "dominance"
    if row.get("unit") == "share" and row.get("estimate") is not None:
        rule = share_rule(n, row["estimate"], policy)
        if rule:
            return rule
    if residual_df is not None and residual_df < policy.min_residual_df:
        return "residual_df"
    return None


def apply_to_estimates(rows: Iterable[dict], *, policy: DisclosurePolicy, log: DisclosureLog,
                       residual_df: int | None = None, obj: str = "results.json") -> list[dict]:
    """results.json rows: withhold those breaking a rule (estimate, se, ci_low, ci_high and n become None,
    suppressed True) and drop the private keys (``_n_control``, ``_dominance``). A row already marked
    suppressed stays withheld (and is not logged twice). Idempotent."""
    out = []
    for row in rows:
        row = dict(row)
        rule = None if row.get("suppressed") else estimate_rule(row, policy, residual_df)
        if rule or row.get("suppressed"):
            row.update(estimate=None, se=None, ci_low=None, ci_high=None, n=None, suppressed=True)
            if rule:
                log.add(obj, row["name"], rule)
        else:
            row["n"] = int(row["n"])
            row["suppressed"] = False
        out.append({k: v for k, v in row.items() if not str(k).startswith("_")})
    return out


from analysis.report.checked import (  # noqa: E402  (the checked objects build on the rules above)
    CheckedFigure, CheckedTable, checked_estimates, checked_result, combine, derived_counts,
    public_table, safe_ratio, safe_remainder, shares_within, survival_curve, survival_median,
)

__all__ = [
    "DisclosurePolicy", "DisclosureLog", "safe_aggregate", "apply_to_estimates", "estimate_rule", "share_rule",
    "dominance", "CheckedTable", "CheckedFigure", "checked_estimates", "checked_result", "combine",
    "derived_counts", "public_table", "safe_ratio", "safe_remainder", "shares_within", "survival_curve",
    "survival_median", "RULES", "SIZE_RULES",
]
