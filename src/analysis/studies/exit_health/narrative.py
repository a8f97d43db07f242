"""exit_health's sentences: the summary and the methods (the design in words: who is compared with whom
in which year, the covariates, the anticipation default and what it does, covariates left out)."""

from __future__ import annotations

from analysis.studies.base import StudyContext

def summary(ctx: StudyContext) -> None:
    from analysis.report.labels import fmt_eur, fmt_pp, t

    def val(name, fmt):
        try:
            row = ctx.estimate(name)
        except KeyError:
            return "."
        return t("suppressed_short", ctx.lang) if row["suppressed"] else fmt(row["estimate"], ctx.lang)

    if not ctx.frames["effects"]:  # type: ignore[attr-defined]
        ctx.report.markdown(t("exit_health.summary_withheld", ctx.lang, min_units=ctx.report.policy.min_units))
        ctx.report.say_withheld()
        return
    key = "exit_health.summary_caution" if ctx.frames.get("rejected") else "exit_health.summary"  # type: ignore[attr-defined]
    ctx.report.markdown(t(key, ctx.lang, ad=val("att_antidepressants", fmt_pp),
                          costs=val("att_healthcare_costs_eur", fmt_eur),
                          savings=val("health_savings_per_exit_eur", fmt_eur), h=ctx.parameters["horizon_years"],
                          control=t(f"exit_health.control_long.{ctx.parameters['control_group']}", ctx.lang)))
    ctx.report.say_withheld()


def methods(ctx: StudyContext) -> None:
    """The design in words: who is compared with whom in which year (the estimand), the covariates, the
    anticipation default and what it does, and covariates left out of a subgroup's model."""
    from analysis.report.labels import t

    p = ctx.parameters
    ctx.report.heading(t("intake.methods_heading", ctx.lang))
    ctx.report.markdown(t("exit_health.methods", ctx.lang, days=p["exit_window_days"],
                          dropped=_count_text(ctx, ctx.frames.get("dropped_incomplete", 0))))  # type: ignore[attr-defined]
    ctx.report.markdown(t(f"exit_health.estimand.{p['control_group']}", ctx.lang))
    covs = ", ".join(t(f"exit_health.covariate.{c}", ctx.lang) for c in p["covariates"])
    ctx.report.markdown(t("exit_health.covariates_text", ctx.lang, covariates=covs) if covs
                        else t("exit_health.no_covariates", ctx.lang))
    anticipation_effect(ctx)
    dropped = dict(ctx.frames.get("dropped_covariates", {}))  # type: ignore[attr-defined]
    in_cohorts = dropped.pop("_cohorts", set())

    def names(cs):
        return ", ".join(t(f"exit_health.covariate.{c}", ctx.lang) for c in sorted(cs))

    for tag, covs in dropped.items():
        if tag in GROUP_TAGS:
            group = t(f"exit_health.group.{tag}", ctx.lang)
        else:
            lo, hi = tag.split("-")
            group = t("exit_health.group.age", ctx.lang, lo=int(lo), hi=int(hi))
        ctx.report.markdown(t("exit_health.covariates_dropped", ctx.lang, group=group, covariates=names(covs)))
    if in_cohorts:
        ctx.report.markdown(t("exit_health.covariates_dropped_cohorts", ctx.lang, covariates=names(in_cohorts)))
    lost = ctx.frames.get("cohorts_without_model", {})  # type: ignore[attr-defined]
    for where in ("main", "other"):
        if lost.get(where):
            ctx.report.markdown(t(f"exit_health.cohorts_without_model.{where}", ctx.lang,
                                  years=", ".join(map(str, sorted(lost[where])))))


#: subgroups of the heterogeneity table and other fits, as named in the methods' sentence on dropped covariates
GROUP_TAGS = ("main", "placebo", "women", "men", "comparison", "anticipation")


def anticipation_effect(ctx: StudyContext) -> None:
    """The headline effect on antidepressant use with the run's anticipation and with one year more (or,
    with anticipation, without any): what the default does. Checked like any published estimate."""
    from analysis.report.labels import fmt_pp, t
    from analysis.studies import exit_health as eh

    effects_ = ctx.frames.get("effects") or {}  # type: ignore[attr-defined]
    outcome = "antidepressants" if "antidepressants" in effects_ else next(iter(effects_), None)
    a = ctx.parameters["anticipation"]
    if outcome is None:
        ctx.report.markdown(t("exit_health.anticipation_default", ctx.lang, anticipation=a))
        return
    other = 1 if a == 0 else 0
    gt = eh._att(ctx, outcome, anticipation=other, label="anticipation")
    own = ctx.estimate(f"att_{outcome}")
    if gt is None or own["suppressed"]:
        ctx.report.markdown(t("exit_health.anticipation_default", ctx.lang, anticipation=a))
        return
    row = eh._rows(gt.aggregate("simple"), {"ATT": f"anticipation_{other}_{outcome}"}, eh._unit_of(f"att_{outcome}"))[0]
    checked = eh._checked_rows(ctx, [row], obj=f"anticipation {outcome}")[row["name"]]
    if checked["suppressed"]:
        ctx.report.markdown(t("exit_health.anticipation_default", ctx.lang, anticipation=a))
        return
    fmt = fmt_pp if outcome == "antidepressants" else _fmt_eur
    ctx.report.markdown(t("exit_health.anticipation_effect." + ("zero" if a == 0 else "some"), ctx.lang, anticipation=a,
                          outcome=t(f"exit_health.outcome.{outcome}", ctx.lang),
                          own=fmt(own["estimate"], ctx.lang), alt=fmt(checked["estimate"], ctx.lang)))


def _fmt_eur(v, lang):
    from analysis.report.labels import fmt_eur

    return fmt_eur(v, lang)


def _count_text(ctx: StudyContext, n: int) -> str:
    """A count of persons for a sentence: itself from ``min_units`` on or when 0, else "fewer than 10"."""
    from analysis.report.labels import fmt_int, t

    if n == 0 or n >= ctx.report.policy.min_units:
        return fmt_int(n, ctx.lang)
    return t("fewer_than", ctx.lang, min_units=ctx.report.policy.min_units)
