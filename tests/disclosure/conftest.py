"""A small synthetic dataset for the disclosure tests, its smallest municipality, and the study runs on it
that several test files read."""

from __future__ import annotations

import pandas as pd
import pytest

PERSONS = 4_000
SEED = 11


@pytest.fixture(scope="session")
def disclosure_dataset(tmp_path_factory):
    from analysis.data.synthetic import generate

    out = tmp_path_factory.mktemp("disclosure") / "synthetic-small"
    generate(out, n_persons=PERSONS, seed=SEED)
    return out


@pytest.fixture(scope="session")
def smallest_municipality(disclosure_dataset):
    """The municipality with the fewest persons (a handful in this dataset: every rule is tested at once)."""
    counts = pd.read_parquet(disclosure_dataset / "persons.parquet")["municipality_code"].value_counts()
    return str(counts.idxmin())


@pytest.fixture(scope="session")
def disclosure_run(disclosure_dataset, tmp_path_factory):
    """``disclosure_run(study, **parameters)``: the run directory of ``study`` on the disclosure dataset
    with ``parameters``, with its PDF, run once per session however many tests read it.

    Several files read the same runs (every study on the dataset and for its smallest municipality):
    the output-file scan, the small-population checks. A run with the PDF writes the same notebook,
    results.json, published.json and disclosure log as one without (the PDF is made from them
    afterwards), so a test that needs no PDF reads the same files. The tests only read the run.
    Parameters are given as in ``run_study``; ``dataset`` is this dataset unless the study takes none
    (``dataset=False``: benchmark, validation).
    """
    from analysis.run.runner import run_study

    out = tmp_path_factory.mktemp("disclosure-runs")
    done: dict[tuple, object] = {}

    def run(study: str, *, dataset: bool = True, **parameters):
        params = {"dataset": str(disclosure_dataset), **parameters} if dataset else dict(parameters)
        key = (study, tuple(sorted(params.items())))
        if key not in done:
            done[key] = run_study(study, params, out_root=out, progress=False, pdf=True).run_dir
        return done[key]

    return run
