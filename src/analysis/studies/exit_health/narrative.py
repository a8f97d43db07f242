"""exit_health's sentences: the summary and the methods (the design in words: who is compared with whom
in which year, the covariates, the anticipation default and what it does, covariates left out)."""

from __future__ import annotations


def summary(run, fx) -> None:
    """The summary sentences from the published rows (``fx``: the study's :class:`Effects`)."""
    from analysis.report.labels import fmt_eur, fmt_pp, t

    def val(name, fmt):
        try:
            row = run.estimate(name)
        except KeyError:
            return "."
        return t("suppressed_short", run.lang) if row["suppressed"] else fmt(row["estimate"], run.lang)

    if not fx.fits:
        run.report.markdown(t("exit_health.summary_withheld", run.lang, min_units=run.policy.min_units))
        run.report.say_withheld()
        return
    control = t(f"exit_health.control_long.{run.parameters['control_group']}", run.lang)
    h = run.parameters["horizon_years"]
    if fx.rejected:
        run.report.markdown(t("exit_health.summary_caution", run.lang, ad=val("att_antidepressants", fmt_pp),
                              costs=val("att_healthcare_costs_eur", fmt_eur),
                              savings=val("health_savings_per_exit_eur", fmt_eur), h=h, control=control))
    else:  # the words follow the sign of the published estimate (a saving is minus a cost effect)
        run.report.markdown(t("exit_health.summary", run.lang, control=control,
                              ad=_signed(run, "exit_health.summary_ad", "att_antidepressants", fmt_pp),
                              costs=_signed(run, "exit_health.summary_costs", "att_healthcare_costs_eur", fmt_eur),
                              savings=_signed(run, "exit_health.summary_savings", "health_savings_per_exit_eur",
                                              fmt_eur, h=h, flip=True)))
    run.report.say_withheld()


def _signed(run, key: str, name: str, fmt, *, flip: bool = False, **values) -> str:
    """``key.less`` / ``key.more`` by the sign of the published row ``name`` (``key.other`` when it is zero,
    withheld or absent), its value formatted with ``fmt`` (``flip``: the value is a saving, shown as an
    amount either way)."""
    from analysis.report.labels import t, t_plain

    try:
        row = run.estimate(name)
    except KeyError:
        row = None
    if row is None or row["suppressed"] or row["estimate"] is None or row["estimate"] == 0:
        shown = t_plain("suppressed_short", run.lang) if row is not None and row["suppressed"] else "."
        return t_plain(f"{key}.other", run.lang, value=shown, **values)
    v = float(row["estimate"])
    lower = v > 0 if flip else v < 0
    return t_plain(f"{key}.{'less' if lower else 'more'}", run.lang, value=fmt(abs(v) if flip else v, run.lang),
                   **values)


def methods(run, sd, fx, *tables) -> None:
    """The design in words: who is compared with whom in which year (the estimand), the covariates, the
    anticipation default and what it does, and covariates left out of a subgroup's model."""
    from analysis.report.labels import t, t_plain

    p = run.parameters
    run.report.heading(t("intake.methods_heading", run.lang))
    run.report.markdown(t("exit_health.methods", run.lang, days=p["exit_window_days"],
                          dropped=_count_text(run, sd.dropped_incomplete)))
    run.report.markdown(t(f"exit_health.estimand.{p['control_group']}", run.lang))
    covs = ", ".join(t(f"exit_health.covariate.{c}", run.lang) for c in p["covariates"])
    run.report.markdown(t("exit_health.covariates_text", run.lang, covariates=covs) if covs
                        else t("exit_health.no_covariates", run.lang))
    notes = fx.notes
    for table in tables:
        notes = notes + table.notes
    notes = notes + anticipation_effect(run, sd, fx)
    dropped: dict = {}
    for tag, cov in notes.dropped:
        dropped.setdefault(tag, set()).add(cov)
    in_cohorts = set(notes.in_cohorts)

    def names(cs):
        return ", ".join(t(f"exit_health.covariate.{c}", run.lang) for c in sorted(cs))

    by_covariates: dict = {}  # one sentence per set of covariates left out, naming every group it concerns
    for tag, covs in dropped.items():
        if tag in GROUP_TAGS:
            group = t_plain(f"exit_health.group.{tag}", run.lang)
        elif tag.startswith("by:"):
            from analysis.studies.exit_health import _level_label

            column, _, level = tag[3:].partition("=")
            group = t_plain("exit_health.group.by", run.lang, group=_level_label(column, level, run.lang))
        else:
            lo, hi = tag.split("-")
            group = t_plain("exit_health.group.age", run.lang, lo=int(lo), hi=int(hi))
        named = by_covariates.setdefault(tuple(sorted(covs)), [])
        if group not in named:  # the same group from two tables (women by sex and in the heterogeneity table)
            named.append(group)
    for covs, groups in by_covariates.items():
        joined = groups[0] if len(groups) == 1 else (", ".join(groups[:-1]) + (" en " if run.lang == "nl" else " and ")
                                                     + groups[-1])
        run.report.markdown(t("exit_health.covariates_dropped", run.lang, group=joined, covariates=names(covs)))
    if in_cohorts:
        run.report.markdown(t("exit_health.covariates_dropped_cohorts", run.lang, covariates=names(in_cohorts)))
    lost: dict = {}
    for where, year in notes.without_model:
        lost.setdefault(where, set()).add(year)
    for where in ("main", "other"):
        if lost.get(where):
            run.report.markdown(t(f"exit_health.cohorts_without_model.{where}", run.lang,
                                  years=", ".join(map(str, sorted(lost[where])))))


#: subgroups of the heterogeneity table and other fits, as named in the methods' sentence on dropped covariates
GROUP_TAGS = ("main", "placebo", "women", "men", "comparison", "anticipation")


def anticipation_effect(run, sd, fx):
    """The headline effect on antidepressant use with the run's anticipation and with one year more (or,
    with anticipation, without any): what the default does. Checked like any published estimate; returns
    the :class:`Notes` of its fit."""
    from analysis.report.labels import fmt_pp, t
    from analysis.studies import exit_health as eh
    from analysis.studies.exit_health import Notes

    effects_ = fx.fits
    outcome = "antidepressants" if "antidepressants" in effects_ else next(iter(effects_), None)
    a = run.parameters["anticipation"]
    if outcome is None:
        run.report.markdown(t("exit_health.anticipation_default", run.lang, anticipation=a))
        return Notes()
    other = 1 if a == 0 else 0
    gt, notes = eh._att(run, sd.design, outcome, anticipation=other, label="anticipation")
    own = run.estimate(f"att_{outcome}")
    if gt is None or own["suppressed"]:
        run.report.markdown(t("exit_health.anticipation_default", run.lang, anticipation=a))
        return notes
    row = eh._rows(gt.aggregate("simple"), {"ATT": f"anticipation_{other}_{outcome}"}, eh._unit_of(f"att_{outcome}"))[0]
    checked = eh._checked_rows(run, [row], obj=f"anticipation {outcome}")[row["name"]]
    if checked["suppressed"]:
        run.report.markdown(t("exit_health.anticipation_default", run.lang, anticipation=a))
        return notes
    fmt = fmt_pp if outcome == "antidepressants" else _fmt_eur
    run.report.markdown(t("exit_health.anticipation_effect." + ("zero" if a == 0 else "some"), run.lang, anticipation=a,
                          outcome=t(f"exit_health.outcome.{outcome}", run.lang),
                          own=fmt(own["estimate"], run.lang), alt=fmt(checked["estimate"], run.lang)))
    return notes


def _fmt_eur(v, lang):
    from analysis.report.labels import fmt_eur

    return fmt_eur(v, lang)


def _count_text(run, n: int) -> str:
    """A count of persons for a sentence: itself from ``min_units`` on or when 0, else "fewer than 10"."""
    from analysis.report.labels import fmt_int, t

    if n == 0 or n >= run.policy.min_units:
        return fmt_int(n, run.lang)
    return t("fewer_than", run.lang, min_units=run.policy.min_units)
