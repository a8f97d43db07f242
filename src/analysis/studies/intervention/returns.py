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
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import StudyError
from analysis.studies.base import StudyContext
from analysis.studies.intervention.design import RETURNS, _blank, _estimable, _table

#: the older returns rows (the gemeente's benefit savings over the window minus the cost)
LEGACY = ("net_benefit_per_participant_eur", "benefit_cost_ratio", "break_even_cost_eur", "prob_pays_off")
#: the MKBA rows of the issue
MKBA_NAMES = tuple(k for k in RETURNS if k not in LEGACY)
#: the range of the programme cost and of the monthly benefit in the draws and the tornado, relative to
#: the data's mean (the mean is measured; its spread over programme variants and households is not)
COST_RANGE = (0.75, 1.5)
BENEFIT_RANGE = (0.8, 1.2)


def _mean_amount(ctx: StudyContext, values: pd.Series, name: str) -> float | None:
    """A mean of amounts for the report: None (and logged) when it rests on fewer than ``min_units``
    persons or two persons make up more than the dominance share of it."""
    from analysis.estimators.results import dominance_share

    m = ctx.report.policy
    v = values.dropna().to_numpy(float)
    if len(v) < m.min_units:
        ctx.report.log.add(name, "mean", "min_units")
        return None
    share = dominance_share(v, top_n=m.dominance_top_n)
    if np.isfinite(share) and share > m.dominance_share:
        ctx.report.log.add(name, "mean", "dominance")
        return None
    return float(v.mean())


def _programme_costs(ctx: StudyContext) -> pd.Series:
    """The cost of each start of the programme by a person of the study population, one value per person."""
    inter = ctx.dataset.tables["interventions"]
    inter = inter[inter["intervention"] == ctx.parameters["intervention"]]
    frame = ctx.frames["risk_sets"]  # type: ignore[attr-defined]
    people = set(frame.loc[frame["treated"] == 1, "person_id"])
    inter = inter[inter["person_id"].isin(people)]
    return inter.groupby("person_id")["cost_eur"].sum()


def _joint_covariance(ctx: StudyContext, months, emp) -> np.ndarray:
    """Joint sampling covariance of the two AIPW effects from their influence functions, clustered by person."""
    frame = ctx.frames["risk_sets"]  # type: ignore[attr-defined]
    keep = months.diagnostics["kept"] & emp.diagnostics["kept"]
    inf1 = pd.Series(months.diagnostics["influence"], index=np.flatnonzero(months.diagnostics["kept"])).reindex(
        np.flatnonzero(keep)).to_numpy()
    inf2 = pd.Series(emp.diagnostics["influence"], index=np.flatnonzero(emp.diagnostics["kept"])).reindex(
        np.flatnonzero(keep)).to_numpy()
    groups = frame["person_id"].to_numpy()[keep]
    g = pd.DataFrame({"a": inf1, "b": inf2}).groupby(groups).sum().to_numpy()
    return g.T @ g / len(inf1) ** 2


def _withhold(ctx: StudyContext, names, n: int, rule: str = "derived") -> None:
    """Rows that would give a withheld amount away: withheld, and logged as such."""
    rows = []
    for key in names:
        rows.append({**_blank(key, RETURNS[key], n), "suppressed": True})
        ctx.report.log.add("results.json", key, rule)
    ctx.add_estimates(rows)


def returns(ctx: StudyContext):
    """Both accounts with their uncertainty; returns the ``MkbaResult`` (None when withheld)."""
    from analysis.estimators.cost_benefit import cost_benefit, discount_factors, normal_draws
    from analysis.estimators.mkba import Inputs, mkba
    from analysis.report.labels import fmt_eur, fmt_pct, t

    if not _estimable(ctx):
        return None
    frame = ctx.frames["risk_sets"]  # type: ignore[attr-defined]
    res = ctx.frames["results"]  # type: ignore[attr-defined]
    p = ctx.parameters
    h = p["outcome_months"]
    heads = [ctx.estimate(f"att_months_bijstand_{h}m"), ctx.estimate(f"att_employed_{h}m")]
    n = heads[0]["n"]
    amount = _mean_amount(ctx, frame.loc[frame["treated"] == 1, "monthly_amount_eur"].fillna(
        p["monthly_benefit_eur"]), t("intervention.monthly_amount", ctx.lang))
    costs = _programme_costs(ctx)
    cost = _mean_amount(ctx, costs, t("intervention.programme_cost", ctx.lang))
    ctx.frames["cost"] = cost  # type: ignore[attr-defined]
    ctx.report.heading(t("intervention.mkba.heading", ctx.lang))
    if any(r["suppressed"] for r in heads) or amount is None:
        ctx.add_estimates([_blank(k, u, 0) for k, u in RETURNS.items()])
        ctx.report.markdown(t("intervention.returns_withheld", ctx.lang, min_units=ctx.report.policy.min_units))
        return None
    months, emp = res["months_bijstand"]["aipw"], res["employed_end"]["aipw"]
    cov = _joint_covariance(ctx, months, emp)
    est = np.array([months.to_frame().loc["ATT", "estimate"], emp.to_frame().loc["ATT", "estimate"]])
    health, health_years = _health_savings(ctx) if p["health_savings_run"] else (0.0, 1)

    # the older business case: the gemeente's savings over the window, minus the cost
    factor = discount_factors(h, p["discount_rate"], per_year=12).mean()  # months saved spread over h
    draws = normal_draws(est, cov, n_draws=20_000, seed=p["seed"])
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
    ctx.add_estimates(out)
    if cost is None:  # every return with the cost in it follows from the withheld cost and the published benefit
        _withhold(ctx, [k for k in RETURNS if k not in rows], n)
        health_text = _health_text(ctx, health)
        ctx.report.markdown(t("intervention.returns_cost_withheld", ctx.lang, amount=fmt_eur(amount, ctx.lang),
                              benefit=fmt_eur(benefit, ctx.lang), health=health_text,
                              min_units=ctx.report.policy.min_units))
        return None

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
    mk = mkba(effects, cov=cov_all, n=min(heads[0]["n"], heads[1]["n"]), n_control=_n_control(ctx),
              dominance=_dominance(months, emp), inputs=inputs, window_months=h,
              horizon_months=p["horizon_months"], discount_rate=p["discount_rate"],
              cost_amounts=costs.to_numpy(float), seed=p["seed"])
    rows = ctx.add_estimates(mk.to_estimates())
    published = {r["name"]: r for r in rows}
    if any(published[k]["suppressed"] for k in MKBA_NAMES):
        ctx.report.markdown(t("intervention.mkba.withheld", ctx.lang, min_units=ctx.report.policy.min_units))
        return mk
    from analysis.studies.intervention.returns_report import show_mkba

    show_mkba(ctx, mk, published, health=bool(health))
    ctx.report.markdown(t("intervention.mkba.window_text", ctx.lang, h=h, amount=fmt_eur(amount, ctx.lang),
                          cost=fmt_eur(cost, ctx.lang), benefit=fmt_eur(benefit, ctx.lang),
                          net=fmt_eur(cb.net_benefit, ctx.lang), p=fmt_pct(cb.prob_pays_off, ctx.lang, 0),
                          health=_health_text(ctx, health)))
    return mk


def _n_control(ctx: StudyContext) -> int:
    frame = ctx.frames["risk_sets"]  # type: ignore[attr-defined]
    return int(frame.loc[frame["treated"] == 0, "person_id"].nunique())


def _dominance(*results) -> float:
    """The largest dominance of the effects' ATT terms."""
    vals = [float(r.to_frame().loc["ATT", "dominance"]) for r in results if "dominance" in r.to_frame()]
    vals = [v for v in vals if np.isfinite(v)]
    return max(vals) if vals else float("nan")


def _health_text(ctx: StudyContext, health: float):
    from analysis.report.labels import fmt_eur, t

    return _Markup(t("intervention.returns_health", ctx.lang, health=fmt_eur(health, ctx.lang))
                   if ctx.parameters["health_savings_run"] else t("intervention.returns_no_health", ctx.lang))


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


def _health_savings(ctx: StudyContext) -> tuple[float, int]:
    """exit_health's health-care savings per exit to work (present value) and the years it sums, from the run
    named by ``health_savings_run`` (same dataset, same population, published)."""
    run = ctx.parameters["health_savings_run"]
    results = json.loads(health_savings_results(run).read_text(encoding="utf-8"))
    if results.get("study", "exit_health") != "exit_health":
        raise StudyError(f"health_savings_run={run!r} is a run of {results.get('study')!r}; name an exit_health run.")
    if results["dataset"]["sha256"] != ctx.dataset.content_hash:
        raise StudyError(f"The exit_health run {run!r} used another dataset; rerun exit_health on this one.")
    theirs = results["parameters"].get("municipality", "all")
    if theirs != ctx.parameters["municipality"]:
        raise StudyError(f"The exit_health run {run!r} is for municipality={theirs!r}, this run for "
                         f"{ctx.parameters['municipality']!r}; rerun exit_health with the same municipality.")
    row = next((e for e in results["estimates"] if e["name"] == "health_savings_per_exit_eur"), None)
    if row is None or row["estimate"] is None:
        raise StudyError(f"The exit_health run {run!r} withheld (or has no) health_savings_per_exit_eur (too few "
                         "persons, or one or two dominate it); run intervention with health_savings_run=''.")
    return float(row["estimate"]), int(results["parameters"].get("horizon_years", 5))
