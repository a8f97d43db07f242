"""Small fake files in the DOCUMENTED CBS microdata layouts, written from a synthetic dataset.

No real microdata leave the CBS Remote Access environment, so the tests write a synthetic dataset
(known content: the simulator's tables are the expected values) in the layouts that public code
on these files reads; each layout fact below names its source in ``cbs_mapping.yml``:

- GBAPERSOONTAB: RINPERSOONS "R" + RINPERSOON (9 digits, leading zeros), GBAGEBOORTEJAAR/-MAAND/-DAG,
  GBAGESLACHT as the codes 1/2 with the value labels Mannen/Vrouwen in the .sav, or (``sex_as=
  "labels"``) a CSV export with the labels; an outdated V1 beside the current V3.
- GBAADRESOBJECTBUS + VSLGWBTAB (VSLGWB2023TAB03V1.sav): address spells with open ends 88888888,
  an earlier address elsewhere; objects -> gem2023 / wc2023 / bc2023 plus a gem2022 that must not
  be used; object numbers numeric in the .sav (leading zeros lost) and zero-padded text in the CSV.
- GBAVERBINTENISPARTNERBUS (lower-case names in this release): TYPEVERBINTENIS H/P,
  REDENBEEINDIGINGVERBINTENIS S (divorce) / O (death) / P, H (conversion: the couple continues in
  a new record), open ends 88888888.
- SECMBUS: 11/12/13/15 work, 21 WW, 22 bijstand, 23 other social provision, 24 sickness/disability,
  and 25/26/31 spells (pension, students) of persons who have no benefit spell.
- ZVWZORGKOSTENTAB per year with the year's columns: 2014 without ZVWKMULTIDISC, 2015-2017 with it
  and ZVWKZINTUIGLIJK, 2018 on also ZVWKEERSTELIJNSVERBLIJF; GGZ as ZVWKSPECGGZ + ZVWKGENBASGGZ; the
  breakdown NOPZVWKHUISARTSINSCHRIJF (inside ZVWKHUISARTS); one release (2016) that also carries an
  empty ZVWKGGZ column. ``old_ggz_years`` writes those years in the pre-2014 layout (ZVWKGGZ +
  ZVWKEERSTELIJNSPSYCHO instead of the split).
- MEDICIJNTAB per year: one row per person and ATC4 code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

OPEN_END = "88888888"
OBS_END = pd.Timestamp("2023-12-31")


@dataclass
class FakeTruth:
    """What the fake files hold beyond the synthetic tables: the expected values of the tests."""

    rin: dict                       # synthetic person_id -> RINPERSOON
    conversions: int = 0            # records split by a conversion (P/H) and so to be joined again
    student_only: list = field(default_factory=list)   # person_ids with SECM 25/26/31 and no benefit
    family_workers: int = 0         # employment spells written as SECM 15
    layouts: dict = field(default_factory=dict)        # year -> cost columns written


def _ymd(values) -> np.ndarray:
    s = pd.to_datetime(pd.Series(values)).reset_index(drop=True)
    return s.dt.strftime("%Y%m%d").where(s.notna(), OPEN_END).to_numpy()


def cost_layout(year: int, *, old_ggz: bool = False) -> list[str]:
    """The ZVWZORGKOSTENTAB cost columns of ``year`` (see the module docstring)."""
    cols = ["ZVWKHUISARTS", "ZVWKFARMACIE", "ZVWKMONDZORG", "ZVWKZIEKENHUIS", "ZVWKPARAMEDISCH", "ZVWKHULPMIDDEL",
            "ZVWKZIEKENVERVOER", "ZVWKBUITENLAND", "ZVWKOVERIG", "ZVWKGERIATRISCH", "ZVWKGEBOORTEZORG",
            "ZVWKWYKVERPLEGING"]
    if year >= 2015:
        cols += ["ZVWKMULTIDISC", "ZVWKZINTUIGLIJK"]
    if year >= 2018:
        cols += ["ZVWKEERSTELIJNSVERBLIJF"]
    cols += ["ZVWKGGZ", "ZVWKEERSTELIJNSPSYCHO"] if old_ggz else ["ZVWKSPECGGZ", "ZVWKGENBASGGZ"]
    return cols + ["NOPZVWKHUISARTSINSCHRIJF"]


def write_fake_cbs(dataset: Path, out: Path, *, placeholders: int = 3, sex_as: str = "codes",
                   old_ggz_years: tuple[int, ...] = ()) -> FakeTruth:
    """Write the CBS-layout files of a synthetic dataset into ``out``; returns what they hold."""
    import pyreadstat

    out.mkdir(parents=True, exist_ok=True)
    t = {name: pd.read_parquet(dataset / f"{name}.parquet") for name in
         ("persons", "benefit_spells", "employment_spells", "partnerships", "health_yearly")}
    persons = t["persons"]
    rng = np.random.default_rng(0)
    numbers = rng.choice(np.arange(1, 2_000_000), size=len(persons), replace=False)  # small: leading zeros
    rin = dict(zip(persons["person_id"], [f"{n:09d}" for n in numbers]))
    truth = FakeTruth(rin=rin)

    def ids(frame):
        return pd.DataFrame({"RINPERSOONS": "R", "RINPERSOON": frame["person_id"].map(rin).to_numpy()})

    # -- GBAPERSOONTAB ---------------------------------------------------------------------------------
    gba = ids(persons).assign(GBAGEBOORTEJAAR=persons["birth_year"].astype(str).to_numpy(), GBAGEBOORTEMAAND="06",
                              GBAGEBOORTEDAG="15", GBAGESLACHT=persons["sex"].map({"M": 1, "F": 2}).to_numpy(),
                              GBAGENERATIE="0", GBAHERKOMSTGROEPERING="6030")
    bad = pd.DataFrame({"RINPERSOONS": ["S"] * placeholders, "RINPERSOON": ["000000000"] * placeholders,
                        "GBAGEBOORTEJAAR": "1980", "GBAGEBOORTEMAAND": "01", "GBAGEBOORTEDAG": "01", "GBAGESLACHT": 1,
                        "GBAGENERATIE": "0", "GBAHERKOMSTGROEPERING": "6030"})
    gba = pd.concat([gba, bad], ignore_index=True)
    gba.assign(GBAGESLACHT=1).to_csv(out / "GBAPERSOON2023TABV1.csv", sep=";", index=False)  # outdated: all men
    if sex_as == "labels":
        gba.assign(GBAGESLACHT=gba["GBAGESLACHT"].map({1: "Mannen", 2: "Vrouwen"})).to_csv(
            out / "GBAPERSOON2023TABV3.csv", sep=";", index=False)
    else:
        pyreadstat.write_sav(gba, str(out / "GBAPERSOON2023TABV3.sav"),
                             variable_value_labels={"GBAGESLACHT": {1: "Mannen", 2: "Vrouwen"}})

    # -- GBAADRESOBJECTBUS + VSLGWBTAB -------------------------------------------------------------------
    n = len(persons)
    current = np.arange(n) + 10_000_000
    earlier = np.arange(n) + 20_000_000
    addr = pd.concat([
        ids(persons).assign(GBADATUMAANVANGADRESHOUDING="20000101", GBADATUMEINDEADRESHOUDING="20150630",
                            SOORTOBJECTNUMMER="1", RINOBJECTNUMMER=[f"{i:016d}" for i in earlier]),
        ids(persons).assign(GBADATUMAANVANGADRESHOUDING="20150701", GBADATUMEINDEADRESHOUDING=OPEN_END,
                            SOORTOBJECTNUMMER="1", RINOBJECTNUMMER=[f"{i:016d}" for i in current]),
    ], ignore_index=True)
    addr.to_csv(out / "GBAADRESOBJECT2023BUSV1.csv", sep=";", index=False)
    code = persons["municipality_code"].str[2:].to_numpy()
    decoy = np.array(["0999"] * n)
    objects = pd.DataFrame({
        "SOORTOBJECTNUMMER": 1.0, "RINOBJECTNUMMER": np.concatenate([current, earlier]).astype(float),
        "gem2022": np.concatenate([decoy, decoy]), "gem2023": np.concatenate([code, decoy]),
        "wc2023": np.concatenate([code, decoy]), "bc2023": np.concatenate([code, decoy])})
    pyreadstat.write_sav(objects, str(out / "VSLGWB2023TAB03V1.sav"))

    # -- GBAVERBINTENISPARTNERBUS ------------------------------------------------------------------------
    p = t["partnerships"]
    p = p[p["kind"] != "cohabitation"].reset_index(drop=True)
    partner = p["partner_id"].map(rin)
    partner = partner.where(partner.notna(), pd.Series([f"{x:09d}" for x in rng.integers(3_000_000, 10**8, len(p))]))
    rows = pd.DataFrame({
        "RINPERSOONS": "R", "RINPERSOON": p["person_id"].map(rin).to_numpy(), "RINPERSOONSVERBINTENISP": "R",
        "RINPERSOONVERBINTENISP": partner.to_numpy(), "start": pd.to_datetime(p["start_date"]),
        "end": pd.to_datetime(p["end_date"]), "TYPEVERBINTENIS": p["kind"].map(
            {"marriage": "H", "registered_partnership": "P"}).to_numpy(),
        "REDENBEEINDIGINGVERBINTENIS": p["end_reason"].map({"divorce": "S", "death": "O", "separation": "S"})
        .fillna("").to_numpy()})
    # conversions: one union in five (the same for both partners) is written as two records
    stop = rows["end"].fillna(OBS_END).clip(upper=OBS_END)
    key = np.minimum(rows["RINPERSOON"].astype(int), rows["RINPERSOONVERBINTENISP"].astype(int))
    split = ((key + rows["start"].dt.year) % 5 == 0) & ((stop - rows["start"]).dt.days > 120)
    mid = (rows["start"] + (stop - rows["start"]) / 2).dt.normalize()
    first = rows[split].assign(end=mid[split], REDENBEEINDIGINGVERBINTENIS=np.where(
        rows.loc[split, "TYPEVERBINTENIS"] == "P", "H", "P"))
    first["TYPEVERBINTENIS"] = np.where(first["REDENBEEINDIGINGVERBINTENIS"] == "H", "P", "H")
    second = rows[split].assign(start=mid[split] + pd.to_timedelta((key[split] % 2).to_numpy(), unit="D"))
    second["TYPEVERBINTENIS"] = np.where(first["REDENBEEINDIGINGVERBINTENIS"] == "H", "H", "P")
    truth.conversions = int(split.sum())
    union = pd.concat([rows[~split], first, second], ignore_index=True)
    union = union.assign(AANVANGVERBINTENIS=_ymd(union["start"]), EINDEVERBINTENIS=_ymd(union["end"]))
    union = union.drop(columns=["start", "end"])
    union.columns = [c.lower() for c in union.columns]  # a release with lower-case names
    pyreadstat.write_sav(union, str(out / "GBAVERBINTENISPARTNER2023BUSV1.sav"))

    # -- SECMBUS ------------------------------------------------------------------------------------------
    b, e = t["benefit_spells"], t["employment_spells"]
    work_code = np.where(np.arange(len(e)) % 7 == 3, "15", np.where(np.arange(len(e)) % 11 == 5, "13", "11"))
    truth.family_workers = int((work_code == "15").sum())
    with_benefit = set(b["person_id"])
    idle = [pid for pid in persons["person_id"] if pid not in with_benefit][:60]
    truth.student_only = idle
    students = ids(pd.DataFrame({"person_id": idle})).assign(
        AANVSECM="20140101", EINDSECM="20170831", SECM=np.resize(["26", "31", "25"], len(idle)))
    secm = pd.concat([
        ids(b).assign(AANVSECM=_ymd(b["start_date"]), EINDSECM=_ymd(b["end_date"]),
                      SECM=b["benefit"].map({"bijstand": "22", "ww": "21", "wia": "24", "other": "23"}).to_numpy()),
        ids(e).assign(AANVSECM=_ymd(e["start_date"]), EINDSECM=_ymd(e["end_date"]), SECM=work_code),
        students,
    ], ignore_index=True)
    secm.to_csv(out / "SECMBUS2023V1.csv", sep=";", index=False)

    # -- ZVWZORGKOSTENTAB and MEDICIJNTAB per year ----------------------------------------------------------
    h = t["health_yearly"]
    for year, hy in h.groupby("year"):
        year = int(year)
        old = year in old_ggz_years
        layout = cost_layout(year, old_ggz=old)
        truth.layouts[year] = layout
        gp = hy["gp_costs_eur"].to_numpy(float)
        mental = hy["mental_healthcare_costs_eur"].to_numpy(float)
        rest = hy["healthcare_costs_eur"].to_numpy(float) - gp - mental
        others = [c for c in layout if c not in ("ZVWKHUISARTS", "ZVWKGGZ", "ZVWKEERSTELIJNSPSYCHO", "ZVWKSPECGGZ",
                                                  "ZVWKGENBASGGZ", "NOPZVWKHUISARTSINSCHRIJF")]
        shares = rng.dirichlet(np.ones(len(others)), size=len(hy))
        parts = rest[:, None] * shares
        parts[:, -1] = rest - parts[:, :-1].sum(axis=1)
        costs = ids(hy).assign(ZVWKHUISARTS=gp, NOPZVWKHUISARTSINSCHRIJF=0.3 * gp,
                               **{c: parts[:, k] for k, c in enumerate(others)})
        split_a, split_b = ("ZVWKGGZ", "ZVWKEERSTELIJNSPSYCHO") if old else ("ZVWKSPECGGZ", "ZVWKGENBASGGZ")
        costs[split_a] = 0.6 * mental
        costs[split_b] = mental - 0.6 * mental
        if year == 2016:  # a release with a fixed column set: the old GGZ column is there, empty
            costs["ZVWKGGZ"] = np.nan
        pyreadstat.write_sav(costs, str(out / f"ZVWZORGKOSTEN{year}TABV2.sav"))
        users = hy[hy["antidepressants"] == 1]
        med = pd.concat([ids(users).assign(ATC4="N06A"), ids(hy.head(5)).assign(ATC4="C09A")], ignore_index=True)
        med.to_csv(out / f"MEDICIJN{year}TABV1.csv", sep=";", index=False)
    return truth
