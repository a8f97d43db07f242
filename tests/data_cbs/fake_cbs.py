"""Small fake files in the CBS microdata layout, written from a synthetic contract dataset.

No real microdata are available outside the CBS Remote Access environment, so the tests turn
a synthetic dataset (with known content) into GBAPERSOONTAB, GBAADRESOBJECTBUS + VSLGWBTAB,
GBAVERBINTENISPARTNERBUS, SECMBUS, ZVWZORGKOSTENTAB and MEDICIJNTAB files as the mapping
describes them: identifiers as RINPERSOONS "R" + a 9-digit RINPERSOON with leading zeros,
dates as YYYYMMDD text, open ends as 88881231, .sav for some files and ;-separated CSV for
others, lower-case names in one, two versions of one file, and a few placeholder identifiers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OPEN_END = "88881231"


def _ymd(values) -> pd.Series:
    s = pd.to_datetime(pd.Series(values))
    return s.dt.strftime("%Y%m%d").where(s.notna(), OPEN_END)


def write_fake_cbs(dataset: Path, out: Path, *, placeholders: int = 3) -> dict:
    """Write the CBS-layout files; returns the RINPERSOON of every synthetic person_id."""
    import pyreadstat

    out.mkdir(parents=True, exist_ok=True)
    t = {name: pd.read_parquet(dataset / f"{name}.parquet") for name in
         ("persons", "benefit_spells", "employment_spells", "partnerships", "health_yearly")}
    persons = t["persons"]
    rng = np.random.default_rng(0)
    numbers = rng.choice(np.arange(1, 2_000_000), size=len(persons), replace=False)  # small: leading zeros
    rin = dict(zip(persons["person_id"], [f"{n:09d}" for n in numbers]))

    def ids(frame):
        return pd.DataFrame({"RINPERSOONS": "R", "RINPERSOON": frame["person_id"].map(rin)})

    gba = ids(persons).assign(GBAGEBOORTEJAAR=persons["birth_year"].astype(str), GBAGEBOORTEMAAND="6",
                              GBAGESLACHT=persons["sex"].map({"M": "1", "F": "2"}))
    bad = pd.DataFrame({"RINPERSOONS": ["S"] * placeholders, "RINPERSOON": ["000000000"] * placeholders,
                        "GBAGEBOORTEJAAR": "1980", "GBAGEBOORTEMAAND": "1", "GBAGESLACHT": "1"})
    gba = pd.concat([gba, bad], ignore_index=True)
    # two versions: V1 is outdated (wrong sexes), V3 must be read
    gba.assign(GBAGESLACHT="1").to_csv(out / "GBAPERSOON2023TABV1.csv", sep=";", index=False)
    pyreadstat.write_sav(gba, str(out / "GBAPERSOON2023TABV3.sav"))

    objects = persons["municipality_code"].str[2:].astype(int)
    addr = ids(persons).assign(GBADATUMAANVANGADRESHOUDING="20000101", GBADATUMEINDEADRESHOUDING=OPEN_END,
                               SOORTOBJECTNUMMER="1", RINOBJECTNUMMER=[f"{i:012d}" for i in range(len(persons))])
    addr.to_csv(out / "GBAADRESOBJECT2023BUSV1.csv", sep=";", index=False)
    pd.DataFrame({"SOORTOBJECTNUMMER": "1", "RINOBJECTNUMMER": addr["RINOBJECTNUMMER"],
                  "GEM": objects.astype(str)}).to_csv(out / "VSLGWB2023TAB03.csv", sep=",", index=False)

    p = t["partnerships"]
    p = p[p["kind"] != "cohabitation"]
    part = ids(p).assign(
        RINPERSOONSVERBINTENISP="R", RINPERSOONVERBINTENISP=[f"{n:09d}" for n in rng.integers(1, 10**8, len(p))],
        AANVANGVERBINTENIS=_ymd(p["start_date"]).to_numpy(), EINDEVERBINTENIS=_ymd(p["end_date"]).to_numpy(),
        TYPEVERBINTENIS=p["kind"].map({"marriage": "H", "registered_partnership": "P"}).to_numpy(),
        REDENBEEINDIGINGVERBINTENIS=p["end_reason"].map({"divorce": "S", "death": "O", "separation": "S"})
        .fillna("").to_numpy())
    part.columns = [c.lower() for c in part.columns]  # a release with lower-case names
    pyreadstat.write_sav(part, str(out / "GBAVERBINTENISPARTNER2023BUSV1.sav"))

    b, e = t["benefit_spells"], t["employment_spells"]
    secm = pd.concat([
        ids(b).assign(AANVSECM=_ymd(b["start_date"]).to_numpy(), EINDSECM=_ymd(b["end_date"]).to_numpy(),
                      SECM=b["benefit"].map({"bijstand": "22", "ww": "21", "wia": "24", "other": "23"}).to_numpy()),
        ids(e).assign(AANVSECM=_ymd(e["start_date"]).to_numpy(), EINDSECM=_ymd(e["end_date"]).to_numpy(), SECM="11"),
    ], ignore_index=True)
    secm.to_csv(out / "SECMBUS2023V1.csv", sep=";", index=False)

    h = t["health_yearly"]
    for year, hy in h.groupby("year"):
        rest = (hy["healthcare_costs_eur"] - hy["mental_healthcare_costs_eur"] - hy["gp_costs_eur"]).round(2)
        costs = ids(hy).assign(ZVWKHUISARTS=hy["gp_costs_eur"].to_numpy(), ZVWKGGZ=hy["mental_healthcare_costs_eur"]
                               .to_numpy(), ZVWKFARMACIE=0.0, ZVWKZIEKENHUIS=0.0, ZVWKOVERIG=rest.to_numpy())
        pyreadstat.write_sav(costs, str(out / f"ZVWZORGKOSTEN{year}TABV2.sav"))
        users = hy[hy["antidepressants"] == 1]
        med = pd.concat([ids(users).assign(ATC4="N06A"), ids(hy.head(5)).assign(ATC4="C09A")], ignore_index=True)
        med.to_csv(out / f"MEDICIJN{year}TABV1.csv", sep=";", index=False)
    return rin
