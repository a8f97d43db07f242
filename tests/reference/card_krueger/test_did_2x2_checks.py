"""did_2x2 on Card & Krueger (1994): input checks, row accounting, and pyfixest as a second reference.

Data and source: SOURCE.md beside this file. The published numbers are tested in
test_card_krueger.py.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyfixest as pf
import pytest

from analysis.errors import ParameterError
from analysis.estimators.twfe import did_2x2

#: the same closed-form OLS and CR1 formula in two libraries: rounding only
CLOSED_FORM = 1e-8

DATA = Path(__file__).with_name("card_krueger_1994.csv")


def test_missing_column_is_named():
    data = pd.read_csv(DATA)
    with pytest.raises(ParameterError, match=r"did_2x2: columns \['store'\] not in the data"):
        did_2x2(data, outcome="fte", treated="nj", post="t", cluster="store")


def test_all_available_observations_counted():
    """Rows without fte are dropped and counted in the diagnostics, not silently."""
    data = pd.read_csv(DATA)
    result = did_2x2(data, outcome="fte", treated="nj", post="t", cluster="id")
    assert result.diagnostics["rows_dropped_missing"] == int(data["fte"].isna().sum())
    used = data[data["fte"].notna()]
    row = result.to_frame().loc["ATT"]
    # n counts units (stores), not rows: NJ stores with an observed fte, and PA stores as comparison
    assert row["n"] == used.loc[used["nj"] == 1, "id"].nunique()
    assert row["n_control"] == used.loc[used["nj"] == 0, "id"].nunique()
    # Card & Krueger (1994), Table 1: 410 stores, 331 in New Jersey and 79 in Pennsylvania (the file's
    # id 407 names one store in each state, so there are 409 distinct ids)
    assert (row["n"], row["n_control"]) == (331, 79)


def test_matches_pyfixest():
    """pyfixest feols("fte ~ nj * t", vcov={"CRV1": "id"}): same estimate and CR1 standard error."""
    data = pd.read_csv(DATA)
    ours = did_2x2(data, outcome="fte", treated="nj", post="t", cluster="id").to_frame().loc["ATT"]
    fit = pf.feols("fte ~ nj * t", data=data.dropna(subset=["fte"]), vcov={"CRV1": "id"})
    assert ours["estimate"] == pytest.approx(fit.coef()["nj:t"], rel=CLOSED_FORM)
    assert ours["std_error"] == pytest.approx(fit.se()["nj:t"], rel=CLOSED_FORM)
