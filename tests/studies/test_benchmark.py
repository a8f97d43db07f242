"""The benchmark study on the bundled CBS StatLine 2017 figures: overdispersion-aware funnels, names, words."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis.run.runner import run_study
from analysis.studies.benchmark import NAMES_FILE, municipality_names, names_file, share_in_words

NOMINAL = 0.002  # two-sided 99.8 % limits
#: "Within a few percent": Spiegelhalter's Winsorised tau^2 is biased low (see tests/estimators/test_funnel.py)
#: and CBS counts are rounded to tens (a municipality with 10 recipients and 10 outflows has rate 100 %);
#: on 388 municipalities 6 points is 23 of them. The binomial limits put 75-93 % outside (issue #15).
FEW_PERCENT = 0.06
INDICATORS = ("bijstand_density", "inflow_rate", "outflow_rate", "outflow_to_work_rate")


pytestmark = pytest.mark.xdist_group("study_benchmark")  # one worker builds the module-scoped fixtures, once

#: A few rows of CBS's municipal classification (names as CBS writes them), written by the tests: the full
#: names file is not bundled (data/statline/README.md).
NAMES_ROWS = ("year,code,name,province\n2017,GM0363,Amsterdam,Noord-Holland\n"
              "2017,GM0599,Rotterdam,Zuid-Holland\n2017,GM0518,'s-Gravenhage,Zuid-Holland\n")


def statline_with_names(directory: Path) -> Path:
    """The bundled StatLine tables plus a small names file, in ``directory``."""
    from analysis.data.statline import bundled_dir

    for f in bundled_dir().glob("*.csv"):
        shutil.copy(f, directory / f.name)
    (directory / NAMES_FILE).write_text(NAMES_ROWS, encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    statline = statline_with_names(tmp_path_factory.mktemp("statline"))
    outcome = run_study("benchmark", {"municipality": "GM0599", "year": 2017, "statline_dir": str(statline)},
                        out_root=out, progress=False, pdf=False)
    data = json.loads((outcome.run_dir / "results.json").read_text())
    return {e["name"]: e for e in data["estimates"]}, outcome.run_dir


@pytest.mark.slow
@pytest.mark.parametrize("indicator", INDICATORS)
def test_outside_share_near_nominal_on_cbs_2017(results, indicator):
    est, _ = results
    row = est[f"funnel_outside_998_share_{indicator}"]
    assert not row["suppressed"] and row["n"] == 388
    assert abs(row["estimate"] - NOMINAL) <= FEW_PERCENT
    assert row["overdispersion_phi"] > 1, "CBS municipalities vary beyond chance on every indicator"


@pytest.mark.slow
def test_position_with_interval_and_names(results):
    est, run_dir = results
    row = est["funnel_position_bijstand_density"]
    assert row["ci_low"] < row["ci_high"] and row["position"] in {"within", "above_95", "below_95", "above_99.8",
                                                                  "below_99.8"}
    nb = (run_dir / "notebook.ipynb").read_text()
    assert "Rotterdam" in nb and "GM0599" not in nb.replace('"municipality": "GM0599"', "").replace(
        "municipality = \\\"GM0599\\\"", "")


@pytest.mark.skipif(names_file() is None, reason="CBS municipality names not bundled (data/statline/README.md)")
def test_names_cover_every_statline_code():
    from analysis.data.statline import load_participatiewet

    tables = load_participatiewet()
    for year in (2015, 2016, 2017):
        codes = set(tables[(tables["year"] == year) & (tables["region_type"] == "GM")]["region"])
        names = municipality_names(year)
        assert codes <= set(names), f"{year}: codes without a name"
    assert municipality_names(2017)["GM0363"] == "Amsterdam"
    assert municipality_names(2015)["GM1921"] == "De Friese Meren"  # renamed De Fryske Marren (GM1940) in 2015


def test_share_in_words():
    assert share_in_words(28, 100, "nl") == "ruim een kwart van de 100"
    assert share_in_words(30, 100, "nl") == "bijna een derde van de 100"
    assert share_in_words(50, 100, "nl") == "ongeveer de helft van de 100"
    assert share_in_words(1, 4, "nl") == "1 van de 4"
    assert share_in_words(40, 40, "nl") == "elk van de 40"
    assert share_in_words(0, 40, "en") == "none of the 40"


def test_binomial_limits_flag_most_municipalities_and_overdispersion_fixes_it():
    """Issue #15's diagnosis on CBS 2017: binomial limits put most municipalities outside (93 % for density,
    75 % for inflow); both of Spiegelhalter's overdispersion models bring every share within a few percent."""
    from analysis.data.statline import load_participatiewet
    from analysis.studies.benchmark import indicator_funnels

    t = load_participatiewet()
    frame = t[(t["region_type"] == "GM") & (t["age_class"] == "all") & (t["year"] == 2017)]
    binomial = indicator_funnels(frame, method="none")
    assert binomial["density"].outside_share(0.998) > 0.85
    assert binomial["inflow"].outside_share(0.998) > 0.6
    for method in ("additive", "multiplicative"):
        for key, funnel in indicator_funnels(frame, method=method).items():
            assert abs(funnel.outside_share(0.998) - NOMINAL) <= FEW_PERCENT, (method, key)


def test_load_refuses_a_code_without_figures_and_a_directory_without_the_tables(tmp_path):
    from analysis.errors import ParameterError
    from analysis.studies.benchmark import load, statline_source

    with pytest.raises(ParameterError, match="lacks"):
        statline_source(str(tmp_path))
    source = statline_source()
    with pytest.raises(ParameterError, match="GM9999.*no 2017 figures"):  # no such code
        load(source, municipality="GM9999", year=2017)
    with pytest.raises(ParameterError, match="age_class"):
        load(source, municipality="GM0363", age_class="young")
    bench = load(source, municipality="GM0363", year=2017)
    assert source.directory == "data/statline"
    assert bench.name == ("Amsterdam" if names_file() else "GM0363")  # a code where no names file is present
    assert bench.municipality in set(bench.peers["region"]) and len(bench.frame) == 388


def test_names_from_the_optional_file_else_codes(tmp_path, monkeypatch):
    import analysis.data.statline as statline
    from analysis.errors import ParameterError
    from analysis.studies.benchmark import load, statline_source

    (tmp_path / "named").mkdir()
    named = statline_with_names(tmp_path / "named")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(statline, "bundled_dir", lambda: empty)
    assert municipality_names(2017) == {}
    assert municipality_names(2017, directory=named)["GM0518"] == "'s-Gravenhage"
    with pytest.raises(ParameterError, match="year=2016.*has the years 2017"):
        municipality_names(2016, directory=named)
    assert load(statline_source(str(named)), municipality="GM0363", year=2017).name == "Amsterdam"
    assert load(statline_source(str(named)), municipality="GM0014", year=2017).name == "GM0014"  # not in the file
