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
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from analysis.data.synthetic import (exit_risk_set, experiments as ex, jobloss, model, programme, tables as tb,
                                     truth as tr)
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


def _population(n: int, rng: np.random.Generator) -> model.Population:
    weights = np.array([w for _, _, w in tb.MUNICIPALITIES])
    education = np.searchsorted([0.3, 0.7, 1.0], rng.random(n)).astype(np.int8)
    sex_f = (rng.random(n) < 0.5).astype(np.int8)
    birth_year = rng.integers(1950, 2001, n)
    migration = np.searchsorted([0.76, 0.86, 1.0], rng.random(n)).astype(np.int8)
    municipality = np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(n)).astype(np.int16)
    u = rng.normal(size=n)
    assessment = np.clip(np.round(3.0 + 1.1 * u + 0.3 * (education - 1) + rng.normal(0, 0.45, n)), 1, 6)
    return model.Population(sex_f=sex_f, birth_year=birth_year, education=education, migration=migration,
                            municipality=municipality, u=u, assessment=assessment.astype(np.int8))


#: Scenario ``municipal_effects``: the municipalities' true effects on bijstand entry (log-odds; the
#: exit-to-work log-odds move by minus the same amount) are spread evenly over this range, and each
#: municipality's share of residents with a low (high) education moves by ``-COMPOSITION_SLOPE`` (+) per
#: unit of effect: where the municipality lowers bijstand, more residents have a low education.
MUNICIPAL_EFFECT_RANGE = (-0.5, 0.5)
COMPOSITION_SLOPE = 0.6


def _municipal_effects(pop: model.Population, seed: int) -> tuple[model.Population, dict]:
    """Give each municipality a true effect and an education mix that leans against it (own random stream,
    so the rest of the population is the default draw)."""
    from dataclasses import replace

    rng = np.random.default_rng([seed, 3])
    k = len(tb.MUNICIPALITIES)
    effects = rng.permutation(np.linspace(*MUNICIPAL_EFFECT_RANGE, k))
    low = np.clip(0.3 - COMPOSITION_SLOPE * effects, 0.03, 0.6)
    high = np.clip(0.3 + COMPOSITION_SLOPE * effects, 0.03, 0.6)
    draw = rng.random(len(pop.u))
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
             progress: bool = False) -> SyntheticDraw:
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
    ``progress`` shows a bar on standard error, one step per world and later stage.
    """
    from tqdm import tqdm

    if not isinstance(n_persons, (int, np.integer)) or n_persons < 100:
        raise ParameterError(f"n_persons={n_persons!r}: give an integer of at least 100.")
    if not isinstance(dynamics, (bool, np.bool_)):
        raise ParameterError(f"dynamics={dynamics!r}: give True or False.")
    world_list = WORLDS + (DYNAMIC_WORLDS if dynamics else (exit_risk_set.WORLD,))
    experiment = _experiment_on(experiment, dynamics=bool(dynamics))
    bar = tqdm(total=len(world_list) + 3 + (len(ex.ARMS) - 1 if experiment else 0), desc="synthetic", unit="step",
               disable=not progress, file=sys.stderr)
    rng = np.random.default_rng([seed, 1])
    pop = _population(int(n_persons), rng)
    if not isinstance(municipal_effects, (bool, np.bool_)):
        raise ParameterError(f"municipal_effects={municipal_effects!r}: give True or False.")
    municipal_truth = None
    if municipal_effects:
        pop, municipal_truth = _municipal_effects(pop, seed)
    pop = programme.with_programme_effect(pop, programme_effect)
    ids = np.array([f"P{i:07d}" for i in range(n_persons)], dtype=object)

    def run_world(off, trial=None):
        bar.set_postfix_str(f"world {dict((o, w) for w, o in world_list)[off]}")
        return model.simulate_world(pop, seed=seed, n_months=N_MONTHS, start_year=START_YEAR, switch_off=off,
                                    dynamics=bool(dynamics), trial=trial)

    if experiment:  # the experiment inside every world (experiments.py)
        worlds, trial = ex.simulate_worlds(pop, run_world, world_list, ids=ids, seed=seed, start_year=START_YEAR,
                                           tick=bar.update)
    else:
        worlds, trial = {}, None
        for name, off in world_list:
            worlds[name] = run_world(off)
            bar.update()
    bar.set_postfix_str("health")
    health, health_truth = tr.health(pop, worlds["factual"], seed=seed, start_year=START_YEAR,
                                     pre_exit_dip=pre_exit_dip,
                                     untreated_worlds={"never": worlds["no_exit_to_work"], "not_now": worlds["exit_not_now"]}
                                     if dynamics else None)
    health, jobloss_truth = jobloss.health_effects(pop, worlds["factual"], health, seed=seed, start_year=START_YEAR)
    bar.update()
    bar.set_postfix_str("contract tables")
    frames = tr.contract_tables(pop, worlds["factual"], ids, health, seed=seed, start_year=START_YEAR)
    if trial is not None:
        frames["experiments"] = trial[0]
    bar.update()
    bar.set_postfix_str("truths")
    truths = tr.truths(pop, worlds, health_truth, start_year=START_YEAR) | jobloss_truth
    if not dynamics:  # the exit_health risk-set estimand in the default world (exit_risk_set.py)
        truths.update(exit_risk_set.risk_set_truths(pop, worlds["factual"], worlds["exit_not_now"], seed=seed,
                                                    start_year=START_YEAR))
    if municipal_truth is not None:
        truths["municipal_effects"] = municipal_truth
    if trial is not None:
        truths["experiment"] = trial[1]
    if programme_effect != "constant":
        truths["programme_effect_by_group"] = programme.truth_by_group(pop, worlds)
    bar.update()
    bar.close()
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
        "parameters": {"n_persons": n_persons, "seed": seed, "pre_exit_dip": pre_exit_dip, "dynamics": bool(dynamics),
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
    return SyntheticDraw(tables=frames, truth=truth, meta=meta)


def generate(out_dir: str | Path, *, n_persons: int = 50_000, seed: int = 0, progress: bool = False,
             **scenario) -> Path:
    """Simulate and write a dataset directory (parquet tables, dataset.yml, truth.json)."""
    return simulate(n_persons, seed=seed, progress=progress, **scenario).write(out_dir)
