"""Study "intervention": does a re-integration programme shorten bijstand, bring work, and pay off?

Design: the risk set (``analysis.estimators.risk_set``): each programme start in
month m is compared with people in bijstand in the same calendar month at the
same elapsed spell duration who have not started by m (they may start later).
Outcomes from the start month on: months in bijstand in months 1..24 after it,
employed in month 24. Options of the design (``options``):

- ``control_group="risk_set"`` (default) keeps comparison persons who start later (the effect of starting
  now versus not now, Sianesi 2004); ``"not_yet_treated"`` keeps only those who have not started by the end
  of the outcome window (m + ``outcome_months``): the effect of starting now versus not within the window,
  which conditions on the future (who stays unstarted) and so answers another question;
- ``anticipation=k`` months forms the risk set k months before the start (month m - k: the same calendar month
  and spell duration then, covariates measured then, comparison persons not started by m), so that a change
  between the announcement or intake and the start (a lock-in, a threat effect) does not enter the comparison;
  outcomes still run from the start month m.

There is no base period: the design compares outcomes after the start between matched groups at one month,
not changes against a reference period as an event study does. Estimators: cross-fitted AIPW (headline), regression
adjustment, IPW and propensity matching, and the naive difference (participants
minus all eligible non-participants, unadjusted) for contrast. Standard errors
are clustered by person. Returns (``returns.py``): the fiscal business case per
actor and the social cost-benefit analysis (``analysis.estimators.mkba``), with
optionally the health-care savings of an exit_health run named by the parameter
``health_savings_run``. What works for whom (``whom.py``): GATES, the BLP test,
CLAN; ``by`` gives AIPW effects per level of a categorical column.

Disclosure control. Every effect carries the participants it rests on (``n``,
at most the participating persons in the risk sets), the comparison persons and
its dominance (the estimator's per-unit contributions; the naive difference's
person-level influence terms). A population with fewer than 10 participants or
comparison persons (a small municipality, a rare programme) is not estimated:
every result is withheld and the report says so. The mean programme cost and the
mean monthly benefit are means of amounts: withheld when they rest on fewer than
10 persons or two persons make up more than 90 percent of them, and then every
return that would give them away (net benefit, ratio, probability of paying off)
is withheld too. Survival and cumulative-incidence curves stop where fewer than
10 remain at risk; shares at 12 and 24 months pass the numerator and complement
rule; balance rows of a 0/1 covariate held by fewer than 10 participants or
comparisons (or lacked by fewer than 10) are withheld; overlap histogram bins with
fewer than 10 persons are marked, not drawn.

Memory (issue #18): the risk sets read only the population's bijstand recipients: their spells in SQL over the
store, and their persons rows, programme starts, employment spells and ladder steps from the files
(:func:`analysis.kit.events.person_rows`, DuckDB filtered to these persons), never a whole raw table. Exact:
the same frame, row for row and in the same order (so the seeded draw of comparison persons is the same), as
the whole-table computation kept as the reference in tests/studies/test_recipients_streaming_intervention.py.
What still grows with the recipients is ``risk_set_frame``'s frame of every candidate comparison before the
``max_controls`` draw (one random number per candidate, in frame order).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dataclasses import dataclass, replace
from typing import Mapping

from analysis.errors import ParameterError, StudyError
from analysis.kit.run import Run

COVARIATES_BASE = ["female", "age", "age2", "edu_middle", "edu_high", "mig_western", "mig_non_western", "duration",
                   "emp_months_24", "bij_months_24", "year"]
LADDER = ["ladder_step", "ladder_missing"]
#: The participation-ladder outcome is the step this many months after the start month.
LADDER_MONTH = 12


#: categorical columns of the risk-set frame that ``by`` may name (persons' columns)
BY_COLUMNS = ("sex", "municipality_code", "migration_background", "education")
#: who is compared (module docstring)
CONTROL_GROUPS = ("risk_set", "not_yet_treated")
#: the longest anticipation window, in months
MAX_ANTICIPATION = 12


@dataclass(frozen=True)
class Options:
    """The study's own options, validated (``options``); ``intervention`` is the programme studied."""

    intervention: str = ""
    outcome_months: int = 24
    monthly_benefit_eur: float = 1150.0
    discount_rate: float = 0.0225
    horizon_months: int = 120
    health_savings_run: str = ""
    heterogeneity: bool = True
    gates_groups: int = 5
    by: str = "none"
    max_controls: int = 20
    covariates: tuple[str, ...] = ()
    municipality: str = "all"
    seed: int = 0
    control_group: str = "risk_set"
    anticipation: int = 0


def options(*, intervention: str = "", outcome_months: int = 24, monthly_benefit_eur: float = 1150.0,
            discount_rate: float = 0.0225, horizon_months: int = 120, health_savings_run: str = "",
            heterogeneity: bool = True, gates_groups: int = 5, by: str = "none", max_controls: int = 20,
            covariates=(), control_group: str = "risk_set", anticipation: int = 0,
            municipality: str = "all", seed: int = 0) -> Options:
    """The options checked before any data is read. ``covariates`` empty: the design's full set
    (``COVARIATES_BASE``, the ladder and the municipalities); else the names given, a subset of it.
    ``control_group`` (``CONTROL_GROUPS``) and ``anticipation`` (months, 0..``MAX_ANTICIPATION``) as in the
    module docstring; the design has no base period."""
    from analysis.errors import check_choice
    from analysis.estimators.cost_benefit import MIN_RATE

    if outcome_months < 6 or outcome_months > 48:
        raise ParameterError(f"outcome_months={outcome_months} must lie between 6 and 48.")
    if not MIN_RATE <= discount_rate < 1:
        raise ParameterError(f"discount_rate={discount_rate!r} is not allowed; give a yearly real rate from "
                             f"{MIN_RATE} (risk-free) up to below 1, e.g. 0.0225 (the Dutch standard rate).")
    if not outcome_months <= horizon_months <= 1200:
        raise ParameterError(f"horizon_months={horizon_months} must lie between outcome_months ({outcome_months}) "
                             "and 1200 (100 years).")
    if not 2 <= gates_groups <= 10:
        raise ParameterError(f"gates_groups={gates_groups} must lie between 2 and 10.")
    if by == "municipality":  # the older name of the column
        by = "municipality_code"
    if by in ("", None):
        by = "none"
    if by != "none" and by not in BY_COLUMNS:
        raise ParameterError(f"by={by!r} is not allowed; choose 'none' or a categorical column: "
                             f"{', '.join(BY_COLUMNS)}.")
    check_choice("control_group", control_group, CONTROL_GROUPS)
    if isinstance(anticipation, bool) or not isinstance(anticipation, (int, np.integer)) \
            or not 0 <= anticipation <= MAX_ANTICIPATION:
        raise ParameterError(f"anticipation={anticipation!r} must be a whole number of months from 0 to "
                             f"{MAX_ANTICIPATION}: how long before the start the risk set is formed (0: at the start "
                             "month itself).")
    allowed = [*COVARIATES_BASE, *LADDER]
    for c in covariates:
        check_choice("covariates", c, allowed)
    return Options(intervention=intervention, outcome_months=outcome_months, monthly_benefit_eur=monthly_benefit_eur,
                   discount_rate=discount_rate, horizon_months=horizon_months, health_savings_run=health_savings_run,
                   heterogeneity=heterogeneity, gates_groups=gates_groups, by=by, max_controls=max_controls,
                   covariates=tuple(covariates), municipality=municipality, seed=seed, control_group=control_group,
                   anticipation=int(anticipation))


def programme(run: Run, opts: Options) -> Options:
    """``opts`` with the programme to study: the one named, or the most frequent in the interventions table."""
    from analysis.kit.events import person_rows

    if _rows(run, "interventions") == 0:
        raise StudyError("This dataset has no interventions table: the intervention study needs one "
                         "(person_id, intervention, start_date, end_date, cost_eur).")
    if opts.by != "none" and opts.by not in _columns(run, "persons"):
        raise ParameterError(f"by={opts.by!r}: this dataset's persons table has no column {opts.by!r} (it is "
                             "optional in the data contract); choose another column or 'none'.")
    names = person_rows(run.dataset, "interventions", None, columns=["intervention"])["intervention"].value_counts()
    intervention = opts.intervention or str(names.index[0])
    if intervention not in names.index:
        raise ParameterError(f"intervention={intervention!r} is not in the data; available: {', '.join(names.index)}.")
    return replace(opts, intervention=intervention)


def _rows(run: Run, table: str) -> int:
    """Rows of a dataset table (0 without it), counted when the dataset was validated: nothing is read."""
    if table not in run.dataset.tables:
        return 0
    return int(run.dataset.n_rows()[table])


def _columns(run: Run, table: str) -> list:
    """A dataset table's columns without reading it (a lazy table's validated columns)."""
    columns = getattr(run.dataset.tables, "columns", None)
    return list(columns(table)) if callable(columns) else list(run.dataset.tables[table].columns)


@dataclass(frozen=True)
class Design:
    """The risk sets: one row per (person, start month) with outcomes and covariates, the covariates the
    estimators adjust for, the participating and comparison persons, and whether there are enough of both."""

    frame: pd.DataFrame
    covariates: tuple[str, ...]
    units: tuple[int, int]
    estimable: bool
    dropped: tuple[str, ...] = ()  # covariates asked for that are constant here (left out, the report says so)

    def __repr__(self) -> str:
        return f"Design(rows={len(self.frame)}, participants={self.units[0]}, comparisons={self.units[1]})"


@dataclass(frozen=True)
class Effects:
    """The estimators' results per outcome (``results[outcome][estimator]``) and the table shown."""

    design: Design
    results: Mapping
    table: object = None


def risk_sets(run: Run, pop, opts: Options) -> Design:
    """The risk sets of ``opts.intervention`` in the population ``pop`` (``rd.population``): spells of its
    persons, start months in its years and its age band (age in years at the start month's year)."""
    from analysis.estimators.risk_set import risk_set_frame

    from analysis.kit.events import person_rows, store_persons

    h, a = opts.outcome_months, opts.anticipation
    meta = run.dataset.meta
    m1 = meta["observation_end"].year * 12 + meta["observation_end"].month - 1
    # only the population's bijstand recipients are read (their spells, starts, persons rows, jobs, ladder
    # steps), so memory grows with them, not with the population; exact (test_recipients_streaming_intervention.py)
    con = pop.connect()
    spells = con.execute(f"""SELECT person_id, start_month, end_month
                             FROM read_parquet('{run.store.path("bijstand_spells").as_posix()}', file_row_number = true)
                             WHERE person_id IN (SELECT person_id FROM population) ORDER BY file_row_number""").df()
    ids = spells["person_id"].unique()
    inter = person_rows(run.dataset, "interventions", ids, columns=["person_id", "intervention", "start_date"])
    inter = inter[inter["intervention"] == opts.intervention]
    starts = pd.DataFrame({"person_id": inter["person_id"],
                           "month": inter["start_date"].dt.year * 12 + inter["start_date"].dt.month - 1})
    # the risk set of a start in month m is formed in month m - a (its base month): the same calendar month and
    # spell duration then, comparison persons not started by m (risk_set_frame on the starts moved a months back)
    frame = risk_set_frame(spells, starts.assign(month=starts["month"] - a), max_controls=opts.max_controls,
                           seed=opts.seed)
    frame = frame.rename(columns={"month": "base_month"})
    frame.insert(1, "month", frame["base_month"] + a)  # the start month: outcomes run from it
    if opts.control_group == "not_yet_treated":  # comparison persons not started by the end of the window
        first = starts.groupby("person_id")["month"].min()
        later = frame["person_id"].map(first)
        frame = frame[(frame["treated"] == 1) | later.isna() | (later > frame["month"] + h)]
        frame = frame[frame.groupby("risk_set")["treated"].transform("min") == 0]  # a risk set needs comparisons
    frame = frame[frame["month"] + h <= m1].reset_index(drop=True)  # the full outcome window is observed
    d = pop.definition
    persons = store_persons(run.store, frame["person_id"].unique())
    birth = pd.Series(persons["birth_year"].to_numpy(dtype=int), index=persons["person_id"])
    year, age = frame["month"] // 12, frame["month"] // 12 - frame["person_id"].map(birth)
    frame = frame[year.between(d.first_year, d.last_year) & age.between(d.age_min, d.age_max)].reset_index(drop=True)
    units = (int(frame.loc[frame["treated"] == 1, "person_id"].nunique()),
             int(frame.loc[frame["treated"] == 0, "person_id"].nunique()))
    if min(units) < run.policy.min_units:
        con.close()
        return Design(frame=frame, covariates=(), units=units, estimable=False)
    con.register("rs", frame[["person_id", "month", "base_month"]].drop_duplicates())
    con.register("emp_raw", person_rows(run.dataset, "employment_spells", frame["person_id"].unique(),
                                        columns=["person_id", "start_date", "end_date"]))
    end = meta["observation_end"]
    # One pass of joins (no correlated subqueries: those do not scale to a million persons): per
    # risk-set row the spells of that person, aggregated.
    feats = con.execute(f"""
        WITH emp AS (SELECT person_id, year(start_date::DATE) * 12 + month(start_date::DATE) - 1 AS sm,
                            year(COALESCE(end_date::DATE, DATE '{end}')) * 12 + month(COALESCE(end_date::DATE, DATE '{end}')) - 1 AS em
                     FROM emp_raw),
        bij AS (
            SELECT r.person_id, r.month,
              sum(GREATEST(0, LEAST(b.end_month, r.month + {h}) - GREATEST(b.start_month, r.month + 1) + 1)) AS months_bijstand,
              sum(GREATEST(0, LEAST(b.end_month, r.base_month - 1) - GREATEST(b.start_month, r.base_month - 24) + 1))
                AS bij_months_24,
              arg_min(b.end_month, b.start_month) FILTER (WHERE r.base_month BETWEEN b.start_month AND b.end_month)
                AS spell_end,
              bool_or(b.censored) FILTER (WHERE r.base_month BETWEEN b.start_month AND b.end_month) AS spell_censored,
              arg_min(b.spell_id, b.start_month) FILTER (WHERE r.base_month BETWEEN b.start_month AND b.end_month)
                AS spell_id,
              arg_min(b.monthly_amount_eur, b.start_month) FILTER (WHERE r.base_month BETWEEN b.start_month AND b.end_month)
                AS monthly_amount_eur
            FROM rs r JOIN bijstand_spells b ON b.person_id = r.person_id
            GROUP BY r.person_id, r.month, r.base_month),
        em AS (
            SELECT r.person_id, r.month,
              max((r.month + {h} BETWEEN e.sm AND e.em)::INTEGER) AS employed_end,
              max((r.month + {LADDER_MONTH} BETWEEN e.sm AND e.em)::INTEGER) AS employed_ladder,
              sum(GREATEST(0, LEAST(e.em, r.base_month - 1) - GREATEST(e.sm, r.base_month - 24) + 1)) AS emp_months_24
            FROM rs r JOIN emp e ON e.person_id = r.person_id
            GROUP BY r.person_id, r.month, r.base_month),
        exits AS (SELECT spell_id, min(days_to_employment) AS days_to_job FROM bijstand_exits
                  WHERE person_id IN (SELECT person_id FROM rs) GROUP BY spell_id)
        SELECT r.person_id, r.month,
               COALESCE(bij.months_bijstand, 0) AS months_bijstand,
               COALESCE(em.employed_end, 0) AS employed_end,
               COALESCE(em.employed_ladder, 0) AS employed_ladder,
               COALESCE(em.emp_months_24, 0) AS emp_months_24,
               COALESCE(bij.bij_months_24, 0) AS bij_months_24,
               bij.spell_end, bij.spell_censored, x.days_to_job, bij.monthly_amount_eur
        FROM rs r LEFT JOIN bij USING (person_id, month) LEFT JOIN em USING (person_id, month)
             LEFT JOIN exits x ON x.spell_id = bij.spell_id""").df()
    con.close()
    frame = frame.merge(feats, on=["person_id", "month"]).merge(persons, on="person_id")
    covariates = list(COVARIATES_BASE)
    if _rows(run, "participation_ladder"):
        ladder = person_rows(run.dataset, "participation_ladder", frame["person_id"].unique(),
                             columns=["person_id", "date", "step"])
        lad = ladder.assign(lmonth=ladder["date"].dt.year * 12 + ladder["date"].dt.month - 1)
        lad = lad.sort_values("lmonth", kind="stable")[["person_id", "lmonth", "step"]]  # ties: file order
        keys = frame[["person_id", "month", "base_month"]].drop_duplicates().sort_values("base_month")
        last = pd.merge_asof(keys, lad, left_on="base_month", right_on="lmonth", by="person_id", direction="backward")
        frame = frame.merge(last[["person_id", "month", "step"]], on=["person_id", "month"], how="left")
        step = frame["step"].astype(float)  # a nullable integer column cannot hold the mean
        frame["ladder_missing"] = step.isna().astype(float)
        frame["ladder_step"] = step.fillna(step.mean())
        covariates += LADDER
        # Outcome: the step LADDER_MONTH months after the start: 6 (paid work) for the employed, else
        # the latest measurement up to then (a caseworker re-assesses at spell starts and yearly).
        keys = keys.assign(at=keys["month"] + LADDER_MONTH).sort_values("at")
        later = pd.merge_asof(keys, lad, left_on="at", right_on="lmonth", by="person_id", direction="backward")
        frame = frame.merge(later[["person_id", "month", "step"]].rename(columns={"step": "ladder_after"}),
                            on=["person_id", "month"], how="left")
        frame["ladder_step_12m"] = np.where(frame["employed_ladder"] == 1, 6.0, frame["ladder_after"])
    frame["female"] = (frame["sex"] == "F").astype(float)
    frame["age"] = frame["base_month"] // 12 - frame["birth_year"]  # covariates at the base month
    frame["age2"] = frame["age"] ** 2
    frame["year"] = frame["base_month"] // 12
    for col, val, name in (("education", "middle", "edu_middle"), ("education", "high", "edu_high"),
                           ("migration_background", "western", "mig_western"),
                           ("migration_background", "non_western", "mig_non_western")):
        frame[name] = (frame[col] == val).astype(float) if col in frame else 0.0
    munis = frame["municipality_code"].value_counts()
    big = [m for m in munis.index[1:] if munis[m] >= 50]
    for m in big:
        frame[f"muni_{m}"] = (frame["municipality_code"] == m).astype(float)
    covariates += [f"muni_{m}" for m in big]
    if opts.covariates:  # the researcher's subset
        covariates = [c for c in covariates if c in opts.covariates]
    dropped = tuple(c for c in covariates if frame[c].std() == 0 and c in opts.covariates)
    covariates = [c for c in covariates if frame[c].std() > 0]  # constants add nothing
    return Design(frame=frame, covariates=tuple(covariates), units=units, estimable=True, dropped=dropped)


def _names(run: Run, opts: Options) -> list[str]:
    """Every results.json name this study writes (also when it withholds them all)."""
    h = opts.outcome_months
    names = [f"att_months_bijstand_{h}m", f"att_employed_{h}m", f"naive_months_bijstand_{h}m"]
    if _rows(run, "participation_ladder"):
        names.append(f"att_ladder_step_{LADDER_MONTH}m")
    return names + list(RETURNS)


#: results.json rows of the returns, with their units
RETURNS = {"net_benefit_per_participant_eur": "EUR per participant", "benefit_cost_ratio": "ratio",
           "break_even_cost_eur": "EUR per participant", "prob_pays_off": "probability",
           "social_npv_per_participant_eur": "EUR per participant", "benefit_cost_ratio_social": "ratio",
           "fiscal_npv_gemeente_per_participant_eur": "EUR per participant",
           "fiscal_npv_rijk_per_participant_eur": "EUR per participant",
           "fiscal_npv_zorgverzekeraar_per_participant_eur": "EUR per participant",
           "prob_social_npv_positive": "probability", "prob_fiscal_npv_gemeente_positive": "probability"}
UNITS = {"months_bijstand": "months", "employed_end": "probability difference", "ladder_step_12m": "ladder steps"}


def _blank(name: str, unit: str, n: int, n_control: int | None = None) -> dict:
    """A row not estimated on ``n`` participants / ``n_control`` comparisons: the policy withholds it."""
    return {"name": name, "estimate": None, "se": None, "ci_low": None, "ci_high": None, "n": int(n),
            "unit": unit, "suppressed": False, "_n_control": n_control}


def _row(run: Run, res, name: str, unit: str, frame: pd.DataFrame) -> dict:
    """The results row of an estimator's ATT, its units capped at the persons of ``frame`` (never more
    participants or comparisons than the risk sets hold)."""
    (row,) = res.to_estimates(unit=unit, terms=["ATT"], names={"ATT": name})
    n_t = int(frame.loc[frame["treated"] == 1, "person_id"].nunique())
    n_c = int(frame.loc[frame["treated"] == 0, "person_id"].nunique())
    row["n"] = min(int(row["n"]), n_t)
    row["_n_control"] = n_c if row.get("_n_control") is None else min(int(row["_n_control"]), n_c)
    return row


def _table(run: Run, rows: list[dict], *, name: str, key: str):
    """A checked display table from results-style rows (key ``key``; estimate, ci_low, ci_high, n)."""
    from analysis.report.disclosure import checked_estimates

    return checked_estimates(rows, policy=run.report.policy, log=run.report.log, name=name).rename({"name": key})


def _value_names(run: Run) -> dict:
    from analysis.report.labels import t

    return {"estimate": t("estimate", run.lang), "ci_low": t("ci_low", run.lang), "ci_high": t("ci_high", run.lang)}


def effects(run: Run, design: Design, opts: Options) -> Effects:
    """AIPW (headline), regression adjustment, IPW, matching and the naive difference, both outcomes."""
    from analysis.estimators.propensity import att_aipw, att_ipw, att_matching, att_regression
    from analysis.report.labels import t

    h = opts.outcome_months
    if not design.estimable:
        n_t, n_c = design.units
        units = {**RETURNS, f"att_months_bijstand_{h}m": "months", f"att_employed_{h}m": "probability difference",
                 f"naive_months_bijstand_{h}m": "months", f"att_ladder_step_{LADDER_MONTH}m": "ladder steps"}
        run.add([_blank(name, units[name], n_t, n_c) for name in _names(run, opts)])
        run.report.markdown(t("intervention.too_few", run.lang, min_units=run.report.policy.min_units))
        return Effects(design=design, results={})
    frame = design.frame
    covs = list(design.covariates)
    rows, results = [], {}
    for outcome in ("months_bijstand", "employed_end"):
        ests = {
            "aipw": att_aipw(frame, outcome=outcome, treatment="treated", covariates=covs, cluster="person_id",
                             seed=opts.seed),
            "regression": att_regression(frame, outcome=outcome, treatment="treated", covariates=covs,
                                         cluster="person_id"),
            "ipw": att_ipw(frame, outcome=outcome, treatment="treated", covariates=covs, cluster="person_id"),
            "matching": att_matching(frame, outcome=outcome, treatment="treated", covariates=covs),
        }
        results[outcome] = ests
        for name, res in ests.items():
            rows.append({**_row(run, res, f"{outcome} {name}", UNITS[outcome], frame), "outcome": outcome, "estimator": name})
        rows.append({**_naive(run, frame, outcome, f"{outcome} naive"), "outcome": outcome, "estimator": "naive"})
    head = {"months_bijstand": f"att_months_bijstand_{h}m", "employed_end": f"att_employed_{h}m"}
    run.add([{**_row(run, results[o]["aipw"], key, UNITS[o], frame)} for o, key in head.items()])
    run.add([_naive(run, frame, "months_bijstand", f"naive_months_bijstand_{h}m")])
    order = ["aipw", "regression", "ipw", "matching", "naive"]
    est_col = t("intervention.estimator", run.lang)
    outcome_label = {"months_bijstand": t("intervention.months_effect", run.lang, h=h),
                     "employed_end": t("intervention.employed_effect", run.lang, h=h)}
    names = _value_names(run)
    head = run.estimate(f"att_months_bijstand_{h}m")
    n_text = run.report.policy.symbol if head["suppressed"] else head["n"]
    tables = []
    # one table per outcome: months in bijstand in months, the effect on a share in percentage points
    for outcome, fmt in (("months_bijstand", "num2"), ("employed_end", "pp")):
        part = [{k: v for k, v in r.items() if k not in ("outcome", "estimator")}
                for e in order for r in rows if r["outcome"] == outcome and r["estimator"] == e]
        for r, e in zip(part, order):
            r["name"] = t(f"intervention.est.{e}", run.lang)
        table = _table(run, part, name=f"effects {outcome}", key=est_col).select([est_col, *names]).rename(names)
        run.report.table(table, caption=outcome_label[outcome] + ". " +
                         t("intervention.effects_caption", run.lang, n=n_text),
                         number_formats={v: fmt for v in names.values()})
        tables.append(table)
    table = tuple(tables)
    return Effects(design=design, results=results, table=table)


def ladder_effect(run: Run, design: Design, opts: Options) -> dict | None:
    """AIPW effect on the participation-ladder step 12 months after the start, where the data have it."""
    from analysis.estimators.propensity import att_aipw
    from analysis.report.labels import fmt_number, t

    name = f"att_ladder_step_{LADDER_MONTH}m"
    if not design.estimable:
        return None
    frame = design.frame
    if "ladder_step_12m" not in frame:
        run.report.markdown(t("intervention.ladder_absent", run.lang))
        return None
    part = frame.dropna(subset=["ladder_step_12m"])
    n_t = int(part.loc[part["treated"] == 1, "person_id"].nunique())
    n_c = int(part.loc[part["treated"] == 0, "person_id"].nunique())
    row = _blank(name, "ladder steps", n_t, n_c)
    if min(n_t, n_c) >= run.report.policy.min_units:
        covs = [c for c in design.covariates if part[c].std() > 0]
        res = att_aipw(part, outcome="ladder_step_12m", treatment="treated", covariates=covs, cluster="person_id",
                       seed=opts.seed)
        row = _row(run, res, name, "ladder steps", part)
    (row,) = run.add([row])
    if row["estimate"] is None:
        run.report.markdown(t("intervention.ladder_withheld", run.lang, min_units=run.report.policy.min_units))
        return row
    # the share of comparisons with a measurement is a share of rows: numerator and complement
    with_m, without = len(part), len(frame) - len(part)
    share = (fmt_number(100 * len(part) / len(frame), run.lang, digits=0)
             if min(with_m, without) >= run.report.policy.min_units else run.report.policy.symbol)
    run.report.markdown(t("intervention.ladder_text", run.lang, months=LADDER_MONTH,
                          effect=fmt_number(row["estimate"], run.lang, digits=2),
                          low=fmt_number(row["ci_low"], run.lang, digits=2),
                          high=fmt_number(row["ci_high"], run.lang, digits=2), share=share))
    return row


def by_group(run: Run, design: Design, opts: Options):
    """AIPW effects (ATT, the study's estimand) per level of the categorical column ``by``, written to
    results.json as ``group_effects_<by>_<level>``; small groups are withheld, and with one group withheld
    the participant counts of all groups (which with the total would give it away)."""
    from analysis.estimators.propensity import att_aipw
    from analysis.report.labels import t, t_plain

    by = opts.by
    if by == "none" or not design.estimable:
        return None
    h = opts.outcome_months
    frame = design.frame
    own = {"sex": ("female",), "municipality_code": ("muni_",), "education": ("edu_",),
           "migration_background": ("mig_",)}[by]
    covs = [c for c in design.covariates if not c.startswith(own)]
    rows, shown, notes = [], [], []
    for value, part in frame.groupby(frame[by].astype(str)):
        n_t = int(part.loc[part["treated"] == 1, "person_id"].nunique())
        n_c = int(part.loc[part["treated"] == 0, "person_id"].nunique())
        name = f"group_effects_{by}_{value}"
        row = _blank(name, "months", n_t, n_c)
        if min(n_t, n_c) >= run.report.policy.min_units:
            covs_here = [c for c in covs if part[c].std() > 0]  # constant within the group: dropped, said below
            if len(covs_here) < len(covs):
                notes.append((str(value), [c for c in covs if c not in covs_here]))
            res = att_aipw(part, outcome="months_bijstand", treatment="treated", covariates=covs_here,
                           cluster="person_id", seed=opts.seed, folds=3)
            row = _row(run, res, name, "months", part)
        rows.append(row)
        shown.append(str(value))
    checked = run.add(rows)
    group_col = t("intake.group", run.lang)
    display = [{**r, "name": _level_label(by, v, run.lang)} for r, v in zip(checked, shown)]
    table = _table(run, display, name=f"by_{by}", key=group_col)
    names = {**_value_names(run), "n": t("intervention.participants", run.lang)}
    columns = [group_col, "estimate", "ci_low", "ci_high"] + ([] if table.any_withheld else ["n"])
    table = table.select(columns).rename(names)
    run.report.table(table, caption=t("intervention.by_caption", run.lang, h=h) + " " +
                     t("intervention.whom.by_column", run.lang, column=t_plain(f"intervention.whom.col.{by}", run.lang)),
                     number_formats={names["estimate"]: "num2", names["ci_low"]: "num2", names["ci_high"]: "num2",
                                     names["n"]: "int"})
    if notes:
        run.report.markdown(" ".join(t("intervention.by_dropped", run.lang, group=_level_label(by, v, run.lang),
                                       names=covariate_names(cs, run.lang)) for v, cs in notes))
    return table


def covariate_names(names, lang: str) -> str:
    """Risk-set covariates in words, for a sentence (plain text: ``t`` escapes it once)."""
    from analysis.report.labels import t_plain

    return ", ".join(t_plain("intervention.cov.muni", lang, code=c.removeprefix("muni_")) if c.startswith("muni_")
                     else t_plain(f"intervention.cov.{c}", lang) for c in names)


def _level_label(column: str, value: str, lang: str) -> str:
    """A level of a ``by`` column as the report names it (codes such as municipality codes as they are)."""
    from analysis.report.labels import catalogue, t_plain

    key = f"intervention.whom.level.{column}.{value}"
    return t_plain(key, lang) if key in catalogue() else value


def _naive(run, frame, outcome, name):
    """Participants minus all eligible non-participants, unadjusted (cluster-robust SE): a results row
    whose dominance comes from the person-level influence terms."""
    from analysis.estimators.results import dominance_share

    y, d = frame[outcome].to_numpy(float), frame["treated"].to_numpy()
    est = y[d == 1].mean() - y[d == 0].mean()
    n1, n0 = (d == 1).sum(), (d == 0).sum()
    inf = np.where(d == 1, (y - y[d == 1].mean()) / (n1 / len(y)), -(y - y[d == 0].mean()) / (n0 / len(y)))
    g = pd.Series(inf).groupby(frame["person_id"].to_numpy()).sum().to_numpy()
    se = float(np.sqrt(np.sum(g ** 2)) / len(y))
    return {"name": name, "estimate": float(est), "se": se, "ci_low": float(est - 1.96 * se),
            "ci_high": float(est + 1.96 * se), "n": int(frame.loc[d == 1, "person_id"].nunique()),
            "unit": UNITS[outcome], "suppressed": False,
            "_n_control": int(frame.loc[d == 0, "person_id"].nunique()), "_dominance": dominance_share(g)}
