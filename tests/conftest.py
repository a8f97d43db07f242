"""Shared test set-up: tests/ is importable, for the toy-notebook builder (tests/notebook_builder.py); a
fixture that parses each study notebook once per test (for tests that plan many runs)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


@pytest.fixture
def studies_read_once(monkeypatch):
    """Each study notebook parsed once per test while it is unchanged on disk.

    ``plan`` validates every grid combination through ``prepare``, which lists (parses) all study
    notebooks again each time: 0.4 s a combination, over 1,500 combinations in the all-municipality
    test. The notebooks do not change during a test; a notebook whose path, modification time or size
    changed is parsed anew, so the catalogue seen is the one on disk. Nothing else of the code under
    test is replaced. Returns the parser itself (uncached), to compare with.
    """
    from analysis.run import catalog

    parse = catalog.inspect_study
    parsed: dict[tuple, object] = {}

    def inspect_study(path):
        stat = Path(path).stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in parsed:
            parsed[key] = parse(path)
        return parsed[key]

    monkeypatch.setattr(catalog, "inspect_study", inspect_study)
    return parse
