"""A small synthetic dataset and its store, shared by the kit's tests (a few seconds to build)."""

from __future__ import annotations

import json

import pytest

SMALL_PERSONS = 3_000  # builds in about a second; enough persons for every event and cohort
SEED = 5


@pytest.fixture(scope="session")
def small(tmp_path_factory):
    """(dataset directory, Store, truth.json 'truths') of a small synthetic draw."""
    from analysis.data import build_store, load_dataset
    from analysis.data.synthetic import generate

    root = tmp_path_factory.mktemp("kit")
    path = generate(root / "ds", n_persons=SMALL_PERSONS, seed=SEED)
    store = build_store(load_dataset(path), root=root / "processed")
    truth = json.loads((path / "truth.json").read_text(encoding="utf-8"))["truths"]
    return path, store, truth
