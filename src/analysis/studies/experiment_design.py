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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.errors import ParameterError

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


def check_parameters(dataset, *, experiment: str, covariates, first_year: int, last_year: int,
                     control_group: str = "control") -> None:
    """Refuse unknown covariates, a design period without a year before it and 24 months after it in the
    data, an experiment the dataset's ``experiments`` table does not hold, and a control group that is not
    one of the experiment's arms."""
    unknown = [c for c in covariates if c not in COVARIATES]
    if unknown:
        raise ParameterError(f"covariates={list(covariates)!r}: {unknown} are not known; allowed: "
                             f"{', '.join(COVARIATES)}.")
    if first_year > last_year:
        raise ParameterError(f"first_year={first_year} is after last_year={last_year}; give the years in order.")
    start, end = dataset.meta["observation_start"], dataset.meta["observation_end"]
    latest = end.year - 2  # an outcome needs 24 months after the start
    if first_year <= start.year or last_year > latest:
        raise ParameterError(
            f"first_year={first_year}, last_year={last_year}: the design population needs a year before it (for "
            f"bijstand history) and 24 months after it in the data ({start} to {end}); give years from "
            f"{start.year + 1} to {latest}.")
    table = dataset.tables.get("experiments")
    if experiment and (table is None or experiment not in set(table["experiment"])):
        known = sorted(set(table["experiment"])) if table is not None else []
        raise ParameterError(f"experiment={experiment!r} is not in this dataset's experiments table "
                             f"(experiments: {', '.join(known) or 'none, the dataset has no experiments table'}); "
                             "give one of them, or leave it empty for the first.")
    if table is not None and not table.empty:
        name = experiment or sorted(set(table["experiment"]))[0]
        arms = sorted(set(table.loc[table["experiment"] == name, "arm"]))
        if control_group not in arms:
            raise ParameterError(f"control_group={control_group!r} is not an arm of the experiment {name!r} (arms: "
                                 f"{', '.join(arms)}); give the arm every other arm is compared with.")


def _checked(run) -> dict:
    return {"policy": run.policy, "log": run.report.log}


def in_population(frame: pd.DataFrame, definition, *, age: str) -> pd.DataFrame:
    """Rows of ``frame`` (one per unit, with the persons columns) inside a population definition, the age
    of each unit taken from its column ``age`` (the age in the unit's year, or at assignment)."""
    keep = frame[age].between(definition.age_min, definition.age_max)
    if definition.municipality != "all":
        keep &= frame["municipality_code"] == definition.municipality
    if definition.sex != "all":
        keep &= frame["sex"] == definition.sex
    for column, value in definition.where:
        values = value if isinstance(value, tuple) else (value,)
        keep &= frame[column].astype(str).isin([str(v) for v in values])
    return frame[keep].reset_index(drop=True)


def _age_band(age: pd.Series) -> pd.Series:
    out = pd.Series("other", index=age.index, dtype=object)
    for lo, hi in AGE_BANDS:
        out[age.between(lo, hi)] = f"{lo}-{hi}"
    return out


def indicators(frame: pd.DataFrame) -> pd.DataFrame:
    """The covariates as numbers (sex, education and migration background as 0/1 indicators)."""
    return frame.assign(female=(frame["sex"] == "F").astype(float),
                        education_low=(frame["education"] == "low").astype(float),
                        education_high=(frame["education"] == "high").astype(float),
                        non_western=(frame["migration_background"] == "non_western").astype(float),
                        bijstand_months_before=frame["bijstand_months_before"].astype(float))


@dataclass(frozen=True)
class DesignPopulation:
    """The design population: one row per person and year (year, covariates, stratum, exit_to_work_24m)."""

    kind: str  # "inflow" or "stock"
    first_year: int
    last_year: int
    frame: pd.DataFrame = field(repr=False)

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (f"DesignPopulation({self.kind}, {self.first_year}-{self.last_year}: {len(self.frame)} person-years; "
                "not checked: for a look)")


def design_population(pop, *, kind: str) -> DesignPopulation:
    """The design population of ``pop`` (its years and age band): the first bijstand spell start of each
    year (``kind="inflow"``) or bijstand in January (``"stock"``), age in that year inside the band."""
    from analysis.errors import check_choice

    check_choice("design_population", kind, ("inflow", "stock"))
    d = pop.definition
    first, last = d.first_year, d.last_year
    if kind == "inflow":
        start = pop.store.dataset.meta["observation_start"]
        m_first = start.year * 12 + start.month  # spells starting in the window's first month are left-censored
        units = f"""SELECT person_id, min(start_month) AS m FROM bijstand_spells
                    WHERE start_month >= {m_first} AND year(start_date) BETWEEN {first} AND {last}
                    GROUP BY person_id, year(start_date)"""
    else:
        months = ", ".join(str(y * 12) for y in range(first, last + 1))
        units = f"SELECT person_id, month AS m FROM person_month WHERE bijstand = 1 AND month IN ({months})"
    frame = pop.store.connect().execute(f"""
        WITH u AS ({units}), {OUTCOME_SQL}
        SELECT u.person_id, u.m, u.m // 12 AS year, p.* EXCLUDE (person_id),
               COALESCE(hist.months, 0) AS bijstand_months_before, work.person_id IS NOT NULL AS exit_to_work_24m
        FROM u JOIN persons p USING (person_id) LEFT JOIN hist USING (person_id, m)
        LEFT JOIN work USING (person_id, m)""").df()
    frame["age"] = frame["year"] - frame["birth_year"]
    frame = indicators(in_population(frame, d, age="age"))
    frame["exit_to_work_24m"] = frame["exit_to_work_24m"].astype(float)
    frame["age"] = frame["age"].astype(float)
    frame["stratum"] = frame["sex"] + " " + _age_band(frame["age"])
    frame = frame.sort_values(["year", "person_id"]).reset_index(drop=True)
    return DesignPopulation(kind=kind, first_year=first, last_year=last, frame=frame)


def _design_options(design: str, r2: float, *, cluster_size: int, icc: float) -> dict:
    if design == "individual":
        return {"design": "individual"}
    if design == "stratified":
        return {"design": "stratified", "r2": r2}
    return {"design": "cluster", "r2": r2, "cluster_size": float(cluster_size), "icc": float(icc)}


def _estimate_rows(name, value, n, unit):
    return {"name": name, "estimate": None if value is None else float(value), "se": None, "ci_low": None,
            "ci_high": None, "n": n, "unit": unit, "suppressed": False}


@dataclass(frozen=True)
class Sizing:
    """The inputs and the numbers of the design (module docstring); ``rows`` are its results rows
    (``design_*``, ``mde_<design>_<k>arms``, ``required_n_<design>_<k>arms``, ``power_<design>_<k>arms``)."""

    size: float
    rate: float
    r2: float
    sd_target: float
    target: float
    held: bool
    arms: int
    alpha: float
    power: float
    cluster_size: int
    icc: float
    options: dict = field(repr=False)
    per_year: object = field(repr=False)  # CheckedTable of persons per year
    rows: tuple = field(repr=False)

    def __repr__(self) -> str:
        return (f"Sizing(size={self.size:.0f}, base rate={self.rate:.3f}, R2={self.r2:.3f}, {self.arms} arm(s)"
                f"{', withheld' if self.held else ''})")


def sizing(run, population: DesignPopulation, *, enrolment_years: float, treatment_arms: int, power: float,
           alpha: float, target_effect_pp: float, cluster_size: int, icc: float, covariates) -> Sizing:
    """Size, base rate and R^2 of the design population (checked), then MDE, required size and power per
    design (individual, stratified, cluster) for one and ``treatment_arms`` arms."""
    from analysis.estimators import experiments as ex
    from analysis.report.disclosure import safe_aggregate

    frame = population.frame
    years = list(range(population.first_year, population.last_year + 1))
    per_year = safe_aggregate(frame, by=["year"], stat="count", levels={"year": years}, unit_id="person_id",
                              name="design_population", **_checked(run))
    base = safe_aggregate(frame.assign(all="all"), by=["all"], value="exit_to_work_24m", stat="share",
                          unit_id="person_id", name="design_base_rate", **_checked(run))
    rate = base.frame["value"].iloc[0] if len(base) else np.nan  # an empty population: nothing to size on
    persons = frame["person_id"].nunique()
    if population.kind == "inflow":
        size = float(frame.groupby("year").size().mean() * enrolment_years) if len(frame) else 0.0
    else:
        size = float((frame["year"] == population.last_year).sum())
    held = bool(pd.isna(rate) or size < run.policy.min_units)
    n_units = None if held else int(persons)
    covs = [c for c in covariates if c in frame and frame[c].nunique() > 1]
    r2 = ex.explained_share(frame, outcome="exit_to_work_24m", strata=["stratum"], covariates=covs) if not held else 0.0
    sd = float(np.sqrt(rate * (1 - rate))) if not held else 1.0
    target = target_effect_pp / 100
    # at the target effect the treated arms' share is rate + target: with equal arms the variance of the
    # difference is (1/p_t + 1/p_c) / n times the mean of the two arms' variances
    treated = min(max(rate + target, 0.0), 1.0) if not held else 0.5
    sd_target = float(np.sqrt((rate * (1 - rate) + treated * (1 - treated)) / 2)) if not held else 1.0
    rows = [_estimate_rows("design_base_rate_exit_to_work_24m", None if held else rate, n_units, "share"),
            _estimate_rows("design_size", None if held else round(size), n_units, "persons"),
            _estimate_rows("design_r2", None if held else r2, n_units, "share_of_variance")]
    options = {d: _design_options(d, r2, cluster_size=cluster_size, icc=icc) for d in DESIGNS}
    for d in DESIGNS:
        for k in sorted({1, int(treatment_arms)}):
            common = dict(alpha=alpha, arms=k, share_control=1 / (k + 1), **options[d])
            mde = ex.minimum_detectable_effect(max(size, 1.0), sd=sd, power=power, **common)
            need = ex.required_sample_size(target, sd=sd_target, power=power, **common)
            pw = ex.power(max(size, 1.0), target, sd=sd_target, **common)
            for stat, value, unit in (("mde", mde, "difference"), ("required_n", need, "persons"),
                                      ("power", pw, "probability")):
                rows.append(_estimate_rows(f"{stat}_{d}_{k}arms", None if held else value, n_units, unit))
    return Sizing(size=size, rate=float(rate), r2=float(r2), sd_target=sd_target, target=target, held=held,
                  arms=int(treatment_arms), alpha=alpha, power=power, cluster_size=cluster_size, icc=icc,
                  options=options, per_year=per_year, rows=tuple(rows))


@dataclass(frozen=True)
class DesignSummary:
    """The design's key numbers as text, for the summary (built from checked rows)."""

    size: str
    scope: str
    population: str
    arms: int
    mde: str
    mde_cluster: str


def show_design(run, population: DesignPopulation, design: Sizing, checked) -> DesignSummary:
    """The inputs table, the design table and the power curve, from the checked rows of ``design``."""
    from analysis.estimators import experiments as ex
    from analysis.kit import figures
    from analysis.report.checked import checked_estimates, combine
    from analysis.report.labels import fmt_int, fmt_pp, t, t_plain

    lang, target, held = run.lang, design.target, design.held
    rows = {r["name"]: r for r in checked}
    labels = {}
    for d in DESIGNS:
        for k in sorted({1, design.arms}):
            labels[f"{d}_{k}arms"] = t_plain("experiment.design_row", lang,
                                             design=t_plain(f"experiment.design.{d}", lang), arms=k)
    shown = {stat: checked_estimates([dict(rows[f"{stat}_{key}"], name=label,
                                           estimate=None if rows[f"{stat}_{key}"]["estimate"] is None else
                                           rows[f"{stat}_{key}"]["estimate"] * (100 if stat == "mde" else 1))
                                      for key, label in labels.items()], name=f"design_{stat}", **_checked(run))
             for stat in ("mde", "required_n", "power")}
    cols = {k: t_plain(f"experiment.col.{k}", lang, effect=fmt_pp(target, lang))
            for k in ("design", "mde", "required_n", "power")}
    table = combine([(cols["mde"], shown["mde"], "estimate"), (cols["required_n"], shown["required_n"], "estimate"),
                     (cols["power"], shown["power"], "estimate")], on=["name"], name="design")
    order = {label: i for i, label in enumerate(labels.values())}  # individual, stratified, cluster
    table = table.relabel("name", order, into="_order").sort("_order")
    table = table.select([c for c in table.columns if c != "_order"]).rename({"name": cols["design"]})
    municipality = run.parameters.get("municipality", "all")
    scope = (t_plain("experiment.scope_all", lang) if municipality == "all"
             else t_plain("experiment.scope_one", lang, code=municipality))
    inputs = combine([(t_plain("experiment.col.persons_per_year", lang), design.per_year, "value")], on=["year"],
                     name="design_population").rename({"year": t_plain("year", lang)})
    run.report.table(inputs.relabel(t_plain("year", lang), str),
                     caption=t(f"experiment.inputs_caption.{population.kind}", lang, scope=scope),
                     number_formats={t_plain("experiment.col.persons_per_year", lang): "int"})
    size_text = fmt_int(design.size, lang) if not held else t("suppressed_short", lang)
    run.report.table(table, caption=t("experiment.design_caption", lang, power=fmt_int(100 * design.power, lang),
                                      alpha=str(design.alpha).replace(".", "," if lang == "nl" else "."),
                                      size=size_text),
                     number_formats={cols["mde"]: "num1", cols["required_n"]: "int", cols["power"]: "pct"},
                     note=t("experiment.design_note", lang, cluster_size=design.cluster_size,
                            icc=str(design.icc).replace(".", "," if lang == "nl" else ".")))
    # the power curve for the multi-arm design: power against the total size, at the target effect
    k = design.arms
    top = max(3 * design.size, 1.5 * max(r["estimate"] or 0 for r in checked if r["name"].startswith("required_n_")),
              100)
    grid = np.unique(np.round(np.linspace(top / 40, top, 40)))
    n_units = rows["design_size"]["n"]
    curve = []
    for d in DESIGNS:
        common = dict(sd=design.sd_target, alpha=design.alpha, arms=k, share_control=1 / (k + 1), **design.options[d])
        for n in grid:
            curve.append(_estimate_rows(f"{d}@{int(n)}", None if held else ex.power(float(n), target, **common),
                                        n_units, "probability"))
    ct = checked_estimates(curve, name="power_curve", **_checked(run))
    ct = ct.relabel("name", lambda s: t_plain(f"experiment.design.{s.split('@')[0]}", lang), into="design")
    ct = ct.relabel("name", lambda s: int(s.split("@")[1]))
    fig = figures.line_by_group(ct, x="name", y="estimate", group="design", percent=True, lang=lang,
                                xlabel=t_plain("experiment.curve_x", lang), ylabel=t_plain("experiment.curve_y", lang))
    run.report.figure(fig, caption=t("experiment.curve_caption", lang, effect=fmt_pp(target, lang), arms=k))
    withheld = t("suppressed_short", lang)
    mde, mde_cluster = rows[f"mde_stratified_{k}arms"], rows[f"mde_cluster_{k}arms"]
    return DesignSummary(size=size_text, scope=scope, population=t(f"experiment.population.{population.kind}", lang),
                         arms=k, mde=withheld if held or mde["suppressed"] else fmt_pp(mde["estimate"], lang),
                         mde_cluster=withheld if held or mde_cluster["suppressed"]
                         else fmt_pp(mde_cluster["estimate"], lang))


def write_assignment(run, population: DesignPopulation, *, treatment_arms: int, seed: int):
    """Assign the last year's design population at random (within strata, ``seed``) to control and the
    treatment arms; write ``assignment.csv`` and record its sha256 in ``files.json``. None (and a sentence)
    when the last year has fewer persons than arms."""
    from analysis.estimators.experiments import assign
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t, t_plain

    lang = run.lang
    arms = ["control"] + [f"treatment_{i}" for i in range(1, int(treatment_arms) + 1)]
    names = {a: t_plain("experiment.arm.control", lang) if a == "control"
             else t_plain("experiment.arm.numbered", lang, i=a.split("_")[1]) for a in arms}
    frame = population.frame
    units = frame[frame["year"] == population.last_year].drop_duplicates("person_id")
    if len(units) < len(arms):
        run.report.markdown(t("experiment.assignment_empty", lang))
        return None
    result = assign(units, unit="person_id", arms=arms, strata=["stratum"], seed=int(seed))
    path = run.output_dir / ASSIGNMENT_FILE
    digest = result.write(path)
    files = run.output_dir / "files.json"
    recorded = json.loads(files.read_text(encoding="utf-8")) if files.is_file() else {}
    recorded[ASSIGNMENT_FILE] = {"sha256": digest, "spec": result.spec}
    files.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
    counts = safe_aggregate(result.frame, by=["arm"], stat="count", levels={"arm": arms}, name="assignment",
                            total_published=True, **_checked(run))
    counts = counts.select(["arm", "value"]).relabel("arm", names).rename(
        {"arm": t_plain("experiment.col.arm", lang), "value": t_plain("experiment.col.assigned", lang)})
    run.report.table(counts, caption=t("experiment.assignment_caption", lang, year=population.last_year),
                     number_formats={t_plain("experiment.col.assigned", lang): "int"},
                     note=t("experiment.assignment_note", lang, file=ASSIGNMENT_FILE, sha=digest[:16],
                            seed=seed, strata=result.frame["stratum"].nunique()))
    return result
