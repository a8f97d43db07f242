"""Study "experiment": design a municipal experiment, and analyse one in the data (issue #17).

Design (:mod:`analysis.studies.experiment_design`): from a municipality's bijstand inflow or stock, the
minimum detectable effect and the required size for a chosen power, for individual, stratified and
cluster randomisation and for several treatment arms; a seeded stratified assignment written into the
run directory with its sha256.

Analysis (this module): the experiment of the ``experiments`` table (docs/contract-experiments.md).
Definitions (also in the report's methods section), for a person assigned in month a:

- ``exit_to_work_24m``: a bijstand spell (merged, as in the store) ending in month a..a+23 and followed
  by an employment start within 31 days;
- ``bijstand_months_24m``: months with bijstand in a+1..a+24;
- observed: the 24 months after a lie inside the data and the person is at most 66 in the calendar year
  of a+24 (the state pension ends bijstand); the others are the attrition, reported by arm;
- covariates measured before assignment: sex, age, education, migration background, months with
  bijstand in a-24..a-1.

The effects are intention-to-treat: arm against control, OLS with the covariates and stratum
indicators, HC2 (or cluster) standard errors, randomisation-inference p-values (re-randomised within
strata) and Holm's correction over the arms per outcome.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import ParameterError
from analysis.studies.base import StudyContext, setup_study
from analysis.studies.experiment_design import (COVARIATES, OUTCOME_SQL, OUTCOMES, _apply_population, _checked,
                                                design, design_population, write_assignment)

FOLLOW_UP = 24
MAX_AGE = 66
EXIT_TO_WORK_DAYS = 31
#: fewer participants in an arm (in the population of the parameters) and no effect is estimated
MIN_PER_ARM = 2

__all__ = ["setup", "design", "design_population", "write_assignment", "participants", "effects", "balance",
           "attrition_by_arm", "summary", "methods", "FOLLOW_UP"]


def _validate(parameters: dict):
    def check(ds) -> None:
        unknown = [c for c in parameters["covariates"] if c not in COVARIATES]
        if unknown:
            raise ParameterError(f"covariates={parameters['covariates']!r}: {unknown} are not known; allowed: "
                                 f"{', '.join(COVARIATES)}.")
        if parameters["first_year"] > parameters["last_year"]:
            raise ParameterError(f"first_year={parameters['first_year']} is after last_year={parameters['last_year']}; "
                                 "give the years in order.")
        if parameters["age_min"] > parameters["age_max"]:
            raise ParameterError(f"age_min={parameters['age_min']} is above age_max={parameters['age_max']}.")
        start, end = ds.meta["observation_start"], ds.meta["observation_end"]
        latest = end.year - 2  # an outcome needs 24 months after the start
        if parameters["first_year"] <= start.year or parameters["last_year"] > latest:
            raise ParameterError(
                f"first_year={parameters['first_year']}, last_year={parameters['last_year']}: the design population "
                f"needs a year before it (for bijstand history) and 24 months after it in the data "
                f"({start} to {end}); give years from {start.year + 1} to {latest}.")
        exp = parameters["experiment"]
        table = ds.tables.get("experiments")
        if exp and (table is None or exp not in set(table["experiment"])):
            known = sorted(set(table["experiment"])) if table is not None else []
            raise ParameterError(f"experiment={exp!r} is not in this dataset's experiments table "
                                 f"(experiments: {', '.join(known) or 'none, the dataset has no experiments table'}); "
                                 "give one of them, or leave it empty for the first.")
    return check


def setup(*, dataset: str, experiment: str = "", municipality: str = "all", age_min: int = 18, age_max: int = 66,
          sex: str = "all", first_year: int = 2016, last_year: int = 2019, design_population: str = "inflow",
          enrolment_years: float = 1.0, treatment_arms: int = 3, power: float = 0.8, alpha: float = 0.05,
          target_effect_pp: float = 5.0, cluster_size: int = 30, icc: float = 0.02, covariates=COVARIATES,
          permutations: int = 2000, lang: str = "nl", seed: int = 0, output_dir: str = "") -> StudyContext:
    """Validate the parameters against the dataset (before any store is built), load it, build its store."""
    params = dict(experiment=experiment, municipality=municipality, age_min=age_min, age_max=age_max, sex=sex,
                  first_year=first_year, last_year=last_year, design_population=design_population,
                  enrolment_years=enrolment_years, treatment_arms=treatment_arms, power=power, alpha=alpha,
                  target_effect_pp=target_effect_pp, cluster_size=cluster_size, icc=icc,
                  covariates=list(covariates), permutations=permutations, seed=seed)
    return setup_study("experiment", dataset=dataset, lang=lang, output_dir=output_dir, parameters=params,
                       title_key="experiment.title", validate=_validate(params))


# ------------------------------------------------------------------------------------------------ analysis
def participants(ctx: StudyContext) -> pd.DataFrame | None:
    """One row per participant of the chosen experiment (in the population of the parameters): arm,
    stratum, cluster, covariates before assignment, the outcomes and whether they are observed. None when
    the dataset has no experiments table (the report says so)."""
    from analysis.report.labels import t

    ctx.report.heading(t("experiment.heading_analysis", ctx.lang))
    table = ctx.dataset.tables.get("experiments")
    if table is None or table.empty:
        ctx.report.markdown(t("experiment.no_table", ctx.lang))
        return None
    name = ctx.parameters["experiment"] or sorted(set(table["experiment"]))[0]
    ctx.parameters["experiment"] = name
    exp = table[table["experiment"] == name].copy()
    exp["a"] = exp["assignment_date"].dt.year * 12 + exp["assignment_date"].dt.month - 1
    con = ctx.store.connect()
    con.register("exp_rows", exp[["person_id", "a"]])
    last_month = ctx.dataset.meta["observation_end"].year * 12 + ctx.dataset.meta["observation_end"].month - 1
    frame = con.execute(f"""
        WITH u AS (SELECT person_id, a AS m FROM exp_rows), {OUTCOME_SQL}
        SELECT u.person_id, p.sex, p.birth_year, p.municipality_code, p.education, p.migration_background,
               COALESCE(hist.months, 0) AS bijstand_months_before, COALESCE(later.months, 0) AS bijstand_months_24m,
               work.person_id IS NOT NULL AS exit_to_work_24m
        FROM u JOIN persons p USING (person_id) LEFT JOIN hist USING (person_id, m)
        LEFT JOIN later USING (person_id, m) LEFT JOIN work USING (person_id, m)""").df()
    con.unregister("exp_rows")
    frame = exp.drop(columns=["experiment"]).merge(frame, on="person_id", how="left")
    frame["age"] = frame["a"] // 12 - frame["birth_year"]
    frame = _apply_population(ctx, frame, age="age")
    arms = frame.groupby("arm").size() if len(frame) else pd.Series(dtype=int)
    if "control" not in arms.index or len(arms) < 2 or arms.min() < MIN_PER_ARM:
        ctx.report.markdown(t("experiment.no_participants", ctx.lang, experiment=name, min=MIN_PER_ARM))
        return None
    frame["female"] = (frame["sex"] == "F").astype(float)
    frame["education_low"] = (frame["education"] == "low").astype(float)
    frame["education_high"] = (frame["education"] == "high").astype(float)
    frame["non_western"] = (frame["migration_background"] == "non_western").astype(float)
    frame["exit_to_work_24m"] = frame["exit_to_work_24m"].astype(float)
    frame["bijstand_months_24m"] = frame["bijstand_months_24m"].astype(float)
    frame["bijstand_months_before"] = frame["bijstand_months_before"].astype(float)
    end_age = (frame["a"] + FOLLOW_UP) // 12 - frame["birth_year"]
    frame["observed"] = ((frame["a"] + FOLLOW_UP <= last_month) & (end_age <= MAX_AGE)).astype(int)
    if "stratum" not in frame or frame["stratum"].isna().all():
        frame["stratum"] = "all"
    ctx.frames = {"participants": frame}  # type: ignore[attr-defined]
    return frame


def _arms(frame: pd.DataFrame) -> list[str]:
    return sorted(a for a in frame["arm"].unique() if a != "control")


def _cluster(frame: pd.DataFrame) -> str | None:
    return "cluster" if "cluster" in frame and frame["cluster"].notna().all() else None


def _arm_label(ctx, arm: str, *, plain: bool = False) -> str:
    """The catalogue's name of an arm, else the arm's own name with spaces (plain: unescaped)."""
    from analysis.report.labels import catalogue, t, t_plain

    key = f"experiment.arm.{arm}"
    return (t_plain if plain else t)(key, ctx.lang) if key in catalogue() else arm.replace("_", " ")


def effects(ctx: StudyContext, frame: pd.DataFrame | None) -> dict:
    """ITT of every arm against control on both outcomes: a table per outcome (effect, interval, p, Holm,
    randomisation inference) and the results rows ``itt_<outcome>_<arm>``, ``p_ri_<outcome>_<arm>``,
    ``p_holm_<outcome>_<arm>``."""
    from analysis.estimators.experiments import itt
    from analysis.report.checked import checked_estimates, combine
    from analysis.report.labels import t, t_plain

    if frame is None:
        return {}
    data = frame[frame["observed"] == 1]
    observed = data.groupby("arm").size()
    if "control" not in observed.index or len(observed) < 2 or observed.min() < MIN_PER_ARM:
        ctx.report.markdown(t("experiment.no_participants", ctx.lang, experiment=ctx.parameters["experiment"],
                              min=MIN_PER_ARM))
        return {}
    # a stratum with one observed person: its indicator fits that person exactly (leverage 1, no HC2 variance)
    # and it says nothing about the arms; such persons are left out, and the report says how many
    sizes = data.groupby("stratum")["arm"].transform("size")
    singletons = int((sizes < 2).sum())
    if singletons:
        data = data[sizes >= 2]
        ctx.report.markdown(t("experiment.singletons", ctx.lang, n=singletons))
    # a covariate the strata determine (sex, when strata include it) adds nothing and makes the design singular
    covs = [c for c in ctx.parameters["covariates"] if data.groupby("stratum")[c].nunique().max() > 1]
    cluster = _cluster(data)
    out = {}
    for outcome, scale, unit in OUTCOMES:
        res = itt(data, outcome=outcome, arm="arm", covariates=covs, strata=["stratum"], cluster=cluster,
                  se="cluster" if cluster else "HC2", permutations=ctx.parameters["permutations"],
                  alpha=ctx.parameters["alpha"], seed=ctx.parameters["seed"])
        out[outcome] = res
        names = {f"arm={a}": f"itt_{outcome}_{a}" for a in _arms(data)}
        rows = res.to_estimates(unit=unit, names=names)
        ctx.add_estimates(rows, residual_df=int(res.diagnostics["residual_df"]))
        est = res.estimates
        for col, prefix in (("p_value_ri", "p_ri"), ("p_value_holm", "p_holm")):
            ctx.add_estimates([dict(r, name=f"{prefix}_{outcome}_{term[4:]}", estimate=float(est.loc[term, col]),
                                    se=None, ci_low=None, ci_high=None, unit="p_value")
                               for r, term in zip(rows, est.index)], residual_df=int(res.diagnostics["residual_df"]))
        def scaled(v, scale=scale):
            return None if v is None else v * scale

        shown = [dict(r, name=_arm_label(ctx, term[4:], plain=True), estimate=scaled(r["estimate"]),
                      ci_low=scaled(r["ci_low"]), ci_high=scaled(r["ci_high"])) for r, term in zip(rows, est.index)]
        effect = checked_estimates(shown, name=f"itt_{outcome}", **_checked(ctx))
        pvals = {col: checked_estimates([dict(r, estimate=float(est.loc[term, col])) for r, term in
                                         zip(shown, est.index)], name=f"itt_{outcome}_{col}", **_checked(ctx))
                 for col in ("p_value", "p_value_holm", "p_value_ri")}
        lab = {k: t_plain(f"experiment.col.{k}", ctx.lang) for k in ("effect", "ci_low", "ci_high", "p_value",
                                                                 "p_value_holm", "p_value_ri", "n")}
        table = combine([(lab["effect"], effect, "estimate"), (lab["ci_low"], effect, "ci_low"),
                         (lab["ci_high"], effect, "ci_high"), (lab["p_value"], pvals["p_value"], "estimate"),
                         (lab["p_value_holm"], pvals["p_value_holm"], "estimate"),
                         (lab["p_value_ri"], pvals["p_value_ri"], "estimate"), (lab["n"], effect, "n")],
                        on=["name"], name=f"itt_{outcome}").rename({"name": t_plain("experiment.col.arm", ctx.lang)})
        ctx.report.table(table, caption=t(f"experiment.itt_caption.{outcome}", ctx.lang,
                                          experiment=ctx.parameters["experiment"]),
                         number_formats={lab["effect"]: "num1", lab["ci_low"]: "num1", lab["ci_high"]: "num1",
                                         lab["p_value"]: "num3", lab["p_value_holm"]: "num3",
                                         lab["p_value_ri"]: "num3", lab["n"]: "int"},
                         note=t("experiment.itt_note", ctx.lang, permutations=ctx.parameters["permutations"],
                                arms=len(_arms(data)), se=res.spec["se"]))
    ctx.effects = out  # type: ignore[attr-defined]
    return out


def balance(ctx: StudyContext, frame: pd.DataFrame | None):
    """Standardised differences of the covariates before assignment, arm against control."""
    from analysis.estimators.experiments import balance_result
    from analysis.report.checked import checked_result
    from analysis.report.labels import t, t_plain

    if frame is None:
        return None
    covs = [c for c in ctx.parameters["covariates"] if frame[c].nunique() > 1]
    res = balance_result(frame, arm="arm", covariates=covs)
    table = checked_result(res, name="balance", **_checked(ctx))
    arms = {term: _arm_label(ctx, term.split(":")[0], plain=True) for term in table["term"]}
    covl = {term: t_plain(f"experiment.covariate.{term.split(':')[1]}", ctx.lang) for term in table["term"]}
    table = table.relabel("term", covl, into="covariate").relabel("term", arms).pivot(index="covariate",
                                                                                      columns="term",
                                                                                      value="estimate")
    table = table.rename({"covariate": t_plain("experiment.col.covariate", ctx.lang)})
    worst = float(np.nanmax(np.abs(res.estimates["estimate"].to_numpy()))) if len(res.estimates) else np.nan
    ctx.report.table(table, caption=t("experiment.balance_caption", ctx.lang),
                     number_formats={c: "num2" for c in table.values},
                     note=t("experiment.balance_note", ctx.lang))
    return res, worst


def attrition_by_arm(ctx: StudyContext, frame: pd.DataFrame | None):
    """Share of participants whose outcomes are not observed, per arm, and the test of a difference."""
    from analysis.estimators.experiments import attrition
    from analysis.report.checked import combine
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t, t_plain

    if frame is None:
        return None
    data = frame.assign(lost=1.0 - frame["observed"], arm_label=[_arm_label(ctx, a, plain=True) for a in frame["arm"]])
    share = safe_aggregate(data, by=["arm_label"], value="lost", stat="share", name="attrition", **_checked(ctx))
    count = safe_aggregate(data, by=["arm_label"], stat="count", name="participants", **_checked(ctx))
    lab_n, lab_s = t_plain("experiment.col.assigned", ctx.lang), t_plain("experiment.col.lost", ctx.lang)
    shown = combine([(lab_n, count, "value"), (lab_s, share, "value")], on=["arm_label"], name="attrition")
    shown = shown.rename({"arm_label": t_plain("experiment.col.arm", ctx.lang)})
    res = attrition(frame, arm="arm", observed="observed", strata=["stratum"], cluster=_cluster(frame))
    rows = res.to_estimates(unit="difference", names={f"arm={a}": f"attrition_difference_{a}" for a in _arms(frame)})
    ctx.add_estimates(rows)
    ctx.report.table(shown, caption=t("experiment.attrition_caption", ctx.lang),
                     number_formats={lab_n: "int", lab_s: "pct"},
                     note=t("experiment.attrition_note", ctx.lang, max_age=MAX_AGE + 1))
    return res


def summary(ctx: StudyContext) -> None:
    """The key numbers in one paragraph, built from the results rows."""
    from analysis.report.labels import fmt_number, fmt_pp, t, t_plain

    text = [t("experiment.summary_design", ctx.lang, **ctx.design_summary)] if getattr(ctx, "design_summary", None) else []  # type: ignore[attr-defined]
    frame = getattr(ctx, "frames", {}).get("participants")
    if frame is not None and getattr(ctx, "effects", None):
        parts = []
        for arm in _arms(frame):
            work = ctx.estimate(f"itt_exit_to_work_24m_{arm}")
            months = ctx.estimate(f"itt_bijstand_months_24m_{arm}")
            holm = ctx.estimate(f"p_holm_exit_to_work_24m_{arm}")
            held = t("suppressed_short", ctx.lang)
            parts.append(t_plain("experiment.summary_arm", ctx.lang, arm=_arm_label(ctx, arm, plain=True),
                           work=held if work["suppressed"] else fmt_pp(work["estimate"], ctx.lang),
                           months=held if months["suppressed"] else fmt_number(months["estimate"], ctx.lang, 1),
                           p=held if holm["suppressed"] else fmt_number(holm["estimate"], ctx.lang, 3)))
        text.append(t("experiment.summary_analysis", ctx.lang, experiment=ctx.parameters["experiment"],
                      arms="; ".join(parts)))
    ctx.report.markdown(" ".join(text))
    ctx.report.say_withheld()


def methods(ctx: StudyContext) -> None:
    from analysis.report.labels import t

    ctx.report.markdown(t("experiment.methods", ctx.lang, follow_up=FOLLOW_UP, days=EXIT_TO_WORK_DAYS,
                          max_age=MAX_AGE + 1))
