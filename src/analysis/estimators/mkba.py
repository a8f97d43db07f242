"""What pays off: the fiscal business case per actor and the social cost-benefit analysis (MKBA).

Two accounts side by side, per participant, in euros of the base year (real), discounted monthly:

**Fiscal business case** (who pays and who saves):

- *gemeente*: bijstand payments saved (the BUIG budget) minus the programme cost;
- *Rijk*: taxes and social premiums on the extra wages plus other benefits (allowances) saved;
- *zorgverzekeraar*: health-care costs saved (Zvw).

**Social cost-benefit (MKBA)**, following the CPB/PBL "Algemene leidraad voor maatschappelijke
kosten-batenanalyse" (Romijn & Renes, 2013) and the SEO "Werkwijzer voor kosten-batenanalyse in het
sociale domein" (Koopmans, Heyma, Hof, Imandt, Kok & Pomp, 2016):

- productivity gain of the extra employment, valued at the gross labour cost per employed month,
  minus the share displaced from other workers (``displacement_share``, an assumption with a
  sensitivity range, not a guideline figure);
- health-care resources saved (real resources, so a social benefit, not a transfer);
- health gains: the effect on QALYs valued at ``qaly_value_eur`` (default EUR 50,000, "at least
  50,000 euro" per QALY in Dutch willingness-to-pay studies, van Gils, Schoemaker & Polder, Ned
  Tijdschr Geneeskd 2013;157:A6507, https://www.ntvg.nl/artikelen/hoeveel-mag-een-gewonnen-levensjaar-kosten;
  the sensitivity range 20,000 to 80,000 is the span of the Zorginstituut reference values by burden of
  disease, RVZ "Zinnige en duurzame zorg" 2006, which proposed a ceiling of up to 80,000 per QALY);
- the participant's loss of leisure and home production: both guides count it; no figure is given,
  so it is valued by the rule of a half on the participant's net income gain per employed month
  (the person's reservation value lies between 0 and that gain; ``leisure_value_share`` 0.5, range
  0 to 1 in the tornado table: an assumption of this package);
- programme resources (the cost per participant, at month 0);
- transfers net out: bijstand payments, taxes and allowances move money between actors and the
  participant and are not counted (the participant's account is computed and the test
  ``test_transfers_net_out`` checks that social = sum of all actors' accounts minus displacement);
- deadweight: the effects are causal estimates against the counterfactual, so participants who
  would have found work anyway are already netted out; ``spec["deadweight"]`` says so.

**Discounting.** Default 2.25 % real per year: "De discontovoet van 2,25 procent is de optelsom van
een risicovrij deel van min 1 procent en een risicopremie van 3,25 procent", in force for every MKBA
started from 1 January 2021 (Rapport Werkgroep discontovoet 2020; rwseconomie.nl/discontovoet and its
Q&A "Waarop zijn de nieuwe discontovoeten gebaseerd?"). Fully risk-free flows may use -1 %, "onder de
voorwaarde dat stevig wordt onderbouwd dat deze kosten of baten echt volledig risicovrij zijn", and a
negative rate may not be combined with a horizon beyond 100 years (same Q&A): rates in [-0.01, 1) are
accepted, horizons up to 1200 months. Month t (1..horizon) gets the factor (1 + r)^(-t/12).

**Effects and their path.** ``effects`` are per-participant causal effects over an observed window
of W months: ``bijstand_months`` (months with bijstand in months 1..W, negative = fewer),
``employed_end`` (share employed in month W), and optionally ``healthcare_costs_year`` (EUR per year)
and ``qaly_year`` (QALYs per year). In the window the bijstand effect is spread evenly (Δm/W per
month) and the employment and health effects ramp up linearly to their month-W level (t/W); after
the window each monthly effect is its month-W level times the persistence 0.5^((t-W)/h) for a
half-life of h months (``None``: the effect stays; ``0``: it stops at W). Every persistence scenario
is a row of the results.

**Uncertainty.** Joint draws of the effects from their sampling distribution (normal with the
estimated covariance) and of the uncertain inputs (each input with a (low, high) range is drawn from
the triangular distribution with its point value as mode; the half-life of the main scenario likewise)
give P(pays off) and percentile intervals. The tornado table sets one input (or one effect, at the
ends of its 95 % interval) at a time to its low and high value.

Units and dominance (disclosure, issue #13): every row rests on the effects it is built from; its
``n`` and ``n_control`` are the smallest over those effects, its dominance the largest of the effects'
dominance and, with ``cost_amounts``, the dominance of the programme-cost amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from analysis.errors import ParameterError
from analysis.estimators.cost_benefit import MIN_RATE
from analysis.estimators.results import _number, dominance_share

#: the standard Dutch real discount rate since 2021 (Werkgroep discontovoet 2020)
STANDARD_RATE = 0.0225
#: the risk-free real rate (Werkgroep discontovoet 2020)
RISK_FREE_RATE = -0.01
EFFECTS = ("bijstand_months", "employed_end", "healthcare_costs_year", "qaly_year")
ACTORS = ("gemeente", "rijk", "zorgverzekeraar", "participant")
#: default persistence scenarios: name -> half-life in months (None: stays, 0: stops at the window)
DEFAULT_SCENARIOS = {"stops": 0.0, "half_life_12m": 12.0, "half_life_36m": 36.0, "stays": None}


@dataclass(frozen=True)
class Inputs:
    """Valuation inputs per participant (EUR, real). Each may have a (low, high) range in ``ranges``.

    Sourced defaults: ``benefit_month_eur`` 1,308.45, the bijstand norm for a single person aged 21 to
    the pension age with holiday allowance, net per month from 1 July 2024, range 934.61 (the
    kostendelersnorm of a two-person household) to 1,869.21 (a couple) (Participatiewet norms as
    published by gemeente Velsen, "Bijstandsnormen per 1 juli 2024", velsen.nl). For 2023 the same norm
    was 1,195.66 from 1 January 2023 (velsen.nl, "Bijstandsnormen per 1 januari 2023"; the same figure in
    kadanzadvocaten.nl, "Bijstandsnormen 2023") and 1,216.62 from 1 July 2023 (krimpenerwaard.nl, "Nieuwe
    bijstandsnormen per 1 juli 2023"); the intervention study uses the participants' own mean amount from
    the data and ranges it by -20 % / +20 %. ``qaly_value_eur`` and its range: see the module docstring.
    Illustrative defaults that a study must set from its data or a source it names:
    ``programme_cost_eur`` (the intervention study uses the mean of the programme's ``cost_eur``),
    ``gross_wage_month_eur`` (labour cost of the jobs found; ``monthly_wage_eur`` in the data plus
    employer charges), ``tax_share`` (the tax wedge: taxes and premiums as a share of labour cost; no
    CPB figure for the wedge at the wages of people leaving bijstand was found for this package, so 0.30
    is illustrative), ``other_benefits_month_eur`` (illustrative); ``leisure_value_share`` and
    ``displacement_share`` are assumptions (module docstring). The SEO Werkwijzer (hoofdrapport, 2016,
    found as "Werkwijzer voor kosten-batenanalyse in het sociale domein. Hoofdrapport") asks for the
    leisure loss and for displacement to be stated, without a default figure for either.
    """

    benefit_month_eur: float = 1_308.45  # bijstand paid per month (BUIG), a transfer
    programme_cost_eur: float = 3_000.0  # programme resources per participant, month 0 (illustrative)
    gross_wage_month_eur: float = 2_600.0  # gross labour cost per employed month (illustrative)
    tax_share: float = 0.30  # share of the labour cost going to the Rijk as taxes and premiums (illustrative)
    other_benefits_month_eur: float = 150.0  # allowances the Rijk saves per employed month (illustrative)
    qaly_value_eur: float = 50_000.0  # value of a QALY (van Gils et al. 2013)
    leisure_value_share: float = 0.5  # share of the net income gain valued as lost leisure (rule of a half)
    displacement_share: float = 0.0  # share of the productivity gain displaced from other workers
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=lambda: {
        "programme_cost_eur": (2_000.0, 4_500.0), "benefit_month_eur": (934.61, 1_869.21),
        "gross_wage_month_eur": (2_100.0, 3_200.0), "qaly_value_eur": (20_000.0, 80_000.0),
        "leisure_value_share": (0.0, 1.0), "displacement_share": (0.0, 0.3)})

    def __post_init__(self):
        names = [f for f in self.__dataclass_fields__ if f != "ranges"]
        for name in names:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
                raise ParameterError(f"Inputs.{name}={v!r} is not allowed; give a finite number >= 0.")
        for name in ("tax_share", "leisure_value_share", "displacement_share"):
            if getattr(self, name) > 1:
                raise ParameterError(f"Inputs.{name}={getattr(self, name)!r} is a share; give a number in [0, 1].")
        for name, rng in self.ranges.items():
            if name not in names:
                raise ParameterError(f"Inputs.ranges names {name!r}, which is no input; choose from {names}.")
            lo, hi = rng
            if not lo <= getattr(self, name) <= hi:
                raise ParameterError(f"Inputs.ranges[{name!r}]=({lo}, {hi}) must contain the point value "
                                     f"{getattr(self, name)}; widen the range or change the value.")


def _check_rate(rate):
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not MIN_RATE <= rate < 1:
        raise ParameterError(f"discount_rate={rate!r} must lie in [-0.01, 1) (0.0225 is the Dutch standard, "
                             "-0.01 the risk-free rate); give a number in that range.")


def monthly_factors(horizon_months: int, rate: float) -> np.ndarray:
    """(1 + rate)^(-t/12) for t = 1..horizon_months."""
    _check_rate(rate)
    return (1.0 + rate) ** (-np.arange(1, horizon_months + 1) / 12.0)


def path_values(*, window_months: int, horizon_months: int, half_life_months, rate: float) -> dict:
    """Present value of the unit effect paths (see the module docstring) over the horizon.

    Returns ``{"even": ..., "ramp": ...}``: the PV of a monthly effect of 1/W per unit of the window
    total (bijstand) and of a ramp t/W to 1 per unit of the month-W level (employment, health).
    ``half_life_months`` may be an array (one value per draw; NaN or None = stays).
    """
    df = monthly_factors(horizon_months, rate)
    t = np.arange(1, horizon_months + 1, dtype=float)
    h = np.atleast_1d(np.asarray(np.nan if half_life_months is None else half_life_months, dtype=float))
    after = np.clip(t - window_months, 0, None)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        persist = np.where(np.isnan(h)[:, None], 1.0,
                           np.where(h[:, None] == 0, (after == 0).astype(float), 0.5 ** (after / h[:, None])))
    inside = t <= window_months
    even = np.where(inside, 1.0 / window_months, 1.0 / window_months * persist)
    ramp = np.where(inside, t / window_months, persist)
    out = {"even": even @ df, "ramp": ramp @ df}
    return {k: (float(v[0]) if np.ndim(half_life_months) == 0 else v) for k, v in out.items()}


def _accounts(effects: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray], pv: Mapping[str, np.ndarray]):
    """Per item and actor, the PV per participant (vectorised over draws). Numbers only, no ``self``."""
    dm, de = effects["bijstand_months"], effects["employed_end"]
    dh, dq = effects["healthcare_costs_year"], effects["qaly_year"]
    months_saved = -dm * pv["even"]  # discounted bijstand months saved
    employed = de * pv["ramp"]  # discounted extra employed months
    health_months = pv["ramp"] / 12.0  # yearly health effects per month
    g, tau = inputs["gross_wage_month_eur"], inputs["tax_share"]
    net_gain = np.maximum((1 - tau) * g - inputs["benefit_month_eur"], 0.0)
    items = {
        "bijstand_payments": {"gemeente": months_saved * inputs["benefit_month_eur"],
                              "participant": -months_saved * inputs["benefit_month_eur"]},
        "programme_cost": {"gemeente": -inputs["programme_cost_eur"] + 0 * dm},
        "taxes": {"rijk": employed * tau * g, "participant": -employed * tau * g},
        "other_benefits": {"rijk": employed * inputs["other_benefits_month_eur"],
                           "participant": -employed * inputs["other_benefits_month_eur"]},
        "gross_wages": {"participant": employed * g},
        "healthcare_costs": {"zorgverzekeraar": -dh * health_months},
        "health_qaly": {"participant": dq * health_months * inputs["qaly_value_eur"]},
        "leisure": {"participant": -employed * inputs["leisure_value_share"] * net_gain},
    }
    social = {"productivity": employed * g * (1 - inputs["displacement_share"]),
              "healthcare_resources": -dh * health_months,
              "health_qaly": dq * health_months * inputs["qaly_value_eur"],
              "leisure": -employed * inputs["leisure_value_share"] * net_gain,
              "programme_cost": -inputs["programme_cost_eur"] + 0 * dm}
    fiscal = {a: sum(v.get(a, 0.0) for v in items.values()) for a in ACTORS}
    benefits = social["productivity"] + social["healthcare_resources"] + social["health_qaly"]
    costs = inputs["programme_cost_eur"] - social["leisure"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(costs > 0, benefits / np.where(costs > 0, costs, 1.0), np.nan)
    return {"items": items, "social": social, "social_npv": sum(social.values()), "fiscal": fiscal,
            "bcr": ratio}


@dataclass(frozen=True)
class MkbaResult:
    """Both accounts, the persistence scenarios, the joint uncertainty and the tornado table.

    ``estimates``: the house table by term (estimate, std_error, ci_lower, ci_upper, p_value, n,
    n_control, dominance); ``accounts``: item x actor PVs (main scenario, point values) with the social
    column; ``scenarios``: one row per persistence scenario; ``tornado``: the NPV at each input's low and
    high value, sorted by swing; ``draws``: the joint draws of the social and fiscal NPVs.
    """

    estimates: pd.DataFrame
    accounts: pd.DataFrame
    scenarios: pd.DataFrame
    tornado: pd.DataFrame
    draws: pd.DataFrame
    spec: Mapping[str, object]
    diagnostics: Mapping[str, object] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.estimates.copy()

    def summary(self) -> str:
        spec = ", ".join(f"{k}={v}" for k, v in self.spec.items() if not isinstance(v, (dict, list)))
        return "\n".join([
            "Social cost-benefit (MKBA) and fiscal business case per participant (EUR)",
            f"Specification: {spec}", "", self.to_frame().to_string(float_format=lambda x: f"{x:.6g}"), "",
            "Accounts (main scenario):", self.accounts.to_string(float_format=lambda x: f"{x:.0f}"), "",
            "Persistence scenarios:", self.scenarios.to_string(float_format=lambda x: f"{x:.4g}"), "",
            "Tornado (social NPV):", self.tornado.to_string(float_format=lambda x: f"{x:.0f}")])

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        fmt = lambda x: f"{x:.4g}"  # noqa: E731
        return ("<p><b>MKBA and fiscal business case per participant (EUR)</b></p>"
                + self.to_frame().to_html(float_format=fmt) + "<p>Accounts (main scenario)</p>"
                + self.accounts.to_html(float_format=fmt) + "<p>Persistence scenarios</p>"
                + self.scenarios.to_html(float_format=fmt) + "<p>Tornado</p>" + self.tornado.to_html(float_format=fmt))

    def plot(self, ax=None, *, xlabel: str = "Social NPV per participant (EUR)"):
        """Tornado plot: the social NPV at each input's low and high value around the point value."""
        import matplotlib.pyplot as plt

        tor = self.tornado
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.35 * len(tor) + 1))
        base = float(self.estimates.loc["social_npv_per_participant_eur", "estimate"])
        y = np.arange(len(tor))
        ax.barh(y, tor["npv_low"] - base, left=base, color="#0072B2", label="low")
        ax.barh(y, tor["npv_high"] - base, left=base, color="#E69F00", label="high")
        ax.set_yticks(y, list(tor.index))
        ax.axvline(0, color="#D55E00", lw=1)
        ax.axvline(base, color="grey", lw=0.8, ls="--")
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.legend(fontsize=7)
        return ax

    def to_estimates(self, prefix: str = "", *, terms=None) -> list[dict]:
        """Rows of ``results.json`` with ``_n_control`` and ``_dominance`` (judged, then stripped, by
        ``apply_to_estimates``). Names are ``prefix + term``."""
        frame = self.to_frame() if terms is None else self.to_frame().loc[list(terms)]
        rows = []
        for term, r in frame.iterrows():
            rows.append({"name": f"{prefix}{term}", "estimate": _number(r["estimate"]), "se": _number(r["std_error"]),
                         "ci_low": _number(r["ci_lower"]), "ci_high": _number(r["ci_upper"]),
                         "n": None if pd.isna(r["n"]) else int(r["n"]), "unit": r["unit"], "suppressed": False,
                         "_n_control": None if pd.isna(r["n_control"]) else int(r["n_control"]),
                         "_dominance": _number(r["dominance"])})
        return rows


def _triangular(rng, point, lo, hi, size):
    if hi <= lo:
        return np.full(size, float(point))
    return rng.triangular(lo, point, hi, size)


def mkba(effects: Mapping[str, float], *, cov=None, n: int | None, n_control: int | None = None,
         dominance: float | Mapping[str, float] | None = None, inputs: Inputs | None = None,
         window_months: int = 24, horizon_months: int = 120, discount_rate: float = STANDARD_RATE,
         scenarios: Mapping[str, float | None] | None = None, main_scenario: str = "half_life_36m",
         half_life_range: tuple[float, float] | None = (12.0, 120.0), cost_amounts=None,
         n_draws: int = 10_000, alpha: float = 0.05, seed: int = 0) -> MkbaResult:
    """Fiscal business case per actor and social cost-benefit per participant (module docstring).

    ``effects``: point estimates by name (``bijstand_months`` and ``employed_end`` required,
    ``healthcare_costs_year`` and ``qaly_year`` optional, 0 when absent); ``cov``: their covariance
    (a DataFrame indexed by those names, or an array in the order given; None: no sampling error).
    ``n``, ``n_control``, ``dominance``: the units of the effects (the smallest n, the largest
    dominance; a mapping per effect is reduced that way). ``cost_amounts``: programme-cost amounts
    (their dominance joins the rows'). ``half_life_range``: the range (low, high) of the main
    scenario's half-life in the draws (None: fixed at the scenario's value).
    """
    inputs = inputs or Inputs()
    scenarios = dict(DEFAULT_SCENARIOS if scenarios is None else scenarios)
    _check_rate(discount_rate)
    for name, val in (("window_months", window_months), ("horizon_months", horizon_months)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or not 1 <= val <= 1200:
            raise ParameterError(f"{name}={val!r} is not allowed; give whole months in 1..1200.")
    if horizon_months < window_months:
        raise ParameterError(f"horizon_months={horizon_months} is shorter than window_months={window_months}; "
                             "the horizon includes the observed window.")
    if main_scenario not in scenarios:
        raise ParameterError(f"main_scenario={main_scenario!r} is not among the scenarios {list(scenarios)}.")
    for s, h in scenarios.items():
        if h is not None and (not np.isfinite(h) or h < 0):
            raise ParameterError(f"scenario {s!r} has half-life {h!r}; give months >= 0, 0 (stops) or None (stays).")
    unknown = set(effects) - set(EFFECTS)
    missing = {"bijstand_months", "employed_end"} - set(effects)
    if unknown or missing:
        raise ParameterError(f"effects {sorted(unknown)} unknown / {sorted(missing)} missing; give "
                             f"bijstand_months and employed_end, optionally {EFFECTS[2:]}.")
    names = list(effects)
    est = np.array([float(effects[k]) for k in names])
    if cov is None:
        cov_m = np.zeros((len(names), len(names)))
    elif isinstance(cov, pd.DataFrame):
        cov_m = cov.loc[names, names].to_numpy(float)
    else:
        cov_m = np.atleast_2d(np.asarray(cov, dtype=float))
    if cov_m.shape != (len(names), len(names)) or not np.allclose(cov_m, cov_m.T):
        raise ParameterError(f"cov has shape {cov_m.shape}; give a symmetric {len(names)}x{len(names)} matrix "
                             f"for the effects {names}.")
    n_min = min(n.values()) if isinstance(n, Mapping) else n
    if isinstance(n_control, Mapping):
        known_nc = [v for v in n_control.values() if v is not None]
        nc_min = min(known_nc) if known_nc else None
    else:
        nc_min = n_control
    doms = list(dominance.values()) if isinstance(dominance, Mapping) else [dominance]
    if cost_amounts is not None:
        doms.append(dominance_share(np.asarray(cost_amounts, dtype=float)))
    doms = [float(d) for d in doms if d is not None and not np.isnan(d)]
    dom = max(doms) if doms else np.nan

    base_in = {f: float(getattr(inputs, f)) for f in inputs.__dataclass_fields__ if f != "ranges"}
    full = lambda vec: {k: (vec[names.index(k)] if k in names else 0.0 * vec[0]) for k in EFFECTS}  # noqa: E731

    def point(inp=base_in, eff=est, half_life=scenarios[main_scenario]):
        pv = path_values(window_months=window_months, horizon_months=horizon_months, half_life_months=half_life,
                         rate=discount_rate)
        return _accounts(full(eff), inp, pv)

    main = point()
    rng = np.random.default_rng(seed)
    eff_draws = rng.multivariate_normal(est, cov_m, size=n_draws, method="eigh")
    in_draws = {k: (_triangular(rng, v, *inputs.ranges[k], n_draws) if k in inputs.ranges else np.full(n_draws, v))
                for k, v in base_in.items()}
    h_main = scenarios[main_scenario]
    if half_life_range is not None and h_main not in (None, 0.0):
        lo, hi = half_life_range
        h_draws = _triangular(rng, min(max(h_main, lo), hi), lo, hi, n_draws)
    else:
        h_draws = np.full(n_draws, np.nan if h_main is None else h_main)
    pv_d = path_values(window_months=window_months, horizon_months=horizon_months, half_life_months=h_draws,
                       rate=discount_rate)
    drawn = _accounts({k: eff_draws[:, names.index(k)] if k in names else np.zeros(n_draws) for k in EFFECTS},
                      in_draws, pv_d)
    draws = pd.DataFrame({"social_npv": drawn["social_npv"], "benefit_cost_ratio": drawn["bcr"],
                          **{f"fiscal_{a}": np.broadcast_to(drawn["fiscal"][a], n_draws) for a in ACTORS}})

    lo_q, hi_q = alpha / 2, 1 - alpha / 2

    def row(estimate, d, unit):
        if d is None:
            return [estimate, np.nan, np.nan, np.nan, unit]
        d = np.asarray(d, dtype=float)
        d = d[np.isfinite(d)]
        return [estimate, float(np.std(d, ddof=1)), float(np.quantile(d, lo_q)), float(np.quantile(d, hi_q)), unit]

    rows = {"social_npv_per_participant_eur": row(main["social_npv"], draws["social_npv"], "EUR per participant"),
            "benefit_cost_ratio_social": row(float(main["bcr"]), draws["benefit_cost_ratio"], "ratio")}
    for a in ACTORS[:3]:
        rows[f"fiscal_npv_{a}_per_participant_eur"] = row(main["fiscal"][a], draws[f"fiscal_{a}"],
                                                          "EUR per participant")
    rows["prob_social_npv_positive"] = row(float(np.mean(draws["social_npv"] > 0)), None, "probability")
    rows["prob_fiscal_npv_gemeente_positive"] = row(float(np.mean(draws["fiscal_gemeente"] > 0)), None, "probability")
    scen_rows = []
    for s, h in scenarios.items():
        res = point(half_life=h)
        d = _accounts({k: eff_draws[:, names.index(k)] if k in names else np.zeros(n_draws) for k in EFFECTS},
                      in_draws, path_values(window_months=window_months, horizon_months=horizon_months,
                                            half_life_months=np.full(n_draws, np.nan if h is None else h),
                                            rate=discount_rate))
        rows[f"social_npv_per_participant_eur_{s}"] = row(res["social_npv"], d["social_npv"], "EUR per participant")
        rows[f"fiscal_npv_gemeente_per_participant_eur_{s}"] = row(res["fiscal"]["gemeente"], d["fiscal"]["gemeente"],
                                                                   "EUR per participant")
        scen_rows.append({"scenario": s, "half_life_months": h, "social_npv": res["social_npv"],
                          "benefit_cost_ratio": float(res["bcr"]),
                          "prob_social_npv_positive": float(np.mean(d["social_npv"] > 0)),
                          **{f"fiscal_{a}": res["fiscal"][a] for a in ACTORS[:3]}})
    estimates = pd.DataFrame.from_dict(rows, orient="index",
                                       columns=["estimate", "std_error", "ci_lower", "ci_upper", "unit"])
    estimates.index.name = "term"
    estimates.insert(4, "p_value", np.nan)
    estimates.insert(5, "n", pd.array([n_min] * len(estimates), dtype="Int64"))
    estimates.insert(6, "n_control", pd.array([nc_min] * len(estimates), dtype="Int64"))
    estimates.insert(7, "dominance", float(dom))

    tor = []
    base_npv = main["social_npv"]
    for k, (lo, hi) in inputs.ranges.items():
        v_lo = point(inp={**base_in, k: lo})["social_npv"]
        v_hi = point(inp={**base_in, k: hi})["social_npv"]
        tor.append({"input": k, "low": lo, "high": hi, "npv_low": v_lo, "npv_high": v_hi})
    z = 1.959963984540054
    for i, k in enumerate(names):
        se = float(np.sqrt(cov_m[i, i]))
        if se > 0:
            e_lo, e_hi = est.copy(), est.copy()
            e_lo[i] -= z * se
            e_hi[i] += z * se
            tor.append({"input": f"effect:{k}", "low": est[i] - z * se, "high": est[i] + z * se,
                        "npv_low": point(eff=e_lo)["social_npv"], "npv_high": point(eff=e_hi)["social_npv"]})
    if half_life_range is not None and h_main not in (None, 0.0):
        tor.append({"input": "half_life_months", "low": half_life_range[0], "high": half_life_range[1],
                    "npv_low": point(half_life=half_life_range[0])["social_npv"],
                    "npv_high": point(half_life=half_life_range[1])["social_npv"]})
    tornado = pd.DataFrame(tor, columns=["input", "low", "high", "npv_low", "npv_high"]).set_index("input")
    tornado["swing"] = (tornado["npv_high"] - tornado["npv_low"]).abs()
    tornado = tornado.sort_values("swing", ascending=False)

    acc = pd.DataFrame({a: {item: float(v.get(a, 0.0)) for item, v in main["items"].items()} for a in ACTORS})
    acc["social"] = pd.Series({"bijstand_payments": 0.0, "programme_cost": main["social"]["programme_cost"],
                               "taxes": 0.0, "other_benefits": 0.0,
                               "gross_wages": main["social"]["productivity"],
                               "healthcare_costs": main["social"]["healthcare_resources"],
                               "health_qaly": main["social"]["health_qaly"], "leisure": main["social"]["leisure"]})
    acc.loc["total"] = acc.sum()
    spec = {"discount_rate": discount_rate, "window_months": window_months, "horizon_months": horizon_months,
            "main_scenario": main_scenario, "scenarios": scenarios, "half_life_range": half_life_range,
            "n_draws": n_draws, "seed": seed, "alpha": alpha, "effects": dict(zip(names, est.tolist())),
            "inputs": {**base_in, "ranges": dict(inputs.ranges)},
            "deadweight": "netted out: the effects are causal, against the counterfactual",
            "displacement_share": base_in["displacement_share"]}
    return MkbaResult(estimates=estimates, accounts=acc, scenarios=pd.DataFrame(scen_rows).set_index("scenario"),
                      tornado=tornado, draws=draws, spec=spec)


def effects_from_results(results: Mapping[str, object], *, term: str = "ATT", cov=None) -> dict:
    """Keyword arguments for :func:`mkba` from estimator results (``EffectResult`` family).

    ``results`` maps an effect name of :data:`EFFECTS` to a result whose ``to_frame()`` has ``term``;
    returns ``{"effects", "cov", "n", "n_control", "dominance"}`` (per effect; :func:`mkba` takes the
    smallest n and the largest dominance). ``cov``: the joint covariance of the effects (for example
    from their influence functions); None: the squared standard errors on the diagonal (independent).
    """
    unknown = set(results) - set(EFFECTS)
    if unknown:
        raise ParameterError(f"effects_from_results: {sorted(unknown)} unknown; choose from {EFFECTS}.")
    rows = {}
    for name, res in results.items():
        frame = res.to_frame()
        if term not in frame.index:
            raise ParameterError(f"effects_from_results: {name!r} has no term {term!r}; it has {list(frame.index)}.")
        rows[name] = frame.loc[term]
    names = list(rows)
    if cov is None:
        cov = np.diag([float(rows[k]["std_error"]) ** 2 for k in names])
    return {"effects": {k: float(rows[k]["estimate"]) for k in names}, "cov": cov,
            "n": {k: int(rows[k]["n"]) for k in names},
            "n_control": {k: (None if pd.isna(rows[k]["n_control"]) else int(rows[k]["n_control"])) for k in names},
            "dominance": {k: (None if pd.isna(rows[k]["dominance"]) else float(rows[k]["dominance"])) for k in names}}
