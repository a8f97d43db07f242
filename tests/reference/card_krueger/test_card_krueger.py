"""Card & Krueger (1994, AER) New Jersey minimum wage: the stacked 2x2 DiD regression.

Data: card_krueger_1994.csv (from the public dataset on David Card's page, via the project's
shared reference data). Replication target: DiD +2.914 FTE, store-clustered se 1.291, all
available observations.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.estimators.twfe import did_2x2

#: the published numbers have three decimals: half a unit of the last printed digit
PRINTED_3 = 0.5e-3


def test_card_krueger_did():
    data = pd.read_csv(Path(__file__).with_name("card_krueger_1994.csv"))
    result = did_2x2(data, outcome="fte", treated="nj", post="t", cluster="id").to_frame().loc["ATT"]
    assert result["estimate"] == pytest.approx(2.914, abs=PRINTED_3)
    assert result["std_error"] == pytest.approx(1.291, abs=PRINTED_3)


def test_bad_treatment_coding():
    data = pd.read_csv(Path(__file__).with_name("card_krueger_1994.csv"))
    with pytest.raises(ParameterError, match=r"'treated' must be 0/1"):
        did_2x2(data, outcome="fte", treated="treated", post="t", cluster="id")
