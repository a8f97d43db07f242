"""Study "intake": why people enter bijstand, and how much of the inflow divorce causes.

Frames (built here from the processed store, with DuckDB) and calls into the
estimators; no estimator code lives here.

- Inflow: new merged bijstand spells (a new spell starts after at least one full
  calendar month without bijstand), counted from the 13th month of the window so
  that a full year before every inflow is observed.
- What precedes inflow: events in the inflow month or the ``window_months`` before:
  a partnership ending in divorce or separation, the end of employment (job loss),
  the end of another benefit (ww, wia, other). Non-exclusive shares, and an
  exclusive decomposition in that order of priority.
- The causal effect of the event: Callaway & Sant'Anna on the person-month panel of
  persons exposed to the event (partnered persons for divorce, employed persons for
  job loss); cohort = month of their first event in the window; controls are the
  not-yet-treated (and never-treated) exposed persons. Outcome: receiving bijstand
  in the month. Event time -24..36 months (``horizon_months``), by sex and by economic
  dependence before the event (no employment in the 12 months before).
- Inflow caused: the same design on the monthly inflow indicator. The excess inflow
  among treated persons in months 0..24 after the event (cohort size x ATT(g,t),
  summed over the cells inside the counting period), divided by all inflow in the
  counting period, is the share of inflow the event causes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, StudyError, check_choice
from analysis.studies.base import StudyContext, setup_study

EVENTS = ("divorce", "job_loss")
SHARE_HORIZON = 24
PRE_MONTHS = 24


def setup(*, dataset: str, window_months: int = 12, horizon_months: int = 36, event: str = "divorce",
          municipality: str = "all", lang: str = "nl", seed: int = 0, output_dir: str = "") -> StudyContext:
    check_choice("event", event, EVENTS)
    if not 1 <= window_months <= 36:
        raise ParameterError(f"window_months={window_months} must lie between 1 and 36.")
    if not 12 <= horizon_months <= 60:
        raise ParameterError(f"horizon_months={horizon_months} must lie between 12 and 60.")
    ctx = setup_study("intake", dataset=dataset, lang=lang, output_dir=output_dir, title_key=f"intake.title.{event}",
                      parameters={"window_months": window_months, "horizon_months": horizon_months,
                                  "event": event, "municipality": municipality, "seed": seed})
    from analysis.studies.overview import _check_municipality

    _check_municipality(ctx, municipality)
    meta = ctx.dataset.meta
    ctx.m0 = meta["observation_start"].year * 12 + meta["observation_start"].month - 1  # type: ignore[attr-defined]
    ctx.m1 = meta["observation_end"].year * 12 + meta["observation_end"].month - 1  # type: ignore[attr-defined]
    return ctx


def _where(ctx: StudyContext, alias: str = "p") -> str:
    code = ctx.parameters["municipality"]
    return "TRUE" if code == "all" else f"{alias}.municipality_code = '{code}'"


def _event_sql(ctx: StudyContext) -> str:
    """person_id, month of every event of the chosen kind."""
    if ctx.parameters["event"] == "divorce":
        return "SELECT person_id, month FROM partnership_ends WHERE end_reason IN ('divorce', 'separation')"
    return "SELECT person_id, month FROM employment_ends"


def inflow_events(ctx: StudyContext) -> pd.DataFrame:
    """One row per inflow from the 13th month on, with the events that preceded it."""
    w = ctx.parameters["window_months"]
    con = ctx.store.connect()
    frame = con.execute(f"""
        WITH inflow AS (
            SELECT s.person_id, s.start_month AS month, p.sex, p.birth_year, p.municipality_code
            FROM bijstand_spells s JOIN persons p USING (person_id)
            WHERE s.start_month >= {ctx.m0 + 12} AND {_where(ctx)}),
        sep AS (SELECT person_id, month FROM partnership_ends WHERE end_reason IN ('divorce', 'separation')),
        job AS (SELECT person_id, month FROM employment_ends),
        ben AS (SELECT person_id, month FROM benefit_ends)
        SELECT i.*, i.month // 12 AS year,
               EXISTS (SELECT 1 FROM sep e WHERE e.person_id = i.person_id AND e.month BETWEEN i.month - {w} AND i.month) AS divorce,
               EXISTS (SELECT 1 FROM job e WHERE e.person_id = i.person_id AND e.month BETWEEN i.month - {w} AND i.month) AS job_loss,
               EXISTS (SELECT 1 FROM ben e WHERE e.person_id = i.person_id AND e.month BETWEEN i.month - {w} AND i.month) AS benefit_end
        FROM inflow i""").df()
    frame["age"] = frame["year"] - frame["birth_year"]
    frame["first_event"] = np.select([frame["divorce"], frame["job_loss"], frame["benefit_end"]],
                                     ["divorce", "job_loss", "benefit_end"], "none")
    ctx.frames = getattr(ctx, "frames", {})  # type: ignore[attr-defined]
    ctx.frames["inflow"] = frame  # type: ignore[attr-defined]
    return frame


def inflow_trend(ctx: StudyContext) -> pd.DataFrame:
    """Inflow per year, per 1,000 persons aged 18-66, by sex."""
    from analysis.report import figures
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t

    inflow = ctx.frames["inflow"]  # type: ignore[attr-defined]
    con = ctx.store.connect()
    pop = con.execute(f"""SELECT y.year, p.sex, count(*) AS persons FROM person_year y JOIN persons p USING (person_id)
                          WHERE y.age BETWEEN 18 AND 66 AND {_where(ctx)} GROUP BY ALL""").df()
    counts = safe_aggregate(inflow, by=["year", "sex"], stat="count", policy=ctx.report.policy, log=ctx.report.log,
                            name="inflow_by_year_sex")
    table = counts.merge(pop, on=["year", "sex"], how="left")
    table["per_1000"] = 1000 * table["value"] / table["persons"]
    table["label"] = table["sex"].map({"F": t("women", ctx.lang), "M": t("men", ctx.lang)})
    fig = figures.line_by_group(table, x="year", y="per_1000", group="label", ylabel=t("intake.per_1000", ctx.lang))
    ctx.report.figure(fig, caption=t("intake.trend_caption", ctx.lang))
    wide = table.pivot(index="year", columns="label", values="per_1000").reset_index()
    wide["year"] = wide["year"].astype(str)
    ctx.report.table(wide.rename(columns={"year": t("year", ctx.lang)}),
                     caption=t("intake.trend_table_caption", ctx.lang),
                     number_formats={c: "num2" for c in wide.columns[1:]})
    return table


def decomposition(ctx: StudyContext) -> pd.DataFrame:
    """What preceded inflow: shares per year and sex (exclusive, in order of priority) and per municipality."""
    import matplotlib.pyplot as plt

    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import fmt_pct, t
    from analysis.report.theme import PALETTE

    inflow = ctx.frames["inflow"]  # type: ignore[attr-defined]
    order = ["divorce", "job_loss", "benefit_end", "none"]
    counts = safe_aggregate(inflow, by=["year", "first_event"], stat="count", policy=ctx.report.policy,
                            log=ctx.report.log, name="inflow_by_preceding_event")
    wide = counts.pivot(index="year", columns="first_event", values="value").reindex(columns=order)
    shares = wide.div(wide.sum(axis=1, min_count=1), axis=0)
    fig, ax = plt.subplots()
    bottom = np.zeros(len(shares))
    for i, ev in enumerate(order):
        vals = shares[ev].fillna(0).to_numpy()
        ax.bar(shares.index.astype(str), vals, bottom=bottom, color=PALETTE[i], label=t(f"intake.event.{ev}", ctx.lang))
        bottom += vals
    ax.set_ylabel(t("intake.share_of_inflow", ctx.lang))
    ax.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    fig.tight_layout()
    ctx.report.figure(fig, caption=t("intake.decomposition_caption", ctx.lang, w=ctx.parameters["window_months"]))
    by_sex = []
    for sex in ("F", "M"):
        part = inflow[inflow["sex"] == sex]
        row = {t("intake.group", ctx.lang): t("women" if sex == "F" else "men", ctx.lang), "n": len(part)}
        for ev in ("divorce", "job_loss", "benefit_end"):
            row[t(f"intake.event.{ev}", ctx.lang)] = part[ev].mean() if len(part) else np.nan
        row[t("intake.event.none", ctx.lang)] = (part["first_event"] == "none").mean() if len(part) else np.nan
        by_sex.append(row)
    table = pd.DataFrame(by_sex)
    ctx.report.table(table.rename(columns={"n": t("intake.inflows", ctx.lang)}),
                     caption=t("intake.decomposition_table_caption", ctx.lang, w=ctx.parameters["window_months"]),
                     counts=t("intake.inflows", ctx.lang),
                     number_formats={c: "pct" for c in table.columns[2:]})
    muni = safe_aggregate(inflow.assign(ev=inflow[ctx.parameters["event"]].astype(float)), by=["municipality_code"],
                          value="ev", stat="share", policy=ctx.report.policy, log=ctx.report.log,
                          name="share_after_event_by_municipality")
    names = ctx.dataset.tables.get("municipalities")
    if names is not None:
        muni = muni.merge(names[["municipality_code", "name"]], on="municipality_code", how="left")
    else:
        muni["name"] = muni["municipality_code"]
    shown = pd.DataFrame({t("municipality", ctx.lang): muni["name"].fillna(muni["municipality_code"]),
                          t("intake.inflows", ctx.lang): muni["n"],
                          t(f"intake.share_after.{ctx.parameters['event']}", ctx.lang): muni["value"]})
    ctx.report.table(shown, caption=t("intake.municipality_caption", ctx.lang, w=ctx.parameters["window_months"]),
                     counts=t("intake.inflows", ctx.lang), number_formats={shown.columns[2]: "pct"})
    ev = ctx.parameters["event"]
    n = len(inflow)
    p = float(inflow[ev].mean()) if n else np.nan
    se = float(np.sqrt(p * (1 - p) / n)) if n else None
    ctx.add_estimates([{"name": f"share_inflow_after_{ev}", "estimate": p, "se": se,
                        "ci_low": p - 1.96 * se if se is not None else None,
                        "ci_high": p + 1.96 * se if se is not None else None,
                        "n": n, "unit": "share", "suppressed": False}])
    return table


def _panel(ctx: StudyContext, outcome: str) -> pd.DataFrame:
    """Long person-month panel of the exposed population: unit, month, outcome, cohort, sex, dependent."""
    event = ctx.parameters["event"]
    exposure = ("SELECT DISTINCT person_id FROM partnerships_raw" if event == "divorce"
                else "SELECT DISTINCT person_id FROM employment_raw")
    con = ctx.store.connect()
    con.register("partnerships_raw", ctx.dataset.tables["partnerships"])
    con.register("employment_raw", ctx.dataset.tables["employment_spells"])
    start = ctx.dataset.meta["observation_start"]
    people = con.execute(f"""
        WITH exposed AS ({exposure}),
        first_event AS (SELECT person_id, min(month) AS cohort FROM ({_event_sql(ctx)})
                        WHERE month BETWEEN {ctx.m0} AND {ctx.m1} GROUP BY person_id),
        emp AS (SELECT person_id, start_date, COALESCE(end_date, DATE '{ctx.dataset.meta['observation_end']}') AS end_date
                FROM employment_raw)
        SELECT p.person_id, p.sex, COALESCE(f.cohort, 0) AS cohort,
               CASE WHEN f.cohort IS NULL THEN NULL ELSE NOT EXISTS (
                   SELECT 1 FROM emp e WHERE e.person_id = p.person_id
                     AND (year(e.end_date) * 12 + month(e.end_date) - 1) >= f.cohort - 12
                     AND (year(e.start_date) * 12 + month(e.start_date) - 1) <= f.cohort - 1) END AS dependent
        FROM persons p JOIN exposed x USING (person_id) LEFT JOIN first_event f USING (person_id)
        WHERE {_where(ctx)} AND ({start.year} - p.birth_year) <= 66 AND ({start.year + 9} - p.birth_year) >= 18""").df()
    if outcome == "bijstand":
        events = con.execute(f"""
            SELECT person_id, unnest(range(GREATEST(start_month, {ctx.m0}), LEAST(end_month, {ctx.m1}) + 1)) AS month
            FROM bijstand_spells""").df()
    else:
        events = con.execute(f"SELECT person_id, start_month AS month FROM bijstand_spells WHERE start_month > {ctx.m0}").df()
    n_months = ctx.m1 - ctx.m0 + 1
    index = pd.Index(people["person_id"])
    y = np.zeros((len(people), n_months), dtype=np.float32)  # 0/1: exact in float32, half the memory
    pos = index.get_indexer(events["person_id"])
    ok = pos >= 0
    y[pos[ok], events["month"].to_numpy()[ok] - ctx.m0] = 1.0
    people = people.reset_index(drop=True)
    return people, y


def _att_gt_from_matrix(people: pd.DataFrame, y: np.ndarray, ctx: StudyContext, *, event_window):
    """Callaway & Sant'Anna on the persons x months matrix directly (no long frame: at a million
    persons a long panel would hold over 100 million rows)."""
    from analysis.estimators import att_gt
    from analysis.estimators.did.panel import Panel

    cohort = np.where(people["cohort"].to_numpy() > 0, people["cohort"].to_numpy() - ctx.m0 + 1, 0)
    return att_gt(Panel.from_arrays(y, cohort), control="not_yet_treated", seed=ctx.parameters["seed"],
                  event_window=event_window)


def event_study(ctx: StudyContext) -> dict:
    """Effect on receiving bijstand by month since the event, by sex and by prior dependence."""
    import matplotlib.pyplot as plt

    from analysis.errors import PreTrendWarning
    from analysis.report.figures import event_study_plot
    from analysis.report.labels import fmt_number, t
    from analysis.report.theme import PALETTE

    event = ctx.parameters["event"]
    people, y = _panel(ctx, "bijstand")
    treated = people["cohort"] > 0
    if treated.sum() < ctx.report.policy.min_units:
        raise StudyError(f"Only {int(treated.sum())} persons with a {event.replace('_', ' ')} in the window: "
                         "too few for the event study (the dataset may hold no such events).")
    window = (-PRE_MONTHS, ctx.parameters["horizon_months"])
    results = {}
    groups = {"F": people["sex"] == "F", "M": people["sex"] == "M",
              "dependent": (~treated) | (people["dependent"] == True),  # noqa: E712
              "employed": (~treated) | (people["dependent"] == False)}  # noqa: E712
    for key, keep in groups.items():
        keep = keep.to_numpy()
        if (people.loc[keep, "cohort"] > 0).sum() < ctx.report.policy.min_units:
            continue
        gt = _att_gt_from_matrix(people[keep].reset_index(drop=True), y[keep], ctx, event_window=window)
        dyn = gt.aggregate("dynamic", min_e=window[0], max_e=window[1])
        results[key] = (gt, dyn)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for ax, keys in zip(axes, (("F", "M"), ("dependent", "employed"))):
        for i, key in enumerate(keys):
            if key not in results:
                continue
            frame = results[key][1].estimates.drop(index="ATT", errors="ignore")
            event_study_plot(frame, ylabel=t("intake.effect_bijstand", ctx.lang), xlabel=t("intake.months_since", ctx.lang),
                             reference=-1, ax=ax, percent=True, lang=ctx.lang, label=t(f"intake.group.{key}", ctx.lang),
                             color=PALETTE[i])
        ax.legend(fontsize=8)
    fig.tight_layout()
    ctx.report.figure(fig, caption=t(f"intake.event_caption.{event}", ctx.lang))
    rows, tests = [], {}
    for sex in ("F", "M"):
        if sex not in results:
            continue
        gt, dyn = results[sex]
        term = "e=12"
        r = dyn.estimates.loc[term]
        n_treated = int((people.loc[people["sex"] == sex, "cohort"] > 0).sum())
        rows.append({"name": f"excess_bijstand_after_{event}_12m_{sex}", "estimate": float(r["estimate"]),
                     "se": float(r["std_error"]), "ci_low": float(r["ci_lower"]), "ci_high": float(r["ci_upper"]),
                     "n": n_treated, "unit": "probability difference", "suppressed": False})
        tests[sex] = gt.pretrend_test()
    ctx.add_estimates(rows)
    for sex, test in tests.items():
        ctx.add_estimates([{"name": f"pretrend_p_{event}_{sex}", "estimate": test["p_value"], "se": None,
                            "ci_low": None, "ci_high": None, "n": int((people["sex"] == sex).sum()),
                            "unit": "p-value", "suppressed": False}])
    rejected = [s for s, tst in tests.items() if tst["p_value"] < 0.05]
    if rejected:
        import warnings

        msg = t("intake.pretrend_rejects", ctx.lang, groups=", ".join(t(f"intake.group.{s}", ctx.lang) for s in rejected))
        warnings.warn(msg, PreTrendWarning, stacklevel=2)
        ctx.report.warning(msg)
    ctx.frames["pretrend"] = tests  # type: ignore[attr-defined]
    table = pd.DataFrame([{
        t("intake.group", ctx.lang): t(f"intake.group.{k}", ctx.lang),
        t("intake.treated", ctx.lang): int((people.loc[groups[k].to_numpy(), "cohort"] > 0).sum()),
        t("intake.effect_12m", ctx.lang): dyn.estimates.loc["e=12", "estimate"],
        t("ci", ctx.lang): f"{fmt_number(100 * dyn.estimates.loc['e=12', 'ci_lower'], ctx.lang)} – "
                           f"{fmt_number(100 * dyn.estimates.loc['e=12', 'ci_upper'], ctx.lang)}",
        t("intake.effect_24m", ctx.lang): dyn.estimates.loc["e=24", "estimate"] if "e=24" in dyn.estimates.index else np.nan,
    } for k, (gt, dyn) in results.items()])
    ctx.report.table(table, caption=t("intake.effect_table_caption", ctx.lang), counts=t("intake.treated", ctx.lang),
                     number_formats={t("intake.effect_12m", ctx.lang): "pct", t("intake.effect_24m", ctx.lang): "pct"})
    return results


def attributable_share(ctx: StudyContext) -> dict:
    """Share of all inflow (months 13..end) caused by the event within 24 months after it."""
    from analysis.report.labels import t

    event = ctx.parameters["event"]
    people, y = _panel(ctx, "inflow")
    gt = _att_gt_from_matrix(people, y, ctx, event_window=(0, SHARE_HORIZON))
    est = gt.estimates
    cohort_size = pd.Series(gt.cohorts).value_counts()
    counting_start = 13  # panel periods are months 1..T; inflow is counted from the 13th month
    weights = np.where(est["time"].to_numpy() >= counting_start, cohort_size.reindex(est["group"]).to_numpy(), 0.0)
    excess, se_excess, _ = gt.linear_combination(weights)
    total = float(y[:, counting_start - 1:].sum())
    all_inflow = float(len(ctx.frames["inflow"]))  # type: ignore[attr-defined]
    share, se = excess / all_inflow, se_excess / all_inflow
    n_treated = int((people["cohort"] > 0).sum())
    ctx.add_estimates([{"name": f"attributable_share_inflow_{event}_24m", "estimate": share, "se": se,
                        "ci_low": share - 1.96 * se, "ci_high": share + 1.96 * se, "n": n_treated,
                        "unit": "share", "suppressed": False}])
    ctx.frames["excess"] = {"excess": excess, "se": se_excess, "inflow_exposed": total,  # type: ignore[attr-defined]
                            "all_inflow": all_inflow}
    return ctx.frames["excess"]  # type: ignore[attr-defined]


def summary(ctx: StudyContext) -> None:
    """The plain-language summary: descriptive versus causal share, and the effect by sex."""
    from analysis.report.labels import fmt_pct, fmt_pp, t

    event = ctx.parameters["event"]
    desc = ctx.estimate(f"share_inflow_after_{event}")
    caused = ctx.estimate(f"attributable_share_inflow_{event}_24m")

    def pct(row):
        return t("suppressed_short", ctx.lang) if row["suppressed"] else fmt_pct(row["estimate"], ctx.lang)

    def pp(name):
        try:
            row = ctx.estimate(name)
        except KeyError:
            return t("suppressed_short", ctx.lang)
        return t("suppressed_short", ctx.lang) if row["suppressed"] else fmt_pp(row["estimate"], ctx.lang)

    ctx.report.markdown(t(f"intake.summary.{event}", ctx.lang, w=ctx.parameters["window_months"],
                          desc=pct(desc), caused=pct(caused), lo=fmt_pct(caused["ci_low"], ctx.lang) if not caused["suppressed"] else "x",
                          hi=fmt_pct(caused["ci_high"], ctx.lang) if not caused["suppressed"] else "x",
                          f=pp(f"excess_bijstand_after_{event}_12m_F"), m=pp(f"excess_bijstand_after_{event}_12m_M")))


def methods(ctx: StudyContext) -> None:
    from analysis.report.labels import fmt_number, t

    tests = ctx.frames.get("pretrend", {})  # type: ignore[attr-defined]
    results = "; ".join(f"{t(f'intake.group.{s}', ctx.lang)}: p = {fmt_number(v['p_value'], ctx.lang, 3)}"
                        for s, v in tests.items())
    ctx.report.heading(t("intake.methods_heading", ctx.lang))
    ctx.report.markdown(t(f"intake.methods.{ctx.parameters['event']}", ctx.lang, pre=PRE_MONTHS,
                          horizon=ctx.parameters["horizon_months"], tests=results or "-"))
