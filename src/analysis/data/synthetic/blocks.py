"""Blocks: runs of consecutive shards simulated together, in worker processes, written as they come.

A block holds ``block_persons`` persons (rounded up to whole shards, :mod:`.shards`) and is simulated
in memory by :func:`simulate_block`: every world, the health outcomes, the contract's tables of its
persons and each shard's truths (counts and :class:`~.shards.Ratio`). :func:`run_blocks` runs the
blocks one after the other or in ``workers`` processes (at most ``workers`` blocks in flight, results
in block order); :class:`TableSink` appends each block's tables to one Parquet file per table. Since
every draw is a shard's own and the truths are added shard by shard, neither the block size nor the
worker count changes a table or a truth.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from analysis.data.synthetic.shards import Layout, ShardStreams
from analysis.errors import ParameterError

#: Persons simulated together in memory (rounded up to whole shards): about 2 GB per block in flight.
DEFAULT_BLOCK_PERSONS = 200_000
#: The order of the tables in a draw (``municipalities`` is put together after the last block).
TABLE_ORDER = ("persons", "benefit_spells", "employment_spells", "partnerships", "health_yearly",
               "interventions", "participation_ladder", "municipalities", "experiments")


@dataclass(frozen=True)
class Config:
    """Everything a block needs (picklable: it goes to the worker processes)."""

    n_persons: int
    seed: int
    pre_exit_dip: bool
    dynamics: bool
    municipal_effects: bool
    programme_effect: str
    experiment: bool
    shard_persons: int
    arrow: bool = False  # tables as pyarrow Tables (for writing) instead of pandas frames


@dataclass(frozen=True)
class BlockResult:
    index: int
    lo: int
    hi: int
    tables: dict  # name -> DataFrame (or pyarrow.Table); ``municipalities`` is not among them
    population: np.ndarray  # persons per municipality (tables.MUNICIPALITIES order)
    shard_truths: list  # per shard, in shard order: trees of Ratio and counts
    municipal_truth: dict | None


def block_bounds(n_persons: int, block_persons: int, shard_persons: int) -> list:
    """(first, end) person of each block: ``block_persons`` rounded up to whole shards."""
    size = -(-block_persons // shard_persons) * shard_persons
    return [(lo, min(lo + size, n_persons)) for lo in range(0, n_persons, size)]


def person_ids(lo: int, hi: int, n_persons: int) -> np.ndarray:
    """``P`` and the zero-padded global index, width ``max(7, len(str(n_persons - 1)))`` (depends on n only)."""
    width = max(7, len(str(n_persons - 1)))
    return np.array([f"P{i:0{width}d}" for i in range(lo, hi)], dtype=object)


def simulate_block(config: Config, index: int, lo: int, hi: int) -> BlockResult:
    """Simulate persons ``lo`` .. ``hi - 1`` (whole shards but perhaps the last): see the module docstring."""
    from analysis.data import synthetic as syn
    from analysis.data.synthetic import exit_risk_set, experiments as ex, jobloss, model, programme, truth as tr

    layout = Layout.of(lo, hi, config.shard_persons)
    seed, k = config.seed, len(layout.shards)
    world_list = syn.WORLDS + (syn.DYNAMIC_WORLDS if config.dynamics else (exit_risk_set.WORLD,))
    pop = syn._population(hi - lo, ShardStreams(seed, (1,), layout))
    municipal_truth = None
    if config.municipal_effects:
        pop, municipal_truth = syn._municipal_effects(pop, seed, layout=layout)
    pop = programme.with_programme_effect(pop, config.programme_effect)
    ids = person_ids(lo, hi, config.n_persons)

    def run_world(off, trial=None):
        return model.simulate_world(pop, seed=seed, n_months=syn.N_MONTHS, start_year=syn.START_YEAR,
                                    switch_off=off, dynamics=config.dynamics, trial=trial, layout=layout)

    table, ex_truths = None, [None] * k
    if config.experiment:  # the experiment inside every world (experiments.py)
        worlds, table, ex_truths = ex.simulate_shard_worlds(pop, run_world, world_list, ids=ids, seed=seed,
                                                            start_year=syn.START_YEAR, layout=layout)
    else:
        worlds = {name: run_world(off) for name, off in world_list}
    health, health_truth = tr.health(pop, worlds["factual"], seed=seed, start_year=syn.START_YEAR,
                                     pre_exit_dip=config.pre_exit_dip, layout=layout,
                                     untreated_worlds={"never": worlds["no_exit_to_work"],
                                                       "not_now": worlds["exit_not_now"]}
                                     if config.dynamics else None)
    health, jobloss_truths = jobloss.health_effects(pop, worlds["factual"], health, seed=seed,
                                                    start_year=syn.START_YEAR, layout=layout)
    frames = tr.contract_tables(pop, worlds["factual"], ids, health, seed=seed, start_year=syn.START_YEAR,
                                layout=layout)
    del health
    if table is not None:
        frames["experiments"] = table
    main = tr.truths(pop, worlds, health_truth, start_year=syn.START_YEAR, layout=layout)
    risk = ([{}] * k if config.dynamics else  # the exit_health risk-set estimand in the default world
            exit_risk_set.risk_set_truths(pop, worlds["factual"], worlds["exit_not_now"], seed=seed,
                                          start_year=syn.START_YEAR, layout=layout))
    by_group = (programme.truth_by_group(pop, worlds, layout=layout) if config.programme_effect != "constant"
                else [None] * k)
    del worlds, health_truth
    shard_truths = []
    for i in range(k):
        t = main[i] | jobloss_truths[i] | risk[i]
        if ex_truths[i] is not None:
            t["experiment"] = ex_truths[i]
        if by_group[i] is not None:
            t["programme_effect_by_group"] = by_group[i]
        shard_truths.append(t)
    population = frames.pop("municipalities")["population"].to_numpy()
    if config.arrow:
        import pyarrow as pa

        frames = {name: pa.Table.from_pandas(frame, preserve_index=False) for name, frame in frames.items()}
    return BlockResult(index=index, lo=lo, hi=hi, tables=frames, population=population,
                       shard_truths=shard_truths, municipal_truth=municipal_truth)


def run_blocks(config: Config, bounds: list, *, workers: int = 1, mp_context: str | None = None,
               scheduler: str | None = None) -> Iterator[BlockResult]:
    """The blocks' results in block order; with ``workers`` > 1 in as many processes (``mp_context``: a
    start method, e.g. "spawn" as on Windows), at most ``workers`` blocks simulated at once; with
    ``scheduler`` (a Dask scheduler's address, ``tcp://host:port``) on that cluster's workers, at most one
    block per worker thread in flight (:func:`_run_on_dask`)."""
    if scheduler:
        yield from _run_on_dask(config, bounds, scheduler)
        return
    if workers == 1 or len(bounds) == 1:
        for i, (lo, hi) in enumerate(bounds):
            yield simulate_block(config, i, lo, hi)
        return
    context = multiprocessing.get_context(mp_context) if mp_context else None
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    todo = iter(enumerate(bounds))
    pending: deque = deque()

    def submit():
        nxt = next(todo, None)
        if nxt is not None:
            pending.append(pool.submit(simulate_block, config, nxt[0], *nxt[1]))

    try:
        for _ in range(workers):
            submit()
        while pending:
            result = pending.popleft().result()
            submit()  # a worker is free: start the next block while this one is consumed
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_on_dask(config: Config, bounds: list, scheduler: str) -> Iterator[BlockResult]:
    """The blocks on a Dask cluster (the one batches use, ``rendeert batch --scheduler``): each block is one
    task, :func:`simulate_block` with the same arguments as in a local process, so the draw is the same;
    a lost worker's block is retried once on another. Results come back in block order; the client holds
    the blocks in flight (one per worker thread) and the one being written."""
    try:
        from distributed import Client
    except ImportError:
        raise ParameterError("scheduler needs the packages dask and distributed "
                             "(pip install 'dask[distributed]').") from None
    with Client(scheduler, timeout="30s") as client:
        slots = max(1, sum(client.nthreads().values()))
        todo = iter(enumerate(bounds))
        pending: deque = deque()

        def submit():
            nxt = next(todo, None)
            if nxt is not None:
                i, (lo, hi) = nxt
                pending.append(client.submit(simulate_block, config, i, lo, hi, pure=False, retries=1,
                                             key=f"rendeert-synth-{config.seed}-{config.n_persons}-{i}"))

        for _ in range(slots):
            submit()
        try:
            while pending:
                future = pending.popleft()
                result = future.result()
                future.release()
                submit()
                yield result
        finally:
            for future in pending:
                future.cancel()


#: Multi-block datasets: a column with no value in the first block gets its type from this list (else
#: string); partner_id and cluster have no value in any block and keep the first block's (null) type.
_DATE_COLUMNS = ("start_date", "end_date", "date")
_ALWAYS_EMPTY = ("partner_id", "cluster")


class TableSink:
    """One Parquet file per table, a block's rows appended as one or more row groups, in block order; the
    schema is the first block's (``several_blocks``: columns without a value there get their type)."""

    def __init__(self, out: Path, *, several_blocks: bool):
        self.out, self.several = Path(out), several_blocks
        self.writers: dict = {}

    def _schema(self, schema):
        import pyarrow as pa

        if not self.several:
            return schema
        fields = []
        for f in schema:
            if pa.types.is_null(f.type) and f.name not in _ALWAYS_EMPTY:
                f = f.with_type(pa.date32() if f.name in _DATE_COLUMNS else pa.string())
            fields.append(f)
        return pa.schema(fields, metadata=schema.metadata)

    def write(self, name: str, table) -> None:
        import pyarrow.parquet as pq

        if name not in self.writers:
            schema = self._schema(table.schema)
            self.writers[name] = pq.ParquetWriter(self.out / f"{name}.parquet", schema)
        writer = self.writers[name]
        if not table.schema.equals(writer.schema, check_metadata=False):
            table = table.cast(writer.schema)
        writer.write_table(table)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers = {}


def concat_tables(results_tables: list) -> dict:
    """The blocks' frames of each table as one frame (RangeIndex), in :data:`TABLE_ORDER`."""
    out = {}
    for name in TABLE_ORDER:
        parts = [t[name] for t in results_tables if name in t]
        if parts:
            out[name] = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    return out
