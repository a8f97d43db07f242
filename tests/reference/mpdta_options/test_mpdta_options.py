"""att_gt options against R `did` on mpdta: anticipation, universal base period, unbalanced panels,
weights, clustering, and max_e / min_e / balance_e in the aggregations (issue #14).

Reference: ref_options.csv, written by generate.R in this folder (R did 2.3.1.907, DRDID 1.2.3,
BMisc 1.4.8; commits and build notes in SOURCE.md). Every call there has bstrap = FALSE, so the
standard errors are the analytic ones and nothing is random.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.estimators import att_gt

HERE = Path(__file__).parent
#: Same estimator and the same closed-form influence functions in R and numpy, printed by R to 15
#: significant digits (and the logit of "dr" iterated to convergence): observed at most 6e-11.
TOL_ESTIMATE = 1e-9
#: Standard errors: square roots of sums of squares of the same influence functions, 15 digits.
TOL_SE = 1e-9
#: R rounds the pre-test p-value to 5 decimals (``round(1 - pchisq(W, q), 5)``).
TOL_PVALUE = 5e-6

SCENARIOS = {
    "anticipation1": dict(anticipation=1),
    "anticipation1_notyet": dict(anticipation=1, control="not_yet_treated"),
    "universal": dict(base_period="universal"),
    "universal_anticipation1_notyet": dict(base_period="universal", anticipation=1, control="not_yet_treated"),
    "unbalanced": dict(data="unbalanced"),
    "unbalanced_notyet": dict(data="unbalanced", control="not_yet_treated"),
    "weights": dict(weights="w"),
    "cluster_state": dict(cluster="state"),
    "unbalanced_weights_cluster_universal": dict(data="unbalanced", weights="w", cluster="state",
                                                 base_period="universal"),
    "weights_cov_dr": dict(weights="w", covariates=["lpop"]),
    "cluster_cov_dr_notyet": dict(covariates=["lpop"], cluster="state", control="not_yet_treated"),
    "no_never_notyet": dict(data="no_never", control="not_yet_treated"),
    "no_never_never": dict(data="no_never", control="never_treated"),
}
AGGREGATIONS = {"simple": {}, "group": {}, "dynamic": {}, "calendar": {}}


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(HERE / "ref_options.csv")


def mpdta(kind: str = "balanced") -> pd.DataFrame:
    """mpdta with the columns generate.R adds, and its reproducible unbalanced copy."""
    mp = pd.read_csv(HERE.parent / "mpdta" / "mpdta.csv")
    mp["state"] = mp["countyreal"] // 1000
    mp["w"] = np.exp(mp["lpop"])
    if kind == "unbalanced":
        drop = (((mp["countyreal"] % 13 == 0) & (mp["year"] > 2005))
                | ((mp["countyreal"] % 17 == 0) & (mp["year"] == 2004)))
        mp = mp[~drop].reset_index(drop=True)
        assert len(mp) == 2372   # versions.txt: "unbalanced copy 2372"
    if kind == "no_never":
        mp = mp[mp["first.treat"] != 0].reset_index(drop=True)
    return mp


def fit(options: dict):
    options = dict(options)
    kind = options.pop("data", "balanced")
    frame = mpdta(kind)
    if kind == "no_never":
        with pytest.warns(Warning, match=r"no never-treated units; periods from 2007 on are dropped"):
            return att_gt(frame, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", **options)
    if options.get("anticipation"):
        with pytest.warns(Warning, match=r"20 units treated in the first period \+ anticipation 1 are dropped"):
            return att_gt(frame, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", **options)
    return att_gt(frame, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", **options)


def rows(reference, scenario, kind):
    part = reference[(reference["scenario"] == scenario) & (reference["kind"] == kind)]
    return part.set_index("term")


def compare(ours: pd.DataFrame, ref: pd.DataFrame):
    assert sorted(ours.index) == sorted(ref.index)
    ours = ours.loc[ref.index]
    np.testing.assert_allclose(ours["estimate"], ref["estimate"], rtol=0, atol=TOL_ESTIMATE)
    # R reports a zero standard error (the universal base period's own cell) as NA
    np.testing.assert_allclose(ours["std_error"].to_numpy(dtype=float), ref["se"].to_numpy(dtype=float),
                               rtol=0, atol=TOL_SE, equal_nan=True)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_att_gt_cells_match_r(reference, scenario):
    compare(fit(SCENARIOS[scenario]).estimates, rows(reference, scenario, "attgt"))


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("kind", list(AGGREGATIONS))
def test_aggregations_match_r(reference, scenario, kind):
    compare(fit(SCENARIOS[scenario]).aggregate(kind).estimates, rows(reference, scenario, kind))


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_pretest_matches_r(reference, scenario):
    ref = rows(reference, scenario, "pretest").loc["W"]
    test = fit(SCENARIOS[scenario]).pretrend_test()
    assert test["W"] == pytest.approx(ref["estimate"], rel=1e-8)
    assert test["p_value"] == pytest.approx(ref["se"], abs=TOL_PVALUE)
    assert not test["rank_deficient"]


@pytest.mark.parametrize("kind, options", [("simple[max_e=1]", dict(max_e=1)), ("group[max_e=1]", dict(max_e=1)),
                                           ("dynamic[min_e=-2,max_e=2]", dict(min_e=-2, max_e=2)),
                                           ("dynamic[balance_e=1]", dict(balance_e=1))])
def test_event_time_limits_match_r(reference, kind, options):
    result = fit({})
    compare(result.aggregate(kind.split("[")[0], **options).estimates, rows(reference, "max_e", kind))


def test_unbalanced_keeps_the_units_that_leave():
    """The unbalanced copy keeps all 500 counties (R: 'You have an unbalanced panel. Proceeding as such.')."""
    result = fit(SCENARIOS["unbalanced"])
    assert result.diagnostics["n_units"] == 500 and result.diagnostics["unbalanced_panel"]
    # R's default (allow_unbalanced_panel = FALSE) drops the 77 counties with a hole instead
    with pytest.warns(Warning, match=r"77 units miss at least one period and are dropped"):
        dropped = att_gt(mpdta("unbalanced"), outcome="lemp", unit="countyreal", time="year", cohort="first.treat",
                         allow_unbalanced_panel=False)
    assert dropped.diagnostics["n_units"] == 423


def test_dynamic_vcov_is_the_covariance_of_the_terms():
    dyn = fit(SCENARIOS["cluster_state"]).aggregate("dynamic")
    vcov = dyn.diagnostics["vcov"]
    terms = [t for t in dyn.estimates.index if t != "ATT"]
    assert list(vcov.index) == terms and list(vcov.columns) == terms
    np.testing.assert_allclose(np.sqrt(np.diag(vcov)), dyn.estimates.loc[terms, "std_error"], rtol=1e-12)
