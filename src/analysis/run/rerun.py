"""Rerun a finished run and say whether it reproduced: ``rendeert rerun reports/<study>/<run-id>``.

A rerun executes the run's own saved ``notebook.ipynb`` (not today's copy of the study notebook) with
the parameters its manifest recorded and the policy file it ran under, into a new run directory
(``rerun_of`` in its manifest); ``<study>/latest`` stays where it is. Every estimate of results.json
is compared with the original's: numbers within a relative tolerance of :data:`RELATIVE_TOLERANCE`
(floating-point noise of 1e-17 is not a difference), everything else exactly. What could explain a
difference is reported apart from the differences themselves: a changed dataset, another code version
(git commit) or a tree with uncommitted changes, in the original run or now.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from analysis.errors import ParameterError
from analysis.run import manifest as mf

#: Relative tolerance on every number of an estimate (issue #16): far above the 1e-17 noise of a
#: reordered floating-point sum, far below any digit a report prints.
RELATIVE_TOLERANCE = 1e-9
#: Absolute floor for numbers that are zero up to rounding (an effect of 3e-18): they have no relative size.
ABSOLUTE_TOLERANCE = 1e-12
#: Fields of an estimate that are compared; numbers with the tolerance above, the rest exactly.
COMPARED = ("estimate", "se", "ci_low", "ci_high", "n", "suppressed")


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return a == b
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)


def compare_results(first: dict, second: dict) -> list[str]:
    """Differences between two results.json documents' estimates (empty when they agree within
    :data:`RELATIVE_TOLERANCE`)."""
    a = {e["name"]: e for e in first.get("estimates", [])}
    b = {e["name"]: e for e in second.get("estimates", [])}
    diffs = [f"{n}: only in the original run" for n in sorted(set(a) - set(b))]
    diffs += [f"{n}: only in the rerun" for n in sorted(set(b) - set(a))]
    for name in sorted(set(a) & set(b)):
        for key in COMPARED:
            if not _same(a[name].get(key), b[name].get(key)):
                diffs.append(f"{name}.{key}: {a[name].get(key)!r} != {b[name].get(key)!r}")
    return diffs


def code_changes(original: dict, rerun: dict) -> list[str]:
    """Sentences on what differs in the code between two manifests: the git commit, a dirty tree."""
    was, now = original.get("git") or {}, rerun.get("git") or {}
    notes = []
    if was.get("commit") != now.get("commit"):
        notes.append(f"code version differs: the original ran at commit {str(was.get('commit'))[:12]}, the rerun at "
                     f"{str(now.get('commit'))[:12]}")
    if was.get("dirty"):
        notes.append("the original run's code had uncommitted changes (its exact code is not recorded)")
    if now.get("dirty"):
        notes.append("the rerun's code has uncommitted changes")
    return notes


@dataclass(frozen=True)
class RerunReport:
    """A rerun and what it found. ``identical``: every estimate agrees within the tolerance."""

    outcome: object  # analysis.run.runner.RunOutcome
    original: Path
    differences: list[str] = field(default_factory=list)
    data_changes: list[str] = field(default_factory=list)
    code_changes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences

    def __iter__(self):  # ``outcome, differences = rerun(...)``, as before this was a class
        return iter((self.outcome, self.data_changes + self.differences))

    def lines(self) -> list[str]:
        """What ``rendeert rerun`` prints."""
        n = len(self.outcome.results.get("estimates", []))
        if self.identical:
            out = [f"Rerun {self.outcome.run_dir}: all {n} estimates identical to {self.original} "
                   f"(relative tolerance {RELATIVE_TOLERANCE:g})."]
        else:
            out = [f"Rerun {self.outcome.run_dir}: estimates DIFFER from {self.original} "
                   f"(relative tolerance {RELATIVE_TOLERANCE:g}):"] + [f"  {d}" for d in self.differences]
        if self.data_changes or self.code_changes:
            out.append("Not the same inputs as the original run:")
            out += [f"  {d}" for d in self.data_changes + self.code_changes]
        return out


def _read_run(run_dir: Path) -> tuple[dict, dict]:
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        raise ParameterError(f"{str(run_dir)!r} holds no manifest.json; give a run directory reports/<study>/<run-id>.")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        original = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ParameterError(f"{str(run_dir)!r} is not a finished run ({exc}); only a run with status ok and a "
                             "results.json can be rerun.") from None
    if not (run_dir / "notebook.ipynb").is_file():
        raise ParameterError(f"{str(run_dir)!r} has no notebook.ipynb, the notebook the run executed; a rerun "
                             "executes that notebook. Give a complete run directory.")
    return manifest, original


def rerun(run_dir: Path, *, out_root: Path | None = None, progress: bool = True,
          policy: str | os.PathLike | None = None, pdf: bool = True) -> RerunReport:
    """Rerun ``run_dir`` from its own notebook, parameters and policy file (``policy`` overrides the
    latter) into a new run directory; ``latest`` stays where it is."""
    from analysis.run import runner

    run_dir = Path(run_dir)
    manifest, original = _read_run(run_dir)
    data_changes = []
    if manifest.get("dataset"):
        path = Path(manifest["dataset"]["path"])
        now = mf.dataset_fingerprint(path) if path.is_dir() else {"sha256": None}
        if now["sha256"] != manifest["dataset"]["sha256"]:
            data_changes.append("the dataset's files changed since the original run")
    if policy is None:
        policy = ((manifest.get("policy") or {}).get("file")) or None
    outcome = runner.run_study(manifest["study"], manifest["parameters"], out_root=out_root, progress=progress,
                               extra_manifest={"rerun_of": str(run_dir)}, policy=policy, pdf=pdf,
                               notebook=run_dir / "notebook.ipynb")
    return RerunReport(outcome=outcome, original=run_dir, differences=compare_results(original, outcome.results),
                       data_changes=data_changes, code_changes=code_changes(manifest, outcome.manifest))
