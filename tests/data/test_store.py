"""The processed store: hand-worked spells and flags, rebuild identity, atomic builds."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

import analysis.data.store as store_mod
from analysis.data import build_store, load_dataset
from analysis.errors import DataValidationError
from conftest import write_dataset


def _month(y, m):
    return y * 12 + m - 1


def test_bijstand_spells_merged_by_calendar_month_rule(tiny, tmp_path):
    # P1: 2015-03-10..2015-08-20 and 2015-10-05..2016-02-01: September 2015 is a full calendar month
    # without bijstand, so these are two spells. Add one starting 2016-03-15: February had bijstand
    # (to 2016-02-01), so it joins the second spell.
    store = build_store(load_dataset(tiny), root=tmp_path / "proc")
    spells = store.read("bijstand_spells")
    p1 = spells[spells.person_id == "P1"].reset_index(drop=True)
    assert len(p1) == 2
    assert p1.loc[0, "start_month"] == _month(2015, 3) and p1.loc[0, "end_month"] == _month(2015, 8)
    assert not p1["censored"].any()
    p2 = spells[spells.person_id == "P2"].iloc[0]
    assert p2["censored"] and pd.Timestamp(p2["end_date"]) == pd.Timestamp("2017-12-31")


def test_near_spells_merge(tmp_path, tables):
    tables["benefit_spells"] += "P1,bijstand,2016-03-15,2016-05-01,GM0363,1150\n"
    store = build_store(load_dataset(write_dataset(tmp_path / "d", tables)), root=tmp_path / "proc")
    p1 = store.read("bijstand_spells").query("person_id == 'P1'")
    assert len(p1) == 2
    assert p1["n_merged"].tolist() == [1, 2]
    assert p1["end_month"].max() == _month(2016, 5)


def test_person_month_and_year_flags_hand_worked(tiny, tmp_path):
    store = build_store(load_dataset(tiny), root=tmp_path / "proc")
    pm = store.read("person_month").query("person_id == 'P1'").set_index("month")
    assert pm.index.min() == _month(2015, 3) and pm.index.max() == _month(2016, 2)
    assert pm.loc[_month(2015, 9), "bijstand"] == 0
    assert pm.loc[_month(2015, 10), "bijstand"] == 1
    assert pm.loc[_month(2016, 2), "employed"] == 1  # job from 2016-02-15
    assert pm.loc[_month(2015, 3), "other_benefit"] == 1  # ww to 2015-03-09
    assert pm.loc[_month(2015, 3), "partnered"] == 0  # divorced 2015-02-14
    py = store.read("person_year").set_index(["person_id", "year"])
    assert py.loc[("P1", 2015), "bijstand_months"] == 9  # Mar-Aug, Oct-Dec
    assert py.loc[("P1", 2015), "bijstand_dec31"] == 1
    assert py.loc[("P1", 2016), "bijstand_dec31"] == 0
    assert py.loc[("P2", 2017), "bijstand_dec31"] == 1
    assert py.loc[("P1", 2015), "antidepressants"] == 1
    exits = store.read("bijstand_exits").query("person_id == 'P1'")
    # spell 1 ends 2015-08-20, the job starts 2016-02-15: 179 days; spell 2 ends 2016-02-01: 14 days
    assert exits["days_to_employment"].tolist() == [179, 14]


def _digest(root):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.glob("*.parquet"))}


def test_rebuilt_store_equals_the_first(tiny, tmp_path):
    first = build_store(load_dataset(tiny), root=tmp_path / "a")
    second = build_store(load_dataset(tiny), root=tmp_path / "b")
    for name in store_mod.TABLES:
        pd.testing.assert_frame_equal(first.read(name), second.read(name))
    again = build_store(load_dataset(tiny), root=tmp_path / "a")
    assert again.root == first.root and _digest(again.root) == _digest(first.root)


def test_interrupted_build_leaves_nothing(tiny, tmp_path, monkeypatch):
    def broken(con, ds, out):
        (out / "persons.parquet").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(store_mod, "_build", broken)
    with pytest.raises(KeyboardInterrupt):
        build_store(load_dataset(tiny), root=tmp_path / "proc")
    leftovers = [p for p in (tmp_path / "proc").rglob("*") if p.is_file()]
    assert leftovers == []


def test_invalid_dataset_writes_nothing(tmp_path, tables):
    tables["persons"] = tables["persons"].replace("P1,F", "P1,Q")
    path = write_dataset(tmp_path / "d", tables)
    with pytest.raises(DataValidationError):
        build_store(load_dataset(path), root=tmp_path / "proc")
    assert not (tmp_path / "proc").exists()
