"""Estimators: functions returning frozen results objects (see results.py)."""

from analysis.estimators.did import GroupTimeResult, att_gt
from analysis.estimators.results import EffectResult, tidy_estimates
from analysis.estimators.survival import CoxResult, KaplanMeierResult, cox, kaplan_meier
from analysis.estimators.twfe import did_2x2

__all__ = ["EffectResult", "tidy_estimates", "kaplan_meier", "KaplanMeierResult", "att_gt", "GroupTimeResult", "cox", "CoxResult", "did_2x2"]
