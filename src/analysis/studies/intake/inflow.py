"""Intake, descriptive part: the run, the studied months, inflow and what preceded it, the summary."""

from __future__ import annotations

from dataclasses import dataclass

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
