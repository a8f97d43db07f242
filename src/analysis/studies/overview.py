"""Study "overview": describe a dataset, and prove the chain end to end.

Population by sex and age, the bijstand stock and share per year and per
municipality, inflow and outflow per year, spell durations (Kaplan-Meier),
partnership ends per year, and health outcomes by bijstand status. Every
table and figure goes through the report's disclosure control.

Definitions (also in the report's methods section):
- working age: 18 up to the state pension age, taken as ages 18..66 on 31 December
  (age = year - birth year);
- bijstand share of a year: persons of working age with a bijstand spell covering
  31 December, over all persons of working age;
- inflow of a year: new bijstand spells starting that year, a new spell being one
  that starts after at least one full calendar month without bijstand (touching
  or overlapping spells merged, in the processed store); spells starting in the
  first month of the observation window are left-censored and not counted;
- spell duration: months from the first to the last month of a merged spell;
  spells still running at the end of the window are censored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.studies.base import StudyContext, setup_study

WORKING_AGE = (18, 66)
AGE_BANDS = [(18, 26), (27, 34), (35, 44), (45, 54), (55, 66)]


def setup(*, dataset: str, municipality: str = "all", lang: str = "nl", output_dir: str = "") -> StudyContext:
    """Validate the parameters (the municipality against the dataset, before any store is built), load and
    check the dataset, build its store."""
    return setup_study("overview", dataset=dataset, lang=lang, output_dir=output_dir,
                       parameters={"municipality": municipality}, title_key="overview.title")


def _persons_filter(ctx: StudyContext, alias: str = "p") -> str:
    code = ctx.parameters.get("municipality", "all")
    if code == "all":
        return "TRUE"
    return f"{alias}.municipality_code = '{code}'"  # validated against the data's own codes


def _years(ctx: StudyContext) -> list[int]:
    start, end = ctx.dataset.meta["observation_start"], ctx.dataset.meta["observation_end"]
    return [y for y in range(start.year, end.year + 1) if pd.Timestamp(y, 12, 31).date() <= end]


def _age_band_sql(col: str, ctx: StudyContext) -> str:
    cases = " ".join(f"WHEN {col} BETWEEN {lo} AND {hi} THEN '{lo}-{hi}'" for lo, hi in AGE_BANDS)
    return f"CASE {cases} ELSE NULL END"


def _checked(ctx: StudyContext):
    return {"policy": ctx.report.policy, "log": ctx.report.log}


def _estimate_row(name: str, value, n, *, unit: str, se=None) -> dict:
    """A results.json row from a checked cell (withheld: value and n are NaN, the row is withheld)."""
    held = value is None or pd.isna(value)
    ci = (None, None) if held or se is None else (float(value - 1.96 * se), float(value + 1.96 * se))
    return {"name": name, "estimate": None if held else float(value), "se": None if held else se,
            "ci_low": ci[0], "ci_high": ci[1], "n": None if held or pd.isna(n) else int(n), "unit": unit,
            "suppressed": bool(held)}


def population(ctx: StudyContext):
    """Persons of working age by sex and age band on 31 December of the last full year."""
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t

    year = _years(ctx)[-1]
    con = ctx.store.connect()
    frame = con.execute(
        f"""SELECT p.sex, {_age_band_sql(f'{year} - p.birth_year', ctx)} AS age_band
            FROM persons p WHERE {_persons_filter(ctx)}"""
    ).df().dropna(subset=["age_band"])
    sexes = {"F": t("women", ctx.lang), "M": t("men", ctx.lang)}
    frame["sex"] = frame["sex"].map(sexes)
    # the total (persons of working age in the last year) is published in the stock table
    table = safe_aggregate(frame, by=["age_band", "sex"], stat="count", name="population", total_published=True,
                           levels={"age_band": [f"{lo}-{hi}" for lo, hi in AGE_BANDS], "sex": list(sexes.values())},
                           **_checked(ctx))
    wide = table.pivot(index="age_band", columns="sex").rename({"age_band": t("age_band", ctx.lang)})
    ctx.report.table(wide, caption=t("overview.population_caption", ctx.lang, year=year),
                     number_formats={c: "int" for c in wide.values})
    return table


def _bijstand_frame(ctx: StudyContext, year: int, *, by_municipality: bool = False) -> pd.DataFrame:
    dec31 = f"DATE '{year}-12-31'"
    return ctx.store.connect().execute(
        f"""SELECT p.municipality_code,
                   CAST(EXISTS (SELECT 1 FROM bijstand_spells s WHERE s.person_id = p.person_id
                         AND s.start_date <= {dec31} AND s.end_date >= {dec31}) AS DOUBLE) AS bijstand
            FROM persons p
            WHERE {year} - p.birth_year BETWEEN {WORKING_AGE[0]} AND {WORKING_AGE[1]}
              AND {_persons_filter(ctx)}"""
    ).df().assign(year=year)


def bijstand_stock(ctx: StudyContext):
    """Bijstand recipients of working age on 31 December and their share, per year."""
    from analysis.report import figures
    from analysis.report.checked import combine
    from analysis.report.disclosure import derived_counts, safe_aggregate
    from analysis.report.labels import t, t_plain

    years = _years(ctx)
    frame = pd.concat([_bijstand_frame(ctx, y) for y in years], ignore_index=True)
    table = safe_aggregate(frame, by=["year"], value="bijstand", stat="share", name="bijstand_share",
                           levels={"year": years}, **_checked(ctx))
    f = table.frame
    for _, r in f.iterrows():
        p, n = r["value"], r["n"]
        se = float(np.sqrt(p * (1 - p) / n)) if pd.notna(p) else None
        ctx.add_estimates([_estimate_row(f"bijstand_share_{int(r['year'])}", p, n, unit="share", se=se)])
    yearly = table.relabel("year", str)
    fig = figures.line_by_group(yearly.with_key("group", t_plain("bijstand", ctx.lang)), x="year", y="value",
                                group="group", ylabel=t_plain("overview.share_working_age", ctx.lang), percent=True,
                                lang=ctx.lang)
    ctx.report.figure(fig, caption=t("overview.stock_caption", ctx.lang))
    recipients = derived_counts(yearly, name="bijstand_recipients", log=ctx.report.log)
    shown = combine([(t("overview.recipients", ctx.lang), recipients, "value"),
                     (t("overview.working_age_persons", ctx.lang), yearly, "n"),
                     (t("share", ctx.lang), yearly, "value")], on=["year"], name="bijstand_stock")
    ctx.report.table(shown.rename({"year": t("year", ctx.lang)}), caption=t("overview.stock_table_caption", ctx.lang),
                     number_formats={t("share", ctx.lang): "pct", t("overview.recipients", ctx.lang): "int",
                                     t("overview.working_age_persons", ctx.lang): "int"})
    return table


def bijstand_by_municipality(ctx: StudyContext):
    """Bijstand share of persons of working age per municipality, 31 December of the last year."""
    from analysis.report import figures
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t, t_plain

    year = _years(ctx)[-1]
    frame = _bijstand_frame(ctx, year)
    # the total over all municipalities is the stock table's last year: withheld cells are protected from it
    table = safe_aggregate(frame, by=["municipality_code"], value="bijstand", stat="share", total_published=True,
                           name="bijstand_share_by_municipality", **_checked(ctx))
    names = ctx.dataset.tables.get("municipalities")
    mapping = dict(zip(names["municipality_code"], names["name"])) if names is not None else {}
    label = t("municipality", ctx.lang)
    table = table.relabel("municipality_code", lambda c: mapping.get(c, c), into="name").sort("value", ascending=False)
    fig = figures.bar(table, x="value", y="name", xlabel=t_plain("overview.share_working_age", ctx.lang),
                      percent=True, lang=ctx.lang)
    ctx.report.figure(fig, caption=t("overview.municipality_caption", ctx.lang, year=year))
    shown = table.rename({"name": label, "municipality_code": t("code", ctx.lang),
                          "n": t("overview.working_age_persons", ctx.lang), "value": t("share", ctx.lang)})
    ctx.report.table(shown, caption=t("overview.municipality_table_caption", ctx.lang, year=year),
                     number_formats={t("share", ctx.lang): "pct", t("overview.working_age_persons", ctx.lang): "int"})
    return table


def inflow_outflow(ctx: StudyContext):
    """New bijstand spells (inflow) and ended spells (outflow) per calendar year."""
    from analysis.report import figures
    from analysis.report.checked import combine, concat
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t, t_plain

    start = ctx.dataset.meta["observation_start"]
    con = ctx.store.connect()
    spells = con.execute(
        f"""SELECT s.person_id, year(s.start_date) AS start_year, s.start_date,
                   CASE WHEN s.censored THEN NULL ELSE year(s.end_date) END AS end_year
            FROM bijstand_spells s JOIN persons p USING (person_id)
            WHERE {_persons_filter(ctx)}"""
    ).df()
    first_month = pd.Timestamp(start.year, start.month, 1)
    inflow = spells[pd.to_datetime(spells["start_date"]) >= first_month + pd.offsets.MonthBegin(1)]
    inflow = inflow.assign(year=inflow["start_year"])
    outflow = spells.dropna(subset=["end_year"]).assign(year=lambda d: d["end_year"].astype(int))
    years = _years(ctx)
    # a year without any inflow (a small gemeente) is a count of 0: withheld as "x", not left out
    # a person may start more than one spell in a year: the rules count persons
    tin = safe_aggregate(inflow[inflow["year"].isin(years)], by=["year"], stat="count", levels={"year": years},
                         unit_id="person_id",
                         name="inflow", **_checked(ctx))
    tout = safe_aggregate(outflow[outflow["year"].isin(years)], by=["year"], stat="count", levels={"year": years},
                          unit_id="person_id",
                          name="outflow", **_checked(ctx))
    for _, r in tin.frame.iterrows():
        ctx.add_estimates([_estimate_row(f"inflow_{int(r['year'])}", r["value"], r["n"], unit="spells")])
    tin, tout = tin.relabel("year", str), tout.relabel("year", str)
    both = concat([tin.with_key("flow", t_plain("inflow", ctx.lang)), tout.with_key("flow", t_plain("outflow", ctx.lang))],
                  name="flows")
    fig = figures.grouped_bars(both, x="year", y="value", group="flow", ylabel=t_plain("overview.spells", ctx.lang),
                               lang=ctx.lang)
    ctx.report.figure(fig, caption=t("overview.flows_caption", ctx.lang))
    shown = combine([(t("inflow", ctx.lang), tin, "value"), (t("outflow", ctx.lang), tout, "value")], on=["year"],
                    name="flows")
    ctx.report.table(shown.rename({"year": t("year", ctx.lang)}), caption=t("overview.flows_table_caption", ctx.lang),
                     number_formats={t("inflow", ctx.lang): "int", t("outflow", ctx.lang): "int"})
    return both


def spell_durations(ctx: StudyContext):
    """Kaplan-Meier curve of bijstand spell durations (months), stopping where fewer than 10 remain at risk,
    and the median duration where it rests on 10 or more on both sides."""
    from analysis.estimators import kaplan_meier
    from analysis.report import figures
    from analysis.report.disclosure import survival_curve, survival_median
    from analysis.report.labels import t, t_plain

    start = ctx.dataset.meta["observation_start"]
    con = ctx.store.connect()
    spells = con.execute(
        f"""SELECT s.end_month - s.start_month + 1 AS months, NOT s.censored AS ended, s.start_date
            FROM bijstand_spells s JOIN persons p USING (person_id) WHERE {_persons_filter(ctx)}"""
    ).df()
    first_month = pd.Timestamp(start.year, start.month, 1) + pd.offsets.MonthBegin(1)
    spells = spells[pd.to_datetime(spells["start_date"]) >= first_month]
    policy = ctx.report.policy
    if len(spells) < policy.min_units:  # a small gemeente: withheld, the rest of the report stands
        ctx.add_estimates([_estimate_row("median_spell_months", None, None, unit="months")])
        ctx.report.log.add("spell_durations", "all", "min_units")
        ctx.report.markdown(f"*{t('overview.km_withheld', ctx.lang, min_units=policy.min_units)}*")
        return None
    spells["ended"] = spells["ended"].astype(int)
    km = kaplan_meier(spells, duration="months", event="ended")
    ctx.add_estimates([survival_median(km, name="median_spell_months", unit="months", **_checked(ctx))])
    curve = survival_curve(km, name="spell_durations", **_checked(ctx))
    fig = figures.survival(curve, xlabel=t_plain("overview.months_since_start", ctx.lang),
                           ylabel=t_plain("overview.still_in_bijstand", ctx.lang), lang=ctx.lang,
                           min_units=policy.min_units)
    ctx.report.figure(fig, caption=t("overview.km_caption", ctx.lang))
    return km


def partnership_ends(ctx: StudyContext):
    """Partnerships ending per year, by reason."""
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t

    con = ctx.store.connect()
    frame = con.execute(
        f"""SELECT year(e.end_date) AS year, e.end_reason
            FROM partnership_ends e JOIN persons p USING (person_id) WHERE {_persons_filter(ctx)}"""
    ).df()
    years = _years(ctx)
    frame = frame[frame["year"].isin(years)]
    frame["end_reason"] = frame["end_reason"].map(lambda r: t(f"end_reason.{r}", ctx.lang))
    reasons = sorted(frame["end_reason"].unique())
    table = safe_aggregate(frame, by=["year", "end_reason"], stat="count", name="partnership_ends",
                           levels={"year": years, "end_reason": reasons} if reasons else None, **_checked(ctx))
    wide = table.relabel("year", str).pivot(index="year", columns="end_reason").rename({"year": t("year", ctx.lang)})
    ctx.report.table(wide, caption=t("overview.partnership_caption", ctx.lang),
                     number_formats={c: "int" for c in wide.values})
    return table


def health_by_status(ctx: StudyContext):
    """Antidepressant use and health-care costs of persons of working age, by bijstand in the year."""
    from analysis.report.checked import combine
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t

    con = ctx.store.connect()
    frame = con.execute(
        f"""SELECT y.person_id, y.year, y.bijstand_months > 0 AS in_bijstand,
                   y.antidepressants::DOUBLE AS antidepressants,
                   y.healthcare_costs_eur
            FROM person_year y JOIN persons p USING (person_id)
            WHERE y.age BETWEEN {WORKING_AGE[0]} AND {WORKING_AGE[1]} AND {_persons_filter(ctx)}
              AND y.healthcare_costs_eur IS NOT NULL"""
    ).df()
    statuses = [t("overview.in_bijstand", ctx.lang), t("overview.not_in_bijstand", ctx.lang)]
    frame["status"] = np.where(frame["in_bijstand"], statuses[0], statuses[1])
    # rows are person-years: the rules count persons, and a person's years are one contributor
    share = safe_aggregate(frame, by=["status"], value="antidepressants", stat="share", levels={"status": statuses},
                           unit_id="person_id", name="antidepressants_by_status", **_checked(ctx))
    costs = safe_aggregate(frame, by=["status"], value="healthcare_costs_eur", stat="mean", levels={"status": statuses},
                           unit_id="person_id", name="costs_by_status", **_checked(ctx))
    shown = combine([(t("overview.person_years", ctx.lang), share, "n"),
                     (t("overview.antidepressants_share", ctx.lang), share, "value"),
                     (t("overview.mean_costs", ctx.lang), costs, "value")], on=["status"], name="health_by_status")
    shown = shown.rename({"status": t("overview.status", ctx.lang)})
    ctx.report.table(shown, caption=t("overview.health_caption", ctx.lang),
                     number_formats={t("overview.person_years", ctx.lang): "int",
                                     t("overview.antidepressants_share", ctx.lang): "pct",
                                     t("overview.mean_costs", ctx.lang): "eur"})
    return shown


def summary(ctx: StudyContext) -> None:
    """Key numbers in one paragraph, built from the results (shown at the top of the report)."""
    from analysis.report.labels import fmt_number, fmt_pct, t

    years = _years(ctx)
    last = years[-1]
    share = ctx.estimate(f"bijstand_share_{last}")
    first_share = ctx.estimate(f"bijstand_share_{years[0]}")
    inflow = ctx.estimate(f"inflow_{last}")
    med = ctx.estimate("median_spell_months")

    def pct(row):
        return t("suppressed_short", ctx.lang) if row["suppressed"] or row["estimate"] is None else fmt_pct(row["estimate"], ctx.lang)

    def num(row, digits=0):
        return t("suppressed_short", ctx.lang) if row["suppressed"] or row["estimate"] is None else fmt_number(row["estimate"], ctx.lang, digits=digits)

    ctx.report.markdown(t(
        "overview.summary", ctx.lang,
        dataset=ctx.dataset.meta.get("name"), year=last, first_year=years[0],
        share=pct(share), first_share=pct(first_share), inflow=num(inflow), median=num(med),
        scope=(t("overview.scope_all", ctx.lang) if ctx.parameters.get("municipality", "all") == "all"
               else t("overview.scope_one", ctx.lang, code=ctx.parameters["municipality"])),
    ))
    ctx.report.say_withheld()
