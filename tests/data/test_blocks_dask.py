"""The synthetic generator's blocks on a Dask cluster (issue #18: "a national-scale study's blocks can run
on a Dask cluster too"): the cluster batches use (``rendeert batch --scheduler``), reached only through its
address; the draw is the one of local processes, and every block ran in a worker process."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from analysis.data import synthetic as syn
from analysis.errors import ParameterError
from dask_cluster import dask_cluster

pytestmark = pytest.mark.slow

N, SEED, SHARD = 1_700, 5, 400  # five shards, as tests/data/test_blocks.py


def test_blocks_on_a_dask_cluster_give_the_local_draw(tmp_path):
    local = syn.generate(tmp_path / "local", n_persons=N, seed=SEED, _shard_persons=SHARD, block_persons=SHARD)
    with dask_cluster(tmp_path / "logs", env=dict(os.environ)) as (address, procs):
        from distributed import Client

        on_cluster = syn.generate(tmp_path / "dask", n_persons=N, seed=SEED, _shard_persons=SHARD,
                                  block_persons=SHARD, scheduler=address)
        with Client(address) as client:  # the blocks ran as tasks on the workers
            done = client.run_on_scheduler(
                lambda dask_scheduler: [k for k in dask_scheduler.transition_log if "rendeert-synth" in str(k)])
    assert done, "no block ran on the cluster"
    for f in sorted(local.glob("*.parquet")):
        pd.testing.assert_frame_equal(pd.read_parquet(f), pd.read_parquet(tmp_path / "dask" / f.name), obj=f.name)
    assert (local / "truth.json").read_text() == (tmp_path / "dask" / "truth.json").read_text()


def test_workers_and_scheduler_exclude_each_other():
    with pytest.raises(ParameterError, match="give one of them"):
        syn.simulate(500, seed=1, workers=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ParameterError, match="Dask scheduler's address"):
        syn.simulate(500, seed=1, scheduler="  ")
