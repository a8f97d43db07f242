"""Callaway & Sant'Anna against R `did` on mpdta (source: SOURCE.md beside this file).

R: att_gt(yname="lemp", tname="year", idname="countyreal", gname="first.treat", data=mpdta,
   control_group=..., est_method="dr", bstrap=FALSE); aggte(type=...).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.estimators import att_gt

HERE = Path(__file__).parent
#: R's output is stored with 15+ significant digits and the arithmetic is the same closed form.
TOL = 1e-6
#: The README of R did prints these to 4 digits (pre-test p to 5): half a unit of the last digit.
PRINTED_4 = 0.5e-4
SCENARIOS = {"mpdta_nev_dr": "never_treated", "mpdta_nyt_dr": "not_yet_treated"}


@pytest.fixture(scope="module")
def mpdta():
    return pd.read_csv(HERE / "mpdta.csv")


@pytest.fixture(scope="module", params=list(SCENARIOS))
def fitted(request, mpdta):
    result = att_gt(mpdta, outcome="lemp", unit="countyreal", time="year", cohort="first.treat",
                    control=SCENARIOS[request.param])
    return request.param, result


def test_every_att_gt_and_se(fitted):
    scenario, result = fitted
    ref = pd.read_csv(HERE / "ref_attgt.csv").query("scenario == @scenario")
    ours = result.estimates.merge(ref, left_on=["group", "time"], right_on=["group", "t"])
    assert len(ours) == len(ref) == len(result.estimates) == 12
    assert (ours["estimate"] - ours["att"]).abs().max() < TOL
    assert (ours["std_error"] - ours["se"]).abs().max() < TOL


@pytest.mark.parametrize("kind,prefix", [("simple", None), ("group", "g="), ("dynamic", "e="), ("calendar", "t=")])
def test_aggregations(fitted, kind, prefix):
    scenario, result = fitted
    ref = pd.read_csv(HERE / "ref_aggte.csv").query("scenario == @scenario and type == @kind")
    agg = result.aggregate(kind).to_frame()
    assert agg.loc["ATT", "estimate"] == pytest.approx(ref["overall_att"].iloc[0], abs=TOL)
    assert agg.loc["ATT", "std_error"] == pytest.approx(ref["overall_se"].iloc[0], abs=TOL)
    if prefix:
        for _, row in ref.iterrows():
            term = f"{prefix}{int(row['egt'])}"
            assert agg.loc[term, "estimate"] == pytest.approx(row["att_egt"], abs=TOL), term
            assert agg.loc[term, "std_error"] == pytest.approx(row["se_egt"], abs=TOL), term


def test_pretest(fitted):
    scenario, result = fitted
    ref = pd.read_csv(HERE / "ref_pretest.csv").query("scenario == @scenario").iloc[0]
    test = result.pretrend_test()
    assert test["W"] == pytest.approx(ref["W"], abs=TOL)
    assert test["p_value"] == pytest.approx(ref["Wpval"], abs=0.5e-5)  # printed to 5 decimals
    assert test["df"] == 5


def test_did_readme_numbers(mpdta):
    """The R did README: ATT(2004,t) -0.0105, -0.0704, -0.1373, -0.1008; simple -0.0400; dynamic -0.0772."""
    r = att_gt(mpdta, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    g2004 = r.estimates.query("group == 2004").sort_values("time")["estimate"].tolist()
    for ours, printed in zip(g2004, [-0.0105, -0.0704, -0.1373, -0.1008]):
        assert ours == pytest.approx(printed, abs=PRINTED_4)
    assert r.aggregate("simple").to_frame().loc["ATT", "estimate"] == pytest.approx(-0.0400, abs=PRINTED_4)
    assert r.aggregate("dynamic").to_frame().loc["ATT", "estimate"] == pytest.approx(-0.0772, abs=PRINTED_4)
