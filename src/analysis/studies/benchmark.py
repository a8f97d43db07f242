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
outflow and outflow to work per recipient). Their limits allow for
overdispersion (Spiegelhalter 2005): municipalities differ far more than
binomial chance (phi of about 200 for density on CBS 2017), so binomial limits
flag most of them. phi and the additive tau^2 are estimated from all
municipalities of the year (10 % Winsorised z-scores on the square-root scale,
:func:`analysis.estimators.funnel.proportion_funnel`); the limits use tau^2
(``overdispersion="additive"``, default), phi or neither, and the caption states
them. results.json has ``funnel_outside_998_share_<indicator>`` (about 0.5-5 %
on CBS 2017 against a nominal 0.2 %: Winsorising makes tau^2 somewhat small) and
``funnel_position_<indicator>`` (the municipality's rate, with the 99.8 % limits
at its size as interval and its position). Municipalities are named from CBS's
classification of the year (data/statline/gemeenten_2015_2017.csv). Indicators whose definitions differ between
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
          overdispersion: str = "additive", lang: str = "nl", output_dir: str = "") -> StudyContext:
    """Validate the parameters and load the CBS tables (the bundled ones when ``statline_dir`` is empty)."""
    import tempfile

    from analysis.data.statline import bundled_dir, load_participatiewet
    from analysis.paths import resolve_path
    from analysis.report import Report
    from analysis.report.disclosure import DisclosurePolicy
    from analysis.report.labels import t

    check_choice("lang", lang, LANGUAGES)
    check_choice("age_class", age_class, AGE_CLASSES)
    from analysis.estimators.funnel import OVERDISPERSION

    check_choice("overdispersion", overdispersion, OVERDISPERSION)
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
                           "age_class": age_class, "overdispersion": overdispersion,
                           "lang": lang})
    ctx.frames = {"tables": tables, "gm": gm}  # type: ignore[attr-defined]
    return ctx


#: The StatLine tables the benchmark republishes (public, under CBS's own disclosure control).
STATLINE_SOURCE = "CBS StatLine 83450NED, 83747NED, 84066NED"
#: Municipality names per year (data/statline/README.md says where they come from).
NAMES_FILE = "gemeenten_2015_2017.csv"
NAMES_SOURCE = "CBS Gemeentelijke indeling op 1 januari 2015-2017"


def municipality_names(year: int, *, directory: Path | None = None) -> dict:
    """Municipality code -> name in CBS's municipal classification of 1 January ``year`` (bundled 2015-2017)."""
    from analysis.data.statline import bundled_dir

    path = (directory or bundled_dir()) / NAMES_FILE
    if not path.is_file():
        path = bundled_dir() / NAMES_FILE
    names = pd.read_csv(path, dtype={"code": str, "name": str})
    names = names[names["year"] == int(year)]
    if names.empty:
        raise ParameterError(f"No municipality names for year={year} in {path.name}; bundled years: 2015-2017.")
    return dict(zip(names["code"], names["name"]))


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
                        "unit": "share_of_municipalities", "suppressed": not known}])
    table = pd.DataFrame(rows, columns=["indicator", "value", "median_all", "median_peers", "percentile", "unit"])
    if table.empty:
        ctx.report.markdown(t("benchmark.no_figures", ctx.lang, code=_name(ctx), year=ctx.parameters["year"],
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
    ctx.report.table(shown, caption=t("benchmark.indicators_caption", ctx.lang, code=_name(ctx),
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


#: funnel key -> results.json indicator name
FUNNEL_RESULTS = {"density": "bijstand_density", "inflow": "inflow_rate", "outflow": "outflow_rate",
                  "outflow_to_work": "outflow_to_work_rate"}


def indicator_funnels(frame: pd.DataFrame, *, method: str = "additive") -> dict:
    """Per funnel indicator the :class:`~analysis.estimators.funnel.ProportionFunnel` over all municipalities
    with a published numerator and denominator (None where nothing was published, e.g. an age class)."""
    from analysis.estimators.funnel import proportion_funnel

    out = {}
    for key, (num, den) in FUNNELS.items():
        data = frame[[num, den, "region"]].dropna()
        data = data[(data[den] > 0) & (data[num] <= data[den])]
        if len(data) < 3 or not 0 < data[num].sum() < data[den].sum():
            out[key] = None
            continue
        out[key] = proportion_funnel(data[num], data[den], units=data["region"], method=method)
    return out


def _od_text(key: str, funnel, lang: str) -> str:
    from analysis.report.labels import fmt_number, t

    od = funnel.overdispersion
    return t("benchmark.od_item", lang, indicator=t(f"benchmark.funnel.{key}", lang).lower(),
             phi=fmt_number(od.phi, lang, digits=1), tau=fmt_number(np.sqrt(od.tau2), lang, digits=2))


def funnels(ctx: StudyContext) -> None:
    """A funnel plot per indicator: rate against size with 95 and 99.8 percent limits that allow for the
    variation between municipalities (Spiegelhalter 2005), their phi and tau stated in the caption."""
    import matplotlib.pyplot as plt

    from analysis.report.labels import fmt_pct, t

    frame = _year_frame(ctx)
    code = ctx.parameters["municipality"]
    method = ctx.parameters["overdispersion"]
    names = municipality_names(ctx.parameters["year"])
    name = names.get(code, code)
    lang = ctx.lang
    results = indicator_funnels(frame, method=method)
    ctx.frames["funnels"] = results  # type: ignore[attr-defined]
    fig, axes = plt.subplots(2, 2, figsize=(9, 7.4))
    od_items, rows = [], []
    for ax, (key, (num, den)) in zip(axes.ravel(), FUNNELS.items()):
        funnel = results[key]
        ax.set_title(t(f"benchmark.funnel.{key}", lang), fontsize=10)
        result = FUNNEL_RESULTS[key]
        if funnel is None:  # nothing published for this age class
            ax.text(0.5, 0.5, t("benchmark.no_data", lang), ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            rows += [_null(f"funnel_outside_998_share_{result}", "share_of_municipalities"),
                     _null(f"funnel_position_{result}", "share")]
            continue
        data = funnel.table
        grid = np.geomspace(data["n"].min(), data["n"].max(), 200)
        lim = funnel.limits(grid)
        ax.scatter(data["n"], data["rate"], s=8, color="0.6", label=t("benchmark.municipalities", lang))
        for level, style in (("95", "--"), ("99.8", ":")):
            ax.plot(grid, lim[f"upper_{level}"], style, color="0.2", lw=1)
            ax.plot(grid, lim[f"lower_{level}"], style, color="0.2", lw=1,
                    label=t("benchmark.limit", lang, level=level.replace(".", "," if lang == "nl" else ".")))
        ax.axhline(funnel.p0, color="0.2", lw=0.8)
        mine = data[data["unit"] == code]
        if not mine.empty:
            ax.scatter(mine["n"], mine["rate"], s=50, color="#d55e00", zorder=3, label=name)
            ax.annotate(name, (mine["n"].iloc[0], mine["rate"].iloc[0]), xytext=(-7, 7), textcoords="offset points",
                        fontsize=8, color="#d55e00", ha="right", va="bottom")
        ax.set_xscale("log")
        ax.set_xlabel(t(f"benchmark.den.{den}", lang))
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: fmt_pct(v, lang)))
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: _axis_int(v, lang)))
        od_items.append(_od_text(key, funnel, lang))
        n_units = len(data)
        rows.append({"name": f"funnel_outside_998_share_{result}", "estimate": funnel.outside_share(0.998),
                     "se": None, "ci_low": None, "ci_high": None, "n": n_units, "unit": "share_of_municipalities",
                     "suppressed": False, "overdispersion_phi": funnel.overdispersion.phi,
                     "overdispersion_tau2": funnel.overdispersion.tau2, "method": method,
                     "outside_95_share": funnel.outside_share(0.95)})
        if mine.empty:
            rows.append(_null(f"funnel_position_{result}", "share"))
        else:
            m = mine.iloc[0]
            rows.append({"name": f"funnel_position_{result}", "estimate": float(m["rate"]), "se": None,
                         "ci_low": float(m["lower_99.8"]), "ci_high": float(m["upper_99.8"]), "n": int(m["n"]),
                         "unit": "share", "suppressed": False, "interval": "funnel limits 99.8% at this size",
                         "position": str(m["position"]), "target": funnel.p0})
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    for ax in axes.ravel()[1:]:  # the first panel may have had nothing to draw
        if len(labels) < 4:
            handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))  # the legend below the panels hides no municipality
    ctx.add_estimates(rows)
    shown = frame[["region", *sorted({c for pair in FUNNELS.values() for c in pair})]].assign(
        region=frame["region"].map(lambda c: names.get(c, c)))
    caption = t(f"benchmark.funnel_caption_{method}", lang, year=ctx.parameters["year"],
                n=_count_words(len(frame), lang), od="; ".join(od_items))
    ctx.report.figure(_public_figure(fig, shown, name="funnels", source=f"{STATLINE_SOURCE}; {NAMES_SOURCE}"),
                      caption=caption)
    outside = [(t(f"benchmark.funnel.{k}", lang).lower(), f.outside_share(0.998)) for k, f in results.items() if f]
    ctx.report.markdown(t("benchmark.outside_sentence", lang, items="; ".join(
        f"{ind}: {fmt_pct(share, lang)}" for ind, share in outside)))


def _axis_int(v: float, lang: str) -> str:
    from analysis.report.labels import fmt_int

    return fmt_int(round(v), lang) if v >= 1 else ""


def _null(name: str, unit: str) -> dict:
    return {"name": name, "estimate": None, "se": None, "ci_low": None, "ci_high": None, "n": None, "unit": unit,
            "suppressed": True}


def _count_words(n: int, lang: str) -> str:
    from analysis.report.labels import fmt_int

    return fmt_int(n, lang)


#: Rough shares in words, as a reader says them ("meer dan een kwart"); (upper bound exclusive, key).
_SHARE_WORDS = ((0.05, "nearly_none"), (0.15, "tenth"), (0.3, "quarter"), (0.4, "third"), (0.6, "half"),
                (0.7, "two_thirds"), (0.9, "three_quarters"), (0.999, "nearly_all"), (np.inf, "all"))
_SHARE_VALUES = {"none": 0.0, "tenth": 0.1, "quarter": 0.25, "third": 1 / 3, "half": 0.5, "two_thirds": 2 / 3,
                 "three_quarters": 0.75, "nearly_all": 0.9, "all": 1.0}


def share_in_words(k: int, n: int, lang: str) -> str:
    """``k`` of ``n`` municipalities in words: "ruim een kwart van de 120", "elk van de 30"; below ten
    the count itself ("1 van de 4"), since a share of a handful reads oddly."""
    from analysis.report.labels import fmt_int, t

    if n <= 0:
        raise ParameterError(f"share_in_words: n={n!r} must be positive.")
    nn = fmt_int(n, lang)
    if n < 10:
        return t("benchmark.share.count", lang, k=fmt_int(k, lang), n=nn)
    share = k / n
    for bound, key in _SHARE_WORDS:
        if share < bound:
            break
    if k in (0, n) or key in ("nearly_none", "nearly_all"):
        return t(f"benchmark.share.{'all' if k == n else ('none' if k == 0 else key)}", lang, n=nn)
    value = _SHARE_VALUES[key]
    qualifier = "about" if abs(share - value) < 0.02 else ("more_than" if share > value else "less_than")
    words = t(f"benchmark.share.{qualifier}", lang, share=t(f"benchmark.share.{key}", lang))
    return t("benchmark.share.of", lang, share=words, n=nn)


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
        note = t("benchmark.series_break", ctx.lang, code=_name(ctx))
    from analysis.report.disclosure import public_table

    shown = public_table(shown, name="trend", source=STATLINE_SOURCE, keys=[t("year", ctx.lang)])
    ctx.report.table(shown, caption=t("benchmark.trend_caption", ctx.lang, code=_name(ctx)), note=note,
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


def _name(ctx: StudyContext) -> str:
    """The municipality's name in the year compared (its code where no name is known)."""
    code = ctx.parameters["municipality"]
    return municipality_names(ctx.parameters["year"]).get(code, code)


def summary(ctx: StudyContext) -> None:
    """Plain sentences with the key numbers, built from the results; the funnel wording follows its limits."""
    from analysis.report.labels import fmt_number, fmt_pct, t

    frame = _year_frame(ctx)
    me = frame.set_index("region").loc[ctx.parameters["municipality"]]
    peers = frame[frame["size_class"] == me["size_class"]]
    lang = ctx.lang
    if ctx.estimate("bijstand_density")["estimate"] is None:
        ctx.report.markdown(t("benchmark.summary_withheld", lang, code=_name(ctx), year=ctx.parameters["year"]))
        return
    others = peers[peers["region"] != me.name]["density"].dropna()
    text = t(
        "benchmark.summary_named", lang, name=_name(ctx), year=ctx.parameters["year"],
        density=fmt_number(ctx.estimate("bijstand_density")["estimate"], lang, digits=1),
        share_peers=share_in_words(int((others < me["density"]).sum()), len(others), lang),
        percentile=fmt_pct(ctx.estimate("percentile_bijstand_density")["estimate"], lang, digits=0),
        work=(t("suppressed_short", lang) if ctx.estimate("outflow_to_work_rate")["estimate"] is None
              else fmt_pct(ctx.estimate("outflow_to_work_rate")["estimate"], lang)),
    )
    positions = []
    for key, result in FUNNEL_RESULTS.items():
        try:
            row = ctx.estimate(f"funnel_position_{result}")
        except KeyError:  # funnels() not run
            continue
        if row.get("suppressed") or row.get("position") is None:
            continue
        position = row["position"].replace("99.8", "998")
        positions.append(t(f"benchmark.position.{position}", lang, indicator=t(f"benchmark.funnel.{key}", lang).lower()))
    if positions:
        text += " " + t("benchmark.positions", lang, items="; ".join(positions))
    ctx.report.markdown(text)
