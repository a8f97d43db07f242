"""Disclosure facts of att_gt, its aggregations and event_study (issue #13, interface section 1).

A 30-person panel with a cohort of 1 person (first treated in period 3), a cohort of 7 (period 4)
and 22 never treated: every expected count follows from the design, every expected dominance share
from the units' terms in a difference in mean changes (each unit's change over its group size).

Dominance is judged on the units' terms in the estimate, not on influence-function terms: with one
extreme unit among k, the centred terms put (k-1)/k of it on that unit and 1/k on each other unit,
so their top-2 share stays near 0.6 however extreme the unit (checked below).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.estimators import att_gt, event_study

#: Same closed form computed two ways (influence terms summed by hand vs. by the estimator).
TOL_CLOSED_FORM = 1e-10
#: The dominance rule of disclosure-rules.md: the two largest contributors above 90 % withhold.
DOMINANCE_SHARE = 0.9

PERIODS = 5
COHORT_OF_ONE, COHORT_OF_SEVEN = 3, 4


def thirty_people(*, outlier: float = 0.0, seed: int = 7) -> pd.DataFrame:
    """30 persons x 5 periods; person 1 is the cohort of one, persons 2-8 the cohort of seven.

    ``outlier`` is added to person 8's outcome in period 5 (a treated person of the cohort of seven).
    """
    rng = np.random.default_rng(seed)
    cohort = np.r_[COHORT_OF_ONE, np.full(7, COHORT_OF_SEVEN), np.zeros(22)]
    t = np.arange(1, PERIODS + 1)
    y = rng.normal(size=(30, 1)) + 0.1 * t + 0.5 * ((cohort[:, None] > 0) & (t >= cohort[:, None]))
    y = y + rng.normal(scale=0.3, size=(30, PERIODS))
    y[7, 4] += outlier
    return pd.DataFrame({"id": np.repeat(np.arange(1, 31), PERIODS), "t": np.tile(t, 30), "y": y.ravel(),
                         "g": np.repeat(cohort, PERIODS), "muni": np.repeat(np.arange(30) % 5, PERIODS)})


def fit(frame, **kw):
    return att_gt(frame, outcome="y", unit="id", time="t", cohort="g", **kw)


def test_cells_count_only_the_treated_units_of_their_cohort():
    est = fit(thirty_people()).estimates
    for (g, t), row in est.set_index(["group", "time"]).iterrows():
        assert row["n"] == (1 if g == COHORT_OF_ONE else 7)
        assert row["n_control"] == 22      # never treated


def test_not_yet_treated_cells_count_their_comparison_units():
    est = fit(thirty_people(), control="not_yet_treated").estimates
    # ATT(3,3): base 2, later period 3; cohort 4 is not yet treated -> 22 + 7 comparisons
    assert est.loc["ATT(3,3)", "n"] == 1 and est.loc["ATT(3,3)", "n_control"] == 29
    # ATT(3,4): cohort 4 treated at 4 -> only the never treated
    assert est.loc["ATT(3,4)", "n_control"] == 22
    # ATT(4,2) (pre-period, base 1, later 2): cohort 3 not yet treated at 2 -> 22 + 1
    assert est.loc["ATT(4,2)", "n"] == 7 and est.loc["ATT(4,2)", "n_control"] == 23


def test_aggregates_count_the_distinct_treated_units_they_use():
    r = fit(thirty_people())
    group = r.aggregate("group").estimates
    assert group.loc["g=3", "n"] == 1 and group.loc["g=4", "n"] == 7 and group.loc["ATT", "n"] == 8
    assert (group["n_control"] == 22).all()
    dyn = r.aggregate("dynamic").estimates
    # e=2 exists only for the cohort of one (period 5 = 3 + 2); cohort 4 reaches e=1 at most
    assert dyn.loc["e=2", "n"] == 1 and dyn.loc["e=1", "n"] == 8 and dyn.loc["e=-2", "n"] == 7
    # max_e=0 (R did: simple and group use only cells with t - g <= max_e): still both cohorts
    assert r.aggregate("simple", max_e=0).estimates.loc["ATT", "n"] == 8
    # the cohort of seven alone: the calendar term of period 4 combines ATT(3,4) and ATT(4,4)
    cal = r.aggregate("calendar").estimates
    assert cal.loc["t=3", "n"] == 1 and cal.loc["t=4", "n"] == 8


def test_aggregate_n_counts_no_dropped_units():
    """Units treated in the first period are dropped by att_gt and must not be counted anywhere."""
    d = thirty_people()
    extra = d[d["id"] == 30].assign(id=31, g=1)
    with pytest.warns(Warning, match=r"1 units treated in the first period are dropped"):
        r = fit(pd.concat([d, extra], ignore_index=True))
    assert r.aggregate("simple").estimates.loc["ATT", "n"] == 8
    assert r.estimates["n"].max() == 7


def _closed_form_dominance(frame: pd.DataFrame, g: int, t: int, base: int) -> float:
    wide = frame.pivot(index="id", columns="t", values="y")
    cohort = frame.groupby("id")["g"].first()
    dy = (wide[t] - wide[base]).to_numpy()
    treat, ctrl = (cohort == g).to_numpy(), (cohort == 0).to_numpy()
    # the estimate is sum dy_i / n1 over the treated minus sum dy_i / n0 over the comparisons
    terms = np.r_[dy[treat] / treat.sum(), -dy[ctrl] / ctrl.sum()]
    a = np.sort(np.abs(terms))
    return a[-2:].sum() / a.sum()


def test_cell_dominance_is_the_top_two_share_of_the_units_terms():
    d = thirty_people()
    est = fit(d).estimates
    for term, (g, t, base) in {"ATT(4,5)": (4, 5, 3), "ATT(3,3)": (3, 3, 2), "ATT(4,2)": (4, 2, 1)}.items():
        assert est.loc[term, "dominance"] == pytest.approx(_closed_form_dominance(d, g, t, base),
                                                           abs=TOL_CLOSED_FORM)


@pytest.mark.parametrize("covariates", [[], ["x"]])
def test_one_person_with_fifty_million_dominates(covariates):
    d = thirty_people(outlier=5e7).assign(x=lambda f: (f["id"] % 3).astype(float))
    r = fit(d, covariates=covariates, method="reg")
    est = r.estimates
    assert est.loc["ATT(4,5)", "dominance"] > DOMINANCE_SHARE
    assert est.loc["ATT(4,4)", "dominance"] < DOMINANCE_SHARE   # period 5 is not in this cell
    assert r.aggregate("simple").estimates.loc["ATT", "dominance"] > DOMINANCE_SHARE
    assert r.aggregate("group").estimates.loc["g=4", "dominance"] > DOMINANCE_SHARE
    assert r.aggregate("dynamic").estimates.loc["e=1", "dominance"] > DOMINANCE_SHARE
    assert r.aggregate("group").estimates.loc["g=3", "dominance"] < DOMINANCE_SHARE


def test_rows_for_results_json_carry_the_private_keys():
    rows = fit(thirty_people()).aggregate("group").to_estimates("att_")
    first = rows[0]
    assert first["n"] == 1 and first["_n_control"] == 22 and 0 <= first["_dominance"] <= 1


@pytest.mark.parametrize("estimator", ["twfe", "sun_abraham"])
@pytest.mark.parametrize("cluster", [None, "muni"])
def test_event_study_terms_count_treated_units_and_flag_dominance(estimator, cluster):
    d = thirty_people(outlier=5e7)
    res = event_study(d, outcome="y", unit="id", time="t", cohort="g", window=(-3, 2), estimator=estimator,
                      cluster=cluster)
    est = res.estimates
    # treated units observed at each event time: e=2 only the cohort of one (3 + 2 = 5)
    assert est.loc["e=2", "n"] == 1 and est.loc["e=0", "n"] == 8 and est.loc["e=-3", "n"] == 7
    assert (est["n_control"] == 22).all()
    # the 5e7 change is person 8's (cohort 4) in period 5: event time 1
    assert est.loc["e=1", "dominance"] > DOMINANCE_SHARE
    assert res.diagnostics["path"] == ("cohort moments" if cluster is None else "pyfixest")


def test_event_study_dominance_is_low_without_an_outlier():
    d = thirty_people()
    est = event_study(d, outcome="y", unit="id", time="t", cohort="g", window=(-3, 2)).estimates
    assert (est.drop(index="e=2")["dominance"] < DOMINANCE_SHARE).all()


def test_influence_terms_would_hide_the_outlier():
    """Why the units' own terms: the centred influence terms of the same cell spread the outlier."""
    d = thirty_people(outlier=5e7)
    r = fit(d)
    k = list(r.estimates.index).index("ATT(4,5)")
    inf = r.influence(k)
    a = np.sort(np.abs(inf))
    assert a[-2:].sum() / a.sum() < 0.6     # 7 treated: (6/7 + 1/7) / (12/7) = 0.583
    assert r.estimates.loc["ATT(4,5)", "dominance"] > DOMINANCE_SHARE


def test_event_study_from_parquet_has_the_same_dominance(tmp_path):
    """The Parquet fast path computes the units' terms in a second streamed pass: same shares."""
    d = thirty_people(outlier=5e7)
    path = tmp_path / "panel.parquet"
    d.to_parquet(path)
    kw = dict(outcome="y", unit="id", time="t", cohort="g", window=(-3, 2))
    from_frame = event_study(d, **kw).estimates
    from_file = event_study(path, **kw).estimates
    np.testing.assert_allclose(from_file["dominance"], from_frame["dominance"], rtol=1e-12)
    assert from_file.loc["e=1", "dominance"] > DOMINANCE_SHARE
