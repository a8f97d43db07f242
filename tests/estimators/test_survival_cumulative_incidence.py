"""Aalen-Johansen cumulative incidence against closed forms, lifelines and a simulator's truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.estimators.survival import cumulative_incidence

EXACT = 1e-12  # the same arithmetic, rounding only


def _competing(n, seed, rates=(0.03, 0.02), censor_rate=0.01, continuous=False):
    rng = np.random.default_rng(seed)
    t_work, t_other, t_cens = (rng.exponential(1 / r, n) for r in (*rates, censor_rate))
    t = np.minimum(np.minimum(t_work, t_other), t_cens)
    event = np.where(t == t_cens, 0, np.where(t == t_work, 1, 2))
    return pd.DataFrame({"t": t if continuous else np.ceil(t), "event": event})


def test_without_censoring_the_cif_is_the_empirical_share():
    """No censoring: F_k(t) = share of all units with an event of cause k by t (a closed form)."""
    frame = _competing(2_000, seed=1, censor_rate=1e-9)
    frame = frame[frame["event"] != 0]
    res = cumulative_incidence(frame, duration="t", event="event")
    for t in (5, 20, 60):
        at = res.at([t]).set_index("cause")["cif"]
        for k in (1, 2):
            assert at[k] == pytest.approx(((frame["t"] <= t) & (frame["event"] == k)).mean(), abs=EXACT)


def test_one_cause_equals_one_minus_kaplan_meier():
    from lifelines import KaplanMeierFitter

    frame = _competing(3_000, seed=2).assign(any_exit=lambda d: (d["event"] > 0).astype(int))
    res = cumulative_incidence(frame, duration="t", event="any_exit")
    km = KaplanMeierFitter().fit(frame["t"], frame["any_exit"]).survival_function_.iloc[:, 0]
    curve = res.curves.set_index("time")["cif"]
    assert np.abs(curve.to_numpy() - (1 - km.reindex(curve.index).to_numpy())).max() < EXACT


def test_causes_and_survival_add_up_to_one():
    from lifelines import KaplanMeierFitter

    frame = _competing(3_000, seed=3)
    res = cumulative_incidence(frame, duration="t", event="event")
    wide = res.curves.pivot(index="time", columns="cause", values="cif")
    km = KaplanMeierFitter().fit(frame["t"], frame["event"] > 0).survival_function_.iloc[:, 0]
    assert np.abs(wide[1] + wide[2] + km.reindex(wide.index).to_numpy() - 1).max() < EXACT


def test_equals_lifelines_without_ties():
    """lifelines' AalenJohansenFitter (Collett's delta-method variance) on untied continuous times."""
    from lifelines import AalenJohansenFitter

    frame = _competing(800, seed=4, continuous=True)
    ours = cumulative_incidence(frame, duration="t", event="event").curves.query("cause == 1").set_index("time")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # there must be no ties, so no jitter warning from lifelines
        ajf = AalenJohansenFitter(calculate_variance=True).fit(frame["t"], frame["event"], event_of_interest=1)
    theirs = ajf.cumulative_density_.iloc[:, 0]
    common = ours.index.intersection(theirs.index)
    assert len(common) == (frame["event"] > 0).sum()
    assert np.abs(ours.loc[common, "cif"] - theirs.loc[common]).max() < EXACT
    variance = ajf.variance_.reindex(common).to_numpy()
    assert np.abs(ours.loc[common, "std_error"].to_numpy() ** 2 - variance).max() < 1e-10


def test_recovers_constant_hazard_truth():
    """Constant cause-specific hazards l1, l2 (continuous time): F_1(t) = l1/(l1+l2) (1 - exp(-(l1+l2) t)).
    Tolerance: 4 reported standard errors."""
    frame = _competing(20_000, seed=5, continuous=True)
    res = cumulative_incidence(frame, duration="t", event="event").at([10, 30]).set_index(["cause", "time"])
    for (cause, rate), t in [((1, 0.03), 10), ((1, 0.03), 30), ((2, 0.02), 30)]:
        truth = rate / 0.05 * (1 - np.exp(-0.05 * t))
        row = res.loc[(cause, t)]
        assert abs(row["cif"] - truth) < 4 * row["std_error"], (cause, t, row["cif"], truth)
        assert row["ci_lower"] < row["cif"] < row["ci_upper"]


def test_bad_input():
    frame = _competing(100, seed=6)
    with pytest.raises(ParameterError, match=r"event codes \['2'\] are not among causes"):
        cumulative_incidence(frame, duration="t", event="event", causes=[1])
    with pytest.raises(ParameterError, match="column 'nope'"):
        cumulative_incidence(frame, duration="nope", event="event")
