"""Cost-benefit against closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.estimators.cost_benefit import cost_benefit, normal_draws, npv

CLOSED = 1e-10  # same arithmetic


def test_annuity_formula():
    r, n, c = 0.04, 10, 100.0
    assert npv([c] * n, rate=r) == pytest.approx(c * (1 - (1 + r) ** -n) / r, abs=CLOSED)


def test_zero_discount_is_the_plain_sum():
    assert npv([1.0, 2.0, 3.5], rate=0.0) == pytest.approx(6.5, abs=CLOSED)


def test_zero_effect_gives_minus_cost_and_never_pays_off():
    draws = normal_draws([0.0], [[1e-12]], n_draws=2000)[:, 0] * 0
    res = cost_benefit(draws, benefit=0.0, cost=3000.0)
    assert res.net_benefit == -3000.0 and res.prob_pays_off == 0.0 and res.break_even_cost == 0.0


def test_probability_matches_normal_closed_form():
    from scipy import stats

    draws = normal_draws([5000.0], [[1000.0 ** 2]], n_draws=200_000, seed=1)[:, 0]
    res = cost_benefit(draws, benefit=5000.0, cost=4000.0)
    assert res.prob_pays_off == pytest.approx(stats.norm.sf(-1.0), abs=0.005)  # Monte Carlo margin, 200k draws
    assert res.benefit_cost_ratio == pytest.approx(1.25)


def test_bad_rate():
    with pytest.raises(ParameterError, match=r"discount rate 1.5 must lie in \[-0.01, 1\)"):
        npv([1.0], rate=1.5)
    with pytest.raises(ParameterError, match=r"discount rate -0.02 must lie in \[-0.01, 1\)"):
        npv([1.0], rate=-0.02)


def test_negative_rate_annuity():
    """The risk-free rate of -1 %: the annuity formula holds for r < 0 (factors above 1)."""
    r, n, c = -0.01, 10, 100.0
    assert npv([c] * n, rate=r) == pytest.approx(c * (1 - (1 + r) ** -n) / r, abs=CLOSED)
    assert npv([c] * n, rate=r) > c * n


def test_house_table_against_the_normal_closed_form():
    """Benefit ~ N(5000, 1000^2), cost 4000: net benefit N(1000, 1000^2), so se 1000 and the 95% interval
    1000 +- 1959.96; the ratio's interval is the benefit's divided by the cost. Monte Carlo margins for
    200,000 draws: 1% of the sd, 0.02 sd on the quantiles."""
    draws = normal_draws([5000.0], [[1000.0 ** 2]], n_draws=200_000, seed=2)[:, 0]
    frame = cost_benefit(draws, benefit=5000.0, cost=4000.0).to_frame()
    assert list(frame.columns) == ["estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n",
                                   "n_control", "dominance"]
    net = frame.loc["net_benefit"]
    assert net["estimate"] == 1000.0
    assert net["std_error"] == pytest.approx(1000.0, rel=0.01)
    assert net["ci_lower"] == pytest.approx(1000.0 - 1959.96, abs=20)
    assert net["ci_upper"] == pytest.approx(1000.0 + 1959.96, abs=20)
    ratio = frame.loc["benefit_cost_ratio"]
    assert ratio["ci_lower"] == pytest.approx((5000.0 - 1959.96) / 4000.0, abs=20 / 4000)
    assert np.isnan(frame.loc["cost", "std_error"]) and frame.loc["cost", "estimate"] == 4000.0


def test_one_programme_cost_of_5e7_among_200_dominates_the_cost_and_the_net_benefit():
    """199 costs of 4000 and one of 5e7: top two (5e7 + 4000) / (5e7 + 199 * 4000) = 0.98437...;
    the benefit's 200 equal contributions give 2/200."""
    amounts = np.r_[np.full(199, 4000.0), 5e7]
    draws = normal_draws([5000.0], [[1000.0 ** 2]], n_draws=2000, seed=2)[:, 0]
    res = cost_benefit(draws, benefit=5000.0, cost=float(amounts.mean()), n=200, n_control=400,
                       cost_amounts=amounts, benefit_contributions=np.full(200, 25.0))
    frame = res.to_frame()
    assert frame.loc["cost", "dominance"] == pytest.approx((5e7 + 4000) / (5e7 + 199 * 4000), abs=CLOSED)
    assert frame.loc["cost", "n"] == 200 and pd.isna(frame.loc["cost", "n_control"])
    assert frame.loc["benefit", "dominance"] == pytest.approx(0.01, abs=CLOSED)
    for term in ("net_benefit", "benefit_cost_ratio", "prob_pays_off"):
        assert frame.loc[term, "dominance"] > 0.9, term
    rows = {r["name"]: r for r in res.to_estimates(names={"cost": "programme_cost_eur"})}
    assert rows["programme_cost_eur"]["_dominance"] > 0.9
    assert rows["benefit"]["n"] == 200 and rows["benefit"]["_n_control"] == 400


def test_benefit_contributions_per_effect_are_summed_in_absolute_value_per_unit():
    """Two effects, three units: |(-9, 9)| = 18, |(1, 0)| = 1, |(0, 1)| = 1: top two 19 of 20."""
    res = cost_benefit(np.zeros(10), benefit=0.0, cost=1.0, benefit_contributions=[[-9, 9], [1, 0], [0, 1]])
    assert res.to_frame().loc["benefit", "dominance"] == pytest.approx(19 / 20, abs=CLOSED)


def test_units_unknown_without_amounts():
    frame = cost_benefit(np.zeros(10), benefit=0.0, cost=1.0).to_frame()
    assert frame["dominance"].isna().all() and frame["n"].isna().all()
