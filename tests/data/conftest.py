"""Fixtures of tests/data: the tiny valid dataset of data_helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_helpers import TABLES, write_dataset


@pytest.fixture()
def tiny(tmp_path) -> Path:
    return write_dataset(tmp_path / "tiny")


@pytest.fixture()
def tables():
    return dict(TABLES)
