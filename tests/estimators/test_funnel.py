"""Funnel limits against their closed form (Spiegelhalter 2005, eq. for a proportion)."""

from __future__ import annotations

import math

import pytest

from analysis.errors import ParameterError
from analysis.estimators.funnel import funnel_limits, funnel_position

CLOSED_FORM = 1e-12  # the same arithmetic, rounding only


def test_limits_match_closed_form():
    p0, n = 0.035, 10_000
    lim = funnel_limits(p0, [n]).iloc[0]
    se = math.sqrt(p0 * (1 - p0) / n)
    assert lim["upper_95"] == pytest.approx(p0 + 1.959963984540054 * se, abs=CLOSED_FORM)
    assert lim["lower_99.8"] == pytest.approx(p0 - 3.090232306167813 * se, abs=CLOSED_FORM)


def test_limits_narrow_with_size():
    lim = funnel_limits(0.05, [100, 10_000])
    assert (lim["upper_95"].diff().dropna() < 0).all()


def test_position():
    assert funnel_position(0.035, 10_000, 0.035) == "within"
    assert funnel_position(0.06, 10_000, 0.035) == "above_99.8"
    assert funnel_position(0.039, 10_000, 0.035) == "above_95"  # 95% limit 0.0386, 99.8% 0.0407


def test_bad_input():
    with pytest.raises(ParameterError, match=r"p0=1.5 must be a proportion"):
        funnel_limits(1.5, [10])
    with pytest.raises(ParameterError, match=r"every unit size n must be positive"):
        funnel_limits(0.1, [0])


def test_normal_limits_match_closed_form():
    """Spiegelhalter (2005), section 3: target +/- z * se, z the two-sided normal quantile."""
    from analysis.estimators.funnel import funnel_limits_normal

    lim = funnel_limits_normal(-1.5, [0.4, 2.0]).iloc[0]
    assert lim["precision"] == pytest.approx(2.5, abs=CLOSED_FORM)
    assert lim["upper_95"] == pytest.approx(-1.5 + 1.959963984540054 * 0.4, abs=CLOSED_FORM)
    assert lim["lower_99.8"] == pytest.approx(-1.5 - 3.090232306167813 * 0.4, abs=CLOSED_FORM)
    with pytest.raises(ParameterError, match="positive"):
        funnel_limits_normal(0.0, [0.0])


def test_precision_weighted_mean_closed_form():
    """Inverse-variance pooling: weights 1/se^2 = 4 and 1 give (4*1 + 1*3)/5 = 1.4, se sqrt(1/5)."""
    from analysis.estimators.funnel import precision_weighted_mean

    est, se = precision_weighted_mean([1.0, 3.0], [0.5, 1.0])
    assert est == pytest.approx(1.4, abs=CLOSED_FORM)
    assert se == pytest.approx(math.sqrt(0.2), abs=CLOSED_FORM)
