"""``rendeert export``: a request for the CBS output check, as one zip.

    rendeert export RUN_DIR... --out FILE.zip [--policy FILE] [--differencing withhold|refuse]

At CBS, output leaves Remote Access only after an output checker has passed
it: the researcher puts one zip in the export folder ``1_Controle vooraf`` (no
subfolders) with the completed output-control form, and the checker asks for
every table cell the unweighted number of units behind it. The package holds:

- ``<study>-<run-id>/report.pdf`` and ``results.json`` of every chosen run
  (a withheld cell is ``null`` there; a run's PDF that shows a cell withheld by
  the export is left out and the output list says so);
- ``output_list.csv`` and ``output_list.md``: every cell of every run
  (object, cell, value, unweighted ``n``, kind) and whether it is published or
  withheld, with the rule; withheld cells show no value and no ``n``;
- ``policy.json``: the disclosure policy used, with its file's sha256;
- ``differencing.json``: the check across the exported runs of each dataset
  (and the runs of that dataset exported before, from the register): which
  cells were withheld because, against which run, a difference rests on 1 to
  9 units; the differences themselves are never written;
- ``README.md``: what the package is and how to submit it.

With ``--differencing refuse`` the export writes nothing and exits 2, naming
the runs and cells, instead of withholding. After a package is written its
cells enter the register (:mod:`analysis.run.register`), so a later export is
checked against it too.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from analysis.errors import ParameterError, check_choice
from analysis.run import differencing, register
from analysis.run.register import PublishedRun

ON_DIFFERENCING = ("withhold", "refuse")
OUTPUT_COLUMNS = ("run", "study", "object", "cell", "value", "n", "kind", "status", "rule")


@dataclass(frozen=True)
class ExportOutcome:
    path: Path
    runs: tuple
    withheld: tuple  # findings: run_id, object, cell, rule, ...
    pdfs_left_out: tuple  # run ids


def _load_run(run_dir: Path) -> tuple[PublishedRun, dict, dict]:
    run_dir = Path(run_dir).resolve()
    manifest_path, results_path = run_dir / "manifest.json", run_dir / "results.json"
    if not manifest_path.is_file() or not results_path.is_file():
        raise ParameterError(f"{str(run_dir)!r} is not a finished run (no manifest.json and results.json); give "
                             "run directories reports/<study>/<run-id> of successful runs.")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ParameterError(f"{str(run_dir)!r}: manifest.json or results.json is damaged ({exc}).") from None
    if manifest.get("status") != "ok":
        raise ParameterError(f"{str(run_dir)!r} has status {manifest.get('status')!r}; only runs with status "
                             "'ok' can be exported.")
    cells, population = register.published_cells(run_dir, results)
    sha = (manifest.get("dataset") or {}).get("sha256") or (results.get("dataset") or {}).get("sha256")
    run = PublishedRun(run_id=str(manifest.get("run_id") or run_dir.name), study=str(manifest.get("study")),
                       dataset_sha256=sha, population=population, cells=tuple(cells), run_dir=str(run_dir))
    return run, manifest, results


def _min_units_findings(runs: Sequence[PublishedRun], min_units: int) -> list[dict]:
    """Cells below a policy stricter than the one the run was made with."""
    out = []
    for run in runs:
        for c in run.cells:
            n = c.get("n")
            if not c.get("suppressed") and isinstance(n, (int, float)) and n < min_units:
                out.append({"run_id": run.run_id, "run_dir": run.run_dir, "object": c["object"], "cell": c["cell"],
                            "rule": "min_units", "n": f"<{min_units}", "against": None, "differs_in": "n"})
    return out


def _refusal(findings: Sequence[dict], policy) -> str:
    lines = [f"Export refused: {len(findings)} cell(s) would give persons away by subtraction or break the policy "
             f"(fewer than {policy.min_units} units):"]
    for f in findings[:30]:
        against = f" against run {f['against']}" if f.get("against") else ""
        lines.append(f"  run {f['run_id']}: {f['object']} / {f['cell']} ({f['rule']}, {f['differs_in']}{against})")
    if len(findings) > 30:
        lines.append(f"  ... {len(findings) - 30} more")
    lines.append("Leave one of the runs out, choose populations or windows that differ by at least "
                 f"{policy.min_units} persons, or export with --differencing withhold.")
    return "\n".join(lines)


def _withheld_results(results: dict, names: set[str]) -> dict:
    out = json.loads(json.dumps(results))
    for e in out.get("estimates", []):
        if e.get("name") in names or e.get("suppressed"):
            e.update(estimate=None, se=None, ci_low=None, ci_high=None, n=None, suppressed=True)
    return out


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _md_cell(text: str) -> str:
    """Text in a Markdown table cell, printed as written."""
    from analysis.report.escape import markdown_text

    return markdown_text(text)


def _output_rows(run: PublishedRun, withheld: dict[tuple, dict]) -> list[dict]:
    rows = []
    for c in run.cells:
        f = withheld.get((run.run_id, c["object"], c["cell"]))
        if c.get("suppressed"):
            status, rule, value, n = "withheld in the run", "", None, None
        elif f is not None:
            status, rule, value, n = "withheld by the export", f["rule"], None, None
        else:
            status, rule, value, n = "published", "", c.get("value"), c.get("n")
        rows.append({"run": run.run_id, "study": run.study, "object": c["object"], "cell": c["cell"],
                     "value": _fmt(value), "n": _fmt(n), "kind": c.get("kind") or "", "status": status, "rule": rule})
    return rows


def _readme(runs, left_out, policy_rec, when: str) -> str:
    names = "\n".join(f"- `{r.study}-{r.run_id}/`: report.pdf"
                      f"{' (left out: it shows a cell withheld by this export)' if r.run_id in left_out else ''}"
                      ", results.json" for r in runs)
    source = policy_rec["file"] or "the default (CBS rules)"
    return f"""# Output-check request (rendeert export, {when})

This package asks the CBS output check to release the results below. It holds:

{names}
- `output_list.csv`, `output_list.md`: every cell of every run with its unweighted number of units (n), and
  whether it is published or withheld (a withheld cell shows neither value nor n).
- `policy.json`: the disclosure rules applied ({source}).
- `differencing.json`: the check across these runs (and earlier exports of the same dataset): cells withheld
  because a difference between two runs would rest on fewer than {policy_rec['rules'].get('min_units')} units.

To submit: place this zip, unchanged, in the export folder `1_Controle vooraf` (no subfolders), together with
the completed output-control form from `K:/Utilities/Rules/Guidelines`. Prefix the file name with `LIGHT` when
the output is small. Everything placed before noon counts as one output; checking starts the next working day
and takes up to 3 working days. CBS checks confidentiality, not the quality of the analysis.
"""


def export_runs(run_dirs: Sequence[str | os.PathLike], *, out: str | os.PathLike,
                policy: str | os.PathLike | None = None, on_differencing: str = "withhold") -> ExportOutcome:
    """Write an output-check package of ``run_dirs`` to ``out`` (a .zip); see the module docstring."""
    from analysis.run.manifest import policy_record
    from analysis.run.runner import load_policy

    check_choice("on_differencing", on_differencing, ON_DIFFERENCING)
    out = Path(out)
    if out.suffix.lower() != ".zip":
        raise ParameterError(f"--out {str(out)!r}: the package is a zip file; give a name ending in .zip.")
    if out.exists():
        raise ParameterError(f"--out {str(out)!r} exists already; give a new file name (a package is never overwritten).")
    if not out.parent.is_dir():
        raise ParameterError(f"--out {str(out)!r}: directory {str(out.parent)!r} does not exist.")
    if not run_dirs:
        raise ParameterError("Give at least one run directory to export.")
    resolved = [Path(d).resolve() for d in run_dirs]
    dupes = sorted({str(d) for d in resolved if resolved.count(d) > 1})
    if dupes:
        raise ParameterError(f"Run directories given twice: {', '.join(dupes)}; name each run once.")
    policy_obj, policy_path = load_policy(policy)
    loaded = [_load_run(d) for d in resolved]
    runs = [r for r, _, _ in loaded]

    findings = _min_units_findings(runs, policy_obj.min_units)
    early = {(f["run_id"], f["object"], f["cell"]) for f in findings}
    checked = [PublishedRun(run_id=r.run_id, study=r.study, dataset_sha256=r.dataset_sha256, population=r.population,
                            run_dir=r.run_dir,
                            cells=tuple({**c, "suppressed": True} if (r.run_id, c["object"], c["cell"]) in early else c
                                        for c in r.cells)) for r in runs]
    earlier = []
    for sha in sorted({r.dataset_sha256 for r in runs if r.dataset_sha256}):
        roots = {Path(r.run_dir).parent.parent for r in runs if r.dataset_sha256 == sha}
        for root in roots:
            earlier += register.exported_runs(sha, root=root)
    findings += differencing.check(checked, min_units=policy_obj.min_units, earlier=earlier)
    seen = {(f["run_id"], f["object"], f["cell"]) for f in findings}
    after_pairs = [PublishedRun(run_id=r.run_id, study=r.study, dataset_sha256=r.dataset_sha256,
                                population=r.population, run_dir=r.run_dir,
                                cells=tuple({**c, "suppressed": True} if (r.run_id, c["object"], c["cell"]) in seen else c
                                            for c in r.cells)) for r in checked]
    findings += differencing.partition_check(after_pairs, min_units=policy_obj.min_units, earlier=earlier)
    if findings and on_differencing == "refuse":
        raise ParameterError(_refusal(findings, policy_obj))

    withheld = {(f["run_id"], f["object"], f["cell"]): f for f in findings}
    left_out = {f["run_id"] for f in findings}
    policy_rec = policy_record(policy_obj, policy_path)
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    output_rows: list[dict] = []
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for (run, manifest, results) in loaded:
                folder = f"{run.study}-{run.run_id}"
                names = {c for (rid, obj, c) in withheld if rid == run.run_id and obj == register.RESULTS_OBJECT}
                z.writestr(f"{folder}/results.json",
                           json.dumps(_withheld_results(results, names), indent=2, ensure_ascii=False) + "\n")
                pdf = Path(run.run_dir) / "report.pdf"
                if pdf.is_file() and run.run_id not in left_out:
                    z.write(pdf, f"{folder}/report.pdf")
                output_rows += _output_rows(run, withheld)
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=OUTPUT_COLUMNS)
            writer.writeheader()
            writer.writerows(output_rows)
            z.writestr("output_list.csv", buf.getvalue())
            md = ["# Output list", "", "| " + " | ".join(OUTPUT_COLUMNS) + " |", "|" + "---|" * len(OUTPUT_COLUMNS)]
            md += ["| " + " | ".join(_md_cell(r[c]) for c in OUTPUT_COLUMNS) + " |" for r in output_rows]
            z.writestr("output_list.md", "\n".join(md) + "\n")
            z.writestr("policy.json", json.dumps(policy_rec, indent=2) + "\n")
            public = [{k: f[k] for k in ("run_id", "object", "cell", "rule", "n", "against", "differs_in")}
                      for f in findings]
            z.writestr("differencing.json", json.dumps({"checked_runs": [r.run_id for r in runs],
                                                        "earlier_exports": sorted({r.run_id for r in earlier}),
                                                        "withheld": public}, indent=2) + "\n")
            z.writestr("README.md", _readme(runs, left_out, policy_rec, when))
        os.replace(partial, out)
    finally:
        if partial.exists():
            partial.unlink()

    for run in runs:
        if not run.dataset_sha256:
            continue
        cells = [{**c, "suppressed": True, "value": None, "n": None}
                 if (run.run_id, c["object"], c["cell"]) in withheld else c for c in run.cells]
        register.append(run.dataset_sha256, [{"kind": "export", "time": when, "package": str(out.resolve()),
                                              "run_id": run.run_id, "study": run.study, "run_dir": run.run_dir,
                                              "population": dict(run.population), "cells": cells}],
                        root=Path(run.run_dir).parent.parent)
    return ExportOutcome(path=out, runs=tuple(r.run_id for r in runs), withheld=tuple(findings),
                         pdfs_left_out=tuple(sorted(left_out)))
