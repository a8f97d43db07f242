"""A study run: ``rd.start`` opens it, ``Run.add`` collects results rows, ``Run.finish`` writes them.

``start(study, parameters=...)`` validates the parameters against the study
notebook's own declaration (its cell tagged ``parameters``, when the study is in
the catalogue), loads and checks the dataset, builds the processed store and
opens the report. It is :func:`analysis.studies.base.setup_study` under a typed
front: the :class:`Run` holds the same :class:`~analysis.studies.base.StudyContext`
the older studies use, so ``results.json``, ``published.json`` and the
disclosure log are written by one implementation for both.

``Run.add`` takes results rows (``res.to_estimates(...)``, their ``n`` from the
results object) and applies disclosure control to them at once; ``Run.finish``
writes the files. A run that fails half-way writes no ``results.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from analysis.errors import ParameterError

#: Parameters ``start`` reads itself rather than passing on as the study's own.
COMMON = ("dataset", "lang", "output_dir")


@dataclass(frozen=True)
class Run:
    """One study run: validated parameters, the dataset, its store, the report and the output directory."""

    context: Any  # analysis.studies.base.StudyContext: the one implementation of results and finish

    @property
    def study(self) -> str:
        return self.context.study

    @property
    def parameters(self) -> Mapping[str, Any]:
        """Every parameter of the run (dataset, lang and the study's own), as validated."""
        return dict(self.context.parameters)

    @property
    def dataset(self):
        return self.context.dataset

    @property
    def store(self):
        return self.context.store

    @property
    def report(self):
        return self.context.report

    @property
    def output_dir(self) -> Path:
        return self.context.output_dir

    @property
    def lang(self) -> str:
        return self.context.lang

    @property
    def policy(self):
        """The disclosure policy every published number is checked against."""
        return self.context.report.policy

    @property
    def estimates(self) -> tuple[dict, ...]:
        """The rows added so far, as checked by disclosure control."""
        return tuple(self.context.estimates)

    def add(self, rows: Iterable[Mapping], *, residual_df: int | None = None) -> list[dict]:
        """Add results rows (from ``to_estimates``); returns them as disclosure control checked them."""
        rows = list(rows)
        if not rows:
            raise ParameterError("Run.add received no rows; give the rows of a results object's to_estimates(...).")
        return self.context.add_estimates(rows, residual_df=residual_df)

    def estimate(self, name: str) -> dict:
        """A row added earlier, by name."""
        return self.context.estimate(name)

    def results(self) -> dict:
        """What results.json will hold (dataset fingerprint, parameters, the rows so far), without writing it."""
        return self.context.results()

    def finish(self) -> Path:
        """Write results.json, published.json and the disclosure log; returns the results.json path."""
        return self.context.finish()

    def __repr__(self) -> str:
        return (f"Run({self.study!r}, dataset={self.dataset.meta.get('name')!r}, lang={self.lang!r}, "
                f"estimates={len(self.context.estimates)}, output_dir={str(self.output_dir)!r})")


def _declared(study: str, given: Mapping[str, Any]) -> dict:
    """``given`` checked against the study's declaration when the study is in the catalogue."""
    from analysis.run.catalog import study_paths, inspect_study
    from analysis.run.params import validate_parameters

    paths = study_paths()
    if study not in paths:
        return dict(given)
    declared = inspect_study(paths[study])
    checked = validate_parameters(declared, {k: v for k, v in given.items() if k != "output_dir"})
    if "output_dir" in given:
        checked["output_dir"] = given["output_dir"]
    return checked


def check_population_parameters(parameters: Mapping[str, Any], dataset) -> None:
    """Refuse an age band or a period that is empty or outside the data's window."""
    p = parameters
    if "age_min" in p and "age_max" in p and p["age_min"] > p["age_max"]:
        raise ParameterError(f"age_min={p['age_min']} exceeds age_max={p['age_max']}; give age_min <= age_max.")
    if "first_year" in p and "last_year" in p:
        lo, hi = dataset.meta["observation_start"].year, dataset.meta["observation_end"].year
        if not lo <= p["first_year"] <= p["last_year"] <= hi:
            raise ParameterError(
                f"first_year={p['first_year']}, last_year={p['last_year']}: the years must lie in the data's window "
                f"{lo}-{hi} with first_year <= last_year; give years inside it.")


def start(study: str, *, parameters: Mapping[str, Any], title_key: str | None = None,
          merge_touching: bool = False) -> Run:
    """Open a run of ``study``: validate ``parameters`` (against the notebook's declaration), load the
    dataset ``parameters["dataset"]``, build its store, open the report in ``parameters["lang"]``.

    ``title_key`` is a label-catalogue key for the report title (default: the notebook's title).
    """
    from analysis.studies.base import setup_study

    if not isinstance(study, str) or not study:
        raise ParameterError(f"start: study={study!r}; give the study's name, e.g. start('job_loss', parameters=...).")
    if not isinstance(parameters, Mapping) or "dataset" not in parameters:
        raise ParameterError("start: parameters must be a dict with at least 'dataset' (the dataset directory); "
                             f"received {type(parameters).__name__} without it.")
    checked = _declared(study, parameters)
    own = {k: v for k, v in checked.items() if k not in COMMON}
    context = setup_study(study, dataset=checked["dataset"], lang=checked.get("lang", "nl"),
                          output_dir=checked.get("output_dir", "") or "", parameters=own, title_key=title_key,
                          merge_touching=merge_touching,
                          validate=lambda ds: check_population_parameters(own, ds))
    return Run(context=context)


def start_public(study: str, *, parameters: Mapping[str, Any], source: Any, title_key: str | None = None) -> Run:
    """Open a run of a study without a person population: public aggregate figures (CBS StatLine) or
    public reference datasets, not person-level microdata in the data contract's shape.

    ``parameters`` are validated against the notebook's declaration (as :func:`start` does) and
    recorded in results.json as validated; ``source`` names and fingerprints the data the study reads
    (an object with ``path``, ``meta`` with ``name`` and ``source``, and ``content_hash``): it is
    results.json's ``dataset``. There is no store (``run.store`` is None) and no population; every
    row still passes disclosure control in :meth:`Run.add`.
    """
    import tempfile

    from analysis.errors import check_choice
    from analysis.report import Report
    from analysis.report.disclosure import DisclosurePolicy
    from analysis.studies.base import LANGUAGES, StudyContext

    if not isinstance(study, str) or not study:
        raise ParameterError(f"start_public: study={study!r}; give the study's name, e.g. "
                             "start_public('benchmark', parameters=..., source=...).")
    if not isinstance(parameters, Mapping):
        raise ParameterError(f"start_public: parameters must be a dict; received {type(parameters).__name__}.")
    missing = [a for a in ("path", "meta", "content_hash") if not hasattr(source, a)]
    if missing:
        raise ParameterError(f"start_public: source={source!r} lacks {', '.join(missing)}; give an object that "
                             "names its data (path, meta with name and source, content_hash).")
    checked = _declared(study, parameters)
    lang = checked.get("lang", "nl")
    check_choice("lang", lang, LANGUAGES)
    given_out = checked.get("output_dir") or ""
    out = Path(given_out) if given_out else Path(tempfile.mkdtemp(prefix=f"rendeert-{study}-"))
    out.mkdir(parents=True, exist_ok=True)
    report = Report(study, lang=lang, policy=DisclosurePolicy.load(), figure_dir=out / "figures")
    title = None
    if title_key:
        from analysis.report.labels import t

        title = t(title_key, lang)
    params = {"lang": lang, **{k: v for k, v in checked.items() if k != "output_dir"}}
    return Run(context=StudyContext(study=study, parameters=params, dataset=source, store=None, report=report,
                                    output_dir=out, title=title))


__all__ = ["Run", "start", "start_public", "check_population_parameters"]
