"""Intake, causal part: the design (event cohorts at risk), the event study, its sensitivity, the effects
per group, the attributable share, the methods text.

Memory at register scale (issue #18): the design reads only the population's persons with a union (or a
job) and the columns it needs, prior dependence comes from the employment spells of the persons with the
event (no units x months employment matrix), the outcome matrices are int8 (0/1), a group's estimator gets
its rows in one copy, and the event study keeps its groups' results without their unit data. All exact:
the same results as the dense code (tests/kit/test_intake_streaming.py; results.json equal)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, check_choice

from analysis.studies.intake.inflow import EVENTS, KIT_EVENT, PRE_MONTHS, SHARE_HORIZON, _checked, _withheld_row


@dataclass(frozen=True)
class Design:
    """The event cohorts of the population and, per person, sex, cohort, prior dependence and the ``by`` column."""

    event: str
    cohorts: Any  # analysis.kit.events.EventCohorts
    people: pd.DataFrame  # person_id, sex, cohort, dependent[, by]
    min_units: int

    def enough(self, keep: np.ndarray | None = None) -> bool:
        """At least ``min_units`` persons with the event and ``min_units`` without it (yet) in the window."""
        people = self.people if keep is None else self.people[keep]
        treated = int((people["cohort"] > 0).sum())
        return treated >= self.min_units and len(people) - treated >= self.min_units


def _store_columns(store, table: str) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(store.path(table)).names)


def _persons_in(pop, ids: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """The population's persons among ``ids`` (sorted by id, as ``pop.persons()``), only ``columns``."""
    wanted = pd.DataFrame({"person_id": pd.unique(np.asarray(ids))})
    con = pop.connect()
    try:
        con.register("wanted_ids", wanted)
        inside = con.execute("SELECT person_id FROM population SEMI JOIN wanted_ids USING (person_id) "
                             "ORDER BY person_id").df()["person_id"].to_numpy()
    finally:
        con.close()
    return pop.persons(inside, columns=columns)


def worked_before(store, unit_ids: np.ndarray, cohort: np.ndarray, m0: int, T: int) -> np.ndarray:
    """Per unit: employed in any of the 12 months before its event month (positions c-13..c-2 inside the
    window, c the cohort 1..T; False for units without the event), from the employment spells directly:
    the same as reading those months off the units x months employment matrix, without building it."""
    from analysis.kit.events import _month, read_columns

    ds = store.dataset
    c = np.asarray(cohort).astype(int)
    treated = np.flatnonzero(c > 0)
    worked = np.zeros(len(c), dtype=bool)
    if not len(treated):
        return worked
    emp = read_columns(ds, "employment_spells", ["person_id", "start_date", "end_date"])
    rows = pd.Index(np.asarray(unit_ids)[treated]).get_indexer(emp["person_id"])
    ok = rows >= 0
    e = emp[ok]
    del emp
    start = np.clip(_month(e["start_date"]) - m0, 0, T)
    end = np.where(e["end_date"].isna(), T - 1, _month(e["end_date"].fillna(pd.Timestamp(ds.meta["observation_end"]))) - m0)
    end = np.clip(end, -1, T - 1)
    unit = treated[rows[ok]]
    hi = c[unit] - 2                          # event month at position c - 1: the 12 months c-13..c-2
    lo = np.maximum(c[unit] - 13, 0)
    hit = (end >= start) & (hi >= 0) & (start <= hi) & (end >= lo)
    worked[unit[hit]] = True
    return worked


def design(run, pop, *, event: str, by: str = "") -> Design:
    """Monthly cohorts of the event among the population's persons at risk of it (``rd.event_cohorts``).

    Reads only the persons and columns it needs: the population's persons with a union (or a job), their
    covariate columns; prior dependence comes from the employment spells of the persons with the event."""
    import analysis as rd
    from analysis.kit.events import divorce_cohorts, job_end_cohorts, read_columns

    check_choice("event", event, EVENTS)
    meta = run.dataset.meta
    full = (pop.definition.first_year, pop.definition.last_year) == (meta["observation_start"].year,
                                                                     meta["observation_end"].year)
    have = _store_columns(run.store, "persons")
    wanted = [c for c in ("birth_year", "sex", "education", "migration_background", by) if c and c in have]
    if full:  # the event's own builder on the population's persons (the age band selects persons, not months)
        builder = divorce_cohorts if event == "divorce" else job_end_cohorts
        table = "partnerships" if event == "divorce" else "employment_spells"
        ever = read_columns(run.dataset, table, ["person_id"])["person_id"].to_numpy()
        persons = _persons_in(pop, ever, list(dict.fromkeys(wanted)))
        del ever
        ev = builder(run.store, persons=persons)
        persons = persons.set_index("person_id").loc[ev.unit_ids]
    else:  # a shorter period: the kit's cohorts over the population's years, at risk inside the age band
        ev = rd.event_cohorts(pop, event=KIT_EVENT[event], frequency="month")
        persons = pop.persons(ev.unit_ids, columns=["sex"] + ([by] if by else [])).set_index("person_id")
    T, m0 = len(ev.periods), int(ev.periods[0])
    c = ev.cohort.astype(int)
    treated = c > 0
    # economically dependent: no employment in the 12 months before the event
    worked = worked_before(run.store, ev.unit_ids, c, m0, T)
    people = pd.DataFrame({"person_id": ev.unit_ids, "sex": persons["sex"].to_numpy(), "cohort": c,
                           "dependent": np.where(treated, ~worked, None)})
    if by:
        people[by] = persons[by].astype(str).to_numpy()
    return Design(event=event, cohorts=ev, people=people, min_units=run.policy.min_units)


def outcome_matrix(run, dsg: Design, outcome: str) -> np.ndarray:
    """Persons x months of the design, int8 0/1: receiving bijstand (``"bijstand"``) or starting a new spell
    (``"inflow"``). One byte a cell (the estimator takes differences in float64, so the numbers are those
    of a float matrix)."""
    from analysis.kit.events import interval_matrix

    check_choice("outcome", outcome, ("bijstand", "inflow"))
    ev = dsg.cohorts
    m0, T = int(ev.periods[0]), len(ev.periods)
    spells = run.store.read("bijstand_spells", columns=["person_id", "start_month", "end_month"])
    rows = pd.Index(ev.unit_ids).get_indexer(spells["person_id"])
    ok = rows >= 0
    start_m = spells["start_month"].to_numpy()[ok] - m0
    if outcome == "bijstand":
        end_m = spells["end_month"].to_numpy()[ok] - m0
        return interval_matrix(rows[ok], start_m, end_m, len(ev.unit_ids), T).view(np.int8)
    y = np.zeros((len(ev.unit_ids), T), dtype=np.int8)
    inside = (start_m > 0) & (start_m < T)
    y[rows[ok][inside], start_m[inside]] = 1
    return y


@dataclass(frozen=True)
class Options:
    """The estimator's options, as the notebook's parameters give them."""

    covariates: tuple = ("all",)  # "all": every covariate of the design; () none
    control: str = "not_treated_in_window"
    anticipation: int = 3
    base_period: str = "universal"
    seed: int = 0

    @property
    def reference(self) -> float:
        """The base month relative to the event: one month before it, earlier by the anticipation."""
        return -1.0 - self.anticipation


def covariates_for(dsg: Design, opts: Options, keep: np.ndarray) -> tuple[list[str], list[str]]:
    """The covariates usable in the persons ``keep``: the chosen ones minus those constant or collinear there
    (checked at the middle month); returns (kept, dropped)."""
    names = list(dsg.cohorts.covariate_names)
    chosen = names if "all" in opts.covariates else list(opts.covariates)
    unknown = [c for c in chosen if c not in names]
    if unknown:
        raise ParameterError(f"covariates={list(opts.covariates)!r}: {', '.join(unknown)} not in this design's "
                             f"covariates; use 'all', [] or any of: {', '.join(names)}.")
    if not chosen or not keep.any():
        return chosen, []
    x = np.asarray(dsg.cohorts.covariates_at(len(dsg.cohorts.periods) // 2), dtype=float)[keep]
    kept: list[str] = []
    dropped: list[str] = []
    for name in chosen:
        col = x[:, names.index(name)]
        trial = np.column_stack([np.ones(len(col))] + [x[:, names.index(k)] for k in kept] + [col])
        if np.nanstd(col) == 0 or np.linalg.matrix_rank(trial) < trial.shape[1]:
            dropped.append(name)
        else:
            kept.append(name)
    return kept, dropped


def att_gt(dsg: Design, y: np.ndarray, opts: Options, *, event_window, keep: np.ndarray | None = None,
           anticipation: int | None = None, covariates: list[str] | None = None):
    """At-risk Callaway & Sant'Anna on the persons x months matrix (no long frame: at a million persons a
    long panel would hold over 100 million rows): comparison persons at risk of the event in each cohort's
    base month, covariates in the doubly robust estimator, anticipation of the registration lag."""
    from analysis.estimators.did.at_risk import att_gt_at_risk

    ev = dsg.cohorts
    keep = np.ones(len(dsg.people), dtype=bool) if keep is None else keep
    names = list(ev.covariate_names)
    covs = covariates_for(dsg, opts, keep)[0] if covariates is None else covariates
    idx = np.array([names.index(c) for c in covs], dtype=int)
    rows = np.flatnonzero(keep)
    every = len(rows) == len(keep)

    def x_of(b: int) -> np.ndarray:  # the kept rows and columns in one copy
        x = ev.covariates_at(b)
        return x[:, idx] if every else x[np.ix_(rows, idx)]

    return att_gt_at_risk(y if every else y[rows], ev.cohort[rows], ev.at_risk if every else ev.at_risk[rows],
                          covariates=x_of if covs else None,
                          covariate_names=covs, control=opts.control, method="dr",
                          anticipation=opts.anticipation if anticipation is None else anticipation,
                          base_period=opts.base_period, event_window=event_window, seed=opts.seed)


@dataclass(frozen=True)
class EventStudy:
    """The event study per group: (att_gt, dynamic) results, their checked tables, the pre-trend tests."""

    results: dict = field(default_factory=dict)  # group -> (AttGtResult, DynamicResult), without unit data
    checked: dict = field(default_factory=dict)  # group -> CheckedTable
    pretrend: dict = field(default_factory=dict)  # "F"/"M" -> pretrend_test() dict
    reference: float = -4.0


def _without_unit_data(gt, dyn) -> tuple:
    """(gt, dyn) without what holds units x cells data: the group-time result's influence functions (their
    closures keep the group's outcome and at-risk rows and the cohorts' subsamples) and the dynamic
    aggregation's units x terms influence matrix. The study needs neither after the aggregation and the
    pre-trend test; kept for every group they were most of the study's memory."""
    from dataclasses import replace

    light_gt = replace(gt, influence=None, influence_sum=None, influence_batch=None, units_used=None)
    light_dyn = replace(dyn, diagnostics={k: v for k, v in dyn.diagnostics.items() if k != "influence"})
    return light_gt, light_dyn


def _groups(dsg: Design) -> dict:
    people = dsg.people
    treated = people["cohort"] > 0
    return {"F": (people["sex"] == "F").to_numpy(), "M": (people["sex"] == "M").to_numpy(),
            "dependent": ((~treated) | (people["dependent"] == True)).to_numpy(),  # noqa: E712
            "employed": ((~treated) | (people["dependent"] == False)).to_numpy()}  # noqa: E712


def _say_dropped(run, group: str, dropped: list[str]) -> None:
    from analysis.report.labels import t

    if dropped:
        key = "one" if len(dropped) == 1 else "many"
        run.report.markdown(f"*{t(f'intake.covariates_dropped.{key}', run.lang, group=group, covariates=', '.join(dropped))}*")


def event_study(run, dsg: Design, y: np.ndarray, opts: Options, *, horizon_months: int) -> EventStudy:
    """Effect on receiving bijstand by month since the event, by sex and by prior dependence (figure, table,
    ``excess_bijstand_after_<event>_12m_<sex>`` and ``pretrend_p_<event>_<sex>``).

    Each term is published only where it rests on 10 or more treated (and comparison) units, and no
    two persons dominate it (``checked_result`` on the units the estimator reports)."""
    from analysis.errors import PreTrendWarning
    from analysis.report import figures
    from analysis.report.checked import concat
    from analysis.report.disclosure import checked_result
    from analysis.report.labels import t, t_plain

    event, lang, people = dsg.event, run.lang, dsg.people
    withheld = [_withheld_row(f"excess_bijstand_after_{event}_12m_{sex}", "probability difference")
                for sex in ("F", "M")]
    if not dsg.enough():  # a small gemeente, or no such events: withheld, the report says so
        run.report.log.add("event_study", "all", "min_treated")
        run.add(withheld)
        run.report.markdown(f"*{t('intake.event_withheld', lang, min_units=dsg.min_units)}*")
        return EventStudy(reference=opts.reference)
    window = (-PRE_MONTHS, horizon_months)
    results, tests = {}, {}
    for key, keep in _groups(dsg).items():
        group = t_plain(f"intake.group.{key}", lang)
        if not dsg.enough(keep):
            run.report.log.add("event_study", group, "min_treated")
            continue
        covs, dropped = covariates_for(dsg, opts, keep)
        _say_dropped(run, group, [c for c in dropped if not (key in ("F", "M") and c == "female")])
        gt = att_gt(dsg, y, opts, event_window=window, keep=keep, covariates=covs)
        if not np.isfinite(gt.estimates["estimate"].to_numpy()).any():  # every cohort's model left out
            run.report.markdown(f"*{t('intake.group_without_model', lang, group=group)}*")
            continue
        dyn = gt.aggregate("dynamic", min_e=window[0], max_e=window[1])
        if key in ("F", "M") and "e=12" in dyn.estimates.index:
            tests[key] = gt.pretrend_test()
        results[key] = _without_unit_data(gt, dyn)
    if not results:  # no group with enough persons: nothing to draw
        run.add(withheld)
        run.report.markdown(f"*{t('intake.event_withheld', lang, min_units=dsg.min_units)}*")
        return EventStudy(reference=opts.reference)
    checked = {k: checked_result(dyn, name=f"event_study_{k}", terms=[i for i in dyn.estimates.index if i != "ATT"],
                                 **_checked(run)) for k, (gt, dyn) in results.items()}
    panels = [{t_plain(f"intake.group.{k}", lang): checked[k] for k in keys if k in checked}
              for keys in (("F", "M"), ("dependent", "employed"))]
    panels = [p for p in panels if p]
    fig = figures.event_study(panels, ylabel=t_plain("intake.effect_bijstand", lang), name="event_study",
                              xlabel=t_plain("intake.months_since", lang), reference=opts.reference, percent=True,
                              lang=lang)
    run.report.figure(fig, caption=t(f"intake.event_caption.{event}", lang) + ". "
                      + t(f"intake.base_caption.{opts.base_period}", lang, ref=int(opts.reference)))
    rows = []
    for sex in ("F", "M"):
        name = f"excess_bijstand_after_{event}_12m_{sex}"
        if sex not in results or "e=12" not in results[sex][1].estimates.index:
            rows.append(_withheld_row(name, "probability difference"))
            continue
        rows += results[sex][1].to_estimates(terms=["e=12"], names={"e=12": name}, unit="probability difference")
    run.add(rows)
    for sex, test in tests.items():
        run.add([{"name": f"pretrend_p_{event}_{sex}", "estimate": test["p_value"], "se": None,
                  "ci_low": None, "ci_high": None, "n": int((people["sex"] == sex).sum()),
                  "unit": "p-value", "suppressed": False}])
    rejected = [s for s, tst in tests.items() if tst["p_value"] < 0.05]
    if rejected:
        import warnings

        msg = t("intake.pretrend_rejects", lang, groups=", ".join(t_plain(f"intake.group.{s}", lang) for s in rejected))
        warnings.warn(msg, PreTrendWarning, stacklevel=2)
        run.report.warning(msg)
    terms = [tb.where("term", ["e=12", "e=24"]).with_key("group", t(f"intake.group.{k}", lang))
             for k, tb in checked.items()]
    table = concat(terms, name="event_study_effects").select(["group", "term", "n", "estimate", "ci_lower", "ci_upper"])
    table = table.relabel("term", lambda term: term.replace("e=", "")).rename({
        "group": t("intake.group", lang), "term": t("intake.months_since", lang),
        "n": t("intake.treated", lang), "estimate": t("intake.effect_pp", lang),
        "ci_lower": t("intake.ci_low_pp", lang), "ci_upper": t("intake.ci_high_pp", lang)})
    run.report.table(table, caption=t("intake.effect_table_caption", lang),
                     number_formats={t("intake.treated", lang): "int", t("intake.effect_pp", lang): "pp",
                                     t("intake.ci_low_pp", lang): "pp", t("intake.ci_high_pp", lang): "pp"})
    return EventStudy(results=results, checked=checked, pretrend=tests, reference=opts.reference)


def sensitivity(run, effects: EventStudy, opts: Options, *, event: str) -> dict:
    """Honest DiD (relative magnitudes) and pre-test power for the 12-month effect per sex; universal base only."""
    from analysis.report.labels import t, t_plain
    from analysis.studies.designs import sensitivity_analysis

    if opts.base_period != "universal":  # HonestDiD needs pre and post against one base
        run.report.markdown(f"*{t('intake.sensitivity_needs_universal', run.lang)}*")
        return {}
    found = {}
    for sex in ("F", "M"):
        if sex in effects.results:
            found[sex] = sensitivity_analysis(
                run, effects.results[sex][1], name=f"excess_bijstand_after_{event}_12m_{sex}",
                label=t_plain(f"intake.sensitivity_label.{sex}", run.lang), event_time=12,
                reference=effects.reference, width=3, percent=True,
                pretest_p=effects.pretrend[sex]["p_value"] if sex in effects.pretrend else None)
    return found


def effects_by(run, dsg: Design, y: np.ndarray, opts: Options, *, by: str) -> list[dict]:
    """The 12-month effect within each level of ``by``: ``excess_bijstand_after_<event>_12m_<by>_<level>``."""
    rows = []
    if not by:
        return rows
    for level in sorted(dsg.people[by].dropna().unique()):
        keep = (dsg.people[by] == level).to_numpy()
        name = f"excess_bijstand_after_{dsg.event}_12m_{by}_{level}"
        if not dsg.enough(keep):
            run.report.log.add("results.json", name, "min_treated")
            rows += run.add([_withheld_row(name, "probability difference")])
            continue
        covs, dropped = covariates_for(dsg, opts, keep)
        _say_dropped(run, f"{by} = {level}", dropped)
        gt = att_gt(dsg, y, opts, event_window=(12, 12), keep=keep, covariates=covs)
        dyn = gt.aggregate("dynamic", min_e=12, max_e=12)
        if "e=12" not in dyn.estimates.index or not np.isfinite(dyn.estimates.loc["e=12", "estimate"]):
            rows += run.add([{**_withheld_row(name, "probability difference"), "suppressed": False,
                              "note": "not computable: no cohort's model could be fitted"}])
            continue
        rows += run.add(dyn.to_estimates(terms=["e=12"], names={"e=12": name}, unit="probability difference"))
    return rows


def attributable_share(run, dsg: Design, y_inflow: np.ndarray, opts: Options, inflow: pd.DataFrame) -> dict:
    """Share of all inflow (months 13..end) caused by the event within 24 months after it; adds
    ``attributable_share_inflow_<event>_24m`` and returns its row."""
    name = f"attributable_share_inflow_{dsg.event}_24m"
    all_inflow = float(len(inflow))
    if not dsg.enough() or all_inflow < dsg.min_units:
        run.report.log.add("results.json", name, "min_treated")
        (row,) = run.add([_withheld_row(name, "share")])
        return row
    covs, dropped = covariates_for(dsg, opts, np.ones(len(dsg.people), dtype=bool))
    _say_dropped(run, "all", dropped)
    gt = att_gt(dsg, y_inflow, opts, event_window=(0, SHARE_HORIZON), covariates=covs)
    est = gt.estimates
    cohort_size = est.groupby("group")["n"].first()
    counting_start = 13  # panel periods are months 1..T; inflow is counted from the 13th month
    weights = np.where(est["time"].to_numpy() >= counting_start, cohort_size.reindex(est["group"]).to_numpy(), 0.0)
    weights = np.where(est["event_time"].to_numpy() >= 0, weights, 0.0)
    excess, se_excess, _ = gt.linear_combination(weights)
    share, se = excess / all_inflow, se_excess / all_inflow
    (row,) = run.add([{"name": name, "estimate": share, "se": se, "ci_low": share - 1.96 * se,
                       "ci_high": share + 1.96 * se, "n": int((dsg.people["cohort"] > 0).sum()),
                       "unit": "share", "suppressed": False}])
    return row


def methods(run, effects: EventStudy, opts: Options, *, event: str, horizon_months: int) -> None:
    """Design, estimand, assumption and the pre-trend test, in the report's language."""
    from analysis.report.labels import fmt_prob, t

    lang = run.lang
    results = "; ".join(f"{t(f'intake.group.{s}', lang)}: p = {fmt_prob(v['p_value'], lang, 3)}"
                        for s, v in effects.pretrend.items())
    run.report.heading(t("intake.methods_heading", lang))
    run.report.markdown(t(f"intake.methods.{event}", lang, pre=PRE_MONTHS, horizon=horizon_months,
                          tests=results or "-"))
    run.report.markdown(t(f"intake.at_risk.{event}", lang, anticipation=opts.anticipation))


def anticipation_effect(run, dsg: Design, y: np.ndarray, opts: Options) -> dict:
    """The 12-month effect for women with the chosen anticipation and without any: what the default does."""
    from analysis.report.disclosure import checked_result
    from analysis.report.labels import fmt_pp, t

    keep = (dsg.people["sex"] == "F").to_numpy()
    if opts.anticipation == 0 or not dsg.enough() or not dsg.enough(keep):
        return {}
    covs = covariates_for(dsg, opts, keep)[0]
    shown = {}
    for a in (opts.anticipation, 0):
        dyn = att_gt(dsg, y, opts, event_window=(12, 12), keep=keep, anticipation=a, covariates=covs).aggregate(
            "dynamic", min_e=12, max_e=12, bootstrap_iterations=9)
        tb = checked_result(dyn, name=f"anticipation_{a}", terms=["e=12"], **_checked(run))
        shown[a] = None if tb.withheld["estimate"].iloc[0] else float(tb.frame["estimate"].iloc[0])
    if any(v is None for v in shown.values()):
        return {}
    run.report.markdown(t("intake.anticipation_effect", run.lang, anticipation=opts.anticipation,
                          with_=fmt_pp(shown[opts.anticipation], run.lang), without=fmt_pp(shown[0], run.lang)))
    return shown
