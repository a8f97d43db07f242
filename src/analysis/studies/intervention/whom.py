"""Intervention study: what works for whom. Sorted group average treatment effects (GATES) of a
cross-fitted CATE proxy, the best-linear-predictor test of heterogeneity and the characteristics of the
most and least affected groups (CLAN), by ``analysis.estimators.heterogeneity.gates``.

GATES need one row per unit: each participant's own risk-set row, and for every comparison person one of
their rows drawn at random (seeded); a person who starts later counts as a participant. The scores are
the doubly robust (AIPW) scores of everyone in that frame, so a GATE is the average effect of starting
for the group (participants and comparisons alike), not only for participants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.studies.base import StudyContext
from analysis.studies.intervention.design import _estimable, _table
from analysis.studies.intervention.diagnostics import covariate_label


def unit_frame(frame: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """One row per person: their participant row, else one of their comparison rows at random."""
    rng = np.random.default_rng([seed, 1717])
    shuffled = frame.assign(_r=rng.random(len(frame))).sort_values(["treated", "_r"], ascending=[False, True],
                                                                   kind="stable")
    return shuffled.drop_duplicates("person_id").drop(columns="_r").reset_index(drop=True)


def heterogeneity(ctx: StudyContext):
    """GATES, BLP test and CLAN of the effect on months in bijstand; results.json ``gates_<k>`` and
    ``heterogeneity_test_p``; a figure and a table. Off with ``heterogeneity=False``."""
    from analysis.errors import ParameterError
    from analysis.estimators.heterogeneity import gates
    from analysis.report import figures
    from analysis.report.labels import fmt_number, t, t_plain

    p = ctx.parameters
    if not p["heterogeneity"] or not _estimable(ctx):
        return None
    lang = ctx.lang
    ctx.report.heading(t("intervention.whom.heading", lang))
    frame = unit_frame(ctx.frames["risk_sets"], seed=p["seed"])  # type: ignore[attr-defined]
    covs = [c for c in ctx.frames["covariates"] if frame[c].std() > 0]  # type: ignore[attr-defined]
    k = p["gates_groups"]
    try:
        res = gates(frame, outcome="months_bijstand", treatment="treated", covariates=covs, groups=k, folds=5,
                    seed=p["seed"])
    except ParameterError:  # too few participants for the groups and folds
        ctx.report.markdown(t("intervention.whom.too_few", lang, groups=k))
        return None
    rows = ctx.add_estimates(res.to_estimates(unit="months"))
    by = {r["name"]: r for r in rows}
    names = [f"gates_{j}" for j in range(1, k + 1)]
    group = t("intervention.whom.group", lang)
    display = [{**by[n], "name": t("intervention.whom.group_label", lang, k=j + 1,
                                    what=t("intervention.whom.smallest" if j == 0 else "intervention.whom.largest", lang)
                                    if j in (0, k - 1) else "")}
               for j, n in enumerate(names)]
    table = _table(ctx, display, name="gates", key=group)
    fig = figures.line_by_group(
        table.relabel(group, {d["name"]: j + 1 for j, d in enumerate(display)}, into="x").with_key(
            "series", t_plain("intervention.whom.series", lang)),
        x="x", y="estimate", group="series", lower="ci_low", upper="ci_high", lang=lang,
        xlabel=t_plain("intervention.whom.xlabel", lang), ylabel=t_plain("intervention.whom.ylabel", lang))
    ax = fig.figure.axes[0]
    ax.set_xticks(range(1, k + 1))
    ax.axhline(0, color="black", lw=0.5)
    ate = by["blp_ate"]
    if ate["estimate"] is not None:
        ax.axhline(ate["estimate"], color="grey", ls="--", lw=0.8)
    ctx.report.figure(fig, caption=t("intervention.whom.figure_caption", lang))
    vn = {"estimate": t("estimate", lang), "ci_low": t("ci_low", lang), "ci_high": t("ci_high", lang)}
    ctx.report.table(table.select([group, "estimate", "ci_low", "ci_high"]).rename(vn),
                     caption=t("intervention.whom.table_caption", lang),
                     number_formats={v: "num2" for v in vn.values()})
    ptest = by["heterogeneity_test_p"]
    diff = by["gates_top_minus_bottom"]
    if ptest["estimate"] is not None and diff["estimate"] is not None:
        ctx.report.markdown(t("intervention.whom.test_text", lang, p=fmt_number(ptest["estimate"], lang, 3),
                              diff=fmt_number(diff["estimate"], lang, 1), low=fmt_number(diff["ci_low"], lang, 1),
                              high=fmt_number(diff["ci_high"], lang, 1), k=k))
    # CLAN: the characteristics of the least and most affected groups (the group with the smallest predicted
    # value of the effect on months in bijstand, that is the largest reduction, is "most affected")
    clan = res.clan_result()
    cf = clan.to_frame()
    crow = []
    for c in covs:
        for part, label in (("least", "intervention.whom.clan_smallest"), ("most", "intervention.whom.clan_largest")):
            r = cf.loc[f"{c}:{part}"]
            crow.append({"name": f"{covariate_label(c, lang)}\t{t(label, lang)}", "estimate": float(r["estimate"]),
                         "se": None, "ci_low": None, "ci_high": None, "n": int(r["n"]), "unit": "mean",
                         "suppressed": False, "_dominance": None if pd.isna(r["dominance"]) else float(r["dominance"])})
    from analysis.report.disclosure import checked_estimates

    ct = checked_estimates(crow, policy=ctx.report.policy, log=ctx.report.log, name="clan")
    key = t("intervention.covariate", lang)
    ct = ct.relabel("name", lambda s: s.split("\t")[0], into=key).relabel(
        "name", lambda s: s.split("\t")[1], into="_col").select([key, "_col", "estimate"])
    order = {covariate_label(c, lang): f"{i:03d}" for i, c in enumerate(covs)}
    back = {v: k_ for k_, v in order.items()}
    wide = ct.relabel(key, order).pivot(index=key, columns="_col", value="estimate").relabel(key, back)
    cols = [t("intervention.whom.clan_smallest", lang), t("intervention.whom.clan_largest", lang)]
    wide = wide.select([key, *cols])
    ctx.report.table(wide, caption=t("intervention.whom.clan_caption", lang, k=k),
                     number_formats={c: "num2" for c in cols})
    ctx.frames["gates"] = res  # type: ignore[attr-defined]
    return res
