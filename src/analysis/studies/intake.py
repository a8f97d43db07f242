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

from analysis.errors import ParameterError, check_choice
from analysis.studies.base import StudyContext, setup_study

EVENTS = ("divorce", "job_loss")
SHARE_HORIZON = 24
PRE_MONTHS = 24


BASE_PERIODS = ("universal", "varying")


def setup(*, dataset: str, window_months: int = 12, horizon_months: int = 36, event: str = "divorce",
          municipality: str = "all", anticipation: int = 3, base_period: str = "universal", lang: str = "nl",
          seed: int = 0, output_dir: str = "") -> StudyContext:
    check_choice("event", event, EVENTS)
    check_choice("base_period", base_period, BASE_PERIODS)
    if isinstance(anticipation, bool) or not isinstance(anticipation, int) or not 0 <= anticipation <= 12:
        raise ParameterError(f"anticipation={anticipation!r} must be a whole number of months from 0 to 12 "
                             "(how long before the registered event its effect can start).")
    if not 1 <= window_months <= 36:
        raise ParameterError(f"window_months={window_months} must lie between 1 and 36.")
    if not 12 <= horizon_months <= 60:
        raise ParameterError(f"horizon_months={horizon_months} must lie between 12 and 60.")
    # the municipality is checked against the dataset inside setup_study, before any store is built
    ctx = setup_study("intake", dataset=dataset, lang=lang, output_dir=output_dir, title_key=f"intake.title.{event}",
                      parameters={"window_months": window_months, "horizon_months": horizon_months,
                                  "event": event, "municipality": municipality, "anticipation": anticipation,
                                  "base_period": base_period, "seed": seed})
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


def _checked(ctx: StudyContext):
    return {"policy": ctx.report.policy, "log": ctx.report.log}


def _inflow_years(ctx: StudyContext) -> list[int]:
    return list(range((ctx.m0 + 12) // 12, ctx.m1 // 12 + 1))


def _withheld_row(name: str, unit: str) -> dict:
    return {"name": name, "estimate": None, "se": None, "ci_low": None, "ci_high": None, "n": None, "unit": unit,
            "suppressed": True}


def inflow_trend(ctx: StudyContext):
    """Inflow per year, per 1,000 persons aged 18-66, by sex."""
    from analysis.report import figures
    from analysis.report.disclosure import safe_aggregate, safe_ratio
    from analysis.report.labels import t, t_plain

    inflow = ctx.frames["inflow"]  # type: ignore[attr-defined]
    con = ctx.store.connect()
    pop = con.execute(f"""SELECT y.year, p.sex, count(*) AS persons FROM person_year y JOIN persons p USING (person_id)
                          WHERE y.age BETWEEN 18 AND 66 AND {_where(ctx)} GROUP BY ALL""").df()
    levels = {"year": _inflow_years(ctx), "sex": ["F", "M"]}
    counts = safe_aggregate(inflow, by=["year", "sex"], stat="count", levels=levels, name="inflow_by_year_sex",
                            unit_id="person_id",
                            **_checked(ctx))
    persons = safe_aggregate(pop, by=["year", "sex"], stat="count", units="persons", levels=levels,
                             name="persons_by_year_sex", **_checked(ctx))
    rate = safe_ratio(counts, persons, scale=1000.0, name="inflow_per_1000", **_checked(ctx))
    sexes = {"F": t_plain("women", ctx.lang), "M": t_plain("men", ctx.lang)}
    rate = rate.relabel("sex", sexes).relabel("year", str)
    fig = figures.line_by_group(rate, x="year", y="value", group="sex", ylabel=t_plain("intake.per_1000", ctx.lang),
                                lang=ctx.lang)
    ctx.report.figure(fig, caption=t("intake.trend_caption", ctx.lang))
    wide = rate.pivot(index="year", columns="sex").rename({"year": t("year", ctx.lang)})
    ctx.report.table(wide, caption=t("intake.trend_table_caption", ctx.lang),
                     number_formats={c: "num2" for c in wide.values})
    return rate


def decomposition(ctx: StudyContext):
    """What preceded inflow: shares per year (exclusive, in order of priority), by sex and per municipality."""
    from analysis.report import figures
    from analysis.report.checked import combine
    from analysis.report.disclosure import safe_aggregate, shares_within
    from analysis.report.labels import t, t_plain

    inflow = ctx.frames["inflow"]  # type: ignore[attr-defined]
    w, ev = ctx.parameters["window_months"], ctx.parameters["event"]
    order = ["divorce", "job_loss", "benefit_end", "none"]
    counts = safe_aggregate(inflow, by=["year", "first_event"], stat="count", name="inflow_by_preceding_event",
                            unit_id="person_id",
                            levels={"year": _inflow_years(ctx), "first_event": order}, **_checked(ctx))
    shares = shares_within(counts, within=["year"], name="share_by_preceding_event", **_checked(ctx))
    shares = shares.relabel("first_event", {e: t_plain(f"intake.event.{e}", ctx.lang) for e in order})
    fig = figures.grouped_bars(shares.relabel("year", str), x="year", y="value", group="first_event", percent=True,
                               ylabel=t_plain("intake.share_of_inflow", ctx.lang), lang=ctx.lang)
    ctx.report.figure(fig, caption=t("intake.decomposition_caption", ctx.lang, w=w))
    # by sex: non-exclusive shares; the total (all inflow) is published, so the two rows protect each other
    inflow = inflow.assign(none=(inflow["first_event"] == "none"))
    parts = []
    for i, e in enumerate(order):
        share = safe_aggregate(inflow.assign(v=inflow[e].astype(float)), by=["sex"], value="v", stat="share",
                               unit_id="person_id",
                               levels={"sex": ["F", "M"]}, total_published=True, name=f"share_after_{e}_by_sex",
                               **_checked(ctx))
        if i == 0:
            parts.append((t("intake.inflows", ctx.lang), share, "n"))
        parts.append((t(f"intake.event.{e}", ctx.lang), share, "value"))
    by_sex = combine(parts, on=["sex"], name="inflow_by_sex")
    by_sex = by_sex.relabel("sex", {"F": t("women", ctx.lang), "M": t("men", ctx.lang)}).rename(
        {"sex": t("intake.group", ctx.lang)})
    ctx.report.table(by_sex, caption=t("intake.decomposition_table_caption", ctx.lang, w=w),
                     number_formats={c: ("int" if c == t("intake.inflows", ctx.lang) else "pct") for c in by_sex.values})
    # per municipality: the share over all municipalities is published (the estimate below)
    muni = safe_aggregate(inflow.assign(ev=inflow[ev].astype(float)), by=["municipality_code"], value="ev",
                          unit_id="person_id",
                          stat="share", total_published=True, name="share_after_event_by_municipality", **_checked(ctx))
    names = ctx.dataset.tables.get("municipalities")
    mapping = dict(zip(names["municipality_code"], names["name"])) if names is not None else {}
    muni = muni.relabel("municipality_code", lambda c: mapping.get(c, c))
    shown = muni.rename({"municipality_code": t("municipality", ctx.lang), "n": t("intake.inflows", ctx.lang),
                         "value": t(f"intake.share_after.{ev}", ctx.lang)})
    ctx.report.table(shown, caption=t("intake.municipality_caption", ctx.lang, w=w),
                     number_formats={t("intake.inflows", ctx.lang): "int",
                                     t(f"intake.share_after.{ev}", ctx.lang): "pct"})
    n = len(inflow)
    p = float(inflow[ev].mean()) if n else None
    se = float(np.sqrt(p * (1 - p) / n)) if n else None
    ctx.add_estimates([{"name": f"share_inflow_after_{ev}", "estimate": p, "se": se,
                        "ci_low": p - 1.96 * se if se is not None else None,
                        "ci_high": p + 1.96 * se if se is not None else None,
                        "n": n, "unit": "share", "suppressed": False}])
    return by_sex


def _design(ctx: StudyContext) -> dict:
    """The at-risk design's cohorts for the chosen event, once per run (``analysis.kit.events``)."""
    if getattr(ctx, "design", None) is not None:  # type: ignore[attr-defined]
        return ctx.design  # type: ignore[attr-defined]
    from analysis.kit.events import divorce_cohorts, employment_matrix, job_end_cohorts

    event = ctx.parameters["event"]
    start = ctx.dataset.meta["observation_start"]
    persons = ctx.dataset.tables["persons"]
    keep = ((start.year - persons["birth_year"]) <= 66) & ((start.year + 9 - persons["birth_year"]) >= 18)
    if ctx.parameters["municipality"] != "all":
        keep &= persons["municipality_code"] == ctx.parameters["municipality"]
    persons = persons[keep]
    ev = divorce_cohorts(ctx.store, persons=persons) if event == "divorce" else job_end_cohorts(ctx.store, persons=persons)
    T = len(ev.periods)
    emp = employment_matrix(ctx.store, ev.unit_ids, ctx.m0, T)  # type: ignore[attr-defined]
    c = ev.cohort.astype(int)
    treated = c > 0
    # economically dependent: no employment in the 12 months before the event
    worked = np.zeros(len(c), dtype=bool)
    for lag in range(1, 13):
        pos = np.clip(c - 1 - lag, 0, T - 1)
        worked |= treated & (c - 1 - lag >= 0) & emp[np.arange(len(c)), pos]
    sex = persons.set_index("person_id").loc[ev.unit_ids, "sex"].to_numpy()
    people = pd.DataFrame({"person_id": ev.unit_ids, "sex": sex, "cohort": c,
                           "dependent": np.where(treated, ~worked, None)})
    ctx.design = {"events": ev, "people": people}  # type: ignore[attr-defined]
    return ctx.design  # type: ignore[attr-defined]


def _panel(ctx: StudyContext, outcome: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The design's persons and their months: bijstand (0/1) or the start of a new bijstand spell."""
    from analysis.kit.events import interval_matrix

    design = _design(ctx)
    ev, people = design["events"], design["people"]
    spells = ctx.store.read("bijstand_spells")
    rows = pd.Index(ev.unit_ids).get_indexer(spells["person_id"])
    ok = rows >= 0
    T = len(ev.periods)
    start_m = spells["start_month"].to_numpy()[ok] - ctx.m0  # type: ignore[attr-defined]
    if outcome == "bijstand":
        end_m = spells["end_month"].to_numpy()[ok] - ctx.m0  # type: ignore[attr-defined]
        y = interval_matrix(rows[ok], start_m, end_m, len(ev.unit_ids), T).astype(np.float32)
    else:
        y = np.zeros((len(ev.unit_ids), T), dtype=np.float32)  # 0/1: exact in float32, half the memory
        inside = start_m > 0
        y[rows[ok][inside], start_m[inside]] = 1.0
    return people, y


def _att_gt_from_matrix(people: pd.DataFrame, y: np.ndarray, ctx: StudyContext, *, event_window, keep=None,
                        anticipation: int | None = None):
    """At-risk Callaway & Sant'Anna on the persons x months matrix (no long frame: at a million persons a
    long panel would hold over 100 million rows): comparison persons at risk of the event in each cohort's
    base month (in a union and not yet separated; employed and no job lost yet), not treated within the
    event window, covariates in the doubly robust estimator, anticipation of the registration lag."""
    from analysis.estimators.did.at_risk import att_gt_at_risk

    ev = _design(ctx)["events"]
    keep = np.ones(len(people), dtype=bool) if keep is None else keep
    covs = list(ev.covariate_names)
    return att_gt_at_risk(y[keep], ev.cohort[keep], ev.at_risk[keep],
                          covariates=lambda b: ev.covariates_at(b)[keep], covariate_names=covs,
                          control="not_treated_in_window", method="dr",
                          anticipation=ctx.parameters["anticipation"] if anticipation is None else anticipation,
                          base_period=ctx.parameters["base_period"], event_window=event_window,
                          seed=ctx.parameters["seed"])


def _enough(ctx: StudyContext, people: pd.DataFrame) -> bool:
    """At least ``min_units`` persons with the event and ``min_units`` without it (yet) in the window."""
    treated = int((people["cohort"] > 0).sum())
    return treated >= ctx.report.policy.min_units and len(people) - treated >= ctx.report.policy.min_units


def _reference(ctx: StudyContext) -> float:
    """The base month relative to the event: one month before it, earlier by the anticipation."""
    return -1.0 - ctx.parameters["anticipation"]


def event_study(ctx: StudyContext) -> dict:
    """Effect on receiving bijstand by month since the event, by sex and by prior dependence.

    Each term is published only where it rests on 10 or more treated (and comparison) units, and no
    two persons dominate it (``checked_result`` on the units the estimator reports)."""
    from analysis.errors import PreTrendWarning
    from analysis.report import figures
    from analysis.report.checked import concat
    from analysis.report.disclosure import checked_result
    from analysis.report.labels import t, t_plain

    event = ctx.parameters["event"]
    people, y = _panel(ctx, "bijstand")
    ctx.frames["pretrend"] = {}  # type: ignore[attr-defined]
    if not _enough(ctx, people):  # a small gemeente, or no such events: withheld, the report says so
        ctx.report.log.add("event_study", "all", "min_treated")
        ctx.add_estimates([_withheld_row(f"excess_bijstand_after_{event}_12m_{sex}", "probability difference")
                           for sex in ("F", "M")])
        ctx.report.markdown(f"*{t('intake.event_withheld', ctx.lang, min_units=ctx.report.policy.min_units)}*")
        return {}
    treated = people["cohort"] > 0
    window = (-PRE_MONTHS, ctx.parameters["horizon_months"])
    results = {}
    groups = {"F": people["sex"] == "F", "M": people["sex"] == "M",
              "dependent": (~treated) | (people["dependent"] == True),  # noqa: E712
              "employed": (~treated) | (people["dependent"] == False)}  # noqa: E712
    for key, keep in groups.items():
        keep = keep.to_numpy()
        if not _enough(ctx, people[keep]):
            ctx.report.log.add("event_study", t_plain(f"intake.group.{key}", ctx.lang), "min_treated")
            continue
        gt = _att_gt_from_matrix(people, y, ctx, event_window=window, keep=keep)
        if not np.isfinite(gt.estimates["estimate"].to_numpy()).any():  # every cohort's model left out
            ctx.report.markdown(f"*{t('intake.group_without_model', ctx.lang, group=t_plain(f'intake.group.{key}', ctx.lang))}*")
            continue
        dyn = gt.aggregate("dynamic", min_e=window[0], max_e=window[1])
        results[key] = (gt, dyn)
    if not results:  # no group with enough persons: nothing to draw
        ctx.add_estimates([_withheld_row(f"excess_bijstand_after_{event}_12m_{sex}", "probability difference")
                           for sex in ("F", "M")])
        ctx.report.markdown(f"*{t('intake.event_withheld', ctx.lang, min_units=ctx.report.policy.min_units)}*")
        return {}
    checked = {k: checked_result(dyn, name=f"event_study_{k}", terms=[i for i in dyn.estimates.index if i != "ATT"],
                                 **_checked(ctx)) for k, (gt, dyn) in results.items()}
    panels = [{t_plain(f"intake.group.{k}", ctx.lang): checked[k] for k in keys if k in checked}
              for keys in (("F", "M"), ("dependent", "employed"))]
    reference = _reference(ctx)
    fig = figures.event_study(panels, ylabel=t_plain("intake.effect_bijstand", ctx.lang), name="event_study",
                              xlabel=t_plain("intake.months_since", ctx.lang), reference=reference, percent=True,
                              lang=ctx.lang)
    ctx.report.figure(fig, caption=t(f"intake.event_caption.{event}", ctx.lang) + ". "
                      + t(f"intake.base_caption.{ctx.parameters['base_period']}", ctx.lang, ref=int(reference)))
    rows, tests = [], {}
    for sex in ("F", "M"):
        name = f"excess_bijstand_after_{event}_12m_{sex}"
        if sex not in results or "e=12" not in results[sex][1].estimates.index:
            rows.append(_withheld_row(name, "probability difference"))
            continue
        gt, dyn = results[sex]
        rows += dyn.to_estimates(terms=["e=12"], names={"e=12": name}, unit="probability difference")
        tests[sex] = gt.pretrend_test()
    ctx.add_estimates(rows)
    for sex, test in tests.items():
        ctx.add_estimates([{"name": f"pretrend_p_{event}_{sex}", "estimate": test["p_value"], "se": None,
                            "ci_low": None, "ci_high": None, "n": int((people["sex"] == sex).sum()),
                            "unit": "p-value", "suppressed": False}])
    rejected = [s for s, tst in tests.items() if tst["p_value"] < 0.05]
    if rejected:
        import warnings

        msg = t("intake.pretrend_rejects", ctx.lang, groups=", ".join(t_plain(f"intake.group.{s}", ctx.lang)
                                                                      for s in rejected))
        warnings.warn(msg, PreTrendWarning, stacklevel=2)
        ctx.report.warning(msg)
    ctx.frames["pretrend"] = tests  # type: ignore[attr-defined]
    ctx.frames["sensitivity"] = {}  # type: ignore[attr-defined]
    if ctx.parameters["base_period"] == "universal":  # HonestDiD needs pre and post against one base
        from analysis.studies.designs import sensitivity_analysis

        for sex in ("F", "M"):
            if sex in results:
                ctx.frames["sensitivity"][sex] = sensitivity_analysis(  # type: ignore[attr-defined]
                    ctx, results[sex][1], name=f"excess_bijstand_after_{event}_12m_{sex}",
                    label=t_plain(f"intake.sensitivity_label.{sex}", ctx.lang), event_time=12, reference=reference,
                    width=3, percent=True, pretest_p=tests[sex]["p_value"] if sex in tests else None)
    terms = [tb.where("term", ["e=12", "e=24"]).with_key("group", t(f"intake.group.{k}", ctx.lang))
             for k, tb in checked.items()]
    if terms:
        table = concat(terms, name="event_study_effects").select(["group", "term", "n", "estimate", "ci_lower", "ci_upper"])
        table = table.relabel("term", lambda term: term.replace("e=", "")).rename({
            "group": t("intake.group", ctx.lang), "term": t("intake.months_since", ctx.lang),
            "n": t("intake.treated", ctx.lang), "estimate": t("intake.effect_pp", ctx.lang),
            "ci_lower": t("intake.ci_low_pp", ctx.lang), "ci_upper": t("intake.ci_high_pp", ctx.lang)})
        ctx.report.table(table, caption=t("intake.effect_table_caption", ctx.lang),
                         number_formats={t("intake.treated", ctx.lang): "int", t("intake.effect_pp", ctx.lang): "pp",
                                         t("intake.ci_low_pp", ctx.lang): "pp", t("intake.ci_high_pp", ctx.lang): "pp"})
    return results


def attributable_share(ctx: StudyContext) -> dict:
    """Share of all inflow (months 13..end) caused by the event within 24 months after it."""
    from analysis.report.labels import t

    event = ctx.parameters["event"]
    name = f"attributable_share_inflow_{event}_24m"
    people, y = _panel(ctx, "inflow")
    all_inflow = float(len(ctx.frames["inflow"]))  # type: ignore[attr-defined]
    if not _enough(ctx, people) or all_inflow < ctx.report.policy.min_units:
        ctx.report.log.add("results.json", name, "min_treated")
        ctx.add_estimates([_withheld_row(name, "share")])
        ctx.frames["excess"] = {}  # type: ignore[attr-defined]
        return {}
    gt = _att_gt_from_matrix(people, y, ctx, event_window=(0, SHARE_HORIZON))
    est = gt.estimates
    cohort_size = est.groupby("group")["n"].first()
    counting_start = 13  # panel periods are months 1..T; inflow is counted from the 13th month
    weights = np.where(est["time"].to_numpy() >= counting_start, cohort_size.reindex(est["group"]).to_numpy(), 0.0)
    weights = np.where(est["event_time"].to_numpy() >= 0, weights, 0.0)
    excess, se_excess, _ = gt.linear_combination(weights)
    total = float(y[:, counting_start - 1:].sum())
    share, se = excess / all_inflow, se_excess / all_inflow
    n_treated = int((people["cohort"] > 0).sum())
    ctx.add_estimates([{"name": name, "estimate": share, "se": se,
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

    def bound(row, key):
        return "x" if row["suppressed"] or row[key] is None else fmt_pct(row[key], ctx.lang)

    def pp(name):
        try:
            row = ctx.estimate(name)
        except KeyError:
            return t("suppressed_short", ctx.lang)
        return t("suppressed_short", ctx.lang) if row["suppressed"] else fmt_pp(row["estimate"], ctx.lang)

    ctx.report.markdown(t(f"intake.summary.{event}", ctx.lang, w=ctx.parameters["window_months"],
                          desc=pct(desc), caused=pct(caused), lo=bound(caused, "ci_low"), hi=bound(caused, "ci_high"),
                          f=pp(f"excess_bijstand_after_{event}_12m_F"), m=pp(f"excess_bijstand_after_{event}_12m_M")))
    ctx.report.say_withheld()


def methods(ctx: StudyContext) -> None:
    from analysis.report.labels import fmt_prob, t

    tests = ctx.frames.get("pretrend", {})  # type: ignore[attr-defined]
    results = "; ".join(f"{t(f'intake.group.{s}', ctx.lang)}: p = {fmt_prob(v['p_value'], ctx.lang, 3)}"
                        for s, v in tests.items())
    ctx.report.heading(t("intake.methods_heading", ctx.lang))
    ctx.report.markdown(t(f"intake.methods.{ctx.parameters['event']}", ctx.lang, pre=PRE_MONTHS,
                          horizon=ctx.parameters["horizon_months"], tests=results or "-"))
    ctx.report.markdown(t(f"intake.at_risk.{ctx.parameters['event']}", ctx.lang,
                          anticipation=ctx.parameters["anticipation"]))
    anticipation_effect(ctx)
    ctx.report.limitations(t("intake.limitations", ctx.lang))


def anticipation_effect(ctx: StudyContext) -> None:
    """The 12-month effect for women with the chosen anticipation and without any: what the default does."""
    from analysis.report.disclosure import checked_result
    from analysis.report.labels import fmt_pp, t

    if ctx.parameters["anticipation"] == 0 or not _enough(ctx, _design(ctx)["people"]):
        return
    people, y = _panel(ctx, "bijstand")
    keep = (people["sex"] == "F").to_numpy()
    if not _enough(ctx, people[keep]):
        return
    shown = {}
    for a in (ctx.parameters["anticipation"], 0):
        dyn = _att_gt_from_matrix(people, y, ctx, event_window=(12, 12), keep=keep, anticipation=a).aggregate(
            "dynamic", min_e=12, max_e=12, bootstrap_iterations=9)
        tb = checked_result(dyn, name=f"anticipation_{a}", terms=["e=12"], **_checked(ctx))
        shown[a] = None if tb.withheld["estimate"].iloc[0] else float(tb.frame["estimate"].iloc[0])
    if any(v is None for v in shown.values()):
        return
    ctx.report.markdown(t("intake.anticipation_effect", ctx.lang, anticipation=ctx.parameters["anticipation"],
                          with_=fmt_pp(shown[ctx.parameters["anticipation"]], ctx.lang), without=fmt_pp(shown[0], ctx.lang)))
