"""A small synthetic dataset shared by the notebook tests (generated once per session)."""

from __future__ import annotations

import pytest

SMALL_PERSONS = 4_000
SMALL_SEED = 11


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    from analysis.data.synthetic import generate

    out = tmp_path_factory.mktemp("data") / "synthetic-small"
    generate(out, n_persons=SMALL_PERSONS, seed=SMALL_SEED)
    return out
