"""Callaway & Sant'Anna with covariates against R `did` (sources: SOURCE.md beside this file).

Full-precision R output (csdid's r_ref, R did with bstrap = FALSE):
  att_gt(yname="lemp", tname="year", idname="countyreal", gname="first.treat", data=mpdta,
         xformla=~lpop, control_group="nevertreated", est_method="reg", bstrap=FALSE, cband=FALSE)
  att_gt(yname="Y", tname="period", idname="id", gname="G", data=sim_data, xformla=~X,
         control_group="nevertreated", est_method="dr", bstrap=FALSE, cband=FALSE)
  att_gt(... data=tp4_dyn | tp8_dyn, xformla=~X, control_group="nevertreated" | "notyettreated",
         est_method="dr" | "reg", bstrap=FALSE, cband=FALSE)
Printed R output (did 2.1.2 reference manual, att_gt examples):
  att_gt(yname="lemp", tname="year", idname="countyreal", gname="first.treat", xformla=~lpop,
         data=mpdta [, control_group="notyettreated"])   # est_method "dr", bootstrap SEs
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.estimators import att_gt

HERE = Path(__file__).parent
#: "reg" is closed form, as in R: R's values are stored with 15 significant digits.
TOL_CLOSED_FORM = 1e-8
#: "dr" fits a logit iteratively (R glm stops at deviance tolerance 1e-8; we iterate Newton to 1e-12):
#: the house tolerance for iterative fits would be 1e-4/1e-3, but R's stored digits allow 1e-6 here.
TOL_ITERATIVE = 1e-6
#: The reference manual prints ATT(g,t) to 4 decimals: half a unit of the last digit.
PRINTED_4 = 0.5e-4
#: The manual prints the pre-test p-value to 5 decimals: half a unit of the last digit.
PRINTED_5 = 0.5e-5
CONTROL = {"nevertreated": "never_treated", "notyettreated": "not_yet_treated"}
AGGREGATIONS = [("simple", None), ("group", "g="), ("dynamic", "e="), ("calendar", "t=")]


@pytest.fixture(scope="module")
def mpdta():
    return pd.read_csv(HERE / "mpdta.csv")


@pytest.fixture(scope="module")
def fitted(mpdta):
    """Full-precision scenarios: name -> (result, tolerance)."""
    sim = pd.read_csv(HERE / "sim_data.csv")
    return {
        "mpdta_nev_reg_cov": (att_gt(mpdta, outcome="lemp", unit="countyreal", time="year", cohort="first.treat",
                                     covariates=["lpop"], method="reg"), TOL_CLOSED_FORM),
        "sim_nev_dr": (att_gt(sim, outcome="Y", unit="id", time="period", cohort="G", covariates=["X"], method="dr"),
                       TOL_ITERATIVE),
    }


@pytest.mark.parametrize("scenario", ["mpdta_nev_reg_cov", "sim_nev_dr"])
def test_every_att_gt_and_se(fitted, scenario):
    result, tol = fitted[scenario]
    ref = pd.read_csv(HERE / "ref_cov_attgt.csv").query("scenario == @scenario")
    ours = result.estimates.merge(ref, left_on=["group", "time"], right_on=["group", "t"])
    assert len(ours) == len(ref) == len(result.estimates)
    assert (ours["estimate"] - ours["att"]).abs().max() < tol
    assert (ours["std_error"] - ours["se"]).abs().max() < tol


@pytest.mark.parametrize("scenario", ["mpdta_nev_reg_cov", "sim_nev_dr"])
@pytest.mark.parametrize("kind,prefix", AGGREGATIONS)
def test_aggregations(fitted, scenario, kind, prefix):
    result, tol = fitted[scenario]
    ref = pd.read_csv(HERE / "ref_cov_aggte.csv").query("scenario == @scenario and type == @kind")
    agg = result.aggregate(kind).to_frame()
    assert agg.loc["ATT", "estimate"] == pytest.approx(ref["overall_att"].iloc[0], abs=tol)
    assert agg.loc["ATT", "std_error"] == pytest.approx(ref["overall_se"].iloc[0], abs=tol)
    if prefix:
        assert len(agg) == len(ref) + 1
        for _, row in ref.iterrows():
            term = f"{prefix}{int(row['egt'])}"
            assert agg.loc[term, "estimate"] == pytest.approx(row["att_egt"], abs=tol), term
            assert agg.loc[term, "std_error"] == pytest.approx(row["se_egt"], abs=tol), term


@pytest.mark.parametrize("scenario", ["mpdta_nev_reg_cov", "sim_nev_dr"])
def test_pretest(fitted, scenario):
    result, tol = fitted[scenario]
    ref = pd.read_csv(HERE / "ref_cov_pretest.csv").query("scenario == @scenario").iloc[0]
    test = result.pretrend_test()
    assert test["W"] == pytest.approx(ref["W"], abs=tol)
    assert test["p_value"] == pytest.approx(ref["Wpval"], abs=PRINTED_5)  # R stored the p-value to 5 decimals


@pytest.mark.parametrize("dataset", ["tp4_dyn", "tp8_dyn"])
@pytest.mark.parametrize("control", ["nevertreated", "notyettreated"])
@pytest.mark.parametrize("method", ["dr", "reg"])
def test_simulated_panels(dataset, control, method):
    """R did on csdid's simulated panels (4 and 8 periods, covariate X), both comparison groups."""
    data = pd.read_csv(HERE / f"sim_{dataset}.csv")
    ref = pd.read_csv(HERE / "ref_sim_attgt.csv").query("dataset == @dataset and control == @control and est == @method")
    result = att_gt(data, outcome="Y", unit="id", time="period", cohort="G", covariates=["X"], method=method,
                    control=CONTROL[control])
    ours = result.estimates.merge(ref, left_on=["group", "time"], right_on=["group", "t"])
    tol = TOL_CLOSED_FORM if method == "reg" else TOL_ITERATIVE
    assert len(ours) == len(ref) == len(result.estimates)
    assert (ours["estimate"] - ours["att"]).abs().max() < tol
    assert (ours["std_error"] - ours["se"]).abs().max() < tol


@pytest.mark.parametrize("scenario,control", [("mpdta_nev_dr_lpop", "never_treated"),
                                              ("mpdta_nyt_dr_lpop", "not_yet_treated")])
def test_reference_manual_dr_lpop(mpdta, scenario, control):
    """did 2.1.2 manual: att_gt(..., xformla=~lpop) doubly robust; every ATT(g,t) and the pre-test p-value.

    The manual's standard errors come from the multiplier bootstrap (bstrap = TRUE, random), so they
    are not compared; the pre-test uses the analytic covariance and is.
    """
    result = att_gt(mpdta, outcome="lemp", unit="countyreal", time="year", cohort="first.treat",
                    covariates=["lpop"], method="dr", control=control)
    ref = pd.read_csv(HERE / "ref_printed_dr_lpop.csv").query("scenario == @scenario")
    ours = result.estimates.merge(ref, left_on=["group", "time"], right_on=["group", "t"])
    assert len(ours) == len(ref) == 12
    assert (ours["estimate"] - ours["att"]).abs().max() <= PRINTED_4 + 1e-12  # 1e-12: float repr of the bound
    p = pd.read_csv(HERE / "ref_printed_dr_lpop_pretest.csv").query("scenario == @scenario")["Wpval"].iloc[0]
    assert result.pretrend_test()["p_value"] == pytest.approx(p, abs=PRINTED_5)
