"""MKBA and fiscal business case against closed forms (annuities, geometric sums, normal moments)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import ParameterError
from analysis.estimators.mkba import ACTORS, Inputs, mkba, path_values

CLOSED = 1e-8  # closed form on the same arithmetic
MC_SD = 0.02  # relative Monte Carlo margin on a standard deviation from 40,000 draws (about 4 standard errors)

NO_RANGES = dict(ranges={})


def annuity(horizon, rate):
    """sum_{t=1}^{H} v^t with v = (1+r)^(-1/12): v (1 - v^H) / (1 - v); H when r = 0."""
    if rate == 0:
        return float(horizon)
    v = (1 + rate) ** (-1 / 12)
    return v * (1 - v ** horizon) / (1 - v)


@pytest.mark.parametrize("rate", [0.0225, 0.0, -0.01])
def test_persistent_bijstand_effect_is_an_annuity_for_the_gemeente(rate):
    """Δm = -6 months over W = 24, stays for H = 120: the gemeente saves 6/24 months per month,
    B * 0.25 * annuity(120, r), minus the cost at month 0."""
    inp = Inputs(benefit_month_eur=1000.0, programme_cost_eur=2000.0, **NO_RANGES)
    res = mkba({"bijstand_months": -6.0, "employed_end": 0.0}, n=500, inputs=inp, discount_rate=rate,
               scenarios={"stays": None}, main_scenario="stays", half_life_range=None, n_draws=200)
    expected = 1000.0 * 0.25 * annuity(120, rate) - 2000.0
    got = res.estimates.loc["fiscal_npv_gemeente_per_participant_eur", "estimate"]
    assert got == pytest.approx(expected, abs=CLOSED)
    # bijstand payments are a transfer: no social benefit without employment or health effects
    assert res.estimates.loc["social_npv_per_participant_eur", "estimate"] == pytest.approx(-2000.0, abs=CLOSED)


def test_negative_rate_is_worth_more_than_zero_and_standard_rate():
    kw = dict(window_months=24, horizon_months=120, half_life_months=None)
    values = [path_values(rate=r, **kw)["even"] for r in (-0.01, 0.0, 0.0225)]
    assert values[0] > values[1] > values[2]
    assert values[1] == pytest.approx(120 / 24, abs=CLOSED)


def test_zero_effect_costs_the_programme_and_never_pays_off():
    res = mkba({"bijstand_months": 0.0, "employed_end": 0.0}, cov=np.zeros((2, 2)), n=300, n_control=900,
               inputs=Inputs(programme_cost_eur=3000.0), n_draws=2000)
    est = res.estimates["estimate"]
    assert est["social_npv_per_participant_eur"] == pytest.approx(-3000.0, abs=CLOSED)
    assert est["fiscal_npv_gemeente_per_participant_eur"] == pytest.approx(-3000.0, abs=CLOSED)
    assert est["fiscal_npv_rijk_per_participant_eur"] == 0.0
    assert est["benefit_cost_ratio_social"] == 0.0
    assert est["prob_social_npv_positive"] == 0.0 and est["prob_fiscal_npv_gemeente_positive"] == 0.0


@pytest.mark.parametrize("h", [6.0, 36.0])
def test_decaying_effect_beyond_the_window_is_a_geometric_sum(h):
    """Ramp t/W inside W, then 0.5^((t-W)/h): PV = sum_{t<=W} v^t t/W + v^W sum_{k=1}^{H-W} (v 2^(-1/h))^k."""
    r, w, hor = 0.0225, 24, 240
    v = (1 + r) ** (-1 / 12)
    inside = sum(v ** t * t / w for t in range(1, w + 1))
    q = v * 2 ** (-1 / h)
    after = v ** w * q * (1 - q ** (hor - w)) / (1 - q)
    got = path_values(window_months=w, horizon_months=hor, half_life_months=h, rate=r)["ramp"]
    assert got == pytest.approx(inside + after, abs=CLOSED)
    stops = path_values(window_months=w, horizon_months=hor, half_life_months=0.0, rate=r)["ramp"]
    stays = path_values(window_months=w, horizon_months=hor, half_life_months=None, rate=r)["ramp"]
    assert stops == pytest.approx(inside, abs=CLOSED)
    assert stays == pytest.approx(inside + v ** w * v * (1 - v ** (hor - w)) / (1 - v), abs=CLOSED)


def test_persistence_scenarios_are_rows_ordered_by_persistence():
    res = mkba({"bijstand_months": -2.0, "employed_end": 0.05}, n=400, n_draws=500)
    s = res.scenarios["social_npv"]
    assert s["stops"] < s["half_life_12m"] < s["half_life_36m"] < s["stays"]
    for name in ("stops", "half_life_12m", "half_life_36m", "stays"):
        assert f"social_npv_per_participant_eur_{name}" in res.estimates.index


def test_transfers_net_out():
    """Social NPV = sum of every actor's account (participant included) minus the displaced productivity."""
    inp = Inputs(displacement_share=0.2)
    effects = {"bijstand_months": -3.0, "employed_end": 0.08, "healthcare_costs_year": -120.0, "qaly_year": 0.01}
    res = mkba(effects, n=400, inputs=inp, n_draws=500)
    total = res.accounts.loc["total"]
    displaced = res.accounts.loc["gross_wages", "participant"] * 0.2
    social = res.estimates.loc["social_npv_per_participant_eur", "estimate"]
    assert social == pytest.approx(sum(total[a] for a in ACTORS) - displaced, abs=1e-6)
    assert total["social"] == pytest.approx(social, abs=1e-6)
    assert res.accounts.loc["bijstand_payments", "social"] == 0.0 and res.accounts.loc["taxes", "social"] == 0.0
    assert res.estimates.loc["fiscal_npv_zorgverzekeraar_per_participant_eur", "estimate"] > 0


def test_sampling_uncertainty_of_the_effects_matches_the_delta_of_a_linear_npv():
    """With fixed inputs the social NPV is linear in the effects, a'x: its sd is sqrt(a' Σ a)."""
    inp = Inputs(**NO_RANGES)
    cov = np.array([[0.5 ** 2, -0.3 * 0.5 * 0.02], [-0.3 * 0.5 * 0.02, 0.02 ** 2]])
    kw = dict(cov=cov, n=400, inputs=inp, scenarios={"stays": None}, main_scenario="stays", half_life_range=None)
    base = mkba({"bijstand_months": -2.0, "employed_end": 0.05}, n_draws=40_000, seed=3, **kw)
    a = np.array([mkba({"bijstand_months": -1.0, "employed_end": 0.05}, n_draws=10, **kw),
                  mkba({"bijstand_months": -2.0, "employed_end": 0.06}, n_draws=10, **kw)])
    b0 = base.estimates.loc["social_npv_per_participant_eur", "estimate"]
    grad = np.array([a[0].estimates.loc["social_npv_per_participant_eur", "estimate"] - b0,
                     (a[1].estimates.loc["social_npv_per_participant_eur", "estimate"] - b0) / 0.01])
    sd = float(np.sqrt(grad @ cov @ grad))
    assert base.estimates.loc["social_npv_per_participant_eur", "std_error"] == pytest.approx(sd, rel=MC_SD)


def test_rows_carry_their_units_and_the_names_of_the_issue():
    res = mkba({"bijstand_months": -2.0, "employed_end": 0.05}, cov=np.diag([0.25, 0.0004]),
               n={"bijstand_months": 400, "employed_end": 380}, n_control={"bijstand_months": 1200,
                                                                          "employed_end": 1100},
               dominance={"bijstand_months": 0.01, "employed_end": 0.03}, cost_amounts=np.r_[np.full(99, 3000), 4e6],
               n_draws=1000)
    rows = {r["name"]: r for r in res.to_estimates()}
    for name in ("social_npv_per_participant_eur", "fiscal_npv_gemeente_per_participant_eur",
                 "fiscal_npv_rijk_per_participant_eur", "fiscal_npv_zorgverzekeraar_per_participant_eur",
                 "benefit_cost_ratio_social", "prob_social_npv_positive", "prob_fiscal_npv_gemeente_positive"):
        assert rows[name]["n"] == 380 and rows[name]["_n_control"] == 1100, name
        assert rows[name]["_dominance"] == pytest.approx((4e6 + 3000) / (4e6 + 99 * 3000), abs=CLOSED)
    assert rows["social_npv_per_participant_eur"]["ci_low"] < rows["social_npv_per_participant_eur"]["estimate"] \
        < rows["social_npv_per_participant_eur"]["ci_high"]
    assert rows["prob_social_npv_positive"]["ci_low"] is None
    assert res.spec["discount_rate"] == 0.0225


def test_tornado_swing_of_the_programme_cost_is_its_range():
    res = mkba({"bijstand_months": -2.0, "employed_end": 0.05}, n=400, n_draws=200,
               inputs=Inputs(ranges={"programme_cost_eur": (1000.0, 5000.0), "qaly_value_eur": (20_000, 80_000)}))
    assert res.tornado.loc["programme_cost_eur", "swing"] == pytest.approx(4000.0, abs=CLOSED)
    assert res.tornado.loc["qaly_value_eur", "swing"] == 0.0  # no QALY effect given
    assert list(res.tornado["swing"]) == sorted(res.tornado["swing"], reverse=True)
    assert "Tornado" in res.summary() and "<table" in res._repr_html_()
    import matplotlib

    matplotlib.use("Agg")
    ax = res.plot()
    assert ax.get_yticklabels()[0].get_text() == res.tornado.index[0]


def test_refusals():
    with pytest.raises(ParameterError, match=r"discount_rate=-0.02 must lie in \[-0.01, 1\)"):
        mkba({"bijstand_months": -1.0, "employed_end": 0.0}, n=10, discount_rate=-0.02)
    with pytest.raises(ParameterError, match=r"effects \['wages'\] unknown"):
        mkba({"bijstand_months": -1.0, "employed_end": 0.0, "wages": 1.0}, n=10)
    with pytest.raises(ParameterError, match=r"Inputs.tax_share=1.5 is a share"):
        Inputs(tax_share=1.5)
    with pytest.raises(ParameterError, match=r"must contain the point value"):
        Inputs(programme_cost_eur=9000.0)
    with pytest.raises(ParameterError, match=r"horizon_months=12 is shorter than window_months=24"):
        mkba({"bijstand_months": -1.0, "employed_end": 0.0}, n=10, horizon_months=12)


def test_effects_from_results_carry_estimates_and_units():
    from analysis.estimators.mkba import effects_from_results
    from analysis.estimators.results import EffectResult, tidy_estimates

    months = EffectResult(tidy_estimates(["ATT"], [-2.0], [0.5], n=400, n_control=1200, dominance=0.02), "ATT")
    emp = EffectResult(tidy_estimates(["ATT"], [0.05], [0.02], n=390, n_control=1100, dominance=0.04), "ATT")
    kw = effects_from_results({"bijstand_months": months, "employed_end": emp})
    assert kw["effects"] == {"bijstand_months": -2.0, "employed_end": 0.05}
    assert np.allclose(kw["cov"], np.diag([0.25, 0.0004]))
    res = mkba(**kw, n_draws=200)
    row = res.to_frame().loc["social_npv_per_participant_eur"]
    assert row["n"] == 390 and row["n_control"] == 1100 and row["dominance"] == 0.04
    with pytest.raises(ParameterError, match=r"has no term 'e=0'"):
        effects_from_results({"employed_end": emp}, term="e=0")
