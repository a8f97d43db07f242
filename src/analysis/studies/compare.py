"""Study "compare": municipalities compared once their population is taken into account.

What only this study composes, as plain functions of typed objects (the notebook
notebooks/50_compare.py calls them cell by cell; nothing here holds state or
writes to the report):

- :func:`check_parameters`: outcome, year, covariates and period against the dataset;
- :func:`units`: one row per unit at risk of the outcome, from a :class:`~analysis.kit.population.Population`
  (:class:`Units`, frozen), with the covariates used and those dropped (absent from the dataset, or
  constant in the population, e.g. ``sex`` when only women are studied);
- :func:`reference_model`: a person-level logit of the outcome on the covariates, their effects estimated
  within municipalities and applied with one common intercept (``None`` where it cannot be fitted);
- :func:`raw_rates` / :func:`raw_rate_rows`: the raw rate per municipality, checked;
- :func:`standardise` / :func:`comparison_rows`: observed, expected and O/E per published municipality
  with an exact Poisson interval, overdispersion (Spiegelhalter 2005), empirical-Bayes shrinkage and ranks;
- :func:`funnel_figure`, :func:`comparison_table`, :func:`peers_table`, :func:`methods_text`,
  :func:`summary_text`: what the report shows, built from the checked results rows.

The numerical core is ``analysis.estimators.standardisation``.

Outcomes (``year`` = Y; the municipality is the one in ``persons``):
- ``bijstand``: bijstand on 31 December of Y, persons aged age_min..age_max (age = Y - birth year);
  covariates on that date (partnered: a union running that day, from ``partnerships``), prior benefit
  receipt (a WW, WIA or other spell in the 12 months before, from ``benefit_spells``) for every person;
- ``inflow``: a new bijstand spell starting in Y, persons without bijstand in December of Y-1
  (one person-year at risk each); covariates in December of Y-1;
- ``outflow_to_work``: a person's first bijstand spell running in Y ends in Y with a job starting
  within 31 days; covariates in December of Y-1;
- ``participation_ladder``: the last step measured in Y is 5 or 6 (paid work), persons with a
  measurement in Y (datasets with the ladder table only).

Disclosure (issue #13): a municipality's ratio times its expected count is its
observed count, so a municipality is published only where its raw rate passes
the share rule (n, numerator and complement at least 10, with secondary
suppression against the published total); overdispersion, shrinkage, ranks and
the share outside the limits are computed from the published municipalities
only, so they reveal nothing about a withheld one. The model's fit is
published only with at least 10 residual degrees of freedom.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, check_choice

OUTCOMES = ("bijstand", "inflow", "outflow_to_work", "participation_ladder")
COVARIATES = ("sex", "age_band", "education", "migration_background", "partnered", "prior_benefit")
OPTIONAL_COLUMNS = {"education": "education", "migration_background": "migration_background"}
AGE_BANDS = [(0, 26), (27, 34), (35, 44), (45, 54), (55, 200)]
N_PEERS = 5
PAID_WORK_STEPS = (5, 6)
#: At least this many municipalities must be published before they are compared with each other.
MIN_PUBLISHED = 3


def check_parameters(dataset, *, outcome: str, year: int, covariates: Sequence[str], age_min: int = 18,
                     age_max: int = 66, sex: str = "all", first_year: int | None = None,
                     last_year: int | None = None) -> None:
    """Refuse an outcome, year, covariate or period this dataset cannot give (a ParameterError that says why)."""
    check_choice("outcome", outcome, OUTCOMES)
    check_choice("sex", sex, ("all", "F", "M"))
    for c in covariates:
        check_choice("covariates", c, COVARIATES)
    if not (isinstance(age_min, int) and isinstance(age_max, int)) or not 0 <= age_min <= age_max <= 120:
        raise ParameterError(f"age_min={age_min!r}, age_max={age_max!r}: give whole ages with 0 <= age_min <= "
                             "age_max <= 120 (for example 18 and 66).")
    start, end = dataset.meta["observation_start"], dataset.meta["observation_end"]
    first = start.year + 1  # covariates look 12 months back
    last = end.year if (end.month, end.day) == (12, 31) else end.year - 1
    if not isinstance(year, int) or not first <= year <= last:
        raise ParameterError(f"year={year!r} is outside this dataset; give a full calendar year from {first} to "
                             f"{last} (the year before it must be observed too).")
    if first_year is not None and last_year is not None and not first_year <= year <= last_year:
        raise ParameterError(f"year={year} lies outside the study period first_year={first_year}..last_year="
                             f"{last_year}; give a year inside the period, or widen the period.")
    if outcome == "participation_ladder" and dataset.tables.get("participation_ladder") is None:
        raise ParameterError("outcome='participation_ladder' needs the optional participation_ladder table, which "
                             "this dataset does not have; choose bijstand, inflow or outflow_to_work.")


@dataclass(frozen=True)
class Units:
    """The units at risk of the outcome, one row each: ``y``, ``municipality_code`` and the covariates."""

    frame: pd.DataFrame = field(repr=False)
    outcome: str
    year: int
    covariates_used: tuple[str, ...]
    covariates_absent: tuple[str, ...]  # the dataset lacks them
    covariates_constant: tuple[str, ...]  # one value in the whole population (e.g. sex when only women)
    codes: tuple[str, ...]  # every municipality of the dataset: one without units is a withheld row, never absent
    names: Mapping[str, str] = field(repr=False)  # municipality code -> name

    def __len__(self) -> int:
        return len(self.frame)

    def name(self, code: str) -> str:
        return self.names.get(code, code)

    def __repr__(self) -> str:
        return (f"Units({self.outcome} {self.year}: {len(self)} units in {len(self.codes)} municipalities; "
                f"covariates {', '.join(self.covariates_used) or 'none'})")


def _age_band(age: pd.Series, age_min: int, age_max: int) -> pd.Series:
    out = pd.Series(pd.NA, index=age.index, dtype="string")
    for lo, hi in AGE_BANDS:
        lo, hi = max(lo, age_min), min(hi, age_max)
        if lo <= hi:
            out[(age >= lo) & (age <= hi)] = f"{lo}-{hi}"
    return out


def units(pop, *, outcome: str, year: int, covariates: Sequence[str]) -> Units:
    """One row per unit (person, or person's first spell) of the population ``pop`` at risk of ``outcome``
    in ``year``: outcome ``y``, municipality and covariates. Persons count where their age in ``year`` lies
    in the population's age band."""
    check_choice("outcome", outcome, OUTCOMES)
    d = pop.definition
    dataset = pop.store.dataset
    ref = year * 12 + 11 if outcome == "bijstand" else year * 12 - 1  # covariates' reference month
    con = pop.connect()
    base = f"""SELECT p.person_id, p.municipality_code, p.sex, {int(year)} - p.birth_year AS age,
                      p.education, p.migration_background
               FROM population_persons p
               WHERE {int(year)} - p.birth_year BETWEEN {int(d.age_min)} AND {int(d.age_max)}"""
    if outcome == "bijstand":
        sql = f"""SELECT b.*, CAST(EXISTS (SELECT 1 FROM bijstand_spells s WHERE s.person_id = b.person_id
                      AND s.start_date <= DATE '{year}-12-31' AND s.end_date >= DATE '{year}-12-31') AS INT) AS y
                  FROM ({base}) b"""
    elif outcome == "inflow":
        sql = f"""SELECT b.*, CAST(EXISTS (SELECT 1 FROM bijstand_spells s WHERE s.person_id = b.person_id
                      AND year(s.start_date) = {year}) AS INT) AS y
                  FROM ({base}) b
                  WHERE NOT EXISTS (SELECT 1 FROM person_month m WHERE m.person_id = b.person_id
                                    AND m.month = {ref} AND m.bijstand = 1)"""
    elif outcome == "outflow_to_work":
        sql = f"""WITH first_spell AS (
                    SELECT s.person_id, arg_min(s.spell_id, s.start_date) AS spell_id FROM bijstand_spells s
                    WHERE s.start_date <= DATE '{year}-12-31' AND s.end_date >= DATE '{year}-01-01'
                    GROUP BY s.person_id)
                  SELECT b.*, CAST(COALESCE(x.days_to_employment <= 31 AND year(x.end_date) = {year}, FALSE)
                                   AS INT) AS y
                  FROM ({base}) b JOIN first_spell f USING (person_id)
                  LEFT JOIN bijstand_exits x ON x.person_id = f.person_id AND x.spell_id = f.spell_id"""
    else:
        ladder = dataset.tables["participation_ladder"][["person_id", "date", "step"]]
        ladder = ladder[pd.to_datetime(ladder["date"]).dt.year == year].sort_values("date")
        con.register("ladder_last", ladder.groupby("person_id", as_index=False).last())
        sql = f"""SELECT b.*, CAST(l.step IN {PAID_WORK_STEPS} AS INT) AS y
                  FROM ({base}) b JOIN ladder_last l USING (person_id)"""
    # partnered and prior benefit come from the contract's own tables for every person: the store's
    # person_month holds only bijstand recipients, between their first and last bijstand month, so read
    # from it they were 0 for nearly everyone at risk and 1 only for persons with bijstand after the
    # reference date (the outcome leaking into its own covariate)
    ref_date = f"DATE '{ref // 12}-12-31'"  # the reference month is always a December
    window = (f"DATE '{ref // 12 - 1}-12-01'", f"DATE '{ref // 12}-11-30'")  # the 12 months before it
    end = dataset.meta["observation_end"]
    con.register("contract_partnerships", dataset.tables["partnerships"][["person_id", "start_date", "end_date"]])
    spells = dataset.tables["benefit_spells"]
    con.register("contract_other_benefits", spells.loc[spells["benefit"] != "bijstand",
                                                       ["person_id", "start_date", "end_date"]])
    frame = con.execute(f"""
        WITH units AS ({sql}),
        partnered AS (SELECT DISTINCT person_id FROM contract_partnerships
                      WHERE start_date::DATE <= {ref_date}
                        AND COALESCE(end_date::DATE, DATE '{end.isoformat()}') >= {ref_date}),
        prior AS (SELECT DISTINCT person_id FROM contract_other_benefits
                  WHERE start_date::DATE <= {window[1]}
                    AND COALESCE(end_date::DATE, DATE '{end.isoformat()}') >= {window[0]})
        SELECT u.*, CAST(pt.person_id IS NOT NULL AS INT) AS partnered,
               CAST(pr.person_id IS NOT NULL AS INT) AS prior_benefit
        FROM units u LEFT JOIN partnered pt USING (person_id) LEFT JOIN prior pr USING (person_id)
        ORDER BY u.person_id""").df()
    frame["age_band"] = _age_band(frame["age"], d.age_min, d.age_max)
    frame["partnered"] = frame["partnered"].astype(int).astype(str)
    frame["prior_benefit"] = frame["prior_benefit"].astype(int).astype(str)
    persons = dataset.tables["persons"]
    used, absent, constant = [], [], []
    for c in covariates:
        col = OPTIONAL_COLUMNS.get(c)
        if col is not None and (col not in persons.columns or persons[col].isna().all()):
            absent.append(c)
        elif len(frame) and frame[c].astype("string").fillna("unknown").nunique() < 2:
            constant.append(c)
        else:
            used.append(c)
    codes = tuple(sorted(persons["municipality_code"].dropna().astype(str).unique()))
    table = dataset.tables.get("municipalities")
    names = dict(zip(table["municipality_code"], table["name"])) if table is not None else {}
    return Units(frame=frame, outcome=outcome, year=int(year), covariates_used=tuple(used),
                 covariates_absent=tuple(absent), covariates_constant=tuple(constant), codes=codes, names=names)


def covariates_sentence(u: Units, *, lang: str) -> str:
    """Which covariates the expected outcome takes into account, and which were dropped and why."""
    from analysis.report.labels import t

    def listed(covs):
        return ", ".join(t(f"compare.cov.{c}", lang) for c in covs)

    text = t("compare.covariates_used", lang, covariates=listed(u.covariates_used) or t("compare.cov.none", lang))
    if u.covariates_absent:
        text += " " + t("compare.covariates_dropped", lang, covariates=listed(u.covariates_absent))
    if u.covariates_constant:
        text += " " + t("compare.covariates_constant", lang, covariates=listed(u.covariates_constant))
    return text


def reference_model(u: Units):
    """The logit of the outcome on the covariates, their effects estimated within municipalities (a fixed
    effect each) and applied with one common intercept: each unit's expected outcome given who it is, not
    where it lives (``None`` if it cannot be fitted). Without the municipal effects the covariates' effects
    absorb the municipalities' own wherever composition and municipal effect go together, and every
    ratio inherits that bias (:func:`analysis.estimators.standardisation.expected_outcome`)."""
    from analysis.estimators.standardisation import expected_outcome

    if u.frame.empty or u.frame["y"].nunique() < 2:
        return None
    return expected_outcome(u.frame, outcome="y", covariates=list(u.covariates_used), within="municipality_code")


def raw_rates(u: Units, *, policy, log):
    """The raw rate per municipality as a checked table (every municipality a row; the national total is
    published with it, so withheld municipalities are protected against it)."""
    from analysis.report.disclosure import safe_aggregate

    return safe_aggregate(u.frame, by=["municipality_code"], value="y", stat="share", total_published=True,
                          levels={"municipality_code": list(u.codes)}, name=f"raw_rate_{u.outcome}",
                          policy=policy, log=log)


def published(raw) -> tuple[str, ...]:
    """The municipalities whose raw rate passed disclosure control."""
    return tuple(raw.frame.loc[~raw["suppressed"].to_numpy(), "municipality_code"].tolist())


def raw_rate_rows(u: Units, raw) -> list[dict]:
    """Results rows ``raw_rate_<outcome>_<code>`` (share, binomial standard error, ``n`` from the table)."""
    shown = set(published(raw))
    rows = []
    for code, r in raw.frame.set_index("municipality_code").iterrows():
        held = code not in shown
        p = r["value"]
        rows.append({"name": f"raw_rate_{u.outcome}_{code}", "estimate": None if held else float(p),
                     "se": None if held else float(np.sqrt(p * (1 - p) / r["n"])),
                     "ci_low": None, "ci_high": None, "n": None if held else int(r["n"]), "unit": "share",
                     "suppressed": held})
    return rows


def _unit_counts(frame: pd.DataFrame, model) -> pd.DataFrame:
    f = frame.assign(p=model.expected, v=model.expected * (1 - model.expected))
    g = f.groupby("municipality_code", sort=True)
    return pd.DataFrame({"unit": g.size().index, "n": g.size().to_numpy(), "observed": g["y"].sum().to_numpy(),
                         "expected": g["p"].sum().to_numpy(), "variance": g["v"].sum().to_numpy()})


def standardise(u: Units, model, raw, *, seed: int = 0):
    """O, E, O/E, overdispersion, shrinkage and ranks of the published municipalities
    (:class:`~analysis.estimators.standardisation.StandardisedComparison`), computed from them only;
    ``None`` without a model or with fewer than :data:`MIN_PUBLISHED` published municipalities."""
    from analysis.estimators.standardisation import compare_units

    shown = published(raw)
    if model is None or len(shown) < MIN_PUBLISHED:
        return None
    counts = _unit_counts(u.frame, model)
    return compare_units(counts[counts["unit"].isin(shown)], seed=seed)


def _null(name: str, unit: str) -> dict:
    return {"name": name, "estimate": None, "se": None, "ci_low": None, "ci_high": None, "n": None, "unit": unit,
            "suppressed": True}


def comparison_rows(u: Units, comp) -> list[dict]:
    """Results rows of the comparison: per municipality ``adjusted_ratio_``, ``shrunken_ratio_`` and
    ``rank_<outcome>_<code>`` (withheld ones as withheld rows), then ``overdispersion_``,
    ``overdispersion_tau2_`` and ``outside_998_share_<outcome>``; ``n`` from the comparison's table."""
    outcome = u.outcome
    if comp is None:
        return ([_null(f"overdispersion_{outcome}", "phi"), _null(f"outside_998_share_{outcome}", "share")]
                + [_null(f"adjusted_ratio_{outcome}_{code}", "ratio") for code in u.codes])
    tab = comp.table.set_index("unit")
    rows = []
    for code in u.codes:
        if code not in tab.index:
            rows.append(_null(f"adjusted_ratio_{outcome}_{code}", "ratio"))
            continue
        r = tab.loc[code]
        n = int(r["n"])
        rows += [{"name": f"adjusted_ratio_{outcome}_{code}", "estimate": float(r["ratio"]), "se": float(r["se"]),
                  "ci_low": float(r["ci_lower"]), "ci_high": float(r["ci_upper"]), "n": n, "unit": "ratio",
                  "suppressed": False},
                 {"name": f"shrunken_ratio_{outcome}_{code}", "estimate": float(r["shrunken"]), "se": None,
                  "ci_low": float(r["shrunken_lower"]), "ci_high": float(r["shrunken_upper"]), "n": n,
                  "unit": "ratio", "suppressed": False},
                 {"name": f"rank_{outcome}_{code}", "estimate": float(r["rank"]), "se": None,
                  "ci_low": float(r["rank_lower"]), "ci_high": float(r["rank_upper"]), "n": n, "unit": "rank",
                  "suppressed": False}]
    n_pub, od = int(tab["n"].sum()), comp.overdispersion
    for name, value, unit in ((f"overdispersion_{outcome}", od.phi, "phi"),
                              (f"overdispersion_tau2_{outcome}", od.tau2, "tau2"),
                              (f"outside_998_share_{outcome}", comp.outside_share(0.998), "share_of_municipalities")):
        rows.append({"name": name, "estimate": float(value), "se": None, "ci_low": None, "ci_high": None,
                     "n": n_pub, "unit": unit, "suppressed": False})
    return rows


def rows_table(rows: Mapping[str, Mapping], prefix: str, codes: Sequence[str], *, name: str, policy, log):
    """A checked table keyed by municipality code from the checked results rows ``<prefix><code>``."""
    from analysis.report.disclosure import checked_estimates

    out = []
    for code in codes:
        row = dict(rows.get(f"{prefix}{code}") or _null("", "ratio"))
        row["name"] = code
        out.append(row)
    return checked_estimates(out, name=name, key="municipality_code", policy=policy, log=log)


def comparison_table(u: Units, raw, comp, rows: Mapping[str, Mapping], *, lang: str, policy, log):
    """Raw rate, adjusted ratio with interval, shrunken ratio and rank interval per municipality:
    ``(checked table, caption, number formats, note)``."""
    from analysis.report.checked import combine
    from analysis.report.labels import t

    outcome = u.outcome
    head = {c: t(f"compare.head.{c}", lang) for c in ("persons", "raw", "ratio", "ratio_low", "ratio_high",
                                                        "shrunken", "rank_low", "rank_high")}
    if head["ratio_high"] == head["rank_high"]:  # "tot" twice: columns must differ; a thin space tells them apart
        head["rank_high"] += "\u2009"
    parts = [(head["persons"], raw, "n"), (head["raw"], raw, "value")]
    if comp is not None:
        def table(prefix, name):
            return rows_table(rows, prefix, u.codes, name=name, policy=policy, log=log)

        adj = table(f"adjusted_ratio_{outcome}_", f"adjusted_ratio_{outcome}")
        shr = table(f"shrunken_ratio_{outcome}_", f"shrunken_ratio_{outcome}")
        rank = table(f"rank_{outcome}_", f"rank_{outcome}")
        parts += [(head["ratio"], adj, "estimate"), (head["ratio_low"], adj, "ci_low"),
                  (head["ratio_high"], adj, "ci_high"), (head["shrunken"], shr, "estimate"),
                  (head["rank_low"], rank, "ci_low"), (head["rank_high"], rank, "ci_high")]
    shown = combine(parts, on=["municipality_code"], name=f"compare_{outcome}")
    shown = shown.relabel("municipality_code", u.name, into="name")
    shown = shown.select([c for c in shown.columns if c != "municipality_code"])
    if comp is not None:
        shown = shown.sort(head["ratio"])
    shown = shown.rename({"name": t("municipality", lang)})
    formats = {head["persons"]: "int", head["raw"]: "pct"}
    formats.update({head[c]: "num2" for c in ("ratio", "ratio_low", "ratio_high", "shrunken")})
    formats.update({head[c]: "int" for c in ("rank_low", "rank_high")})
    caption = t("compare.table_caption", lang, outcome=t(f"compare.outcome.{outcome}", lang), year=u.year)
    return shown, caption, formats, t("compare.head_note", lang) + " " + t("compare.table_note", lang)


def composition(frame: pd.DataFrame, covariates) -> pd.DataFrame:
    """Per municipality the shares of each covariate level (the population's composition)."""
    parts = []
    for c in covariates:
        parts.append(pd.crosstab(frame["municipality_code"], frame[c].astype("string").fillna("unknown"),
                                 normalize="index").add_prefix(f"{c}="))
    return pd.concat(parts, axis=1).fillna(0.0) if parts else pd.DataFrame(index=sorted(frame["municipality_code"].unique()))


@dataclass(frozen=True)
class Peers:
    """Each municipality's nearest peers by composition ("vergelijkbare gemeenten"): codes, and the table of names."""

    found: Mapping[str, list]
    table: Any  # CheckedTable (names only) or None
    caption: str


def peers_table(u: Units, raw, *, lang: str, k: int = N_PEERS) -> Peers:
    """Each municipality's ``k`` nearest peers by the composition of its units (names only)."""
    from analysis.estimators.standardisation import nearest_peers
    from analysis.report.labels import t

    comp = composition(u.frame, u.covariates_used)
    if len(comp) < 2 or comp.shape[1] == 0:
        return Peers(found={}, table=None, caption="")
    found = nearest_peers(comp, k=k)
    text = {code: ", ".join(u.name(c) for c in found.get(code, [])) for code in raw.frame["municipality_code"]}
    shown = raw.relabel("municipality_code", lambda c: text.get(c, ""), into="peers")
    shown = shown.relabel("municipality_code", u.name, into="name")
    shown = shown.select(["name", "peers"]).rename({"name": t("municipality", lang),
                                                    "peers": t("compare.col.peers", lang)})
    return Peers(found=found, table=shown, caption=t("compare.peers_caption", lang, k=k))


def methods_text(u: Units, comp, *, lang: str) -> list[str]:
    """The methods paragraphs: definition, model, limits and shrinkage, and what the comparison cannot say."""
    from analysis.report.labels import fmt_number, t

    out = [t(f"compare.definition.{u.outcome}", lang, year=u.year), t("compare.methods_model_within", lang)]
    if comp is not None:
        od = comp.overdispersion
        key = "compare.methods_funnel" if od.tau2 > 0 else "compare.methods_funnel_none"
        if od.estimator == "consistent":
            key += "_consistent"
        out.append(t(key, lang, phi=fmt_number(od.phi, lang, digits=2),
                     tau=fmt_number(np.sqrt(od.tau2), lang, digits=3), units=od.n_units))
    out.append(t("compare.methods_caveat", lang))
    return out


def summary_text(u: Units, comp, rows: Mapping[str, Mapping], *, municipality: str, lang: str,
                 min_units: int) -> list[str]:
    """The summary for a council, from the checked results rows: where the municipality stands once its
    population is taken into account (with ``municipality='all'``: how many lie outside the limits)."""
    from analysis.report.labels import fmt_int, fmt_number, fmt_pct, t

    outcome, what = u.outcome, t(f"compare.outcome.{u.outcome}", lang)
    out = [t("compare.summary_intro", lang, outcome=what, year=u.year)]
    if comp is None:
        return out + [t("compare.summary_none", lang, min_units=min_units)]
    if municipality == "all":
        tab, outside = comp.table, rows[f"outside_998_share_{outcome}"]
        above, below = int((tab["position"] == "above_99.8").sum()), int((tab["position"] == "below_99.8").sum())
        if above + below == 0:
            out.append(t("compare.summary_all_inside", lang, units=fmt_int(len(tab), lang)))
        else:
            out.append(t("compare.summary_all", lang, units=len(tab), above=fmt_int(above, lang),
                         below=fmt_int(below, lang),
                         share=fmt_pct(outside["estimate"], lang) if not outside["suppressed"] else "x"))
    else:
        row = rows[f"adjusted_ratio_{outcome}_{municipality}"]
        if row["suppressed"]:
            out.append(t("compare.summary_withheld", lang, name=u.name(municipality), min_units=min_units))
        else:
            raw, rank = rows[f"raw_rate_{outcome}_{municipality}"], rows[f"rank_{outcome}_{municipality}"]
            position = comp.table.set_index("unit").loc[municipality, "position"]
            out.append(t(
                "compare.summary_one", lang, name=u.name(municipality), raw=fmt_pct(raw["estimate"], lang),
                ratio=fmt_number(row["estimate"], lang, digits=2), low=fmt_number(row["ci_low"], lang, digits=2),
                high=fmt_number(row["ci_high"], lang, digits=2), units=len(comp.table),
                rank_low=fmt_int(rank["ci_low"], lang), rank_high=fmt_int(rank["ci_high"], lang),
                position=t(f"compare.position.{position}", lang)))
    return out + [t("compare.summary_caveat", lang)]


from analysis.studies.compare_figure import funnel_figure, label_offsets  # noqa: E402  (re-exported)

__all__ = ["COVARIATES", "OUTCOMES", "Peers", "Units", "check_parameters", "comparison_rows", "comparison_table",
           "composition", "covariates_sentence", "funnel_figure", "label_offsets", "methods_text", "peers_table",
           "published", "raw_rate_rows", "raw_rates", "reference_model", "rows_table", "standardise",
           "summary_text", "units"]
