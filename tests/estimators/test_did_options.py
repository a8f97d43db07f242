"""att_gt options beyond the R reference (tests/reference/mpdta_options): input checks, singular
pre-test covariances, the covariance of event-time effects, unbalanced panels' unit counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import DataValidationError, ParameterError
from analysis.estimators import att_gt, event_study
from analysis.estimators.did.result import wald_test

#: The same covariance computed two ways (estimator vs numpy on the same influence functions).
TOL_SAME = 1e-10


def tiny_cohorts(seed=0, periods=12, never=5):
    """Two cohorts of one person (first treated in 10 and 11) and ``never`` never-treated persons."""
    rng = np.random.default_rng(seed)
    cohort = np.r_[10, 11, np.zeros(never)]
    n = len(cohort)
    y = rng.normal(size=(n, periods)).cumsum(axis=1)
    return pd.DataFrame({"id": np.repeat(np.arange(n), periods), "t": np.tile(np.arange(1, periods + 1), n),
                         "y": y.ravel(), "g": np.repeat(cohort, periods),
                         "muni": np.repeat(np.arange(n) % 3, periods)})


def test_pretest_uses_the_rank_of_a_singular_covariance():
    """Cohorts of one person: every pre-treatment cell's variance comes from the same 5 comparison units, so
    17 effects have a covariance of rank at most 4 (influence terms sum to zero). df is that rank."""
    r = att_gt(tiny_cohorts(), outcome="y", unit="id", time="t", cohort="g")
    pre = np.flatnonzero(r.estimates["time"] < r.estimates["group"])
    assert len(pre) == 17
    inf = np.column_stack([r.influence(int(k)) for k in pre])
    expected_rank = np.linalg.matrix_rank(inf.T @ inf)
    test = wald_test(r.estimates["estimate"].to_numpy()[pre], r.vcov_of(inf, range(len(pre))).to_numpy())
    assert expected_rank <= 4
    assert test["df"] == expected_rank and test["rank_deficient"] and test["n_effects"] == 17
    assert np.isfinite(test["W"]) and 0 <= test["p_value"] <= 1


def test_pretest_on_cohorts_of_one_person_is_not_run_and_says_why():
    """No pre-treatment effect rests on 10 treated units: no p-value, and the basis says why."""
    test = att_gt(tiny_cohorts(), outcome="y", unit="id", time="t", cohort="g").pretrend_test()
    assert np.isnan(test["p_value"]) and test["df"] == 0
    assert "rests on 10 or more treated units" in test["basis"]


def test_event_study_wald_survives_a_singular_covariance():
    """Clustered by 3 municipalities the covariance of 5 pre-treatment terms has rank <= 3 (numpy's
    solve would fail or return noise): the F test uses the rank."""
    d = tiny_cohorts(never=30)
    res = event_study(d, outcome="y", unit="id", time="t", cohort="g", window=(-6, 1), cluster="muni")
    pre = [t for t in res.estimates.index if int(t[2:]) < -1]
    v = res.vcov.loc[pre, pre].to_numpy()
    test = res.diagnostics["pretrend_test"]
    assert len(pre) == 5 and test["df"] == np.linalg.matrix_rank(v) <= 3
    assert np.isfinite(test["statistic"]) and 0 <= test["p_value"] <= 1


def test_vcov_of_dynamic_aggregation_and_event_study():
    d = tiny_cohorts(never=40, seed=2)
    dyn = att_gt(d, outcome="y", unit="id", time="t", cohort="g").aggregate("dynamic")
    inf = dyn.diagnostics["influence"][:, :-1]          # the last column is the overall ATT
    n = inf.shape[0]
    np.testing.assert_allclose(dyn.vcov.to_numpy(), inf.T @ inf / n ** 2, atol=TOL_SAME)
    assert list(dyn.vcov.index) == [t for t in dyn.estimates.index if t != "ATT"]
    es = event_study(d, outcome="y", unit="id", time="t", cohort="g", window=(-3, 1))
    np.testing.assert_allclose(np.sqrt(np.diag(es.vcov)), es.estimates["std_error"], rtol=1e-12)


def test_weights_and_clusters_must_be_constant_within_units():
    d = tiny_cohorts(never=20).assign(w=1.0)
    d.loc[d.index[:3], "w"] = [1.0, 2.0, 3.0]
    with pytest.raises(ParameterError, match=r"the weight 'w' changes within 1 units"):
        att_gt(d, outcome="y", unit="id", time="t", cohort="g", weights="w")
    d2 = tiny_cohorts(never=20)
    d2.loc[d2.index[5], "muni"] = 99
    with pytest.raises(ParameterError, match=r"the cluster 'muni' changes within 1 units"):
        att_gt(d2, outcome="y", unit="id", time="t", cohort="g", cluster="muni")
    with pytest.raises(DataValidationError, match=r"weights 'w' are missing, infinite or negative"):
        att_gt(d.assign(w=-1.0), outcome="y", unit="id", time="t", cohort="g", weights="w")


def test_option_checks():
    d = tiny_cohorts(never=20)
    kw = dict(outcome="y", unit="id", time="t", cohort="g")
    with pytest.raises(ParameterError, match=r"base_period='fixed' is not allowed; choose one of 'varying'"):
        att_gt(d, base_period="fixed", **kw)
    with pytest.raises(ParameterError, match=r"anticipation=-1 is not allowed"):
        att_gt(d, anticipation=-1, **kw)
    holes = d.drop(index=d.index[(d["id"] == 3) & (d["t"] == 4)]).assign(x=1.0)
    with pytest.raises(ParameterError, match=r"covariates on an unbalanced panel are not supported"):
        att_gt(holes, covariates=["x"], **kw)


def test_anticipation_moves_the_base_period_and_the_comparisons():
    d = tiny_cohorts(never=20)
    r = att_gt(d, outcome="y", unit="id", time="t", cohort="g", anticipation=2, control="not_yet_treated")
    est = r.estimates
    # base of cohort 10: the last period before 10 - 2 = 8, i.e. 7
    assert (est.loc[est["group"] == 10].query("time >= 10")["base_period"] == 7).all()
    # ATT(10, 8) (varying base 7) may use cohort 11 only if it is untreated until 8 + 2 = 10 < 11: yes
    assert est.loc["ATT(10,8)", "n_control"] == 21
    # ATT(10, 9): cohort 11 would have to be untreated until 11: no
    assert est.loc["ATT(10,9)", "n_control"] == 20


def test_universal_base_period_reports_the_reference_cell_as_zero():
    d = tiny_cohorts(never=20)
    est = att_gt(d, outcome="y", unit="id", time="t", cohort="g", base_period="universal").estimates
    ref = est[est["reference"]]
    assert set(zip(ref["group"], ref["time"])) == {(10, 9), (11, 10)}
    assert (ref["estimate"] == 0).all() and ref["std_error"].isna().all()
    assert (est["base_period"] == est["group"] - 1).all()


def test_unbalanced_cells_count_units_observed_in_both_periods():
    """A unit that leaves after period 6 still counts in cells up to 6, not in later ones."""
    rng = np.random.default_rng(4)
    n, periods = 60, 8
    g = np.r_[np.full(15, 4), np.zeros(45)]
    y = rng.normal(size=(n, periods))
    d = pd.DataFrame({"id": np.repeat(np.arange(n), periods), "t": np.tile(np.arange(1, periods + 1), n),
                      "y": y.ravel(), "g": np.repeat(g, periods)})
    d = d[~((d["id"] < 3) & (d["t"] > 6))]            # 3 treated persons leave after period 6
    est = att_gt(d, outcome="y", unit="id", time="t", cohort="g").estimates
    assert est.loc["ATT(4,6)", "n"] == 15 and est.loc["ATT(4,7)", "n"] == 12
    assert est.loc["ATT(4,7)", "n_control"] == 45


def test_unbalanced_cell_counts_units_observed_at_both_periods():
    """Units seen at t but not at the base period do not count in n (they only enter one mean)."""
    rng = np.random.default_rng(8)
    n, periods = 40, 6
    g = np.r_[np.full(12, 4), np.zeros(28)]
    d = pd.DataFrame({"id": np.repeat(np.arange(n), periods), "t": np.tile(np.arange(1, periods + 1), n),
                      "y": rng.normal(size=n * periods), "g": np.repeat(g, periods)})
    d = d[~((d["id"] < 2) & (d["t"] == 3))]          # 2 treated persons miss the base period 3
    est = att_gt(d, outcome="y", unit="id", time="t", cohort="g").estimates
    assert est.loc["ATT(4,5)", "n"] == 10
    assert att_gt(d, outcome="y", unit="id", time="t", cohort="g").aggregate("simple").estimates.loc["ATT", "n"] == 12
