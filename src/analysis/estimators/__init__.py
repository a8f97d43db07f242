"""Estimators: functions returning frozen results objects (see results.py)."""

from analysis.estimators.did import GroupTimeResult, att_gt
from analysis.estimators.results import EffectResult, tidy_estimates
from analysis.estimators.survival import KaplanMeierResult, kaplan_meier

__all__ = ["EffectResult", "tidy_estimates", "kaplan_meier", "KaplanMeierResult", "att_gt", "GroupTimeResult"]
