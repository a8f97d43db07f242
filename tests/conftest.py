"""Shared test set-up: tests/ is importable, for the toy-notebook builder (tests/notebook_builder.py)."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

