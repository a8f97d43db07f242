"""Study "intervention": does a re-integration programme shorten bijstand, bring work, and pay off, and
for whom? (issue #17). One module per concern:

- :mod:`.design`: parameters, the risk-set frame, the effects by estimator, the ladder, effects by ``by``;
- :mod:`.diagnostics`: balance, overlap, the E-value, exit curves;
- :mod:`.returns` and :mod:`.returns_report`: the fiscal business case per actor and the MKBA;
- :mod:`.whom`: GATES, the BLP heterogeneity test and CLAN;
- :mod:`.text`: the summary and the methods.
"""

from analysis.studies.intervention.design import (BY_COLUMNS, COVARIATES_BASE, LADDER_MONTH, RETURNS, by_group,
                                                  effects, ladder_effect, risk_sets, setup)
from analysis.studies.intervention.diagnostics import covariate_label, diagnostics, exit_curves
from analysis.studies.intervention.returns import _health_savings, health_savings_results, returns
from analysis.studies.intervention.text import methods, summary
from analysis.studies.intervention.whom import heterogeneity, unit_frame

__all__ = ["BY_COLUMNS", "COVARIATES_BASE", "LADDER_MONTH", "RETURNS", "by_group", "covariate_label", "diagnostics",
           "effects", "exit_curves", "health_savings_results", "heterogeneity", "ladder_effect", "methods",
           "returns", "risk_sets", "setup", "summary", "unit_frame", "_health_savings"]
