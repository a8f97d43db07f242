"""Synthetic register data with known causal truth.

``simulate`` draws a population, runs the monthly model (``model.py``) in the
factual world and in one counterfactual world per cause (the cause's effect
switched off, the same random numbers), each with the randomised experiment of
``experiments.py`` inside (on by default), writes the contract's tables and
computes ``truth.json`` from the potential outcomes (``truth.py``). The causal
effects are built in (``model.EFFECTS``); the truths are not copied from them
but measured as differences between the worlds, on exactly the estimands the
studies report (docs/architecture.md).

    rendeert synth --persons 50000 --seed 1 --out data/raw/synthetic-default

Deterministic for a given seed and size.

National scale (issue #18): shards and blocks. The seeding unit is a *shard* of
``shards.SHARD_PERSONS`` (100,000) consecutive persons: every random number of a
person comes from their shard's own streams (``shards.ShardStreams``). Shard 0
draws from the streams the simulator has always used (``default_rng([seed,
*key])``), so a dataset of up to 100,000 persons is the same draw as before;
shard j >= 1 from ``default_rng([seed, *key, SHARD_TAG, j])``. A *block* is a run
of consecutive shards simulated together in memory (``block_persons``, default
200,000, rounded up to whole shards; ``blocks.py``), in ``workers`` processes, and
``generate`` appends each block's tables to the Parquet files as it comes (dataset.yml
last). Why the result does not depend on the block size or the worker count:

- the model has no links between persons (``partner_id`` is empty), and a block's
  draw is the concatenation of its shards' own draws, in shard order, so each person's
  numbers are those of their shard simulated alone; draws per row of a derived table
  (spells, unions) are taken from the stream of the row's person's shard;
- the experiment is randomised within strata of each shard, on that shard's stream (a
  shard with fewer than ``experiments.MIN_PARTICIPANTS`` participants has none);
- every truth is a mean, a ratio or a count, computed per shard as a sum and a count
  (``shards.Ratio``) and added over the shards in shard order before the one division:
  the same floating-point operations whatever the grouping into blocks. For a single
  shard the sum divided by the count is bit for bit ``numpy.mean``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from analysis.data.synthetic import (blocks as bl, exit_risk_set, experiments as ex, jobloss, model, programme,
                                     tables as tb, truth as tr)
from analysis.data.synthetic.shards import SHARD_PERSONS, Layout, ShardStreams, fold_all, resolve, shard_zero
from analysis.errors import ParameterError

START_YEAR = 2014
N_MONTHS = 120


@dataclass(frozen=True)
class SyntheticDraw:
    tables: dict
    truth: dict
    meta: dict

    def write(self, out_dir: str | Path) -> Path:
        """Write the tables, truth.json and, last, dataset.yml: a write that stops halfway leaves a
        directory without dataset.yml, which no loader mistakes for a dataset."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "dataset.yml").unlink(missing_ok=True)  # an older draw's marker must not bless a half-written one
        for name, frame in self.tables.items():
            frame.to_parquet(out / f"{name}.parquet", index=False)
        (out / "truth.json").write_text(json.dumps(self.truth, indent=2) + "\n", encoding="utf-8")
        meta = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in self.meta.items()}
        (out / "dataset.yml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
        return out


def _population(n: int, rng) -> model.Population:
    """``n`` persons drawn from ``rng``: a block's ``shards.ShardStreams`` (a Generator is one shard)."""
    if isinstance(rng, np.random.Generator):
        rng = ShardStreams.wrap(rng, n)
    weights = np.array([w for _, _, w in tb.MUNICIPALITIES])
    education = np.searchsorted([0.3, 0.7, 1.0], rng.random()).astype(np.int8)
    sex_f = (rng.random() < 0.5).astype(np.int8)
    birth_year = rng.integers(1950, 2001)
    migration = np.searchsorted([0.76, 0.86, 1.0], rng.random()).astype(np.int8)
    municipality = np.searchsorted(np.cumsum(weights / weights.sum()), rng.random()).astype(np.int16)
    u = rng.normal()
    assessment = np.clip(np.round(3.0 + 1.1 * u + 0.3 * (education - 1) + rng.normal(0, 0.45)), 1, 6)
    return model.Population(sex_f=sex_f, birth_year=birth_year, education=education, migration=migration,
                            municipality=municipality, u=u, assessment=assessment.astype(np.int8))


#: Scenario ``municipal_effects``: the municipalities' true effects on bijstand entry (log-odds; the
#: exit-to-work log-odds move by minus the same amount) are spread evenly over this range, and each
#: municipality's share of residents with a low (high) education moves by ``-COMPOSITION_SLOPE`` (+) per
#: unit of effect: where the municipality lowers bijstand, more residents have a low education.
MUNICIPAL_EFFECT_RANGE = (-0.5, 0.5)
COMPOSITION_SLOPE = 0.6


def _municipal_effects(pop: model.Population, seed: int, *, layout: Layout | None = None
                       ) -> tuple[model.Population, dict]:
    """Give each municipality a true effect and an education mix that leans against it (own random stream,
    so the rest of the population is the default draw). The effects are shard 0's permutation (the same in
    every block); each shard's stream then draws its persons' education."""
    from dataclasses import replace

    k = len(tb.MUNICIPALITIES)
    rng = ShardStreams(seed, (3,), layout or Layout.single(len(pop.u)))
    effects = shard_zero(seed, (3,)).permutation(np.linspace(*MUNICIPAL_EFFECT_RANGE, k))
    rng.advance(lambda g: g.permutation(np.linspace(*MUNICIPAL_EFFECT_RANGE, k)))
    low = np.clip(0.3 - COMPOSITION_SLOPE * effects, 0.03, 0.6)
    high = np.clip(0.3 + COMPOSITION_SLOPE * effects, 0.03, 0.6)
    draw = rng.random()
    m = pop.municipality
    education = np.where(draw < low[m], 0, np.where(draw < low[m] + (1 - low[m] - high[m]), 1, 2)).astype(np.int8)
    truth = {code: {"entry_log_odds": float(effects[i]), "exit_to_work_log_odds": float(-effects[i]),
                    "share_low_education": float(low[i]), "share_high_education": float(high[i])}
             for i, (code, _, _) in enumerate(tb.MUNICIPALITIES)}
    return replace(pop, education=education, municipal_effect=effects[m].astype(float)), truth


def _experiment_on(experiment, *, dynamics: bool) -> bool:
    """``simulate``'s ``experiment``: None is on in the default world and off in the dynamic one."""
    if experiment is not None and not isinstance(experiment, (bool, np.bool_)):
        raise ParameterError(f"experiment={experiment!r}: give True, False or None (on, except with dynamics).")
    if experiment and dynamics:
        raise ParameterError("experiment=True with dynamics=True: the dynamic world has no experiment (its "
                             "never-treated worlds would need one of their own); leave experiment out or give False.")
    return (not dynamics) if experiment is None else bool(experiment)


WORLDS = (("factual", None), ("no_divorce", "divorce"), ("no_job_loss", "job_loss"),
          ("no_programme", "programme"), ("delayed_start", "delay_start"))


DYNAMIC_WORLDS = (("no_exit_to_work", "exit_to_work"), ("exit_not_now", "delay_exit"))


def simulate(n_persons: int = 50_000, *, seed: int = 0, pre_exit_dip: bool = False, dynamics: bool = False,
             municipal_effects: bool = False, programme_effect: str = "constant", experiment: bool | None = None,
             progress: bool = False, block_persons: int = bl.DEFAULT_BLOCK_PERSONS, workers: int = 1,
             scheduler: str | None = None, _shard_persons: int = SHARD_PERSONS,
             _mp_context: str | None = None) -> SyntheticDraw:
    """Simulate ``n_persons`` over 2014-2023 and compute the truths; see the module docstring.

    ``dynamics`` switches on the dynamic world of ``model.DYNAMICS`` and state-dependent health
    (``truth.STATE_EFFECTS``): unions form and dissolve during the window, a partner protects against
    bijstand, health drifts with time on bijstand; the counterfactual worlds are the never-treated
    ones. On it, comparison groups that are not at risk of the event give biased effects
    (tests/designs). ``municipal_effects`` (off by default; the default draw is untouched) gives each
    municipality a true effect on bijstand entry and exit to work and an education mix correlated with it
    (:data:`MUNICIPAL_EFFECT_RANGE`, :data:`COMPOSITION_SLOPE`); truth.json then holds them under
    ``truths["municipal_effects"]`` (the compare study's validation). ``programme_effect``
    (``programme.PROGRAMME_EFFECTS``; default "constant") makes the programme's effect vary with education
    ("heterogeneous") or vanish ("none"), with the truth per group in ``truths["programme_effect_by_group"]``.
    ``experiment`` runs the randomised multi-arm experiment of :mod:`.experiments` in every world (the
    ``experiments`` table, ``truths["experiment"]``): None (the default) means on, except with ``dynamics``
    (the dynamic world has no experiment; ``experiment=True`` there is an error); False leaves it out.
    ``block_persons`` persons (rounded up to whole shards) are simulated together, in ``workers``
    processes or, with ``scheduler`` (a Dask scheduler's address), on that cluster's workers; none of
    these changes the draw. ``progress`` shows a bar on standard error, one step per block.
    """
    config, bounds = _config(n_persons, seed=seed, pre_exit_dip=pre_exit_dip, dynamics=dynamics,
                             municipal_effects=municipal_effects, programme_effect=programme_effect,
                             experiment=experiment, block_persons=block_persons, workers=workers,
                             shard_persons=_shard_persons, scheduler=scheduler)
    tables, state = [], _Totals()
    for result in _blocks(config, bounds, workers=workers, progress=progress, mp_context=_mp_context,
                          scheduler=scheduler):
        state.add(result)
        tables.append(result.tables)
    frames = bl.concat_tables(tables)
    frames = {**{k: v for k, v in frames.items() if k != "experiments"}, "municipalities": state.municipalities(),
              **({"experiments": frames["experiments"]} if "experiments" in frames else {})}
    truth, meta = _truth_and_meta(config, state)
    return SyntheticDraw(tables=frames, truth=truth, meta=meta)


def generate(out_dir: str | Path, *, n_persons: int = 50_000, seed: int = 0, progress: bool = False,
             block_persons: int = bl.DEFAULT_BLOCK_PERSONS, workers: int = 1, scheduler: str | None = None,
             _shard_persons: int = SHARD_PERSONS, _mp_context: str | None = None, **scenario) -> Path:
    """Simulate and write a dataset directory (parquet tables, truth.json and, last, dataset.yml), block by
    block: each block's tables are appended to the files as it is done, so memory holds at most
    ``workers`` blocks and the one being written (``simulate`` for the scenario options)."""
    experiment = scenario.pop("experiment", None)
    config, bounds = _config(n_persons, seed=seed, experiment=experiment, block_persons=block_persons,
                             workers=workers, shard_persons=_shard_persons, arrow=True, scheduler=scheduler,
                             **scenario)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "dataset.yml").unlink(missing_ok=True)  # an older draw's marker must not bless a half-written one
    sink, state = bl.TableSink(out, several_blocks=len(bounds) > 1), _Totals()
    try:
        for result in _blocks(config, bounds, workers=workers, progress=progress, mp_context=_mp_context,
                              scheduler=scheduler):
            state.add(result)
            for name in bl.TABLE_ORDER:
                if name in result.tables:
                    sink.write(name, result.tables[name])
        sink.write("municipalities", _arrow(state.municipalities()))
    finally:
        sink.close()
    truth, meta = _truth_and_meta(config, state)
    return SyntheticDraw(tables={}, truth=truth, meta=meta).write(out)


def _arrow(frame: pd.DataFrame):
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


def _config(n_persons, *, seed, pre_exit_dip=False, dynamics=False, municipal_effects=False,
            programme_effect="constant", experiment=None, block_persons, workers, shard_persons, arrow=False,
            scheduler=None):
    if not isinstance(n_persons, (int, np.integer)) or isinstance(n_persons, bool) or n_persons < 100:
        raise ParameterError(f"n_persons={n_persons!r}: give an integer of at least 100.")
    if not isinstance(dynamics, (bool, np.bool_)):
        raise ParameterError(f"dynamics={dynamics!r}: give True or False.")
    if not isinstance(municipal_effects, (bool, np.bool_)):
        raise ParameterError(f"municipal_effects={municipal_effects!r}: give True or False.")
    if programme_effect not in programme.PROGRAMME_EFFECTS:
        raise ParameterError(f"programme_effect={programme_effect!r} is not allowed; choose one of "
                             f"{', '.join(programme.PROGRAMME_EFFECTS)}.")
    hints = {"block_persons": f"persons simulated together, rounded up to whole shards of {SHARD_PERSONS:,} "
                              f"persons; default {bl.DEFAULT_BLOCK_PERSONS:,}",
             "workers": "the number of processes simulating blocks at once; default 1",
             "shard_persons": f"persons per shard, a private option of the tests; default {SHARD_PERSONS:,}"}
    for name, value in (("block_persons", block_persons), ("workers", workers), ("shard_persons", shard_persons)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ParameterError(f"{name}={value!r}: give a whole number of at least 1 ({hints[name]}).")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ParameterError(f"scheduler={scheduler!r}: give a Dask scheduler's address, e.g. tcp://10.0.0.5:8786.")
    if scheduler and workers != 1:
        raise ParameterError(f"workers={workers!r} with scheduler={scheduler!r}: give one of them (the cluster's "
                             "workers simulate the blocks).")
    on = _experiment_on(experiment, dynamics=bool(dynamics))
    config = bl.Config(n_persons=int(n_persons), seed=seed, pre_exit_dip=pre_exit_dip, dynamics=bool(dynamics),
                       municipal_effects=bool(municipal_effects), programme_effect=programme_effect, experiment=on,
                       shard_persons=int(shard_persons), arrow=arrow)
    return config, bl.block_bounds(int(n_persons), int(block_persons), int(shard_persons))


def _blocks(config, bounds, *, workers, progress, mp_context, scheduler=None):
    from tqdm import tqdm

    bar = tqdm(total=config.n_persons, desc="synthetic", unit="person", unit_scale=True, disable=not progress,
               file=sys.stderr)
    bar.set_postfix_str(f"block 1/{len(bounds)}")
    try:
        for result in bl.run_blocks(config, bounds, workers=int(workers), mp_context=mp_context, scheduler=scheduler):
            bar.update(result.hi - result.lo)
            bar.set_postfix_str(f"block {min(result.index + 2, len(bounds))}/{len(bounds)}")
            yield result
    finally:
        bar.close()


class _Totals:
    """What the blocks add up to: each shard's truths (in shard order), the municipalities' populations."""

    def __init__(self):
        self.shard_truths, self.population, self.municipal_truth = [], None, None

    def add(self, result: bl.BlockResult) -> None:
        self.shard_truths.extend(result.shard_truths)
        self.population = result.population if self.population is None else self.population + result.population
        self.municipal_truth = self.municipal_truth or result.municipal_truth

    def municipalities(self) -> pd.DataFrame:
        frame = pd.DataFrame({"municipality_code": [c for c, _, _ in tb.MUNICIPALITIES],
                              "name": [m for _, m, _ in tb.MUNICIPALITIES]})
        frame["population"] = self.population.astype(int)
        return frame


def _truth_and_meta(config: bl.Config, state: _Totals) -> tuple[dict, dict]:
    folded = fold_all(state.shard_truths)
    trial = folded.pop("experiment", None)
    by_group = folded.pop("programme_effect_by_group", None)
    truths = resolve(folded)
    if state.municipal_truth is not None:
        truths["municipal_effects"] = state.municipal_truth
    if trial is not None:
        truths["experiment"] = ex.finish_truth(trial)
    if by_group is not None:
        truths["programme_effect_by_group"] = resolve(by_group)
    n_persons, seed, dynamics = config.n_persons, config.seed, config.dynamics
    pre_exit_dip, municipal_effects, programme_effect = (config.pre_exit_dip, config.municipal_effects,
                                                         config.programme_effect)
    experiment = config.experiment
    meta = {
        "name": f"synthetic-n{n_persons}-seed{seed}" + ("-dip" if pre_exit_dip else "") + ("-dynamic" if dynamics else "")
                + ("-municipal" if municipal_effects else "")
                + ("" if programme_effect == "constant" else f"-programme-{programme_effect}")
                + ("" if experiment or dynamics else "-no-experiment"),
        "source": "rendeert synthetic register simulator (analysis.data.synthetic), "
                  f"{n_persons} persons, seed {seed}" + (", pre-exit health dip" if pre_exit_dip else "")
                  + (", dynamic unions and state-dependent health" if dynamics else "")
                  + (", municipal effects" if municipal_effects else "")
                  + ("" if programme_effect == "constant" else f", programme effect {programme_effect}")
                  + (f", experiment {ex.EXPERIMENT}" if trial is not None else ""),
        "synthetic": True,  # the report shows a "synthetic data" banner
        "observation_start": f"{START_YEAR}-01-01",
        "observation_end": f"{START_YEAR + N_MONTHS // 12 - 1}-12-31",
    }
    truth = {
        "truths": truths,
        "definitions": {**tr.DEFINITIONS, **jobloss.DEFINITIONS, **({} if dynamics else exit_risk_set.DEFINITIONS)},
        "parameters": {"n_persons": n_persons, "seed": seed, "shard_persons": config.shard_persons,
                       "pre_exit_dip": pre_exit_dip, "dynamics": bool(dynamics),
                       "experiment": trial is not None,
                       "effects_in_model": model.EFFECTS, "job_loss_health_in_model": jobloss.EFFECTS,
                       **({"experiment_in_model": ex.PARAMETERS} if trial is not None else {}),
                       **({"dynamics_in_model": model.DYNAMICS, "state_effects_in_model": tr.STATE_EFFECTS}
                          if dynamics else {}),
                       **({"municipal_effects": True, "municipal_effect_range": list(MUNICIPAL_EFFECT_RANGE),
                           "composition_slope": COMPOSITION_SLOPE} if municipal_effects else {}),
                       **({"programme_effect": programme_effect,
                           "programme_effect_by_education": list(programme.EFFECT_BY_EDUCATION)}
                          if programme_effect != "constant" else {})},
    }
    return truth, meta
