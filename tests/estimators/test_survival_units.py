"""Units of the survival estimators (issue #13): at risk and events kept per time, the support of a
median, and the units behind each Cox / discrete-hazard term. Expected values worked by hand."""

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.estimators import cox, cumulative_incidence, discrete_hazard, kaplan_meier


def _ten():
    """Durations 1..10, the ones at 3 and 7 censored.

    Product limit: t=1 10 at risk, 1 event -> 0.9; t=2 9, 1 -> 0.8; t=3 censored; t=4 7, 1 -> 0.6857;
    t=5 6, 1 -> 0.5714; t=6 5, 1 -> 0.4571 <= 0.5: the median is 6. Events at or before 6: 1, 2, 4, 5,
    6 = 5; at risk after 6: durations 7, 8, 9, 10 = 4.
    """
    return pd.DataFrame({"t": np.arange(1, 11), "e": [1, 1, 0, 1, 1, 1, 0, 1, 1, 1]})


def test_median_support_hand_example():
    km = kaplan_meier(_ten(), duration="t", event="e")
    assert km.median["estimate"] == 6
    assert km.median_support() == (5, 4)


def test_median_support_per_group_and_not_reached():
    f = pd.concat([_ten().assign(g="a"), pd.DataFrame({"t": [1, 2, 3, 4], "e": [1, 0, 0, 0], "g": "b"})])
    km = kaplan_meier(f, duration="t", event="e", group="g")
    assert km.median_support("a") == (5, 4)
    # group b: survival 0.75 at the end, the median is not reached: 1 event, nobody after the last time
    assert km.median_support("b") == (1, 0)
    with pytest.raises(ParameterError, match="group='c'"):
        km.median_support("c")


def test_kaplan_meier_table_keeps_at_risk_and_events():
    table = kaplan_meier(_ten(), duration="t", event="e").table.set_index("time")
    assert table.loc[1:10, "at_risk"].tolist() == [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    assert table.loc[1:10, "events"].tolist() == [1, 1, 0, 1, 1, 1, 0, 1, 1, 1]
    frame = kaplan_meier(_ten(), duration="t", event="e").to_frame(times=[6, 8])
    assert frame["n"].tolist() == [5, 3] and frame["events"].tolist() == [5, 6]


def test_cumulative_incidence_keeps_at_risk_events_and_group_sizes():
    """Causes 1, 2 on durations 1..6 (0 = censored): at t=1 6 at risk, one of cause 1; t=2 5, cause 2;
    t=4 3 at risk, cause 1 (t=3 censored). Events of cause 1 by t=4: 2."""
    f = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6], "c": [1, 2, 0, 1, 0, 2], "g": ["x"] * 6})
    f = pd.concat([f, f.iloc[:3].assign(g="y")])
    res = cumulative_incidence(f, duration="t", event="c", group="g")
    x1 = res.curves.query("group == 'x' and cause == 1")
    assert x1["at_risk"].tolist() == [6, 5, 3, 1] and x1["events"].tolist() == [1, 0, 1, 0]
    frame = res.to_frame(times=[4])
    assert frame.loc["x:1@t=4", "events"] == 2
    assert frame.loc["x:1@t=4", "n"] == 6 and frame.loc["y:1@t=4", "n"] == 3


def _cox_data(seed=1):
    """40 persons: dummy `women` for 12 of them, a three-level region coded as dummies
    (north 9, south 25, west 6 as reference), continuous age."""
    rng = np.random.default_rng(seed)
    n = 40
    region = np.array(["north"] * 9 + ["south"] * 25 + ["west"] * 6)
    return pd.DataFrame({"t": rng.integers(1, 30, n).astype(float), "e": rng.integers(0, 2, n),
                         "women": np.r_[np.ones(12), np.zeros(28)], "north": (region == "north").astype(float),
                         "south": (region == "south").astype(float), "age": rng.normal(40, 10, n),
                         "id": np.arange(n)})


def test_cox_term_units():
    fit = cox(_cox_data(), duration="t", event="e", covariates=["women", "north", "south", "age"])
    frame = fit.to_frame()
    assert frame["n"].tolist() == [12, 9, 25, 40]
    assert frame.loc["women", "n_control"] == 28 and frame.loc["north", "n_control"] == 31
    assert pd.isna(frame.loc["age", "n_control"])
    assert frame["dominance"].isna().all()
    rows = {r["name"]: r for r in fit.to_estimates()}
    assert rows["north"]["n"] == 9  # below 10: the policy withholds this term


def test_cox_counts_persons_not_rows():
    """Each person split into two counting-process rows: still 12 women, not 24."""
    d = _cox_data()
    d = d.assign(t=d["t"] + 1)
    first = d.assign(stop=d["t"] / 2, start=0.0, e=0)
    second = d.assign(stop=d["t"], start=d["t"] / 2)
    rows = pd.concat([first, second], ignore_index=True)
    fit = cox(rows, duration="stop", event="e", entry="start", covariates=["women", "north"], unit_id="id")
    assert fit.to_frame()["n"].tolist() == [12, 9]
    assert fit.to_frame().loc["women", "n_control"] == 28


def test_discrete_hazard_term_units_count_spells():
    d = _cox_data().assign(t=lambda f: f["t"].astype(int))
    res = discrete_hazard(d, duration="t", event="e", covariates=["women", "age"], baseline="linear")
    frame = res.to_frame()
    assert frame.loc["women", "n"] == 12 and frame.loc["women", "n_control"] == 28
    assert frame.loc["age", "n"] == 40
