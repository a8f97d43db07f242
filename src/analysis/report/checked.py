"""Checked objects: the only things a :class:`~analysis.report.Report` shows.

A :class:`CheckedTable` is made only here and in ``disclosure.safe_aggregate``
(a module token guards the constructor): by aggregating unit-level data, by
deriving rates and shares from checked counts, from estimator results that
carry their units, or from figures that are public already (StatLine). Its
cells are NaN where withheld, and each published cell keeps its unweighted
units for ``published.json``. Reshaping (rename, relabel, select, sort,
pivot, combine, concat) keeps it checked, because it adds no number. A
:class:`CheckedFigure` is built by ``analysis.report.figures`` from checked
tables and marks withheld cells visibly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.errors import DisclosureError, ParameterError

_TOKEN = object()
HOW_TO_CHECK = ("Build tables with analysis.report.disclosure.safe_aggregate (count, sum, mean, share), "
                "safe_ratio / shares_within / derived_counts / safe_remainder for numbers derived from checked "
                "counts, checked_result / checked_estimates for estimator results, survival_curve for "
                "Kaplan-Meier, public_table for already public figures; build figures with "
                "analysis.report.figures from such tables.")


@dataclass(frozen=True)
class CheckedTable:
    """A disclosure-checked table: ``keys`` label the rows, the other columns hold checked numbers."""

    name: str
    keys: tuple
    _frame: pd.DataFrame = field(repr=False)
    _units: pd.DataFrame = field(repr=False)  # value columns: unweighted units per cell (NaN where withheld)
    _held: pd.DataFrame = field(repr=False)  # value columns: True where withheld
    kinds: Mapping[str, str] = field(default_factory=dict)
    _raw: pd.DataFrame | None = field(default=None, repr=False)  # long tables: true n, value (for derivation only)
    _token: object = field(default=None, repr=False)
    sources: tuple = ()  # names of the checked tables it was built from (for the log's "shown as")
    notes: Mapping = field(default_factory=dict)  # e.g. {"stopped": groups whose survival curve was cut}

    def __post_init__(self):
        if self._token is not _TOKEN:
            raise DisclosureError("A CheckedTable is made by the disclosure helpers, not by hand. " + HOW_TO_CHECK)

    # -- reading --------------------------------------------------------------------------------
    @property
    def frame(self) -> pd.DataFrame:
        """What may be shown (a copy): withheld cells are NaN."""
        return self._frame.copy()

    @property
    def values(self) -> tuple:
        return tuple(c for c in self._frame.columns if c not in self.keys)

    @property
    def columns(self) -> list:
        return list(self._frame.columns)

    @property
    def withheld(self) -> pd.DataFrame:
        return self._held.copy()

    @property
    def any_withheld(self) -> bool:
        return bool(self._held.to_numpy().any())

    def __getitem__(self, column: str) -> pd.Series:
        if column == "suppressed":
            held = self._held["value"] if "value" in self._held else self._held.any(axis=1)
            return held.copy()
        return self._frame[column].copy()

    def __len__(self) -> int:
        return len(self._frame)

    def cells(self) -> list[dict]:
        """Every published cell: ``{"object", "cell", "value", "n", "kind"}`` (for published.json)."""
        out = []
        values = self.values
        for i in range(len(self._frame)):
            key = ", ".join(str(self._frame.iloc[i][k]) for k in self.keys)
            for c in values:
                if self._held.iloc[i][c]:
                    continue
                v, n = self._frame.iloc[i][c], self._units.iloc[i][c]
                out.append({"object": self.name, "cell": key if len(values) == 1 else f"{key} | {c}",
                            "value": _json_value(v), "n": None if pd.isna(n) else int(n),
                            "kind": self.kinds.get(c, "value")})
        return out

    # -- reshaping (adds no number) ----------------------------------------------------------------
    def _new(self, frame, units, held, *, keys=None, kinds=None, name=None, raw=None) -> "CheckedTable":
        return CheckedTable(name=name or self.name, keys=tuple(keys if keys is not None else self.keys),
                            _frame=frame.reset_index(drop=True), _units=units.reset_index(drop=True),
                            _held=held.reset_index(drop=True), kinds=dict(kinds if kinds is not None else self.kinds),
                            _raw=raw, _token=_TOKEN, sources=tuple(dict.fromkeys((*self.sources, self.name))),
                            notes=dict(self.notes))

    def rename(self, columns: Mapping[str, str], *, name: str | None = None) -> "CheckedTable":
        cols = dict(columns)
        return self._new(self._frame.rename(columns=cols), self._units.rename(columns=cols),
                         self._held.rename(columns=cols), keys=[cols.get(k, k) for k in self.keys],
                         kinds={cols.get(k, k): v for k, v in self.kinds.items()}, name=name)

    def relabel(self, column: str, mapping, *, into: str | None = None) -> "CheckedTable":
        """Replace the labels of key ``column`` (a dict or a function); ``into`` keeps it and adds a new key."""
        if column not in self.keys:
            raise ParameterError(f"relabel: {column!r} is not a key of {self.name!r}; keys: {list(self.keys)}.")
        fn = mapping if callable(mapping) else (lambda v, m=dict(mapping): m.get(v, v))
        frame = self._frame.copy()
        labels = frame[column].map(lambda v: fn(v) if not pd.isna(v) else v)
        keys = list(self.keys)
        raw = None if self._raw is None else self._raw.copy()
        if into:
            frame.insert(frame.columns.get_loc(column), into, labels)
            keys.insert(keys.index(column), into)
            if raw is not None:
                raw.insert(0, into, labels.to_numpy())
        else:
            frame[column] = labels
            if raw is not None:
                raw[column] = labels.to_numpy()
        return self._new(frame, self._units, self._held, keys=keys, raw=raw)

    def with_key(self, column: str, value) -> "CheckedTable":
        """Add a constant key column (a series label)."""
        frame = self._frame.copy()
        frame.insert(0, column, value)
        raw = None if self._raw is None else self._raw.assign(**{column: value})
        return self._new(frame, self._units, self._held, keys=[column, *self.keys], raw=raw)

    def select(self, columns: Sequence[str]) -> "CheckedTable":
        columns = list(columns)
        unknown = [c for c in columns if c not in self._frame.columns]
        if unknown:
            raise ParameterError(f"select: {unknown} not in {self.name!r}; columns: {self.columns}.")
        vals = [c for c in columns if c not in self.keys]
        return self._new(self._frame[columns], self._units[vals], self._held[vals],
                         keys=[c for c in columns if c in self.keys])

    def sort(self, by: str, *, ascending: bool = True) -> "CheckedTable":
        order = self._frame[by].sort_values(ascending=ascending, na_position="last", kind="stable").index
        raw = None if self._raw is None else self._raw.loc[order]
        return self._new(self._frame.loc[order], self._units.loc[order], self._held.loc[order],
                         raw=None if raw is None else raw.reset_index(drop=True))

    def where(self, column: str, values) -> "CheckedTable":
        """Keep the rows whose key ``column`` is one of ``values``."""
        keep = self._frame[column].isin(list(values)).to_numpy()
        raw = None if self._raw is None else self._raw[keep].reset_index(drop=True)
        return self._new(self._frame[keep], self._units[keep], self._held[keep], raw=raw)

    def pivot(self, *, index: str, columns: str, value: str = "value") -> "CheckedTable":
        """Wide table: one row per ``index`` label, one column per ``columns`` label; missing cells withheld."""
        f = self._frame
        wide = f.pivot(index=index, columns=columns, values=value)
        units = f.assign(_u=self._units[value]).pivot(index=index, columns=columns, values="_u")
        held = f.assign(_h=self._held[value]).pivot(index=index, columns=columns, values="_h")
        held = held.reindex_like(wide).fillna(True).astype(bool)
        cols = [str(c) for c in wide.columns]
        wide.columns, units.columns, held.columns = cols, cols, cols
        wide = wide.where(~held)
        frame = wide.reset_index()
        kind = self.kinds.get(value, "value")
        return self._new(frame, units.reindex_like(wide).reset_index(drop=True), held.reset_index(drop=True),
                         keys=[index], kinds={c: kind for c in cols})


@dataclass(frozen=True)
class CheckedFigure:
    """A matplotlib figure drawn by ``analysis.report.figures`` from checked tables only."""

    figure: object = field(repr=False)
    name: str = ""
    published: tuple = ()  # the cells drawn, as CheckedTable.cells() records
    any_withheld: bool = False
    _token: object = field(default=None, repr=False)
    sources: tuple = ()

    def __post_init__(self):
        if self._token is not _TOKEN:
            raise DisclosureError("A CheckedFigure is drawn by analysis.report.figures from checked tables, "
                                  "not made by hand. " + HOW_TO_CHECK)

    def cells(self) -> list[dict]:
        return [dict(c, object=self.name) for c in self.published]


def checked_figure(fig, *, name: str, tables: Sequence[CheckedTable]) -> CheckedFigure:
    """For analysis.report.figures: wrap a figure drawn from ``tables`` (all checked)."""
    for tb in tables:
        _require(tb, "a figure")
    cells = tuple(c for tb in tables for c in tb.cells())
    return CheckedFigure(figure=fig, name=name, published=cells, any_withheld=any(tb.any_withheld for tb in tables),
                         _token=_TOKEN, sources=_sources(tables))


def _json_value(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not np.isfinite(v) else float(v)
    return v if isinstance(v, (int, str, bool)) or v is None else str(v)


def _long_table(out: pd.DataFrame, *, by, stat: str, name: str, policy) -> CheckedTable:
    """Build a long checked table (keys, n, value) from an aggregate with a ``rule`` column."""
    held = out["rule"].notna().to_numpy()
    frame = out[list(by)].copy()
    frame["n"] = np.where(held, np.nan, out["n"].to_numpy(dtype=float))
    frame["value"] = np.where(held, np.nan, out["value"].to_numpy(dtype=float))
    units = pd.DataFrame({"n": frame["n"], "value": frame["n"]})
    heldf = pd.DataFrame({"n": held, "value": held})
    raw = out[list(by)].copy()
    raw["n"], raw["value"], raw["rule"] = out["n"].to_numpy(dtype=float), out["value"].to_numpy(dtype=float), out["rule"]
    return CheckedTable(name=name, keys=tuple(by), _frame=frame, _units=units, _held=heldf,
                        kinds={"n": "count", "value": stat}, _raw=raw, _token=_TOKEN)


def concat(tables: Sequence[CheckedTable], *, name: str) -> CheckedTable:
    """Stack checked tables with the same columns (e.g. inflow and outflow, each with a series key)."""
    cols = tables[0].columns
    for tb in tables:
        _require(tb, "concat")
        if tb.columns != cols:
            raise ParameterError(f"concat: {tb.name!r} has columns {tb.columns}, expected {cols}.")
    cat = lambda attr: pd.concat([getattr(tb, attr) for tb in tables], ignore_index=True)  # noqa: E731
    return CheckedTable(name=name, keys=tables[0].keys, _frame=cat("_frame"), _units=cat("_units"),
                        _held=cat("_held"), kinds=dict(tables[0].kinds), _token=_TOKEN, sources=_sources(tables))


def _sources(tables) -> tuple:
    return tuple(dict.fromkeys(s for tb in tables for s in (*tb.sources, tb.name)))


def combine(parts: Sequence[tuple], *, on: Sequence[str], name: str) -> CheckedTable:
    """One display table from columns of checked tables: ``parts`` are ``(label, table, column)``,
    joined on the key columns ``on`` (a row missing from a part is withheld there)."""
    on = list(on)
    frame = units = held = None
    kinds = {}
    for label, tb, column in parts:
        _require(tb, "combine")
        if not set(on) <= set(tb.keys):
            raise ParameterError(f"combine: {tb.name!r} has keys {list(tb.keys)}, not {on}.")
        f = tb._frame[on].copy()
        part = f.assign(**{label: tb._frame[column]}), f.assign(**{label: tb._units[column]}), \
            f.assign(**{label: tb._held[column]})
        if frame is None:
            frame, units, held = part
        else:
            frame = frame.merge(part[0], on=on, how="outer")
            units = units.merge(part[1], on=on, how="outer")
            held = held.merge(part[2], on=on, how="outer")
        kinds[label] = tb.kinds.get(column, "value")
    labels = [p[0] for p in parts]
    held_v = held[labels].fillna(True).astype(bool)
    frame[labels] = frame[labels].where(~held_v.to_numpy())
    return CheckedTable(name=name, keys=tuple(on), _frame=frame, _units=units[labels], _held=held_v, kinds=kinds,
                        _token=_TOKEN, sources=_sources([p[1] for p in parts]))


def _require(table, where: str) -> None:
    if not isinstance(table, CheckedTable):
        raise DisclosureError(f"{where} needs a CheckedTable, got {type(table).__name__}. " + HOW_TO_CHECK)


def _raw_of(table: CheckedTable, where: str) -> pd.DataFrame:
    _require(table, where)
    if table._raw is None:
        raise ParameterError(f"{where}: {table.name!r} is a display table; pass the table safe_aggregate returned.")
    return table._raw.reset_index(drop=True)


def _derived(raw: pd.DataFrame, keys, *, value: np.ndarray, n: np.ndarray, rule: list, name: str, kind: str,
             log, units: np.ndarray | None = None, inputs: Sequence[CheckedTable] = ()) -> CheckedTable:
    out = raw[list(keys)].copy()
    out["n"], out["value"], out["rule"] = n, value, rule
    for i in np.flatnonzero(out["rule"].notna().to_numpy()):
        log.add(name, ", ".join(str(out.iloc[i][k]) for k in keys), out.at[i, "rule"])
    tb = _long_table(out, by=list(keys), stat=kind, name=name, policy=None)
    object.__setattr__(tb, "sources", _sources(inputs))
    if units is not None:
        tb._units["value"] = np.where(tb._held["value"], np.nan, units)
    return tb


def derived_counts(share: CheckedTable, *, name: str, log) -> CheckedTable:
    """The numerators n*p of a checked share table (what a reader computes from share and n):
    published exactly where the share is (the share rule already asked n*p >= the minimum)."""
    raw = _raw_of(share, "derived_counts")
    if share.kinds.get("value") != "share":
        raise ParameterError(f"derived_counts needs a share table; {share.name!r} holds {share.kinds.get('value')!r}.")
    num = np.round(raw["n"].to_numpy(float) * raw["value"].to_numpy(float))
    rule = ["derived" if r is not None and not pd.isna(r) else None for r in raw["rule"]]
    return _derived(raw, share.keys, value=num, n=num, rule=rule, name=name, kind="count", log=log,
                    inputs=[share])


def safe_ratio(numerator: CheckedTable, denominator: CheckedTable, *, name: str, policy, log, scale: float = 1.0,
               proportion: bool = True) -> CheckedTable:
    """``scale * numerator / denominator`` per key, from two checked count tables with the same keys.

    Withheld where either count is withheld ("derived"); the denominator counts as published (it
    follows from the ratio and the count) and must reach the minimum; with ``proportion`` (the numerator
    units are part of the denominator's) the complement must too.
    """
    from analysis.report.disclosure import share_rule

    a, b = _raw_of(numerator, "safe_ratio"), _raw_of(denominator, "safe_ratio")
    keys = list(numerator.keys)
    m = a.merge(b, on=keys, how="left", suffixes=("", "_d"))
    ratio = scale * m["value"].to_numpy(float) / m["value_d"].to_numpy(float)
    rule = []
    for i in range(len(m)):
        if m.at[i, "rule"] is not None and not pd.isna(m.at[i, "rule"]) or pd.isna(m.at[i, "value_d"]):
            rule.append("derived")
        elif m.at[i, "rule_d"] is not None and not pd.isna(m.at[i, "rule_d"]):
            rule.append("derived")
        elif proportion:
            rule.append(share_rule(m.at[i, "value_d"], m.at[i, "value"] / m.at[i, "value_d"], policy))
        else:
            rule.append("min_units" if m.at[i, "value_d"] < policy.min_units else None)
    return _derived(m, keys, value=ratio, n=m["value_d"].to_numpy(float), rule=rule, name=name, kind="rate", log=log,
                    inputs=[numerator, denominator])


def shares_within(counts: CheckedTable, *, within: Sequence[str], name: str, policy, log) -> CheckedTable:
    """Each count as a share of its group's total (groups: the keys ``within``); the count and its
    complement in the group must reach the minimum, and withheld shares are protected like counts."""
    from analysis.report.disclosure import _secondary, share_rule

    raw = _raw_of(counts, "shares_within")
    keys = list(counts.keys)
    total = raw.groupby(list(within), observed=True)["value"].transform("sum") if within else \
        pd.Series(raw["value"].sum(), index=raw.index)
    tot = total.to_numpy(float)
    share = np.divide(raw["value"].to_numpy(float), tot, out=np.full(len(tot), np.nan), where=tot > 0)
    rule = []
    for i in range(len(raw)):
        if raw.at[i, "rule"] is not None and not pd.isna(raw.at[i, "rule"]):
            rule.append("derived")
        else:
            rule.append(share_rule(total.iloc[i], share[i], policy))
    work = raw[keys].copy()
    work["n"], work["value"], work["rule"] = raw["value"].to_numpy(float), share, rule
    _secondary(work, [list(within)], stat="count", policy=policy)
    return _derived(work, keys, value=share, n=total.to_numpy(float), rule=list(work["rule"]), name=name,
                    kind="share", log=log, inputs=[counts])


def safe_remainder(total: CheckedTable, parts: Sequence[CheckedTable], *, name: str, policy, log) -> CheckedTable:
    """``total`` minus the sum of ``parts`` per key (all checked counts): withheld where any input is,
    or where the remainder itself rests on fewer units than the minimum."""
    t = _raw_of(total, "safe_remainder")
    keys = list(total.keys)
    rest = t["value"].to_numpy(float).copy()
    bad = t["rule"].notna().to_numpy()
    for p in parts:
        r = t[keys].merge(_raw_of(p, "safe_remainder"), on=keys, how="left")
        rest -= r["value"].fillna(0).to_numpy(float)
        bad |= r["rule"].notna().to_numpy()
    rule = ["derived" if b else ("min_units" if v < policy.min_units else None) for b, v in zip(bad, rest)]
    return _derived(t, keys, value=rest, n=rest, rule=rule, name=name, kind="count", log=log,
                    inputs=[total, *parts])


# -- estimates ----------------------------------------------------------------------------------------
def checked_estimates(rows: Sequence[Mapping], *, policy, log, name: str, key: str = "name") -> CheckedTable:
    """results.json rows as a table (key ``name``; estimate, ci_low, ci_high, n), checked again by
    ``apply_to_estimates`` (rows already withheld stay withheld)."""
    from analysis.report.disclosure import apply_to_estimates

    checked = apply_to_estimates(rows, policy=policy, log=log)
    frame = pd.DataFrame({key: [r["name"] for r in checked]})
    held = np.array([bool(r["suppressed"]) for r in checked])
    vals = ["estimate", "ci_low", "ci_high", "n"]
    for c in vals:
        frame[c] = [np.nan if r.get(c) is None else float(r[c]) for r in checked]
    n = frame["n"].to_numpy()
    return CheckedTable(name=name, keys=(key,), _frame=frame, _units=pd.DataFrame({c: n for c in vals}),
                        _held=pd.DataFrame({c: held for c in vals}),
                        kinds={"estimate": "estimate", "ci_low": "estimate", "ci_high": "estimate", "n": "count"},
                        _token=_TOKEN)


def checked_result(result, *, policy, log, name: str, terms: Sequence[str] | None = None) -> CheckedTable:
    """An estimator result's terms, each judged on its own units (``n``, ``n_control``, ``dominance``
    columns of ``result.estimates``, issue #13 interface section 1). Keys: term (and event_time when
    the result has it); values: estimate, ci_lower, ci_upper (band_lower, band_upper), n."""
    from analysis.report.disclosure import estimate_rule

    est = getattr(result, "estimates", None)
    if not isinstance(est, pd.DataFrame) or "n" not in est.columns:
        raise DisclosureError(f"checked_result needs a results object whose estimates carry their units (n); got "
                              f"{type(result).__name__}. " + HOW_TO_CHECK)
    est = est if terms is None else est.loc[list(terms)]
    keys = ["term"] + (["event_time"] if "event_time" in est.columns else [])
    frame = pd.DataFrame({"term": [str(t) for t in est.index]})
    if "event_time" in est.columns:
        frame["event_time"] = est["event_time"].to_numpy()
    vals = [c for c in ("estimate", "ci_lower", "ci_upper", "band_lower", "band_upper") if c in est.columns] + ["n"]
    held = []
    for term, r in est.iterrows():
        rule = estimate_rule({"n": r.get("n"), "_n_control": r.get("n_control"), "_dominance": r.get("dominance")},
                             policy)
        held.append(rule is not None)
        if rule:
            log.add(name, str(term), rule)
    held = np.array(held, dtype=bool)
    for c in vals:
        frame[c] = np.where(held, np.nan, est[c].to_numpy(dtype=float))
    n = frame["n"].to_numpy()
    kinds = {c: "estimate" for c in vals}
    kinds["n"] = "count"
    return CheckedTable(name=name, keys=tuple(keys), _frame=frame, _units=pd.DataFrame({c: n for c in vals}),
                        _held=pd.DataFrame({c: held for c in vals}), kinds=kinds, _token=_TOKEN)


def public_table(frame: pd.DataFrame, *, name: str, source: str, keys: Sequence[str] | None = None) -> CheckedTable:
    """Figures that are public already (CBS StatLine, with ``source`` naming the table): shown as they
    are, recorded in published.json with kind "public" and no units. Never for microdata."""
    if not source:
        raise ParameterError("public_table needs source= (the public table the figures come from, e.g. a StatLine id).")
    frame = frame.reset_index(drop=True)
    keys = list(keys) if keys is not None else [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    vals = [c for c in frame.columns if c not in keys]
    return CheckedTable(name=name, keys=tuple(keys), _frame=frame.copy(),
                        _units=pd.DataFrame({c: np.full(len(frame), np.nan) for c in vals}),
                        _held=pd.DataFrame({c: np.zeros(len(frame), dtype=bool) for c in vals}),
                        kinds={c: f"public:{source}" for c in vals}, _token=_TOKEN)


# -- survival ---------------------------------------------------------------------------------------
def survival_curve(km, *, policy, log, name: str) -> CheckedTable:
    """Kaplan-Meier curve (keys group, time; survival, ci_lower, ci_upper) that stops where fewer than
    ``min_units`` remain at risk (ACRO's survival rule): the later steps are left out and logged."""
    tab = km.table
    rows, stopped = [], []
    for group, part in tab.groupby("group", sort=False):
        part = part.sort_values("time")
        ok = part["at_risk"].to_numpy(float) >= policy.min_units
        stop = int(np.argmin(ok)) if not ok.all() else len(part)  # the curve stops at the first small risk set
        rows.append(pd.DataFrame({"group": group, "time": [0.0], "survival": [1.0], "ci_lower": [1.0],
                                  "ci_upper": [1.0], "n": [float(part["at_risk"].max())]}))
        kept = part.iloc[:stop]
        rows.append(pd.DataFrame({"group": group, "time": kept["time"].to_numpy(float),
                                  "survival": kept["survival"].to_numpy(float),
                                  "ci_lower": kept["ci_lower"].to_numpy(float),
                                  "ci_upper": kept["ci_upper"].to_numpy(float),
                                  "n": kept["at_risk"].to_numpy(float)}))
        if stop < len(part):
            log.add(name, f"{group}: t >= {part['time'].iloc[stop]:g}", "at_risk")
            stopped.append(group)
    frame = pd.concat(rows, ignore_index=True)
    frame = frame[(frame["n"] >= policy.min_units)].reset_index(drop=True)
    vals = ["survival", "ci_lower", "ci_upper"]
    n = frame["n"].to_numpy()
    return CheckedTable(name=name, keys=("group", "time"), _frame=frame[["group", "time"] + vals],
                        _units=pd.DataFrame({c: n for c in vals}),
                        _held=pd.DataFrame({c: np.zeros(len(frame), dtype=bool) for c in vals}),
                        kinds={c: "survival" for c in vals}, _token=_TOKEN, notes={"stopped": tuple(stopped)})


def _quantile_ok(part: pd.DataFrame, q: float, policy) -> bool:
    """A time read off the curve is published only with >= min_units events at or before it and
    >= min_units units still at risk after it."""
    if q is None or not np.isfinite(q):
        return False
    before = part.loc[part["time"] <= q, "events"].sum()
    later = part.loc[part["time"] > q, "at_risk"]
    after = float(later.iloc[0]) if len(later) else 0.0
    return before >= policy.min_units and after >= policy.min_units


def survival_median(km, *, policy, log, name: str, unit: str = "months", group=None) -> dict:
    """The median survival time as a results.json row, withheld (rule "median") unless 10 or more
    events lie at or before it and 10 or more units remain at risk after it; each interval bound is
    judged the same way (shown as null when it fails)."""
    meds = km.medians
    med = meds.iloc[0] if group is None else meds.set_index("group").loc[group]
    g = meds["group"].iloc[0] if group is None else group
    part = km.table[km.table["group"] == g].sort_values("time")
    est = float(med["estimate"])
    row = {"name": name, "estimate": None, "se": None, "ci_low": None, "ci_high": None,
           "n": int(med["n"]), "unit": unit, "suppressed": True}
    if _quantile_ok(part, est, policy):
        lo, hi = float(med["ci_lower"]), float(med["ci_upper"])
        row.update(estimate=est, suppressed=False, ci_low=lo if _quantile_ok(part, lo, policy) else None,
                   ci_high=hi if _quantile_ok(part, hi, policy) else None)
    else:
        log.add("results.json", name, "median")
        row["n"] = None
    return row
