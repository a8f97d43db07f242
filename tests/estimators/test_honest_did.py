"""honest_did against HonestDiD's documented output (tests/reference/honestdid/SOURCE.md)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.estimators import EffectResult, event_study, honest_did
from analysis.estimators.honest_did.flci import _Problem, folded_normal_quantile
from analysis.estimators.honest_did.rstream import r_normal

matplotlib.use("Agg")

REF = Path(__file__).resolve().parents[1] / "reference" / "honestdid"
EXPECTED = pd.read_csv(REF / "expected_bounds.csv", dtype={"lb_printed": str, "ub_printed": str})

# C-LF end points are grid points computed with the same arithmetic as R: equal to rounding.
GRID_TOL = 1e-10
# FLCI: SLSQP here, ECOS in R, both to about 1e-8 relative; the optimum h is bisected to (b - a)/100.
FLCI_TOL = 1e-6
# LW FLCI: 23 post periods, the half-length is flat in h; R's ECOS and our SLSQP land 4e-5 apart.
FLCI_LW_TOL = 1e-4
# R's FLCI at M = 0 is ECOS's inexact solution on a one-point feasible set (SOURCE.md): 1e-5 off the exact.
FLCI_M0_TOL = 2e-5
# Original CI: closed form on the same inputs.
CLOSED_TOL = 1e-12
# FLCI at M = 0 against the closed-form minimum-variance estimator: SLSQP's feasibility tolerance at h = hMin.
SLSQP_AT_HMIN_TOL = 1e-9


def half_unit(printed: str) -> float:
    """Half a unit of the last printed digit of a number as printed by R/tibble."""
    return 0.5 * 10.0 ** Decimal(printed).as_tuple().exponent


def _inputs(example: str):
    frame = pd.read_csv(REF / f"{example}_betahat_sigma.csv").to_numpy()
    return frame[:, 0], frame[:, 1:]


@pytest.fixture(scope="module")
def medicaid_es() -> EffectResult:
    """TWFE event study of the README (fixest::feols(dins ~ i(year, D, ref = 2013) | stfips + year))."""
    panel = pd.read_csv(REF / "medicaid_nonstaggered_panel.csv")
    panel["cohort"] = np.where(panel["D"] == 1, 2014, 0)
    return event_study(panel, outcome="dins", unit="stfips", time="year", cohort="cohort", window=(-6, 1),
                       reference=-1)


def _rows(example, restriction, target="first"):
    sel = EXPECTED[(EXPECTED.example == example) & (EXPECTED.restriction == restriction)
                   & (EXPECTED.target == target)]
    return sel.reset_index(drop=True)


def test_r_stream_matches_r_rnorm():
    """R 4.2: options(digits = 15); set.seed(0); rnorm(3) -> 1.262954284880793 -0.326233360705649 1.329799262922501."""
    printed = ["1.262954284880793", "-0.326233360705649", "1.329799262922501"]
    for got, value in zip(r_normal(3), printed):
        assert abs(got - float(value)) <= half_unit(value)


def test_relative_magnitudes_first_period_mbar_1_matches_readme(medicaid_es):
    """README: createSensitivityResults_relativeMagnitudes(betahat, sigma, 5, 2, Mbarvec) row Mbar = 1."""
    row = _rows("medicaid", "relative_magnitudes").query("m == 1").iloc[0]
    res = honest_did(medicaid_es, restriction="relative_magnitudes", m=[1.0])
    lo, hi = res.estimates.loc[0, ["ci_low", "ci_high"]]
    assert abs(lo - float(row.lb_printed)) <= half_unit(row.lb_printed)
    assert abs(hi - float(row.ub_printed)) <= half_unit(row.ub_printed)
    assert lo == pytest.approx(row.lb_r, abs=GRID_TOL) and hi == pytest.approx(row.ub_r, abs=GRID_TOL)


def test_relative_magnitudes_all_mbar_and_breakdown(medicaid_es):
    """README prints the C-LF bounds for Mbar 0.5..2 and calls Mbar = 2 the breakdown value."""
    rows = _rows("medicaid", "relative_magnitudes")
    res = honest_did(medicaid_es, m=rows.m.tolist())
    for got, row in zip(res.estimates.itertuples(), rows.itertuples()):
        assert abs(got.ci_low - float(row.lb_printed)) <= half_unit(row.lb_printed)
        assert abs(got.ci_high - float(row.ub_printed)) <= half_unit(row.ub_printed)
        assert got.ci_low == pytest.approx(row.lb_r, abs=GRID_TOL)
        assert got.ci_high == pytest.approx(row.ub_r, abs=GRID_TOL)
    assert res.breakdown == 2.0
    names = [r["name"] for r in res.to_estimates("att")]
    assert "breakdown_mbar_att" in names


def test_relative_magnitudes_average_matches_readme_cache(medicaid_es):
    """README cache chunk-7: l_vec = c(0.5, 0.5), Mbarvec = seq(0, 2, by = 0.5); originalResults_avg."""
    rows = _rows("medicaid", "relative_magnitudes", "average")
    res = honest_did(medicaid_es, m=rows.m.tolist(), target="average")
    np.testing.assert_allclose(res.estimates["ci_low"], rows.lb_r, rtol=0, atol=GRID_TOL)
    np.testing.assert_allclose(res.estimates["ci_high"], rows.ub_r, rtol=0, atol=GRID_TOL)
    assert res.original["ci_low"] == pytest.approx(0.040369952510776089, abs=CLOSED_TOL)
    assert res.original["ci_high"] == pytest.approx(0.075283077128191364, abs=CLOSED_TOL)


@pytest.mark.parametrize("example,num_pre", [("medicaid_sunab", 10), ("medicaid_cs", 4)])
def test_relative_magnitudes_staggered_examples(example, num_pre):
    """README cache chunk-10 (Sun-Abraham) and chunk-12 (Callaway-Sant'Anna), both with gridPoints = 100."""
    b, s = _inputs(example)
    rows = _rows(example, "relative_magnitudes")
    res = honest_did(betahat=b, sigma=s, num_pre=num_pre, num_post=len(b) - num_pre, m=rows.m.tolist(),
                     grid_points=100)
    np.testing.assert_allclose(res.estimates["ci_low"], rows.lb_r, rtol=0, atol=GRID_TOL)
    np.testing.assert_allclose(res.estimates["ci_high"], rows.ub_r, rtol=0, atol=GRID_TOL)


def test_dynamic_aggregation_with_universal_base_period():
    """README chunk-12: honest_did(es) on did::aggte(type = "dynamic") with base_period = "universal".

    The aggregation's e = -1 term is 0 with zero variance; it is recognised as the reference and left out.
    """
    b, s = _inputs("medicaid_cs")
    terms = [f"e={k}" for k in range(-5, 6)]
    beta = np.insert(b, 4, 0.0)
    vcov = np.insert(np.insert(s, 4, 0.0, axis=0), 4, 0.0, axis=1)
    table = pd.DataFrame({"estimate": beta, "std_error": np.sqrt(np.diag(vcov)), "ci_lower": np.nan,
                          "ci_upper": np.nan, "p_value": np.nan, "n": 40}, index=terms)
    table.loc["ATT"] = [0.07, 0.01, np.nan, np.nan, np.nan, 40]
    result = EffectResult(estimates=table, estimand="ATT(e)",
                          diagnostics={"vcov": pd.DataFrame(vcov, index=terms, columns=terms)})
    rows = _rows("medicaid_cs", "relative_magnitudes")
    res = honest_did(result, m=rows.m.tolist(), grid_points=100)
    assert res.diagnostics["reference"] == -1.0 and res.spec["num_pre"] == 4
    np.testing.assert_allclose(res.estimates["ci_low"], rows.lb_r, rtol=0, atol=GRID_TOL)
    np.testing.assert_allclose(res.estimates["ci_high"], rows.ub_r, rtol=0, atol=GRID_TOL)
    # R's orig_ci of the same call
    assert res.original["ci_low"] == pytest.approx(0.033478730648979563, abs=CLOSED_TOL)
    assert res.breakdown == np.inf


def test_smoothness_flci_matches_readme(medicaid_es):
    """README: createSensitivityResults(betahat, sigma, 5, 2, Mvec = seq(0, 0.05, by = 0.01)) (FLCI)."""
    rows = _rows("medicaid", "smoothness")
    res = honest_did(medicaid_es, restriction="smoothness", m=rows.m.tolist())
    for got, row in zip(res.estimates.itertuples(), rows.itertuples()):
        tol = FLCI_M0_TOL if row.m == 0 else FLCI_TOL
        assert got.ci_low == pytest.approx(row.lb_r, abs=tol)
        assert got.ci_high == pytest.approx(row.ub_r, abs=tol)
        if row.m > 0:
            assert abs(got.ci_low - float(row.lb_printed)) <= half_unit(row.lb_printed)
            assert abs(got.ci_high - float(row.ub_printed)) <= half_unit(row.ub_printed)
    assert res.breakdown == pytest.approx(0.03)


def test_smoothness_flci_with_controls_matches_readme_printout():
    """README 'Regressions with controls': the FLCI table printed (betahat, sigma from the README cache)."""
    b, s = _inputs("medicaid_controls")
    rows = _rows("medicaid_controls", "smoothness")
    res = honest_did(betahat=b, sigma=s, num_pre=5, num_post=2, restriction="smoothness", m=rows.m.tolist())
    for got, row in zip(res.estimates.itertuples(), rows.itertuples()):
        if row.m == 0:  # R's ECOS value at the one-point feasible set (see FLCI_M0_TOL)
            continue
        assert abs(got.ci_low - float(row.lb_printed)) <= half_unit(row.lb_printed)
        assert abs(got.ci_high - float(row.ub_printed)) <= half_unit(row.ub_printed)


def test_flci_at_m0_is_the_minimum_variance_estimator(medicaid_es):
    """Closed form: with M = 0 the FLCI is the minimum-variance affine estimator +- z * sd."""
    b = medicaid_es.estimates["estimate"].to_numpy()
    s = medicaid_es.diagnostics["vcov"].to_numpy()
    problem = _Problem(s, 5, 2, np.array([1.0, 0.0]))
    w = problem.min_variance_w()
    weights = np.concatenate([problem.to_v @ w, [1.0, 0.0]])
    assert weights @ s @ weights == pytest.approx(problem.variance(w), abs=CLOSED_TOL)
    half = folded_normal_quantile(0.95, 0.0) * np.sqrt(problem.variance(w))
    res = honest_did(medicaid_es, restriction="smoothness", m=[0.0])
    assert res.estimates.loc[0, "ci_low"] == pytest.approx(weights @ b - half, abs=SLSQP_AT_HMIN_TOL)


@pytest.mark.slow
def test_smoothness_lovenheim_willen_vignette():
    """Vignette: createSensitivityResults(LW, l_vec = basisVector(17, 23), Mvec) (VignetteResults.rda)."""
    b, s = _inputs("lw")
    rows = _rows("lw", "smoothness", "l17").query("m == 0.04")
    l_vec = np.zeros(23)
    l_vec[16] = 1.0
    from analysis.estimators.honest_did.flci import flci

    lo, hi, _ = flci(b, s, num_pre=9, num_post=23, l_vec=l_vec, m=0.04)
    assert lo == pytest.approx(rows.lb_r.iloc[0], abs=FLCI_LW_TOL)
    assert hi == pytest.approx(rows.ub_r.iloc[0], abs=FLCI_LW_TOL)


def test_original_ci_is_normal_interval(medicaid_es):
    """HonestDiD's constructOriginalCS: estimate +- qnorm(0.975) * se (closed form)."""
    res = honest_did(medicaid_es, restriction="smoothness", m=[0.01])
    e = medicaid_es.estimates.loc["e=0"]
    assert res.original["estimate"] == pytest.approx(e["estimate"], abs=CLOSED_TOL)
    assert res.original["ci_low"] == pytest.approx(e["estimate"] - 1.959963984540054 * e["std_error"],
                                              abs=CLOSED_TOL)


def test_views_and_results_rows(medicaid_es):
    res = honest_did(medicaid_es, restriction="smoothness", m=[0.0, 0.01, 0.02, 0.03])
    assert "Breakdown value" in res.summary() and "<table" in res._repr_html_()
    ax = res.plot()
    assert len(ax.collections) >= 2
    rows = res.to_estimates("att")
    assert rows[-1]["name"] == "breakdown_m_att" and rows[-1]["estimate"] == pytest.approx(0.03)
    assert all(r["n"] == 22 for r in rows)  # 22 expansion states at e = 0


def test_breakdown_inf_when_never_covering_zero(medicaid_es):
    res = honest_did(medicaid_es, restriction="smoothness", m=[0.0, 0.005])
    assert res.breakdown == np.inf and res.breakdown_note.startswith("inf")
    assert res.to_estimates("att")[-1]["estimate"] is None


def test_requires_covariance():
    table = pd.DataFrame({"estimate": [0.1, 0.0, 0.2], "std_error": [0.1, 0.0, 0.1], "ci_lower": 0.0,
                          "ci_upper": 0.0, "p_value": 0.5, "n": 10}, index=["e=-2", "e=-1", "e=0"])
    with pytest.raises(ParameterError, match="covariance matrix"):
        honest_did(EffectResult(estimates=table, estimand="ATT(e)"))


def test_refuses_varying_base_period():
    terms = ["e=-2", "e=-1", "e=0"]
    table = pd.DataFrame({"estimate": [0.1, 0.05, 0.2], "std_error": 0.1, "ci_lower": 0.0, "ci_upper": 0.0,
                          "p_value": 0.5, "n": 10}, index=terms)
    vcov = pd.DataFrame(np.eye(3) * 0.01, index=terms, columns=terms)
    with pytest.raises(ParameterError, match="universal base period"):
        honest_did(EffectResult(estimates=table, estimand="ATT(e)", diagnostics={"vcov": vcov}))


def test_option_validation():
    b, s = _inputs("medicaid_controls")
    with pytest.raises(ParameterError, match="restriction"):
        honest_did(betahat=b, sigma=s, num_pre=5, num_post=2, restriction="linear")
    with pytest.raises(ParameterError, match="target"):
        honest_did(betahat=b, sigma=s, num_pre=5, num_post=2, target="last")
    with pytest.raises(ParameterError, match="num_pre"):
        honest_did(betahat=b, sigma=s, num_pre=4, num_post=2)
    with pytest.raises(ParameterError, match="m="):
        honest_did(betahat=b, sigma=s, num_pre=5, num_post=2, m=[-1])
    with pytest.raises(ParameterError, match="either result"):
        honest_did(object(), betahat=b)


def test_benzarti_carloni_original_ci():
    """Vignette VignetteResults$BC_OriginalResults: constructOriginalCS(BC, l_vec = basisVector(1, 4))."""
    b, s = _inputs("bc")
    res = honest_did(betahat=b, sigma=s, num_pre=4, num_post=4, restriction="smoothness", m=[0.1])
    for key, printed in (("ci_low", "0.15877494280765"), ("ci_high", "0.233147292681241")):  # print(digits = 15)
        assert abs(res.original[key] - float(printed)) <= half_unit(printed)
