"""The synthetic generator in blocks of shards (issue #18): the draw does not depend on the block size or
the number of workers, shard 0 is the simulator's historical streams, and the truths pooled over blocks are
the means over all persons.

The shards here are small (a private keyword, ``_shard_persons``) so that a few thousand persons make
several shards and blocks. Expected values: the documented stream of shard 0 (``default_rng([seed, 1])``
for the population), and means computed by numpy over the potential outcomes of all persons at once.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.data import load_dataset
from analysis.data import synthetic as syn
from analysis.data.synthetic import blocks as bl, model, shards, truth as tr
from analysis.errors import ParameterError

N, SEED, SHARD = 1_700, 5, 400  # five shards (4 x 400 + 100): blocks of 1 and 3 shards differ in every way
POOLED = 1e-12  # a mean of per-shard sums against numpy's mean over all: equal up to floating-point rounding


def _json(truth: dict) -> str:
    """truth.json as written (NaN-safe, exact float text): two truths are the same when this is."""
    return json.dumps(truth, sort_keys=True)


def _assert_same(a, b):
    assert list(a.tables) == list(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], obj=name)
    assert _json(a.truth) == _json(b.truth)
    assert a.meta == b.meta


@pytest.fixture(scope="module")
def one_shard_blocks():
    return syn.simulate(N, seed=SEED, _shard_persons=SHARD, block_persons=SHARD)


def test_block_size_and_workers_do_not_change_the_draw(one_shard_blocks):
    three = syn.simulate(N, seed=SEED, _shard_persons=SHARD, block_persons=3 * SHARD - 50)  # rounded up: 3 shards
    _assert_same(one_shard_blocks, three)
    two_workers = syn.simulate(N, seed=SEED, _shard_persons=SHARD, block_persons=SHARD, workers=2)
    _assert_same(one_shard_blocks, two_workers)


@pytest.mark.slow  # starts two fresh interpreters
def test_spawned_workers_give_the_same_draw(one_shard_blocks):
    """The start method of Windows (and of macOS): workers import the package afresh."""
    spawned = syn.simulate(N, seed=SEED, _shard_persons=SHARD, block_persons=2 * SHARD, workers=2,
                           _mp_context="spawn")
    _assert_same(one_shard_blocks, spawned)


def test_written_files_do_not_depend_on_the_block_size(tmp_path, one_shard_blocks):
    """generate() appends each block's rows; the files read back as the whole tables."""
    small = syn.generate(tmp_path / "a", n_persons=N, seed=SEED, _shard_persons=SHARD, block_persons=SHARD)
    large = syn.generate(tmp_path / "b", n_persons=N, seed=SEED, _shard_persons=SHARD, block_persons=2 * SHARD,
                         workers=2)
    names = sorted(p.name for p in small.glob("*.parquet"))
    assert names == sorted(p.name for p in large.glob("*.parquet")) == sorted(
        f"{t}.parquet" for t in one_shard_blocks.tables)
    for name in names:
        a, b = pd.read_parquet(small / name), pd.read_parquet(large / name)
        pd.testing.assert_frame_equal(a, b, obj=name)
        expected = one_shard_blocks.tables[name[:-len(".parquet")]]
        assert len(a) == len(expected) and list(a["person_id"] if "person_id" in a else a.index) == list(
            expected["person_id"] if "person_id" in expected else expected.index)
    assert (small / "truth.json").read_text() == (large / "truth.json").read_text()
    assert json.loads((small / "truth.json").read_text())["parameters"]["shard_persons"] == SHARD
    ds = load_dataset(small)  # the data contract holds for the appended files
    assert len(ds.tables["persons"]) == N


def test_a_column_without_values_in_the_first_block_gets_its_type(tmp_path):
    """A tiny first block may have no end date at all; the file keeps the dates of the later blocks."""
    import datetime

    import pyarrow as pa

    sink = bl.TableSink(tmp_path, several_blocks=True)
    first = pd.DataFrame({"person_id": ["P0000000"], "end_date": [None], "partner_id": [None]})
    later = pd.DataFrame({"person_id": ["P0000001"], "end_date": [datetime.date(2015, 3, 1)], "partner_id": [None]})
    for frame in (first, later):
        sink.write("t", pa.Table.from_pandas(frame, preserve_index=False))
    sink.close()
    back = pd.read_parquet(tmp_path / "t.parquet")
    assert list(back["end_date"]) == [None, datetime.date(2015, 3, 1)]
    assert back["partner_id"].isna().all()


def test_ids_unique_sorted_and_tables_in_person_order(one_shard_blocks):
    persons = one_shard_blocks.tables["persons"]["person_id"]
    assert persons.is_unique and persons.is_monotonic_increasing
    assert list(persons) == [f"P{i:07d}" for i in range(N)]
    for name, frame in one_shard_blocks.tables.items():
        if "person_id" in frame:
            assert frame["person_id"].is_monotonic_increasing, name
            assert frame.index.equals(pd.RangeIndex(len(frame))), name
    # the municipalities' populations are counted over every block
    counts = one_shard_blocks.tables["persons"]["municipality_code"].value_counts()
    munis = one_shard_blocks.tables["municipalities"].set_index("municipality_code")["population"]
    assert munis.sum() == N and (munis[counts.index] == counts).all()


def test_id_width_depends_on_the_size_only():
    assert bl.person_ids(0, 2, 10_000_000)[-1] == "P0000001"
    assert bl.person_ids(9_999_999, 10_000_000, 10_000_000)[0] == "P9999999"
    assert bl.person_ids(17_999_999, 18_000_000, 18_000_000)[0] == "P17999999"
    assert bl.person_ids(5, 6, 18_000_000)[0] == "P00000005"


def test_a_dataset_within_one_shard_is_shard_zero_of_the_historical_streams():
    """n <= shard size: one shard, whatever the shard size, drawn from default_rng([seed, key])."""
    n = 350
    a = syn.simulate(n, seed=SEED, _shard_persons=SHARD, experiment=False)
    b = syn.simulate(n, seed=SEED, experiment=False)  # the default shard of 100,000 persons
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], obj=name)
    a.truth["parameters"].pop("shard_persons")
    b.truth["parameters"].pop("shard_persons")
    assert _json(a.truth) == _json(b.truth)
    pop = syn._population(n, np.random.default_rng([SEED, 1]))  # the population's documented stream
    np.testing.assert_array_equal(a.tables["persons"]["birth_year"].to_numpy(), pop.birth_year)
    world = model.simulate_world(pop, seed=SEED, n_months=syn.N_MONTHS, start_year=syn.START_YEAR)
    assert (a.tables["benefit_spells"]["benefit"] == "bijstand").sum() == tb_spells(world.bijstand)


def tb_spells(matrix) -> int:
    """Number of runs of months in bijstand: a spell each."""
    padded = np.pad(matrix.astype(np.int8), ((0, 0), (1, 0)))
    return int((np.diff(padded, axis=1) == 1).sum())


def test_shard_streams_are_the_shards_own_streams():
    """A block's draw is each shard's draw on its own key, concatenated; rows drawn by their person's shard."""
    layout = shards.Layout.of(2 * SHARD, 4 * SHARD + 30, SHARD)  # shards 2, 3 and 4 (30 persons)
    assert layout.shards == (2, 3, 4) and layout.n == 2 * SHARD + 30
    got = shards.ShardStreams(SEED, (17,), layout).random(lead=(3,))
    own = [np.random.default_rng([SEED, 17, shards.SHARD_TAG, j]).random((3, m))
           for j, m in ((2, SHARD), (3, SHARD), (4, 30))]
    np.testing.assert_array_equal(got, np.concatenate(own, axis=1))
    rows = np.array([5, 5, SHARD + 1, 3, 2 * SHARD + 29])  # persons of shards 2, 2, 3, 2, 4
    drawn = shards.ShardStreams(SEED, (9,), layout).integers(0, 28, rows=rows)
    first = [np.random.default_rng([SEED, 9, shards.SHARD_TAG, j]).integers(0, 28, size=m)
             for j, m in ((2, 3), (3, 1), (4, 1))]
    np.testing.assert_array_equal(drawn, [first[0][0], first[0][1], first[1][0], first[0][2], first[2][0]])
    zero = shards.ShardStreams(SEED, (17,), shards.Layout.of(0, 10, SHARD)).random()
    np.testing.assert_array_equal(zero, np.random.default_rng([SEED, 17]).random(10))


def test_pooled_truths_are_the_means_over_all_persons(one_shard_blocks):
    """The closed form of pooling: sum over blocks / count over blocks is the mean over the concatenated
    potential outcomes (computed here over all persons at once, by numpy, from the model's worlds)."""
    draw = syn.simulate(N, seed=SEED, _shard_persons=SHARD, block_persons=2 * SHARD, experiment=False)
    layout = shards.Layout.of(0, N, SHARD)  # every shard at once: each person's own draws
    pop = syn._population(N, shards.ShardStreams(SEED, (1,), layout))

    def world(off):
        return model.simulate_world(pop, seed=SEED, n_months=syn.N_MONTHS, start_year=syn.START_YEAR,
                                    switch_off=off, layout=layout)

    fact, no_divorce = world(None), world("divorce")
    _, ht = tr.health(pop, fact, seed=SEED, start_year=syn.START_YEAR, pre_exit_dip=False, layout=layout)
    truths = draw.truth["truths"]
    treated = (ht["g"][:, None] >= 1) & (ht["k"] >= 0)
    for outcome in ("healthcare_costs_eur", "antidepressants"):
        y1, y0 = ht[outcome]
        assert truths[f"att_{outcome}"] == pytest.approx(float((y1 - y0)[treated].mean()), rel=POOLED)
    s, T = fact.separation_month, syn.N_MONTHS
    women = np.flatnonzero((s >= 1) & (s + 12 < T) & (pop.sex_f == 1))
    expected = (fact.bijstand[women, s[women] + 12].astype(float) - no_divorce.bijstand[women, s[women] + 12]).mean()
    assert truths["excess_bijstand_after_divorce_12m_F"] == pytest.approx(float(expected), rel=POOLED)
    age = syn.START_YEAR + 3 - pop.birth_year
    wa = (age >= 18) & (age <= 66)
    on = fact.bijstand[:, 12 * 3 + 11] & fact.bijstand[:, 12 * 3 + 12]
    assert truths[f"bijstand_share_{syn.START_YEAR + 3}"] == pytest.approx(float(on[wa].mean()), rel=POOLED)


def test_ratio_of_one_shard_is_numpy_mean_to_the_bit():
    x = np.random.default_rng(3).gamma(2.0, 0.5, 10_001)
    assert shards.mean(x).value() == float(x.mean())
    flags = x > 1
    assert shards.mean(flags).value() == float(flags.mean())
    assert shards.mean(x[:0], empty=None).value() is None


@pytest.fixture(scope="module")
def experiment_shards():
    """Shards of 1,500 persons have about 25 participants (at least MIN_PARTICIPANTS); the last shard of
    200 persons has too few: no experiment there."""
    return syn.simulate(3_200, seed=2, _shard_persons=1_500, block_persons=1_500)


def test_experiment_per_shard_does_not_depend_on_the_block_size(experiment_shards):
    together = syn.simulate(3_200, seed=2, _shard_persons=1_500, block_persons=3_200)
    _assert_same(experiment_shards, together)


def test_experiment_is_randomised_within_each_shard(experiment_shards):
    from analysis.data.synthetic import experiments as ex

    table = experiment_shards.tables["experiments"]
    shard = table["person_id"].str[1:].astype(int) // 1_500
    assert set(shard) == {0, 1}  # the last shard (200 persons) has too few participants
    truth = experiment_shards.truth["truths"]["experiment"]
    assert truth["n_participants"] == len(table)
    for j in (0, 1):
        in_shard = table[shard == j]
        assert len(in_shard) >= ex.MIN_PARTICIPANTS
        # equal shares within each stratum of the shard: arm counts differ by at most one per stratum
        counts = in_shard.groupby("stratum")["arm"].value_counts().unstack(fill_value=0).reindex(
            columns=list(ex.ARMS), fill_value=0)
        assert (counts.max(axis=1) - counts.min(axis=1)).max() <= 1


@pytest.mark.parametrize("kwargs, message", [
    ({"block_persons": 0}, r"block_persons=0: give a whole number of at least 1"),
    ({"workers": 0}, r"workers=0: give a whole number of at least 1"),
    ({"workers": 1.5}, r"workers=1.5: give a whole number"),
    ({"block_persons": True}, r"block_persons=True: give a whole number"),
])
def test_bad_block_options_refused(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        syn.simulate(500, **kwargs)


def test_cli_refuses_bad_workers(tmp_path, capsys):
    from analysis.run import cli

    code = cli.main(["synth", "--persons", "500", "--out", str(tmp_path / "d"), "--workers", "0"])
    assert code == cli.EXIT_BAD_INPUT
    assert "workers=0" in capsys.readouterr().err
    assert not (tmp_path / "d" / "dataset.yml").exists()
