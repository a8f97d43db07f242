"""The optional experiments table (issue #17, docs/contract-experiments.md): a dataset without it keeps
loading, a valid one loads typed, and every validation rule refuses its bad input with one problem that
names the rule, the rows and a fix."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.data import load_dataset
from analysis.errors import DataValidationError
from data_helpers import TABLES, only_problem, write_dataset

HEADER = "person_id,experiment,arm,assignment_date,stratum,cluster\n"
VALID = HEADER + ("P1,pw_2017,control,2016-03-01,F_30,\nP2,pw_2017,intensive_support,2016-03-01,M_40,\n"
                  "P3,pw_2017,exemption,2016-04-01,F_30,\nP1,team_pilot,control,2017-01-15,,t1\n"
                  "P2,team_pilot,coaching,2017-01-15,,t2\n")


def _with(tmp_path, text):
    return write_dataset(tmp_path / "ds", {**TABLES, "experiments": text})


def test_dataset_without_experiments_loads(tiny):
    assert "experiments" not in load_dataset(tiny).tables


def test_valid_experiments_table_loads_typed(tmp_path):
    ds = load_dataset(_with(tmp_path, VALID))
    frame = ds.tables["experiments"]
    assert len(frame) == 5
    assert pd.api.types.is_datetime64_any_dtype(frame["assignment_date"])
    assert set(frame["arm"]) == {"control", "intensive_support", "exemption", "coaching"}
    assert frame["cluster"].isna().sum() == 3
    assert "experiments.csv" in ds.sha256  # part of the content hash


def test_minimal_columns_are_enough(tmp_path):
    text = "person_id,experiment,arm,assignment_date\nP1,e1,control,2016-01-01\nP2,e1,treatment,2016-01-01\n"
    assert len(load_dataset(_with(tmp_path, text)).tables["experiments"]) == 2


CASES = {
    # rule: (rows after the header, the rule, a pattern the message must hold)
    "unknown person": ("P1,e1,control,2016-01-01,,\nP9,e1,treatment,2016-01-01,,\n", "known-person",
                       r"person_id that is not in persons"),
    "two assignments": ("P1,e1,control,2016-01-01,,\nP1,e1,treatment,2016-02-01,,\nP2,e1,treatment,2016-01-01,,\n",
                        "unique", r"person_id \+ experiment that an earlier row already has"),
    "arm unnamed": ("P1,e1,control,2016-01-01,,\nP2,e1,treatment,2016-01-01,,\nP3,e1,,2016-01-01,,\n", "required-value", r"arm.*empty cell"),
    "arm badly named": ("P1,e1,control,2016-01-01,,\nP2,e1,Intensive Support,2016-01-01,,\n", "name",
                        r"malformed arm name"),
    "experiment badly named": ("P1,Pilot 1,control,2016-01-01,,\nP2,Pilot 1,treatment,2016-01-01,,\n", "name",
                               r"malformed experiment name"),
    "date before the period": ("P1,e1,control,2013-06-01,,\nP2,e1,treatment,2016-01-01,,\n", "within-observation",
                               r"assignment_date outside the data period 2014-01-01 to 2017-12-31"),
    "date after the period": ("P1,e1,control,2016-01-01,,\nP2,e1,treatment,2018-01-02,,\n", "within-observation",
                              r"outside the data period"),
    "date unparseable": ("P1,e1,control,2016-01-01,,\nP2,e1,treatment,01-02-2016,,\n", "date",
                         r"not a date YYYY-MM-DD"),
    "no control arm": ("P1,e1,regular,2016-01-01,,\nP2,e1,treatment,2016-01-01,,\n", "control-arm",
                       r"without a 'control' arm \(experiments: e1\)"),
    "only control": ("P1,e1,control,2016-01-01,,\nP2,e1,control,2016-01-01,,\n", "treatment-arm",
                     r"only the 'control' arm"),
    "cluster in two arms": ("P1,e1,control,2016-01-01,,t1\nP2,e1,treatment,2016-01-01,,t1\n"
                            "P3,e1,treatment,2016-01-01,,t2\n", "cluster-one-arm",
                            r"cluster with persons in more than one arm"),
    "cluster in two strata": ("P1,e1,control,2016-01-01,a,t1\nP2,e1,control,2016-01-01,b,t1\n"
                              "P3,e1,treatment,2016-01-01,a,t2\n", "cluster-one-stratum",
                              r"more than one stratum"),
    "stratum on some rows": ("P1,e1,control,2016-01-01,a,\nP2,e1,treatment,2016-01-01,,\n", "stratum-complete",
                             r"empty stratum in an experiment whose other rows have one"),
    "cluster on some rows": ("P1,e1,control,2016-01-01,,t1\nP2,e1,treatment,2016-01-01,,\n", "cluster-complete",
                             r"empty cluster"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_rule_refuses_its_input(tmp_path, case):
    rows, rule, pattern = CASES[case]
    with pytest.raises(DataValidationError, match=pattern) as info:
        load_dataset(_with(tmp_path, HEADER + rows))
    problem = only_problem(info, rule)
    assert problem.file == "experiments.csv" and problem.fix
    assert problem.count >= 1 and problem.examples, "the offending rows are named"


def test_missing_required_column(tmp_path):
    text = "person_id,experiment,arm\nP1,e1,control\nP2,e1,treatment\n"
    with pytest.raises(DataValidationError, match=r"has no column\(s\) assignment_date") as info:
        load_dataset(_with(tmp_path, text))
    only_problem(info, "required-columns")
