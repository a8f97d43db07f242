"""Cost-benefit: net present value, benefit-cost ratio, break-even cost, probability of paying off.

Uncertainty is carried from the effect estimates: draws from their sampling
distribution (normal with the estimated covariance, or given bootstrap draws)
become a distribution of net benefit. Closed forms; numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import ParameterError


def discount_factors(periods: int, rate: float, *, per_year: int = 1, timing: str = "end") -> np.ndarray:
    """Factors 1/(1+r)^(k/per_year), k = 1..periods ("end") or 0..periods-1 ("start")."""
    if not 0 <= rate < 1:
        raise ParameterError(f"discount rate {rate!r} must lie in [0, 1).")
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
        return frame.assign(p_value=np.nan, n=self.spec.get("n"))

    def plot(self, ax=None, *, xlabel: str = "Net benefit per participant (EUR)"):
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        ax.hist(self.draws, bins=60, color="#0072B2", alpha=0.8)
        ax.axvline(0, color="#D55E00", lw=1.5)
        ax.set_xlabel(xlabel)
        ax.set_yticks([])
        return ax


def cost_benefit(benefit_draws: np.ndarray, *, benefit: float, cost: float) -> CostBenefitResult:
    """Summarise a benefit per participant (point value and draws) against a cost per participant."""
    draws = np.asarray(benefit_draws, dtype=float) - cost
    if cost < 0:
        raise ParameterError(f"cost={cost!r} must be non-negative.")
    return CostBenefitResult(net_benefit=benefit - cost, benefit=benefit, cost=cost,
                             benefit_cost_ratio=benefit / cost if cost > 0 else np.inf,
                             break_even_cost=benefit, prob_pays_off=float(np.mean(draws > 0)), draws=draws,
                             spec={"n_draws": len(draws)})


def normal_draws(mean, cov, *, n_draws: int = 10_000, seed: int = 0) -> np.ndarray:
    """Draws of effect estimates from their (joint) normal sampling distribution."""
    rng = np.random.default_rng(seed)
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    cov = np.atleast_2d(np.asarray(cov, dtype=float))
    return rng.multivariate_normal(mean, cov, size=n_draws)
