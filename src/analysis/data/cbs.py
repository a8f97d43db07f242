"""CBS register microdata -> a dataset in the contract's shape (``rendeert import-cbs``).

Inside the CBS Remote Access environment the registers come as SPSS (.sav) or CSV files
whose names, versions and variable names differ by year and release (GBAPERSOON2023TABV1,
SECMBUS2023V1, ZVWZORGKOSTEN2019TABV2, upper or lower case). Everything file-specific is in
one mapping file (``cbs_mapping.yml`` beside this module; a user passes an adjusted copy):
file-name patterns with version and year groups, variable names, code lists. This module
only knows the contract:

- persons: GBAPERSOONTAB (birth year, sex) and the municipality of residence on the
  observation end date, from address spells (GBAADRESOBJECTBUS) joined to the object ->
  gemeente table (VSLGWBTAB);
- partnerships: GBAVERBINTENISPARTNERBUS (marriages and registered partnerships; unmarried
  cohabitation is not in it);
  a conversion of a union into the other legal form (end reason P or H) is joined to the
  couple's next record: the union continues, it is no separation (:func:`merge_conversions`);
- benefit and employment spells: SECMBUS socio-economic category spells (22 bijstand,
  21 WW, 23 other social provision -> other, 24 sickness/disability -> wia, 11-15 work);
- health_yearly: ZVWZORGKOSTENTAB per year, whose cost columns differ by year: the total is
  every cost column the year's file has, mental health care ZVWKGGZ (old layout) or
  ZVWKSPECGGZ + ZVWKGENBASGGZ (:func:`health_columns`; the manifest lists per year what was
  summed), and MEDICIJNTAB per year (any ATC code starting N06A: antidepressants).

The layout assumptions are CHECK notes in the mapping file, each with its public source.

Person identifiers are the pair RINPERSOONS + RINPERSOON, kept as strings: ``person_id`` is
their concatenation with RINPERSOON zero-padded to its documented width (numeric .sav columns
lose leading zeros). Placeholder identifiers (a RINPERSOONS other than "R", an empty or zero
RINPERSOON) are dropped and counted per file; so are rows with codes outside the mapping and
rows referring to persons not in the person file. Nothing is repaired silently: every drop is
in the import report and in ``import_manifest.json``, which also lists every file read (name,
version, size, sha256). The output is checked with :func:`analysis.data.load.load_dataset`
before the import counts as done.

Hand-written because no package knows these CBS layouts; pyreadstat reads .sav, pandas CSV.
Paths are pathlib throughout (Windows paths work); nothing needs the internet.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import yaml

from analysis.errors import DataValidationError, ParameterError

DEFAULT_MAPPING = Path(__file__).with_name("cbs_mapping.yml")


@dataclass(frozen=True)
class SourceFile:
    path: Path
    year: int | None
    version: int

    def describe(self) -> dict:
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        return {"file": self.path.name, "year": self.year, "version": self.version,
                "bytes": self.path.stat().st_size, "sha256": digest}


@dataclass(frozen=True)
class ImportReport:
    """What an import read, wrote and dropped (and why)."""

    out_dir: Path
    rows: dict
    dropped: list = field(default_factory=list)  # {"file", "reason", "rows"}
    files: list = field(default_factory=list)
    health_columns: dict = field(default_factory=dict)  # year -> {"file", "summed", "mental", "gp", ...}
    conversions: dict = field(default_factory=dict)  # {"joined", "without_sequel"}

    def summary(self) -> str:
        lines = [f"Dataset written to {self.out_dir}"]
        lines += [f"  {table}: {n:,} rows" for table, n in self.rows.items()]
        if self.dropped:
            lines.append("Dropped (not repaired):")
            lines += [f"  {d['file']}: {d['rows']:,} rows, {d['reason']}" for d in self.dropped]
        for year, used in self.health_columns.items():
            lines.append(f"  health costs {year}: summed {', '.join(used['summed'])}")
        lines.append(f"Files read: {', '.join(f['file'] for f in self.files)}")
        return "\n".join(lines)


def load_mapping(path: str | Path | None = None) -> dict:
    p = Path(path) if path else DEFAULT_MAPPING
    if not p.is_file():
        raise ParameterError(f"Mapping file {str(p)!r} does not exist.")
    return yaml.safe_load(p.read_text(encoding="utf-8"))


def find_files(source: Path, pattern: str, *, yearly: bool) -> list[SourceFile]:
    """Files whose name matches ``pattern`` (case-insensitive); the highest version (per year)."""
    regex = re.compile(pattern, re.IGNORECASE)
    found: dict = {}
    for path in sorted(source.iterdir()):
        m = regex.fullmatch(path.name)
        if not m or not path.is_file():
            continue
        groups = m.groupdict()
        year = int(groups["year"]) if groups.get("year") else None
        version = int(groups["version"]) if groups.get("version") else 0
        key = year if yearly else None
        if key not in found or version > found[key].version:
            found[key] = SourceFile(path, year, version)
    return [found[k] for k in sorted(found, key=lambda k: (k is None, k))]


def _one(source: Path, spec: Mapping, what: str) -> SourceFile:
    files = find_files(source, spec["pattern"], yearly=False)
    if not files:
        raise DataValidationError(f"import-cbs: no {what} file in {source} matches the pattern "
                                  f"{spec['pattern']!r} (mapping file; names are matched case-insensitively).")
    return files[0]


def _csv_sep(path: Path) -> str:
    with open(path, encoding="utf-8-sig") as fh:
        header = fh.readline()
    return ";" if header.count(";") > header.count(",") else ","


def list_columns(path: Path) -> list[str]:
    """The column names of a .sav or .csv file, as written (reads the header only)."""
    if path.suffix.lower() == ".sav":
        import pyreadstat

        return list(pyreadstat.read_sav(str(path), metadataonly=True)[1].column_names)
    return list(pd.read_csv(path, sep=_csv_sep(path), nrows=0, encoding="utf-8-sig").columns)


def pick_year_column(path: Path, pattern: str, *, year: int | None) -> str:
    """The column matching ``pattern`` (a regex with a ``year`` group, e.g. ``gem(?P<year>\\d{4})``).

    VSLGWBTAB names its gemeente column after the year of the municipal division (gem2023): the
    column of ``year`` when the file has it, else the latest year it has. A pattern without a
    ``year`` group is a plain (case-insensitive) column name.
    """
    regex = re.compile(pattern, re.IGNORECASE)
    found = {}
    for col in list_columns(path):
        m = regex.fullmatch(col)
        if m:
            found[int(m.group("year")) if "year" in regex.groupindex else 0] = col
    if not found:
        raise DataValidationError(f"import-cbs: {path.name} has no column matching {pattern!r}; it has "
                                  f"{list_columns(path)} (adjust the mapping file).")
    return found[year] if year in found else found[max(found)]


def read_table(path: Path, columns: list[str]) -> pd.DataFrame:
    """Read ``columns`` (case-insensitive) of a .sav or .csv file, every column as text."""
    wanted = {c.lower(): c for c in columns}
    have = list_columns(path)
    actual = {c.strip().lower(): c for c in have}
    missing = [wanted[c] for c in wanted if c not in actual]
    if missing:
        raise DataValidationError(f"import-cbs: {path.name} has no column(s) {missing}; it has "
                                  f"{have} (adjust the mapping file).")
    if path.suffix.lower() != ".sav":
        frame = pd.read_csv(path, sep=_csv_sep(path), usecols=[actual[c] for c in wanted], dtype=str,
                            keep_default_na=False, encoding="utf-8-sig")
        frame = frame.rename(columns={actual[c]: wanted[c] for c in wanted})
        return frame.apply(lambda s: s.str.strip()).replace({"": None})
    import pyreadstat

    frame, _ = pyreadstat.read_sav(str(path), usecols=[actual[c] for c in wanted])
    frame = frame.rename(columns={actual[c]: wanted[c] for c in wanted})
    for col in frame.columns:
        values = frame[col]
        absent = values.isna().to_numpy()
        if pd.api.types.is_float_dtype(values) and (values[~absent] % 1 == 0).all():
            text = values.astype("Int64").astype(str)  # numeric SPSS columns: whole numbers as text
        else:
            text = values.astype(str)
        frame[col] = text.astype(object).where(~absent, None)
    return frame


class _Importer:
    def __init__(self, source: Path, mapping: dict):
        self.source = source
        self.m = mapping
        ids = mapping["identifiers"]
        self.id_cols = (ids["rinpersoons"], ids["rinpersoon"])
        self.width = int(ids["width"])
        self.valid = {str(v) for v in ids["valid_rinpersoons"]}
        self.open_ends = {str(v) for v in mapping.get("open_end_dates", [])}
        self.dropped: list[dict] = []
        self.files: list[SourceFile] = []
        self.health: dict[str, dict] = {}  # per year: which cost columns were summed
        self.conversions: dict[str, int] = {}

    def drop(self, file: str, reason: str, rows: int) -> None:
        if rows:
            self.dropped.append({"file": file, "reason": reason, "rows": int(rows)})

    def read(self, f: SourceFile, columns: list[str], *, ids: bool = True) -> pd.DataFrame:
        self.files.append(f)
        frame = read_table(f.path, ([*self.id_cols] if ids else []) + columns)
        if ids:
            frame["person_id"] = self.person_ids(frame, self.id_cols, f.path.name)
            frame = frame.dropna(subset=["person_id"])
        return frame

    def person_ids(self, frame: pd.DataFrame, cols: tuple[str, str], file: str) -> pd.Series:
        kind = frame[cols[0]].fillna("").astype(str).str.strip()
        number = frame[cols[1]].fillna("").astype(str).str.strip()
        bad = ~kind.isin(self.valid) | (number == "") | (number.str.fullmatch(r"0+")) | ~number.str.fullmatch(r"\d+")
        self.drop(file, f"placeholder identifiers ({cols[0]} not in {sorted(self.valid)}, or empty/zero {cols[1]})",
                  int(bad.sum()))
        return (kind + number.str.zfill(self.width)).where(~bad)

    def dates(self, values: pd.Series, *, open_end: bool = False) -> pd.Series:
        text = values.fillna("").astype(str).str.strip().str.replace("-", "", regex=False)
        if open_end:
            text = text.where(~text.isin(self.open_ends), "")
        return pd.to_datetime(text.where(text != ""), format="%Y%m%d", errors="coerce")


def merge_conversions(frame: pd.DataFrame, converted: pd.Series, *, gap_days: int) -> tuple[pd.DataFrame, int, int]:
    """Join a union converted to another legal form (REDENBEEINDIGINGVERBINTENIS P or H) to its sequel.

    GBAVERBINTENISPARTNERBUS closes a registered partnership converted into a marriage (code H) or
    a marriage converted into a registered partnership (code P) and opens a new record for the same
    couple. The couple did not separate: the two records are one union, from the first start to
    the sequel's end, of the sequel's kind, with the sequel's end reason. A sequel is the person's
    next record with the same partner starting 0..``gap_days`` days after the conversion. Returns
    the frame, the number of records joined and the number of conversions without a sequel (those
    keep their end date and get an empty end reason: an end, but not a separation).
    """
    cols = list(frame.columns)
    f = frame.assign(_conv=converted.to_numpy(dtype=bool)).sort_values(["person_id", "start_date"],
                                                                     kind="stable").reset_index(drop=True)
    joined = 0
    while True:
        nxt = f.groupby("person_id", sort=False)[["partner_id", "start_date"]].shift(-1)
        same_partner = (nxt["partner_id"] == f["partner_id"]) | (nxt["partner_id"].isna() & f["partner_id"].isna())
        gap = (nxt["start_date"] - f["end_date"]).dt.days
        link = f["_conv"] & nxt["start_date"].notna() & same_partner & gap.between(0, gap_days)
        before = link.groupby(f["person_id"], sort=False).shift(1).astype("boolean").fillna(False).astype(bool)
        link = link & ~before  # a chain P -> H -> ... is joined one link per round
        if not link.any():
            break
        idx = np.flatnonzero(link.to_numpy())
        f.loc[idx + 1, "start_date"] = f.loc[idx, "start_date"].to_numpy()
        f = f.drop(index=idx).reset_index(drop=True)
        joined += len(idx)
    alone = f["_conv"] & f["end_date"].notna()
    f.loc[alone, "end_reason"] = None
    return f[cols], joined, int(alone.sum())


def health_columns(frame: pd.DataFrame, spec: Mapping) -> dict:
    """Which cost columns of one year's ZVWZORGKOSTENTAB file are summed (see cbs_mapping.yml).

    A column counts as present when the file has it with at least one value (releases that keep a
    fixed column set leave the columns of other years empty). Mental health care is the first
    alternative of ``mental`` with a present column (ZVWKGGZ in the old layout, ZVWKSPECGGZ +
    ZVWKGENBASGGZ after the 2014 reform); present columns of another alternative would double
    count and are not summed. The total is every present ``total`` column plus the mental columns.
    """
    have = {c.lower(): c for c in frame.columns}
    present = {c for c in frame.columns if frame[c].notna().any()}

    def pick(names):
        return [have[n.lower()] for n in names if n.lower() in have and have[n.lower()] in present]

    mental: list[str] = []
    for alternative in spec["mental"]:
        mental = pick(alternative)
        if mental:
            break
    other_mental = [c for alt in spec["mental"] for c in pick(alt) if c not in mental]
    summed = [c for c in pick(spec["total"]) if c not in mental and c not in other_mental] + mental
    listed = {n.lower() for n in [*spec["total"], *spec["gp"], *spec.get("not_summed", []),
                                  *(c for alt in spec["mental"] for c in alt)]}
    return {"summed": summed, "mental": mental, "gp": pick(spec["gp"]),
            "not_summed": sorted([*other_mental, *pick(spec.get("not_summed", []))]),
            "empty": sorted(c for c in frame.columns if c.lower() in listed and c not in present)}


def import_cbs(source_dir: str | Path, out_dir: str | Path, *, mapping: str | Path | dict | None = None,
               progress: bool = True) -> ImportReport:
    """Turn the CBS microdata files in ``source_dir`` into a contract dataset in ``out_dir``."""
    from analysis.data.load import load_dataset

    source = Path(source_dir)
    if not source.is_dir():
        raise ParameterError(f"import-cbs: source directory {str(source)!r} does not exist.")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise ParameterError(f"import-cbs: output directory {str(out)!r} is not empty; choose a new one.")
    m = mapping if isinstance(mapping, dict) else load_mapping(mapping)
    imp = _Importer(source, m)

    def say(text: str) -> None:
        if progress:
            print(text, flush=True)

    # -- health files first: they give the observation window when the mapping does not -------
    cost_files = find_files(source, m["health_costs"]["pattern"], yearly=True)
    med_files = {f.year: f for f in find_files(source, m["medication"]["pattern"], yearly=True)}
    if not cost_files:
        raise DataValidationError(f"import-cbs: no health-cost file in {source} matches "
                                  f"{m['health_costs']['pattern']!r} (mapping file).")
    obs = m.get("observation") or {}
    years = [f.year for f in cost_files]
    start = pd.Timestamp(obs["start"]) if obs.get("start") else pd.Timestamp(date(min(years), 1, 1))
    end = pd.Timestamp(obs["end"]) if obs.get("end") else pd.Timestamp(date(max(years), 12, 31))

    # -- persons -----------------------------------------------------------------------------
    spec = m["persons"]
    f = _one(source, spec, "person (GBAPERSOONTAB)")
    say(f"persons: {f.path.name}")
    cols = spec["columns"]
    raw = imp.read(f, [cols["birth_year"], cols["birth_month"], cols["sex"]])
    sex_codes = {str(k).strip().lower(): v for k, v in spec["sex_codes"].items()}  # codes and value labels
    sex = raw[cols["sex"]].fillna("").astype(str).str.strip().str.lower().map(sex_codes)
    imp.drop(f.path.name, f"sex code outside {sorted(spec['sex_codes'])}", int(sex.isna().sum()))
    birth = pd.to_numeric(raw[cols["birth_year"]], errors="coerce")
    imp.drop(f.path.name, "birth year missing or not a number", int((birth.isna() & sex.notna()).sum()))
    persons = pd.DataFrame({"person_id": raw["person_id"], "sex": sex, "birth_year": birth}).dropna()
    dup = persons["person_id"].duplicated()
    imp.drop(f.path.name, "duplicate person identifiers (first row kept)", int(dup.sum()))
    persons = persons[~dup].astype({"birth_year": "int64"})
    known = set(persons["person_id"])

    # -- municipality of residence -------------------------------------------------------------
    mspec = m["municipality"]
    fa, fo = _one(source, mspec["addresses"], "address (GBAADRESOBJECTBUS)"), _one(source, mspec["objects"],
                                                                                     "object (VSLGWBTAB)")
    say(f"municipality: {fa.path.name} + {fo.path.name}")
    ac, oc = mspec["addresses"]["columns"], mspec["objects"]["columns"]
    addr = imp.read(fa, [ac["start"], ac["end"], ac["object_type"], ac["object"]])
    gem_col = pick_year_column(fo.path, oc["municipality"], year=int(mspec.get("municipality_year") or end.year))
    objs = imp.read(fo, [oc["object_type"], oc["object"], gem_col], ids=False)
    addr = addr.assign(a_start=imp.dates(addr[ac["start"]]), a_end=imp.dates(addr[ac["end"]], open_end=True))
    at_end = addr[(addr["a_start"] <= end) & (addr["a_end"].isna() | (addr["a_end"] >= end))]
    latest = addr.sort_values("a_start").groupby("person_id").tail(1)
    chosen = pd.concat([at_end, latest[~latest["person_id"].isin(at_end["person_id"])]])
    chosen = chosen.sort_values("a_start").groupby("person_id").tail(1)
    objs = objs.rename(columns={oc["object_type"]: "_t", oc["object"]: "_o", gem_col: "_gem"})
    for frame, cols_ in ((objs, ["_t", "_o"]), (chosen, [ac["object_type"], ac["object"]])):
        for c in cols_:  # object numbers as text or as numbers (leading zeros lost): compare without them
            frame[c] = frame[c].fillna("").astype(str).str.strip().str.lstrip("0")
    chosen = chosen.merge(objs, left_on=[ac["object_type"], ac["object"]], right_on=["_t", "_o"], how="left")
    code = chosen["_gem"].astype(str).str.extract(r"(\d{1,4})$")[0]
    chosen["municipality_code"] = ("GM" + code.str.zfill(4)).where(code.notna())
    persons = persons.merge(chosen[["person_id", "municipality_code"]], on="person_id", how="left")
    no_muni = persons["municipality_code"].isna()
    imp.drop(f.path.name, "persons without a municipality of residence (no address or unknown object)",
             int(no_muni.sum()))
    persons = persons[~no_muni]
    known = set(persons["person_id"])

    def keep_known(frame: pd.DataFrame, file: str, col: str = "person_id") -> pd.DataFrame:
        inside = frame[col].isin(known)
        imp.drop(file, "persons not in the person file (or dropped there)", int((~inside).sum()))
        return frame[inside]

    # -- partnerships -----------------------------------------------------------------------------
    pspec = m["partnerships"]
    fp = _one(source, pspec, "partnership (GBAVERBINTENISPARTNERBUS)")
    say(f"partnerships: {fp.path.name}")
    pc = pspec["columns"]
    raw = imp.read(fp, [pc["partner_rinpersoons"], pc["partner_rinpersoon"], pc["start"], pc["end"], pc["kind"],
                        pc["end_reason"]])
    kind = raw[pc["kind"]].map({str(k): v for k, v in pspec["kind_codes"].items()})
    imp.drop(fp.path.name, f"union type outside {sorted(pspec['kind_codes'])}", int(kind.isna().sum()))
    partner = (raw[pc["partner_rinpersoons"]].fillna("").astype(str).str.strip()
               + raw[pc["partner_rinpersoon"]].fillna("").astype(str).str.strip().str.zfill(imp.width))
    partner_ok = raw[pc["partner_rinpersoons"]].isin(imp.valid) & raw[pc["partner_rinpersoon"]].notna()
    p_end = imp.dates(raw[pc["end"]], open_end=True)
    reason_raw = raw[pc["end_reason"]].fillna("").astype(str).str.strip()
    reason = reason_raw.map({str(k): v for k, v in pspec["end_reason_codes"].items()})
    converted = p_end.notna() & reason_raw.isin([str(c) for c in pspec.get("conversion_codes", [])])
    unknown_reason = p_end.notna() & reason.isna() & (reason_raw != "") & ~converted
    if unknown_reason.any():
        imp.dropped.append({"file": fp.path.name, "reason": "end reason outside the mapping's codes: kept with "
                            "an empty end_reason", "rows": int(unknown_reason.sum())})
    partnerships = pd.DataFrame({
        "person_id": raw["person_id"], "partner_id": partner.where(partner_ok), "kind": kind,
        "start_date": imp.dates(raw[pc["start"]]), "end_date": p_end,
        "end_reason": reason.where(p_end.notna()),
    })
    keep = partnerships["kind"].notna() & partnerships["start_date"].notna()
    imp.drop(fp.path.name, "unparseable start date", int((partnerships["kind"].notna()
                                                          & partnerships["start_date"].isna()).sum()))
    partnerships, joined, alone = merge_conversions(partnerships[keep], converted[keep],
                                                    gap_days=int(pspec.get("conversion_gap_days", 1)))
    imp.conversions = {"joined": joined, "without_sequel": alone}
    imp.drop(fp.path.name, "records joined to the union they continue (conversion P/H: same couple, "
             "no separation)", joined)
    if alone:
        imp.dropped.append({"file": fp.path.name, "reason": "conversions (P/H) without a following record of the "
                            "same couple: end kept, end_reason empty (not a separation)", "rows": alone})
    partnerships = keep_known(partnerships, fp.path.name)
    # unions that ended before the window are kept as history; ends after it are still running then
    partnerships = partnerships.assign(end_date=partnerships["end_date"].where(
        partnerships["end_date"].isna() | (partnerships["end_date"] <= end)))
    partnerships.loc[partnerships["end_date"].isna(), "end_reason"] = None

    # -- socio-economic category spells ------------------------------------------------------------
    sspec = m["secm"]
    fs = _one(source, sspec, "socio-economic category (SECMBUS)")
    say(f"work and benefit spells: {fs.path.name}")
    sc = sspec["columns"]
    raw = imp.read(fs, [sc["start"], sc["end"], sc["category"]])
    cat = pd.to_numeric(raw[sc["category"]], errors="coerce")
    s_start, s_end = imp.dates(raw[sc["start"]]), imp.dates(raw[sc["end"]], open_end=True)
    spells = pd.DataFrame({"person_id": raw["person_id"], "cat": cat, "start_date": s_start, "end_date": s_end})
    bad = spells["start_date"].isna()
    imp.drop(fs.path.name, "unparseable start date", int(bad.sum()))
    spells = spells[~bad]
    spells = spells[(spells["end_date"].isna()) | (spells["end_date"] >= start)]  # history before the window
    spells = spells[spells["start_date"] <= end]
    spells = spells.assign(end_date=spells["end_date"].where(spells["end_date"].isna() | (spells["end_date"] < end)))
    benefit_codes = {int(k): v for k, v in sspec["benefits"].items()}
    work = spells["cat"].isin([int(c) for c in sspec["employment"]])
    benefit = spells["cat"].map(benefit_codes)
    imp.drop(fs.path.name, "categories that are neither work nor a mapped benefit (not contract spells)",
             int((~work & benefit.isna()).sum()))
    spells = keep_known(spells, fs.path.name)
    work = spells["cat"].isin([int(c) for c in sspec["employment"]])
    benefit = spells["cat"].map(benefit_codes)
    employment = spells.loc[work, ["person_id", "start_date", "end_date"]]
    muni = persons.set_index("person_id")["municipality_code"]
    benefits = spells.loc[benefit.notna(), ["person_id", "start_date", "end_date"]].assign(
        benefit=benefit[benefit.notna()])
    benefits["municipality_code"] = benefits["person_id"].map(muni)
    benefits = benefits[["person_id", "benefit", "start_date", "end_date", "municipality_code"]]

    # -- health: costs and medication per year -------------------------------------------------------
    hspec = m["health_costs"]
    frames = []
    for fc in cost_files:
        say(f"health-care costs {fc.year}: {fc.path.name}")
        listed = {n.lower() for n in [*hspec["total"], *hspec["gp"], *hspec.get("not_summed", []),
                                      *(c for alt in hspec["mental"] for c in alt)]}
        cols = [c for c in list_columns(fc.path) if c.lower() in listed]
        raw = imp.read(fc, cols)
        num = raw[cols].apply(pd.to_numeric, errors="coerce")
        used = health_columns(num, hspec)
        if not used["summed"]:
            raise DataValidationError(f"import-cbs: {fc.path.name} has none of the cost columns of the mapping "
                                      f"(health_costs: total, mental) with values; it has {list_columns(fc.path)}. "
                                      f"Adjust the mapping file to this release.")
        imp.health[str(fc.year)] = {"file": fc.path.name, **used}
        num = num.fillna(0.0)
        h = pd.DataFrame({"person_id": raw["person_id"], "year": fc.year,
                          "healthcare_costs_eur": num[used["summed"]].sum(axis=1),
                          "mental_healthcare_costs_eur": num[used["mental"]].sum(axis=1),
                          "gp_costs_eur": num[used["gp"]].sum(axis=1)})
        negative = (h[["healthcare_costs_eur", "mental_healthcare_costs_eur", "gp_costs_eur"]] < 0).any(axis=1)
        imp.drop(fc.path.name, "negative summed costs (corrections)", int(negative.sum()))
        h = keep_known(h[~negative], fc.path.name)
        users = set()
        fm = med_files.get(fc.year)
        if fm is not None:
            med = imp.read(fm, [m["medication"]["columns"]["atc"]])
            atc = med[m["medication"]["columns"]["atc"]].fillna("").astype(str).str.upper()
            users = set(med.loc[atc.str.startswith(m["medication"]["antidepressants"].upper()), "person_id"])
            not_insured = ~pd.Series(list(users), dtype=object).isin(set(h["person_id"]))
            imp.drop(fm.path.name, "antidepressant users without a health-cost row that year (no costs to pair)",
                     int(not_insured.sum()))
        else:
            imp.dropped.append({"file": f"MEDICIJN{fc.year}", "reason": "no medication file for this year: "
                                "antidepressants set to 0 for every person", "rows": 0})
        frames.append(h.assign(antidepressants=h["person_id"].isin(users).astype("int8")))
    health = pd.concat(frames, ignore_index=True)
    dup = health.duplicated(["person_id", "year"])
    imp.drop("health-cost files", "duplicate person-year rows (first kept)", int(dup.sum()))
    health = health[~dup]

    # -- write and validate -----------------------------------------------------------------------------
    out.mkdir(parents=True, exist_ok=True)
    tables = {"persons": persons, "benefit_spells": benefits, "employment_spells": employment,
              "partnerships": partnerships, "health_yearly": health}
    for name, frame in tables.items():
        frame = frame.reset_index(drop=True)
        for col in ("start_date", "end_date"):
            if col in frame:
                frame[col] = frame[col].dt.date
        frame.to_parquet(out / f"{name}.parquet", index=False)
    files = [f.describe() for f in dict.fromkeys(imp.files)]
    meta = {"name": f"cbs-microdata-{source.name}",
            "source": "CBS microdata (rendeert import-cbs): " + ", ".join(x["file"] for x in files),
            "observation_start": start.date().isoformat(), "observation_end": end.date().isoformat()}
    (out / "dataset.yml").write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True), encoding="utf-8")
    report = ImportReport(out_dir=out, rows={k: len(v) for k, v in tables.items()}, dropped=imp.dropped, files=files,
                          health_columns=imp.health, conversions=imp.conversions)
    (out / "import_manifest.json").write_text(json.dumps({
        "source_dir": str(source), "mapping": m, "files": files, "rows": report.rows, "dropped": imp.dropped,
        "health_columns": imp.health, "partnership_conversions": imp.conversions,
    }, indent=2, default=str), encoding="utf-8")
    say("validating against the data contract ...")
    load_dataset(out)
    return report

