"""Differencing across runs: two published cells whose difference rests on 1 to 9 units.

Each run passes the rules on its own; together two runs of one study on one
dataset can still give a few persons away by subtraction. The same named cell
(object and cell, e.g. ``results.json`` / ``share_inflow_after_divorce``) in two runs
whose populations can nest (they differ in anything but two different
municipalities: a municipality against "all", intake windows of 12 and 13
months, an age band inside another, or any other parameter) reveals:

- the difference of their units ``n`` (the persons in one population but not
  the other);
- for a share ``p`` of ``n`` (kind or unit ``share``), the difference of the
  numerators ``n·p`` and of the complements ``n·(1-p)``: windows of 12 and 13
  months with the same 353 inflows and 43 against 45 divorced tell that 2
  persons divorced exactly 13 months before inflow;
- for a count (kind ``count``), the difference of the counts.

A difference of 0 tells nothing new, one of ``min_units`` or more is publishable
on its own; anything in between is a disclosure (rule ``differencing``).
:func:`check` goes through the runs in order and withholds the later cell of
each such pair (earlier exports are fixed: what left cannot be called back),
so the first-named runs keep their cells. :func:`partition_check` adds the
case of several parts: "all" minus every published municipality. Counts of a share are only taken
where ``n·p`` is a whole number (a proportion of persons); a model-based share
is judged by its ``n`` alone.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from analysis.run.register import PublishedRun

DISJOINT_PARAMETER = "municipality"
TOTAL_VALUE = "all"
SHARE_KINDS = ("share", "proportion")
COUNT_KINDS = ("count",)
#: n·p within this of a whole number counts as a count of persons (floating-point error of k/n).
WHOLE_NUMBER_TOLERANCE = 1e-6


def _counts(cell: dict) -> dict[str, float]:
    """The unit counts a published cell reveals: n, and for a share its numerator and complement."""
    out: dict[str, float] = {}
    n = cell.get("n")
    if isinstance(n, (int, float)) and not isinstance(n, bool):
        out["n"] = float(n)
    value = cell.get("value")
    kind = str(cell.get("kind") or "").lower()
    if kind.startswith("public"):  # published open data (CBS StatLine), not counts of our microdata
        return {}
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return out
    if kind in COUNT_KINDS:
        out["count"] = float(value)
    elif kind in SHARE_KINDS and "n" in out:
        k = out["n"] * float(value)
        if abs(k - round(k)) <= WHOLE_NUMBER_TOLERANCE * max(1.0, out["n"]):
            out["numerator"] = float(round(k))
            out["complement"] = out["n"] - float(round(k))
    return out


def small_difference(a: dict, b: dict, *, min_units: int) -> str | None:
    """Which count of two cells differs by more than 0 and fewer than ``min_units`` units, if any."""
    ca, cb = _counts(a), _counts(b)
    for what in ("n", "count", "numerator", "complement"):
        if what in ca and what in cb and 0 < abs(ca[what] - cb[what]) < min_units:
            return what
    return None


def can_nest(first: PublishedRun, second: PublishedRun) -> bool:
    """Whether two runs' populations may overlap: anything but one parameter, two different municipalities."""
    if first.study != second.study or first.dataset_sha256 != second.dataset_sha256:
        return False
    pa, pb = dict(first.population), dict(second.population)
    differ = {k for k in set(pa) | set(pb) if str(pa.get(k)) != str(pb.get(k))}
    if differ == {DISJOINT_PARAMETER}:
        values = {str(pa.get(DISJOINT_PARAMETER)), str(pb.get(DISJOINT_PARAMETER))}
        return TOTAL_VALUE in values
    return True


def check(runs: Sequence[PublishedRun], *, min_units: int,
          earlier: Iterable[PublishedRun] = ()) -> list[dict]:
    """Cells to withhold so that no two published cells differ by 1 to ``min_units``-1 units.

    ``earlier`` are runs already exported (fixed); ``runs`` are checked in order. Returns one finding per
    withheld cell: run id, run directory, object, cell, rule ``differencing``, ``n`` "<min_units", the run it
    pairs with and which count differs (never the difference itself).
    """
    published: dict[tuple, list[tuple[PublishedRun, dict]]] = {}

    def key(run: PublishedRun, cell: dict) -> tuple:
        return (run.dataset_sha256, run.study, str(cell.get("object")), str(cell.get("cell")))

    for run in earlier:
        for cell in run.cells:
            if not cell.get("suppressed"):
                published.setdefault(key(run, cell), []).append((run, cell))
    findings = []
    for run in runs:
        for cell in run.cells:
            if cell.get("suppressed"):
                continue
            k = key(run, cell)
            clash = None
            for other, other_cell in published.get(k, []):
                if other.run_id == run.run_id or not can_nest(run, other):
                    continue
                what = small_difference(cell, other_cell, min_units=min_units)
                if what:
                    clash = (other, what)
                    break
            if clash is None:
                published.setdefault(k, []).append((run, cell))
                continue
            findings.append({"run_id": run.run_id, "run_dir": run.run_dir, "object": k[2], "cell": k[3],
                             "rule": "differencing", "n": f"<{min_units}", "against": clash[0].run_id,
                             "against_dir": clash[0].run_dir, "differs_in": clash[1]})
    return findings


def partition_check(runs: Sequence[PublishedRun], *, min_units: int,
                    earlier: Iterable[PublishedRun] = ()) -> list[dict]:
    """A total ("all") minus its published municipality parts, over the package and earlier exports.

    For every cell, among runs that differ only in the municipality, the units of the total minus the
    units of the published parts must be 0 or at least ``min_units``. Earlier exports are fixed; the
    smallest part of this package is withheld first, then the total if it is new, until the
    remainder is safe (as :func:`analysis.run.summary.cross_run_control` does inside a batch).
    """
    new_ids = {r.run_id for r in runs}
    groups: dict[tuple, dict[str, tuple[PublishedRun, dict]]] = {}
    for run in [*earlier, *runs]:
        rest = tuple(sorted((k, str(v)) for k, v in run.population.items() if k != DISJOINT_PARAMETER))
        for cell in run.cells:
            if cell.get("suppressed") or not isinstance(cell.get("n"), (int, float)):
                continue
            key = (run.dataset_sha256, run.study, rest, str(cell.get("object")), str(cell.get("cell")))
            groups.setdefault(key, {})[run.run_id] = (run, cell)  # a run exported twice counts once
    findings = []
    for key, members in groups.items():
        totals = [(r, c) for r, c in members.values() if str(r.population.get(DISJOINT_PARAMETER)) == TOTAL_VALUE]
        parts = [(r, c) for r, c in members.values() if str(r.population.get(DISJOINT_PARAMETER)) != TOTAL_VALUE]
        if len(totals) != 1 or not parts:
            continue
        total_run, total_cell = totals[0]
        remainder = float(total_cell["n"]) - sum(float(c["n"]) for _, c in parts)
        candidates = sorted(((r, c) for r, c in parts if r.run_id in new_ids), key=lambda rc: float(rc[1]["n"]))
        if total_run.run_id in new_ids:
            candidates.append((total_run, total_cell))
        for run, cell in candidates:
            if remainder <= 0 or remainder >= min_units:
                break
            if run is total_run:
                remainder = 0.0  # without the total nothing is left to subtract from
            else:
                remainder += float(cell["n"])
            findings.append({"run_id": run.run_id, "run_dir": run.run_dir, "object": key[3], "cell": key[4],
                             "rule": "differencing", "n": f"<{min_units}", "against": "total minus published parts",
                             "against_dir": None, "differs_in": "n"})
    return findings
