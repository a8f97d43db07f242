"""Study "compare": municipalities compared once their population is taken into account.

A person-level logit of the outcome on the covariates, without the municipality,
gives each person's expected outcome; per municipality the observed count O,
the expected count E and their ratio O/E (indirect standardisation) with an
exact Poisson interval; a funnel plot of O/E against E with limits that allow
for overdispersion (Spiegelhalter 2005; estimated from the published
municipalities and stated in the caption); empirical-Bayes shrunken ratios and
rank intervals; the raw rate beside the adjusted ratio; each municipality's 5
nearest peers by composition. The numerical core is
``analysis.estimators.standardisation``.

Outcomes (``year`` = Y; the municipality is the one in ``persons``):
- ``bijstand``: bijstand on 31 December of Y, persons aged age_min..age_max (age = Y - birth year);
  covariates on that date, prior benefit receipt (WW, WIA, other) in the 12 months before;
- ``inflow``: a new bijstand spell starting in Y, persons without bijstand in December of Y-1
  (one person-year at risk each); covariates in December of Y-1;
- ``outflow_to_work``: a person's first bijstand spell running in Y ends in Y with a job starting
  within 31 days; covariates in December of Y-1;
- ``participation_ladder``: the last step measured in Y is 5 or 6 (paid work), persons with a
  measurement in Y (datasets with the ladder table only).

Disclosure (issue #13): a municipality's ratio times its expected count is its
observed count, so a municipality is published only where its raw rate passes
the share rule (n, numerator and complement at least 10, with secondary
suppression against the published total); overdispersion, shrinkage, ranks and
the share outside the limits are computed from the published municipalities
only, so they reveal nothing about a withheld one. The model's fit is
published only with at least 10 residual degrees of freedom.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, check_choice
from analysis.studies.base import StudyContext, setup_study

OUTCOMES = ("bijstand", "inflow", "outflow_to_work", "participation_ladder")
COVARIATES = ("sex", "age_band", "education", "migration_background", "partnered", "prior_benefit")
OPTIONAL_COLUMNS = {"education": "education", "migration_background": "migration_background"}
AGE_BANDS = [(0, 26), (27, 34), (35, 44), (45, 54), (55, 200)]
N_PEERS = 5
PAID_WORK_STEPS = (5, 6)


def _validate(dataset, *, outcome: str, year: int, covariates, age_min: int, age_max: int, sex: str) -> None:
    check_choice("outcome", outcome, OUTCOMES)
    check_choice("sex", sex, ("all", "F", "M"))
    for c in covariates:
        check_choice("covariates", c, COVARIATES)
    if not (isinstance(age_min, int) and isinstance(age_max, int)) or not 0 <= age_min <= age_max <= 120:
        raise ParameterError(f"age_min={age_min!r}, age_max={age_max!r}: give whole ages with 0 <= age_min <= "
                             "age_max <= 120 (for example 18 and 66).")
    start, end = dataset.meta["observation_start"], dataset.meta["observation_end"]
    first = start.year + 1  # covariates look 12 months back
    last = end.year if (end.month, end.day) == (12, 31) else end.year - 1
    if not isinstance(year, int) or not first <= year <= last:
        raise ParameterError(f"year={year!r} is outside this dataset; give a full calendar year from {first} to "
                             f"{last} (the year before it must be observed too).")
    if outcome == "participation_ladder" and dataset.tables.get("participation_ladder") is None:
        raise ParameterError("outcome='participation_ladder' needs the optional participation_ladder table, which "
                             "this dataset does not have; choose bijstand, inflow or outflow_to_work.")


def setup(*, dataset: str, outcome: str = "bijstand", year: int = 2022, covariates=COVARIATES,
          municipality: str = "all", age_min: int = 18, age_max: int = 66, sex: str = "all", lang: str = "nl",
          output_dir: str = "") -> StudyContext:
    """Validate the parameters against the dataset (before any store is built), load it, build its store."""
    covariates = list(covariates)
    params = {"outcome": outcome, "year": year, "covariates": covariates, "municipality": municipality,
              "age_min": age_min, "age_max": age_max, "sex": sex}
    return setup_study("compare", dataset=dataset, lang=lang, output_dir=output_dir, parameters=params,
                       title_key="compare.title",
                       validate=lambda ds: _validate(ds, outcome=outcome, year=year, covariates=covariates,
                                                     age_min=age_min, age_max=age_max, sex=sex))


def _checked(ctx: StudyContext) -> dict:
    return {"policy": ctx.report.policy, "log": ctx.report.log}


def _names(ctx: StudyContext) -> dict:
    names = ctx.dataset.tables.get("municipalities")
    return dict(zip(names["municipality_code"], names["name"])) if names is not None else {}


def _age_band(age: pd.Series, age_min: int, age_max: int) -> pd.Series:
    labels = []
    for lo, hi in AGE_BANDS:
        lo, hi = max(lo, age_min), min(hi, age_max)
        labels.append((lo, hi))
    out = pd.Series(pd.NA, index=age.index, dtype="string")
    for lo, hi in labels:
        if lo <= hi:
            out[(age >= lo) & (age <= hi)] = f"{lo}-{hi}"
    return out


def population_frame(ctx: StudyContext) -> pd.DataFrame:
    """One row per unit (person, or person's first spell) with outcome ``y``, municipality and covariates;
    says in a sentence which covariates are used and which the dataset lacks."""
    from analysis.report.labels import t

    p = ctx.parameters
    year, outcome = p["year"], p["outcome"]
    sex_sql = "TRUE" if p["sex"] == "all" else f"p.sex = '{p['sex']}'"  # validated: F or M
    ref = year * 12 + 11 if outcome == "bijstand" else year * 12 - 1  # covariates' reference month
    con = ctx.store.connect()
    base = f"""SELECT p.person_id, p.municipality_code, p.sex, {year} - p.birth_year AS age,
                      p.education, p.migration_background
               FROM persons p
               WHERE {year} - p.birth_year BETWEEN {int(p['age_min'])} AND {int(p['age_max'])} AND {sex_sql}"""
    if outcome == "bijstand":
        sql = f"""SELECT b.*, CAST(EXISTS (SELECT 1 FROM bijstand_spells s WHERE s.person_id = b.person_id
                      AND s.start_date <= DATE '{year}-12-31' AND s.end_date >= DATE '{year}-12-31') AS INT) AS y
                  FROM ({base}) b"""
    elif outcome == "inflow":
        sql = f"""SELECT b.*, CAST(EXISTS (SELECT 1 FROM bijstand_spells s WHERE s.person_id = b.person_id
                      AND year(s.start_date) = {year}) AS INT) AS y
                  FROM ({base}) b
                  WHERE NOT EXISTS (SELECT 1 FROM person_month m WHERE m.person_id = b.person_id
                                    AND m.month = {ref} AND m.bijstand = 1)"""
    elif outcome == "outflow_to_work":
        sql = f"""WITH first_spell AS (
                    SELECT s.person_id, arg_min(s.spell_id, s.start_date) AS spell_id FROM bijstand_spells s
                    WHERE s.start_date <= DATE '{year}-12-31' AND s.end_date >= DATE '{year}-01-01'
                    GROUP BY s.person_id)
                  SELECT b.*, CAST(COALESCE(x.days_to_employment <= 31 AND year(x.end_date) = {year}, FALSE)
                                   AS INT) AS y
                  FROM ({base}) b JOIN first_spell f USING (person_id)
                  LEFT JOIN bijstand_exits x ON x.person_id = f.person_id AND x.spell_id = f.spell_id"""
    else:
        ladder = ctx.dataset.tables["participation_ladder"][["person_id", "date", "step"]]
        ladder = ladder[pd.to_datetime(ladder["date"]).dt.year == year].sort_values("date")
        last = ladder.groupby("person_id", as_index=False).last()
        con.register("ladder_last", last)
        sql = f"""SELECT b.*, CAST(l.step IN {PAID_WORK_STEPS} AS INT) AS y
                  FROM ({base}) b JOIN ladder_last l USING (person_id)"""
    frame = con.execute(f"""
        WITH units AS ({sql})
        SELECT u.*, COALESCE(m.partnered, 0) AS partnered,
               COALESCE((SELECT max(o.other_benefit) FROM person_month o WHERE o.person_id = u.person_id
                         AND o.month BETWEEN {ref - 12} AND {ref - 1}), 0) AS prior_benefit
        FROM units u LEFT JOIN person_month m ON m.person_id = u.person_id AND m.month = {ref}
        ORDER BY u.person_id""").df()
    frame["age_band"] = _age_band(frame["age"], p["age_min"], p["age_max"])
    frame["partnered"] = frame["partnered"].astype(int).astype(str)
    frame["prior_benefit"] = frame["prior_benefit"].astype(int).astype(str)
    persons = ctx.dataset.tables["persons"]
    used, dropped = [], []
    for c in p["covariates"]:
        col = OPTIONAL_COLUMNS.get(c)
        if col is not None and (col not in persons.columns or persons[col].isna().all()):
            dropped.append(c)
        else:
            used.append(c)
    frame.attrs["covariates_used"], frame.attrs["covariates_dropped"] = used, dropped
    names = ", ".join(t(f"compare.cov.{c}", ctx.lang) for c in used) or t("compare.cov.none", ctx.lang)
    text = t("compare.covariates_used", ctx.lang, covariates=names)
    if dropped:
        text += " " + t("compare.covariates_dropped", ctx.lang,
                        covariates=", ".join(t(f"compare.cov.{c}", ctx.lang) for c in dropped))
    ctx.report.markdown(text)
    return frame


def reference_model(ctx: StudyContext, frame: pd.DataFrame):
    """The logit without municipality; each person's expected outcome (``None`` if it cannot be fitted)."""
    from analysis.estimators.standardisation import expected_outcome
    from analysis.report.labels import t

    used = frame.attrs.get("covariates_used", [])
    if frame.empty or frame["y"].nunique() < 2:
        ctx.report.markdown(f"*{t('compare.no_model', ctx.lang, min_units=ctx.report.policy.min_units)}*")
        return None
    return expected_outcome(frame, outcome="y", covariates=used)


def _unit_counts(frame: pd.DataFrame, model) -> pd.DataFrame:
    f = frame.assign(p=model.expected, v=model.expected * (1 - model.expected))
    g = f.groupby("municipality_code", sort=True)
    return pd.DataFrame({"unit": g.size().index, "n": g.size().to_numpy(), "observed": g["y"].sum().to_numpy(),
                         "expected": g["p"].sum().to_numpy(), "variance": g["v"].sum().to_numpy()})


def compare(ctx: StudyContext, frame: pd.DataFrame, model):
    """Raw rates (checked), the standardised comparison of the published municipalities, results rows.

    Returns ``(raw, comparison)``: the checked raw-rate table and the
    :class:`~analysis.estimators.standardisation.StandardisedComparison` (None where fewer than 3
    municipalities are published)."""
    from analysis.estimators.standardisation import compare_units
    from analysis.report.disclosure import safe_aggregate

    outcome = ctx.parameters["outcome"]
    # the national total is published with the table: withheld municipalities are protected from it
    # every municipality of the dataset is a row: one without units is a withheld "x", never absent
    codes = sorted(ctx.dataset.tables["persons"]["municipality_code"].dropna().astype(str).unique())
    raw = safe_aggregate(frame, by=["municipality_code"], value="y", stat="share", total_published=True,
                         levels={"municipality_code": codes}, name=f"raw_rate_{outcome}", **_checked(ctx))
    published = raw.frame.loc[~raw["suppressed"].to_numpy(), "municipality_code"].tolist()
    rows = []
    for code, r in raw.frame.set_index("municipality_code").iterrows():
        held = code not in published
        p = r["value"]
        rows.append({"name": f"raw_rate_{outcome}_{code}", "estimate": None if held else float(p),
                     "se": None if held else float(np.sqrt(p * (1 - p) / r["n"])),
                     "ci_low": None, "ci_high": None, "n": None if held else int(r["n"]), "unit": "share",
                     "suppressed": held})
    ctx.add_estimates(rows)
    if model is None or len(published) < 3:
        from analysis.report.labels import t

        ctx.add_estimates([_null(f"overdispersion_{outcome}", "phi"), _null(f"outside_998_share_{outcome}", "share")])
        for code in raw.frame["municipality_code"]:
            ctx.add_estimates([_null(f"adjusted_ratio_{outcome}_{code}", "ratio")])
        ctx.report.markdown(f"*{t('compare.too_few', ctx.lang, min_units=ctx.report.policy.min_units)}*")
        return raw, None
    counts = _unit_counts(frame, model)
    comp = compare_units(counts[counts["unit"].isin(published)], seed=0)
    tab = comp.table.set_index("unit")
    adj = []
    for code in raw.frame["municipality_code"]:
        name = f"adjusted_ratio_{outcome}_{code}"
        if code not in tab.index:
            adj.append(_null(name, "ratio"))
            continue
        r = tab.loc[code]
        adj.append({"name": name, "estimate": float(r["ratio"]), "se": float(r["se"]), "ci_low": float(r["ci_lower"]),
                    "ci_high": float(r["ci_upper"]), "n": int(r["n"]), "unit": "ratio", "suppressed": False})
        adj.append({"name": f"shrunken_ratio_{outcome}_{code}", "estimate": float(r["shrunken"]), "se": None,
                    "ci_low": float(r["shrunken_lower"]), "ci_high": float(r["shrunken_upper"]), "n": int(r["n"]),
                    "unit": "ratio", "suppressed": False})
        adj.append({"name": f"rank_{outcome}_{code}", "estimate": float(r["rank"]), "se": None,
                    "ci_low": float(r["rank_lower"]), "ci_high": float(r["rank_upper"]), "n": int(r["n"]),
                    "unit": "rank", "suppressed": False})
    n_pub = int(tab["n"].sum())
    od = comp.overdispersion
    adj.append({"name": f"overdispersion_{outcome}", "estimate": od.phi, "se": None, "ci_low": None, "ci_high": None,
                "n": n_pub, "unit": "phi", "suppressed": False})
    adj.append({"name": f"overdispersion_tau2_{outcome}", "estimate": od.tau2, "se": None, "ci_low": None,
                "ci_high": None, "n": n_pub, "unit": "tau2", "suppressed": False})
    adj.append({"name": f"outside_998_share_{outcome}", "estimate": comp.outside_share(0.998), "se": None,
                "ci_low": None, "ci_high": None, "n": n_pub, "unit": "share_of_municipalities", "suppressed": False})
    ctx.add_estimates(adj, residual_df=model.residual_df)
    return raw, comp


def _null(name: str, unit: str) -> dict:
    return {"name": name, "estimate": None, "se": None, "ci_low": None, "ci_high": None, "n": None, "unit": unit,
            "suppressed": True}


def _rows_table(ctx: StudyContext, prefix: str, codes, *, name: str):
    """A checked table keyed by municipality code from the results rows ``<prefix><code>``."""
    from analysis.report.disclosure import checked_estimates

    rows = []
    for code in codes:
        try:
            row = dict(ctx.estimate(f"{prefix}{code}"))
        except KeyError:
            row = _null("", "ratio")
        row["name"] = code
        rows.append(row)
    return checked_estimates(rows, name=name, key="municipality_code", **_checked(ctx))


def label_offsets(x, y, *, near_x: float = 0.12, near_y: float = 0.05,
                  y_span: float | None = None) -> list[tuple[float, float, str]]:
    """Offsets (points) and alignment for point labels on a log-x plot so that neighbours do not overlap:
    a label goes right of its point, and when an earlier label lies within ``near_x`` decades and
    ``near_y`` of the y-range (``y_span``: the axis's; default the points'), it moves above, below or to
    the left instead."""
    x, y = np.log10(np.asarray(x, float)), np.asarray(y, float)
    span = float(y_span if y_span else np.ptp(y)) or 1.0
    choices = [(4, 0, "left"), (-4, 0, "right"), (0, 7, "center"), (0, -7, "center"), (4, 9, "left"), (4, -9, "left")]
    label_width = 2 * near_x  # a name of ~10 characters at 6 pt spans about this many decades
    placed: list[tuple[float, float, int]] = []
    out = []
    for i in np.argsort(x, kind="stable"):
        close_y = np.abs(y - y[i]) < near_y * span
        others = np.arange(len(x)) != i
        used = {k for (px, py, k) in placed if abs(px - x[i]) < near_x and abs(py - y[i]) < near_y * span}
        if (close_y & others & (x > x[i]) & (x - x[i] < label_width)).any():
            used.add(0)  # a point to the right would sit under the text
        if (close_y & others & (x < x[i]) & (x[i] - x < label_width)).any():
            used.add(1)
        k = next((k for k in range(len(choices)) if k not in used), 0)
        placed.append((x[i], y[i], k))
        out.append((i, choices[k]))
    return [c for _, c in sorted(out)]


def funnel(ctx: StudyContext, raw, comp) -> None:
    """The funnel plot: O/E against E with 95 % and 99.8 % limits allowing for overdispersion."""
    from analysis.report.checked import checked_figure
    from analysis.report.escape import plot_text
    from analysis.report.labels import fmt_number, t, t_plain

    if comp is None:
        return
    import matplotlib.pyplot as plt

    outcome, lang = ctx.parameters["outcome"], ctx.lang
    codes = raw.frame["municipality_code"].tolist()
    ratio = _rows_table(ctx, f"adjusted_ratio_{outcome}_", codes, name=f"adjusted_ratio_{outcome}")
    expected = comp.table.set_index("unit")["expected"]
    f = ratio.frame.assign(_held=ratio["suppressed"].to_numpy())
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    shown = f[~f["_held"]]
    xs = expected.reindex(shown["municipality_code"]).to_numpy(float)
    grid = np.geomspace(max(xs.min() * 0.7, 0.5), xs.max() * 1.4, 200)
    lim = comp.limits(grid)
    for level, style in (("95", "--"), ("99.8", ":")):
        shown_level = level.replace(".", ",") if lang == "nl" else level
        ax.plot(grid, lim[f"upper_{level}"], style, color="0.25", lw=1,
                label=t_plain("compare.limit", lang, level=shown_level))
        ax.plot(grid, lim[f"lower_{level}"], style, color="0.25", lw=1)
    ax.axhline(1.0, color="0.25", lw=0.8)
    mine = shown["municipality_code"] == ctx.parameters["municipality"]
    ax.scatter(xs[~mine.to_numpy()], shown.loc[~mine, "estimate"], s=18, color="#0072b2",
               label=t_plain("compare.municipalities", lang))
    if mine.any():
        ax.scatter(xs[mine.to_numpy()], shown.loc[mine, "estimate"], s=60, color="#d55e00", zorder=3,
                   label=plot_text(_names(ctx).get(ctx.parameters["municipality"], ctx.parameters["municipality"])))
    names = _names(ctx)
    ys = shown["estimate"].to_numpy(float)
    low, high = ax.get_ylim()
    for i, (dx, dy, ha) in enumerate(label_offsets(xs, ys, y_span=high - low)):
        code = shown["municipality_code"].iloc[i]
        ax.annotate(plot_text(names.get(code, code)), (xs[i], ys[i]), fontsize=6, xytext=(dx, dy),
                    textcoords="offset points", ha=ha, va="center")
    if f["_held"].any():  # withheld municipalities: an x at the foot, no position
        ax.plot([0.02], [0.03], transform=ax.transAxes, label=t_plain("figure.withheld_legend", lang),
                marker="x", color="0.35", ms=6, mew=1.4, ls="none", clip_on=False)
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_number(v, lang, digits=0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_number(v, lang, digits=1)))
    ax.set_xlabel(t_plain("compare.expected_axis", lang))
    ax.set_ylabel(t_plain("compare.ratio_axis", lang))
    ax.legend(fontsize=7)
    fig.tight_layout()
    od = comp.overdispersion
    checked = checked_figure(fig, name=f"funnel_{outcome}", tables=[ratio.select(["municipality_code", "estimate"])])
    ctx.report.figure(checked, caption=t(
        "compare.funnel_caption", lang, outcome=t(f"compare.outcome.{outcome}", lang), year=ctx.parameters["year"],
        phi=fmt_number(od.phi, lang, digits=2), tau=fmt_number(np.sqrt(od.tau2), lang, digits=3),
        units=od.n_units))


def table(ctx: StudyContext, raw, comp):
    """Raw rate, adjusted ratio with interval, shrunken ratio and rank interval per municipality."""
    from analysis.report.checked import combine
    from analysis.report.labels import t

    outcome, lang = ctx.parameters["outcome"], ctx.lang
    codes = raw.frame["municipality_code"].tolist()
    head = {c: t(f"compare.head.{c}", lang) for c in ("persons", "raw", "ratio", "ratio_low", "ratio_high",
                                                        "shrunken", "rank_low", "rank_high")}
    if head["ratio_high"] == head["rank_high"]:  # "tot" twice: columns must differ; a thin space tells them apart
        head["rank_high"] += "\u2009"
    parts = [(head["persons"], raw, "n"), (head["raw"], raw, "value")]
    if comp is not None:
        adj = _rows_table(ctx, f"adjusted_ratio_{outcome}_", codes, name=f"adjusted_ratio_{outcome}")
        shr = _rows_table(ctx, f"shrunken_ratio_{outcome}_", codes, name=f"shrunken_ratio_{outcome}")
        rank = _rows_table(ctx, f"rank_{outcome}_", codes, name=f"rank_{outcome}")
        parts += [(head["ratio"], adj, "estimate"), (head["ratio_low"], adj, "ci_low"),
                  (head["ratio_high"], adj, "ci_high"), (head["shrunken"], shr, "estimate"),
                  (head["rank_low"], rank, "ci_low"), (head["rank_high"], rank, "ci_high")]
    shown = combine(parts, on=["municipality_code"], name=f"compare_{outcome}")
    shown = shown.relabel("municipality_code", lambda c: _names(ctx).get(c, c), into="name")
    shown = shown.select([c for c in shown.columns if c != "municipality_code"])
    if comp is not None:
        shown = shown.sort(head["ratio"])
    shown = shown.rename({"name": t("municipality", lang)})
    formats = {head["persons"]: "int", head["raw"]: "pct"}
    formats.update({head[c]: "num2" for c in ("ratio", "ratio_low", "ratio_high", "shrunken")})
    formats.update({head[c]: "int" for c in ("rank_low", "rank_high")})
    ctx.report.table(shown, caption=t("compare.table_caption", lang, outcome=t(f"compare.outcome.{outcome}", lang),
                                      year=ctx.parameters["year"]), number_formats=formats,
                     note=t("compare.head_note", lang) + " " + t("compare.table_note", lang))
    return shown


def composition(frame: pd.DataFrame, covariates) -> pd.DataFrame:
    """Per municipality the shares of each covariate level (the population's composition)."""
    parts = []
    for c in covariates:
        parts.append(pd.crosstab(frame["municipality_code"], frame[c].astype("string").fillna("unknown"),
                                 normalize="index").add_prefix(f"{c}="))
    return pd.concat(parts, axis=1).fillna(0.0) if parts else pd.DataFrame(index=sorted(frame["municipality_code"].unique()))


def peers(ctx: StudyContext, frame: pd.DataFrame, raw) -> dict:
    """Each municipality's 5 nearest peers by composition ("vergelijkbare gemeenten"): names only."""
    from analysis.estimators.standardisation import nearest_peers
    from analysis.report.labels import t

    comp = composition(frame, frame.attrs.get("covariates_used", []))
    if len(comp) < 2 or comp.shape[1] == 0:
        return {}
    found = nearest_peers(comp, k=N_PEERS)
    names = _names(ctx)
    text = {code: ", ".join(names.get(c, c) for c in found.get(code, [])) for code in raw.frame["municipality_code"]}
    shown = raw.relabel("municipality_code", lambda c: text.get(c, ""), into="peers")
    shown = shown.relabel("municipality_code", lambda c: names.get(c, c), into="name")
    shown = shown.select(["name", "peers"]).rename({"name": t("municipality", ctx.lang),
                                                    "peers": t("compare.col.peers", ctx.lang)})
    ctx.report.table(shown, caption=t("compare.peers_caption", ctx.lang, k=N_PEERS))
    return found


def methods(ctx: StudyContext, model, comp) -> None:
    """The methods section: model, interval, limits, shrinkage, and what the comparison cannot say."""
    from analysis.report.labels import fmt_number, t

    lang = ctx.lang
    ctx.report.heading(t("compare.methods_heading", lang))
    ctx.report.markdown(t(f"compare.definition.{ctx.parameters['outcome']}", lang, year=ctx.parameters["year"]))
    ctx.report.markdown(t("compare.methods_model", lang))
    if comp is not None:
        od = comp.overdispersion
        key = "compare.methods_funnel" if od.tau2 > 0 else "compare.methods_funnel_none"
        ctx.report.markdown(t(key, lang, phi=fmt_number(od.phi, lang, digits=2),
                              tau=fmt_number(np.sqrt(od.tau2), lang, digits=3), units=od.n_units))
    ctx.report.markdown(t("compare.methods_caveat", lang))


def summary(ctx: StudyContext, comp) -> None:
    """The one-page summary for a council: where does our municipality stand, once its population is
    taken into account."""
    from analysis.report.labels import fmt_int, fmt_number, fmt_pct, t

    p, lang = ctx.parameters, ctx.lang
    outcome, code = p["outcome"], p["municipality"]
    what = t(f"compare.outcome.{outcome}", lang)
    ctx.report.markdown(t("compare.summary_intro", lang, outcome=what, year=p["year"]))
    if comp is None:
        ctx.report.markdown(t("compare.summary_none", lang, min_units=ctx.report.policy.min_units))
        ctx.report.say_withheld()
        return
    outside = ctx.estimate(f"outside_998_share_{outcome}")
    if code == "all":
        tab = comp.table
        above = int((tab["position"] == "above_99.8").sum())
        below = int((tab["position"] == "below_99.8").sum())
        ctx.report.markdown(t("compare.summary_all", lang, units=len(tab), above=fmt_int(above, lang),
                              below=fmt_int(below, lang),
                              share=fmt_pct(outside["estimate"], lang) if not outside["suppressed"] else "x"))
    else:
        name = _names(ctx).get(code, code)
        row = ctx.estimate(f"adjusted_ratio_{outcome}_{code}")
        raw = ctx.estimate(f"raw_rate_{outcome}_{code}")
        if row["suppressed"]:
            ctx.report.markdown(t("compare.summary_withheld", lang, name=name, min_units=ctx.report.policy.min_units))
        else:
            position = comp.table.set_index("unit").loc[code, "position"]
            rank = ctx.estimate(f"rank_{outcome}_{code}")
            ctx.report.markdown(t(
                "compare.summary_one", lang, name=name, raw=fmt_pct(raw["estimate"], lang),
                ratio=fmt_number(row["estimate"], lang, digits=2), low=fmt_number(row["ci_low"], lang, digits=2),
                high=fmt_number(row["ci_high"], lang, digits=2), units=len(comp.table),
                rank_low=fmt_int(rank["ci_low"], lang), rank_high=fmt_int(rank["ci_high"], lang),
                position=t(f"compare.position.{position}", lang)))
    ctx.report.markdown(t("compare.summary_caveat", lang))
    ctx.report.say_withheld()
