"""Intervention study: what pays off. The fiscal business case per actor and the social cost-benefit
analysis (MKBA) side by side, persistence scenarios, joint uncertainty and the tornado
(``analysis.estimators.mkba``; the inputs and their sources are in its docstring), and the older
business case of the gemeente over the observed window (``net_benefit_per_participant_eur``,
``benefit_cost_ratio``, ``break_even_cost_eur``, ``prob_pays_off``) that other tools read.

Disclosure: every return rests on the effects (their participants and comparisons) and on the mean
programme cost and mean benefit (means of amounts: withheld under 10 persons or when two persons make
up more than 90 % of them; then every return that would give them away is withheld too, and the
accounts, scenario and tornado tables are not shown). ``cost_amounts`` adds the costs' dominance to
every MKBA row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import StudyError
from analysis.kit.run import Run
from analysis.studies.intervention.design import RETURNS, Design, Effects, Options, _blank, _table

#: the older returns rows (the gemeente's benefit savings over the window minus the cost)
LEGACY = ("net_benefit_per_participant_eur", "benefit_cost_ratio", "break_even_cost_eur", "prob_pays_off")
#: the MKBA rows of the issue
MKBA_NAMES = tuple(k for k in RETURNS if k not in LEGACY)
#: the range of the programme cost and of the monthly benefit in the draws and the tornado, relative to
#: the data's mean (the mean is measured; its spread over programme variants and households is not)
COST_RANGE = (0.75, 1.5)
BENEFIT_RANGE = (0.8, 1.2)


def _mean_amount(run: Run, values: pd.Series, name: str) -> float | None:
    """A mean of amounts for the report: None (and logged) when it rests on fewer than ``min_units``
    persons or two persons make up more than the dominance share of it."""
    from analysis.estimators.results import dominance_share

    m = run.report.policy
    v = values.dropna().to_numpy(float)
    if len(v) < m.min_units:
        run.report.log.add(name, "mean", "min_units")
        return None
    share = dominance_share(v, top_n=m.dominance_top_n)
    if np.isfinite(share) and share > m.dominance_share:
        run.report.log.add(name, "mean", "dominance")
        return None
    return float(v.mean())


def _programme_costs(run: Run, design: Design, opts: Options) -> pd.Series:
    """The cost of each start of the programme by a person of the study population, one value per person."""
    from analysis.kit.events import person_rows

    frame = design.frame
    people = frame.loc[frame["treated"] == 1, "person_id"].unique()
    inter = person_rows(run.dataset, "interventions", people, columns=["person_id", "intervention", "cost_eur"])
    inter = inter[inter["intervention"] == opts.intervention]
    return inter.groupby("person_id")["cost_eur"].sum()


def _joint_covariance(design: Design, months, emp) -> np.ndarray:
    """Joint sampling covariance of the two AIPW effects from their influence functions, clustered by person."""
    frame = design.frame
    keep = months.diagnostics["kept"] & emp.diagnostics["kept"]
    inf1 = pd.Series(months.diagnostics["influence"], index=np.flatnonzero(months.diagnostics["kept"])).reindex(
        np.flatnonzero(keep)).to_numpy()
    inf2 = pd.Series(emp.diagnostics["influence"], index=np.flatnonzero(emp.diagnostics["kept"])).reindex(
        np.flatnonzero(keep)).to_numpy()
    groups = frame["person_id"].to_numpy()[keep]
    g = pd.DataFrame({"a": inf1, "b": inf2}).groupby(groups).sum().to_numpy()
    return g.T @ g / len(inf1) ** 2


def _withhold(run: Run, names, n: int, rule: str = "derived") -> None:
    """Rows that would give a withheld amount away: withheld, and logged as such."""
    rows = []
    for key in names:
        rows.append({**_blank(key, RETURNS[key], n), "suppressed": True})
        run.report.log.add("results.json", key, rule)
    if rows:
        run.add(rows)


@dataclass(frozen=True)
class Returns:
    """The MKBA (None when withheld) and the mean programme cost (None when withheld)."""

    mkba: object
    cost: float | None


def returns(run: Run, fx: Effects, opts: Options) -> Returns:
    """Both accounts with their uncertainty; returns the ``MkbaResult`` (None when withheld)."""
    from analysis.estimators.cost_benefit import cost_benefit, discount_factors, normal_draws
    from analysis.estimators.mkba import Inputs, mkba
    from analysis.report.labels import fmt_eur, fmt_pct, t

    design = fx.design
    if not design.estimable:
        return Returns(mkba=None, cost=None)
    frame = design.frame
    res = fx.results
    p = opts
    h = p.outcome_months
    heads = [run.estimate(f"att_months_bijstand_{h}m"), run.estimate(f"att_employed_{h}m")]
    n = heads[0]["n"]
    amount = _mean_amount(run, frame.loc[frame["treated"] == 1, "monthly_amount_eur"].fillna(
        p.monthly_benefit_eur), t("intervention.monthly_amount", run.lang))
    costs = _programme_costs(run, design, opts)
    cost = _mean_amount(run, costs, t("intervention.programme_cost", run.lang))
    run.report.heading(t("intervention.mkba.heading", run.lang))
    if any(r["suppressed"] for r in heads) or amount is None:
        run.add([_blank(k, u, 0) for k, u in RETURNS.items()])
        run.report.markdown(t("intervention.returns_withheld", run.lang, min_units=run.report.policy.min_units))
        return Returns(mkba=None, cost=cost)
    months, emp = res["months_bijstand"]["aipw"], res["employed_end"]["aipw"]
    cov = _joint_covariance(design, months, emp)
    est = np.array([months.to_frame().loc["ATT", "estimate"], emp.to_frame().loc["ATT", "estimate"]])
    health, health_years = _health_savings(run) if p.health_savings_run else (0.0, 1)

    # the older business case: the gemeente's savings over the window, minus the cost
    factor = discount_factors(h, p.discount_rate, per_year=12).mean()  # months saved spread over h
    draws = normal_draws(est, cov, n_draws=20_000, seed=p.seed)
    benefit_draws = -draws[:, 0] * amount * factor + draws[:, 1] * health
    benefit = float(-est[0] * amount * factor + est[1] * health)
    rows = {"break_even_cost_eur": (benefit, float(np.std(benefit_draws)), *np.quantile(benefit_draws, [0.025, 0.975]))}
    if cost is not None:
        cb = cost_benefit(benefit_draws, benefit=benefit, cost=cost)
        lo, hi = np.quantile(cb.draws, [0.025, 0.975])
        ratio = benefit_draws / cost if cost > 0 else np.full_like(benefit_draws, np.inf)
        rows.update(net_benefit_per_participant_eur=(cb.net_benefit, float(np.std(cb.draws)), lo, hi),
                    benefit_cost_ratio=(cb.benefit_cost_ratio, float(np.std(ratio)), *np.quantile(ratio, [0.025, 0.975])),
                    prob_pays_off=(cb.prob_pays_off, None, None, None))
    out = []
    for key in LEGACY:
        if key not in rows:
            continue
        e, se, lo, hi = rows[key]
        out.append({"name": key, "estimate": float(e), "se": None if se is None else float(se),
                    "ci_low": None if lo is None else float(lo), "ci_high": None if hi is None else float(hi),
                    "n": n, "unit": RETURNS[key], "suppressed": False})
    run.add(out)
    if cost is None:  # every return with the cost in it follows from the withheld cost and the published benefit
        _withhold(run, [k for k in RETURNS if k not in rows], n)
        health_text = _health_text(run, opts, health)
        run.report.markdown(t("intervention.returns_cost_withheld", run.lang, amount=fmt_eur(amount, run.lang),
                              benefit=fmt_eur(benefit, run.lang), health=health_text,
                              min_units=run.report.policy.min_units))
        return Returns(mkba=None, cost=cost)

    # the MKBA and the fiscal accounts per actor
    effects = {"bijstand_months": float(est[0]), "employed_end": float(est[1])}
    cov_all = cov
    if health:  # health-care costs per year in work (exit_health's saving per exit spread over its years)
        effects["healthcare_costs_year"] = -float(est[1]) * health / health_years
        jac = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, -health / health_years]])
        cov_all = jac @ cov @ jac.T
    defaults = Inputs()
    ranges = {**defaults.ranges, "programme_cost_eur": (cost * COST_RANGE[0], cost * COST_RANGE[1]),
              "benefit_month_eur": (amount * BENEFIT_RANGE[0], amount * BENEFIT_RANGE[1])}
    inputs = Inputs(benefit_month_eur=amount, programme_cost_eur=cost, ranges=ranges)
    mk = mkba(effects, cov=cov_all, n=min(heads[0]["n"], heads[1]["n"]), n_control=_n_control(design),
              dominance=_dominance(months, emp), inputs=inputs, window_months=h,
              horizon_months=p.horizon_months, discount_rate=p.discount_rate,
              cost_amounts=costs.to_numpy(float), seed=p.seed)
    rows = run.add(mk.to_estimates())
    published = {r["name"]: r for r in rows}
    if any(published[k]["suppressed"] for k in MKBA_NAMES):
        run.report.markdown(t("intervention.mkba.withheld", run.lang, min_units=run.report.policy.min_units))
        return Returns(mkba=mk, cost=cost)
    from analysis.studies.intervention.returns_report import show_mkba

    show_mkba(run, mk, published, health=bool(health))
    run.report.markdown(t("intervention.mkba.window_text", run.lang, h=h, amount=fmt_eur(amount, run.lang),
                          cost=fmt_eur(cost, run.lang), benefit=fmt_eur(benefit, run.lang),
                          net=fmt_eur(cb.net_benefit, run.lang), p=fmt_pct(cb.prob_pays_off, run.lang, 0),
                          health=_health_text(run, opts, health)))
    return Returns(mkba=mk, cost=cost)


def _n_control(design: Design) -> int:
    frame = design.frame
    return int(frame.loc[frame["treated"] == 0, "person_id"].nunique())


def _dominance(*results) -> float:
    """The largest dominance of the effects' ATT terms."""
    vals = [float(r.to_frame().loc["ATT", "dominance"]) for r in results if "dominance" in r.to_frame()]
    vals = [v for v in vals if np.isfinite(v)]
    return max(vals) if vals else float("nan")


def _health_text(run: Run, opts: Options, health: float):
    from analysis.report.labels import fmt_eur, t

    return _Markup(t("intervention.returns_health", run.lang, health=fmt_eur(health, run.lang))
                   if opts.health_savings_run else t("intervention.returns_no_health", run.lang))


class _Markup:
    """Catalogue text inserted into another catalogue text as is (``t`` escapes only ``str`` values)."""

    def __init__(self, text: str):
        self.text = text

    def __format__(self, spec: str) -> str:
        return self.text


def health_savings_results(run: str) -> Path:
    """The results.json of the run directory ``run`` (a path, absolute or relative to the project root)."""
    from analysis.paths import resolve_path

    path = resolve_path(run) / "results.json"
    if not path.is_file():
        raise StudyError(f"health_savings_run={run!r}: {path} does not exist; name the directory of an exit_health "
                         "run on the same dataset (reports/exit_health/<run-id>), or leave it empty.")
    return path


def _health_savings(run) -> tuple[float, int]:
    """exit_health's health-care savings per exit to work (present value) and the years it sums, from the run
    named by the parameter ``health_savings_run`` of ``run`` (same dataset, same population, published)."""
    mine = run.parameters
    path = mine["health_savings_run"]
    results = json.loads(health_savings_results(path).read_text(encoding="utf-8"))
    if results.get("study", "exit_health") != "exit_health":
        raise StudyError(f"health_savings_run={path!r} is a run of {results.get('study')!r}; name an exit_health run.")
    if results["dataset"]["sha256"] != run.dataset.content_hash:
        raise StudyError(f"The exit_health run {path!r} used another dataset; rerun exit_health on this one.")
    theirs = results["parameters"]
    if theirs.get("municipality", "all") != mine.get("municipality", "all"):
        raise StudyError(f"The exit_health run {path!r} is for municipality={theirs.get('municipality', 'all')!r}, "
                         f"this run for {mine.get('municipality', 'all')!r}; rerun exit_health with the same "
                         "municipality.")
    for key in POPULATION_KEYS:  # the rest of the population, where both runs record it
        if key in theirs and key in mine and theirs[key] != mine[key]:
            raise StudyError(f"The exit_health run {path!r} is for {key}={theirs[key]!r}, this run for "
                             f"{mine[key]!r}; rerun exit_health on the same population.")
    row = next((e for e in results["estimates"] if e["name"] == "health_savings_per_exit_eur"), None)
    if row is None or row["estimate"] is None:
        raise StudyError(f"The exit_health run {path!r} withheld (or has no) health_savings_per_exit_eur (too few "
                         "persons, or one or two dominate it); run intervention with health_savings_run=''.")
    return float(row["estimate"]), int(theirs.get("horizon_years", 5))


#: population parameters an input run must share with this one (municipality is checked first, always)
POPULATION_KEYS = ("age_min", "age_max", "sex", "first_year", "last_year")
