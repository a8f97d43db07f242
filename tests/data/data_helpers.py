"""A tiny valid dataset written as CSV, to break one rule at a time (imported by the tests of tests/data:
a module of its own, not conftest, so that no other directory's conftest.py can shadow it)."""

from __future__ import annotations

from pathlib import Path

TABLES = {
    "persons": "person_id,sex,birth_year,municipality_code,migration_background,education\n"
               "P1,F,1980,GM0363,dutch,low\nP2,M,1975,GM0363,western,high\nP3,F,1990,GM0599,,middle\n",
    "benefit_spells": "person_id,benefit,start_date,end_date,municipality_code,monthly_amount_eur\n"
                      "P1,bijstand,2015-03-10,2015-08-20,GM0363,1150\n"
                      "P1,bijstand,2015-10-05,2016-02-01,GM0363,1150\n"
                      "P1,ww,2015-01-01,2015-03-09,GM0363,1600\n"
                      "P2,bijstand,2016-01-01,,GM0363,1620\n",
    "employment_spells": "person_id,start_date,end_date,monthly_wage_eur\nP1,2016-02-15,2017-06-30,2300\n"
                         "P3,2014-01-01,,2500\n",
    "partnerships": "person_id,partner_id,kind,start_date,end_date,end_reason\n"
                    "P1,P2,marriage,2010-05-01,2015-02-14,divorce\nP2,P1,marriage,2010-05-01,2015-02-14,divorce\n",
    "health_yearly": "person_id,year,healthcare_costs_eur,mental_healthcare_costs_eur,gp_costs_eur,antidepressants\n"
                     "P1,2015,1200.5,300,150,1\nP2,2015,800,0,120,0\n",
}
META = "name: tiny\nsource: hand-made test data\nobservation_start: 2014-01-01\nobservation_end: 2017-12-31\n"


def write_dataset(path: Path, tables: dict | None = None, meta: str = META) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "dataset.yml").write_text(meta)
    for name, text in (tables or TABLES).items():
        (path / f"{name}.csv").write_text(text)
    return path


def only_problem(info, rule: str):
    """The error holds exactly one problem, of ``rule``: the data broke that rule and no other."""
    problems = info.value.problems
    assert [p.rule for p in problems] == [rule], str(info.value)
    return problems[0]
