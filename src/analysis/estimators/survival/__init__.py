"""Duration and hazards: Kaplan-Meier, Cox, competing risks (Aalen-Johansen), discrete-time hazards."""

from analysis.estimators.survival.cox import CoxResult, cox
from analysis.estimators.survival.cumulative_incidence import CumulativeIncidenceResult, cumulative_incidence
from analysis.estimators.survival.discrete_hazard import discrete_hazard, person_periods
from analysis.estimators.survival.kaplan_meier import KaplanMeierResult, kaplan_meier

__all__ = ["kaplan_meier", "KaplanMeierResult", "cox", "CoxResult", "cumulative_incidence",
           "CumulativeIncidenceResult", "discrete_hazard", "person_periods"]
