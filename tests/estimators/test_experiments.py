"""Experiment design and analysis against closed forms, statsmodels, exact enumeration and simulation."""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.errors import ParameterError
from analysis.estimators.experiments import (
    assign, attrition, balance_table, design_effect, holm, itt, minimum_detectable_effect, power,
    required_sample_size,
)

CLOSED = 1e-10  # closed form on the same arithmetic
#: Monte Carlo margin for a rejection rate from 4,000 simulated experiments: 4 sd of 0.8 (sd 0.0063)
#: plus the normal approximation's own error
SIM = 0.03
RI_MARGIN = 0.015  # 20,000 permutations: sd of an estimated p near 0.1 is 0.002; generous


def test_mde_closed_form_for_individual_randomisation():
    """N = 1000, half treated: (z_.975 + z_.8) * sqrt(4 / 1000) = 2.8016 * 0.063246 (Bloom 1995)."""
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert minimum_detectable_effect(1000) == pytest.approx(z * np.sqrt(4 / 1000), abs=CLOSED)
    assert minimum_detectable_effect(1000, r2=0.3) == pytest.approx(z * np.sqrt(4 / 1000 * 0.7), abs=CLOSED)


@pytest.mark.parametrize("share_control", [0.5, 0.3])
def test_power_at_the_mde_agrees_with_statsmodels(share_control):
    """statsmodels' NormalIndPower (two-sided, both tails) at the MDE gives the chosen power."""
    from statsmodels.stats.power import NormalIndPower

    n, sd = 1200, 0.45
    mde = minimum_detectable_effect(n, sd=sd, share_control=share_control)
    n_t, n_c = n * (1 - share_control), n * share_control
    got = NormalIndPower().power(effect_size=mde / sd, nobs1=n_t, alpha=0.05, ratio=n_c / n_t)
    assert got == pytest.approx(0.8, abs=1e-6)
    assert power(n, mde, sd=sd, share_control=share_control) == pytest.approx(got, abs=1e-8)


def test_required_size_inverts_the_mde():
    n = required_sample_size(0.1, sd=0.5)
    assert minimum_detectable_effect(n, sd=0.5) <= 0.1 < minimum_detectable_effect(n - 1, sd=0.5)


def test_cluster_design_effect_and_whole_clusters():
    assert design_effect(cluster_size=20, icc=0.05) == pytest.approx(1 + 19 * 0.05, abs=CLOSED)
    assert design_effect(cluster_size=20, icc=0.05, cv=0.5) == pytest.approx(1 + (1.25 * 20 - 1) * 0.05, abs=CLOSED)
    clustered = minimum_detectable_effect(2000, design="cluster", cluster_size=20, icc=0.05)
    ratio = clustered / minimum_detectable_effect(2000)
    assert ratio == pytest.approx(np.sqrt(1.95), abs=CLOSED)
    assert required_sample_size(0.2, design="cluster", cluster_size=20, icc=0.05) % 20 == 0


def test_multi_arm_bonferroni():
    """Three treatments and a control, a quarter each: 1/n_t + 1/n_c = 8/N, alpha' = 0.05 / 3."""
    z = stats.norm.ppf(1 - 0.05 / 6) + stats.norm.ppf(0.8)
    got = minimum_detectable_effect(2000, arms=3, share_control=0.25)
    assert got == pytest.approx(z * np.sqrt(8 / 2000), abs=CLOSED)
    assert minimum_detectable_effect(2000, arms=3, share_control=0.25, correction="none") < got


def test_power_by_seeded_simulation_individual_and_cluster():
    """At the required size the simulated rejection rate of the design's analysis is the chosen power."""
    rng = np.random.default_rng(11)
    reps = 4000
    n = required_sample_size(0.25, sd=1.0)
    nt = n // 2
    t = rng.normal(0.25, 1, (reps, nt)).mean(1) - rng.normal(0, 1, (reps, n - nt)).mean(1)
    rate = np.mean(np.abs(t / np.sqrt(1 / nt + 1 / (n - nt))) > stats.norm.ppf(0.975))
    assert rate == pytest.approx(0.8, abs=SIM)
    m, icc = 10, 0.1
    n = required_sample_size(0.25, design="cluster", cluster_size=m, icc=icc)
    k = n // m // 2  # clusters per arm
    # cluster means: between variance icc + within (1 - icc) / m
    sd_c = np.sqrt(icc + (1 - icc) / m)
    diff = rng.normal(0.25, sd_c, (reps, k)).mean(1) - rng.normal(0, sd_c, (reps, k)).mean(1)
    rate = np.mean(np.abs(diff / (sd_c * np.sqrt(2 / k))) > stats.norm.ppf(0.975))
    assert rate == pytest.approx(0.8, abs=SIM)


def test_stratified_power_by_seeded_simulation():
    """Two equal strata with means -1 and +1 and unit noise: the strata explain R^2 = 1 / 2 of the
    outcome variance; at the size required with r2 = 0.5 the within-stratum estimator (half of each
    stratum treated) rejects with the chosen power."""
    rng = np.random.default_rng(12)
    reps, tau = 4000, 0.2
    n = required_sample_size(tau, sd=np.sqrt(2.0), design="stratified", r2=0.5)
    m = n // 4  # treated (and control) units per stratum
    diffs = []
    for mu in (-1.0, 1.0):
        diffs.append(rng.normal(mu + tau, 1, (reps, m)).mean(1) - rng.normal(mu, 1, (reps, m)).mean(1))
    est = (diffs[0] + diffs[1]) / 2
    # each stratum difference has variance 2 / m; their mean 1 / m
    rate = np.mean(np.abs(est / np.sqrt(1 / m)) > stats.norm.ppf(0.975))
    assert rate == pytest.approx(0.8, abs=SIM)


def people(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"person_id": [f"p{i:04d}" for i in range(n)], "sex": rng.choice(["F", "M"], n),
                         "district": rng.choice([f"d{j}" for j in range(20)], n), "age": rng.integers(18, 67, n)})


def test_assignment_is_reproducible_stratified_and_hashed(tmp_path):
    df = people()
    a = assign(df, strata=["sex"], arms=["control", "coaching", "bonus"], seed=7)
    b = assign(df.sample(frac=1, random_state=3), strata=["sex"], arms=["control", "coaching", "bonus"], seed=7)
    c = assign(df, strata=["sex"], arms=["control", "coaching", "bonus"], seed=8)
    assert a.sha256 == b.sha256 and a.frame.equals(b.frame)
    assert a.sha256 != c.sha256
    counts = a.counts()
    per_stratum = df.groupby("sex").size()
    assert ((counts.max(axis=1) - counts.min(axis=1)) <= 1).all()
    assert (counts.sum(axis=1) == per_stratum.reindex(counts.index)).all()
    path = tmp_path / "assignment.csv"
    assert a.write(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_cluster_assignment_keeps_clusters_together():
    a = assign(people(), cluster="district", seed=1)
    assert (a.frame.groupby("district")["arm"].nunique() == 1).all()
    assert a.spec["n_randomised"] == 20


def test_holm_against_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = [0.01, 0.04, 0.03, 0.2]
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1], abs=CLOSED)


def test_randomisation_inference_matches_exact_enumeration():
    """8 units, 4 treated: all 70 assignments give the exact Fisher p-value of the difference in means."""
    y = np.array([3.1, 0.2, 2.5, 4.0, 1.0, 0.5, 2.2, 0.9])
    d = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    obs = y[d == 1].mean() - y[d == 0].mean()
    diffs = [y[list(s)].mean() - np.delete(y, list(s)).mean() for s in itertools.combinations(range(8), 4)]
    exact = np.mean(np.abs(diffs) >= abs(obs) - 1e-12)
    df = pd.DataFrame({"y": y, "arm": np.where(d == 1, "treatment", "control")})
    res = itt(df, outcome="y", arm="arm", permutations=20_000, seed=5)
    assert res.estimates.loc["arm=treatment", "estimate"] == pytest.approx(obs, abs=CLOSED)
    assert res.estimates.loc["arm=treatment", "p_value_ri"] == pytest.approx(exact, abs=RI_MARGIN)


def test_hc2_is_the_neyman_variance_and_units_are_carried():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"arm": np.repeat(["control", "treatment"], [120, 80])})
    df["y"] = rng.normal(0, 1, 200) * np.where(df["arm"] == "treatment", 2.0, 1.0)
    res = itt(df, outcome="y", arm="arm", permutations=0)
    yt, yc = df.loc[df["arm"] == "treatment", "y"], df.loc[df["arm"] == "control", "y"]
    neyman = np.sqrt(yt.var(ddof=1) / 80 + yc.var(ddof=1) / 120)
    row = res.to_frame().loc["arm=treatment"]
    assert row["std_error"] == pytest.approx(neyman, abs=1e-10)
    assert row["n"] == 80 and row["n_control"] == 120
    contrib = np.r_[np.abs(yt) / 80, np.abs(yc) / 120]
    assert row["dominance"] == pytest.approx(np.sort(contrib)[-2:].sum() / contrib.sum(), abs=1e-9)


def test_multi_arm_cluster_itt_balance_and_attrition():
    df = people(600, seed=4)
    a = assign(df, cluster="district", arms=["control", "coaching", "bonus"], seed=3)
    data = df.merge(a.frame[["person_id", "arm"]], on="person_id")
    rng = np.random.default_rng(9)
    data["y"] = rng.normal(size=len(data)) + np.where(data["arm"] == "bonus", 0.5, 0.0)
    data["observed"] = (rng.random(len(data)) > np.where(data["arm"] == "coaching", 0.3, 0.1)).astype(int)
    res = itt(data, outcome="y", arm="arm", covariates=["age"], cluster="district", se="cluster", permutations=300)
    assert list(res.estimates.index) == ["arm=bonus", "arm=coaching"]
    assert (res.estimates["p_value_holm"] >= res.estimates["p_value"]).all()
    bal = balance_table(data, arm="arm", covariates=["age"])
    c, t = data.loc[data["arm"] == "control", "age"], data.loc[data["arm"] == "bonus", "age"]
    sd = np.sqrt((t.var() + c.var()) / 2)
    assert bal.loc[("bonus", "age"), "std_difference"] == pytest.approx((t.mean() - c.mean()) / sd, abs=CLOSED)
    from analysis.estimators.experiments import balance_result

    br = balance_result(data, arm="arm", covariates=["age"]).to_frame()
    assert br.loc["bonus:age", "estimate"] == pytest.approx(bal.loc[("bonus", "age"), "std_difference"], abs=CLOSED)
    assert br.loc["bonus:age", "n"] == (data["arm"] == "bonus").sum()
    att = attrition(data, arm="arm", observed="observed", cluster="district")
    lost = 1 - data.groupby("arm")["observed"].mean()
    assert att.estimates.loc["arm=coaching", "estimate"] == pytest.approx(lost["coaching"] - lost["control"], abs=1e-9)


def test_refusals():
    df = people()
    with pytest.raises(ParameterError, match=r"design='block' is not allowed"):
        minimum_detectable_effect(100, design="block")
    with pytest.raises(ParameterError, match=r"power=1.2 is not allowed"):
        minimum_detectable_effect(100, power=1.2)
    with pytest.raises(ParameterError, match=r"icc and cluster_size apply to design='cluster'"):
        minimum_detectable_effect(100, icc=0.1)
    with pytest.raises(ParameterError, match=r"shares=\[0.5, 0.6\]"):
        assign(df, shares=[0.5, 0.6], seed=1)
    with pytest.raises(ParameterError, match=r"duplicate 'person_id'"):
        assign(pd.concat([df, df.head(2)]), seed=1)
    with pytest.raises(ParameterError, match=r"se='cluster' needs cluster="):
        itt(df.assign(arm="control", y=1.0), outcome="y", arm="arm", se="cluster")
    with pytest.raises(ParameterError, match=r"itt: columns \['sex'\] are not numeric"):
        itt(df.assign(arm="control", y=1.0), outcome="y", arm="arm", covariates=["sex"])
    with pytest.raises(ParameterError, match=r"control arm 'control' not found"):
        itt(df.assign(arm="a", y=1.0), outcome="y", arm="arm")


def test_explained_share_of_strata_is_the_between_variance_share():
    """Two strata with means 0 and 2 and equal sizes, no within variance left after them: the R^2 is
    the between-stratum share of the total sum of squares, computed directly."""
    from analysis.estimators.experiments import explained_share

    df = pd.DataFrame({"y": [0.0, 1.0, -1.0, 2.0, 3.0, 1.0], "s": ["a", "a", "a", "b", "b", "b"]})
    between = 3 * (0 - 1) ** 2 + 3 * (2 - 1) ** 2
    total = ((df["y"] - df["y"].mean()) ** 2).sum()
    assert explained_share(df, outcome="y", strata=["s"]) == pytest.approx(between / total, abs=CLOSED)
