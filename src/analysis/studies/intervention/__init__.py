"""Study "intervention": does a re-integration programme shorten bijstand, bring work, and pay off, and
for whom? (issue #17). The notebook notebooks/30_intervention.py composes these steps; each takes the
``Run`` and the typed objects of the steps before it and returns a frozen object (no state on a context):

- :mod:`.design`: ``options`` (checked before data is read), ``programme``, ``risk_sets`` -> ``Design``,
  ``effects`` -> ``Effects``, the ladder, effects by ``by``;
- :mod:`.diagnostics`: balance, overlap, the E-value, exit curves;
- :mod:`.returns` and :mod:`.returns_report`: the fiscal business case per actor and the MKBA -> ``Returns``;
- :mod:`.whom`: GATES, the BLP heterogeneity test and CLAN;
- :mod:`.text`: the summary and the methods.
"""

from analysis.studies.intervention.design import (BY_COLUMNS, CONTROL_GROUPS, COVARIATES_BASE, LADDER_MONTH, RETURNS,
                                                  Design, Effects,
                                                  covariate_names,
                                                  Options, by_group, effects, ladder_effect, options, programme,
                                                  risk_sets)
from analysis.studies.intervention.diagnostics import covariate_label, diagnostics, exit_curves
from analysis.studies.intervention.returns import Returns, _health_savings, health_savings_results, returns
from analysis.studies.intervention.text import design_text, methods, summary
from analysis.studies.intervention.whom import heterogeneity, unit_frame

__all__ = ["BY_COLUMNS", "CONTROL_GROUPS", "COVARIATES_BASE", "design_text", "LADDER_MONTH", "RETURNS", "Design", "Effects", "Options", "Returns",
           "by_group", "covariate_label", "covariate_names", "diagnostics", "effects", "exit_curves", "health_savings_results",
           "heterogeneity", "ladder_effect", "methods", "options", "programme", "returns", "risk_sets", "summary",
           "unit_frame", "_health_savings"]
