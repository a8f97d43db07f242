"""Cost-benefit: net present value, benefit-cost ratio, break-even cost, probability of paying off.

Uncertainty is carried from the effect estimates: draws from their sampling
distribution (normal with the estimated covariance, or given bootstrap draws)
become a distribution of net benefit. Closed forms; numpy only.

Units and dominance (disclosure, issue #13). The cost per participant is a
mean of programme-cost amounts and the benefit is built from effect estimates;
both are judged on what they are built from:

- the ``cost`` term: ``n`` is the number of programme-cost amounts
  (``cost_amounts``), its dominance the share of the two largest amounts in
  their absolute sum (the rule on a mean of amounts);
- ``benefit`` and ``break_even_cost``: ``n`` and ``n_control`` are the treated
  and comparison units of the effects, dominance is judged on
  ``benefit_contributions``, each unit's contribution to the benefit (for
  example an estimator's ``diagnostics["contributions"]`` scaled by the
  amount per unit of effect; with one column per effect the absolute values
  are summed per unit);
- ``net_benefit``, ``benefit_cost_ratio`` and ``prob_pays_off`` combine both:
  their dominance is the larger of the two shares (a reader who knows one part
  learns the other from the combination).

Without the amounts or contributions the dominance is NaN (unknown) and the
disclosure policy cannot judge it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import ParameterError
from analysis.estimators.results import _number, dominance_share

#: the terms of the house table, in order
TERMS = ("net_benefit", "benefit", "cost", "benefit_cost_ratio", "break_even_cost", "prob_pays_off")


#: lowest discount rate accepted: the risk-free real rate of the Werkgroep discontovoet 2020 (-1 %)
MIN_RATE = -0.01


def discount_factors(periods: int, rate: float, *, per_year: int = 1, timing: str = "end") -> np.ndarray:
    """Factors 1/(1+r)^(k/per_year), k = 1..periods ("end") or 0..periods-1 ("start").

    ``rate`` is a real rate per year in [-0.01, 1): the Dutch standard rate is 2.25 % and fully
    risk-free flows may be discounted at -1 % (Werkgroep discontovoet 2020; see
    :mod:`analysis.estimators.mkba`). A negative rate gives factors above 1.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) or not (
            MIN_RATE <= rate < 1):
        raise ParameterError(f"discount rate {rate!r} must lie in [-0.01, 1) (a real rate per year: 0.0225 is "
                             "the Dutch standard, -0.01 the risk-free rate); give a number in that range.")
    if timing not in ("end", "start"):
        raise ParameterError(f"timing={timing!r} is not allowed; choose 'end' or 'start'.")
    k = np.arange(1, periods + 1) if timing == "end" else np.arange(periods)
    return 1.0 / (1.0 + rate) ** (k / per_year)


def npv(flows, *, rate: float, per_year: int = 1, timing: str = "end") -> float:
    """Net present value of a sequence of flows."""
    flows = np.asarray(flows, dtype=float)
    return float(flows @ discount_factors(len(flows), rate, per_year=per_year, timing=timing))


@dataclass(frozen=True)
class CostBenefitResult:
    net_benefit: float
    benefit: float
    cost: float
    benefit_cost_ratio: float
    break_even_cost: float
    prob_pays_off: float
    draws: np.ndarray
    spec: dict

    def quantiles(self, q=(0.025, 0.5, 0.975)) -> np.ndarray:
        return np.quantile(self.draws, q)

    def to_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """House table. Standard errors and intervals come from the draws (percentile intervals):
        net benefit, benefit and break-even cost (the benefit, in EUR per participant), and the
        benefit-cost ratio; the cost is a given; ``prob_pays_off`` is a share of the draws."""
        benefit = self.draws + self.cost
        lo, hi = alpha / 2, 1 - alpha / 2
        ratio = benefit / self.cost if self.cost > 0 else np.full_like(benefit, np.inf)

        def row(estimate, draws=None):
            if draws is None:
                return [estimate, np.nan, np.nan, np.nan]
            return [estimate, float(np.std(draws, ddof=1)), float(np.quantile(draws, lo)), float(np.quantile(draws, hi))]

        rows = {"net_benefit": row(self.net_benefit, self.draws), "benefit": row(self.benefit, benefit),
                "cost": row(self.cost), "benefit_cost_ratio": row(self.benefit_cost_ratio, ratio),
                "break_even_cost": row(self.break_even_cost, benefit), "prob_pays_off": row(self.prob_pays_off)}
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "std_error", "ci_lower", "ci_upper"])
        frame.index.name = "term"
        units = pd.DataFrame.from_dict(self._units(), orient="index", columns=["n", "n_control", "dominance"])
        frame = frame.assign(p_value=np.nan)
        frame["n"] = units["n"].astype("Int64")
        frame["n_control"] = units["n_control"].astype("Int64")
        frame["dominance"] = units["dominance"].astype(float)
        return frame

    def _units(self) -> dict:
        """Per term: (n, n_control, dominance), as in the module docstring."""
        n, n_control = self.spec.get("n"), self.spec.get("n_control")
        d_benefit, d_cost = self.spec.get("dominance_benefit", np.nan), self.spec.get("dominance_cost", np.nan)
        known = [v for v in (d_benefit, d_cost) if v is not None and not np.isnan(v)]
        d_both = max(known) if known else np.nan
        effect = (n, n_control, d_benefit)
        both = (n, n_control, d_both)
        return {"net_benefit": both, "benefit": effect, "cost": (self.spec.get("n_cost"), None, d_cost),
                "benefit_cost_ratio": both, "break_even_cost": effect, "prob_pays_off": both}

    def to_estimates(self, *, names: dict | None = None, units: dict | None = None, terms=None,
                     alpha: float = 0.05) -> list[dict]:
        """Rows of ``results.json`` (data-contract.md) with the private keys ``_n_control`` and ``_dominance``.

        ``names`` maps a term to its estimate name (default: the term), ``units`` a term to its unit.
        """
        frame = self.to_frame(alpha)
        rows = []
        for term in (terms or TERMS):
            r = frame.loc[term]
            rows.append({"name": (names or {}).get(term, term), "estimate": _number(r["estimate"]),
                         "se": _number(r["std_error"]), "ci_low": _number(r["ci_lower"]),
                         "ci_high": _number(r["ci_upper"]), "n": None if pd.isna(r["n"]) else int(r["n"]),
                         "unit": (units or {}).get(term, ""), "suppressed": False,
                         "_n_control": None if pd.isna(r["n_control"]) else int(r["n_control"]),
                         "_dominance": _number(r["dominance"])})
        return rows

    def plot(self, ax=None, *, xlabel: str = "Net benefit per participant (EUR)"):
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        ax.hist(self.draws, bins=60, color="#0072B2", alpha=0.8)
        ax.axvline(0, color="#D55E00", lw=1.5)
        ax.set_xlabel(xlabel)
        ax.set_yticks([])
        return ax


def cost_benefit(benefit_draws: np.ndarray, *, benefit: float, cost: float, n: int | None = None,
                 n_control: int | None = None, cost_amounts=None, benefit_contributions=None) -> CostBenefitResult:
    """Summarise a benefit per participant (point value and draws) against a cost per participant.

    ``n``, ``n_control``: the treated and comparison units of the effects the benefit is built from.
    ``cost_amounts``: the programme-cost amounts whose mean is ``cost``. ``benefit_contributions``:
    each unit's contribution to the benefit (a vector, or a 2-D array / DataFrame with one column
    per effect). See the module docstring for how the units of each term follow from these.
    """
    draws = np.asarray(benefit_draws, dtype=float) - cost
    if cost < 0:
        raise ParameterError(f"cost={cost!r} must be non-negative.")
    spec = {"n_draws": len(draws), "n": n, "n_control": n_control, "n_cost": None,
            "dominance_cost": float("nan"), "dominance_benefit": float("nan")}
    if cost_amounts is not None:
        amounts = np.asarray(cost_amounts, dtype=float).ravel()
        spec["n_cost"] = int(amounts.size)
        spec["dominance_cost"] = dominance_share(amounts)
    if benefit_contributions is not None:
        contrib = np.abs(np.asarray(benefit_contributions, dtype=float))
        spec["dominance_benefit"] = dominance_share(contrib.sum(axis=1) if contrib.ndim == 2 else contrib)
    return CostBenefitResult(net_benefit=benefit - cost, benefit=benefit, cost=cost,
                             benefit_cost_ratio=benefit / cost if cost > 0 else np.inf,
                             break_even_cost=benefit, prob_pays_off=float(np.mean(draws > 0)), draws=draws,
                             spec=spec)


def normal_draws(mean, cov, *, n_draws: int = 10_000, seed: int = 0) -> np.ndarray:
    """Draws of effect estimates from their (joint) normal sampling distribution."""
    rng = np.random.default_rng(seed)
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    cov = np.atleast_2d(np.asarray(cov, dtype=float))
    return rng.multivariate_normal(mean, cov, size=n_draws)
