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

Disclosure control. Every effect carries the participants it rests on (``n``,
at most the participating persons in the risk sets), the comparison persons and
its dominance (the estimator's per-unit contributions; the naive difference's
person-level influence terms). A population with fewer than 10 participants or
comparison persons (a small municipality, a rare programme) is not estimated:
every result is withheld and the report says so. The mean programme cost and the
mean monthly benefit are means of amounts: withheld when they rest on fewer than
10 persons or two persons make up more than 90 percent of them, and then every
return that would give them away (net benefit, ratio, probability of paying off)
is withheld too. Survival and cumulative-incidence curves stop where fewer than
10 remain at risk; shares at 12 and 24 months pass the numerator and complement
rule; balance rows of a 0/1 covariate held by fewer than 10 participants or
comparisons (or lacked by fewer than 10) are withheld; overlap histogram bins with
fewer than 10 persons are marked, not drawn.
"""

from __future__ import annotations

import json

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
          max_controls: int = 20, municipality: str = "all", lang: str = "nl", seed: int = 0,
          output_dir: str = "") -> StudyContext:
    if outcome_months < 6 or outcome_months > 48:
        raise ParameterError(f"outcome_months={outcome_months} must lie between 6 and 48.")
    if by not in ("none", "municipality", "sex"):
        raise ParameterError(f"by={by!r} is not allowed; choose 'none', 'municipality' or 'sex'.")
    ctx = setup_study("intervention", dataset=dataset, lang=lang, output_dir=output_dir,
                      title_key="intervention.title",
                      parameters={"intervention": intervention, "outcome_months": outcome_months,
                                  "monthly_benefit_eur": monthly_benefit_eur, "discount_rate": discount_rate,
                                  "include_health_savings": include_health_savings, "by": by,
                                  "max_controls": max_controls, "municipality": municipality, "seed": seed})
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
    code = ctx.parameters["municipality"]
    where = "TRUE" if code == "all" else f"p.municipality_code = '{code}'"  # validated against the data's codes
    spells = con.execute(f"""SELECT b.person_id, b.start_month, b.end_month FROM bijstand_spells b
                             JOIN persons p USING (person_id) WHERE {where}""").df()
    frame = risk_set_frame(spells, starts, max_controls=ctx.parameters["max_controls"], seed=ctx.parameters["seed"])
    frame = frame[frame["month"] + h <= m1].reset_index(drop=True)  # the full outcome window is observed
    units = (int(frame.loc[frame["treated"] == 1, "person_id"].nunique()),
             int(frame.loc[frame["treated"] == 0, "person_id"].nunique()))
    ctx.frames = {"risk_sets": frame, "covariates": [], "design_units": units,  # type: ignore[attr-defined]
                  "estimable": min(units) >= ctx.report.policy.min_units}
    if not ctx.frames["estimable"]:  # type: ignore[attr-defined]
        return frame
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
    ctx.frames.update(risk_sets=frame, covariates=covariates)  # type: ignore[attr-defined]
    return frame


def _names(ctx: StudyContext) -> list[str]:
    """Every results.json name this study writes (also when it withholds them all)."""
    h = ctx.parameters["outcome_months"]
    names = [f"att_months_bijstand_{h}m", f"att_employed_{h}m", f"naive_months_bijstand_{h}m"]
    ladder = ctx.dataset.tables.get("participation_ladder")
    if ladder is not None and not ladder.empty:
        names.append(f"att_ladder_step_{LADDER_MONTH}m")
    return names + list(RETURNS)


#: results.json rows of the returns, with their units
RETURNS = {"net_benefit_per_participant_eur": "EUR per participant", "benefit_cost_ratio": "ratio",
           "break_even_cost_eur": "EUR per participant", "prob_pays_off": "probability"}
UNITS = {"months_bijstand": "months", "employed_end": "probability difference", "ladder_step_12m": "ladder steps"}


def _blank(name: str, unit: str, n: int, n_control: int | None = None) -> dict:
    """A row not estimated on ``n`` participants / ``n_control`` comparisons: the policy withholds it."""
    return {"name": name, "estimate": None, "se": None, "ci_low": None, "ci_high": None, "n": int(n),
            "unit": unit, "suppressed": False, "_n_control": n_control}


def _row(ctx: StudyContext, res, name: str, unit: str, frame: pd.DataFrame | None = None) -> dict:
    """The results row of an estimator's ATT, its units capped at the persons of ``frame`` (never more
    participants or comparisons than the risk sets hold)."""
    frame = ctx.frames["risk_sets"] if frame is None else frame  # type: ignore[attr-defined]
    (row,) = res.to_estimates(unit=unit, terms=["ATT"], names={"ATT": name})
    n_t = int(frame.loc[frame["treated"] == 1, "person_id"].nunique())
    n_c = int(frame.loc[frame["treated"] == 0, "person_id"].nunique())
    row["n"] = min(int(row["n"]), n_t)
    row["_n_control"] = n_c if row.get("_n_control") is None else min(int(row["_n_control"]), n_c)
    return row


def _table(ctx: StudyContext, rows: list[dict], *, name: str, key: str):
    """A checked display table from results-style rows (key ``key``; estimate, ci_low, ci_high, n)."""
    from analysis.report.disclosure import checked_estimates

    return checked_estimates(rows, policy=ctx.report.policy, log=ctx.report.log, name=name).rename({"name": key})


def _value_names(ctx: StudyContext) -> dict:
    from analysis.report.labels import t

    return {"estimate": t("estimate", ctx.lang), "ci_low": t("ci_low", ctx.lang), "ci_high": t("ci_high", ctx.lang)}


def _estimable(ctx: StudyContext) -> bool:
    return bool(ctx.frames["estimable"])  # type: ignore[attr-defined]


def effects(ctx: StudyContext) -> pd.DataFrame | None:
    """AIPW (headline), regression adjustment, IPW, matching and the naive difference, both outcomes."""
    from analysis.estimators.propensity import att_aipw, att_ipw, att_matching, att_regression
    from analysis.report.labels import t

    h = ctx.parameters["outcome_months"]
    if not _estimable(ctx):
        n_t, n_c = ctx.frames["design_units"]  # type: ignore[attr-defined]
        units = {**RETURNS, f"att_months_bijstand_{h}m": "months", f"att_employed_{h}m": "probability difference",
                 f"naive_months_bijstand_{h}m": "months", f"att_ladder_step_{LADDER_MONTH}m": "ladder steps"}
        ctx.add_estimates([_blank(name, units[name], n_t, n_c) for name in _names(ctx)])
        ctx.report.markdown(t("intervention.too_few", ctx.lang, min_units=ctx.report.policy.min_units))
        return None
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
        for name, res in ests.items():
            rows.append({**_row(ctx, res, f"{outcome} {name}", UNITS[outcome]), "outcome": outcome, "estimator": name})
        rows.append({**_naive(ctx, frame, outcome, f"{outcome} naive"), "outcome": outcome, "estimator": "naive"})
    ctx.frames["results"] = results  # type: ignore[attr-defined]
    head = {"months_bijstand": f"att_months_bijstand_{h}m", "employed_end": f"att_employed_{h}m"}
    ctx.add_estimates([{**_row(ctx, results[o]["aipw"], key, UNITS[o])} for o, key in head.items()])
    ctx.add_estimates([_naive(ctx, frame, "months_bijstand", f"naive_months_bijstand_{h}m")])
    from analysis.report.checked import concat

    order = ["aipw", "regression", "ipw", "matching", "naive"]
    est_col, out_col = t("intervention.estimator", ctx.lang), t("exit_health.outcome", ctx.lang)
    outcome_label = {"months_bijstand": t("intervention.months_effect", ctx.lang, h=h),
                     "employed_end": t("intervention.employed_effect", ctx.lang, h=h)}
    parts = []
    for outcome in ("months_bijstand", "employed_end"):
        part = [{k: v for k, v in r.items() if k not in ("outcome", "estimator")}
                for e in order for r in rows if r["outcome"] == outcome and r["estimator"] == e]
        for r, e in zip(part, order):
            r["name"] = t(f"intervention.est.{e}", ctx.lang)
        parts.append(_table(ctx, part, name=f"effects {outcome}", key=est_col).with_key(out_col, outcome_label[outcome]))
    names = _value_names(ctx)
    table = concat(parts, name="effects").select([out_col, est_col, *names]).rename(names)
    head = ctx.estimate(f"att_months_bijstand_{h}m")
    n_text = ctx.report.policy.symbol if head["suppressed"] else head["n"]
    ctx.report.table(table, caption=t("intervention.effects_caption", ctx.lang, n=n_text),
                     number_formats={v: "num3" for v in names.values()})
    return table


def ladder_effect(ctx: StudyContext) -> dict | None:
    """AIPW effect on the participation-ladder step 12 months after the start, where the data have it."""
    from analysis.estimators.propensity import att_aipw
    from analysis.report.labels import fmt_number, t

    name = f"att_ladder_step_{LADDER_MONTH}m"
    if not _estimable(ctx):
        return None
    frame = ctx.frames["risk_sets"]  # type: ignore[attr-defined]
    if "ladder_step_12m" not in frame:
        ctx.report.markdown(t("intervention.ladder_absent", ctx.lang))
        return None
    part = frame.dropna(subset=["ladder_step_12m"])
    n_t = int(part.loc[part["treated"] == 1, "person_id"].nunique())
    n_c = int(part.loc[part["treated"] == 0, "person_id"].nunique())
    row = _blank(name, "ladder steps", n_t, n_c)
    if min(n_t, n_c) >= ctx.report.policy.min_units:
        covs = [c for c in ctx.frames["covariates"] if part[c].std() > 0]  # type: ignore[attr-defined]
        res = att_aipw(part, outcome="ladder_step_12m", treatment="treated", covariates=covs, cluster="person_id",
                       seed=ctx.parameters["seed"])
        row = _row(ctx, res, name, "ladder steps", part)
    (row,) = ctx.add_estimates([row])
    if row["estimate"] is None:
        ctx.report.markdown(t("intervention.ladder_withheld", ctx.lang, min_units=ctx.report.policy.min_units))
        return row
    # the share of comparisons with a measurement is a share of rows: numerator and complement
    with_m, without = len(part), len(frame) - len(part)
    share = (fmt_number(100 * len(part) / len(frame), ctx.lang, digits=0)
             if min(with_m, without) >= ctx.report.policy.min_units else ctx.report.policy.symbol)
    ctx.report.markdown(t("intervention.ladder_text", ctx.lang, months=LADDER_MONTH,
                          effect=fmt_number(row["estimate"], ctx.lang, digits=2),
                          low=fmt_number(row["ci_low"], ctx.lang, digits=2),
                          high=fmt_number(row["ci_high"], ctx.lang, digits=2), share=share))
    return row


def by_group(ctx: StudyContext) -> pd.DataFrame | None:
    """AIPW effects per subgroup (``by`` = sex or municipality); small groups are withheld, and with one
    group withheld the participant counts of all groups (which with the total would give it away)."""
    from analysis.estimators.propensity import att_aipw
    from analysis.report.labels import t

    by = ctx.parameters["by"]
    if by == "none" or not _estimable(ctx):
        return None
    frame = ctx.frames["risk_sets"]  # type: ignore[attr-defined]
    column = "sex" if by == "sex" else "municipality_code"
    covs = [c for c in ctx.frames["covariates"] if not c.startswith("muni_") and c != "female"]  # type: ignore[attr-defined]
    rows = []
    for value, part in frame.groupby(column):
        n_t = int(part.loc[part["treated"] == 1, "person_id"].nunique())
        n_c = int(part.loc[part["treated"] == 0, "person_id"].nunique())
        row = _blank(str(value), "months", n_t, n_c)
        if min(n_t, n_c) >= ctx.report.policy.min_units:
            covs_here = [c for c in covs if part[c].std() > 0]
            res = att_aipw(part, outcome="months_bijstand", treatment="treated", covariates=covs_here,
                           cluster="person_id", seed=ctx.parameters["seed"], folds=3)
            row = _row(ctx, res, str(value), "months", part)
        rows.append(row)
    group_col = t("intake.group", ctx.lang)
    table = _table(ctx, rows, name=f"by_{by}", key=group_col)
    names = {**_value_names(ctx), "n": t("intervention.participants", ctx.lang)}
    columns = [group_col, "estimate", "ci_low", "ci_high"] + ([] if table.any_withheld else ["n"])
    table = table.select(columns).rename(names)
    ctx.report.table(table, caption=t("intervention.by_caption", ctx.lang, h=ctx.parameters["outcome_months"]),
                     number_formats={names["estimate"]: "num2", names["ci_low"]: "num2", names["ci_high"]: "num2",
                                     names["n"]: "int"})
    return table


def _naive(ctx, frame, outcome, name):
    """Participants minus all eligible non-participants, unadjusted (cluster-robust SE): a results row
    whose dominance comes from the person-level influence terms."""
    from analysis.estimators.results import dominance_share

    y, d = frame[outcome].to_numpy(float), frame["treated"].to_numpy()
    est = y[d == 1].mean() - y[d == 0].mean()
    n1, n0 = (d == 1).sum(), (d == 0).sum()
    inf = np.where(d == 1, (y - y[d == 1].mean()) / (n1 / len(y)), -(y - y[d == 0].mean()) / (n0 / len(y)))
    g = pd.Series(inf).groupby(frame["person_id"].to_numpy()).sum().to_numpy()
    se = float(np.sqrt(np.sum(g ** 2)) / len(y))
    return {"name": name, "estimate": float(est), "se": se, "ci_low": float(est - 1.96 * se),
            "ci_high": float(est + 1.96 * se), "n": int(frame.loc[d == 1, "person_id"].nunique()),
            "unit": UNITS[outcome], "suppressed": False,
            "_n_control": int(frame.loc[d == 0, "person_id"].nunique()), "_dominance": dominance_share(g)}


def covariate_label(name: str, lang: str) -> str:
    """The report label of a risk-set covariate (``muni_GM0363`` becomes "gemeente GM0363")."""
    from analysis.report.labels import t

    if name.startswith("muni_"):
        return t("intervention.cov.muni", lang, code=name.removeprefix("muni_"))
    return t(f"intervention.cov.{name}", lang)


def _smallest_cell(frame: pd.DataFrame, column: str) -> int:
    """The units a covariate's standardised difference rests on: the participants and comparisons, and
    for a 0/1 covariate those who have it and those who lack it in each group (a share in disguise)."""
    values = frame[column].dropna()
    by = frame.groupby("treated")[column]
    sizes = by.size()
    if not values.isin([0, 1]).all():
        return int(frame.groupby("treated")["person_id"].nunique().min())
    ones = by.sum()
    return int(min(ones.min(), (sizes - ones).min()))


#: Upper ends the overlap histogram may take (a round value, not the largest person's score).
PS_RANGES = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


def diagnostics(ctx: StudyContext) -> None:
    """Balance before and after weighting, overlap of the propensity scores, and the E-value."""
    from analysis.estimators.propensity import e_value
    from analysis.report import figures
    from analysis.report.checked import combine
    from analysis.report.disclosure import safe_aggregate, shares_within
    from analysis.report.labels import fmt_number, t, t_plain

    if not _estimable(ctx):
        return
    frame = ctx.frames["risk_sets"]  # type: ignore[attr-defined]
    m = ctx.report.policy
    res = ctx.frames["results"]["months_bijstand"]["aipw"]  # type: ignore[attr-defined]
    bal = res.diagnostics["balance"]
    key = t("intervention.covariate", ctx.lang)
    parts = []
    for col, label in (("smd_before", "intervention.smd_before"), ("smd_after", "intervention.smd_after")):
        rows = [{"name": covariate_label(c, ctx.lang), "estimate": float(v), "se": None, "ci_low": None,
                 "ci_high": None, "n": _smallest_cell(frame, c) if c in frame else 0, "unit": "SMD",
                 "suppressed": False} for c, v in zip(bal["covariate"], bal[col])]
        parts.append((t(label, ctx.lang), _table(ctx, rows, name=f"balance {col}", key=key), "estimate"))
    table = combine(parts, on=[key], name="balance")
    ctx.report.table(table, caption=t("intervention.balance_caption", ctx.lang),
                     number_formats={p[0]: "num3" for p in parts})
    ps, d = np.asarray(res.diagnostics["propensity"]), np.asarray(res.diagnostics["treated"])
    top = next((r for r in PS_RANGES if (ps <= r).mean() >= 0.999), 1.0)
    edges = np.linspace(0, top, 11)
    labels = [f"{fmt_number(a, ctx.lang, 3)}-{fmt_number(b, ctx.lang, 3)}" for a, b in zip(edges[:-1], edges[1:])]
    group = np.where(d == 1, t_plain("intervention.participants", ctx.lang), t_plain("intervention.controls", ctx.lang))
    scores = pd.DataFrame({"group": group, "bin": pd.Categorical(
        np.array(labels)[np.clip(np.digitize(ps, edges[1:-1]), 0, len(labels) - 1)], categories=labels)})
    counts = safe_aggregate(scores, by=["bin", "group"], stat="count", policy=m, log=ctx.report.log, name="overlap",
                            levels={"bin": labels, "group": sorted(set(group))})
    shares = shares_within(counts, within=["group"], name="overlap_shares", policy=m, log=ctx.report.log)
    fig = figures.grouped_bars(shares, x="bin", y="value", group="group", percent=True, lang=ctx.lang,
                               ylabel=t_plain("intervention.share_in_bin", ctx.lang))
    fig.figure.axes[0].set_xlabel(t_plain("intervention.propensity", ctx.lang))
    fig.figure.axes[0].tick_params(axis="x", labelrotation=45, labelsize=7)
    ctx.report.figure(fig, caption=t("intervention.overlap_caption", ctx.lang,
                                     dropped=_count_text(ctx, res.diagnostics["dropped_by_trimming"])))
    head = ctx.estimate(f"att_months_bijstand_{ctx.parameters['outcome_months']}m")
    if head["suppressed"]:
        return
    r = res.to_frame().loc["ATT"]
    sd = float(frame.loc[frame["treated"] == 0, "months_bijstand"].std())
    ev = e_value(r["estimate"] / sd, r["ci_upper"] / sd if r["estimate"] < 0 else r["ci_lower"] / sd, scale="SMD")
    ctx.report.markdown(t("intervention.evalue_text", ctx.lang, e=fmt_number(ev["e_value"], ctx.lang, 2),
                          eci=fmt_number(ev["e_value_ci"], ctx.lang, 2)))


def _count_text(ctx: StudyContext, n: int) -> str:
    """A count of units for a sentence: itself when 0 or from ``min_units`` on, else "fewer than 10"."""
    from analysis.report.labels import fmt_int, t

    n = int(n)
    if n == 0 or n >= ctx.report.policy.min_units:
        return fmt_int(n, ctx.lang)
    return t("fewer_than", ctx.lang, min_units=ctx.report.policy.min_units)


def exit_curves(ctx: StudyContext) -> None:
    """Share still in bijstand by months since the start month (Kaplan-Meier, stopping where fewer than
    10 remain at risk), and exits to work versus other exits as competing risks (Aalen-Johansen, by
    month; each point a share of the group that passes the numerator and complement rule, with 10 or
    more still at risk): participants and their risk sets."""
    from analysis.estimators import cumulative_incidence, kaplan_meier
    from analysis.report import figures
    from analysis.report.disclosure import survival_curve
    from analysis.report.labels import t, t_plain

    if not _estimable(ctx):
        return
    m = ctx.report.policy
    frame = ctx.frames["risk_sets"].copy()  # type: ignore[attr-defined]
    frame["months"] = (frame["spell_end"] - frame["month"]).clip(lower=0) + 0.5
    frame["ended"] = (~frame["spell_censored"].astype(bool)).astype(int)
    frame["group"] = np.where(frame["treated"] == 1, t_plain("intervention.participants", ctx.lang),
                              t_plain("intervention.controls", ctx.lang))
    km = kaplan_meier(frame, duration="months", event="ended", group="group")
    curve = survival_curve(km, policy=m, log=ctx.report.log, name="still_in_bijstand")
    fig = figures.survival(curve, xlabel=t_plain("intervention.months_since_start", ctx.lang),
                           ylabel=t_plain("overview.still_in_bijstand", ctx.lang), lang=ctx.lang, min_units=m.min_units)
    fig.figure.axes[0].set_xlim(0, 60)
    ctx.report.figure(fig, caption=t("intervention.km_caption", ctx.lang))
    # Competing risks: leaving for work (a job within 31 days) versus leaving for other reasons
    # (Aalen-Johansen; 1 - Kaplan-Meier of one cause would overstate it).
    to_work = frame["days_to_job"].notna() & (frame["days_to_job"] <= 31) & (frame["ended"] == 1)
    work, other = t_plain("intervention.cause_work", ctx.lang), t_plain("intervention.cause_other", ctx.lang)
    frame["cause"] = np.where(frame["ended"] == 0, "0", np.where(to_work, work, other))
    frame["cause"] = frame["cause"].replace("0", 0)
    cif = cumulative_incidence(frame, duration="months", event="cause", causes=[work, other], group="group")
    n_by = frame.groupby("group").size()

    def rows(times):
        out = []
        for r in cif.at(times).itertuples(index=False):
            curve = cif.curves[(cif.curves["group"] == r.group) & (cif.curves["cause"] == r.cause)]
            still = curve.loc[curve["time"] > r.time, "at_risk"]
            at_risk = float(still.iloc[0]) if len(still) else 0.0
            n = int(n_by[r.group]) if at_risk >= m.min_units else 0
            out.append({"name": f"{r.group}: {r.cause}\t{r.time:g}", "estimate": r.cif, "se": r.std_error,
                        "ci_low": r.ci_lower, "ci_high": r.ci_upper, "n": n, "unit": "share", "suppressed": False})
        return out

    line = _table(ctx, rows(list(range(1, 61))), name="competing_risks", key="name")
    line = line.relabel("name", lambda s: s.split("\t")[0], into="series").relabel(
        "name", lambda s: float(s.split("\t")[1]), into="time")
    fig = figures.line_by_group(line, x="time", y="estimate", group="series", lower="ci_low", upper="ci_high",
                                percent=True, lang=ctx.lang, xlabel=t_plain("intervention.months_since_start", ctx.lang),
                                ylabel=t_plain("intervention.cumulative_share", ctx.lang))
    ctx.report.figure(fig, caption=t("intervention.cif_caption", ctx.lang))
    tab = _table(ctx, rows([12, 24]), name="competing_risks_12_24", key="name")
    when = t("intervention.months_since_start", ctx.lang)
    tab = tab.relabel("name", lambda s: s.split("\t")[0], into=t("intake.group", ctx.lang)).relabel(
        "name", lambda s: s.split("\t")[1], into=when)
    names = {"estimate": t("intervention.cumulative_share", ctx.lang), "ci_low": t("ci_low", ctx.lang),
             "ci_high": t("ci_high", ctx.lang)}
    tab = tab.select([t("intake.group", ctx.lang), when, "estimate", "ci_low", "ci_high"]).rename(names)
    ctx.report.table(tab, caption=t("intervention.competing_caption", ctx.lang),
                     number_formats={v: "pct" for v in names.values()})


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


def returns(ctx: StudyContext) -> dict:
    """Net benefit per participant with its uncertainty: benefit saved (+ health savings) minus the cost."""
    from analysis.estimators.cost_benefit import cost_benefit, discount_factors, normal_draws
    from analysis.report.labels import fmt_eur, fmt_pct, t

    if not _estimable(ctx):
        return {}
    frame = ctx.frames["risk_sets"]  # type: ignore[attr-defined]
    res = ctx.frames["results"]  # type: ignore[attr-defined]
    h = ctx.parameters["outcome_months"]
    heads = [ctx.estimate(f"att_months_bijstand_{h}m"), ctx.estimate(f"att_employed_{h}m")]
    n = heads[0]["n"]
    amount = _mean_amount(ctx, frame.loc[frame["treated"] == 1, "monthly_amount_eur"].fillna(
        ctx.parameters["monthly_benefit_eur"]), t("intervention.monthly_amount", ctx.lang))
    cost = _mean_amount(ctx, _programme_costs(ctx), t("intervention.programme_cost", ctx.lang))
    if any(r["suppressed"] for r in heads) or amount is None:
        ctx.add_estimates([_blank(k, u, 0) for k, u in RETURNS.items()])
        ctx.report.markdown(t("intervention.returns_withheld", ctx.lang, min_units=ctx.report.policy.min_units))
        ctx.frames["cost"] = cost  # type: ignore[attr-defined]
        return {}
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
    factor = discount_factors(h, ctx.parameters["discount_rate"], per_year=12).mean()  # months saved spread over h
    health = _health_savings(ctx) if ctx.parameters["include_health_savings"] else 0.0
    draws = normal_draws(est, cov, n_draws=20_000, seed=ctx.parameters["seed"])
    benefit_draws = -draws[:, 0] * amount * factor + draws[:, 1] * health
    benefit = float(-est[0] * amount * factor + est[1] * health)
    ctx.frames["cost"] = cost  # type: ignore[attr-defined]
    rows = {"break_even_cost_eur": (benefit, float(np.std(benefit_draws)), *np.quantile(benefit_draws, [0.025, 0.975]))}
    if cost is not None:
        cb = cost_benefit(benefit_draws, benefit=benefit, cost=cost)
        lo, hi = np.quantile(cb.draws, [0.025, 0.975])
        ratio = benefit_draws / cost if cost > 0 else np.full_like(benefit_draws, np.inf)
        rows.update(net_benefit_per_participant_eur=(cb.net_benefit, float(np.std(cb.draws)), lo, hi),
                    benefit_cost_ratio=(cb.benefit_cost_ratio, float(np.std(ratio)), *np.quantile(ratio, [0.025, 0.975])),
                    prob_pays_off=(cb.prob_pays_off, None, None, None))
    out = []
    for key, unit in RETURNS.items():
        if key not in rows:  # follows from the withheld cost and the published benefit
            out.append({**_blank(key, unit, n), "suppressed": True})
            ctx.report.log.add("results.json", key, "derived")
            continue
        e, se, lo, hi = rows[key]
        out.append({"name": key, "estimate": float(e), "se": None if se is None else float(se),
                    "ci_low": None if lo is None else float(lo), "ci_high": None if hi is None else float(hi),
                    "n": n, "unit": unit, "suppressed": False})
    ctx.add_estimates(out)
    health_text = _Markup(t("intervention.returns_health", ctx.lang, health=fmt_eur(health, ctx.lang))
                          if ctx.parameters["include_health_savings"] else t("intervention.returns_no_health", ctx.lang))
    if cost is None:
        ctx.report.markdown(t("intervention.returns_cost_withheld", ctx.lang, amount=fmt_eur(amount, ctx.lang),
                              benefit=fmt_eur(benefit, ctx.lang), health=health_text,
                              min_units=ctx.report.policy.min_units))
        return {}
    _returns_figure(ctx, cb.draws, n)
    ctx.report.markdown(t("intervention.returns_text", ctx.lang, amount=fmt_eur(amount, ctx.lang),
                          cost=fmt_eur(cost, ctx.lang), benefit=fmt_eur(benefit, ctx.lang),
                          net=fmt_eur(cb.net_benefit, ctx.lang), p=fmt_pct(cb.prob_pays_off, ctx.lang, 0),
                          health=health_text))
    ctx.frames["returns"] = cb  # type: ignore[attr-defined]
    return {"net_benefit": cb.net_benefit, "prob_pays_off": cb.prob_pays_off}


class _Markup:
    """Catalogue text inserted into another catalogue text as is (``t`` escapes only ``str`` values)."""

    def __init__(self, text: str):
        self.text = text

    def __format__(self, spec: str) -> str:
        return self.text


def _returns_figure(ctx: StudyContext, draws: np.ndarray, n: int) -> None:
    """The sampling distribution of the net benefit (draws from the effects' joint normal distribution,
    so every point follows from the published effects and their standard errors), as a density line."""
    from analysis.report import figures
    from analysis.report.labels import t, t_plain

    lo, hi = np.quantile(draws, [0.005, 0.995])
    edges = np.linspace(lo, hi, 41)
    counts, _ = np.histogram(draws, bins=edges)
    mids = (edges[:-1] + edges[1:]) / 2
    rows = [{"name": f"{x:.6g}", "estimate": c / len(draws), "se": None, "ci_low": None, "ci_high": None, "n": n,
             "unit": "probability", "suppressed": False} for x, c in zip(mids, counts)]
    line = _table(ctx, rows, name="net_benefit_draws", key="name").relabel("name", float, into="x").with_key(
        "series", t_plain("intervention.net_benefit_axis", ctx.lang))
    fig = figures.line_by_group(line, x="x", y="estimate", group="series", percent=True, lang=ctx.lang,
                                xlabel=t_plain("intervention.net_benefit_axis", ctx.lang),
                                ylabel=t_plain("intervention.share_of_draws", ctx.lang))
    fig.figure.axes[0].axvline(0, color="#D55E00", lw=1.5)
    ctx.report.figure(fig, caption=t("intervention.returns_caption", ctx.lang))


def _health_savings(ctx: StudyContext) -> float:
    from analysis.paths import reports_root

    path = reports_root() / "exit_health" / "latest" / "results.json"
    if not path.is_file():
        raise StudyError("include_health_savings needs an exit_health run on the same dataset first "
                         "(rendeert run exit_health --dataset ...).")
    results = json.loads(path.read_text(encoding="utf-8"))
    if results["dataset"]["sha256"] != ctx.dataset.content_hash:
        raise StudyError("The latest exit_health run used another dataset; rerun exit_health on this one.")
    theirs = results["parameters"].get("municipality", "all")
    if theirs != ctx.parameters["municipality"]:
        raise StudyError(f"The latest exit_health run is for municipality={theirs!r}, this run for "
                         f"{ctx.parameters['municipality']!r}; rerun exit_health with the same municipality.")
    row = next(e for e in results["estimates"] if e["name"] == "health_savings_per_exit_eur")
    if row["estimate"] is None:
        raise StudyError("The latest exit_health run withheld health_savings_per_exit_eur (too few persons, or "
                         "one or two dominate it); run intervention with include_health_savings=False.")
    return float(row["estimate"])


def summary(ctx: StudyContext) -> None:
    from analysis.report.labels import fmt_eur, fmt_number, fmt_pct, t

    h = ctx.parameters["outcome_months"]
    m = ctx.estimate(f"att_months_bijstand_{h}m")
    if m["suppressed"] or m["estimate"] is None:
        ctx.report.markdown(t("intervention.summary_withheld", ctx.lang))
        ctx.report.say_withheld()
        return

    def val(name, fmt):
        row = ctx.estimate(name)
        return t("suppressed_short", ctx.lang) if row["estimate"] is None else fmt(row["estimate"])

    cost = ctx.frames.get("cost")  # type: ignore[attr-defined]
    ctx.report.markdown(t("intervention.summary", ctx.lang, name=ctx.parameters["intervention"], h=h,
                          months=fmt_number(-m["estimate"], ctx.lang, 1),
                          naive=val(f"naive_months_bijstand_{h}m", lambda v: fmt_number(-v, ctx.lang, 1)),
                          cost=t("suppressed_short", ctx.lang) if cost is None else fmt_eur(cost, ctx.lang),
                          net=val("net_benefit_per_participant_eur", lambda v: fmt_eur(v, ctx.lang)),
                          p=val("prob_pays_off", lambda v: fmt_pct(v, ctx.lang, 0))))
    ctx.report.say_withheld()


def methods(ctx: StudyContext) -> None:
    from analysis.report.labels import t

    ctx.report.heading(t("intake.methods_heading", ctx.lang))
    ctx.report.markdown(t("intervention.methods", ctx.lang, h=ctx.parameters["outcome_months"],
                          k=ctx.parameters["max_controls"]))
