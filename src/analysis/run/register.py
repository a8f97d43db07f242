"""The per-dataset register: what every run on a dataset published, and what left in an export.

Differencing needs memory across runs: two runs that each pass every rule can
give a small group away by subtraction (a municipality against "all", intake
windows of 12 and 13 months). The register keeps, per dataset (its sha256), one
JSON line per event in ``<reports>/.register/<dataset-sha256>.jsonl``:

- ``{"kind": "run", ...}``, appended by the runner after every successful run:
  study, run id and directory, the population definition (the parameters that
  select persons), all parameters, the policy, and every published cell with
  its unweighted units (``object``, ``cell``, ``value``, ``n``, ``kind``,
  ``suppressed``), read from the run's ``published.json`` (the tables and
  figures a study showed, plus the results.json rows) or, for a study that
  writes none, from results.json.
- ``{"kind": "export", ...}``, appended by ``rendeert export`` for each run in a
  package: the cells as they left (withheld ones marked), so that a later
  export is checked against everything that already went out, and a batch
  summary against what was exported.

The register stays inside the secure environment beside the reports; it is
never part of an export. Lines are appended under a file lock.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

REGISTER_DIR = ".register"
#: Parameters that do not change who is counted (how a run is shown, or where it writes).
NOT_POPULATION = ("lang", "output_dir", "dataset", "seed")
RESULTS_OBJECT = "results.json"  # the object name published.json gives results rows


@dataclass(frozen=True)
class PublishedRun:
    """One run's published cells and the population they describe."""

    run_id: str
    study: str
    dataset_sha256: str | None
    population: Mapping[str, Any]
    cells: tuple = field(default_factory=tuple)
    run_dir: str = ""


def register_path(dataset_sha256: str, *, root: Path) -> Path:
    return Path(root) / REGISTER_DIR / f"{dataset_sha256}.jsonl"


def population_of(parameters: Mapping[str, Any]) -> dict:
    """The parameters that define who is counted (everything but language, paths and seed)."""
    return {k: v for k, v in parameters.items() if k not in NOT_POPULATION}


def _estimate_cell(row: Mapping) -> dict:
    return {"object": RESULTS_OBJECT, "cell": str(row.get("name")), "value": row.get("estimate"),
            "n": row.get("n"), "kind": row.get("unit") or "estimate", "suppressed": bool(row.get("suppressed"))}


def _cell(c: Mapping) -> dict:
    if "name" in c and "object" not in c:  # a results.json row
        return _estimate_cell(c)
    value = c.get("value")
    kind = c.get("kind") or c.get("unit") or ""
    if kind == "estimate" and c.get("unit"):  # a results row: its unit says whether it is a share
        kind = c["unit"]
    return {"object": str(c.get("object", "")), "cell": str(c.get("cell", "")), "value": value, "n": c.get("n"),
            "kind": kind, "suppressed": bool(c.get("suppressed")) or value is None}


def published_cells(run_dir: Path, results: Mapping | None = None) -> tuple[list[dict], dict]:
    """Every cell a run published, with its units, and its population definition.

    From ``published.json`` when the run wrote one (a list of cells, or a mapping with ``cells``,
    ``estimates`` and ``population``/``parameters``), else from results.json. A cell that a later step
    withheld in results.json (a batch's cross-run control) counts as withheld.
    """
    run_dir = Path(run_dir)
    if results is None:
        path = run_dir / "results.json"
        results = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    population = population_of(results.get("parameters") or {})
    cells: list[dict] = []
    pub = run_dir / "published.json"
    if pub.is_file():
        doc = json.loads(pub.read_text(encoding="utf-8"))
        if isinstance(doc, Mapping):
            raw = list(doc.get("cells") or doc.get("published") or [])
            raw += list(doc.get("estimates") or [])
            population = population_of(doc.get("population") or doc.get("parameters") or {}) or population
        else:
            raw = list(doc)
        cells = [_cell(c) for c in raw]
    seen = {(c["object"], c["cell"]) for c in cells}
    withheld_now = {str(r.get("name")) for r in results.get("estimates", []) if r.get("suppressed")}
    for row in results.get("estimates", []):
        cell = _estimate_cell(row)
        if (cell["object"], cell["cell"]) not in seen:
            cells.append(cell)
    for c in cells:
        if c["object"] == RESULTS_OBJECT and c["cell"] in withheld_now:
            c.update(suppressed=True, value=None, n=None)
        if c["suppressed"]:
            c["n"] = None  # a withheld cell's count is not kept, even here
    return cells, population


@contextmanager
def _locked(path: Path) -> Iterator[Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        try:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows: appends of one write are not interleaved by one user
            pass
        yield f


def append(dataset_sha256: str, records: Sequence[Mapping], *, root: Path) -> Path:
    """Append records (one JSON line each) to a dataset's register."""
    path = register_path(dataset_sha256, root=root)
    text = "".join(json.dumps(dict(r), ensure_ascii=False, default=str) + "\n" for r in records)
    with _locked(path) as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return path


def read(dataset_sha256: str, *, root: Path) -> list[dict]:
    """Every record of a dataset's register (a damaged last line, from a crash, is skipped)."""
    path = register_path(dataset_sha256, root=root)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def record_run(run_dir: Path, *, manifest: Mapping, results: Mapping) -> Path | None:
    """Append a successful run's published cells to its dataset's register (runs without a dataset: none)."""
    sha = (manifest.get("dataset") or {}).get("sha256") or (results.get("dataset") or {}).get("sha256")
    if not sha:
        return None
    cells, population = published_cells(run_dir, results)
    record = {"kind": "run", "time": _now(), "study": manifest.get("study"), "run_id": manifest.get("run_id"),
              "run_dir": str(run_dir), "dataset": {"name": (results.get("dataset") or {}).get("name"), "sha256": sha},
              "population": population, "parameters": manifest.get("parameters"),
              "policy": (manifest.get("policy") or {}).get("rules"), "cells": cells}
    return append(sha, [record], root=Path(run_dir).parent.parent)


def exported_runs(dataset_sha256: str, *, root: Path) -> list[PublishedRun]:
    """What already left in earlier exports of this dataset: one entry per run per export."""
    out = []
    for r in read(dataset_sha256, root=root):
        if r.get("kind") == "export":
            out.append(PublishedRun(run_id=str(r.get("run_id")), study=str(r.get("study")),
                                    dataset_sha256=dataset_sha256, population=r.get("population") or {},
                                    cells=tuple(r.get("cells") or ()), run_dir=str(r.get("run_dir", ""))))
    return out
