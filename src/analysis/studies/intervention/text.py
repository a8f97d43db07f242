"""Intervention study: the summary that opens the report and the methods section."""

from __future__ import annotations

from analysis.studies.base import StudyContext

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
    social = _row(ctx, "social_npv_per_participant_eur")
    if social is not None and social["estimate"] is not None:
        ctx.report.markdown(t("intervention.mkba.summary", ctx.lang, social=fmt_eur(social["estimate"], ctx.lang),
                              gemeente=val("fiscal_npv_gemeente_per_participant_eur", lambda v: fmt_eur(v, ctx.lang)),
                              p=val("prob_fiscal_npv_gemeente_positive", lambda v: fmt_pct(v, ctx.lang, 0))))
    ctx.report.say_withheld()


def _row(ctx: StudyContext, name: str) -> dict | None:
    try:
        return ctx.estimate(name)
    except KeyError:
        return None


def methods(ctx: StudyContext) -> None:
    from analysis.report.labels import t

    ctx.report.heading(t("intake.methods_heading", ctx.lang))
    ctx.report.markdown(t("intervention.methods", ctx.lang, h=ctx.parameters["outcome_months"],
                          k=ctx.parameters["max_controls"]))
