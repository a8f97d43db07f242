"""No single values: Kaplan-Meier curves stop where fewer than 10 remain at risk, a median needs 10 on both
sides. Expected values are closed forms of the product-limit estimate on durations 1..N, all events
(S(t) = 1 - t/N, at risk at t = N - t + 1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.estimators import kaplan_meier
from analysis.report.disclosure import DisclosureLog, DisclosurePolicy, survival_curve, survival_median

POLICY = DisclosurePolicy()


def _km(n: int, censor_last: int = 0):
    durations = np.arange(1, n + 1)
    events = np.ones(n, dtype=int)
    if censor_last:
        events[-censor_last:] = 0
    return kaplan_meier(pd.DataFrame({"d": durations, "e": events}), duration="d", event="e")


def test_curve_stops_before_fewer_than_ten_at_risk():
    log = DisclosureLog()
    curve = survival_curve(_km(30), policy=POLICY, log=log, name="km")
    f = curve.frame
    # at risk at t is 31 - t: 10 at t = 21, 9 at t = 22, so the last step shown is t = 21
    assert f["time"].max() == 21
    assert f.loc[f["time"] == 21, "survival"].iloc[0] == pytest.approx(1 - 21 / 30)
    assert f["time"].iloc[0] == 0 and f["survival"].iloc[0] == 1.0
    assert all(c["n"] >= 10 for c in curve.cells())
    assert log.to_records() == [{"object": "km", "cell": "all: t >= 22", "rule": "at_risk", "n": "<10"}]


def test_curve_of_fewer_than_ten_units_shows_nothing():
    curve = survival_curve(_km(8), policy=POLICY, log=DisclosureLog(), name="km")
    assert len(curve) == 0


def test_median_published_with_ten_on_both_sides():
    # N = 40: S(20) = 0.5, the median is 20; 20 events at or before it, 20 at risk after it
    row = survival_median(_km(40), policy=POLICY, log=DisclosureLog(), name="median")
    assert row["estimate"] == 20 and not row["suppressed"] and row["n"] == 40


def test_median_withheld_when_one_side_rests_on_fewer_than_ten():
    # N = 15: the median is 8 (S(7) = 8/15 > 0.5 >= S(8) = 7/15): 8 events before it
    log = DisclosureLog()
    row = survival_median(_km(15), policy=POLICY, log=log, name="median")
    assert row["suppressed"] and row["estimate"] is None and row["n"] is None
    assert log.to_records() == [{"object": "results.json", "cell": "median", "rule": "median", "n": None}]


def test_median_withheld_when_few_remain_at_risk_after_it():
    # N = 24, the last 5 censored: S(t) = 1 - t/24 up to t = 19, so the median is 12 with 12 events at or
    # before it and 12 at risk after it: published under the default, withheld under a policy of 13
    km = _km(24, censor_last=5)
    assert survival_median(km, policy=POLICY, log=DisclosureLog(), name="m")["estimate"] == 12
    strict = DisclosurePolicy(min_units=13)
    assert survival_median(km, policy=strict, log=DisclosureLog(), name="m")["suppressed"]
