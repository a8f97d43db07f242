"""Study "exit_health": health after leaving bijstand for work.

Frames from the processed store; estimators from ``analysis.estimators``.

- Exit to work: a merged bijstand spell that ends with employment starting within
  ``exit_window_days`` of its end (``bijstand_exits.days_to_employment``). A person's
  treatment year is the calendar year of the first such exit in the window.
  Placebo: the first exit for other reasons.
- Population: persons with bijstand at some time in the window; comparison: recipients
  who have not (yet) left for work (``control``).
- Outcomes (person-year): antidepressant use, health-care costs (total, mental, GP).
- Design: Callaway & Sant'Anna by exit year, simple ATT and event time -4..4 with
  uniform bands and the pre-trend test; heterogeneity by sex and age group; the placebo.
- Health returns: the discounted sum of the yearly cost effects over ``horizon_years``
  (the effect of the last estimated year carried forward), with its standard error
  from the influence functions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, PreTrendWarning, StudyError, check_choice
from analysis.studies.base import StudyContext, setup_study

OUTCOMES = ("antidepressants", "healthcare_costs_eur", "mental_healthcare_costs_eur", "gp_costs_eur")
DYNAMIC = ("antidepressants", "healthcare_costs_eur")
CONTROLS = ("not_yet_treated", "never_treated")
AGE_GROUPS = [(18, 34), (35, 49), (50, 66)]


def setup(*, dataset: str, outcomes: list | None = None, exit_window_days: int = 31,
          control: str = "not_yet_treated", covariates: list | None = None, event_window: list | None = None,
          horizon_years: int = 5, discount_rate: float = 0.03, lang: str = "nl", seed: int = 0,
          pre_trend_alpha: float = 0.05, output_dir: str = "") -> StudyContext:
    outcomes = list(outcomes or OUTCOMES)
    for o in outcomes:
        check_choice("outcome", o, OUTCOMES)
    check_choice("control", control, CONTROLS)
    event_window = list(event_window or [-4, 4])
    if len(event_window) != 2 or event_window[0] >= 0 or event_window[1] < 3:
        raise ParameterError(f"event_window={event_window} must be [first, last] with first < 0 and last >= 3.")
    if not 0 <= discount_rate < 1:
        raise ParameterError(f"discount_rate={discount_rate} must lie in [0, 1).")
    if not 1 <= horizon_years <= 30:
        raise ParameterError(f"horizon_years={horizon_years} must lie between 1 and 30.")
    covariates = list(covariates or [])
    for c in covariates:
        check_choice("covariate", c, ("female", "age"))
    return setup_study("exit_health", dataset=dataset, lang=lang, output_dir=output_dir, title_key="exit_health.title",
                       parameters={"outcomes": outcomes, "exit_window_days": exit_window_days, "control": control,
                                   "covariates": covariates, "event_window": event_window,
                                   "horizon_years": horizon_years, "discount_rate": discount_rate, "seed": seed,
                                   "pre_trend_alpha": pre_trend_alpha})


def panel(ctx: StudyContext) -> pd.DataFrame:
    """Person-year panel of recipients with the exit-to-work year and the placebo exit year."""
    w = ctx.parameters["exit_window_days"]
    con = ctx.store.connect()
    frame = con.execute(f"""
        WITH recipients AS (SELECT DISTINCT person_id FROM person_year WHERE bijstand_months > 0),
        work AS (SELECT person_id, min(year(end_date)) AS g FROM bijstand_exits
                 WHERE days_to_employment IS NOT NULL AND days_to_employment <= {w} GROUP BY person_id),
        other AS (SELECT person_id, min(year(end_date)) AS g FROM bijstand_exits
                  WHERE days_to_employment IS NULL OR days_to_employment > {w} GROUP BY person_id)
        SELECT y.person_id, y.year, y.age, (y.sex = 'F')::INTEGER AS female,
               {', '.join(f'y.{o}' for o in OUTCOMES)},
               COALESCE(work.g, 0) AS g_work, COALESCE(other.g, 0) AS g_other
        FROM person_year y JOIN recipients USING (person_id)
        LEFT JOIN work USING (person_id) LEFT JOIN other USING (person_id)""").df()
    complete = frame.groupby("person_id")[list(OUTCOMES)].transform(lambda s: s.notna().all()).all(axis=1)
    dropped = frame.loc[~complete, "person_id"].nunique()
    frame = frame[complete].copy()
    frame["age_first"] = frame.groupby("person_id")["age"].transform("min")
    frame["antidepressants"] = frame["antidepressants"].astype(float)
    if frame.empty or (frame["g_work"] > 0).sum() == 0:
        raise StudyError("No exits from bijstand to work in this dataset: nothing to estimate.")
    ctx.frames = {"panel": frame, "dropped_incomplete": int(dropped)}  # type: ignore[attr-defined]
    return frame


def _att(ctx: StudyContext, frame: pd.DataFrame, outcome: str, cohort: str):
    from analysis.estimators import att_gt

    covs = ctx.parameters["covariates"]
    return att_gt(frame, outcome=outcome, unit="person_id", time="year", cohort=cohort,
                  control=ctx.parameters["control"], covariates=covs, method="dr", seed=ctx.parameters["seed"])


def effects(ctx: StudyContext) -> dict:
    """Simple and dynamic ATT per outcome, the pre-trend tests, and the event-study figure."""
    import matplotlib.pyplot as plt

    from analysis.report.figures import event_study_plot
    from analysis.report.labels import t

    frame = ctx.frames["panel"]  # type: ignore[attr-defined]
    lo, hi = ctx.parameters["event_window"]
    out = {}
    for outcome in ctx.parameters["outcomes"]:
        gt = _att(ctx, frame, outcome, "g_work")
        simple = gt.aggregate("simple")
        dyn = gt.aggregate("dynamic", min_e=lo, max_e=hi)
        pre = gt.pretrend_test()
        out[outcome] = (gt, simple, dyn, pre)
        n_treated = int(frame.loc[frame["g_work"] > 0, "person_id"].nunique())
        unit = "probability difference" if outcome == "antidepressants" else "EUR per person-year"
        ctx.add_estimates(simple.to_estimates(f"att_{outcome}", unit=unit))
        ctx.estimates[-1]["n"] = n_treated
        if outcome in DYNAMIC:
            rows = dyn.to_estimates(unit=unit, terms=[f"e={k}" for k in range(4) if f"e={k}" in dyn.estimates.index],
                                    names={f"e={k}": f"att_{outcome}_e{k}" for k in range(4)})
            for r in rows:
                r["n"] = n_treated
            ctx.add_estimates(rows)
            ctx.add_estimates([{"name": f"pretrend_p_{outcome}", "estimate": pre["p_value"], "se": None,
                                "ci_low": None, "ci_high": None, "n": n_treated, "unit": "p-value",
                                "suppressed": False}])
    rejected = [o for o, (_, _, _, pre) in out.items() if pre["p_value"] < ctx.parameters["pre_trend_alpha"]]
    ctx.frames["rejected"] = rejected  # type: ignore[attr-defined]
    if rejected:
        msg = t("exit_health.pretrend_rejects", ctx.lang,
                outcomes=", ".join(t(f"exit_health.outcome.{o}", ctx.lang) for o in rejected))
        warnings.warn(msg, PreTrendWarning, stacklevel=2)
        ctx.report.warning(msg)
    shown = [o for o in ctx.parameters["outcomes"]]
    cols = 2
    rows_n = int(np.ceil(len(shown) / cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(9, 3.0 * rows_n), squeeze=False)
    for ax, outcome in zip(axes.ravel(), shown):
        dyn = out[outcome][2]
        frame_e = dyn.estimates.drop(index="ATT", errors="ignore")
        event_study_plot(frame_e, ylabel="", xlabel=t("exit_health.years_since", ctx.lang), reference=-1, ax=ax,
                         percent=outcome == "antidepressants", lang=ctx.lang,
                         title=t(f"exit_health.outcome.{outcome}", ctx.lang))
    for ax in axes.ravel()[len(shown):]:
        ax.set_visible(False)
    fig.tight_layout()
    ctx.report.figure(fig, caption=t("exit_health.event_caption", ctx.lang))
    table = pd.DataFrame([{
        t("exit_health.outcome", ctx.lang): t(f"exit_health.outcome.{o}", ctx.lang),
        t("estimate", ctx.lang): s.estimates.loc["ATT", "estimate"],
        t("std_error", ctx.lang): s.estimates.loc["ATT", "std_error"],
        t("exit_health.pretrend_p", ctx.lang): pre["p_value"],
        t("exit_health.treated", ctx.lang): int(frame.loc[frame["g_work"] > 0, "person_id"].nunique()),
    } for o, (_, s, _, pre) in out.items()])
    ctx.report.table(table, caption=t("exit_health.att_table_caption", ctx.lang), counts=t("exit_health.treated", ctx.lang),
                     number_formats={t("estimate", ctx.lang): "num3", t("std_error", ctx.lang): "num3",
                                     t("exit_health.pretrend_p", ctx.lang): "num3"})
    ctx.frames["effects"] = out  # type: ignore[attr-defined]
    return out


def fixed_effects_diagnostic(ctx: StudyContext) -> pd.DataFrame:
    """TWFE and Sun-Abraham event studies beside Callaway & Sant'Anna (a diagnostic: TWFE can be biased
    under heterogeneous effects by exit year; the three agreeing is reassuring)."""
    from analysis.estimators import event_study
    from analysis.report.labels import t

    frame = ctx.frames["panel"]  # type: ignore[attr-defined]
    frame = frame[frame["g_work"] != frame["year"].min()]  # no pre-period: dropped, as Callaway & Sant'Anna do
    lo, hi = ctx.parameters["event_window"]
    rows = []
    for outcome in [o for o in DYNAMIC if o in ctx.parameters["outcomes"]]:
        cs = ctx.frames["effects"][outcome][2].estimates  # type: ignore[attr-defined]
        fe = {est: event_study(frame, outcome=outcome, unit="person_id", time="year", cohort="g_work",
                               window=(lo, hi), reference=-1, estimator=est).estimates
              for est in ("twfe", "sun_abraham")}
        for k in range(0, 4):
            term = f"e={k}"
            rows.append({t("exit_health.outcome", ctx.lang): t(f"exit_health.outcome.{outcome}", ctx.lang),
                         t("exit_health.event_year", ctx.lang): k,
                         "Callaway-Sant'Anna": cs.loc[term, "estimate"] if term in cs.index else np.nan,
                         "TWFE": fe["twfe"].loc[term, "estimate"] if term in fe["twfe"].index else np.nan,
                         "Sun-Abraham": fe["sun_abraham"].loc[term, "estimate"] if term in fe["sun_abraham"].index
                         else np.nan})
    table = pd.DataFrame(rows)
    ctx.report.table(table, caption=t("exit_health.fe_caption", ctx.lang),
                     number_formats={"Callaway-Sant'Anna": "num3", "TWFE": "num3", "Sun-Abraham": "num3",
                                     t("exit_health.event_year", ctx.lang): "int"})
    return table


def placebo_and_heterogeneity(ctx: StudyContext) -> pd.DataFrame:
    """The placebo (exit for other reasons) beside the main effect, and effects by sex and age group."""
    from analysis.report.labels import t

    frame = ctx.frames["panel"]  # type: ignore[attr-defined]
    rows = []
    for outcome in [o for o in DYNAMIC if o in ctx.parameters["outcomes"]]:
        def simple_of(sub, cohort):
            treated = sub.loc[sub[cohort] > 0, "person_id"].nunique()
            if treated < ctx.report.policy.min_units:
                return np.nan, np.nan, treated
            s = _att(ctx, sub, outcome, cohort).aggregate("simple").estimates.loc["ATT"]
            return s["estimate"], s["std_error"], treated

        groups = [(t("exit_health.main", ctx.lang), frame, "g_work"),
                  (t("exit_health.placebo", ctx.lang), frame, "g_other"),
                  (t("women", ctx.lang), frame[frame["female"] == 1], "g_work"),
                  (t("men", ctx.lang), frame[frame["female"] == 0], "g_work")]
        for lo, hi in AGE_GROUPS:
            groups.append((f"{lo}-{hi}", frame[frame["age_first"].between(lo, hi)], "g_work"))
        for label, sub, cohort in groups:
            est, se, n = simple_of(sub, cohort)
            rows.append({t("exit_health.outcome", ctx.lang): t(f"exit_health.outcome.{outcome}", ctx.lang),
                         t("intake.group", ctx.lang): label, t("estimate", ctx.lang): est,
                         t("std_error", ctx.lang): se, t("exit_health.treated", ctx.lang): n})
    table = pd.DataFrame(rows)
    ctx.report.table(table, caption=t("exit_health.heterogeneity_caption", ctx.lang),
                     counts=t("exit_health.treated", ctx.lang),
                     number_formats={t("estimate", ctx.lang): "num3", t("std_error", ctx.lang): "num3"})
    return table


def health_returns(ctx: StudyContext) -> dict:
    """Discounted health-care savings per exit to work over the horizon, with its standard error."""
    from analysis.report.labels import fmt_eur, t

    if "healthcare_costs_eur" not in ctx.frames["effects"]:  # type: ignore[attr-defined]
        return {}
    gt, _, dyn, _ = ctx.frames["effects"]["healthcare_costs_eur"]  # type: ignore[attr-defined]
    h, r = ctx.parameters["horizon_years"], ctx.parameters["discount_rate"]
    terms = [term for term in dyn.estimates.index if term.startswith("e=") and float(term[2:]) >= 0]
    last = max(int(float(term[2:])) for term in terms)
    weights = np.zeros(len(dyn.estimates.index))
    for k in range(h):
        term = f"e={min(k, last)}"
        weights[list(dyn.estimates.index).index(term)] += -1.0 / (1 + r) ** k  # savings = minus the cost effect
    est = float(dyn.estimates["estimate"].to_numpy() @ weights)
    inf = dyn.diagnostics["influence"] @ weights
    se = float(np.sqrt(np.sum(inf ** 2)) / gt.n_units)
    n_treated = int(gt.estimates["n_treated"].max()) if len(gt.estimates) else 0
    ctx.add_estimates([{"name": "health_savings_per_exit_eur", "estimate": est, "se": se,
                        "ci_low": est - 1.96 * se, "ci_high": est + 1.96 * se,
                        "n": int((gt.cohorts > 0).sum()), "unit": "EUR per exit to work (present value)",
                        "suppressed": False}])
    ctx.report.markdown(t("exit_health.returns_text", ctx.lang, h=h, r=f"{100 * r:g}", last=last,
                          value=fmt_eur(est, ctx.lang), lo=fmt_eur(est - 1.96 * se, ctx.lang),
                          hi=fmt_eur(est + 1.96 * se, ctx.lang)))
    return {"estimate": est, "se": se}


def summary(ctx: StudyContext) -> None:
    from analysis.report.labels import fmt_eur, fmt_pp, t

    def val(name, fmt):
        try:
            row = ctx.estimate(name)
        except KeyError:
            return "."
        return t("suppressed_short", ctx.lang) if row["suppressed"] else fmt(row["estimate"], ctx.lang)

    key = "exit_health.summary_caution" if ctx.frames.get("rejected") else "exit_health.summary"  # type: ignore[attr-defined]
    ctx.report.markdown(t(key, ctx.lang, ad=val("att_antidepressants", fmt_pp),
                          costs=val("att_healthcare_costs_eur", fmt_eur),
                          savings=val("health_savings_per_exit_eur", fmt_eur), h=ctx.parameters["horizon_years"]))


def methods(ctx: StudyContext) -> None:
    from analysis.report.labels import t

    ctx.report.heading(t("intake.methods_heading", ctx.lang))
    ctx.report.markdown(t("exit_health.methods", ctx.lang, days=ctx.parameters["exit_window_days"],
                          control=t(f"exit_health.control.{ctx.parameters['control']}", ctx.lang),
                          dropped=ctx.frames.get("dropped_incomplete", 0)))  # type: ignore[attr-defined]
