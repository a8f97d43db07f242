"""Study "intervention": does a re-integration programme shorten bijstand, bring work, and pay off?

Design: the risk set (``analysis.estimators.risk_set``): each programme start in
month m is compared with people in bijstand in the same calendar month at the
same elapsed spell duration who have not started by m (they may start later).
Outcomes from the start month on: months in bijstand in months 1..24 after it,
employed in month 24. Estimators: cross-fitted AIPW (headline), regression
adjustment, IPW and propensity matching, and the naive difference (participants
minus all eligible non-participants, unadjusted) for contrast. Standard errors
are clustered by person. Returns: months of benefit saved times the monthly
amount, plus optionally the health-care savings per extra exit to work (from an
exit_health run on the same data), minus the programme's cost, with the
uncertainty of both effects carried into the net benefit.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, StudyError
from analysis.studies.base import StudyContext, setup_study

COVARIATES_BASE = ["female", "age", "age2", "edu_middle", "edu_high", "mig_western", "mig_non_western", "duration",
                   "emp_months_24", "bij_months_24", "year"]
LADDER = ["ladder_step", "ladder_missing"]
#: The participation-ladder outcome is the step this many months after the start month.
LADDER_MONTH = 12


def setup(*, dataset: str, intervention: str = "", outcome_months: int = 24, monthly_benefit_eur: float = 1150.0,
          discount_rate: float = 0.03, include_health_savings: bool = False, by: str = "none",
          max_controls: int = 20, lang: str = "nl", seed: int = 0, output_dir: str = "") -> StudyContext:
    if outcome_months < 6 or outcome_months > 48:
        raise ParameterError(f"outcome_months={outcome_months} must lie between 6 and 48.")
    if by not in ("none", "municipality", "sex"):
        raise ParameterError(f"by={by!r} is not allowed; choose 'none', 'municipality' or 'sex'.")
    ctx = setup_study("intervention", dataset=dataset, lang=lang, output_dir=output_dir,
                      title_key="intervention.title",
                      parameters={"intervention": intervention, "outcome_months": outcome_months,
                                  "monthly_benefit_eur": monthly_benefit_eur, "discount_rate": discount_rate,
                                  "include_health_savings": include_health_savings, "by": by,
                                  "max_controls": max_controls, "seed": seed})
    table = ctx.dataset.tables.get("interventions")
    if table is None or table.empty:
        raise StudyError("This dataset has no interventions table: the intervention study needs one "
                         "(person_id, intervention, start_date, end_date, cost_eur).")
    names = table["intervention"].value_counts()
    if not intervention:
        intervention = names.index[0]
        ctx.parameters["intervention"] = intervention
    if intervention not in names.index:
        raise ParameterError(f"intervention={intervention!r} is not in the data; available: {', '.join(names.index)}.")
    return ctx


def risk_sets(ctx: StudyContext) -> pd.DataFrame:
    """The risk-set frame with outcomes and covariates, one row per (person, start month)."""
    from analysis.estimators.risk_set import risk_set_frame

    h = ctx.parameters["outcome_months"]
    con = ctx.store.connect()
    meta = ctx.dataset.meta
    m1 = meta["observation_end"].year * 12 + meta["observation_end"].month - 1
    inter = ctx.dataset.tables["interventions"]
    inter = inter[inter["intervention"] == ctx.parameters["intervention"]]
    starts = pd.DataFrame({"person_id": inter["person_id"],
                           "month": inter["start_date"].dt.year * 12 + inter["start_date"].dt.month - 1})
    spells = con.execute("SELECT person_id, start_month, end_month FROM bijstand_spells").df()
    frame = risk_set_frame(spells, starts, max_controls=ctx.parameters["max_controls"], seed=ctx.parameters["seed"])
    frame = frame[frame["month"] + h <= m1].reset_index(drop=True)  # the full outcome window is observed
    if (frame["treated"] == 1).sum() < ctx.report.policy.min_units:
        raise StudyError(f"Only {int((frame['treated'] == 1).sum())} programme starts with a full "
                         f"{h}-month follow-up: too few to estimate.")
    con.register("rs", frame[["person_id", "month"]].drop_duplicates())
    con.register("emp_raw", ctx.dataset.tables["employment_spells"])
    end = meta["observation_end"]
    # One pass of joins (no correlated subqueries: those do not scale to a million persons): per
    # risk-set row the spells of that person, aggregated.
    feats = con.execute(f"""
        WITH emp AS (SELECT person_id, year(start_date::DATE) * 12 + month(start_date::DATE) - 1 AS sm,
                            year(COALESCE(end_date::DATE, DATE '{end}')) * 12 + month(COALESCE(end_date::DATE, DATE '{end}')) - 1 AS em
                     FROM emp_raw),
        bij AS (
            SELECT r.person_id, r.month,
              sum(GREATEST(0, LEAST(b.end_month, r.month + {h}) - GREATEST(b.start_month, r.month + 1) + 1)) AS months_bijstand,
              sum(GREATEST(0, LEAST(b.end_month, r.month - 1) - GREATEST(b.start_month, r.month - 24) + 1)) AS bij_months_24,
              arg_min(b.end_month, b.start_month) FILTER (WHERE r.month BETWEEN b.start_month AND b.end_month) AS spell_end,
              bool_or(b.censored) FILTER (WHERE r.month BETWEEN b.start_month AND b.end_month) AS spell_censored,
              arg_min(b.spell_id, b.start_month) FILTER (WHERE r.month BETWEEN b.start_month AND b.end_month) AS spell_id,
              arg_min(b.monthly_amount_eur, b.start_month) FILTER (WHERE r.month BETWEEN b.start_month AND b.end_month)
                AS monthly_amount_eur
            FROM rs r JOIN bijstand_spells b ON b.person_id = r.person_id
            GROUP BY r.person_id, r.month),
        em AS (
            SELECT r.person_id, r.month,
              max((r.month + {h} BETWEEN e.sm AND e.em)::INTEGER) AS employed_end,
              max((r.month + {LADDER_MONTH} BETWEEN e.sm AND e.em)::INTEGER) AS employed_ladder,
              sum(GREATEST(0, LEAST(e.em, r.month - 1) - GREATEST(e.sm, r.month - 24) + 1)) AS emp_months_24
            FROM rs r JOIN emp e ON e.person_id = r.person_id
            GROUP BY r.person_id, r.month),
        exits AS (SELECT spell_id, min(days_to_employment) AS days_to_job FROM bijstand_exits GROUP BY spell_id)
        SELECT r.person_id, r.month,
               COALESCE(bij.months_bijstand, 0) AS months_bijstand,
               COALESCE(em.employed_end, 0) AS employed_end,
               COALESCE(em.employed_ladder, 0) AS employed_ladder,
               COALESCE(em.emp_months_24, 0) AS emp_months_24,
               COALESCE(bij.bij_months_24, 0) AS bij_months_24,
               bij.spell_end, bij.spell_censored, x.days_to_job, bij.monthly_amount_eur
        FROM rs r LEFT JOIN bij USING (person_id, month) LEFT JOIN em USING (person_id, month)
             LEFT JOIN exits x ON x.spell_id = bij.spell_id""").df()
    persons = ctx.store.read("persons")
    frame = frame.merge(feats, on=["person_id", "month"]).merge(persons, on="person_id")
    ladder = ctx.dataset.tables.get("participation_ladder")
    covariates = list(COVARIATES_BASE)
    if ladder is not None and not ladder.empty:
        lad = ladder.assign(lmonth=ladder["date"].dt.year * 12 + ladder["date"].dt.month - 1)
        lad = lad.sort_values("lmonth")[["person_id", "lmonth", "step"]]
        keys = frame[["person_id", "month"]].drop_duplicates().sort_values("month")
        last = pd.merge_asof(keys, lad, left_on="month", right_on="lmonth", by="person_id", direction="backward")
        frame = frame.merge(last[["person_id", "month", "step"]], on=["person_id", "month"], how="left")
        frame["ladder_missing"] = frame["step"].isna().astype(float)
        frame["ladder_step"] = frame["step"].fillna(frame["step"].mean())
        covariates += LADDER
        # Outcome: the step LADDER_MONTH months after the start: 6 (paid work) for the employed, else
        # the latest measurement up to then (a caseworker re-assesses at spell starts and yearly).
        keys = keys.assign(at=keys["month"] + LADDER_MONTH).sort_values("at")
        later = pd.merge_asof(keys, lad, left_on="at", right_on="lmonth", by="person_id", direction="backward")
        frame = frame.merge(later[["person_id", "month", "step"]].rename(columns={"step": "ladder_after"}),
                            on=["person_id", "month"], how="left")
        frame["ladder_step_12m"] = np.where(frame["employed_ladder"] == 1, 6.0, frame["ladder_after"])
    frame["female"] = (frame["sex"] == "F").astype(float)
    frame["age"] = frame["month"] // 12 - frame["birth_year"]
    frame["age2"] = frame["age"] ** 2
    frame["year"] = frame["month"] // 12
    for col, val, name in (("education", "middle", "edu_middle"), ("education", "high", "edu_high"),
                           ("migration_background", "western", "mig_western"),
                           ("migration_background", "non_western", "mig_non_western")):
        frame[name] = (frame[col] == val).astype(float) if col in frame else 0.0
    munis = frame["municipality_code"].value_counts()
    big = [m for m in munis.index[1:] if munis[m] >= 50]
    for m in big:
        frame[f"muni_{m}"] = (frame["municipality_code"] == m).astype(float)
    covariates = [c for c in covariates + [f"muni_{m}" for m in big] if frame[c].std() > 0]  # constants add nothing
    ctx.frames = {"risk_sets": frame, "covariates": covariates}  # type: ignore[attr-defined]
    return frame


def effects(ctx: StudyContext) -> pd.DataFrame:
    """AIPW (headline), regression adjustment, IPW, matching and the naive difference, both outcomes."""
    from analysis.estimators.propensity import att_aipw, att_ipw, att_matching, att_regression
    from analysis.report.labels import t

    frame = ctx.frames["risk_sets"]  # type: ignore[attr-defined]
    covs = ctx.frames["covariates"]  # type: ignore[attr-defined]
    rows, results = [], {}
    for outcome in ("months_bijstand", "employed_end"):
        ests = {
            "aipw": att_aipw(frame, outcome=outcome, treatment="treated", covariates=covs, cluster="person_id",
                             seed=ctx.parameters["seed"]),
            "regression": att_regression(frame, outcome=outcome, treatment="treated", covariates=covs,
                                         cluster="person_id"),
            "ipw": att_ipw(frame, outcome=outcome, treatment="treated", covariates=covs, cluster="person_id"),
            "matching": att_matching(frame, outcome=outcome, treatment="treated", covariates=covs),
        }
        results[outcome] = ests
        naive = _naive(ctx, frame, outcome)
        for name, res in list(ests.items()) + [("naive", naive)]:
            r = res.to_frame().loc["ATT"] if name != "naive" else naive
            rows.append({"outcome": outcome, "estimator": name, "estimate": r["estimate"], "se": r["std_error"]})
    n_part = int(frame["treated"].sum())
    h = ctx.parameters["outcome_months"]
    for outcome, key in (("months_bijstand", f"att_months_bijstand_{h}m"), ("employed_end", f"att_employed_{h}m")):
        r = results[outcome]["aipw"].to_frame().loc["ATT"]
        ctx.add_estimates([{"name": key, "estimate": float(r["estimate"]), "se": float(r["std_error"]),
                            "ci_low": float(r["ci_lower"]), "ci_high": float(r["ci_upper"]), "n": n_part,
                            "unit": "months" if outcome == "months_bijstand" else "probability difference",
                            "suppressed": False}])
    nv = next(r for r in rows if r["outcome"] == "months_bijstand" and r["estimator"] == "naive")
    ctx.add_estimates([{"name": f"naive_months_bijstand_{h}m", "estimate": float(nv["estimate"]),
                        "se": float(nv["se"]), "ci_low": float(nv["estimate"] - 1.96 * nv["se"]),
                        "ci_high": float(nv["estimate"] + 1.96 * nv["se"]), "n": n_part, "unit": "months",
                        "suppressed": False}])
    table = pd.DataFrame(rows)
    shown = table.pivot(index="estimator", columns="outcome", values="estimate").reindex(
        ["aipw", "regression", "ipw", "matching", "naive"]).reset_index()
    ses = table.pivot(index="estimator", columns="outcome", values="se").reindex(shown["estimator"]).reset_index(drop=True)
    out = pd.DataFrame({
        t("intervention.estimator", ctx.lang): [t(f"intervention.est.{e}", ctx.lang) for e in shown["estimator"]],
        t("intervention.months_effect", ctx.lang, h=h): shown["months_bijstand"],
        t("std_error", ctx.lang): ses["months_bijstand"],
        t("intervention.employed_effect", ctx.lang, h=h): shown["employed_end"],
        t("std_error", ctx.lang) + " ": ses["employed_end"],
    })
    ctx.report.table(out, caption=t("intervention.effects_caption", ctx.lang, n=n_part),
                     number_formats={out.columns[1]: "num2", out.columns[2]: "num2", out.columns[3]: "pct",
                                     out.columns[4]: "num3"})
    ctx.frames["results"] = results  # type: ignore[attr-defined]
    return table


def ladder_effect(ctx: StudyContext) -> dict | None:
    """AIPW effect on the participation-ladder step 12 months after the start, where the data have it."""
    from analysis.estimators.propensity import att_aipw
    from analysis.report.labels import fmt_number, t

    frame = ctx.frames["risk_sets"]  # type: ignore[attr-defined]
    if "ladder_step_12m" not in frame:
        ctx.report.markdown(t("intervention.ladder_absent", ctx.lang))
        return None
    part = frame.dropna(subset=["ladder_step_12m"])
    n_part = int(part["treated"].sum())
    row = {"name": f"att_ladder_step_{LADDER_MONTH}m", "estimate": None, "se": None, "ci_low": None,
           "ci_high": None, "n": n_part, "unit": "ladder steps", "suppressed": False}
    if n_part >= ctx.report.policy.min_units and (part["treated"] == 0).sum() >= ctx.report.policy.min_units:
        covs = [c for c in ctx.frames["covariates"] if part[c].std() > 0]  # type: ignore[attr-defined]
        r = att_aipw(part, outcome="ladder_step_12m", treatment="treated", covariates=covs, cluster="person_id",
                     seed=ctx.parameters["seed"]).to_frame().loc["ATT"]
        row.update(estimate=float(r["estimate"]), se=float(r["std_error"]), ci_low=float(r["ci_lower"]),
                   ci_high=float(r["ci_upper"]))
    (row,) = ctx.add_estimates([row])
    if row["estimate"] is not None:
        ctx.report.markdown(t("intervention.ladder_text", ctx.lang, months=LADDER_MONTH,
                              effect=fmt_number(row["estimate"], ctx.lang, digits=2),
                              low=fmt_number(row["ci_low"], ctx.lang, digits=2),
                              high=fmt_number(row["ci_high"], ctx.lang, digits=2),
                              share=fmt_number(100 * len(part) / len(frame), ctx.lang, digits=0)))
    return row


def by_group(ctx: StudyContext) -> pd.DataFrame | None:
    """AIPW effects per subgroup (``by`` = sex or municipality); small groups are withheld."""
    from analysis.estimators.propensity import att_aipw
    from analysis.report.labels import t

    by = ctx.parameters["by"]
    if by == "none":
        return None
    frame = ctx.frames["risk_sets"]  # type: ignore[attr-defined]
    column = "sex" if by == "sex" else "municipality_code"
    covs = [c for c in ctx.frames["covariates"] if not c.startswith("muni_") and c != "female"]  # type: ignore[attr-defined]
    rows = []
    for value, part in frame.groupby(column):
        n_part = int(part["treated"].sum())
        row = {t("intake.group", ctx.lang): value, t("intervention.participants", ctx.lang): n_part,
               t("estimate", ctx.lang): np.nan, t("std_error", ctx.lang): np.nan}
        if n_part >= ctx.report.policy.min_units and (part["treated"] == 0).sum() >= ctx.report.policy.min_units:
            covs_here = [c for c in covs if part[c].std() > 0]
            r = att_aipw(part, outcome="months_bijstand", treatment="treated", covariates=covs_here,
                         cluster="person_id", seed=ctx.parameters["seed"], folds=3).to_frame().loc["ATT"]
            row[t("estimate", ctx.lang)], row[t("std_error", ctx.lang)] = r["estimate"], r["std_error"]
        rows.append(row)
    table = pd.DataFrame(rows)
    ctx.report.table(table, caption=t("intervention.by_caption", ctx.lang, h=ctx.parameters["outcome_months"]),
                     counts=t("intervention.participants", ctx.lang),
                     number_formats={t("estimate", ctx.lang): "num2", t("std_error", ctx.lang): "num2"})
    return table


def _naive(ctx, frame, outcome):
    """Participants minus all eligible non-participants, unadjusted (cluster-robust SE)."""
    y, d = frame[outcome].to_numpy(float), frame["treated"].to_numpy()
    est = y[d == 1].mean() - y[d == 0].mean()
    n1, n0 = (d == 1).sum(), (d == 0).sum()
    inf = np.where(d == 1, (y - y[d == 1].mean()) / (n1 / len(y)), -(y - y[d == 0].mean()) / (n0 / len(y)))
    g = pd.Series(inf).groupby(frame["person_id"].to_numpy()).sum().to_numpy()
    return {"estimate": float(est), "std_error": float(np.sqrt(np.sum(g ** 2)) / len(y))}


def covariate_label(name: str, lang: str) -> str:
    """The report label of a risk-set covariate (``muni_GM0363`` becomes "gemeente GM0363")."""
    from analysis.report.labels import t

    if name.startswith("muni_"):
        return t("intervention.cov.muni", lang, code=name.removeprefix("muni_"))
    return t(f"intervention.cov.{name}", lang)


def diagnostics(ctx: StudyContext) -> None:
    """Balance before and after weighting, overlap of the propensity scores, and the E-value."""
    import matplotlib.pyplot as plt

    from analysis.estimators.propensity import e_value
    from analysis.report.labels import fmt_number, t

    res = ctx.frames["results"]["months_bijstand"]["aipw"]  # type: ignore[attr-defined]
    bal = res.diagnostics["balance"]
    shown = pd.DataFrame({t("intervention.covariate", ctx.lang): [covariate_label(c, ctx.lang) for c in bal["covariate"]],
                          t("intervention.smd_before", ctx.lang): bal["smd_before"],
                          t("intervention.smd_after", ctx.lang): bal["smd_after"]})
    ctx.report.table(shown, caption=t("intervention.balance_caption", ctx.lang),
                     number_formats={shown.columns[1]: "num3", shown.columns[2]: "num3"})
    ps, d = res.diagnostics["propensity"], res.diagnostics["treated"]
    fig, ax = plt.subplots(figsize=(7, 3))
    bins = np.linspace(0, max(0.05, float(np.quantile(ps, 0.999))), 40)
    ax.hist(ps[d == 0], bins=bins, density=True, alpha=0.6, label=t("intervention.controls", ctx.lang))
    ax.hist(ps[d == 1], bins=bins, density=True, alpha=0.6, label=t("intervention.participants", ctx.lang))
    ax.set_xlabel(t("intervention.propensity", ctx.lang))
    ax.set_yticks([])
    ax.legend()
    fig.tight_layout()
    ctx.report.figure(fig, caption=t("intervention.overlap_caption", ctx.lang,
                                     dropped=res.diagnostics["dropped_by_trimming"]),
                      counts=int(min((d == 1).sum(), (d == 0).sum())))
    frame = ctx.frames["risk_sets"]  # type: ignore[attr-defined]
    r = res.to_frame().loc["ATT"]
    sd = float(frame.loc[frame["treated"] == 0, "months_bijstand"].std())
    ev = e_value(r["estimate"] / sd, r["ci_upper"] / sd if r["estimate"] < 0 else r["ci_lower"] / sd, scale="SMD")
    ctx.report.markdown(t("intervention.evalue_text", ctx.lang, e=fmt_number(ev["e_value"], ctx.lang, 2),
                          eci=fmt_number(ev["e_value_ci"], ctx.lang, 2)))


def exit_curves(ctx: StudyContext) -> None:
    """Share still in bijstand by months since the start month, and exits to work versus other exits
    as competing risks (Aalen-Johansen): participants and their risk sets."""
    import matplotlib.pyplot as plt

    from analysis.estimators import cumulative_incidence, kaplan_meier
    from analysis.report import theme
    from analysis.report.labels import t

    frame = ctx.frames["risk_sets"].copy()  # type: ignore[attr-defined]
    frame["months"] = (frame["spell_end"] - frame["month"]).clip(lower=0) + 0.5
    frame["ended"] = (~frame["spell_censored"].astype(bool)).astype(int)
    frame["group"] = np.where(frame["treated"] == 1, t("intervention.participants", ctx.lang),
                              t("intervention.controls", ctx.lang))
    km = kaplan_meier(frame, duration="months", event="ended", group="group")
    ax = km.plot()
    ax.set_xlabel(t("intervention.months_since_start", ctx.lang))
    ax.set_ylabel(t("overview.still_in_bijstand", ctx.lang))
    ax.set_xlim(0, 60)
    ctx.report.figure(ax.figure, caption=t("intervention.km_caption", ctx.lang))
    # Competing risks: leaving for work (a job within 31 days) versus leaving for other reasons
    # (Aalen-Johansen; 1 - Kaplan-Meier of one cause would overstate it).
    to_work = frame["days_to_job"].notna() & (frame["days_to_job"] <= 31) & (frame["ended"] == 1)
    work, other = t("intervention.cause_work", ctx.lang), t("intervention.cause_other", ctx.lang)
    frame["cause"] = np.where(frame["ended"] == 0, "0", np.where(to_work, work, other))
    frame["cause"] = frame["cause"].replace("0", 0)
    cif = cumulative_incidence(frame, duration="months", event="cause", causes=[work, other], group="group")
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.0), sharey=True)
    for ax, cause in zip(axes, (work, other)):
        for i, (name, part) in enumerate(cif.curves[cif.curves["cause"] == cause].groupby("group", sort=False)):
            color = theme.PALETTE[i]
            ax.step(np.r_[0, part["time"]], np.r_[0, part["cif"]], where="post", color=color, label=name)
            ax.fill_between(np.r_[0, part["time"]], np.r_[0, part["ci_lower"]], np.r_[0, part["ci_upper"]],
                            step="post", alpha=0.15, color=color, lw=0)
        ax.set_title(cause)
        ax.set_xlim(0, 60)
        ax.set_xlabel(t("intervention.months_since_start", ctx.lang))
    axes[0].set_ylabel(t("intervention.cumulative_share", ctx.lang))
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    n_min = int(frame.groupby("group").size().min())
    ctx.report.figure(fig, caption=t("intervention.cif_caption", ctx.lang), counts=n_min)
    at = cif.at([12, 24]).pivot(index=["group", "time"], columns="cause", values="cif").reset_index()
    n_by = frame.groupby("group").size()
    tab = pd.DataFrame({t("intake.group", ctx.lang): at["group"], t("intervention.months_since_start", ctx.lang):
                        at["time"].astype(int).astype(str), t("intervention.rows", ctx.lang): at["group"].map(n_by),
                        work: at[work], other: at[other]})
    ctx.report.table(tab, caption=t("intervention.competing_caption", ctx.lang), counts=t("intervention.rows", ctx.lang),
                     number_formats={work: "pct", other: "pct"})


def returns(ctx: StudyContext) -> dict:
    """Net benefit per participant with its uncertainty: benefit saved (+ health savings) minus the cost."""
    from analysis.estimators.cost_benefit import cost_benefit, discount_factors, normal_draws
    from analysis.report.labels import fmt_eur, fmt_pct, t

    frame = ctx.frames["risk_sets"]  # type: ignore[attr-defined]
    res = ctx.frames["results"]  # type: ignore[attr-defined]
    h = ctx.parameters["outcome_months"]
    months, emp = res["months_bijstand"]["aipw"], res["employed_end"]["aipw"]
    # joint sampling distribution of the two AIPW effects from their influence functions (clustered)
    keep = months.diagnostics["kept"] & emp.diagnostics["kept"]
    inf1 = pd.Series(months.diagnostics["influence"], index=np.flatnonzero(months.diagnostics["kept"])).reindex(
        np.flatnonzero(keep)).to_numpy()
    inf2 = pd.Series(emp.diagnostics["influence"], index=np.flatnonzero(emp.diagnostics["kept"])).reindex(
        np.flatnonzero(keep)).to_numpy()
    groups = frame["person_id"].to_numpy()[keep]
    g = pd.DataFrame({"a": inf1, "b": inf2}).groupby(groups).sum().to_numpy()
    cov = g.T @ g / len(inf1) ** 2
    est = np.array([months.to_frame().loc["ATT", "estimate"], emp.to_frame().loc["ATT", "estimate"]])
    amount = frame.loc[frame["treated"] == 1, "monthly_amount_eur"].fillna(ctx.parameters["monthly_benefit_eur"]).mean()
    factor = discount_factors(h, ctx.parameters["discount_rate"], per_year=12).mean()  # months saved spread over h
    health = _health_savings(ctx) if ctx.parameters["include_health_savings"] else 0.0
    inter = ctx.dataset.tables["interventions"]
    cost = float(inter.loc[inter["intervention"] == ctx.parameters["intervention"], "cost_eur"].mean())
    draws = normal_draws(est, cov, n_draws=20_000, seed=ctx.parameters["seed"])
    benefit_draws = -draws[:, 0] * amount * factor + draws[:, 1] * health
    benefit = float(-est[0] * amount * factor + est[1] * health)
    cb = cost_benefit(benefit_draws, benefit=benefit, cost=cost)
    n = int(frame["treated"].sum())
    lo, hi = np.quantile(cb.draws, [0.025, 0.975])
    ctx.add_estimates([
        {"name": "net_benefit_per_participant_eur", "estimate": cb.net_benefit, "se": float(np.std(cb.draws)),
         "ci_low": float(lo), "ci_high": float(hi), "n": n, "unit": "EUR per participant", "suppressed": False},
        {"name": "benefit_cost_ratio", "estimate": cb.benefit_cost_ratio,
         "se": float(np.std(benefit_draws / cost)), "ci_low": float(np.quantile(benefit_draws / cost, 0.025)),
         "ci_high": float(np.quantile(benefit_draws / cost, 0.975)), "n": n, "unit": "ratio", "suppressed": False},
        {"name": "break_even_cost_eur", "estimate": cb.break_even_cost, "se": float(np.std(benefit_draws)),
         "ci_low": float(np.quantile(benefit_draws, 0.025)), "ci_high": float(np.quantile(benefit_draws, 0.975)),
         "n": n, "unit": "EUR per participant", "suppressed": False},
        {"name": "prob_pays_off", "estimate": cb.prob_pays_off, "se": None, "ci_low": None, "ci_high": None,
         "n": n, "unit": "probability", "suppressed": False},
    ])
    ax = cb.plot(xlabel=t("intervention.net_benefit_axis", ctx.lang))
    ctx.report.figure(ax.figure, caption=t("intervention.returns_caption", ctx.lang))
    ctx.report.markdown(t("intervention.returns_text", ctx.lang, amount=fmt_eur(amount, ctx.lang),
                          cost=fmt_eur(cost, ctx.lang), benefit=fmt_eur(benefit, ctx.lang),
                          net=fmt_eur(cb.net_benefit, ctx.lang), p=fmt_pct(cb.prob_pays_off, ctx.lang, 0),
                          health=t("intervention.returns_health", ctx.lang, health=fmt_eur(health, ctx.lang))
                          if ctx.parameters["include_health_savings"] else t("intervention.returns_no_health", ctx.lang)))
    ctx.frames["returns"] = cb  # type: ignore[attr-defined]
    return {"net_benefit": cb.net_benefit, "prob_pays_off": cb.prob_pays_off}


def _health_savings(ctx: StudyContext) -> float:
    from analysis.paths import reports_root

    path = reports_root() / "exit_health" / "latest" / "results.json"
    if not path.is_file():
        raise StudyError("include_health_savings needs an exit_health run on the same dataset first "
                         "(rendeert run exit_health --dataset ...).")
    results = json.loads(path.read_text(encoding="utf-8"))
    if results["dataset"]["sha256"] != ctx.dataset.content_hash:
        raise StudyError("The latest exit_health run used another dataset; rerun exit_health on this one.")
    row = next(e for e in results["estimates"] if e["name"] == "health_savings_per_exit_eur")
    return float(row["estimate"] or 0.0)


def summary(ctx: StudyContext) -> None:
    from analysis.report.labels import fmt_eur, fmt_number, fmt_pct, t

    h = ctx.parameters["outcome_months"]
    m = ctx.estimate(f"att_months_bijstand_{h}m")
    nv = ctx.estimate(f"naive_months_bijstand_{h}m")
    p = ctx.estimate("prob_pays_off")
    net = ctx.estimate("net_benefit_per_participant_eur")
    inter = ctx.dataset.tables["interventions"]
    cost = float(inter.loc[inter["intervention"] == ctx.parameters["intervention"], "cost_eur"].mean())
    ctx.report.markdown(t("intervention.summary", ctx.lang, name=ctx.parameters["intervention"], h=h,
                          months=fmt_number(-m["estimate"], ctx.lang, 1), naive=fmt_number(-nv["estimate"], ctx.lang, 1),
                          cost=fmt_eur(cost, ctx.lang), net=fmt_eur(net["estimate"], ctx.lang),
                          p=fmt_pct(p["estimate"], ctx.lang, 0)))


def methods(ctx: StudyContext) -> None:
    from analysis.report.labels import t

    ctx.report.heading(t("intake.methods_heading", ctx.lang))
    ctx.report.markdown(t("intervention.methods", ctx.lang, h=ctx.parameters["outcome_months"],
                          k=ctx.parameters["max_controls"]))
