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
municipalities of the year (10 % Winsorised z-scores on the square-root scale, made consistent at the
normal so that tau^2 is not ~40 % too small as with Spiegelhalter's plain formulas,
:func:`analysis.estimators.funnel.proportion_funnel`); the limits use tau^2
(``overdispersion="additive"``, default), phi or neither, and the caption states
them. results.json has ``funnel_outside_998_share_<indicator>`` (0-1.8 % on CBS 2017 against a nominal
0.2 %; with Spiegelhalter's plain estimate it was 0.5-5.4 %, and 16-21 % outside the 95 % limits) and
``funnel_position_<indicator>`` (the municipality's rate, with the 99.8 % limits
at its size as interval and its position). Municipalities are named from CBS's
classification of the year where the optional names file is present (:data:`NAMES_FILE`; not bundled,
data/statline/README.md), else shown by code. Indicators whose definitions differ between
years (work after re-integration is not published for 2017) are compared only
where they exist, and a municipality whose code does not continue (a merger)
is flagged where its series breaks.

Disclosure. The figures are CBS's own publications (StatLine), already under
CBS's disclosure control (counts rounded to tens, "." where CBS withholds); the
study republishes them and adds only rankings and medians over municipalities.
Where CBS published nothing for the municipality, age class and year (a small
municipality's pension-age class has no recipients), the indicators are withheld
with a sentence saying so, never estimated or shown as 0.

Layout. The notebook (notebooks/40_benchmark.py) receives typed objects from
these functions: :func:`statline_source` (the tables' directory, fingerprinted),
:func:`load` (a frozen :class:`Benchmark`: the tables of the age class, the
year's frame with size classes, the names), then per step the results rows it
adds and the checked tables and figures it shows. Nothing is kept between
cells but what a function returns. There is no person population: StatLine
publishes these indicators per municipality, not by age and sex, so the study
has only its municipality, year and CBS age class.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, check_choice
from analysis.studies.benchmark.words import axis_int, count_words, fmt_value, share_in_words, size_label

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

    @property
    def directory(self) -> str:
        """The directory as a run records it: relative to the project root when inside it (data/statline)."""
        from analysis.paths import project_root

        root = project_root().resolve()
        path = self.path.resolve()
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def statline_source(statline_dir: str = "") -> StatlineSource:
    """The CBS StatLine exports in ``statline_dir`` (the bundled data/statline when empty), fingerprinted."""
    from analysis.data.statline import BUNDLED, NATIONAL_MONTHLY, bundled_dir
    from analysis.paths import resolve_path

    directory = resolve_path(statline_dir) if statline_dir else bundled_dir()
    files = [directory / f for f, _ in BUNDLED.values()] + [directory / NATIONAL_MONTHLY[0]]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise ParameterError(f"StatLine directory {str(directory)!r} lacks {', '.join(missing)}; give a directory "
                             "with the CBS exports of data/statline/README.md, or leave statline_dir empty.")
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    ids = ", ".join(t for _, t in BUNDLED.values()) + ", " + NATIONAL_MONTHLY[1]
    return StatlineSource(path=directory, content_hash=h.hexdigest(), meta={
        "name": "CBS StatLine Participatiewet 2015-2017",
        "source": f"CBS StatLine, tables {ids} (CC BY 4.0)",
    })


@dataclass(frozen=True)
class Benchmark:
    """What the comparison rests on: the municipality, year and age class, CBS's tables of that age class
    (every year), the year's municipalities with their size class, and the names of the year."""

    source: StatlineSource
    municipality: str
    year: int
    age_class: str
    tables: pd.DataFrame  # every region, year and age class (for mergers)
    gm: pd.DataFrame  # municipalities of the age class, every year
    frame: pd.DataFrame  # municipalities of the age class in ``year``, with ``size_class``
    names: dict

    @property
    def name(self) -> str:
        """The municipality's name in the year compared (its code where no name is known)."""
        return self.names.get(self.municipality, self.municipality)

    @property
    def me(self) -> pd.Series:
        return self.frame.set_index("region").loc[self.municipality]

    @property
    def peers(self) -> pd.DataFrame:
        """The municipalities of its size class (itself included)."""
        return self.frame[self.frame["size_class"] == self.me["size_class"]]

    def __repr__(self) -> str:
        return (f"Benchmark({self.name}, {self.year}, age class {self.age_class!r}: "
                f"{len(self.frame)} municipalities, {len(self.peers)} of its size)")


def load(source: StatlineSource, *, municipality: str = "GM0363", year: int = 2017,
         age_class: str = "all") -> Benchmark:
    """Read CBS's tables (cleaned: padding, '.', drifting names) and check the municipality and year."""
    from analysis.data.statline import load_participatiewet

    check_choice("age_class", age_class, AGE_CLASSES)
    tables = load_participatiewet(directory=source.path)
    if year not in set(tables["year"]):
        raise ParameterError(f"year={year} is not in the data; available: {sorted(set(tables['year']))}.")
    gm = tables[(tables["region_type"] == "GM") & (tables["age_class"] == age_class)]
    if municipality not in set(gm.loc[gm["year"] == year, "region"]):
        codes = sorted(set(gm.loc[gm["year"] == year, "region"]))
        raise ParameterError(
            f"municipality={municipality!r} has no {year} figures (merged or unknown code); "
            f"{len(codes)} codes exist that year, e.g. {', '.join(codes[:6])}."
        )
    frame = gm[gm["year"] == year].copy()
    frame["size_class"] = pd.cut(frame["inhabitants"], [lo for lo, _ in SIZE_CLASSES] + [np.inf],
                                 right=False, labels=False)
    return Benchmark(source=source, municipality=municipality, year=int(year), age_class=age_class, tables=tables,
                     gm=gm, frame=frame, names=municipality_names(year, directory=source.path))


#: The StatLine tables the benchmark republishes (public, under CBS's own disclosure control).
STATLINE_SOURCE = "CBS StatLine 83450NED, 83747NED, 84066NED"
#: Municipality names per year: an optional file in the StatLine directory (year, code, name, province), not
#: bundled (data/statline/README.md says why and what it holds). Without it municipalities show as codes.
NAMES_FILE = "gemeenten_2015_2017.csv"
NAMES_SOURCE = "CBS Gemeentelijke indeling op 1 januari"


def names_file(directory: Path | None = None) -> Path | None:
    """The municipality-names file in ``directory`` or the bundled StatLine directory, or None."""
    from analysis.data.statline import bundled_dir

    for d in (directory, bundled_dir()):
        if d is not None and (Path(d) / NAMES_FILE).is_file():
            return Path(d) / NAMES_FILE
    return None


def municipality_names(year: int, *, directory: Path | None = None) -> dict:
    """Municipality code -> name in CBS's municipal classification of 1 January ``year``, from the optional
    names file (:func:`names_file`); an empty dict when there is none (codes are shown instead)."""
    path = names_file(directory)
    if path is None:
        return {}
    names = pd.read_csv(path, dtype={"code": str, "name": str})
    names = names[names["year"] == int(year)]
    if names.empty:
        years = ", ".join(str(y) for y in sorted(pd.read_csv(path, usecols=["year"])["year"].unique()))
        raise ParameterError(f"No municipality names for year={year} in {path}; the file has the years {years}.")
    return dict(zip(names["code"], names["name"]))


def _public_figure(fig, frame: pd.DataFrame, *, name: str, source: str = STATLINE_SOURCE):
    """A figure drawn only from public StatLine figures, wrapped as checked (with the table it shows)."""
    from analysis.report.checked import checked_figure
    from analysis.report.disclosure import public_table

    return checked_figure(fig, name=name, tables=[public_table(frame, name=name, source=source)])


def _percentile(values: pd.Series, value: float) -> float:
    """Share of municipalities whose value is at most ``value`` (0..1)."""
    v = values.dropna()
    return float((v <= value).mean())


@dataclass(frozen=True)
class Indicators:
    """The municipality's indicators beside the medians; ``rows`` for results.json, ``shown`` the checked
    table (None, and ``message`` the sentence, where CBS published nothing for it)."""

    table: pd.DataFrame  # indicator, value, median_all, median_peers, percentile, unit
    rows: tuple
    shown: object | None
    caption: str
    message: str | None


#: indicator key, column, scale, results.json name (None: shown only), unit
INDICATORS = (
    ("density", "density", 1.0, "bijstand_density", "per_1000"),
    ("inflow_pct", "inflow_pct", 0.01, "inflow_rate", "share"),
    ("outflow_pct", "outflow_pct", 0.01, "outflow_rate", "share"),
    ("outflow_to_work_pct", "outflow_to_work_pct", 0.01, "outflow_to_work_rate", "share"),
    ("reintegration_with_bijstand_pct", "reintegration_with_bijstand_pct", 0.01, None, "share"),
    ("work_after_reintegration_pct", "work_after_reintegration_pct", 0.01, None, "share"),
)


def indicators(bench: Benchmark, *, lang: str = "nl") -> Indicators:
    """The municipality's indicators beside the median of all municipalities and of its size class, and its
    percentile in bijstand density; an indicator CBS did not publish ("." in StatLine) is a withheld row."""
    from analysis.report.disclosure import public_table
    from analysis.report.labels import fmt_number, t

    frame, me, peers = bench.frame, bench.me, bench.peers
    rows, out = [], []
    for key, col, scale, result_name, unit in INDICATORS:
        if col not in frame or pd.isna(me.get(col)):
            if result_name:  # CBS did not publish it ("." in StatLine: unknown or withheld by CBS)
                out.append(_null(result_name, unit))
            continue
        value = float(me[col]) * scale
        rows.append({
            "indicator": t(f"benchmark.ind.{key}", lang),
            "value": value,
            "median_all": float(frame[col].median()) * scale,
            "median_peers": float(peers[col].median()) * scale,
            "percentile": _percentile(frame[col], float(me[col])),
            "unit": unit,
        })
        if result_name:
            out.append({"name": result_name, "estimate": value, "se": None, "ci_low": None, "ci_high": None,
                        "n": int(me["recipients"]), "unit": unit, "suppressed": False})
    known = pd.notna(me.get("density"))
    out.append({"name": "percentile_bijstand_density",
                "estimate": _percentile(frame["density"], float(me["density"])) if known else None,
                "se": None, "ci_low": None, "ci_high": None,
                "n": int(frame["density"].notna().sum()) if known else None,
                "unit": "share_of_municipalities", "suppressed": not known})
    table = pd.DataFrame(rows, columns=["indicator", "value", "median_all", "median_peers", "percentile", "unit"])
    lo, hi = SIZE_CLASSES[int(me["size_class"])]
    caption = t("benchmark.indicators_caption", lang, code=bench.name, year=bench.year, peers=len(peers),
                size=size_label(lo, hi, lang))
    if table.empty:
        message = t("benchmark.no_figures", lang, code=bench.name, year=bench.year,
                    age=t(f"benchmark.age.{bench.age_class}", lang))
        return Indicators(table=table, rows=tuple(out), shown=None, caption=caption, message=message)
    shown = pd.DataFrame({
        t("benchmark.indicator", lang): table["indicator"],
        t("benchmark.this_municipality", lang): [fmt_value(v, u, lang) for v, u in zip(table["value"], table["unit"])],
        t("benchmark.median_all", lang): [fmt_value(v, u, lang) for v, u in zip(table["median_all"], table["unit"])],
        t("benchmark.median_peers", lang): [fmt_value(v, u, lang) for v, u in zip(table["median_peers"], table["unit"])],
        t("benchmark.percentile", lang): [fmt_number(100 * v, lang, digits=0) if pd.notna(v) else "." for v in table["percentile"]],
    })
    return Indicators(table=table, rows=tuple(out), shown=public_table(shown, name="indicators",
                                                                       source=STATLINE_SOURCE),
                      caption=caption, message=None)


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


def funnel_rows(bench: Benchmark, funnels: dict, *, method: str) -> list[dict]:
    """results.json rows per funnel indicator: the share of municipalities outside the 99.8 % limits (with phi,
    tau^2 and the share outside 95 %) and the municipality's rate with the 99.8 % limits at its size."""
    rows = []
    for key in FUNNELS:
        funnel, result = funnels[key], FUNNEL_RESULTS[key]
        if funnel is None:  # nothing published for this age class
            rows += [_null(f"funnel_outside_998_share_{result}", "share_of_municipalities"),
                     _null(f"funnel_position_{result}", "share")]
            continue
        data = funnel.table
        rows.append({"name": f"funnel_outside_998_share_{result}", "estimate": funnel.outside_share(0.998),
                     "se": None, "ci_low": None, "ci_high": None, "n": len(data), "unit": "share_of_municipalities",
                     "suppressed": False, "overdispersion_phi": funnel.overdispersion.phi,
                     "overdispersion_tau2": funnel.overdispersion.tau2, "method": method,
                     "outside_95_share": funnel.outside_share(0.95)})
        mine = data[data["unit"] == bench.municipality]
        if mine.empty:
            rows.append(_null(f"funnel_position_{result}", "share"))
            continue
        m = mine.iloc[0]
        rows.append({"name": f"funnel_position_{result}", "estimate": float(m["rate"]), "se": None,
                     "ci_low": float(m["lower_99.8"]), "ci_high": float(m["upper_99.8"]), "n": int(m["n"]),
                     "unit": "share", "suppressed": False, "interval": "funnel limits 99.8% at this size",
                     "position": str(m["position"]), "target": funnel.p0})
    return rows


def funnel_figure(bench: Benchmark, funnels: dict, *, lang: str = "nl"):
    """A funnel plot per indicator: rate against size with 95 and 99.8 percent limits, the municipality
    named; a checked figure (public StatLine figures) for ``run.report.figure``."""
    import matplotlib.pyplot as plt

    from analysis.report.labels import fmt_pct, t

    code, name = bench.municipality, bench.name
    fig, axes = plt.subplots(2, 2, figsize=(9, 7.4))
    for ax, (key, (num, den)) in zip(axes.ravel(), FUNNELS.items()):
        funnel = funnels[key]
        ax.set_title(t(f"benchmark.funnel.{key}", lang), fontsize=10)
        if funnel is None:  # nothing published for this age class
            ax.text(0.5, 0.5, t("benchmark.no_data", lang), ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
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
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: axis_int(v, lang)))
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    for ax in axes.ravel()[1:]:  # the first panel may have had nothing to draw
        if len(labels) < 4:
            handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))  # the legend below the panels hides no municipality
    frame = bench.frame
    shown = frame[["region", *sorted({c for pair in FUNNELS.values() for c in pair})]].assign(
        region=frame["region"].map(lambda c: bench.names.get(c, c)))
    source = STATLINE_SOURCE + (f"; {NAMES_SOURCE}" if bench.names else "")
    return _public_figure(fig, shown, name="funnels", source=source)


def funnel_caption(bench: Benchmark, funnels: dict, *, method: str, lang: str = "nl") -> str:
    """The funnel plots' caption: the limits' model and every indicator's phi and tau."""
    from analysis.estimators.funnel import OVERDISPERSION
    from analysis.report.labels import t

    check_choice("overdispersion", method, OVERDISPERSION)
    od_items = [_od_text(key, funnel, lang) for key, funnel in funnels.items() if funnel is not None]
    return t(f"benchmark.funnel_caption_{method}", lang, year=bench.year, n=count_words(len(bench.frame), lang),
             od="; ".join(od_items))


def outside_sentence(funnels: dict, *, lang: str = "nl") -> str:
    """Per indicator the share of municipalities outside the 99.8 % limits (expected: 0.2 %)."""
    from analysis.report.labels import fmt_pct, t

    outside = [(t(f"benchmark.funnel.{k}", lang).lower(), f.outside_share(0.998)) for k, f in funnels.items() if f]
    return t("benchmark.outside_sentence", lang, items="; ".join(
        f"{ind}: {fmt_pct(share, lang)}" for ind, share in outside))


def _null(name: str, unit: str) -> dict:
    return {"name": name, "estimate": None, "se": None, "ci_low": None, "ci_high": None, "n": None, "unit": unit,
            "suppressed": True}


@dataclass(frozen=True)
class Trend:
    """The municipality's figures per year (a checked public table), its caption and note, and the
    sentence on mergers."""

    series: pd.DataFrame
    table: object
    caption: str
    note: str | None
    number_formats: dict
    mergers: str


def trend(bench: Benchmark, *, lang: str = "nl") -> Trend:
    """The municipality's indicators 2015-2017; a missing year means its code did not exist then."""
    from analysis.data.statline import discontinued_codes
    from analysis.report.disclosure import public_table
    from analysis.report.labels import t

    gm, code = bench.gm, bench.municipality
    mine = gm[gm["region"] == code].sort_values("year")
    changes = discontinued_codes(bench.tables)
    shown = pd.DataFrame({
        t("year", lang): mine["year"].astype(str),
        t("benchmark.ind.density", lang): mine["density"],
        t("benchmark.recipients", lang): mine["recipients"],
        t("inflow", lang): mine["inflow"],
        t("outflow", lang): mine["outflow"],
        t("benchmark.ind.outflow_to_work", lang): mine["outflow_to_work"],
    })
    note = None
    if set(mine["year"]) != set(gm["year"]) or code in set(changes["code"]):
        note = t("benchmark.series_break", lang, code=bench.name)
    n_merged = int((changes["status"] == "discontinued").sum())
    return Trend(series=mine, table=public_table(shown, name="trend", source=STATLINE_SOURCE, keys=[t("year", lang)]),
                 caption=t("benchmark.trend_caption", lang, code=bench.name), note=note,
                 number_formats={t("benchmark.ind.density", lang): "num1"},
                 mergers=t("benchmark.mergers", lang, n=n_merged))


def national_series(source: StatlineSource, *, lang: str = "nl"):
    """National number of bijstand benefits per month since 1998 (CBS 37789ksz): ``(checked figure, caption)``."""
    import matplotlib.pyplot as plt

    from analysis.data.statline import NATIONAL_MONTHLY, read_national_monthly
    from analysis.report.labels import t

    monthly = read_national_monthly(source.path / NATIONAL_MONTHLY[0])
    series = monthly.dropna(subset=["TotaalBijstandsuitkeringen"])
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.plot(series["month"], series["TotaalBijstandsuitkeringen"], color="#0072b2", lw=1.5)
    ax.set_ylabel(t("benchmark.national_ylabel", lang))
    ax.axvline(pd.Timestamp("2015-01-01"), color="0.4", ls="--", lw=0.8)
    ax.text(pd.Timestamp("2015-03-01"), ax.get_ylim()[0], t("benchmark.participatiewet", lang),
            fontsize=8, va="bottom")
    fig.tight_layout()
    figure = _public_figure(fig, series[["month", "TotaalBijstandsuitkeringen"]].assign(
        month=series["month"].astype(str)), name="national_series", source="37789ksz")
    return figure, t("benchmark.national_caption", lang, last=series["month"].iloc[-1].strftime("%Y-%m"))


def _row(rows, name: str) -> dict | None:
    return next((r for r in rows if r["name"] == name), None)


def summary(bench: Benchmark, rows, *, lang: str = "nl") -> str:
    """Plain sentences with the key numbers, built from the checked results rows ``rows`` (``run.estimates``);
    the funnel wording follows its limits."""
    from analysis.report.labels import fmt_number, fmt_pct, t

    rows = tuple(rows)
    density = _row(rows, "bijstand_density")
    if density is None or density["estimate"] is None:
        return t("benchmark.summary_withheld", lang, code=bench.name, year=bench.year)
    me = bench.me
    others = bench.peers[bench.peers["region"] != bench.municipality]["density"].dropna()
    work = _row(rows, "outflow_to_work_rate")
    text = t(
        "benchmark.summary_named", lang, name=bench.name, year=bench.year,
        density=fmt_number(density["estimate"], lang, digits=1),
        share_peers=share_in_words(int((others < me["density"]).sum()), len(others), lang),
        percentile=fmt_number(100 * _row(rows, "percentile_bijstand_density")["estimate"], lang, digits=0),
        work=(t("suppressed_short", lang) if work is None or work["estimate"] is None
              else fmt_pct(work["estimate"], lang)),
    )
    positions = []
    for key, result in FUNNEL_RESULTS.items():
        row = _row(rows, f"funnel_position_{result}")
        if row is None or row.get("suppressed") or row.get("position") is None:  # no funnel for it
            continue
        position = row["position"].replace("99.8", "998")
        positions.append(t(f"benchmark.position.{position}", lang, indicator=t(f"benchmark.funnel.{key}", lang).lower()))
    if positions:
        text += " " + t("benchmark.positions", lang, items="; ".join(positions))
    return text
