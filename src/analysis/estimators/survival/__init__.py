"""Duration and hazards: Kaplan-Meier (and, where built, Cox, competing risks, discrete-time hazards)."""

from analysis.estimators.survival.cox import CoxResult, cox
from analysis.estimators.survival.kaplan_meier import KaplanMeierResult, kaplan_meier

__all__ = ["kaplan_meier", "KaplanMeierResult", "cox", "CoxResult"]
