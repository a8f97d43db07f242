"""The benchmark's adjusted comparison on aggregates: observed against expected given public covariates.

Where the municipality's population is known from CBS's regional key figures (StatLine 70072ned,
"Regionale kerncijfers Nederland": age shares, non-western migration background, single-person
households and households with children, mean disposable household income, rented dwellings,
address density), a municipal-level quasi-Poisson GLM of each indicator's count on the standardised
covariates, with the log of its denominator as offset (statsmodels, Pearson-scaled), gives every
municipality an expected count ``E``; ``O / E`` is compared in the same overdispersion-aware funnel as
the raw rates (:func:`analysis.estimators.standardisation.compare_units`, binomial variance
``E (1 - E / n)``). The municipalities' spread that the covariates explain no longer counts against
them: on CBS 2015 the additive tau^2 falls from 0.12 to 0.014 for density and from 0.086 to 0.014 for
inflow.

The key figures are read from ``<statline_dir>/KEY_FIGURES`` (one row per municipality and year, the
columns of :data:`COVARIATES`); data/statline/README.md says where they come from. Where the file or
the year is absent, :func:`key_figures` returns None and the study says so in a sentence.

Disclosure: the inputs are CBS's own public figures; the model adds expected counts and ratios of
published counts (no person-level data).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import DataValidationError, ParameterError

#: The key figures file in a StatLine directory.
KEY_FIGURES = "regionale_kerncijfers_gemeenten.csv"
#: Covariates of the aggregate model (percentages unless named otherwise) and the sign a source expects
#: for bijstand density, where one does: SCP's model behind the BUIG budget (the "verdeelmodel") finds
#: more bijstand with lower incomes, more residents with a non-western migration background and more
#: single-person households; 0 where we claim no direction.
COVARIATES = {
    "pct_age_25_44": 0, "pct_age_45_64": 0, "pct_age_65_plus": 0, "pct_non_western": +1,
    "pct_single_person_households": +1, "pct_households_with_children": 0, "pct_rented_dwellings": 0,
    "mean_household_income_keur": -1, "address_density": 0,
}


def key_figures(directory: Path, year: int) -> pd.DataFrame | None:
    """The municipalities' key figures of ``year`` (code + :data:`COVARIATES`), or None where the directory
    has no key figures for that year. A file with missing columns or values is refused."""
    path = Path(directory) / KEY_FIGURES
    if not path.is_file():
        return None
    frame = pd.read_csv(path, dtype={"code": str})
    missing = [c for c in ("year", "code", *COVARIATES) if c not in frame.columns]
    if missing:
        raise DataValidationError(f"{path.name}: columns {missing} are missing; the file needs year, code and "
                                  f"{', '.join(COVARIATES)} (data/statline/README.md).")
    frame = frame[frame["year"] == int(year)]
    if frame.empty:
        return None
    bad = frame[list(COVARIATES)].isna().any(axis=1)
    if bad.any():
        raise DataValidationError(f"{path.name}: {int(bad.sum())} municipalities of {year} lack a covariate "
                                  f"(e.g. {', '.join(frame.loc[bad, 'code'].head(5))}); fix the file.")
    return frame[["code", *COVARIATES]].reset_index(drop=True)


@dataclass(frozen=True)
class AdjustedFunnel:
    """One indicator's adjusted comparison: the GLM's coefficients and scale, and the funnel of O/E."""

    indicator: str
    params: pd.Series  # per standard deviation of each covariate (log rate ratio), with the constant
    scale: float  # Pearson chi-square / df of the quasi-Poisson fit
    comparison: object  # standardisation.StandardisedComparison (units: municipality codes)
    raw_tau2: float

    @property
    def table(self) -> pd.DataFrame:
        return self.comparison.table


def expected_counts(count, denominator, covariates: pd.DataFrame) -> tuple[np.ndarray, pd.Series, float]:
    """Quasi-Poisson GLM of ``count`` on the standardised ``covariates`` with offset ``log(denominator)``:
    ``(expected counts, coefficients, Pearson scale)``. With a constant the expected counts sum to the
    observed (the Poisson score equation)."""
    import statsmodels.api as sm

    count = np.asarray(count, float)
    den = np.asarray(denominator, float)
    if (den <= 0).any() or (count < 0).any() or len(count) != len(covariates):
        raise ParameterError("expected_counts: counts >= 0, denominators > 0, one covariate row per unit.")
    x = covariates.astype(float)
    sd = x.std(ddof=0)
    x = (x.loc[:, sd > 0] - x.loc[:, sd > 0].mean()) / sd[sd > 0]
    design = sm.add_constant(x, has_constant="add")
    fit = sm.GLM(count, design, family=sm.families.Poisson(), offset=np.log(den)).fit(scale="X2")
    return np.asarray(fit.fittedvalues, float), pd.Series(fit.params, index=design.columns), float(fit.scale)


def adjusted_funnels(frame: pd.DataFrame, figures: pd.DataFrame, funnels: dict, raw: dict, *,
                     method: str = "additive") -> dict:
    """Per funnel indicator (``{key: (numerator, denominator)}``) the :class:`AdjustedFunnel` over the
    municipalities with a published numerator, denominator and key figures (None where too few)."""
    from analysis.estimators.standardisation import compare_units

    data = frame.merge(figures, left_on="region", right_on="code", how="inner")
    out = {}
    for key, (num, den) in funnels.items():
        d = data[[num, den, "region", *COVARIATES]].dropna()
        d = d[(d[den] > 0) & (d[num] <= d[den])]
        if len(d) < len(COVARIATES) + 3 or raw.get(key) is None:
            out[key] = None
            continue
        expected, params, scale = expected_counts(d[num], d[den], d[list(COVARIATES)])
        units = pd.DataFrame({"unit": d["region"].to_numpy(), "n": d[den].to_numpy(), "observed": d[num].to_numpy(),
                              "expected": expected, "variance": expected * (1 - expected / d[den].to_numpy())})
        comparison = compare_units(units, method="multiplicative" if method == "multiplicative" else "additive",
                                   draws=200)
        out[key] = AdjustedFunnel(indicator=key, params=params, scale=scale, comparison=comparison,
                                  raw_tau2=raw[key].overdispersion.tau2)
    return out


def adjusted_rows(municipality: str, adjusted: dict, results: dict) -> list[dict]:
    """results.json rows: ``adjusted_ratio_<indicator>_<code>`` of the municipality (O/E with its exact
    Poisson interval, and its funnel position), and ``adjusted_overdispersion_<indicator>`` (phi, tau^2 and
    the raw tau^2 beside it) with the share outside the 99.8 % limits."""
    rows = []
    for key, adj in adjusted.items():
        name = results[key]
        if adj is None:
            rows.append({"name": f"adjusted_overdispersion_{name}", "estimate": None, "se": None, "ci_low": None,
                         "ci_high": None, "n": None, "unit": "tau2", "suppressed": True})
            continue
        od, tab = adj.comparison.overdispersion, adj.table
        rows.append({"name": f"adjusted_overdispersion_{name}", "estimate": od.tau2, "se": None, "ci_low": None,
                     "ci_high": None, "n": len(tab), "unit": "tau2", "suppressed": False, "phi": od.phi,
                     "raw_tau2": adj.raw_tau2, "quasi_poisson_scale": adj.scale,
                     "outside_998_share": adj.comparison.outside_share(0.998)})
        mine = tab[tab["unit"] == municipality]
        if mine.empty:
            continue
        m = mine.iloc[0]
        rows.append({"name": f"adjusted_ratio_{name}_{municipality}", "estimate": float(m["ratio"]),
                     "se": float(m["se"]), "ci_low": float(m["ci_lower"]), "ci_high": float(m["ci_upper"]),
                     "n": int(m["n"]), "unit": "ratio", "suppressed": False, "expected": float(m["expected"]),
                     "position": str(m["position"])})
    return rows


#: Where the key figures come from (data/statline/README.md).
KEY_FIGURES_SOURCE = "CBS StatLine 70072ned (Regionale kerncijfers Nederland)"


def adjusted_table(bench, adjusted: dict, raw: dict, *, lang: str = "nl"):
    """The municipality's raw and adjusted position per indicator, as a checked public table with its caption:
    ``(table, caption)``; ``(None, sentence)`` where no adjusted comparison could be made."""
    from analysis.report.disclosure import public_table
    from analysis.report.labels import fmt_number, fmt_pct, t

    rows = []
    for key, adj in adjusted.items():
        funnel = raw.get(key)
        if adj is None or funnel is None:
            continue
        mine = adj.table[adj.table["unit"] == bench.municipality]
        mine_raw = funnel.table[funnel.table["unit"] == bench.municipality]
        if mine.empty or mine_raw.empty:
            continue
        m, r = mine.iloc[0], mine_raw.iloc[0]
        rows.append({
            t("benchmark.indicator", lang): t(f"benchmark.funnel.{key}", lang),
            t("benchmark.adjusted.raw", lang): fmt_pct(float(r["rate"]), lang),
            t("benchmark.adjusted.raw_position", lang): t(f"benchmark.adjusted.pos.{r['position'].replace('.', '')}", lang),
            t("benchmark.adjusted.ratio", lang): fmt_number(float(m["ratio"]), lang, digits=2),
            t("benchmark.adjusted.interval", lang): (f"{fmt_number(float(m['ci_lower']), lang, digits=2)} - "
                                                     f"{fmt_number(float(m['ci_upper']), lang, digits=2)}"),
            t("benchmark.adjusted.position", lang): t(f"benchmark.adjusted.pos.{m['position'].replace('.', '')}", lang),
            t("benchmark.adjusted.tau", lang): (f"{fmt_number(np.sqrt(adj.raw_tau2), lang, digits=2)} / "
                                                f"{fmt_number(np.sqrt(adj.comparison.overdispersion.tau2), lang, digits=2)}"),
        })
    if not rows:
        return None, t("benchmark.adjusted.none", lang, name=bench.name, year=bench.year)
    table = public_table(pd.DataFrame(rows), name="adjusted", source=f"{KEY_FIGURES_SOURCE}; 83450NED, 83747NED, 84066NED")
    return table, t("benchmark.adjusted.caption", lang, name=bench.name, year=bench.year)
