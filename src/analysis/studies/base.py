"""What every study notebook does first and last.

``setup_study`` is the notebook's one call that validates the parameters and
loads the data (failing fast with a message a researcher understands);
``StudyContext.finish`` is its last cell: it writes ``results.json``
(data-contract.md; disclosure control was applied to every row when it was
added), ``published.json`` (every published cell with its unweighted units, the
results rows and the population definition, for the output check and the
differencing register) and the disclosure log into the run directory. Because
``results.json`` is written only there, a run that fails half-way leaves none.
Parameters are checked against the dataset before its processed store is
built, so a refused run builds nothing.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from analysis.errors import ParameterError, check_choice
from analysis.paths import processed_root, resolve_path

LANGUAGES = ("nl", "en")


@dataclass
class StudyContext:
    """The state a study notebook carries from its first cell to its last."""

    study: str
    parameters: dict
    dataset: Any  # analysis.data.Dataset
    store: Any  # analysis.data.Store
    report: Any  # analysis.report.Report
    output_dir: Path
    estimates: list = field(default_factory=list)
    title: str | None = None

    @property
    def lang(self) -> str:
        return self.parameters.get("lang", "nl")

    def add_estimates(self, rows: Iterable[Mapping], *, residual_df: int | None = None) -> list[dict]:
        """Add rows for results.json; disclosure control is applied to them now."""
        from analysis.report.disclosure import apply_to_estimates

        rows = [dict(r) for r in rows]
        known = {e["name"] for e in self.estimates}
        for r in rows:
            if r["name"] in known:
                raise ParameterError(f"Estimate {r['name']!r} was added twice; estimate names must be unique.")
        checked = apply_to_estimates(rows, policy=self.report.policy, log=self.report.log, residual_df=residual_df)
        self.estimates.extend(checked)
        return checked

    def estimate(self, name: str) -> dict:
        """A results.json row added earlier, by name (for narrative sentences)."""
        for e in self.estimates:
            if e["name"] == name:
                return e
        raise KeyError(name)

    def results(self) -> dict:
        meta = self.dataset.meta
        return {
            "study": self.study,
            "parameters": {k: v for k, v in self.parameters.items() if k != "output_dir"},
            "dataset": {
                "name": meta.get("name"),
                "path": str(self.dataset.path),
                "sha256": self.dataset.content_hash,
            },
            "estimates": self.estimates,
        }

    def published(self) -> dict:
        """published.json: the population definition and every published cell with its units."""
        meta = self.dataset.meta
        cells = [dict(c) for c in self.report.published]
        cells += [{"object": "results.json", "cell": e["name"], "value": e["estimate"], "n": e["n"],
                   "kind": "estimate", "unit": e.get("unit")} for e in self.estimates if not e.get("suppressed")]
        return {
            "study": self.study,
            "dataset": {"name": meta.get("name"), "sha256": self.dataset.content_hash},
            "population": {k: v for k, v in self.parameters.items() if k != "output_dir"},
            "policy": self.report.policy.to_dict(),
            "cells": cells,
        }

    def finish(self) -> Path:
        """Write results.json, published.json and the disclosure log into the run directory; return the
        results path."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / "results.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.results(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _write_json(self.output_dir / "report_info.json", {
            "title": self.title, "dataset_name": self.dataset.meta.get("name"),
            "dataset_source": self.dataset.meta.get("source"),
        })
        _write_json(self.output_dir / "disclosure_log.json", self.report.log.to_records())
        _write_json(self.output_dir / "published.json", self.published())
        tmp.replace(path)
        n_sup = sum(1 for e in self.estimates if e.get("suppressed"))
        print(f"results.json: {len(self.estimates)} estimates ({'some' if n_sup else 'none'} withheld by "
              f"disclosure control) -> {path}")
        return path


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def check_municipality(dataset, municipality: str) -> None:
    """Refuse a municipality code that does not occur in the dataset's persons (before any store is built)."""
    if municipality == "all":
        return
    codes = sorted(dataset.tables["persons"]["municipality_code"].dropna().astype(str).unique())
    if not isinstance(municipality, str) or municipality not in codes:
        shown = ", ".join(codes[:12]) + (" ..." if len(codes) > 12 else "")
        raise ParameterError(
            f"municipality={municipality!r} does not occur in this dataset; use 'all' or one of: {shown}."
        )


def setup_study(
    study: str,
    *,
    dataset: str,
    lang: str = "nl",
    output_dir: str = "",
    parameters: Mapping[str, Any] | None = None,
    title_key: str | None = None,
    merge_touching: bool = False,
    validate: Callable[[Any], None] | None = None,
) -> StudyContext:
    """Validate the common parameters, load and validate the dataset, check the study's parameters
    against it (``validate(dataset)``, and a ``municipality`` parameter), then build its store."""
    from analysis.data import build_store, load_dataset
    from analysis.report import Report
    from analysis.report.disclosure import DisclosurePolicy

    check_choice("lang", lang, LANGUAGES)
    policy = DisclosurePolicy.load()
    ds = load_dataset(resolve_path(dataset), merge_touching=merge_touching)
    if "municipality" in dict(parameters or {}):
        check_municipality(ds, dict(parameters or {})["municipality"])
    if validate is not None:
        validate(ds)
    out = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix=f"rendeert-{study}-"))
    out.mkdir(parents=True, exist_ok=True)
    store = build_store(ds, root=processed_root())
    report = Report(study, lang=lang, policy=policy, figure_dir=out / "figures")
    params = {"dataset": dataset, "lang": lang, **dict(parameters or {})}
    title = None
    if title_key:
        from analysis.report.labels import t

        title = t(title_key, lang)
    return StudyContext(study=study, parameters=params, dataset=ds, store=store, report=report,
                        output_dir=out, title=title)
