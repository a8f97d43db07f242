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

The notebook (notebooks/70_experiment.py) composes these plain functions with the public API: each
returns a frozen object the next cell receives, and the notebook adds the results rows (``run.add``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.errors import ParameterError
from analysis.studies.experiment_design import (COVARIATES, OUTCOME_SQL, OUTCOMES, DesignPopulation, DesignSummary,
                                                Sizing, _checked, check_parameters, design_population,
                                                in_population, indicators, show_design, sizing, write_assignment)

FOLLOW_UP = 24
MAX_AGE = 66
EXIT_TO_WORK_DAYS = 31
#: fewer participants in an arm (in the population of the parameters) and no effect is estimated
MIN_PER_ARM = 2
#: persons columns ``by`` may name (the participants frame carries them)
BY_COLUMNS = ("sex", "education", "migration_background", "municipality_code")

__all__ = ["COVARIATES", "OUTCOMES", "FOLLOW_UP", "BY_COLUMNS", "DesignPopulation", "DesignSummary", "Sizing",
           "Participants", "Analysed", "check_parameters", "check_by", "design_population", "sizing", "show_design",
           "write_assignment", "participants", "analysed", "itt_rows", "show_itt", "balance", "attrition_by_arm",
           "subgroup_rows", "summary", "methods"]


def check_by(by: str) -> None:
    """Refuse a ``by`` that is not a categorical persons column of the participants."""
    if by and by not in BY_COLUMNS:
        raise ParameterError(f"by={by!r} is not a column the participants carry; give '' or one of: "
                             f"{', '.join(BY_COLUMNS)}.")


@dataclass(frozen=True)
class Participants:
    """The participants of one experiment in the population: arm, stratum, cluster, covariates before
    assignment, the outcomes and whether they are observed (one row each)."""

    name: str
    control: str
    frame: pd.DataFrame = field(repr=False)

    @property
    def arms(self) -> list[str]:
        """The treatment arms (every arm but the control arm), sorted."""
        return sorted(a for a in self.frame["arm"].unique() if a != self.control)

    @property
    def cluster(self) -> str | None:
        frame = self.frame
        return "cluster" if "cluster" in frame and frame["cluster"].notna().all() else None

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"Participants({self.name!r}: {len(self.frame)} persons, arms {self.arms}; not checked: for a look)"


def _enough(frame: pd.DataFrame, control: str) -> bool:
    arms = frame.groupby("arm").size() if len(frame) else pd.Series(dtype=int)
    return control in arms.index and len(arms) >= 2 and arms.min() >= MIN_PER_ARM


def participants(run, pop, *, experiment: str = "", control_group: str = "control") -> Participants | None:
    """The participants of ``experiment`` (empty: the first in the experiments table) inside ``pop``'s
    definition, age taken at assignment. None, with a sentence in the report, when the dataset has no
    experiments table or the population leaves an arm (the control arm included) with too few persons."""
    from analysis.report.labels import t

    lang = run.lang
    run.report.heading(t("experiment.heading_analysis", lang))
    table = run.dataset.tables.get("experiments")
    if table is None or table.empty:
        run.report.markdown(t("experiment.no_table", lang))
        return None
    name = experiment or sorted(set(table["experiment"]))[0]
    exp = table[table["experiment"] == name].copy()
    exp["a"] = exp["assignment_date"].dt.year * 12 + exp["assignment_date"].dt.month - 1
    con = run.store.connect()
    con.register("exp_rows", exp[["person_id", "a"]])
    end = run.dataset.meta["observation_end"]
    last_month = end.year * 12 + end.month - 1
    frame = con.execute(f"""
        WITH u AS (SELECT person_id, a AS m FROM exp_rows), {OUTCOME_SQL}
        SELECT u.person_id, p.* EXCLUDE (person_id),
               COALESCE(hist.months, 0) AS bijstand_months_before, COALESCE(later.months, 0) AS bijstand_months_24m,
               work.person_id IS NOT NULL AS exit_to_work_24m
        FROM u JOIN persons p USING (person_id) LEFT JOIN hist USING (person_id, m)
        LEFT JOIN later USING (person_id, m) LEFT JOIN work USING (person_id, m)""").df()
    con.unregister("exp_rows")
    frame = exp.drop(columns=["experiment"]).merge(frame, on="person_id", how="left")
    frame["age"] = frame["a"] // 12 - frame["birth_year"]
    frame = in_population(frame, pop.definition, age="age")
    if not _enough(frame, control_group):
        run.report.markdown(t("experiment.no_participants", lang, experiment=name, min=MIN_PER_ARM))
        return None
    frame = indicators(frame)
    frame["exit_to_work_24m"] = frame["exit_to_work_24m"].astype(float)
    frame["bijstand_months_24m"] = frame["bijstand_months_24m"].astype(float)
    end_age = (frame["a"] + FOLLOW_UP) // 12 - frame["birth_year"]
    frame["observed"] = ((frame["a"] + FOLLOW_UP <= last_month) & (end_age <= MAX_AGE)).astype(int)
    if "stratum" not in frame or frame["stratum"].isna().all():
        frame["stratum"] = "all"
    return Participants(name=name, control=control_group, frame=frame)


def _arm_label(lang: str, arm: str, *, plain: bool = False) -> str:
    """The catalogue's name of an arm, else the arm's own name with spaces (plain: unescaped)."""
    from analysis.report.labels import catalogue, t, t_plain

    key = f"experiment.arm.{arm}"
    return (t_plain if plain else t)(key, lang) if key in catalogue() else arm.replace("_", " ")


def _usable(data: pd.DataFrame, covariates, control: str) -> list[str]:
    """The covariates that add a dimension to the design (arm and stratum indicators, the covariates kept
    before them): a constant covariate, one the strata determine, or a collinear one adds nothing and makes
    the design singular."""
    base = [np.ones(len(data))]
    base += [(data["arm"] == a).to_numpy(float) for a in sorted(data["arm"].unique()) if a != control]
    base += [(data["stratum"] == s).to_numpy(float) for s in sorted(data["stratum"].unique())[1:]]
    x = np.column_stack(base)
    rank = np.linalg.matrix_rank(x)
    kept = []
    for c in covariates:
        values = data[c].to_numpy(float)
        trial = np.column_stack([x, (values - values.mean()) / (values.std() or 1.0)])
        if np.linalg.matrix_rank(trial) > rank:
            x, rank = trial, rank + 1
            kept.append(c)
    return kept


@dataclass(frozen=True)
class Analysed:
    """The observed participants the effects rest on, with the covariates that can be adjusted for."""

    participants: Participants
    covariates: tuple
    dropped: tuple  # covariates left out (constant, determined by the strata, or collinear)
    singletons: int  # persons alone in their stratum, left out
    frame: pd.DataFrame = field(repr=False)

    @property
    def cluster(self) -> str | None:
        return self.participants.cluster

    @property
    def arms(self) -> list[str]:
        return sorted(a for a in self.frame["arm"].unique() if a != self.participants.control)

    def __repr__(self) -> str:
        return (f"Analysed({len(self.frame)} observed persons, covariates {list(self.covariates)}, "
                f"dropped {list(self.dropped)}, {self.singletons} singleton(s); not checked: for a look)")


def analysed(run, parts: Participants | None, *, covariates, where: dict | None = None,
             say: bool = True) -> Analysed | None:
    """The observed participants (in the rows where ``where`` holds, e.g. ``{"sex": "F"}``): a person alone
    in their stratum is left out (leverage 1, no HC2 variance, and nothing said about the arms), and a
    covariate that adds nothing within these persons is dropped; the report says both (``say``). None
    (and a sentence) when an arm has too few observed persons."""
    from analysis.report.labels import t, t_plain

    if parts is None:
        return None
    data = parts.frame[parts.frame["observed"] == 1]
    for column, value in dict(where or {}).items():
        data = data[data[column].astype(str) == str(value)]
    group = "".join(f", {c} = {v}" for c, v in dict(where or {}).items())
    if not _enough(data, parts.control):
        if say:
            run.report.markdown(t("experiment.no_participants", run.lang, experiment=parts.name + group,
                                  min=MIN_PER_ARM))
        return None
    sizes = data.groupby("stratum")["arm"].transform("size")
    singletons = int((sizes < 2).sum())
    if singletons:
        data = data[sizes >= 2]
        if say:
            run.report.markdown(t("experiment.singletons", run.lang, n=singletons))
    covs = _usable(data, covariates, parts.control)
    dropped = tuple(c for c in covariates if c not in covs)
    if dropped and say:
        names = ", ".join(t_plain(f"experiment.covariate.{c}", run.lang) for c in dropped)
        run.report.markdown(t("experiment.dropped_covariates", run.lang, covariates=names,
                              group=parts.name + group))
    return Analysed(participants=parts, covariates=tuple(covs), dropped=dropped, singletons=singletons,
                    frame=data.reset_index(drop=True))


def itt_rows(res, *, outcome: str, unit: str, suffix: str = "") -> list[dict]:
    """The results rows of an ITT result: ``itt_<outcome>_<arm><suffix>`` (effect, interval, n from the
    result), then ``p_ri_...`` and ``p_holm_...`` (randomisation-inference and Holm p-values)."""
    est = res.estimates
    terms = list(est.index)
    rows = res.to_estimates(unit=unit, names={term: f"itt_{outcome}_{term[4:]}{suffix}" for term in terms})
    out = list(rows)
    for col, prefix in (("p_value_ri", "p_ri"), ("p_value_holm", "p_holm")):
        out += [dict(r, name=f"{prefix}_{outcome}_{term[4:]}{suffix}", estimate=float(est.loc[term, col]), se=None,
                     ci_low=None, ci_high=None, unit="p_value") for r, term in zip(rows, terms)]
    return out


def show_itt(run, res, *, outcome: str, scale: float, unit: str, experiment: str, permutations: int) -> None:
    """The table of an ITT result: effect (in percentage points or months), interval, p, Holm, RI and n."""
    from analysis.report.checked import checked_estimates, combine
    from analysis.report.labels import t, t_plain

    lang, est = run.lang, res.estimates
    rows = res.to_estimates(unit=unit, names={term: f"itt_{outcome}_{term[4:]}" for term in est.index})

    def scaled(v):
        return None if v is None else v * scale

    shown = [dict(r, name=_arm_label(lang, term[4:], plain=True), estimate=scaled(r["estimate"]),
                  ci_low=scaled(r["ci_low"]), ci_high=scaled(r["ci_high"])) for r, term in zip(rows, est.index)]
    effect = checked_estimates(shown, name=f"itt_{outcome}", **_checked(run))
    pvals = {col: checked_estimates([dict(r, estimate=float(est.loc[term, col])) for r, term in zip(shown, est.index)],
                                    name=f"itt_{outcome}_{col}", **_checked(run))
             for col in ("p_value", "p_value_holm", "p_value_ri")}
    lab = {k: t_plain(f"experiment.col.{k}", lang) for k in ("effect", "ci_low", "ci_high", "p_value", "p_value_holm",
                                                             "p_value_ri", "n")}
    table = combine([(lab["effect"], effect, "estimate"), (lab["ci_low"], effect, "ci_low"),
                     (lab["ci_high"], effect, "ci_high"), (lab["p_value"], pvals["p_value"], "estimate"),
                     (lab["p_value_holm"], pvals["p_value_holm"], "estimate"),
                     (lab["p_value_ri"], pvals["p_value_ri"], "estimate"), (lab["n"], effect, "n")],
                    on=["name"], name=f"itt_{outcome}").rename({"name": t_plain("experiment.col.arm", lang)})
    run.report.table(table, caption=t(f"experiment.itt_caption.{outcome}", lang, experiment=experiment),
                     number_formats={lab["effect"]: "num1", lab["ci_low"]: "num1", lab["ci_high"]: "num1",
                                     lab["p_value"]: "num3", lab["p_value_holm"]: "num3", lab["p_value_ri"]: "num3",
                                     lab["n"]: "int"},
                     note=t("experiment.itt_note", lang, permutations=permutations, arms=len(est.index),
                            se=res.spec["se"]))


def balance(run, parts: Participants | None, *, covariates):
    """Standardised differences of the covariates before assignment, arm against control (a table), and
    the largest in absolute value."""
    from analysis.estimators.experiments import balance_result
    from analysis.report.checked import checked_result
    from analysis.report.labels import t, t_plain

    if parts is None:
        return None
    frame, lang = parts.frame, run.lang
    covs = [c for c in covariates if frame[c].nunique() > 1]
    res = balance_result(frame, arm="arm", covariates=covs)
    table = checked_result(res, name="balance", **_checked(run))
    arms = {term: _arm_label(lang, term.split(":")[0], plain=True) for term in table["term"]}
    covl = {term: t_plain(f"experiment.covariate.{term.split(':')[1]}", lang) for term in table["term"]}
    table = table.relabel("term", covl, into="covariate").relabel("term", arms).pivot(index="covariate",
                                                                                      columns="term",
                                                                                      value="estimate")
    table = table.rename({"covariate": t_plain("experiment.col.covariate", lang)})
    worst = float(np.nanmax(np.abs(res.estimates["estimate"].to_numpy()))) if len(res.estimates) else np.nan
    run.report.table(table, caption=t("experiment.balance_caption", lang),
                     number_formats={c: "num2" for c in table.values},
                     note=t("experiment.balance_note", lang))
    return res, worst


def attrition_by_arm(run, parts: Participants | None):
    """Share of participants whose outcomes are not observed, per arm (a table), and the result of the
    test of a difference (its rows: ``attrition_difference_<arm>``, via ``to_estimates``)."""
    from analysis.estimators.experiments import attrition
    from analysis.report.checked import combine
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t, t_plain

    if parts is None:
        return None
    frame, lang = parts.frame, run.lang
    data = frame.assign(lost=1.0 - frame["observed"], arm_label=[_arm_label(lang, a, plain=True) for a in frame["arm"]])
    share = safe_aggregate(data, by=["arm_label"], value="lost", stat="share", name="attrition", **_checked(run))
    count = safe_aggregate(data, by=["arm_label"], stat="count", name="participants", **_checked(run))
    lab_n, lab_s = t_plain("experiment.col.assigned", lang), t_plain("experiment.col.lost", lang)
    shown = combine([(lab_n, count, "value"), (lab_s, share, "value")], on=["arm_label"], name="attrition")
    shown = shown.rename({"arm_label": t_plain("experiment.col.arm", lang)})
    res = attrition(frame, arm="arm", control=parts.control, observed="observed", strata=["stratum"],
                    cluster=parts.cluster)
    run.report.table(shown, caption=t("experiment.attrition_caption", lang), number_formats={lab_n: "int", lab_s: "pct"},
                     note=t("experiment.attrition_note", lang, max_age=MAX_AGE + 1))
    return res


def attrition_rows(res, parts: Participants) -> list[dict]:
    """``attrition_difference_<arm>``: the difference in the share not observed, arm against control."""
    return res.to_estimates(unit="difference", names={f"arm={a}": f"attrition_difference_{a}" for a in parts.arms})


def _fmt(row, fmt, lang):
    from analysis.report.labels import t

    return t("suppressed_short", lang) if row["suppressed"] else fmt(row["estimate"])


def summary(run, design: DesignSummary | None, parts: Participants | None, effects: dict) -> str:
    """The key numbers in one paragraph, from the checked results rows."""
    from analysis.report.labels import fmt_number, fmt_pp, t, t_plain

    lang = run.lang
    text = [t("experiment.summary_design", lang, size=design.size, scope=design.scope, population=design.population,
              arms=design.arms, mde=design.mde, mde_cluster=design.mde_cluster)] if design is not None else []
    if parts is not None and effects:
        parts_text = []
        for arm in parts.arms:
            work = run.estimate(f"itt_exit_to_work_24m_{arm}")
            months = run.estimate(f"itt_bijstand_months_24m_{arm}")
            holm = run.estimate(f"p_holm_exit_to_work_24m_{arm}")
            parts_text.append(t_plain("experiment.summary_arm", lang, arm=_arm_label(lang, arm, plain=True),
                                      work=_fmt(work, lambda v: fmt_pp(v, lang), lang),
                                      months=_fmt(months, lambda v: fmt_number(v, lang, 1), lang),
                                      p=_fmt(holm, lambda v: fmt_number(v, lang, 3), lang)))
        text.append(t("experiment.summary_analysis", lang, experiment=parts.name, arms="; ".join(parts_text)))
    return " ".join(text)


def methods(run) -> str:
    """The definitions of the outcomes and the estimator, as a paragraph."""
    from analysis.report.labels import t

    return t("experiment.methods", run.lang, follow_up=FOLLOW_UP, days=EXIT_TO_WORK_DAYS, max_age=MAX_AGE + 1)
