"""Kaplan-Meier against a published table and closed forms.

Published: the 6-MP arm of the Freireich et al. (1963) leukaemia remission trial (Gehan 1965), weeks in
remission, + = censored; its product-limit estimates are tabulated in Kleinbaum & Klein, "Survival
Analysis: A Self-Learning Text" (chapter 2) to three decimals: S(6) = 0.857, S(7) = 0.807,
S(10) = 0.753, S(13) = 0.690, S(16) = 0.627, S(22) = 0.538, S(23) = 0.448; median 23 weeks
(see SOURCE.md; data in six_mp.csv).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from analysis.estimators import kaplan_meier

PUBLISHED = {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}


@pytest.fixture(scope="module")
def six_mp():
    return pd.read_csv(Path(__file__).with_name("six_mp.csv"))


def _at(table, t, column):
    """The step function's value at time t (the last row with time <= t)."""
    return float(table.loc[table["time"] <= t, column].iloc[-1])


def test_published_product_limit_estimates(six_mp):
    km = kaplan_meier(six_mp, duration="weeks", event="relapse")
    for t, s in PUBLISHED.items():
        assert _at(km.table, t, "survival") == pytest.approx(s, abs=0.0005), t  # printed to 3 decimals
    assert km.median["estimate"] == 23


def test_log_log_greenwood_interval_closed_form(six_mp):
    """Greenwood: var(log S) = sum d / (n (n - d)); the log-log interval (R survfit conf.type = "log-log")
    is S ** exp(+-z sqrt(var(log S)) / log S), computed here by hand from the risk sets."""
    km = kaplan_meier(six_mp, duration="weeks", event="relapse", alpha=0.05)
    z = norm.ppf(0.975)
    s, green = 1.0, 0.0
    for t in sorted(six_mp.loc[six_mp["relapse"] == 1, "weeks"].unique()):
        n = int((six_mp["weeks"] >= t).sum())
        d = int(((six_mp["weeks"] == t) & (six_mp["relapse"] == 1)).sum())
        s *= 1 - d / n
        green += d / (n * (n - d))
        half = z * np.sqrt(green) / abs(np.log(s))
        assert _at(km.table, t, "at_risk") == n
        assert _at(km.table, t, "survival") == pytest.approx(s, rel=1e-12)
        assert _at(km.table, t, "std_error") == pytest.approx(s * np.sqrt(green), rel=1e-12)
        assert _at(km.table, t, "ci_lower") == pytest.approx(s ** np.exp(half), rel=1e-9), t
        assert _at(km.table, t, "ci_upper") == pytest.approx(s ** np.exp(-half), rel=1e-9), t


def test_no_censoring_gives_the_empirical_survival_function():
    weeks = np.array([3, 5, 5, 8, 13, 13, 13, 21])
    km = kaplan_meier(pd.DataFrame({"w": weeks, "e": 1}), duration="w", event="e")
    for t in np.unique(weeks):
        assert _at(km.table, t, "survival") == pytest.approx((weeks > t).mean(), abs=1e-12)


def test_delayed_entry_uses_r_risk_sets(six_mp):
    """Rows at risk at t have entry < t <= stop (R Surv(start, stop, event)). Splitting every record at
    week 10, an event time, into (0, 10] and (10, stop] must leave the curve and the numbers at risk
    unchanged; lifelines' own event table counts a row entering at 10 as at risk at 10, so this also
    checks that the reported at_risk follows the estimate, not that table."""
    late = six_mp["weeks"] > 10
    split = pd.concat([
        six_mp.assign(start=0, stop=six_mp["weeks"].clip(upper=10), relapse=six_mp["relapse"].where(~late, 0)),
        six_mp[late].assign(start=10, stop=six_mp.loc[late, "weeks"]),
    ], ignore_index=True)
    whole = kaplan_meier(six_mp, duration="weeks", event="relapse").table
    pieces = kaplan_meier(split, duration="stop", event="relapse", entry="start").table
    for t in sorted(six_mp["weeks"].unique()):
        for column in ("survival", "at_risk", "ci_lower", "ci_upper"):
            assert _at(pieces, t, column) == pytest.approx(_at(whole, t, column), rel=1e-12), (t, column)


def test_house_table(six_mp):
    """to_frame: a term per time with the house columns; before the first time nothing has happened."""
    km = kaplan_meier(six_mp.assign(arm=np.where(six_mp.index % 2 == 0, "a", "b")), duration="weeks",
                      event="relapse", group="arm")
    frame = km.to_frame(times=[0.5, 10])
    assert list(frame.columns) == ["estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n",
                                   "n_control", "dominance", "events"]
    assert list(frame.index) == ["a:S@t=0.5", "a:S@t=10", "b:S@t=0.5", "b:S@t=10"]
    assert frame.loc["a:S@t=0.5", "estimate"] == 1.0
    whole = kaplan_meier(six_mp, duration="weeks", event="relapse").to_frame(times=[10])
    assert whole.loc["S@t=10", "estimate"] == pytest.approx(PUBLISHED[10], abs=0.0005)
    assert whole.loc["S@t=10", "n"] == 15  # at risk at week 10: remissions of 10 weeks or more


def test_median_support_of_the_published_median(six_mp):
    """Kleinbaum & Klein's table: all 9 relapses (weeks 6, 6, 6, 7, 10, 13, 16, 22, 23) happen at or
    before the median of 23 weeks; 6 are at risk at week 23 and one relapses, so 5 remain (remissions
    of 25, 32, 32, 34 and 35 weeks). Both sides below 10: this median may not be published."""
    km = kaplan_meier(six_mp, duration="weeks", event="relapse")
    assert km.median_support() == (9, 5)
