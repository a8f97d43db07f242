"""GATES / BLP / CLAN on simulated experiments with a known (heterogeneous or constant) effect."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.estimators.heterogeneity import gates

LEVEL = 0.05
#: over 150 seeds a 5 % test rejects 7.5 times on average; P(Binomial(150, 0.05) > 15) < 0.5 %
MAX_REJECTIONS = 15
#: GATES are averages of the true effect over groups formed on a noisy proxy: within 0.35 of the
#: truth in the extreme groups at n = 3000 (about 3 standard errors of a group mean)
GATE_MARGIN = 0.35


def simulate(n, *, heterogeneous, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    d = rng.binomial(1, 0.5, n)
    tau = 0.5 + x[:, 0] if heterogeneous else np.full(n, 0.5)
    y = x[:, 1] + tau * d + rng.normal(size=n)
    return pd.DataFrame({"y": y, "d": d, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "tau": tau})


def test_gates_recover_the_ordering_and_the_blp_test_rejects():
    """tau(x) = 0.5 + x1: GATES increase over the groups, the top group's effect exceeds the bottom's,
    beta_2 is positive and at most about 1, the test rejects, and CLAN finds x1 (not x3)."""
    df = simulate(3000, heterogeneous=True, seed=1)
    res = gates(df, outcome="y", treatment="d", covariates=["x1", "x2", "x3"], propensity=0.5, seed=1)
    g = res.gates()["estimate"].to_numpy()
    assert np.all(np.diff(g) > 0), g
    assert res.heterogeneity_test_p < 0.001
    # beta_2 = Var(tau) / (Var(tau) + Var(proxy noise)): 1 for a perfect proxy, below 1 for a noisy one
    assert 0.5 < res.estimates.loc["blp_heterogeneity", "estimate"] < 1.2
    truth_low = df["tau"].quantile(0.2)  # the bottom fifth of tau has mean well below its 20 % quantile
    assert g[0] < truth_low + GATE_MARGIN and g[-1] > df["tau"].quantile(0.8) - GATE_MARGIN
    assert res.clan.loc["x1", "difference"] > 1.5 and res.clan.loc["x1", "p_value"] < 0.001
    # the proxy may pick up some noise in x3, but x1 drives the sorting (about 2.5 against at most 0.4
    # over seeds 1-9)
    assert res.clan.loc["x1", "difference"] > 4 * abs(res.clan.loc["x3", "difference"])
    clan = res.clan_result().to_frame()
    assert clan.loc["x1:difference", "estimate"] == res.clan.loc["x1", "difference"]
    assert clan.loc["x1:most", "n"] == 300 and clan.loc["x1:difference", "n_control"] == 300
    rows = {r["name"]: r for r in res.to_estimates()}
    assert {"gates_1", "gates_5", "heterogeneity_test_p"} <= set(rows)
    assert rows["gates_1"]["n"] + rows["gates_1"]["_n_control"] == 300  # the main half, 1500, in 5 groups
    assert 0 < rows["gates_1"]["_dominance"] < 0.1
    assert rows["heterogeneity_test_p"]["estimate"] == res.heterogeneity_test_p
    import matplotlib

    matplotlib.use("Agg")
    assert len(res.plot().lines) >= 2 and "CLAN" in res.summary() and "<table" in res._repr_html_()


def test_estimated_propensity_and_repeated_splits_run_and_agree_in_sign():
    df = simulate(1500, heterogeneous=True, seed=2)
    res = gates(df, outcome="y", treatment="d", covariates=["x1", "x2"], repeats=3, groups=4, seed=2)
    assert res.estimates.loc["gates_top_minus_bottom", "estimate"] > 0
    assert len(res.diagnostics["p_values_per_split"]) == 3
    assert res.heterogeneity_test_p == pytest.approx(min(1.0, 2 * np.median(res.diagnostics["p_values_per_split"])))


@pytest.mark.slow
def test_homogeneous_effect_rejects_at_about_the_nominal_rate():
    """A constant effect: over 150 seeds the 5 % BLP test rejects at least once (P(0) = 0.95^150 < 0.1 %)
    and at most 15 times, and its p-values average about 0.5 (uniform under the null)."""
    from sklearn.linear_model import LinearRegression

    start = time.perf_counter()
    p = []
    for seed in range(150):
        df = simulate(400, heterogeneous=False, seed=100 + seed)
        res = gates(df, outcome="y", treatment="d", covariates=["x1", "x2", "x3"], propensity=0.5, folds=2,
                    groups=2, outcome_learner=LinearRegression(), cate_learner=LinearRegression(), seed=seed)
        p.append(res.heterogeneity_test_p)
    p = np.array(p)
    assert 1 <= (p < LEVEL).sum() <= MAX_REJECTIONS
    assert 0.3 < np.mean(p) < 0.7  # p-values roughly uniform under the null (mean 0.5)
    assert time.perf_counter() - start < 60


def test_refusals():
    df = simulate(200, heterogeneous=False, seed=0)
    with pytest.raises(ParameterError, match=r"columns \['age'\] are not in the frame"):
        gates(df, outcome="y", treatment="d", covariates=["age"])
    with pytest.raises(ParameterError, match=r"groups=1 is not allowed"):
        gates(df, outcome="y", treatment="d", covariates=["x1"], groups=1)
    with pytest.raises(ParameterError, match=r"propensity=1.2 must lie strictly between 0 and 1"):
        gates(df, outcome="y", treatment="d", covariates=["x1"], propensity=1.2)
    with pytest.raises(ParameterError, match=r"columns \['s'\] are not numeric"):
        gates(df.assign(s="a"), outcome="y", treatment="d", covariates=["s"])
    bad = df.assign(d=df["d"] * 2)
    with pytest.raises(ParameterError, match=r"must be 0/1"):
        gates(bad, outcome="y", treatment="d", covariates=["x1"])


def test_group_effects_by_a_category_recover_the_true_effects():
    """tau = 0.5 + x1 with a category 'hi' for x1 > 0: the true level means are 0.5 +- E|x1| =
    0.5 +- sqrt(2/pi). Margin: 4 standard errors of a level mean at n = 4000 (about 0.07 each)."""
    from sklearn.linear_model import LinearRegression

    from analysis.estimators.heterogeneity import group_effects

    df = simulate(4000, heterogeneous=True, seed=5).assign(level=lambda f: np.where(f["x1"] > 0, "hi", "lo"))
    res = group_effects(df, outcome="y", treatment="d", covariates=["x1", "x2"], by="level", propensity=0.5,
                        outcome_learner=LinearRegression(), seed=5)
    frame = res.to_frame()
    half_normal_mean = np.sqrt(2 / np.pi)
    for term, truth in (("level=hi", 0.5 + half_normal_mean), ("level=lo", 0.5 - half_normal_mean)):
        assert abs(frame.loc[term, "estimate"] - truth) < 4 * frame.loc[term, "std_error"], term
    assert frame.loc["level=hi", "n"] + frame.loc["level=hi", "n_control"] == (df["level"] == "hi").sum()


def test_group_effects_equal_doubleml_irm_gate_on_the_same_folds():
    """DoubleML (``DoubleMLIRM(...).gate(groups)``, its documented GATE for given groups) on the same
    sample splitting and learners: the same AIPW scores (propensity truncated at 0.01 in both), so the
    same group effects; DoubleML's standard errors are HC0, ours use n - 1, hence the factor."""
    dml = pytest.importorskip("doubleml")
    from sklearn.linear_model import LinearRegression, LogisticRegression

    from analysis.estimators.heterogeneity import group_effects

    df = simulate(2000, heterogeneous=True, seed=5).assign(level=lambda f: np.where(f["x1"] > 0, "hi", "lo"))
    ours = group_effects(df, outcome="y", treatment="d", covariates=["x1", "x2"], by="level",
                         outcome_learner=LinearRegression(), propensity_learner=LogisticRegression(max_iter=1000),
                         seed=5).to_frame()
    fold = np.random.default_rng(5).permutation(np.arange(len(df)) % 5)  # group_effects' folds for seed 5
    data = dml.DoubleMLData(df[["y", "d", "x1", "x2"]], y_col="y", d_cols="d", x_cols=["x1", "x2"])
    irm = dml.DoubleMLIRM(data, ml_g=LinearRegression(), ml_m=LogisticRegression(max_iter=1000), n_folds=5,
                          draw_sample_splitting=False)
    irm.set_sample_splitting([[(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(5)]])
    irm.fit()
    ci = irm.gate(groups=pd.DataFrame({t: df["level"] == t.split("=")[1] for t in ("level=hi", "level=lo")})).confint()
    for term in ("level=hi", "level=lo"):
        n_g = (df["level"] == term.split("=")[1]).sum()
        assert ours.loc[term, "estimate"] == pytest.approx(ci.loc[term, "effect"], abs=1e-8)
        dml_se = (ci.loc[term, "97.5 %"] - ci.loc[term, "2.5 %"]) / (2 * 1.959963984540054)
        assert ours.loc[term, "std_error"] * np.sqrt((n_g - 1) / n_g) == pytest.approx(dml_se, rel=1e-6)


def test_att_gates_with_selection_recover_the_ordering_and_the_effect_on_the_treated():
    """estimand="ATT" in an observational world: treatment more likely with x2 (which also moves y), effect
    tau = 0.5 + x1. The GATES increase over the groups of the treated, the test rejects, and the
    treated-weighted mean of the GATES is the true effect on the treated (within 4 standard errors)."""
    rng = np.random.default_rng(7)
    n = 6000
    x = rng.normal(size=(n, 3))
    e = 1 / (1 + np.exp(-(-1.0 + 0.8 * x[:, 1])))
    d = rng.binomial(1, e)
    tau = 0.5 + x[:, 0]
    y = x[:, 1] + tau * d + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "d": d, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2]})
    res = gates(df, outcome="y", treatment="d", covariates=["x1", "x2", "x3"], seed=3, estimand="ATT")
    g = res.gates()
    assert g["estimate"].iloc[0] < g["estimate"].iloc[-1] and res.heterogeneity_test_p < 0.001
    att = tau[d == 1].mean()
    mean = float(np.average(g["estimate"], weights=g["n"]))
    se = float(np.sqrt(np.sum((g["n"] / g["n"].sum()) ** 2 * g["std_error"] ** 2)))
    assert abs(mean - att) <= 4 * se, (mean, att, se)
    assert res.clan.loc["x1", "difference"] > 1.0
    with pytest.raises(ParameterError, match="estimand"):
        gates(df, outcome="y", treatment="d", covariates=["x1"], estimand="CATE")
