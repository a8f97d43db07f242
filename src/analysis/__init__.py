"""rendeert: reproducible research into what pays off in the Dutch social domain.

The package mirrors the data flow of DESIGN.md:
``data -> panel -> estimators -> studies -> report``, with ``run`` on top.

The public API a study notebook uses is ``import analysis as rd`` (docs/writing-a-study.md)::

    run = rd.start("job_loss", parameters=dict(dataset=..., lang="nl", ...))
    pop = rd.population(run.store, municipality="all", age_min=50, age_max=66, sex="all",
                        first_year=2014, last_year=2023, where={"education": "low"})
    panel = rd.person_year(pop, outcomes=["antidepressants"])
    cohorts = rd.event_cohorts(pop, event="job_end", at_risk=rd.at_risk.employed(), frequency="year")
    res = rd.att_gt_at_risk(panel, cohorts, outcome="antidepressants")
    run.add(res.aggregate("simple").to_estimates("att_antidepressants", unit="probability difference"))
    run.finish()

Names are imported on first use, so ``import analysis`` stays fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> (module, attribute); attribute None: the module itself.
_PUBLIC = {
    # run, population, panels, events
    "start": ("analysis.kit.run", "start"),
    "start_public": ("analysis.kit.run", "start_public"),
    "Run": ("analysis.kit.run", "Run"),
    "population": ("analysis.kit.population", "population"),
    "Population": ("analysis.kit.population", "Population"),
    "person_month": ("analysis.kit.panels", "person_month"),
    "person_year": ("analysis.kit.panels", "person_year"),
    "Panel": ("analysis.kit.panels", "Panel"),
    "event_cohorts": ("analysis.kit.cohorts", "event_cohorts"),
    "cohort_counts": ("analysis.kit.cohorts", "cohort_counts"),
    "EventCohorts": ("analysis.kit.events", "EventCohorts"),
    "at_risk": ("analysis.kit.at_risk", None),
    # estimators
    "att_gt": ("analysis.estimators.did", "att_gt"),
    "att_gt_at_risk": ("analysis.kit.designs", "att_gt_at_risk"),
    "pretrend_estimate": ("analysis.kit.designs", "pretrend_estimate"),
    "event_study": ("analysis.estimators.event_study", "event_study"),
    "honest_did": ("analysis.estimators.honest_did", "honest_did"),
    "pretrend_power": ("analysis.estimators.pretrend_power", "pretrend_power"),
    "did_2x2": ("analysis.estimators.twfe", "did_2x2"),
    "att_aipw": ("analysis.estimators.propensity", "att_aipw"),
    "att_ipw": ("analysis.estimators.propensity", "att_ipw"),
    "att_matching": ("analysis.estimators.propensity", "att_matching"),
    "att_regression": ("analysis.estimators.propensity", "att_regression"),
    "e_value": ("analysis.estimators.propensity", "e_value"),
    "cox": ("analysis.estimators.survival", "cox"),
    "kaplan_meier": ("analysis.estimators.survival", "kaplan_meier"),
    "cumulative_incidence": ("analysis.estimators.survival", "cumulative_incidence"),
    "cost_benefit": ("analysis.estimators.cost_benefit", "cost_benefit"),
    "npv": ("analysis.estimators.cost_benefit", "npv"),
    "mkba": ("analysis.estimators.mkba", "mkba"),
    "gates": ("analysis.estimators.heterogeneity", "gates"),
    "group_effects": ("analysis.estimators.heterogeneity", "group_effects"),
    "itt": ("analysis.estimators.experiments", "itt"),
    "EffectResult": ("analysis.estimators.results", "EffectResult"),
    # report
    "compare": ("analysis.estimators.results", "compare"),
    "figures": ("analysis.kit.figures", None),
    "text": ("analysis.kit.text", None),
    "label": ("analysis.report.labels", "t"),
    "safe_aggregate": ("analysis.report.disclosure", "safe_aggregate"),
    "safe_aggregate_cells": ("analysis.report.cells", "safe_aggregate_cells"),
    "cell_stats": ("analysis.report.cells", "cell_stats"),
    "checked_result": ("analysis.report.checked", "checked_result"),
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    try:
        module, attribute = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}; the public API is: "
                             f"{', '.join(__all__)} (docs/writing-a-study.md)") from None
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value  # cache: the next look-up is an ordinary module attribute
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
