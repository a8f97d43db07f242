"""Intervention study: balance, overlap, the E-value and the exit curves of participants and comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.kit.run import Run
from analysis.studies.intervention.design import Design, Effects, _table

def municipality_names(run: Run) -> dict[str, str]:
    """code -> name from the dataset's optional ``municipalities`` table (empty without it)."""
    table = run.dataset.tables.get("municipalities")
    if table is None or not {"municipality_code", "name"} <= set(table.columns):
        return {}
    return dict(zip(table["municipality_code"].astype(str), table["name"].astype(str)))


def covariate_label(name: str, lang: str, names: dict[str, str] | None = None) -> str:
    """The report label of a risk-set covariate: ``muni_GM0363`` becomes "gemeente Amsterdam" when
    ``names`` (:func:`municipality_names`) has the code, else "gemeente GM0363"."""
    from analysis.report.labels import t

    if name.startswith("muni_"):
        code = name.removeprefix("muni_")
        return t("intervention.cov.muni", lang, code=(names or {}).get(code, code))
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


def diagnostics(run: Run, fx: Effects, opts) -> None:
    """Balance before and after weighting, overlap of the propensity scores, and the E-value."""
    from analysis.report import figures
    from analysis.report.checked import combine
    from analysis.report.disclosure import safe_aggregate, shares_within
    from analysis.report.labels import fmt_number, t, t_plain

    if not fx.design.estimable:
        return
    frame = fx.design.frame
    m = run.report.policy
    res = fx.results["months_bijstand"]["aipw"]
    bal = res.diagnostics["balance"]
    key = t("intervention.covariate", run.lang)
    names = municipality_names(run)
    parts = []
    for col, label in (("smd_before", "intervention.smd_before"), ("smd_after", "intervention.smd_after")):
        rows = [{"name": covariate_label(c, run.lang, names), "estimate": float(v), "se": None, "ci_low": None,
                 "ci_high": None, "n": _smallest_cell(frame, c) if c in frame else 0, "unit": "SMD",
                 "suppressed": False} for c, v in zip(bal["covariate"], bal[col])]
        parts.append((t(label, run.lang), _table(run, rows, name=f"balance {col}", key=key), "estimate"))
    table = combine(parts, on=[key], name="balance")
    run.report.table(table, caption=t("intervention.balance_caption", run.lang),
                     number_formats={p[0]: "num3" for p in parts})
    ps, d = np.asarray(res.diagnostics["propensity"]), np.asarray(res.diagnostics["treated"])
    top = next((r for r in PS_RANGES if (ps <= r).mean() >= 0.999), 1.0)
    edges = np.linspace(0, top, 11)
    labels = [f"{fmt_number(a, run.lang, 3)}-{fmt_number(b, run.lang, 3)}" for a, b in zip(edges[:-1], edges[1:])]
    group = np.where(d == 1, t_plain("intervention.participants", run.lang), t_plain("intervention.controls", run.lang))
    scores = pd.DataFrame({"group": group, "bin": pd.Categorical(
        np.array(labels)[np.clip(np.digitize(ps, edges[1:-1]), 0, len(labels) - 1)], categories=labels)})
    counts = safe_aggregate(scores, by=["bin", "group"], stat="count", policy=m, log=run.report.log, name="overlap",
                            levels={"bin": labels, "group": sorted(set(group))})
    shares = shares_within(counts, within=["group"], name="overlap_shares", policy=m, log=run.report.log)
    if bool(shares.withheld["value"].all()):  # a figure of nothing but x's tells a reader nothing
        run.report.markdown(t("intervention.overlap_withheld", run.lang, min_units=m.min_units))
        return _evalue(run, res, frame, opts)
    fig = figures.grouped_bars(shares, x="bin", y="value", group="group", percent=True, lang=run.lang,
                               ylabel=t_plain("intervention.share_in_bin", run.lang))
    fig.figure.axes[0].set_xlabel(t_plain("intervention.propensity", run.lang))
    fig.figure.axes[0].tick_params(axis="x", labelrotation=45, labelsize=7)
    run.report.figure(fig, caption=t("intervention.overlap_caption", run.lang,
                                     dropped=_count_text(run, res.diagnostics["dropped_by_trimming"])))
    return _evalue(run, res, frame, opts)


def _evalue(run: Run, res, frame, opts) -> None:
    """The E-value of the headline effect (when it is published)."""
    from analysis.estimators.propensity import e_value
    from analysis.report.labels import fmt_number, t

    head = run.estimate(f"att_months_bijstand_{opts.outcome_months}m")
    if head["suppressed"]:
        return
    r = res.to_frame().loc["ATT"]
    sd = float(frame.loc[frame["treated"] == 0, "months_bijstand"].std())
    ev = e_value(r["estimate"] / sd, r["ci_upper"] / sd if r["estimate"] < 0 else r["ci_lower"] / sd, scale="SMD")
    run.report.markdown(t("intervention.evalue_text", run.lang, e=fmt_number(ev["e_value"], run.lang, 2),
                          eci=fmt_number(ev["e_value_ci"], run.lang, 2)))


def _count_text(run: Run, n: int) -> str:
    """A count of units for a sentence: itself when 0 or from ``min_units`` on, else "fewer than 10"."""
    from analysis.report.labels import fmt_int, t

    n = int(n)
    if n == 0 or n >= run.report.policy.min_units:
        return fmt_int(n, run.lang)
    return t("fewer_than", run.lang, min_units=run.report.policy.min_units)


def exit_curves(run: Run, design: Design) -> None:
    """Share still in bijstand by months since the start month (Kaplan-Meier, stopping where fewer than
    10 remain at risk), and exits to work versus other exits as competing risks (Aalen-Johansen, by
    month; each point a share of the group that passes the numerator and complement rule, with 10 or
    more still at risk): participants and their risk sets."""
    from analysis.estimators import cumulative_incidence, kaplan_meier
    from analysis.report import figures
    from analysis.report.disclosure import survival_curve
    from analysis.report.labels import t, t_plain

    if not design.estimable:
        return
    m = run.report.policy
    frame = design.frame.copy()
    frame["months"] = (frame["spell_end"] - frame["month"]).clip(lower=0) + 0.5
    frame["ended"] = (~frame["spell_censored"].astype(bool)).astype(int)
    frame["group"] = np.where(frame["treated"] == 1, t_plain("intervention.participants", run.lang),
                              t_plain("intervention.controls", run.lang))
    km = kaplan_meier(frame, duration="months", event="ended", group="group")
    curve = survival_curve(km, policy=m, log=run.report.log, name="still_in_bijstand")
    fig = figures.survival(curve, xlabel=t_plain("intervention.months_since_start", run.lang),
                           ylabel=t_plain("overview.still_in_bijstand", run.lang), lang=run.lang, min_units=m.min_units)
    fig.figure.axes[0].set_xlim(0, 60)
    run.report.figure(fig, caption=t("intervention.km_caption", run.lang))
    # Competing risks: leaving for work (a job within 31 days) versus leaving for other reasons
    # (Aalen-Johansen; 1 - Kaplan-Meier of one cause would overstate it).
    to_work = frame["days_to_job"].notna() & (frame["days_to_job"] <= 31) & (frame["ended"] == 1)
    work, other = t_plain("intervention.cause_work", run.lang), t_plain("intervention.cause_other", run.lang)
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

    line = _table(run, rows(list(range(1, 61))), name="competing_risks", key="name")
    line = line.relabel("name", lambda s: s.split("\t")[0], into="series").relabel(
        "name", lambda s: float(s.split("\t")[1]), into="time")
    shown = line.frame.loc[~line.withheld["estimate"].to_numpy(), "series"].value_counts()
    if shown.empty or shown.max() < 2:  # no curve with two published points: a figure of x's tells nothing
        run.report.markdown(t("intervention.cif_withheld", run.lang, min_units=m.min_units))
    else:
        fig = figures.line_by_group(line, x="time", y="estimate", group="series", lower="ci_low", upper="ci_high",
                                    percent=True, lang=run.lang,
                                    xlabel=t_plain("intervention.months_since_start", run.lang),
                                    ylabel=t_plain("intervention.cumulative_share", run.lang))
        run.report.figure(fig, caption=t("intervention.cif_caption", run.lang))
    tab = _table(run, rows([12, 24]), name="competing_risks_12_24", key="name")
    when = t("intervention.months_since_start", run.lang)
    tab = tab.relabel("name", lambda s: s.split("\t")[0], into=t("intake.group", run.lang)).relabel(
        "name", lambda s: s.split("\t")[1], into=when)
    names = {"estimate": t("intervention.cumulative_share", run.lang), "ci_low": t("ci_low", run.lang),
             "ci_high": t("ci_high", run.lang)}
    tab = tab.select([t("intake.group", run.lang), when, "estimate", "ci_low", "ci_high"]).rename(names)
    run.report.table(tab, caption=t("intervention.competing_caption", run.lang),
                     number_formats={v: "pct" for v in names.values()})
