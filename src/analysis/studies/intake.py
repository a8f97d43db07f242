"""Study "intake": why people enter bijstand, and how much of the inflow divorce causes.

The notebook notebooks/10_intake.py composes these plain functions; each takes the
run (:class:`analysis.kit.run.Run`), the population and the objects the previous
cells returned, and returns a (frozen) object the next cell receives. No estimator
code lives here.

- Inflow: new merged bijstand spells (a new spell starts after at least one full
  calendar month without bijstand) of the population's persons, counted from the
  13th month of the studied period (``first_year``..``last_year`` inside the data's
  window) so that a full year before every inflow is observed.
- What precedes inflow: events in the inflow month or the ``window_months`` before:
  a partnership ending in divorce or separation, the end of employment (job loss),
  the end of another benefit (ww, wia, other). Non-exclusive shares, and an
  exclusive decomposition in that order of priority.
- The causal effect of the event: Callaway & Sant'Anna on the persons x months matrix
  of the population's persons exposed to the event (``rd.event_cohorts``: partnered
  for divorce, employed for job loss, inside the age band); cohort = month of their
  first event; comparison persons at risk of it in the cohort's base month. Outcome:
  receiving bijstand in the month. Event time -24..``horizon_months``, by sex and by
  economic dependence before the event (no employment in the 12 months before).
- Inflow caused: the same design on the monthly inflow indicator. The excess inflow
  among treated persons in months 0..24 after the event (cohort size x ATT(g,t),
  summed over the cells inside the counting period), divided by all inflow in the
  counting period, is the share of inflow the event causes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, check_choice

EVENTS = ("divorce", "job_loss")
#: the kit's name of each event (rd.event_cohorts)
KIT_EVENT = {"divorce": "divorce", "job_loss": "job_end"}
SHARE_HORIZON = 24
PRE_MONTHS = 24
BASE_PERIODS = ("universal", "varying")


def setup(*, dataset: str, lang: str = "nl", output_dir: str = "", **parameters):
    """Open a run of the intake study (``rd.start``) after checking the study's own options; returns the Run."""
    import analysis as rd

    event = parameters.get("event", "divorce")
    check_choice("event", event, EVENTS)
    check_choice("base_period", parameters.get("base_period", "universal"), BASE_PERIODS)
    anticipation = parameters.get("anticipation", 3)
    if isinstance(anticipation, bool) or not isinstance(anticipation, int) or not 0 <= anticipation <= 12:
        raise ParameterError(f"anticipation={anticipation!r} must be a whole number of months from 0 to 12 "
                             "(how long before the registered event its effect can start).")
    if not 1 <= parameters.get("window_months", 12) <= 36:
        raise ParameterError(f"window_months={parameters['window_months']} must lie between 1 and 36.")
    if not 12 <= parameters.get("horizon_months", 36) <= 60:
        raise ParameterError(f"horizon_months={parameters['horizon_months']} must lie between 12 and 60.")
    # the municipality is checked against the dataset inside rd.start, before any store is built
    return rd.start("intake", title_key=f"intake.title.{event}",
                    parameters=dict(dataset=dataset, lang=lang, output_dir=output_dir, **parameters))


@dataclass(frozen=True)
class Window:
    """The studied months (month index = year * 12 + month - 1) inside the data's window."""

    m0: int
    m1: int

    @property
    def years(self) -> list[int]:
        """The calendar years in which inflow is counted (from the 13th month on)."""
        return list(range((self.m0 + 12) // 12, self.m1 // 12 + 1))


def window(run, pop) -> Window:
    """The months of ``pop``'s years that lie in the data."""
    meta = run.dataset.meta
    start, end = meta["observation_start"], meta["observation_end"]
    m0 = max(start.year * 12 + start.month - 1, pop.definition.first_year * 12)
    m1 = min(end.year * 12 + end.month - 1, pop.definition.last_year * 12 + 11)
    if m1 - m0 < 12:
        raise ParameterError(f"first_year={pop.definition.first_year}, last_year={pop.definition.last_year}: intake "
                             "needs more than a year of data (inflow is counted after a full year); give a longer period.")
    return Window(m0=m0, m1=m1)


def _checked(run) -> dict:
    return {"policy": run.policy, "log": run.report.log}


def _withheld_row(name: str, unit: str) -> dict:
    return {"name": name, "estimate": None, "se": None, "ci_low": None, "ci_high": None, "n": None, "unit": unit,
            "suppressed": True}


def inflow_events(pop, win: Window, *, window_months: int) -> pd.DataFrame:
    """One row per inflow of the population from the 13th month on, with the events that preceded it."""
    w = window_months
    con = pop.connect()
    frame = con.execute(f"""
        WITH inflow AS (
            SELECT s.person_id, s.start_month AS month, p.sex, p.birth_year, p.municipality_code
            FROM bijstand_spells s JOIN population_persons p USING (person_id)
            WHERE s.start_month >= {win.m0 + 12} AND s.start_month <= {win.m1}
              AND s.start_month // 12 - p.birth_year BETWEEN {pop.definition.age_min} AND {pop.definition.age_max}),
        sep AS (SELECT person_id, month FROM partnership_ends WHERE end_reason IN ('divorce', 'separation')),
        job AS (SELECT person_id, month FROM employment_ends),
        ben AS (SELECT person_id, month FROM benefit_ends)
        SELECT i.*, i.month // 12 AS year,
               EXISTS (SELECT 1 FROM sep e WHERE e.person_id = i.person_id AND e.month BETWEEN i.month - {w} AND i.month) AS divorce,
               EXISTS (SELECT 1 FROM job e WHERE e.person_id = i.person_id AND e.month BETWEEN i.month - {w} AND i.month) AS job_loss,
               EXISTS (SELECT 1 FROM ben e WHERE e.person_id = i.person_id AND e.month BETWEEN i.month - {w} AND i.month) AS benefit_end
        FROM inflow i""").df()
    frame["age"] = frame["year"] - frame["birth_year"]
    frame["first_event"] = np.select([frame["divorce"], frame["job_loss"], frame["benefit_end"]],
                                     ["divorce", "job_loss", "benefit_end"], "none")
    return frame


def inflow_trend(run, pop, win: Window, inflow: pd.DataFrame):
    """Inflow per year per 1,000 persons of the population inside the age band, by sex (figure and table)."""
    from analysis.report import figures
    from analysis.report.disclosure import safe_aggregate, safe_ratio
    from analysis.report.labels import t, t_plain

    lang, d = run.lang, pop.definition
    band = {"low": d.age_min, "high": d.age_max}
    con = pop.connect()
    people = con.execute(f"""SELECT y.year, p.sex, count(*) AS persons FROM person_year y
                             JOIN population_persons p USING (person_id)
                             WHERE y.age BETWEEN {d.age_min} AND {d.age_max} GROUP BY ALL""").df()
    levels = {"year": win.years, "sex": [s for s in ("F", "M") if d.sex in ("all", s)]}
    counts = safe_aggregate(inflow, by=["year", "sex"], stat="count", levels=levels, name="inflow_by_year_sex",
                            unit_id="person_id", **_checked(run))
    persons = safe_aggregate(people, by=["year", "sex"], stat="count", units="persons", levels=levels,
                             name="persons_by_year_sex", **_checked(run))
    rate = safe_ratio(counts, persons, scale=1000.0, name="inflow_per_1000", **_checked(run))
    sexes = {"F": t_plain("women", lang), "M": t_plain("men", lang)}
    rate = rate.relabel("sex", sexes).relabel("year", str)
    fig = figures.line_by_group(rate, x="year", y="value", group="sex", ylabel=t_plain("intake.per_1000_band", lang, **band),
                                lang=lang)
    run.report.figure(fig, caption=t("intake.trend_caption_band", lang, **band))
    wide = rate.pivot(index="year", columns="sex").rename({"year": t("year", lang)})
    run.report.table(wide, caption=t("intake.trend_table_caption_band", lang, **band),
                     number_formats={c: "num2" for c in wide.values})
    return rate


def decomposition(run, win: Window, inflow: pd.DataFrame, *, window_months: int, event: str) -> dict:
    """What preceded inflow: shares per year (exclusive, in order of priority), by sex and per municipality;
    adds ``share_inflow_after_<event>`` and returns its row."""
    from analysis.report import figures
    from analysis.report.checked import combine
    from analysis.report.disclosure import safe_aggregate, shares_within
    from analysis.report.labels import t, t_plain

    lang, w, ev = run.lang, window_months, event
    order = ["divorce", "job_loss", "benefit_end", "none"]
    counts = safe_aggregate(inflow, by=["year", "first_event"], stat="count", name="inflow_by_preceding_event",
                            unit_id="person_id", levels={"year": win.years, "first_event": order}, **_checked(run))
    shares = shares_within(counts, within=["year"], name="share_by_preceding_event", **_checked(run))
    shares = shares.relabel("first_event", {e: t_plain(f"intake.event.{e}", lang) for e in order})
    fig = figures.grouped_bars(shares.relabel("year", str), x="year", y="value", group="first_event", percent=True,
                               ylabel=t_plain("intake.share_of_inflow", lang), lang=lang)
    run.report.figure(fig, caption=t("intake.decomposition_caption", lang, w=w))
    # by sex: non-exclusive shares; the total (all inflow) is published, so the two rows protect each other
    inflow = inflow.assign(none=(inflow["first_event"] == "none"))
    sexes = sorted(inflow["sex"].dropna().unique()) or ["F", "M"]
    parts = []
    for i, e in enumerate(order):
        share = safe_aggregate(inflow.assign(v=inflow[e].astype(float)), by=["sex"], value="v", stat="share",
                               unit_id="person_id", levels={"sex": [s for s in ("F", "M") if s in sexes]},
                               total_published=True, name=f"share_after_{e}_by_sex", **_checked(run))
        if i == 0:
            parts.append((t("intake.inflows", lang), share, "n"))
        parts.append((t(f"intake.event.{e}", lang), share, "value"))
    by_sex = combine(parts, on=["sex"], name="inflow_by_sex")
    by_sex = by_sex.relabel("sex", {"F": t("women", lang), "M": t("men", lang)}).rename({"sex": t("intake.group", lang)})
    run.report.table(by_sex, caption=t("intake.decomposition_table_caption", lang, w=w),
                     number_formats={c: ("int" if c == t("intake.inflows", lang) else "pct") for c in by_sex.values})
    # per municipality: the share over all municipalities is published (the estimate below)
    muni = safe_aggregate(inflow.assign(ev=inflow[ev].astype(float)), by=["municipality_code"], value="ev",
                          unit_id="person_id", stat="share", total_published=True,
                          name="share_after_event_by_municipality", **_checked(run))
    names = run.dataset.tables.get("municipalities")
    mapping = dict(zip(names["municipality_code"], names["name"])) if names is not None else {}
    muni = muni.relabel("municipality_code", lambda c: mapping.get(c, c))
    shown = muni.rename({"municipality_code": t("municipality", lang), "n": t("intake.inflows", lang),
                         "value": t(f"intake.share_after.{ev}", lang)})
    run.report.table(shown, caption=t("intake.municipality_caption", lang, w=w),
                     number_formats={t("intake.inflows", lang): "int", t(f"intake.share_after.{ev}", lang): "pct"})
    n = len(inflow)
    p = float(inflow[ev].mean()) if n else None
    se = float(np.sqrt(p * (1 - p) / n)) if n else None
    (row,) = run.add([{"name": f"share_inflow_after_{ev}", "estimate": p, "se": se,
                       "ci_low": p - 1.96 * se if se is not None else None,
                       "ci_high": p + 1.96 * se if se is not None else None,
                       "n": n, "unit": "share", "suppressed": False}])
    return row


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


def design(run, pop, *, event: str, by: str = "") -> Design:
    """Monthly cohorts of the event among the population's persons at risk of it (``rd.event_cohorts``)."""
    import analysis as rd
    from analysis.kit.events import employment_matrix

    check_choice("event", event, EVENTS)
    ev = rd.event_cohorts(pop, event=KIT_EVENT[event], frequency="month")
    T, m0 = len(ev.periods), int(ev.periods[0])
    emp = employment_matrix(run.store, ev.unit_ids, m0, T)
    c = ev.cohort.astype(int)
    treated = c > 0
    # economically dependent: no employment in the 12 months before the event
    worked = np.zeros(len(c), dtype=bool)
    for lag in range(1, 13):
        pos = np.clip(c - 1 - lag, 0, T - 1)
        worked |= treated & (c - 1 - lag >= 0) & emp[np.arange(len(c)), pos]
    persons = pop.persons().set_index("person_id").loc[ev.unit_ids]
    people = pd.DataFrame({"person_id": ev.unit_ids, "sex": persons["sex"].to_numpy(), "cohort": c,
                           "dependent": np.where(treated, ~worked, None)})
    if by:
        people[by] = persons[by].astype(str).to_numpy()
    return Design(event=event, cohorts=ev, people=people, min_units=run.policy.min_units)


def outcome_matrix(run, dsg: Design, outcome: str) -> np.ndarray:
    """Persons x months of the design: receiving bijstand (``"bijstand"``) or starting a new spell (``"inflow"``)."""
    from analysis.kit.events import interval_matrix

    check_choice("outcome", outcome, ("bijstand", "inflow"))
    ev = dsg.cohorts
    m0, T = int(ev.periods[0]), len(ev.periods)
    spells = run.store.read("bijstand_spells")
    rows = pd.Index(ev.unit_ids).get_indexer(spells["person_id"])
    ok = rows >= 0
    start_m = spells["start_month"].to_numpy()[ok] - m0
    if outcome == "bijstand":
        end_m = spells["end_month"].to_numpy()[ok] - m0
        return interval_matrix(rows[ok], start_m, end_m, len(ev.unit_ids), T).astype(np.float32)
    y = np.zeros((len(ev.unit_ids), T), dtype=np.float32)  # 0/1: exact in float32, half the memory
    inside = (start_m > 0) & (start_m < T)
    y[rows[ok][inside], start_m[inside]] = 1.0
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
    idx = [names.index(c) for c in covs]
    return att_gt_at_risk(y[keep], ev.cohort[keep], ev.at_risk[keep],
                          covariates=(lambda b: ev.covariates_at(b)[keep][:, idx]) if covs else None,
                          covariate_names=covs, control=opts.control, method="dr",
                          anticipation=opts.anticipation if anticipation is None else anticipation,
                          base_period=opts.base_period, event_window=event_window, seed=opts.seed)


@dataclass(frozen=True)
class EventStudy:
    """The event study per group: (att_gt, dynamic) results, their checked tables, the pre-trend tests."""

    results: dict = field(default_factory=dict)  # group -> (AttGtResult, DynamicResult)
    checked: dict = field(default_factory=dict)  # group -> CheckedTable
    pretrend: dict = field(default_factory=dict)  # "F"/"M" -> pretrend_test() dict
    reference: float = -4.0


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
    results = {}
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
        results[key] = (gt, gt.aggregate("dynamic", min_e=window[0], max_e=window[1]))
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
    rows, tests = [], {}
    for sex in ("F", "M"):
        name = f"excess_bijstand_after_{event}_12m_{sex}"
        if sex not in results or "e=12" not in results[sex][1].estimates.index:
            rows.append(_withheld_row(name, "probability difference"))
            continue
        gt, dyn = results[sex]
        rows += dyn.to_estimates(terms=["e=12"], names={"e=12": name}, unit="probability difference")
        tests[sex] = gt.pretrend_test()
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
                run.context, effects.results[sex][1], name=f"excess_bijstand_after_{event}_12m_{sex}",
                label=t_plain(f"intake.sensitivity_label.{sex}", run.lang), event_time=12,
                reference=effects.reference, width=3, percent=True,
                pretest_p=effects.pretrend[sex]["p_value"] if sex in effects.pretrend else None)
    return found


def effects_by(run, dsg: Design, y: np.ndarray, opts: Options, *, by: str) -> list[dict]:
    """The 12-month effect within each level of ``by``: ``excess_bijstand_after_<event>_12m_<by>_<level>``."""
    from analysis.report.disclosure import checked_result  # noqa: F401  (rows are checked by run.add)

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


def summary(run, *, event: str, window_months: int) -> str:
    """The plain-language summary from the results rows: descriptive versus causal share, the effect by sex."""
    from analysis.report.labels import fmt_pct, fmt_pp, t

    lang = run.lang
    desc = run.estimate(f"share_inflow_after_{event}")
    caused = run.estimate(f"attributable_share_inflow_{event}_24m")

    def pct(row):
        return t("suppressed_short", lang) if row["suppressed"] else fmt_pct(row["estimate"], lang)

    def bound(row, key):
        return "x" if row["suppressed"] or row[key] is None else fmt_pct(row[key], lang)

    def pp(name):
        try:
            row = run.estimate(name)
        except KeyError:
            return t("suppressed_short", lang)
        return t("suppressed_short", lang) if row["suppressed"] else fmt_pp(row["estimate"], lang)

    return t(f"intake.summary.{event}", lang, w=window_months, desc=pct(desc), caused=pct(caused),
             lo=bound(caused, "ci_low"), hi=bound(caused, "ci_high"),
             f=pp(f"excess_bijstand_after_{event}_12m_F"), m=pp(f"excess_bijstand_after_{event}_12m_M"))


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
