"""The pieces of benchmarks/scale.py and benchmarks/stack_dataset.py: what a measured peak counts, the cap,
and what a stacked dataset holds (row counts a closed form of the base's)."""

from __future__ import annotations

import sys

import pyarrow.parquet as pq
import pytest

from benchmark_scripts import load_benchmark

ALLOC_MB = 400  # what each test child allocates and touches
#: RSS counts the interpreter besides the allocation, and one 0.2 s poll may miss the last pages:
#: the peak must lie between the allocation less this and the allocation plus the interpreters' few tens of MB.
ALLOC_SLACK_MB = 60


scale = load_benchmark("scale")
stack = load_benchmark("stack_dataset")

HOLD = f"import time; b = bytearray({ALLOC_MB} * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.0)"


def test_peak_is_the_sum_over_the_process_tree(tmp_path):
    # the child allocates nothing itself; its own child holds ALLOC_MB for a second
    cmd = [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {HOLD!r}], check=True)"]
    row = scale.measure(cmd, cap_gb=4, log=tmp_path / "tree.log")
    assert row["status"] == "ok" and row["exit"] == 0
    peak_mb = row["peak_gb"] * 1024
    assert ALLOC_MB - ALLOC_SLACK_MB < peak_mb < ALLOC_MB + 3 * ALLOC_SLACK_MB, peak_mb
    assert row["cpu_s"] > 0  # the grandchild's CPU reaches the parent through the child's rusage


def test_a_tree_over_the_cap_is_killed_and_recorded(tmp_path):
    cmd = [sys.executable, "-c", HOLD.replace("time.sleep(1.0)", "time.sleep(60)")]
    row = scale.measure(cmd, cap_gb=(ALLOC_MB / 2) / 1024, log=tmp_path / "cap.log")
    assert row["status"] == "> cap"
    assert row["wall_s"] < 30  # stopped, not waited for
    assert row["exit"] != 0


def test_a_failing_step_reports_its_last_stderr_line(tmp_path):
    cmd = [sys.executable, "-c", "import sys; sys.exit('no such table: persons')"]
    row = scale.measure(cmd, cap_gb=4, log=tmp_path / "fail.log")
    assert row["status"] == "failed" and row["exit"] == 1
    assert row["error"] == "no such table: persons"


def test_growth_is_larger_over_smaller_and_a_capped_peak_a_lower_bound():
    rows = [{"step": "validate", "persons": 1_000_000, "wall_s": 10.0, "peak_gb": 2.0, "status": "ok"},
            {"step": "validate", "persons": 4_000_000, "wall_s": 50.0, "peak_gb": 2.4, "status": "ok"},
            {"step": "store", "persons": 1_000_000, "wall_s": 20.0, "peak_gb": 4.0, "status": "ok"},
            {"step": "store", "persons": 4_000_000, "wall_s": 30.0, "peak_gb": 14.0, "status": "> cap"}]
    got = {g["step"]: g for g in scale.growth(rows)}
    assert got["validate"]["peak_ratio"] == pytest.approx(1.2) and got["validate"]["time_ratio"] == pytest.approx(5.0)
    assert got["validate"]["persons_ratio"] == 4 and not got["validate"]["peak_ratio_is_lower_bound"]
    assert got["store"]["peak_ratio"] == pytest.approx(3.5) and got["store"]["peak_ratio_is_lower_bound"]
    assert got["store"]["time_ratio"] is None  # a stopped step has no time


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from analysis.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("stackbase") / "base", n_persons=2_000, seed=3)


@pytest.mark.slow  # generating the base takes a few seconds
def test_stacked_rows_are_copies_and_ids_unique(base, tmp_path):
    from analysis.data import load_dataset

    out = stack.stack_dataset(base, tmp_path / "st", persons=5_000)  # two full copies and half a copy
    ds = load_dataset(out)  # the contract holds: unique ids, every reference a person
    persons = ds.tables["persons"]
    assert len(persons) == 5_000 and persons["person_id"].is_unique
    base_persons = pq.read_table(base / "persons.parquet").to_pandas()
    first_half = set(base_persons["person_id"].iloc[:1_000])
    for table in ("health_yearly", "benefit_spells", "employment_spells", "partnerships"):
        frame = pq.read_table(base / f"{table}.parquet").to_pandas()
        expected = 2 * len(frame) + int(frame["person_id"].isin(first_half).sum())
        assert len(ds.tables[table]) == expected, table
    counts = persons["municipality_code"].value_counts()
    municipalities = ds.tables["municipalities"].set_index("municipality_code")["population"]
    assert (municipalities[counts.index] == counts).all()
    assert not (out / "truth.json").exists()


@pytest.mark.slow
def test_stacking_refuses_an_existing_directory(base, tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(stack.StackError, match="exists"):
        stack.stack_dataset(base, tmp_path / "taken", persons=10)


#: CPU seconds the grandchild burns before it allocates (measured by its own clock, so load does not matter).
BURN_S = 1.0


def test_a_killed_trees_cpu_counts_the_grandchild_nobody_reaps(tmp_path):
    burn = f"import time\nwhile time.process_time() < {BURN_S}: pass\n" + HOLD.replace("time.sleep(1.0)", "time.sleep(60)")
    cmd = [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}])"]
    row = scale.measure(cmd, cap_gb=(ALLOC_MB / 2) / 1024, log=tmp_path / "burn.log")
    assert row["status"] == "> cap"
    assert row["cpu_s"] >= BURN_S
