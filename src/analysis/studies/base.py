"""What every study notebook does first and last.

``setup_study`` is the notebook's one call that validates the parameters and
loads the data (failing fast with a message a researcher understands);
``StudyContext.finish`` is its last cell: it applies disclosure control to the
estimates and writes ``results.json`` (data-contract.md) and the disclosure
log into the run directory. Because ``results.json`` is written only there, a
run that fails half-way leaves none.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

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

    def finish(self) -> Path:
        """Write results.json and the disclosure log into the run directory; return the results path."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / "results.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.results(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (self.output_dir / "report_info.json").write_text(json.dumps({
            "title": self.title, "dataset_name": self.dataset.meta.get("name"),
            "dataset_source": self.dataset.meta.get("source"),
        }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (self.output_dir / "disclosure_log.json").write_text(
            json.dumps(self.report.log.to_records(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        tmp.replace(path)
        n_sup = sum(1 for e in self.estimates if e.get("suppressed"))
        print(f"results.json: {len(self.estimates)} estimates ({n_sup} withheld by disclosure control) -> {path}")
        return path


def setup_study(
    study: str,
    *,
    dataset: str,
    lang: str = "nl",
    output_dir: str = "",
    parameters: Mapping[str, Any] | None = None,
    title_key: str | None = None,
    merge_touching: bool = False,
) -> StudyContext:
    """Validate the common parameters, load and validate the dataset, build its processed store."""
    from analysis.data import build_store, load_dataset
    from analysis.report import Report
    from analysis.report.disclosure import DisclosurePolicy

    check_choice("lang", lang, LANGUAGES)
    out = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix=f"rendeert-{study}-"))
    out.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(resolve_path(dataset), merge_touching=merge_touching)
    store = build_store(ds, root=processed_root())
    report = Report(study, lang=lang, policy=DisclosurePolicy.load(), figure_dir=out / "figures")
    params = {"dataset": dataset, "lang": lang, **dict(parameters or {})}
    title = None
    if title_key:
        from analysis.report.labels import t

        title = t(title_key, lang)
    return StudyContext(study=study, parameters=params, dataset=ds, store=store, report=report,
                        output_dir=out, title=title)
