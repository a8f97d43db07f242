"""The processed store: hand-worked spells and flags, rebuild identity, atomic builds."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

import analysis.data.store as store_mod
from analysis.data import build_store, load_dataset
from analysis.errors import DataValidationError, ParameterError
from data_helpers import META, write_dataset


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
    assert list((tmp_path / "proc").rglob("*")) == []  # no file and no temporary directory


def test_invalid_dataset_writes_nothing(tmp_path, tables):
    tables["persons"] = tables["persons"].replace("P1,F", "P1,Q")
    path = write_dataset(tmp_path / "d", tables)
    with pytest.raises(DataValidationError):
        build_store(load_dataset(path), root=tmp_path / "proc")
    assert not (tmp_path / "proc").exists()


def test_store_key_includes_dataset_yml(tmp_path, tables):
    """Changing observation_end must give a new store: open spells run to it and its years exist."""
    path = write_dataset(tmp_path / "d", tables)
    first = build_store(load_dataset(path), root=tmp_path / "proc")
    (path / "dataset.yml").write_text(META.replace("2017-12-31", "2018-12-31"))
    second = build_store(load_dataset(path), root=tmp_path / "proc")
    assert second.root != first.root
    py = second.read("person_year").set_index(["person_id", "year"])
    # P2's bijstand spell from 2016-01-01 is open, so by the contract it runs to the new observation_end
    assert py.loc[("P2", 2018), "bijstand_dec31"] == 1
    assert py.loc[("P2", 2018), "bijstand_months"] == 12
    p2 = second.read("bijstand_spells").query("person_id == 'P2'").iloc[0]
    assert pd.Timestamp(p2["end_date"]) == pd.Timestamp("2018-12-31")
    assert 2018 not in set(first.read("person_year")["year"])


def test_store_written_with_a_manifest_last(tiny, tmp_path):
    store = build_store(load_dataset(tiny), root=tmp_path / "proc")
    manifest = json.loads((store.root / store_mod.MANIFEST).read_text())
    assert set(manifest["tables"]) == set(store_mod.TABLES)
    for name, entry in manifest["tables"].items():
        data = (store.root / f"{name}.parquet").read_bytes()
        assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert store_mod.verify_store(store.root) is None
    assert store_mod.verify_store(store.root, verify="full") is None


def _truncate(root):
    f = root / "person_year.parquet"
    f.write_bytes(f.read_bytes()[:-100])


def _remove(root):
    (root / "bijstand_exits.parquet").unlink()


def _no_manifest(root):
    (root / store_mod.MANIFEST).unlink()


def _same_size_garbage(root):
    f = root / "persons.parquet"
    f.write_bytes(b"\0" * f.stat().st_size)


@pytest.mark.parametrize("damage,reason", [
    (_truncate, r"person_year.parquet has \d+ bytes, the manifest says \d+"),
    (_remove, r"bijstand_exits.parquet is missing"),
    (_no_manifest, r"store.json is missing or unreadable"),
    (_same_size_garbage, r"persons.parquet is not a readable Parquet file"),
])
def test_damaged_store_is_detected_and_rebuilt(tiny, tmp_path, damage, reason, caplog):
    ds = load_dataset(tiny)
    first = build_store(ds, root=tmp_path / "proc")
    good = _digest(first.root)
    damage(first.root)
    assert re.search(reason, store_mod.verify_store(first.root))
    with caplog.at_level(logging.WARNING, logger="analysis.data.store"):
        again = build_store(ds, root=tmp_path / "proc")
    assert again.root == first.root
    assert "is damaged" in caplog.text and "rebuilding" in caplog.text
    assert _digest(again.root) == good
    assert store_mod.verify_store(again.root, verify="full") is None
    assert [p.name for p in (tmp_path / "proc").iterdir()] == ["tiny"]  # nothing left aside


def test_full_verify_catches_a_changed_byte(tiny, tmp_path):
    ds = load_dataset(tiny)
    store = build_store(ds, root=tmp_path / "proc")
    f = store.root / "persons.parquet"
    data = bytearray(f.read_bytes())
    data[10] ^= 0xFF  # same size, footer intact: only the checksum can tell
    f.write_bytes(bytes(data))
    assert store_mod.verify_store(store.root) is None
    assert "does not match its sha256" in store_mod.verify_store(store.root, verify="full")
    rebuilt = build_store(ds, root=tmp_path / "proc", verify="full")
    assert store_mod.verify_store(rebuilt.root, verify="full") is None


def test_verify_option_is_checked(tiny, tmp_path):
    with pytest.raises(ParameterError, match=r"verify='fast' is not allowed; choose one of 'quick', 'full'"):
        build_store(load_dataset(tiny), root=tmp_path / "proc", verify="fast")


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def test_stale_temp_dirs_of_dead_builds_are_removed(tiny, tmp_path):
    root = tmp_path / "proc"
    root.mkdir()
    host = store_mod._host()
    dead = root / f"{store_mod.TMP_PREFIX}{host}-{_dead_pid()}-abcd1234"
    alive = root / f"{store_mod.TMP_PREFIX}{host}-{os.getpid()}-abcd1234"
    old_other_host = root / f"{store_mod.TMP_PREFIX}otherhost-1-abcd1234"
    young_other_host = root / f"{store_mod.TMP_PREFIX}otherhost-2-abcd1234"
    for d in (dead, alive, old_other_host, young_other_host):
        d.mkdir()
        (d / "persons.parquet").write_bytes(b"half")
    day_and_more = time.time() - store_mod.STALE_AFTER_S - 60
    os.utime(old_other_host, (day_and_more, day_and_more))
    build_store(load_dataset(tiny), root=root)
    left = sorted(p.name for p in root.iterdir())
    assert left == sorted([alive.name, young_other_host.name, "tiny"])


@pytest.mark.slow
def test_build_killed_outright_leaves_no_temp_dir_after_the_next_build(tiny, tmp_path):
    """SIGKILL mid-build: no cleanup can run then, so the next build removes the dead build's directory."""
    root = tmp_path / "proc"
    script = textwrap.dedent(f"""
        import time
        import analysis.data.store as s
        from analysis.data import load_dataset
        def slow(con, ds, out):
            (out / "persons.parquet").write_bytes(b"half")
            print("building", flush=True)
            time.sleep(60)
        s._build = slow
        s.build_store(load_dataset({str(tiny)!r}), root={str(root)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert proc.stdout.readline().strip() == "building"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert [p.name for p in root.iterdir() if p.name.startswith(store_mod.TMP_PREFIX)]
    store = build_store(load_dataset(tiny), root=root)
    assert [p.name for p in root.iterdir()] == ["tiny"]
    assert store_mod.verify_store(store.root, verify="full") is None


def _count_blocks(monkeypatch) -> list:
    """Record the number of person ranges of every blocked build."""
    seen, real = [], store_mod._build_in_blocks

    def spy(con, inputs, cuts, *args, **kwargs):
        seen.append(len(cuts) + 1)
        return real(con, inputs, cuts, *args, **kwargs)

    monkeypatch.setattr(store_mod, "_build_in_blocks", spy)
    return seen


def _tables(store):
    import pyarrow.parquet as pq

    return {name: pq.read_table(store.path(name)) for name in store_mod.TABLES}


def _assert_same_store(whole, blocks):
    a, b = _tables(whole), _tables(blocks)
    for name in store_mod.TABLES:
        assert a[name].schema.equals(b[name].schema), (name, a[name].schema, b[name].schema)
        assert a[name].equals(b[name]), name


@pytest.mark.slow
def test_person_tables_in_blocks_equal_one_piece(tmp_path, monkeypatch):
    """Above PERSON_BLOCK persons, person_year and person_month are built per range of person ids: the
    same rows in the same order with the same Parquet schema as the one-piece COPY, and so every table."""
    from analysis.data.synthetic import generate

    ds = load_dataset(generate(tmp_path / "d", n_persons=2_000, seed=5), work_dir=tmp_path / "work")
    seen = _count_blocks(monkeypatch)
    monkeypatch.setattr(store_mod, "PERSON_BLOCK", 10_000)  # one block: the one-piece queries
    whole = build_store(ds, root=tmp_path / "whole")
    assert seen == []
    monkeypatch.setattr(store_mod, "PERSON_BLOCK", 150)  # about 14 ranges of persons
    blocks = build_store(ds, root=tmp_path / "blocks")
    assert len(seen) == 1 and seen[0] >= 10
    assert whole.read("person_month")["person_id"].nunique() > 100  # recipients in every block
    _assert_same_store(whole, blocks)


def test_blocks_without_recipients_or_spells_equal_one_piece(tiny, tmp_path, monkeypatch):
    """One person a block: blocks whose persons have no bijstand, job or health row still give the same tables."""
    ds = load_dataset(tiny)
    seen = _count_blocks(monkeypatch)
    whole = build_store(ds, root=tmp_path / "whole")
    monkeypatch.setattr(store_mod, "PERSON_BLOCK", 1)
    blocks = build_store(ds, root=tmp_path / "blocks")
    n_persons = len(whole.read("persons"))
    assert seen == [n_persons]
    assert n_persons >= 3 and whole.read("person_month")["person_id"].nunique() < n_persons
    _assert_same_store(whole, blocks)
