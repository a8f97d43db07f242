"""CBS StatLine Participatiewet tables: cleaning and accounting identities on the real data.

Source: CBS StatLine tables 83450NED (2015), 83747NED (2016), 84066NED (2017), CC BY 4.0,
bundled in data/statline/. CBS rounds counts to tens, which sets the tolerances.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.statline import (
    ROUNDING, discontinued_codes, harmonise_columns, load_participatiewet, read_national_monthly,
    read_participatiewet, bundled_dir,
)
from analysis.errors import DataValidationError, ParameterError

#: Each published count is rounded to the nearest ten: off by at most half of that.
HALF_ROUNDING = ROUNDING / 2


@pytest.fixture(scope="module")
def tables():
    return load_participatiewet()


def test_column_names_harmonised_across_years(tables):
    assert harmonise_columns(["Instromers_4", "Instromers_5"]) == {"Instromers_4": "inflow", "Instromers_5": "inflow_pct"}
    assert harmonise_columns(["Instroom_4", "Instroom_5"]) == {"Instroom_4": "inflow", "Instroom_5": "inflow_pct"}
    for year in (2015, 2016, 2017):
        t = tables[tables["year"] == year]
        assert t["inflow"].notna().sum() > 300, year


def test_codes_stripped_and_dots_missing(tables):
    assert not tables["region"].str.endswith(" ").any()
    ams = tables[(tables["region"] == "GM0363") & (tables["age_class"] == "all")].set_index("year")
    assert ams.loc[2015, "recipients"] == 48850  # as printed in the 2015 export
    assert np.isnan(ams.loc[2017, "work_after_reintegration"])  # "." in the 2017 export


@pytest.mark.parametrize("year", [2015, 2016, 2017])
def test_national_row_equals_sum_of_municipalities_up_to_rounding(tables, year):
    t = tables[(tables["year"] == year) & (tables["age_class"] == "all")]
    gm = t[t["region_type"] == "GM"]
    nl = t[t["region_type"] == "NL"].iloc[0]
    bound = HALF_ROUNDING * (len(gm) + 1)  # each of the municipalities and the total rounded to tens
    # Stocks add up; flows do not (the national inflow and outflow exceed the municipal sums by
    # 1-6 percent: moves between municipalities and persons without a known municipality), so the
    # benchmark study never derives a national flow from municipal ones.
    for col in ("recipients", "inhabitants"):
        assert abs(gm[col].sum() - nl[col]) <= bound, (col, gm[col].sum(), nl[col])


@pytest.mark.parametrize("year", [2015, 2016, 2017])
def test_density_is_recipients_per_1000_inhabitants_up_to_rounding(tables, year):
    t = tables[(tables["year"] == year) & (tables["region_type"] == "GM") & tables["density"].notna()]
    t = t[t["inhabitants"] > 0]
    computed = 1000 * t["recipients"] / t["inhabitants"]
    # density is printed to 0.5; recipients are rounded to tens (and inhabitants to tens)
    bound = 0.25 + 1000 * HALF_ROUNDING / t["inhabitants"] + computed * HALF_ROUNDING / t["inhabitants"] + 1e-9
    assert (np.abs(computed - t["density"]) <= bound).all()


def test_mergers_reported(tables):
    changes = discontinued_codes(tables)
    gone_2016 = changes[(changes["status"] == "discontinued") & (changes["last_year"] == 2015)]
    n15 = tables[(tables.year == 2015) & (tables.region_type == "GM") & (tables.age_class == "all")].region.nunique()
    n16 = tables[(tables.year == 2016) & (tables.region_type == "GM") & (tables.age_class == "all")].region.nunique()
    new_2016 = changes[(changes["status"] == "new") & (changes["last_year"] == 2015)]
    assert n15 - len(gone_2016) + len(new_2016) == n16


def test_national_monthly_series():
    monthly = read_national_monthly()
    assert monthly["month"].iloc[0] == pd.Timestamp("1998-01-01")
    first = monthly.iloc[0]
    assert first["TotaalBijstandsuitkeringen"] == 449.0  # as printed: 449.0 thousand in January 1998


def test_non_numeric_value_refused(tmp_path):
    src = (bundled_dir() / "participatiewet_gemeente_2016.csv").read_text(encoding="utf-8-sig").splitlines()
    src[3] = src[3].replace('"  148130"', '"  14x130"', 1) if '"  148130"' in src[3] else src[3]
    lines = src[:1] + [src[1].replace('"  148130"', '"  14x130"')] + src[2:]
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"Instroom_4: 1 values are not numbers or '\.' \(rows 1\)"):
        read_participatiewet(bad)


def test_unknown_year_refused():
    with pytest.raises(ParameterError, match=r"year=2019 has no bundled StatLine table"):
        load_participatiewet(years=(2019,))
