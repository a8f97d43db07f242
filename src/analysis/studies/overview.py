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

from analysis.errors import ParameterError
from analysis.studies.base import StudyContext, setup_study

WORKING_AGE = (18, 66)
AGE_BANDS = [(18, 26), (27, 34), (35, 44), (45, 54), (55, 66)]


def setup(*, dataset: str, municipality: str = "all", lang: str = "nl", output_dir: str = "") -> StudyContext:
    """Validate the parameters, load and check the dataset, build its store."""
    ctx = setup_study("overview", dataset=dataset, lang=lang, output_dir=output_dir,
                      parameters={"municipality": municipality}, title_key="overview.title")
    _check_municipality(ctx, municipality)
    return ctx


def _check_municipality(ctx: StudyContext, municipality: str) -> None:
    if municipality == "all":
        return
    codes = sorted(ctx.store.read("persons", columns=["municipality_code"])["municipality_code"].unique())
    if municipality not in codes:
        shown = ", ".join(codes[:12]) + (" ..." if len(codes) > 12 else "")
        raise ParameterError(
            f"municipality={municipality!r} does not occur in this dataset; use 'all' or one of: {shown}."
        )


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


def population(ctx: StudyContext) -> pd.DataFrame:
    """Persons of working age by sex and age band on 31 December of the last full year."""
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t

    year = _years(ctx)[-1]
    con = ctx.store.connect()
    frame = con.execute(
        f"""SELECT p.sex, {_age_band_sql(f'{year} - p.birth_year', ctx)} AS age_band
            FROM persons p WHERE {_persons_filter(ctx)}"""
    ).df().dropna(subset=["age_band"])
    frame["sex"] = frame["sex"].map({"F": t("women", ctx.lang), "M": t("men", ctx.lang)})
    table = safe_aggregate(frame, by=["age_band", "sex"], stat="count", policy=ctx.report.policy,
                           log=ctx.report.log, name="population")
    wide = table.pivot(index="age_band", columns="sex", values="value")
    wide.index.name = t("age_band", ctx.lang)
    ctx.report.table(wide.reset_index(), caption=t("overview.population_caption", ctx.lang, year=year))
    return table


def bijstand_stock(ctx: StudyContext) -> pd.DataFrame:
    """Bijstand recipients of working age on 31 December and their share, per year."""
    from analysis.report import figures
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t

    con = ctx.store.connect()
    rows = []
    for year in _years(ctx):
        dec31 = f"DATE '{year}-12-31'"
        part = con.execute(
            f"""SELECT p.person_id,
                       EXISTS (SELECT 1 FROM bijstand_spells s WHERE s.person_id = p.person_id
                               AND s.start_date <= {dec31} AND s.end_date >= {dec31}) AS bijstand
                FROM persons p
                WHERE {year} - p.birth_year BETWEEN {WORKING_AGE[0]} AND {WORKING_AGE[1]}
                  AND {_persons_filter(ctx)}"""
        ).df()
        part["year"] = year
        rows.append(part[["year", "bijstand"]])
    frame = pd.concat(rows, ignore_index=True)
    frame["bijstand"] = frame["bijstand"].astype(float)
    table = safe_aggregate(frame, by=["year"], value="bijstand", stat="share", policy=ctx.report.policy,
                           log=ctx.report.log, name="bijstand_share")
    counts = frame.groupby("year")["bijstand"].agg(["sum", "size"]).reset_index()
    for _, r in table.iterrows():
        p, n = r["value"], int(r["n"])
        se = float(np.sqrt(p * (1 - p) / n)) if pd.notna(p) and n > 0 else None
        ctx.add_estimates([{
            "name": f"bijstand_share_{int(r['year'])}",
            "estimate": None if pd.isna(p) else float(p), "se": se,
            "ci_low": None if se is None else float(p - 1.96 * se),
            "ci_high": None if se is None else float(p + 1.96 * se),
            "n": n, "unit": "share", "suppressed": bool(r["suppressed"]),
        }])
    fig = figures.line_by_group(table.assign(group=t("bijstand", ctx.lang)), x="year", y="value", group="group",
                                ylabel=t("overview.share_working_age", ctx.lang), percent=True)
    ctx.report.figure(fig, caption=t("overview.stock_caption", ctx.lang))
    shown = table.merge(counts.rename(columns={"sum": "recipients"}), on="year")
    shown = pd.DataFrame({
        t("year", ctx.lang): shown["year"].astype(str),
        t("overview.recipients", ctx.lang): np.where(shown["suppressed"], np.nan, shown["recipients"]),
        t("overview.working_age_persons", ctx.lang): shown["n"],
        t("share", ctx.lang): shown["value"],
    })
    ctx.report.table(shown, caption=t("overview.stock_table_caption", ctx.lang),
                     counts=t("overview.working_age_persons", ctx.lang),
                     number_formats={t("share", ctx.lang): "pct"})
    return table


def bijstand_by_municipality(ctx: StudyContext) -> pd.DataFrame:
    """Bijstand share of persons of working age per municipality, 31 December of the last year."""
    from analysis.report import figures
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t

    year = _years(ctx)[-1]
    dec31 = f"DATE '{year}-12-31'"
    con = ctx.store.connect()
    frame = con.execute(
        f"""SELECT p.municipality_code,
                   CAST(EXISTS (SELECT 1 FROM bijstand_spells s WHERE s.person_id = p.person_id
                         AND s.start_date <= {dec31} AND s.end_date >= {dec31}) AS DOUBLE) AS bijstand
            FROM persons p
            WHERE {year} - p.birth_year BETWEEN {WORKING_AGE[0]} AND {WORKING_AGE[1]}
              AND {_persons_filter(ctx)}"""
    ).df()
    names = ctx.dataset.tables.get("municipalities")
    table = safe_aggregate(frame, by=["municipality_code"], value="bijstand", stat="share",
                           policy=ctx.report.policy, log=ctx.report.log, name="bijstand_share_by_municipality")
    if names is not None:
        table = table.merge(names[["municipality_code", "name"]], on="municipality_code", how="left")
    else:
        table["name"] = table["municipality_code"]
    table = table.sort_values("value", ascending=False, na_position="last")
    label = t("municipality", ctx.lang)
    fig = figures.bar(table.assign(label=table["name"].fillna(table["municipality_code"])),
                      x="value", y="label", xlabel=t("overview.share_working_age", ctx.lang), percent=True)
    ctx.report.figure(fig, caption=t("overview.municipality_caption", ctx.lang, year=year))
    shown = pd.DataFrame({
        label: table["name"].fillna(table["municipality_code"]),
        t("code", ctx.lang): table["municipality_code"],
        t("overview.working_age_persons", ctx.lang): table["n"],
        t("share", ctx.lang): table["value"],
    })
    ctx.report.table(shown, caption=t("overview.municipality_table_caption", ctx.lang, year=year),
                     counts=t("overview.working_age_persons", ctx.lang),
                     number_formats={t("share", ctx.lang): "pct"})
    return table


def inflow_outflow(ctx: StudyContext) -> pd.DataFrame:
    """New bijstand spells (inflow) and ended spells (outflow) per calendar year."""
    from analysis.report import figures
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t

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
    tin = safe_aggregate(inflow[inflow["year"].isin(years)], by=["year"], stat="count",
                         policy=ctx.report.policy, log=ctx.report.log, name="inflow")
    tout = safe_aggregate(outflow[outflow["year"].isin(years)], by=["year"], stat="count",
                          policy=ctx.report.policy, log=ctx.report.log, name="outflow")
    counted = {int(r["year"]): r for _, r in tin.iterrows()}
    for year in years:  # a year without any inflow (a small gemeente) is a count of 0: withheld by the rule
        r = counted.get(year)
        ctx.add_estimates([{
            "name": f"inflow_{year}", "estimate": None if r is None or pd.isna(r["value"]) else float(r["value"]),
            "se": None, "ci_low": None, "ci_high": None, "n": 0 if r is None else int(r["n"]), "unit": "spells",
            "suppressed": False if r is None else bool(r["suppressed"]),
        }])
    both = pd.concat([tin.assign(flow=t("inflow", ctx.lang)), tout.assign(flow=t("outflow", ctx.lang))])
    fig = figures.grouped_bars(both, x="year", y="value", group="flow", ylabel=t("overview.spells", ctx.lang))
    ctx.report.figure(fig, caption=t("overview.flows_caption", ctx.lang))
    shown = tin[["year", "value"]].rename(columns={"value": "in"}).merge(
        tout[["year", "value"]].rename(columns={"value": "out"}), on="year", how="outer")
    shown = pd.DataFrame({t("year", ctx.lang): shown["year"].astype(str),
                          t("inflow", ctx.lang): shown["in"], t("outflow", ctx.lang): shown["out"]})
    ctx.report.table(shown, caption=t("overview.flows_table_caption", ctx.lang),
                     number_formats={t("inflow", ctx.lang): "int", t("outflow", ctx.lang): "int"})
    return both


def spell_durations(ctx: StudyContext):
    """Kaplan-Meier curve of bijstand spell durations (months) and the median duration."""
    from analysis.estimators import kaplan_meier
    from analysis.report.labels import t

    start = ctx.dataset.meta["observation_start"]
    con = ctx.store.connect()
    spells = con.execute(
        f"""SELECT s.end_month - s.start_month + 1 AS months, NOT s.censored AS ended, s.start_date
            FROM bijstand_spells s JOIN persons p USING (person_id) WHERE {_persons_filter(ctx)}"""
    ).df()
    first_month = pd.Timestamp(start.year, start.month, 1) + pd.offsets.MonthBegin(1)
    spells = spells[pd.to_datetime(spells["start_date"]) >= first_month]
    if len(spells) < ctx.report.policy.min_units:  # a small gemeente: withheld, the rest of the report stands
        ctx.add_estimates([{"name": "median_spell_months", "estimate": None, "se": None, "ci_low": None,
                            "ci_high": None, "n": int(len(spells)), "unit": "months", "suppressed": False}])  # withheld by the rule
        ctx.report.log.add(t("overview.km_caption", ctx.lang), "all", "min_units", int(len(spells)))
        ctx.report.markdown(f"*{t('suppressed_note', ctx.lang, min_units=ctx.report.policy.min_units)}*")
        return None
    spells["ended"] = spells["ended"].astype(int)
    km = kaplan_meier(spells, duration="months", event="ended")
    med = km.median
    ctx.add_estimates([{
        "name": "median_spell_months", "estimate": _num(med.get("estimate")), "se": None,
        "ci_low": _num(med.get("ci_lower")), "ci_high": _num(med.get("ci_upper")),
        "n": int(len(spells)), "unit": "months", "suppressed": False,
    }])
    fig = km.plot()
    fig = fig.figure if hasattr(fig, "figure") else fig
    ax = fig.axes[0]
    ax.set_xlabel(t("overview.months_since_start", ctx.lang))
    ax.set_ylabel(t("overview.still_in_bijstand", ctx.lang))
    ctx.report.figure(fig, caption=t("overview.km_caption", ctx.lang), counts=len(spells))
    return km


def _num(x):
    return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else float(x)


def partnership_ends(ctx: StudyContext) -> pd.DataFrame:
    """Partnerships ending per year, by reason."""
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t

    con = ctx.store.connect()
    frame = con.execute(
        f"""SELECT year(e.end_date) AS year, e.end_reason
            FROM partnership_ends e JOIN persons p USING (person_id) WHERE {_persons_filter(ctx)}"""
    ).df()
    frame = frame[frame["year"].isin(_years(ctx))]
    frame["end_reason"] = frame["end_reason"].map(lambda r: t(f"end_reason.{r}", ctx.lang))
    table = safe_aggregate(frame, by=["year", "end_reason"], stat="count", policy=ctx.report.policy,
                           log=ctx.report.log, name="partnership_ends")
    wide = table.pivot(index="year", columns="end_reason", values="value").reset_index()
    wide["year"] = wide["year"].astype(str)
    wide = wide.rename(columns={"year": t("year", ctx.lang)})
    ctx.report.table(wide, caption=t("overview.partnership_caption", ctx.lang),
                     number_formats={c: "int" for c in wide.columns[1:]})
    return table


def health_by_status(ctx: StudyContext) -> pd.DataFrame:
    """Antidepressant use and health-care costs of persons of working age, by bijstand in the year."""
    from analysis.report.disclosure import safe_aggregate
    from analysis.report.labels import t

    con = ctx.store.connect()
    frame = con.execute(
        f"""SELECT y.year, y.bijstand_months > 0 AS in_bijstand, y.antidepressants::DOUBLE AS antidepressants,
                   y.healthcare_costs_eur
            FROM person_year y JOIN persons p USING (person_id)
            WHERE y.age BETWEEN {WORKING_AGE[0]} AND {WORKING_AGE[1]} AND {_persons_filter(ctx)}
              AND y.healthcare_costs_eur IS NOT NULL"""
    ).df()
    frame["status"] = np.where(frame["in_bijstand"], t("overview.in_bijstand", ctx.lang),
                               t("overview.not_in_bijstand", ctx.lang))
    share = safe_aggregate(frame, by=["status"], value="antidepressants", stat="share",
                           policy=ctx.report.policy, log=ctx.report.log, name="antidepressants_by_status")
    costs = safe_aggregate(frame, by=["status"], value="healthcare_costs_eur", stat="mean",
                           policy=ctx.report.policy, log=ctx.report.log, name="costs_by_status")
    shown = pd.DataFrame({
        t("overview.status", ctx.lang): share["status"],
        t("overview.person_years", ctx.lang): share["n"],
        t("overview.antidepressants_share", ctx.lang): share["value"],
        t("overview.mean_costs", ctx.lang): costs.set_index("status").loc[share["status"], "value"].to_numpy(),
    })
    ctx.report.table(shown, caption=t("overview.health_caption", ctx.lang),
                     counts=t("overview.person_years", ctx.lang),
                     number_formats={t("overview.antidepressants_share", ctx.lang): "pct",
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
