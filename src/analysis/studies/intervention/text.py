"""Intervention study: the summary that opens the report and the methods section."""

from __future__ import annotations

from analysis.kit.run import Run

def summary(run: Run, opts, cost: float | None) -> None:
    from analysis.report.labels import fmt_eur, fmt_number, fmt_pct, t

    h = opts.outcome_months
    m = run.estimate(f"att_months_bijstand_{h}m")
    if m["suppressed"] or m["estimate"] is None:
        naive = _row(run, f"naive_months_bijstand_{h}m")
        estimated = naive is not None and not naive["suppressed"]  # the design had enough persons
        run.report.markdown(t("intervention.summary_head_withheld" if estimated else "intervention.summary_not_published",
                              run.lang, min_units=run.report.policy.min_units))
        run.report.say_withheld()
        return

    def val(name, fmt):
        row = run.estimate(name)
        return t("suppressed_short", run.lang) if row["estimate"] is None else fmt(row["estimate"])

    run.report.markdown(t("intervention.summary", run.lang, name=opts.intervention, h=h,
                          months=fmt_number(-m["estimate"], run.lang, 1),
                          naive=val(f"naive_months_bijstand_{h}m", lambda v: fmt_number(-v, run.lang, 1)),
                          cost=t("suppressed_short", run.lang) if cost is None else fmt_eur(cost, run.lang),
                          net=val("net_benefit_per_participant_eur", lambda v: fmt_eur(v, run.lang)),
                          p=val("prob_pays_off", lambda v: fmt_pct(v, run.lang, 0))))
    social = _row(run, "social_npv_per_participant_eur")
    if social is not None and social["estimate"] is not None:
        run.report.markdown(t("intervention.mkba.summary", run.lang, social=fmt_eur(social["estimate"], run.lang),
                              gemeente=val("fiscal_npv_gemeente_per_participant_eur", lambda v: fmt_eur(v, run.lang)),
                              p=val("prob_fiscal_npv_gemeente_positive", lambda v: fmt_pct(v, run.lang, 0))))
    run.report.say_withheld()


def _row(run: Run, name: str) -> dict | None:
    try:
        return run.estimate(name)
    except KeyError:
        return None


def design_text(opts, lang: str) -> str:
    """The design in one or two sentences: the programme, who is compared (``control_group``), when the risk
    set is formed (``anticipation``) and the outcome window."""
    from analysis.report.labels import t

    key = "intervention.design" if opts.control_group == "risk_set" else f"intervention.design_{opts.control_group}"
    text = t(key, lang, name=opts.intervention, h=opts.outcome_months)
    if opts.anticipation:
        text += " " + t("intervention.design_anticipation", lang, k=opts.anticipation)
    return text


def methods(run: Run, opts) -> None:
    from analysis.report.labels import t

    run.report.heading(t("intake.methods_heading", run.lang))
    run.report.markdown(t("intervention.methods", run.lang, h=opts.outcome_months,
                          k=opts.max_controls))
    if opts.control_group != "risk_set":
        run.report.markdown(t(f"intervention.methods_control.{opts.control_group}", run.lang, h=opts.outcome_months))
    if opts.anticipation:
        run.report.markdown(t("intervention.design_anticipation", run.lang, k=opts.anticipation))
    run.report.markdown(t("intervention.methods_no_base_period", run.lang))
