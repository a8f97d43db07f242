"""Disclosure control on cells computed in the database: the same decisions as :func:`safe_aggregate`, without
a row per unit in pandas (issue #18).

A descriptive table of the whole population is a ``GROUP BY`` of its keys. :func:`cell_stats` runs that
``GROUP BY`` in DuckDB over any query whose rows are the rows :func:`safe_aggregate` would have been given
(one per unit, or per person-year with ``unit_id``), and returns one row per cell with exactly the statistics
the rules read:

- ``n``: rows of the cell (for ``stat="count"`` the count itself);
- ``total`` (share, sum): the sum of the value (missing values skipped); a share's value is ``total / n``;
- ``mean`` (mean): the mean of the value over the rows that have one;
- with ``unit_id``: ``units`` (distinct units) and for a share ``units_with`` / ``units_without`` (distinct
  units with a row of value 1 / with a row of another or no value);
- for sums and means, the dominance statistics: ``dominance_total`` (the sum of the absolute contributions)
  and ``top_<k>`` (the sum of the ``k = policy.dominance_top_n`` largest), a contribution being a row's value,
  or with ``unit_id`` a unit's summed value (a person is one contributor), non-finite ones left out.

:func:`safe_aggregate_cells` takes such a frame (a few rows: its keys may be relabelled in pandas first, as
long as the mapping is one to one) and decides with the code :func:`safe_aggregate` uses
(``disclosure._control``): the grid completed by ``levels``, the size, share and dominance rules, secondary
suppression, the log. Exact: counts are integers in both paths; a share is ``total / n`` in both; only a sum
or mean of amounts (and a dominance share) can differ from pandas' in the last bits of floating-point
summation order (tests/report/test_cells.py compares both paths on random frames).
"""

from __future__ import annotations

import warnings
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, SmallCellWarning, check_choice
from analysis.report.disclosure import STATS, DisclosureLog, DisclosurePolicy, _control

#: The statistic columns of a cells frame, by stat (without unit_id / extra with unit_id).
CELL_COLUMNS = {"count": ("n",), "share": ("n", "total"), "sum": ("n", "total", "dominance_total"),
                "mean": ("n", "mean", "dominance_total")}
UNIT_COLUMNS = {"count": ("units",), "share": ("units", "units_with", "units_without"), "sum": ("units",),
                "mean": ("units",)}


def _quote(column: str) -> str:
    return '"' + str(column).replace('"', '""') + '"'


def top_column(policy: DisclosurePolicy) -> str:
    """The name of the dominance column for ``policy``: ``top_<dominance_top_n>``."""
    return f"top_{int(policy.dominance_top_n)}"


def cell_stats(con, source: str, *, by: Sequence[str], stat: str = "count", value: str | None = None,
               unit_id: str | None = None, policy: DisclosurePolicy) -> pd.DataFrame:
    """Per-cell statistics of the rows of the SQL query ``source`` grouped by ``by``, computed in DuckDB on
    ``con``: the input of :func:`safe_aggregate_cells` (the module docstring lists the columns). ``value``
    names the column a share (0/1), sum or mean is of; ``unit_id`` the unit column when rows are not units."""
    check_choice("stat", stat, STATS)
    by = list(by)
    if not by:
        raise ParameterError("cell_stats: by=[] has no cells; pass the table's key columns.")
    if stat != "count" and value is None:
        raise ParameterError(f"cell_stats: stat={stat!r} needs a value column; pass value='<column>'.")
    keys = ", ".join(_quote(c) for c in by)
    v = f"CAST({_quote(value)} AS DOUBLE)" if value else "NULL"
    u = _quote(unit_id) if unit_id else "NULL"
    rows = f"(SELECT {keys}, {v} AS _v, {u} AS _u FROM ({source}) AS _src)"
    k, top = int(policy.dominance_top_n), top_column(policy)
    if unit_id:  # first per unit of a cell (a GROUP BY DuckDB can spill to disk), then per cell
        rows = f"""(SELECT {keys}, _u, count(*) AS _n, sum(_v) AS _s, count(_v) AS _m,
                           bool_or(coalesce(_v = 1, false)) AS _with, bool_or(NOT coalesce(_v = 1, false)) AS _without,
                           count(*) FILTER (WHERE _v NOT IN (0, 1)) AS _bad
                    FROM {rows} AS r GROUP BY {keys}, _u)"""
        n, s, m, bad = "sum(_n)::DOUBLE", "sum(_s)", "sum(_m)", "sum(_bad)"
        c = "coalesce(_s, 0)"  # a unit's contribution: its summed value (pandas' groupby sum; none gives 0)
        ok = f"_u IS NOT NULL AND isfinite({c})"  # units without an id are no contributor, as in pandas' groupby
    else:
        n, s, m, c, ok = "count(*)::DOUBLE", "sum(_v)", "count(_v)", "_v", "isfinite(_v)"
        bad = "count(*) FILTER (WHERE _v NOT IN (0, 1))"
    select = [f"{n} AS n"]
    if stat in ("share", "sum"):
        select.append(f"coalesce({s}, 0) AS total")
    if stat == "share":
        select.append(f"{bad} AS _bad")
    if stat == "mean":
        select.append(f"CASE WHEN {m} > 0 THEN {s} / {m} END AS mean")
    if unit_id:
        select.append("count(_u)::DOUBLE AS units")
        if stat == "share":
            select += ["(count(_u) FILTER (WHERE _with))::DOUBLE AS units_with",
                       "(count(_u) FILTER (WHERE _without))::DOUBLE AS units_without"]
    if stat in ("sum", "mean"):
        select += [f"coalesce(sum(abs({c})) FILTER (WHERE {ok}), 0) AS dominance_total",
                   f"coalesce(list_sum(max(abs({c}), {k}) FILTER (WHERE {ok})), 0) AS {top}"]
    cells = con.execute(f"SELECT {keys}, {', '.join(select)} FROM {rows} AS r GROUP BY {keys}").df()
    if stat == "share":
        bad = int(cells.pop("_bad").fillna(0).sum())
        if bad:
            raise ParameterError(f"cell_stats: stat='share' needs a 0/1 column; {value!r} holds {bad} values other "
                                 "than 0 and 1 (and missing). Use stat='mean' for amounts.")
    return cells


def safe_aggregate_cells(cells: pd.DataFrame, *, by: Sequence[str], stat: str = "count",
                         policy: DisclosurePolicy, log: DisclosureLog, name: str,
                         levels: Mapping[str, Sequence] | None = None, total_published: bool = False,
                         per_unit: bool = False):
    """:func:`safe_aggregate` for cells aggregated in the database: ``cells`` has one row per cell, the keys
    ``by`` and the statistics of :func:`cell_stats` for ``stat``; ``per_unit=True`` when they were computed
    with ``unit_id`` (the size rules count distinct units). The same CheckedTable, log and warning as
    :func:`safe_aggregate` on the rows the cells summarise. A cell with a missing key is no cell (as in
    pandas' groupby); the cells are ordered by their keys."""
    check_choice("stat", stat, STATS)
    by = list(by)
    need = [*CELL_COLUMNS[stat], *(UNIT_COLUMNS[stat] if per_unit else ()),
            *((top_column(policy),) if stat in ("sum", "mean") else ())]
    missing = [c for c in by + need if c not in cells.columns]
    if missing:
        hint = (f" (the dominance column is {top_column(policy)!r} for dominance_top_n="
                f"{policy.dominance_top_n}: compute the cells with this run's policy)"
                if any(c.startswith("top_") for c in missing) else "")
        raise ParameterError(f"safe_aggregate_cells({name!r}): columns {missing} not in the cells; columns: "
                             f"{list(cells.columns)}. cell_stats(..., stat={stat!r}) computes them{hint}.")
    if cells[by].duplicated().any():
        raise ParameterError(f"safe_aggregate_cells({name!r}): more than one row for the same cell of {by}; a "
                             "relabelling of the keys must be one to one.")
    c = cells.dropna(subset=by).sort_values(by, kind="mergesort").reset_index(drop=True)
    out = c[by].copy()
    out["n"] = c["n"].to_numpy(dtype=float)
    if stat == "count":
        out["value"] = out["n"]
    elif stat == "share":
        out["value"] = c["total"].to_numpy(dtype=float) / out["n"].to_numpy()
    elif stat == "sum":
        out["value"] = c["total"].to_numpy(dtype=float)
    else:
        out["value"] = c["mean"].to_numpy(dtype=float)
    if per_unit:
        out["u_n"] = c["units"].to_numpy(dtype=float)
        if stat == "share":
            out["u_num"] = c["units_with"].to_numpy(dtype=float)
            out["u_comp"] = c["units_without"].to_numpy(dtype=float)
    if stat in ("sum", "mean"):
        total = c["dominance_total"].to_numpy(dtype=float)
        top = c[top_column(policy)].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(total > 0, top / np.where(total > 0, total, 1.0), np.nan)
        out["_dominated"] = np.isfinite(share) & (share > policy.dominance_share)
    table = _control(out, by=by, stat=stat, policy=policy, log=log, name=name, levels=levels,
                     total_published=total_published, per_unit=per_unit)
    if table.any_withheld:
        warnings.warn(f"{name}: cells withheld by disclosure control (the disclosure log names them).",
                      SmallCellWarning, stacklevel=2)
    return table


def safe_aggregate_sql(con, source: str, *, by: Sequence[str], stat: str = "count", value: str | None = None,
                       unit_id: str | None = None, policy: DisclosurePolicy, log: DisclosureLog, name: str,
                       levels: Mapping[str, Sequence] | None = None, total_published: bool = False):
    """:func:`cell_stats` then :func:`safe_aggregate_cells`: ``safe_aggregate`` of the rows of the SQL query
    ``source``, aggregated in DuckDB (for tables whose keys need no relabelling)."""
    cells = cell_stats(con, source, by=by, stat=stat, value=value, unit_id=unit_id, policy=policy)
    table = safe_aggregate_cells(cells, by=by, stat=stat, policy=policy, log=log, name=name, levels=levels,
                                 total_published=total_published, per_unit=unit_id is not None)
    return table


__all__ = ["CELL_COLUMNS", "UNIT_COLUMNS", "cell_stats", "safe_aggregate_cells", "safe_aggregate_sql", "top_column"]
