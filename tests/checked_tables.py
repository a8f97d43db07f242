"""One assertion for tests that compare two disclosure-checked tables (the cell path against the unit rows)."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Sums and means may differ by summation order only (the database adds in another order than pandas).
AMOUNT_RTOL = 1e-10


def assert_same_table(expected, got) -> None:
    """The same keys, values and n (to AMOUNT_RTOL), withheld cells, units and rules."""
    keys = list(expected.keys)
    pd.testing.assert_frame_equal(got.frame[keys], expected.frame[keys], check_dtype=False)
    for col in ("n", "value"):
        np.testing.assert_allclose(got.frame[col].to_numpy(float), expected.frame[col].to_numpy(float),
                                   rtol=AMOUNT_RTOL, equal_nan=True)
    pd.testing.assert_frame_equal(got.withheld, expected.withheld)
    np.testing.assert_array_equal(got._units.to_numpy(float), expected._units.to_numpy(float))
    assert got._raw["rule"].tolist() == expected._raw["rule"].tolist()
