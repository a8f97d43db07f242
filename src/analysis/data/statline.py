"""CBS StatLine open data: read, clean and harmonise the Participatiewet tables.

Reads a local CSV export (as downloaded from StatLine) or, when there is
internet, a table through the ``cbsodata`` client, cached to
``data/raw/statline/<table-id>-<download-date>.csv``. Cleans what real exports
contain:

- values padded with spaces, and "." for "not available";
- region codes with trailing spaces (``"GM0363   "``);
- column names that drift between years (``Instromers_4`` in 2015,
  ``Instroom_4`` later): every known variant maps to one English name;
- counts rounded to tens by CBS (kept as published: see ``ROUNDING``);
- municipalities that merge between years: :func:`discontinued_codes` lists the
  codes that do not continue.

The age classes (``Leeftijd``) are CBS codes: 20150 all ages, 90100 under the
state pension age, 90200 from the state pension age.

Hand-written because no maintained package cleans these exports; ``cbsodata``
(optional) only downloads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import DataValidationError, ParameterError

#: CBS rounds the counts in these tables to tens.
ROUNDING = 10
AGE_CLASSES = {"20150": "all", "90100": "below_pension_age", "90200": "from_pension_age"}
#: The bundled exports: year -> (file, CBS table id).
BUNDLED = {
    2015: ("participatiewet_gemeente_2015.csv", "83450NED"),
    2016: ("participatiewet_gemeente_2016.csv", "83747NED"),
    2017: ("participatiewet_gemeente_2017.csv", "84066NED"),
}
NATIONAL_MONTHLY = ("cbs_37789ksz_uitkeringen_maand.csv", "37789ksz")

#: Column stems (name without the numeric suffix, which numbers columns in the table) -> our names.
#: A stem occurs twice where CBS publishes a count and then a percentage.
_STEMS = {
    "Inwoners": ["inhabitants"],
    "Bijstandsontvangers": ["recipients"],
    "Bijstandsdichtheid": ["density"],
    "Instromers": ["inflow", "inflow_pct"],
    "Instroom": ["inflow", "inflow_pct"],
    "Uitstromers": ["outflow", "outflow_pct"],
    "Uitstroom": ["outflow", "outflow_pct"],
    "UitstromersNaarWerk": ["outflow_to_work", "outflow_to_work_pct"],
    "UitstroomNaarWerk": ["outflow_to_work", "outflow_to_work_pct"],
    "PersonenMetReIntegratievoorziening": ["reintegration_persons"],
    "WerkendenNaReIntegratie": ["work_after_reintegration", "work_after_reintegration_pct"],
    "WerkNaReIntegratie": ["work_after_reintegration", "work_after_reintegration_pct"],
    "PersonenMetBijstandEnReIntegratie": ["recipients_with_reintegration"],
    "BijstandontvangersMetReIntegratie": ["recipients_with_reintegration_pct"],
    "BijstandsontvangersMetReIntegratie": ["recipients_with_reintegration_pct"],
    "ReIntegratieontvangersMetBijstand": ["reintegration_with_bijstand_pct"],
    "WSWWerknemers": ["wsw_employees"],
    "WSWDichtheid": ["wsw_density"],
}
_SUFFIX = re.compile(r"^(?P<stem>[A-Za-z]+)_(?P<num>\d+)$")


@dataclass(frozen=True)
class StatlineTable:
    """A cleaned StatLine table with where it came from."""

    table_id: str
    year: int | None
    frame: pd.DataFrame
    source: str
    column_map: dict

    @property
    def attribution(self) -> str:
        return f"CBS StatLine, table {self.table_id} (CC BY 4.0)"


def _clean_values(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].str.strip()
    return out


def _to_number(series: pd.Series, column: str) -> pd.Series:
    s = series.where(~series.isin([".", ""]))
    numbers = pd.to_numeric(s, errors="coerce")
    bad = s.notna() & numbers.isna()
    if bad.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(bad.to_numpy())[:5])
        raise DataValidationError(
            f"StatLine column {column}: {int(bad.sum())} values are not numbers or '.' (rows {rows})."
        )
    return numbers


def harmonise_columns(columns) -> dict:
    """Map StatLine column names (any year's variant) to stable English names."""
    mapping, seen = {}, {}
    for col in columns:
        m = _SUFFIX.match(col)
        if not m or m.group("stem") not in _STEMS:
            continue
        names = _STEMS[m.group("stem")]
        i = seen.get(tuple(names), 0)
        if i >= len(names):
            raise DataValidationError(f"StatLine column {col}: more columns of this kind than expected ({names}).")
        mapping[col] = names[i]
        seen[tuple(names)] = i + 1
    return mapping


def read_participatiewet(path: str | Path, *, table_id: str = "", year: int | None = None) -> StatlineTable:
    """Read one Participatiewet-per-municipality export and clean it.

    Returns one row per region and age class with columns ``region`` (code),
    ``region_type`` (NL, LD, PV, GM, ...), ``age_class`` and the harmonised
    indicator columns (counts and CBS's published percentages).
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"StatLine file {str(path)!r} does not exist.")
    raw = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    missing = {"Leeftijd", "Regiokenmerken"} - set(raw.columns)
    if missing:
        raise DataValidationError(f"{path.name}: missing StatLine columns {sorted(missing)}; is this a Participatiewet table?")
    raw = _clean_values(raw)
    mapping = harmonise_columns(raw.columns)
    frame = pd.DataFrame({
        "region": raw["Regiokenmerken"],
        "region_type": raw["Regiokenmerken"].str[:2],
        "age_class": raw["Leeftijd"].map(AGE_CLASSES).fillna(raw["Leeftijd"]),
    })
    for col, name in mapping.items():
        frame[name] = _to_number(raw[col], col)
    if year is None:
        m = re.search(r"(20\d\d)", path.stem)
        year = int(m.group(1)) if m else None
    frame["year"] = year
    return StatlineTable(table_id=table_id, year=year, frame=frame, source=str(path), column_map=mapping)


def bundled_dir() -> Path:
    from analysis.paths import project_root

    return project_root() / "data" / "statline"


def load_participatiewet(years=(2015, 2016, 2017), *, directory: str | Path | None = None) -> pd.DataFrame:
    """The bundled (or given directory's) Participatiewet tables for ``years``, stacked."""
    directory = Path(directory) if directory else bundled_dir()
    parts = []
    for y in years:
        if y not in BUNDLED:
            raise ParameterError(f"year={y} has no bundled StatLine table; available: {sorted(BUNDLED)}.")
        file, table_id = BUNDLED[y]
        t = read_participatiewet(directory / file, table_id=table_id, year=y)
        parts.append(t.frame.assign(table_id=table_id))
    return pd.concat(parts, ignore_index=True)


def read_national_monthly(path: str | Path | None = None) -> pd.DataFrame:
    """CBS 37789ksz: national benefit counts per month (x 1000); columns month (Timestamp) + series."""
    path = Path(path) if path else bundled_dir() / NATIONAL_MONTHLY[0]
    raw = _clean_values(pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False))
    monthly = raw[raw["Perioden"].str.contains("MM")]
    out = pd.DataFrame({"month": pd.to_datetime(monthly["Perioden"].str.replace("MM", "-") + "-01")})
    for col in raw.columns:
        if col not in ("ID", "Perioden"):
            stem = _SUFFIX.match(col)
            out[stem.group("stem") if stem else col] = _to_number(monthly[col], col).to_numpy()
    return out.reset_index(drop=True)


def discontinued_codes(frame: pd.DataFrame) -> pd.DataFrame:
    """Municipality codes present in one year and absent the next (mergers break these series)."""
    gm = frame[(frame["region_type"] == "GM") & (frame["age_class"] == "all")]
    years = sorted(gm["year"].unique())
    rows = []
    for a, b in zip(years, years[1:]):
        before, after = set(gm.loc[gm["year"] == a, "region"]), set(gm.loc[gm["year"] == b, "region"])
        rows += [{"code": c, "last_year": a, "status": "discontinued"} for c in sorted(before - after)]
        rows += [{"code": c, "last_year": a, "status": "new"} for c in sorted(after - before)]
    return pd.DataFrame(rows, columns=["code", "last_year", "status"])


def fetch_table(table_id: str, *, cache_dir: str | Path | None = None) -> Path:
    """Download a StatLine table with cbsodata (needs internet) into the cache; returns the CSV path.

    The cache file name holds the table id and the download date, so a report can
    say exactly which download it used. Without internet, use a local export.
    """
    try:
        import cbsodata
    except ImportError:  # pragma: no cover - optional dependency
        raise ParameterError(
            "Downloading from StatLine needs the optional package cbsodata (pip install cbsodata); "
            "or export the table as CSV from StatLine and read it with read_participatiewet."
        ) from None
    from analysis.paths import project_root

    cache = Path(cache_dir) if cache_dir else project_root() / "data" / "raw" / "statline"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{table_id}-{date.today().isoformat()}.csv"
    if not target.exists():  # pragma: no cover - needs the network
        pd.DataFrame(cbsodata.get_data(table_id)).to_csv(target, index=False)
    return target
