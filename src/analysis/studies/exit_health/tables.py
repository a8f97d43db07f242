"""exit_health's tables beside the main effects: the headline effect under every comparison group, the placebo
and the effects by sex and age group, and the effects per level of ``by``; each cell checked on the treated
units, comparison units and dominance of its own estimate."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from analysis.studies.exit_health import (CONTROL_GROUPS, DYNAMIC, AGE_GROUPS, Notes, StudyDesign, Effects, Table,
                                          _add, _att, _design_units, _rows, _rows_table, _unit_of, _withheld)
from analysis.studies.exit_health import design as dz


def _age_groups(run) -> list[tuple[int, int]]:
    """The age groups of the heterogeneity table inside the population's age band."""
    lo_band, hi_band = run.parameters.get("age_min", 0), run.parameters.get("age_max", 120)
    groups = [(max(lo, lo_band), min(hi, hi_band)) for lo, hi in AGE_GROUPS]
    return [(lo, hi) for lo, hi in groups if lo <= hi]


def _show_by_scale(run, table, *, key: str, labels: dict, caption: str, columns: list, formats: dict) -> None:
    """Show ``table`` as one table per scale: antidepressant use in percentage points, costs in whole euros
    (``columns`` hold effects; ``formats`` the other columns' formats)."""
    from analysis.report.labels import t

    pp = [v for k, v in labels.items() if k == "att_antidepressants"]
    eur = [v for k, v in labels.items() if k.endswith("_eur") and k.startswith("att_")]
    present = set(table.frame[key])
    for scale, rows in (("pp", pp), ("eur", eur)):
        rows = [r for r in rows if r in present]
        if not rows:
            continue
        part = table.where(key, rows)
        run.report.table(part, caption=f"{caption.rstrip().rstrip('.')}. {t(f'exit_health.scale.{scale}', run.lang)}",
                         number_formats={c: scale for c in columns} | formats)


def _show_groups(run, table, *, group_col: str, outcomes, caption: str):
    """A table of effects per outcome and group, shown per scale; the count of treated persons only where no
    cell is withheld (a count beside a withheld cell would give it away). Returns the table as shown."""
    from analysis.report.labels import t

    outcome_col = t("exit_health.outcome", run.lang)
    columns = [outcome_col, group_col, "estimate", "ci_low", "ci_high"] + ([] if table.any_withheld else ["n"])
    names = {"estimate": t("estimate", run.lang), "ci_low": t("ci_low", run.lang), "ci_high": t("ci_high", run.lang),
             "n": t("exit_health.treated", run.lang)}
    table = table.select(columns).rename(names)
    labels = {f"att_{o}": t(f"exit_health.outcome.{o}", run.lang) for o in outcomes}
    _show_by_scale(run, table, key=outcome_col, labels=labels, caption=caption,
                   columns=[names["estimate"], names["ci_low"], names["ci_high"]], formats={names["n"]: "int"})
    return table


def design_comparison(run, sd: StudyDesign, fx: Effects) -> Table:
    """The headline effects under every comparison group (the run's own first): what the choice of who is
    compared does. The old design (all recipients) is there for comparison; each cell is checked on the
    treated units, comparison units and dominance of its own estimate."""
    from analysis.report.checked import combine
    from analysis.report.labels import t

    if not fx.fits:
        return Table(None)
    notes = Notes()
    own = run.parameters["control_group"]
    groups = [own] + [c for c in CONTROL_GROUPS if c != own]
    key = t("exit_health.outcome", run.lang)
    parts = []
    for cg in groups:
        rows = []
        for outcome in [o for o in DYNAMIC if o in fx.fits]:
            label = t(f"exit_health.outcome.{outcome}", run.lang)
            if cg == own:
                gt = fx.fits[outcome][0]
            else:
                gt, fit_notes = _att(run, sd.design, outcome, control_group=cg, label="comparison")
                notes += fit_notes
            if gt is None:
                rows.append(_withheld(label, 0))
            else:
                rows.append(_rows(gt.aggregate("simple"), {"ATT": label}, _unit_of(f"att_{outcome}"))[0])
        table = _rows_table(run, rows, name=f"design_comparison {cg}", key=key)
        name = t(f"exit_health.control_short.{cg}", run.lang)
        parts.append((name, table, "estimate"))
    table = combine(parts, on=[key], name="design_comparison")
    _show_by_scale(run, table, key=key, labels={f"att_{o}": t(f"exit_health.outcome.{o}", run.lang) for o in DYNAMIC},
                   caption=t("exit_health.design_comparison_caption", run.lang,
                             own=t(f"exit_health.control_short.{own}", run.lang)),
                   columns=[p[0] for p in parts], formats={})
    return Table(table, notes)


def placebo_and_heterogeneity(run, sd: StudyDesign, fx: Effects) -> Table:
    """The placebo (exit for other reasons) beside the main effect, and effects by sex and age group.

    A group with too few leavers or comparison persons is withheld, never estimated. The table shows
    the groups' counts only when no group is withheld: with the main count they would give a withheld
    group's count by subtraction.
    """
    from analysis.report.checked import concat
    from analysis.report.labels import t

    if not fx.fits:
        return Table(None)
    design = sd.design
    notes = Notes()
    group_col = t("intake.group", run.lang)
    tables = []
    for outcome in [o for o in DYNAMIC if o in fx.fits]:
        everyone = np.ones(len(design.female), dtype=bool)
        groups = [(t("exit_health.main", run.lang), everyone, False, "main"),
                  (t("exit_health.placebo", run.lang), everyone, True, "placebo")]
        # within one sex the groups would repeat the main effect; with by="sex" the table of groups shows them
        if run.parameters.get("sex", "all") == "all" and run.parameters.get("by", "") != "sex":
            groups += [(t("women", run.lang), design.female, False, "women"),
                       (t("men", run.lang), ~design.female, False, "men")]
        for lo, hi in _age_groups(run):
            groups.append((f"{lo}-{hi}", (design.age_first >= lo) & (design.age_first <= hi), False, f"{lo}-{hi}"))
        rows = []
        for label, keep, placebo, tag in groups:
            n_t, n_c = _design_units(run, design, keep=keep, placebo=placebo)
            if tag == "main":
                gt = fx.fits[outcome][0]
            elif min(n_t, n_c) >= run.policy.min_units:
                gt, fit_notes = _att(run, design, outcome, keep=keep, placebo=placebo, label=tag)
                notes += fit_notes
            else:
                gt = None
            if gt is not None:
                rows.append(_rows(gt.aggregate("simple"), {"ATT": label}, _unit_of(f"att_{outcome}"))[0])
            else:
                rows.append(_withheld(label, n_t, n_c))
        tables.append(_rows_table(run, rows, name=f"heterogeneity {outcome}", key=group_col)
                      .with_key(t("exit_health.outcome", run.lang), t(f"exit_health.outcome.{outcome}", run.lang)))
    table = _show_groups(run, concat(tables, name="heterogeneity"), group_col=group_col, outcomes=DYNAMIC,
                         caption=t("exit_health.heterogeneity_caption", run.lang))
    return Table(table, notes)


#: the natural order of the levels of some ``by`` columns (other levels follow, sorted)
LEVEL_ORDER = {"education": ["low", "middle", "high"], "migration_background": ["dutch", "western", "non_western"],
               "sex": ["F", "M"]}


def group_effects(run, groups: Mapping[str, StudyDesign], fits: Mapping[tuple, object], *, by: str) -> Table:
    """Effects per level of the categorical column ``by``: the same design within each group (``groups``,
    from ``sd.within(by, level)``) and its fits (``fits[outcome, level]``, the notebook's
    ``rd.att_gt_at_risk`` calls), written to results.json as ``att_<outcome>_<by>_<level>`` and shown in a
    table.

    Disclosure control as for every estimate: a group with fewer than 10 leavers or comparison persons is not
    estimated and its rows are withheld, with a sentence. When the withheld groups of an outcome together
    rest on fewer than 10 leavers, the smallest published group is withheld too (secondary suppression:
    the main effect's count minus the published groups' counts would give them away), and the table then
    shows no counts.
    """
    from analysis.report.checked import concat
    from analysis.report.labels import t, t_plain

    if not by or not groups:
        return Table(None)
    order = LEVEL_ORDER.get(by, [])  # the levels in their natural order (low, middle, high), others after
    groups = dict(sorted(groups.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])))
    min_units = run.policy.min_units
    covariates = run.parameters["covariates"]
    notes = Notes()
    tables, withheld_groups = [], set()
    for outcome in run.parameters["outcomes"]:
        unit = _unit_of(f"att_{outcome}")
        rows, small = {}, []
        for level, sub in groups.items():
            name = f"att_{outcome}_{by}_{level}"
            gt = fits.get((outcome, level))
            if gt is not None and dz.estimable(gt):
                rows[level] = _rows(gt.aggregate("simple"), {"ATT": name}, unit)[0]
                tag = f"by:{by}={level}"
                dropped = sub.design.constant_covariates(covariates)
                notes += Notes(tuple((tag, c) for c in dropped),
                               tuple(c for c in dz.cohort_dropped(gt, covariates) if c not in dropped),
                               tuple(("other", int(sub.design.years[0] + g - 1))
                                     for g in gt.diagnostics.get("cohorts_without_model", [])))
            else:
                rows[level] = _withheld(name, sub.n_treated, sub.n_control)
            if min(sub.n_treated, sub.n_control) < min_units:
                small.append(level)
        hidden = sum(groups[level].n_treated for level in small)
        if 0 < hidden < min_units:
            published = sorted((groups[level].n_treated, level) for level in groups if level not in small)
            for n_t, level in published:
                if hidden >= min_units:
                    break
                rows[level] = {**rows[level], "estimate": None, "se": None, "ci_low": None, "ci_high": None,
                               "suppressed": True}
                run.report.log.add("results.json", rows[level]["name"], "secondary")
                hidden += n_t
        checked = _add(run, list(rows.values()))
        withheld_groups |= {level for level, row in zip(rows, checked) if row["suppressed"]}
        display = [{**row, "name": _level_label(by, level, run.lang)} for level, row in zip(rows, checked)]
        tables.append(_rows_table(run, display, name=f"by_{by} {outcome}", key=t("intake.group", run.lang))
                      .with_key(t("exit_health.outcome", run.lang), t(f"exit_health.outcome.{outcome}", run.lang)))
    column = t_plain(f"exit_health.by.col.{by}", run.lang) if f"exit_health.by.col.{by}" in _catalogue() else by
    table = _show_groups(run, concat(tables, name=f"by_{by}"), group_col=t("intake.group", run.lang),
                         outcomes=run.parameters["outcomes"],
                         caption=t("exit_health.by_caption", run.lang, column=column))
    if withheld_groups:
        names = [_level_label(by, level, run.lang) for level in groups if level in withheld_groups]
        joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + t_plain("exit_health.and", run.lang) + names[-1]
        run.report.markdown(t("exit_health.by_withheld", run.lang, min_units=min_units, groups=joined))
    return Table(table, notes)


def _catalogue():
    from analysis.report.labels import catalogue

    return catalogue()


def _level_label(column: str, value: str, lang: str) -> str:
    """A level of a ``by`` column as the report names it (codes such as municipality codes as they are)."""
    from analysis.report.labels import t_plain

    key = f"exit_health.by.level.{column}.{value}"
    return t_plain(key, lang) if key in _catalogue() else str(value)
