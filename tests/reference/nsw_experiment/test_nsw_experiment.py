"""The NSW experiment (Dehejia-Wahba sample) through the experiment analysis; see SOURCE.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.estimators.experiments import balance_table, itt

HERE = Path(__file__).parent
COVARIATES = ["age", "age2", "education", "nodegree", "black", "hispanic", "re74", "re75"]
CENTS = 0.005  # printed to cents
DOLLARS = 0.5  # printed to whole dollars
TENTH = 0.05  # printed to one decimal
#: normal approximation to a permutation distribution of skewed earnings (445 units) plus Monte Carlo
#: error of 10,000 permutations (sd about 0.0007 near p = 0.005)
RI_MARGIN = 0.004


@pytest.fixture(scope="module")
def nsw():
    d = pd.read_stata(HERE / "data_lalonde_nsw_dw.dta")
    return d.assign(arm=np.where(d["treat"] == 1, "nsw", "control"), age2=d["age"] ** 2)


def test_itt_difference_in_means_classical_and_hc1(nsw):
    classical = itt(nsw, outcome="re78", arm="arm", se="classical", permutations=0).to_frame().loc["arm=nsw"]
    assert classical["estimate"] == pytest.approx(1794.34, abs=CENTS)
    assert classical["std_error"] == pytest.approx(632.85, abs=CENTS)
    assert classical["n"] == 185 and classical["n_control"] == 260
    hc1 = itt(nsw, outcome="re78", arm="arm", se="HC1", permutations=0).to_frame().loc["arm=nsw"]
    assert hc1["std_error"] == pytest.approx(670.8, abs=TENTH)


def test_itt_with_covariate_adjustment(nsw):
    r = itt(nsw, outcome="re78", arm="arm", covariates=COVARIATES, se="classical", permutations=0).to_frame()
    assert r.loc["arm=nsw", "estimate"] == pytest.approx(1672, abs=DOLLARS)
    assert r.loc["arm=nsw", "std_error"] == pytest.approx(638, abs=DOLLARS)


def test_randomisation_inference_and_balance(nsw):
    res = itt(nsw, outcome="re78", arm="arm", permutations=10_000, seed=1)
    y = nsw["re78"].to_numpy(float)
    n1, n0 = 185, 260
    sd_perm = np.sqrt(y.var(ddof=1) * (n1 + n0) / (n1 * n0))
    p_normal = 2 * stats.norm.sf(1794.34 / sd_perm)
    assert res.estimates.loc["arm=nsw", "p_value_ri"] == pytest.approx(p_normal, abs=RI_MARGIN)
    bal = balance_table(nsw, arm="arm", covariates=["age", "education", "black", "re75"])
    # randomisation balanced these characteristics: no standardised difference above 0.25
    assert (bal["std_difference"].abs() < 0.25).all()
