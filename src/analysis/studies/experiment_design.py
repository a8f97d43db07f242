"""Study "experiment", part 1: the design of a municipal experiment from the data.

The design population is a municipality's bijstand inflow (new spells starting in first_year..last_year)
or stock (persons with bijstand in January of those years). Its share leaving for work within 24 months
(the outcome of the analysis) gives the outcome's standard deviation, sqrt(p (1 - p)); its R^2 on the
strata (sex x age band) and the covariates gives what a stratified, covariate-adjusted design gains.
The size is the yearly inflow times the enrolment period (inflow), or the stock of the last year. From
these :mod:`analysis.estimators.experiments` gives, per design (individual, stratified, cluster) and
number of treatment arms (Bonferroni over the arms, the conservative side of the Holm correction the
analysis applies), the minimum detectable effect, the size that detects the target effect, and the
power at the available size; the power curve is a figure. Every number rests on the design
population's persons and its share leaving for work, so each is withheld when that share is.

The assignment: the last year's design population, assigned at random to control and the treatment
arms within strata with the run's seed (:func:`analysis.estimators.experiments.assign`), written as
``assignment.csv`` into the run directory; its sha256 goes into ``files.json``, which the manifest
records. The file holds pseudonymous ids and stays inside the secure environment: ``rendeert export``
takes only report.pdf and results.json.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

COVARIATES = ("female", "age", "education_low", "education_high", "non_western", "bijstand_months_before")
#: outcome, factor to the unit shown in tables (percentage points, months), results unit
OUTCOMES = (("exit_to_work_24m", 100.0, "difference"), ("bijstand_months_24m", 1.0, "months"))
AGE_BANDS = ((18, 34), (35, 49), (50, 66))
DESIGNS = ("individual", "stratified", "cluster")
ASSIGNMENT_FILE = "assignment.csv"
#: Common table expressions over units ``u(person_id, m)``: months with bijstand in m-24..m-1 (``hist``), and
#: a bijstand spell ending in m..m+23 followed by work within 31 days (``work``); joins, not correlated
#: subqueries, so DuckDB runs them as range joins.
OUTCOME_SQL = """
    hist AS (SELECT u.person_id, u.m, count(*) AS months FROM u JOIN person_month pm
             ON pm.person_id = u.person_id AND pm.bijstand = 1 AND pm.month BETWEEN u.m - 24 AND u.m - 1
             GROUP BY u.person_id, u.m),
    work AS (SELECT DISTINCT u.person_id, u.m FROM u JOIN bijstand_exits e
             ON e.person_id = u.person_id AND e.end_month BETWEEN u.m AND u.m + 23 AND e.days_to_employment <= 31),
    later AS (SELECT u.person_id, u.m, count(*) AS months FROM u JOIN person_month pm
              ON pm.person_id = u.person_id AND pm.bijstand = 1 AND pm.month BETWEEN u.m + 1 AND u.m + 24
              GROUP BY u.person_id, u.m)"""


def _checked(ctx) -> dict:
    return {"policy": ctx.report.policy, "log": ctx.report.log}


def _apply_population(ctx, frame: pd.DataFrame, *, age: str) -> pd.DataFrame:
    p = ctx.parameters
    keep = frame[age].between(p["age_min"], p["age_max"])
    if p["municipality"] != "all":
        keep &= frame["municipality_code"] == p["municipality"]
    if p["sex"] != "all":
        keep &= frame["sex"] == p["sex"]
    return frame[keep].reset_index(drop=True)


def _age_band(age: pd.Series) -> pd.Series:
    out = pd.Series("other", index=age.index, dtype=object)
    for lo, hi in AGE_BANDS:
        out[age.between(lo, hi)] = f"{lo}-{hi}"
    return out


def design_population(ctx) -> pd.DataFrame:
    """The design population, one row per person and year (the first spell start of the year for the
    inflow): year, covariates, stratum and exit_to_work_24m."""
    p = ctx.parameters
    first, last = p["first_year"], p["last_year"]
    if p["design_population"] == "inflow":
        start = ctx.dataset.meta["observation_start"]
        m_first = start.year * 12 + start.month  # spells starting in the window's first month are left-censored
        units = f"""SELECT person_id, min(start_month) AS m FROM bijstand_spells
                    WHERE start_month >= {m_first} AND year(start_date) BETWEEN {first} AND {last}
                    GROUP BY person_id, year(start_date)"""
    else:
        months = ", ".join(str(y * 12) for y in range(first, last + 1))
        units = f"SELECT person_id, month AS m FROM person_month WHERE bijstand = 1 AND month IN ({months})"
    frame = ctx.store.connect().execute(f"""
        WITH u AS ({units}), {OUTCOME_SQL}
        SELECT u.person_id, u.m, u.m // 12 AS year, p.sex, p.birth_year, p.municipality_code, p.education,
               p.migration_background, COALESCE(hist.months, 0) AS bijstand_months_before,
               work.person_id IS NOT NULL AS exit_to_work_24m
        FROM u JOIN persons p USING (person_id) LEFT JOIN hist USING (person_id, m)
        LEFT JOIN work USING (person_id, m)""").df()
    frame["age"] = frame["year"] - frame["birth_year"]
    frame = _apply_population(ctx, frame, age="age")
    frame["female"] = (frame["sex"] == "F").astype(float)
    frame["education_low"] = (frame["education"] == "low").astype(float)
    frame["education_high"] = (frame["education"] == "high").astype(float)
    frame["non_western"] = (frame["migration_background"] == "non_western").astype(float)
    frame["bijstand_months_before"] = frame["bijstand_months_before"].astype(float)
    frame["exit_to_work_24m"] = frame["exit_to_work_24m"].astype(float)
    frame["age"] = frame["age"].astype(float)
    frame["stratum"] = frame["sex"] + " " + _age_band(frame["age"])
    return frame.sort_values(["year", "person_id"]).reset_index(drop=True)


def _design_options(ctx, design: str, r2: float) -> dict:
    p = ctx.parameters
    if design == "individual":
        return {"design": "individual"}
    if design == "stratified":
        return {"design": "stratified", "r2": r2}
    return {"design": "cluster", "r2": r2, "cluster_size": float(p["cluster_size"]), "icc": float(p["icc"])}


def _estimate_rows(name, value, n, unit):
    return {"name": name, "estimate": None if value is None else float(value), "se": None, "ci_low": None,
            "ci_high": None, "n": n, "unit": unit, "suppressed": False}


def design(ctx, frame: pd.DataFrame) -> dict:
    """Inputs table, the design table (MDE, required size, power per design and number of arms), the power
    curve; results rows ``design_*``, ``mde_<design>_<k>arms``, ``required_n_<design>_<k>arms``,
    ``power_<design>_<k>arms``."""
    from analysis.estimators import experiments as ex
    from analysis.report import figures
    from analysis.report.checked import checked_estimates, combine
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import fmt_int, fmt_pp, t, t_plain

    p, lang = ctx.parameters, ctx.lang
    ctx.report.heading(t("experiment.heading_design", lang))
    years = list(range(p["first_year"], p["last_year"] + 1))
    per_year = safe_aggregate(frame, by=["year"], stat="count", levels={"year": years}, unit_id="person_id",
                              name="design_population", **_checked(ctx))
    base = safe_aggregate(frame.assign(all="all"), by=["all"], value="exit_to_work_24m", stat="share",
                          unit_id="person_id", name="design_base_rate", **_checked(ctx))
    rate = base.frame["value"].iloc[0] if len(base) else np.nan  # an empty population: nothing to size on
    persons = frame["person_id"].nunique()
    if p["design_population"] == "inflow":
        size = float(frame.groupby("year").size().mean() * p["enrolment_years"]) if len(frame) else 0.0
    else:
        size = float((frame["year"] == p["last_year"]).sum())
    held = pd.isna(rate) or size < ctx.report.policy.min_units
    n_units = None if held else int(persons)
    covs = [c for c in p["covariates"] if c in frame and frame[c].nunique() > 1]
    r2 = ex.explained_share(frame, outcome="exit_to_work_24m", strata=["stratum"], covariates=covs) if not held else 0.0
    sd = float(np.sqrt(rate * (1 - rate))) if not held else 1.0
    target = p["target_effect_pp"] / 100
    # at the target effect the treated arms' share is rate + target: with equal arms the variance of the
    # difference is (1/p_t + 1/p_c) / n times the mean of the two arms' variances
    treated = min(max(rate + target, 0.0), 1.0) if not held else 0.5
    sd_target = float(np.sqrt((rate * (1 - rate) + treated * (1 - treated)) / 2)) if not held else 1.0
    ctx.add_estimates([_estimate_rows("design_base_rate_exit_to_work_24m", None if held else rate, n_units, "share"),
                       _estimate_rows("design_size", None if held else round(size), n_units, "persons"),
                       _estimate_rows("design_r2", None if held else r2, n_units, "share_of_variance")])
    arm_counts = sorted({1, int(p["treatment_arms"])})
    rows, labels = [], {}
    for d in DESIGNS:
        opts = _design_options(ctx, d, r2)
        for k in arm_counts:
            common = dict(alpha=p["alpha"], arms=k, share_control=1 / (k + 1), **opts)
            mde = ex.minimum_detectable_effect(max(size, 1.0), sd=sd, power=p["power"], **common)
            need = ex.required_sample_size(target, sd=sd_target, power=p["power"], **common)
            pw = ex.power(max(size, 1.0), target, sd=sd_target, **common)
            key = f"{d}_{k}arms"
            labels[key] = t_plain("experiment.design_row", lang, design=t_plain(f"experiment.design.{d}", lang), arms=k)
            for stat, value, unit in (("mde", mde, "difference"), ("required_n", need, "persons"),
                                      ("power", pw, "probability")):
                rows.append(_estimate_rows(f"{stat}_{key}", None if held else value, n_units, unit))
    checked = ctx.add_estimates(rows)
    shown = {stat: checked_estimates([dict(r, name=labels[r["name"].split("_", 1 if stat != "required_n" else 2)[-1]],
                                           estimate=None if r["estimate"] is None else
                                           r["estimate"] * (100 if stat == "mde" else 1))
                                      for r in checked if r["name"].startswith(stat + "_")],
                                     name=f"design_{stat}", **_checked(ctx)) for stat in ("mde", "required_n", "power")}
    cols = {k: t_plain(f"experiment.col.{k}", lang, effect=fmt_pp(target, lang)) for k in ("design", "mde", "required_n", "power")}
    table = combine([(cols["mde"], shown["mde"], "estimate"), (cols["required_n"], shown["required_n"], "estimate"),
                     (cols["power"], shown["power"], "estimate")], on=["name"], name="design")
    order = {label: i for i, label in enumerate(labels.values())}  # individual, stratified, cluster
    table = table.relabel("name", order, into="_order").sort("_order")
    table = table.select([c for c in table.columns if c != "_order"]).rename({"name": cols["design"]})
    scope = (t_plain("experiment.scope_all", lang) if p["municipality"] == "all"
             else t_plain("experiment.scope_one", lang, code=p["municipality"]))
    inputs = combine([(t_plain("experiment.col.persons_per_year", lang), per_year, "value")], on=["year"],
                     name="design_population").rename({"year": t_plain("year", lang)})
    ctx.report.table(inputs.relabel(t_plain("year", lang), str),
                     caption=t(f"experiment.inputs_caption.{p['design_population']}", lang, scope=scope),
                     number_formats={t_plain("experiment.col.persons_per_year", lang): "int"})
    ctx.report.table(table, caption=t("experiment.design_caption", lang, power=fmt_int(100 * p["power"], lang),
                                      alpha=str(p["alpha"]).replace(".", "," if lang == "nl" else "."),
                                      size=fmt_int(size, lang) if not held else t("suppressed_short", lang)),
                     number_formats={cols["mde"]: "num1", cols["required_n"]: "int", cols["power"]: "pct"},
                     note=t("experiment.design_note", lang, cluster_size=p["cluster_size"],
                            icc=str(p["icc"]).replace(".", "," if lang == "nl" else ".")))
    # the power curve for the multi-arm design: power against the total size, at the target effect
    k = int(p["treatment_arms"])
    top = max(3 * size, 1.5 * max(r["estimate"] or 0 for r in checked if r["name"].startswith("required_n_")), 100)
    grid = np.unique(np.round(np.linspace(top / 40, top, 40)))
    curve = []
    for d in DESIGNS:
        common = dict(sd=sd_target, alpha=p["alpha"], arms=k, share_control=1 / (k + 1), **_design_options(ctx, d, r2))
        for n in grid:
            curve.append(_estimate_rows(f"{d}@{int(n)}", None if held else ex.power(float(n), target, **common),
                                        n_units, "probability"))
    ct = checked_estimates(curve, name="power_curve", **_checked(ctx))
    ct = ct.relabel("name", lambda s: t_plain(f"experiment.design.{s.split('@')[0]}", lang), into="design")
    ct = ct.relabel("name", lambda s: int(s.split("@")[1]))
    fig = figures.line_by_group(ct, x="name", y="estimate", group="design", percent=True, lang=lang,
                                xlabel=t_plain("experiment.curve_x", lang), ylabel=t_plain("experiment.curve_y", lang))
    ctx.report.figure(fig, caption=t("experiment.curve_caption", lang, effect=fmt_pp(target, lang), arms=k))
    ctx.design_summary = {  # type: ignore[attr-defined]
        "size": fmt_int(size, lang) if not held else t("suppressed_short", lang), "scope": scope,
        "population": t(f"experiment.population.{p['design_population']}", lang), "arms": k,
        "mde": fmt_pp(ctx.estimate(f"mde_stratified_{k}arms")["estimate"], lang) if not held
        else t("suppressed_short", lang),
        "mde_cluster": fmt_pp(ctx.estimate(f"mde_cluster_{k}arms")["estimate"], lang) if not held
        else t("suppressed_short", lang)}
    return {"size": size, "rate": rate, "r2": r2, "held": held}


def write_assignment(ctx, frame: pd.DataFrame):
    """Assign the last year's design population at random (within strata, the run's seed) to control and
    the treatment arms; write ``assignment.csv`` and record its sha256 in ``files.json``."""
    from analysis.estimators.experiments import assign
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t, t_plain

    p = ctx.parameters
    k = int(p["treatment_arms"])
    arms = ["control"] + [f"treatment_{i}" for i in range(1, k + 1)]
    names = {a: t_plain("experiment.arm.control", ctx.lang) if a == "control"
             else t_plain("experiment.arm.numbered", ctx.lang, i=a.split("_")[1]) for a in arms}
    units = frame[frame["year"] == p["last_year"]].drop_duplicates("person_id")
    if len(units) < len(arms):
        ctx.report.markdown(t("experiment.assignment_empty", ctx.lang))
        return None
    result = assign(units, unit="person_id", arms=arms, strata=["stratum"], seed=int(p["seed"]))
    path = ctx.output_dir / ASSIGNMENT_FILE
    digest = result.write(path)
    files = ctx.output_dir / "files.json"
    recorded = json.loads(files.read_text(encoding="utf-8")) if files.is_file() else {}
    recorded[ASSIGNMENT_FILE] = {"sha256": digest, "spec": result.spec}
    files.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
    counts = safe_aggregate(result.frame, by=["arm"], stat="count", levels={"arm": arms}, name="assignment",
                            total_published=True, **_checked(ctx))
    counts = counts.select(["arm", "value"]).relabel("arm", names).rename(
        {"arm": t_plain("experiment.col.arm", ctx.lang), "value": t_plain("experiment.col.assigned", ctx.lang)})
    ctx.report.table(counts, caption=t("experiment.assignment_caption", ctx.lang, year=p["last_year"]),
                     number_formats={t_plain("experiment.col.assigned", ctx.lang): "int"},
                     note=t("experiment.assignment_note", ctx.lang, file=ASSIGNMENT_FILE, sha=digest[:16],
                            seed=p["seed"], strata=result.frame["stratum"].nunique()))
    return result
