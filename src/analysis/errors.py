"""The one small exception and warning family of the package.

Errors are for input that cannot be used (a message says what is wrong, the
value received, what is allowed and how to fix it). Warnings are statistical
caveats; estimators also record them in ``result.diagnostics`` so that the
report shows them.
"""

from __future__ import annotations


class AnalysisError(Exception):
    """Base class of every error this package raises on purpose."""


class DataValidationError(AnalysisError):
    """A dataset breaks a rule of the data contract. Nothing was written."""


class ParameterError(AnalysisError):
    """A study or estimator parameter is unknown, of the wrong type or out of range."""


class StudyError(AnalysisError):
    """A study cannot be computed on these data (for example: no separations)."""


class EstimationError(AnalysisError):
    """An estimator could not produce an estimate (no convergence, singular design, empty risk set)."""


class RunError(AnalysisError):
    """A notebook run failed; the message names the cell and the error."""


class DisclosureError(AnalysisError):
    """Something not checked by disclosure control was about to be published (a raw table or figure)."""


class AnalysisWarning(UserWarning):
    """Base class of the statistical caveats this package raises."""


class OverlapWarning(AnalysisWarning):
    """Propensity scores near 0 or 1: weights are extreme, trimming applied or advised."""


class PreTrendWarning(AnalysisWarning):
    """The pre-trend test rejects parallel trends: effects are not shown as causal."""


class SmallCellWarning(AnalysisWarning):
    """A cell rests on fewer units than the disclosure policy allows; it is withheld."""


class ConvergenceWarning(AnalysisWarning):
    """An iterative fit stopped before it converged."""


def check_choice(name: str, value: object, allowed: tuple | list) -> None:
    """Refuse ``value`` unless it is one of ``allowed``; the message lists them."""
    if value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise ParameterError(f"{name}={value!r} is not allowed; choose one of {listed}.")
