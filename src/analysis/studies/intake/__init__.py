"""Study "intake": why people enter bijstand, and how much of the inflow divorce causes.

The notebook notebooks/10_intake.py composes these plain functions; each takes the
run (:class:`analysis.kit.run.Run`), the population and the objects the previous
cells returned, and returns a (frozen) object the next cell receives. No estimator
code lives here.

- Inflow: new merged bijstand spells (a new spell starts after at least one full
  calendar month without bijstand) of the population's persons, counted from the
  13th month of the studied period (``first_year``..``last_year`` inside the data's
  window) so that a full year before every inflow is observed.
- What precedes inflow: events in the inflow month or the ``window_months`` before:
  a partnership ending in divorce or separation, the end of employment (job loss),
  the end of another benefit (ww, wia, other). Non-exclusive shares, and an
  exclusive decomposition in that order of priority.
- The causal effect of the event: Callaway & Sant'Anna on the persons x months matrix
  of the population's persons exposed to the event (partnered for divorce, employed for
  job loss; over the data's whole window the event's own builder in analysis.kit.events,
  for a shorter period ``rd.event_cohorts``, at risk inside the age band); cohort = month of their
  first event; comparison persons at risk of it in the cohort's base month. Outcome:
  receiving bijstand in the month. Event time -24..``horizon_months``, by sex and by
  economic dependence before the event (no employment in the 12 months before).
- Inflow caused: the same design on the monthly inflow indicator. The excess inflow
  among treated persons in months 0..24 after the event (cohort size x ATT(g,t),
  summed over the cells inside the counting period), divided by all inflow in the
  counting period, is the share of inflow the event causes.
"""

from analysis.studies.intake.effects import (Design, EventStudy, Options, anticipation_effect, att_gt,
                                             attributable_share, covariates_for, design, effects_by, event_study,
                                             methods, outcome_matrix, sensitivity)
from analysis.studies.intake.inflow import (BASE_PERIODS, EVENTS, KIT_EVENT, PRE_MONTHS, SHARE_HORIZON, Window,
                                            decomposition, inflow_events, inflow_trend, setup, summary, window)

__all__ = ["BASE_PERIODS", "EVENTS", "KIT_EVENT", "PRE_MONTHS", "SHARE_HORIZON", "Design", "EventStudy", "Options",
           "Window", "anticipation_effect", "att_gt", "attributable_share", "covariates_for", "decomposition",
           "design", "effects_by", "event_study", "inflow_events", "inflow_trend", "methods", "outcome_matrix",
           "sensitivity", "setup", "summary", "window"]
