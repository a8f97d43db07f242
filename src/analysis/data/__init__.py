"""Data: the contract, loading and validation, the processed store, synthetic data, adapters."""

from analysis.data.load import Dataset, load_dataset
from analysis.data.problems import Problem

__all__ = ["Dataset", "Problem", "load_dataset", "build_store", "Store", "verify_store"]


def __getattr__(name):  # the store pulls in DuckDB: import it only when asked for
    if name in ("build_store", "Store", "verify_store"):
        from analysis.data import store

        return getattr(store, name)
    raise AttributeError(name)
