"""Estimators: functions returning frozen results objects (see results.py)."""

from analysis.estimators.did import GroupTimeResult, att_gt
from analysis.estimators.event_study import event_study
from analysis.estimators.honest_did import HonestDiDResult, honest_did
from analysis.estimators.cost_benefit import cost_benefit, npv
from analysis.estimators.propensity import (
    att_aipw, att_ipw, att_matching, att_regression, difference_in_means, e_value,
)
from analysis.estimators.results import EffectResult, tidy_estimates
from analysis.estimators.pretrend_power import PretrendPowerResult, pretrend_power
from analysis.estimators.risk_set import risk_set_frame
from analysis.estimators.survival import (
    CoxResult, CumulativeIncidenceResult, KaplanMeierResult, cox, cumulative_incidence, discrete_hazard, kaplan_meier,
)
from analysis.estimators.twfe import did_2x2

__all__ = ["EffectResult", "tidy_estimates", "kaplan_meier", "KaplanMeierResult", "att_gt", "GroupTimeResult", "cox", "CoxResult", "did_2x2",
           "att_aipw", "att_ipw", "att_matching", "att_regression", "difference_in_means", "e_value",
           "risk_set_frame", "npv", "cost_benefit", "event_study", "cumulative_incidence",
           "CumulativeIncidenceResult", "discrete_hazard", "honest_did", "HonestDiDResult",
           "pretrend_power", "PretrendPowerResult"]
