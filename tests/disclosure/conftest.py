"""A small synthetic dataset for the disclosure tests, and its smallest municipality."""

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
