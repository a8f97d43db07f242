"""Intervention study: what works for whom. Sorted group average treatment effects (GATES) of a
cross-fitted CATE proxy, the best-linear-predictor test of heterogeneity and the characteristics of the
most and least affected groups (CLAN), by ``analysis.estimators.heterogeneity.gates``.

GATES need one row per unit: each participant's own risk-set row and comparison rows from the same risk
set (same month and spell duration), a person drawn in several risk sets keeping one of them at random
(seeded); a person who starts later counts as a participant. The estimand is the study's: the effect on
the participants (``gates(..., estimand="ATT")``), so a GATE is the average effect of starting for the
participants in a group of the predicted effect, and truth.json's effects per group are comparable.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.kit.run import Run
from analysis.studies.intervention.design import Design, Options, _table
from analysis.studies.intervention.diagnostics import covariate_label, municipality_names


#: covariates the CLAN table leaves out (a square, the calendar year, municipality indicators, a missing flag)
CLAN_LEFT_OUT = ("age2", "year", "muni_", "ladder_missing")


def _gates_figure(table, *, group: str, ate: dict, lang: str):
    """GATES with their 95 % intervals as points with error bars (groups are categories, not a line)."""
    import matplotlib.pyplot as plt

    from analysis.report.checked import checked_figure
    from analysis.report.labels import fmt_number, t_plain

    f = table.frame
    held = table.withheld["estimate"].to_numpy()
    x = np.arange(1, len(f) + 1)
    est = np.where(held, np.nan, f["estimate"].to_numpy(float))
    lo, hi = f["ci_low"].to_numpy(float), f["ci_high"].to_numpy(float)
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    ax.errorbar(x, est, yerr=[est - lo, hi - est], fmt="o", capsize=4, color="#0072B2",
                label=t_plain("intervention.whom.series", lang))
    if ate["estimate"] is not None:
        ax.axhline(ate["estimate"], color="grey", ls="--", lw=0.8, label=t_plain("intervention.whom.ate", lang))
    ax.axhline(0, color="black", lw=0.5)
    for xi in x[held]:
        ax.text(xi, 0, "x", ha="center", va="center", color="grey")
    ax.set_xticks(x)
    ax.set_xlabel(t_plain("intervention.whom.xlabel", lang))
    ax.set_ylabel(t_plain("intervention.whom.ylabel", lang))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: fmt_number(v, lang, 0)))
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2, frameon=False)
    fig.tight_layout()
    return checked_figure(fig, name="gates", tables=[table])


#: comparison rows per participant in the GATES frame, drawn from the participant's own risk set (the
#: scores of the effect on the treated weight comparisons by e/(1-e), so many comparisons cost no variance)
CONTROLS_PER_PARTICIPANT = 20


def cate_learner():
    """The proxy of the effect: ridge regression on standardised covariates, the penalty chosen by
    cross-validation. A programme has a few hundred participants per half sample; on those a linear proxy
    sorts them better than boosted trees (which need leaves of dozens of units)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 4, 20)))


def unit_frame(frame: pd.DataFrame, *, seed: int, controls: int = CONTROLS_PER_PARTICIPANT) -> pd.DataFrame:
    """One row per person: each participant's row, and from each risk set at most ``controls`` comparison
    rows per participant drawn at random (seeded); a person drawn in several risk sets keeps one row, and a
    person who starts later keeps their participant row."""
    rng = np.random.default_rng([seed, 1717])
    f = frame.assign(_r=rng.random(len(frame)))
    rank = f[f["treated"] == 0].groupby("risk_set")["_r"].rank(method="first")
    per_set = f[f["treated"] == 1].groupby("risk_set").size()
    limit = f.loc[rank.index, "risk_set"].map(per_set * controls).fillna(0)
    keep = f["treated"] == 1
    keep.loc[rank.index] = rank <= limit
    f = f[keep].sort_values(["treated", "_r"], ascending=[False, True], kind="stable")
    return f.drop_duplicates("person_id").drop(columns="_r").reset_index(drop=True)


def heterogeneity(run: Run, design: Design, opts: Options):
    """GATES, BLP test and CLAN of the effect on months in bijstand; results.json ``gates_<k>`` and
    ``heterogeneity_test_p``; a figure and a table. Off with ``heterogeneity=False``."""
    from analysis.errors import ParameterError
    from analysis.estimators.heterogeneity import gates
    from analysis.report.labels import fmt_number, t

    p = opts
    if not p.heterogeneity or not design.estimable:
        return None
    lang = run.lang
    run.report.heading(t("intervention.whom.heading", lang))
    frame = unit_frame(design.frame, seed=p.seed)
    covs = [c for c in design.covariates if frame[c].std() > 0]
    k = p.gates_groups
    try:
        res = gates(frame, outcome="months_bijstand", treatment="treated", covariates=covs, groups=k, folds=5,
                    seed=p.seed, estimand="ATT", cate_learner=cate_learner())
    except ParameterError:  # too few participants for the groups and folds
        run.report.markdown(t("intervention.whom.too_few", lang, groups=k))
        return None
    rows = run.add(res.to_estimates(unit="months"))
    by = {r["name"]: r for r in rows}
    names = [f"gates_{j}" for j in range(1, k + 1)]
    group = t("intervention.whom.group", lang)
    display = [{**by[n], "name": t("intervention.whom.group_label", lang, k=j + 1,
                                    what=t("intervention.whom.smallest" if j == 0 else "intervention.whom.largest", lang)
                                    if j in (0, k - 1) else "")}
               for j, n in enumerate(names)]
    table = _table(run, display, name="gates", key=group)
    run.report.figure(_gates_figure(table, group=group, ate=by["blp_ate"], lang=lang),
                      caption=t("intervention.whom.figure_caption", lang))
    vn = {"estimate": t("estimate", lang), "ci_low": t("ci_low", lang), "ci_high": t("ci_high", lang)}
    run.report.table(table.select([group, "estimate", "ci_low", "ci_high"]).rename(vn),
                     caption=t("intervention.whom.table_caption", lang),
                     number_formats={v: "num2" for v in vn.values()})
    ptest = by["heterogeneity_test_p"]
    diff = by["gates_top_minus_bottom"]
    if ptest["estimate"] is not None and diff["estimate"] is not None:
        run.report.markdown(t("intervention.whom.test_text", lang, p=fmt_number(ptest["estimate"], lang, 3),
                              diff=fmt_number(diff["estimate"], lang, 1), low=fmt_number(diff["ci_low"], lang, 1),
                              high=fmt_number(diff["ci_high"], lang, 1), k=k))
    # CLAN: the characteristics of the least and most affected groups (the group with the smallest predicted
    # value of the effect on months in bijstand, that is the largest reduction, is "most affected")
    clan = res.clan_result().to_frame()
    shown = [c for c in covs if not c.startswith(CLAN_LEFT_OUT)]
    parts = {"least": t("intervention.whom.clan_smallest", lang), "most": t("intervention.whom.clan_largest", lang)}
    crow = []
    for i, c in enumerate(shown):
        for part in parts:
            r = clan.loc[f"{c}:{part}"]
            crow.append({"name": f"{i:03d}|{part}", "estimate": float(r["estimate"]), "se": None, "ci_low": None,
                         "ci_high": None, "n": int(r["n"]), "unit": "mean", "suppressed": False,
                         "_dominance": None if pd.isna(r["dominance"]) else float(r["dominance"])})
    from analysis.report.disclosure import checked_estimates

    key = t("intervention.covariate", lang)
    ct = checked_estimates(crow, policy=run.report.policy, log=run.report.log, name="clan")
    ct = ct.relabel("name", lambda s: s.split("|")[0], into=key).relabel(
        "name", lambda s: parts[s.split("|")[1]], into="_col").select([key, "_col", "estimate"])
    wide = ct.pivot(index=key, columns="_col", value="estimate").relabel(
        key, {f"{i:03d}": covariate_label(c, lang, municipality_names(run)) for i, c in enumerate(shown)})
    wide = wide.select([key, *parts.values()])
    run.report.table(wide, caption=t("intervention.whom.clan_caption", lang, k=k),
                     number_formats={c: "num2" for c in parts.values()})
    return res
