"""Study "benchmark": one municipality against its peers on real CBS StatLine figures.

For a chosen municipality, year and age class: bijstand density, inflow and
outflow, outflow to work, re-integration provisions and work after
re-integration, against all municipalities and a peer group of similar size
(CBS size classes), a funnel plot per indicator, the trend 2015-2017 and the
national monthly bijstand series since 1998 for context.

Definitions. ``bijstand_density`` is CBS's published density (recipients per
1,000 inhabitants). ``inflow_rate``, ``outflow_rate`` and
``outflow_to_work_rate`` are CBS's published percentages (as shares), whose
denominator CBS defines; the funnel plots use rates with explicit
denominators instead (recipients per inhabitant; inflow per inhabitant;
outflow and outflow to work per recipient), so that control limits follow
from a binomial closed form. Indicators whose definitions differ between
years (work after re-integration is not published for 2017) are compared only
where they exist, and a municipality whose code does not continue (a merger)
is flagged where its series breaks.

Disclosure. The figures are CBS's own publications (StatLine), already under
CBS's disclosure control (counts rounded to tens, "." where CBS withholds); the
study republishes them and adds only rankings and medians over municipalities.
Where CBS published nothing for the municipality, age class and year (a small
municipality's pension-age class has no recipients), the indicators are withheld
with a sentence saying so, never estimated or shown as 0.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, StudyError, check_choice
from analysis.studies.base import LANGUAGES, StudyContext

SIZE_CLASSES = [(0, 20_000), (20_000, 50_000), (50_000, 100_000), (100_000, 250_000), (250_000, np.inf)]
AGE_CLASSES = ("all", "below_pension_age", "from_pension_age")
#: indicator -> (numerator, denominator) for the funnel plots
FUNNELS = {
    "density": ("recipients", "inhabitants"),
    "inflow": ("inflow", "inhabitants"),
    "outflow": ("outflow", "recipients"),
    "outflow_to_work": ("outflow_to_work", "recipients"),
}


@dataclass(frozen=True)
class StatlineSource:
    """The bundled (or given) StatLine exports, with what results.json needs to name them."""

    path: Path
    meta: dict
    content_hash: str


def _source(directory: Path) -> StatlineSource:
    from analysis.data.statline import BUNDLED, NATIONAL_MONTHLY

    files = [directory / f for f, _ in BUNDLED.values()] + [directory / NATIONAL_MONTHLY[0]]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise ParameterError(f"StatLine directory {str(directory)!r} lacks {', '.join(missing)}.")
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    ids = ", ".join(t for _, t in BUNDLED.values()) + ", " + NATIONAL_MONTHLY[1]
    return StatlineSource(path=directory, content_hash=h.hexdigest(), meta={
        "name": "CBS StatLine Participatiewet 2015-2017",
        "source": f"CBS StatLine, tables {ids} (CC BY 4.0)",
    })


def setup(*, statline_dir: str = "", municipality: str = "GM0363", year: int = 2017, age_class: str = "all",
          lang: str = "nl", output_dir: str = "") -> StudyContext:
    """Validate the parameters and load the CBS tables (the bundled ones when ``statline_dir`` is empty)."""
    import tempfile

    from analysis.data.statline import bundled_dir, load_participatiewet
    from analysis.paths import resolve_path
    from analysis.report import Report
    from analysis.report.disclosure import DisclosurePolicy
    from analysis.report.labels import t

    check_choice("lang", lang, LANGUAGES)
    check_choice("age_class", age_class, AGE_CLASSES)
    directory = resolve_path(statline_dir) if statline_dir else bundled_dir()
    source = _source(directory)
    tables = load_participatiewet(directory=directory)
    if year not in set(tables["year"]):
        raise ParameterError(f"year={year} is not in the data; available: {sorted(set(tables['year']))}.")
    gm = tables[(tables["region_type"] == "GM") & (tables["age_class"] == age_class)]
    if municipality not in set(gm.loc[gm["year"] == year, "region"]):
        codes = sorted(set(gm.loc[gm["year"] == year, "region"]))
        raise ParameterError(
            f"municipality={municipality!r} has no {year} figures (merged or unknown code); "
            f"{len(codes)} codes exist that year, e.g. {', '.join(codes[:6])}."
        )
    out = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix="rendeert-benchmark-"))
    out.mkdir(parents=True, exist_ok=True)
    report = Report("benchmark", lang=lang, policy=DisclosurePolicy.load(), figure_dir=out / "figures")
    ctx = StudyContext(study="benchmark", dataset=source, store=None, report=report, output_dir=out,
                       title=t("benchmark.title", lang), parameters={
                           "dataset": str(directory), "municipality": municipality, "year": year,
                           "age_class": age_class, "lang": lang})
    ctx.frames = {"tables": tables, "gm": gm}  # type: ignore[attr-defined]
    return ctx


#: The StatLine tables the benchmark republishes (public, under CBS's own disclosure control).
STATLINE_SOURCE = "CBS StatLine 83450NED, 83747NED, 84066NED"


def _public_figure(fig, frame: pd.DataFrame, *, name: str, source: str = STATLINE_SOURCE):
    """A figure drawn only from public StatLine figures, wrapped as checked (with the table it shows)."""
    from analysis.report.checked import checked_figure
    from analysis.report.disclosure import public_table

    return checked_figure(fig, name=name, tables=[public_table(frame, name=name, source=source)])


def _year_frame(ctx: StudyContext) -> pd.DataFrame:
    gm = ctx.frames["gm"]  # type: ignore[attr-defined]
    year = ctx.parameters["year"]
    frame = gm[gm["year"] == year].copy()
    frame["size_class"] = pd.cut(frame["inhabitants"], [lo for lo, _ in SIZE_CLASSES] + [np.inf],
                                 right=False, labels=False)
    return frame


def _percentile(values: pd.Series, value: float) -> float:
    """Share of municipalities whose value is at most ``value`` (0..1)."""
    v = values.dropna()
    return float((v <= value).mean())


def indicators(ctx: StudyContext) -> pd.DataFrame:
    """The municipality's indicators beside the median of all municipalities and of its size class."""
    from analysis.report.labels import t

    frame = _year_frame(ctx)
    me = frame.set_index("region").loc[ctx.parameters["municipality"]]
    peers = frame[frame["size_class"] == me["size_class"]]
    rows = []
    spec = [
        ("density", "density", 1.0, "bijstand_density", "per_1000"),
        ("inflow_pct", "inflow_pct", 0.01, "inflow_rate", "share"),
        ("outflow_pct", "outflow_pct", 0.01, "outflow_rate", "share"),
        ("outflow_to_work_pct", "outflow_to_work_pct", 0.01, "outflow_to_work_rate", "share"),
        ("reintegration_with_bijstand_pct", "reintegration_with_bijstand_pct", 0.01, None, "share"),
        ("work_after_reintegration_pct", "work_after_reintegration_pct", 0.01, None, "share"),
    ]
    for key, col, scale, result_name, unit in spec:
        if col not in frame or pd.isna(me.get(col)):
            if result_name:  # CBS did not publish it ("." in StatLine: unknown or withheld by CBS)
                ctx.add_estimates([{"name": result_name, "estimate": None, "se": None, "ci_low": None,
                                    "ci_high": None, "n": None, "unit": unit, "suppressed": True}])
            continue
        value = float(me[col]) * scale
        rows.append({
            "indicator": t(f"benchmark.ind.{key}", ctx.lang),
            "value": value,
            "median_all": float(frame[col].median()) * scale,
            "median_peers": float(peers[col].median()) * scale,
            "percentile": _percentile(frame[col], float(me[col])),
            "unit": unit,
        })
        if result_name:
            ctx.add_estimates([{"name": result_name, "estimate": value, "se": None, "ci_low": None,
                                "ci_high": None, "n": int(me["recipients"]), "unit": unit, "suppressed": False}])
    known = pd.notna(me.get("density"))
    ctx.add_estimates([{"name": "percentile_bijstand_density",
                        "estimate": _percentile(frame["density"], float(me["density"])) if known else None,
                        "se": None, "ci_low": None, "ci_high": None,
                        "n": int(frame["density"].notna().sum()) if known else None,
                        "unit": "share", "suppressed": not known}])
    table = pd.DataFrame(rows, columns=["indicator", "value", "median_all", "median_peers", "percentile", "unit"])
    if table.empty:
        ctx.report.markdown(t("benchmark.no_figures", ctx.lang, code=me.name, year=ctx.parameters["year"],
                              age=t(f"benchmark.age.{ctx.parameters['age_class']}", ctx.lang)))
        return table
    shown = pd.DataFrame({
        t("benchmark.indicator", ctx.lang): table["indicator"],
        t("benchmark.this_municipality", ctx.lang): [_fmt(v, u, ctx.lang) for v, u in zip(table["value"], table["unit"])],
        t("benchmark.median_all", ctx.lang): [_fmt(v, u, ctx.lang) for v, u in zip(table["median_all"], table["unit"])],
        t("benchmark.median_peers", ctx.lang): [_fmt(v, u, ctx.lang) for v, u in zip(table["median_peers"], table["unit"])],
        t("benchmark.percentile", ctx.lang): [_fmt(v, "share", ctx.lang) for v in table["percentile"]],
    })
    lo, hi = SIZE_CLASSES[int(me["size_class"])]
    from analysis.report.disclosure import public_table

    shown = public_table(shown, name="indicators", source=STATLINE_SOURCE)
    ctx.report.table(shown, caption=t("benchmark.indicators_caption", ctx.lang, code=me.name,
                                      year=ctx.parameters["year"], peers=len(peers),
                                      size=_size_label(lo, hi, ctx.lang)))
    return table


def _fmt(value: float, unit: str, lang: str) -> str:
    from analysis.report.labels import fmt_number, fmt_pct

    if value is None or not np.isfinite(value):
        return "."
    return fmt_pct(value, lang) if unit == "share" else fmt_number(value, lang, digits=1)


def _size_label(lo: float, hi: float, lang: str) -> str:
    from analysis.report.labels import fmt_int, t

    if not np.isfinite(hi):
        return t("benchmark.size_from", lang, lo=fmt_int(lo, lang))
    return t("benchmark.size_range", lang, lo=fmt_int(lo, lang), hi=fmt_int(hi, lang))


def funnels(ctx: StudyContext) -> None:
    """A funnel plot per indicator: rate against size with 95 and 99.8 percent limits."""
    import matplotlib.pyplot as plt

    from analysis.estimators.funnel import funnel_limits
    from analysis.report.labels import t

    frame = _year_frame(ctx)
    code = ctx.parameters["municipality"]
    fig, axes = plt.subplots(2, 2, figsize=(9, 7))
    for ax, (key, (num, den)) in zip(axes.ravel(), FUNNELS.items()):
        data = frame[[num, den, "region"]].dropna()
        data = data[data[den] > 0]
        ax.set_title(t(f"benchmark.funnel.{key}", ctx.lang), fontsize=10)
        if data.empty or not 0 < data[num].sum() < data[den].sum():  # nothing published for this age class
            ax.text(0.5, 0.5, t("benchmark.no_data", ctx.lang), ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        rate = data[num] / data[den]
        p0 = data[num].sum() / data[den].sum()
        grid = np.geomspace(data[den].min(), data[den].max(), 200)
        lim = funnel_limits(p0, grid)
        ax.scatter(data[den], rate, s=8, color="0.6", label=t("benchmark.municipalities", ctx.lang))
        for level, style in (("95", "--"), ("99.8", ":")):
            ax.plot(grid, lim[f"upper_{level}"], style, color="0.2", lw=1)
            ax.plot(grid, lim[f"lower_{level}"], style, color="0.2", lw=1,
                    label=t("benchmark.limit", ctx.lang, level=level.replace(".", "," if ctx.lang == "nl" else ".")))
        ax.axhline(p0, color="0.2", lw=0.8)
        mine = data["region"] == code
        ax.scatter(data.loc[mine, den], rate[mine], s=50, color="#d55e00", zorder=3, label=code)
        ax.set_xscale("log")
        ax.set_xlabel(t(f"benchmark.den.{den}", ctx.lang))
        ax.yaxis.set_major_formatter(plt.FuncFormatter(
            lambda v, _: f"{100 * v:.1f}%".replace(".", "," if ctx.lang == "nl" else ".")))
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    ctx.report.figure(_public_figure(fig, frame[["region", *sorted({c for pair in FUNNELS.values() for c in pair})]],
                                     name="funnels"),
                      caption=t("benchmark.funnel_caption", ctx.lang, year=ctx.parameters["year"]))


def trend(ctx: StudyContext) -> pd.DataFrame:
    """The municipality's indicators 2015-2017; a missing year means its code did not exist then."""
    from analysis.data.statline import discontinued_codes
    from analysis.report.labels import t

    gm = ctx.frames["gm"]  # type: ignore[attr-defined]
    code = ctx.parameters["municipality"]
    mine = gm[gm["region"] == code].sort_values("year")
    changes = discontinued_codes(ctx.frames["tables"])  # type: ignore[attr-defined]
    shown = pd.DataFrame({
        t("year", ctx.lang): mine["year"].astype(str),
        t("benchmark.ind.density", ctx.lang): mine["density"],
        t("benchmark.recipients", ctx.lang): mine["recipients"],
        t("inflow", ctx.lang): mine["inflow"],
        t("outflow", ctx.lang): mine["outflow"],
        t("benchmark.ind.outflow_to_work", ctx.lang): mine["outflow_to_work"],
    })
    note = None
    years = set(mine["year"])
    all_years = set(gm["year"])
    if years != all_years or code in set(changes["code"]):
        note = t("benchmark.series_break", ctx.lang, code=code)
    from analysis.report.disclosure import public_table

    shown = public_table(shown, name="trend", source=STATLINE_SOURCE, keys=[t("year", ctx.lang)])
    ctx.report.table(shown, caption=t("benchmark.trend_caption", ctx.lang, code=code), note=note,
                     number_formats={t("benchmark.ind.density", ctx.lang): "num1"})
    n_merged = int((changes["status"] == "discontinued").sum())
    ctx.report.markdown(t("benchmark.mergers", ctx.lang, n=n_merged))
    return mine


def national_series(ctx: StudyContext) -> None:
    """National number of bijstand benefits per month since 1998 (CBS 37789ksz)."""
    import matplotlib.pyplot as plt

    from analysis.data.statline import read_national_monthly
    from analysis.report.labels import t

    monthly = read_national_monthly(Path(ctx.parameters["dataset"]) / "cbs_37789ksz_uitkeringen_maand.csv")
    series = monthly.dropna(subset=["TotaalBijstandsuitkeringen"])
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.plot(series["month"], series["TotaalBijstandsuitkeringen"], color="#0072b2", lw=1.5)
    ax.set_ylabel(t("benchmark.national_ylabel", ctx.lang))
    ax.axvline(pd.Timestamp("2015-01-01"), color="0.4", ls="--", lw=0.8)
    ax.text(pd.Timestamp("2015-03-01"), ax.get_ylim()[0], t("benchmark.participatiewet", ctx.lang),
            fontsize=8, va="bottom")
    fig.tight_layout()
    ctx.report.figure(_public_figure(fig, series[["month", "TotaalBijstandsuitkeringen"]].assign(
                          month=series["month"].astype(str)), name="national_series", source="37789ksz"),
                      caption=t("benchmark.national_caption", ctx.lang,
                                     last=series["month"].iloc[-1].strftime("%Y-%m")))


def summary(ctx: StudyContext) -> None:
    """One plain sentence with the key numbers, built from the results."""
    from analysis.report.labels import fmt_number, fmt_pct, t

    frame = _year_frame(ctx)
    me = frame.set_index("region").loc[ctx.parameters["municipality"]]
    peers = frame[frame["size_class"] == me["size_class"]]
    if ctx.estimate("bijstand_density")["estimate"] is None:
        ctx.report.markdown(t("benchmark.summary_withheld", ctx.lang, code=me.name, year=ctx.parameters["year"]))
        return
    share_below_peers = float((peers["density"] < me["density"]).mean())
    ctx.report.markdown(t(
        "benchmark.summary", ctx.lang, code=me.name, year=ctx.parameters["year"],
        density=fmt_number(ctx.estimate("bijstand_density")["estimate"], ctx.lang, digits=1),
        pct_peers=fmt_pct(share_below_peers, ctx.lang, digits=0), n_peers=len(peers),
        percentile=fmt_pct(ctx.estimate("percentile_bijstand_density")["estimate"], ctx.lang, digits=0),
        work=(t("suppressed_short", ctx.lang) if ctx.estimate("outflow_to_work_rate")["estimate"] is None
              else fmt_pct(ctx.estimate("outflow_to_work_rate")["estimate"], ctx.lang)),
    ))
