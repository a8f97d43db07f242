"""Importable alias of the notebook builder for tests."""

from make_notebook import build as build_notebook  # noqa: F401
