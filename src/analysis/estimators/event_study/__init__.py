"""Event studies with unit and period fixed effects: TWFE dummies and Sun-Abraham (2021).

``event_study`` regresses the outcome on unit effects, period effects and
event-time dummies (``estimator="twfe"``), or on cohort x event-time
interactions aggregated with cohort shares (``estimator="sun_abraham"``,
Sun & Abraham 2021, J. Econometrics 225(2), the interaction-weighted
estimator), with standard errors clustered by unit (CR1, the small-sample
factor of fixest/pyfixest: ``G/(G-1) * (N-1)/(N-K)``).

Which path a call takes (``result.diagnostics["path"]``):

- ``"cohort moments"`` (hand-written, :mod:`.cells`): a balanced panel (every
  unit observed in every period, no missing outcome) clustered by unit. Every
  regressor is then a function of (cohort, period), so OLS and the clustered
  covariance are exact functions of per-cohort sums ``n_g``, ``S_g`` and
  ``C_g = sum y_i y_i'`` (derivation in :mod:`.cells`), computed in one pass
  over the outcome matrix or streamed from Parquet (:mod:`.panel_input`). This
  is written by hand because pyfixest, which materialises the long design, does
  not fit 1,000,000 persons x 120 months with person and month effects in 24 GB;
  the moments need O(cohorts x months^2) memory.
- ``"pyfixest"`` (:mod:`.general`): any other panel (unbalanced, missing
  outcomes, clusters other than the unit) goes to ``pyfixest.feols`` with the
  same event columns. Rows with a missing outcome are dropped and counted.

Both paths agree with ``pyfixest.feols("y ~ i(rel_time, ref=-1) | unit + time",
vcov={"CRV1": "unit"})`` (tests/estimators/test_event_study.py).

Choices (also in ``result.spec``): event times outside ``window`` are binned at
the endpoints (``e=lo`` means lo or more periods before, ``e=hi`` hi or more
after); cohort 0 or NaN is never treated; Sun-Abraham uses the never-treated
units as control cohort, or, when there are none, the last-treated cohort, and
then drops the periods from that cohort's first treated period on. The
Sun-Abraham weights are cohort shares among the units observed at each event
time; their estimation adds d_k' (diag(p_k) - p_k p_k') d_k / N_k to the
variance of term k, as Stata ``eventstudyinteract`` does (:func:`cohort_share_variance`;
``diagnostics["share_variance"]``). fixest's ``sunab`` aggregation and pyfixest
treat the shares as fixed and report smaller standard errors. Estimates and standard errors reproduce
the printed ``eventstudyinteract`` output on the castle-doctrine data to its 7 decimals
(tests/reference/sun_abraham_castle; without the share variance they would be up to 45 % smaller there).

Disclosure facts (issue #13) on every term: ``n`` the treated units observed at that event time;
``n_control`` the units of the control cohort (never treated, or the last-treated cohort that
Sun-Abraham uses), NA for a TWFE without never-treated units (the comparisons are then the
not-yet-treated, through the period effects); ``dominance`` the top-2 share of the absolute unit
terms, a unit's term being its part of the estimate (the estimate ``L b`` is linear in the
outcomes: ``L A^-1 sum_t z_it y_it``). From Parquet the terms need a second streamed pass (the
fit must be known first); only their absolute sums and two largest values are kept.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from analysis.errors import DataValidationError, ParameterError, PreTrendWarning, StudyError, check_choice
from analysis.estimators.event_study.cells import cohort_moments, fit_from_moments, unit_terms
from analysis.estimators.event_study.design import event_design
from analysis.estimators.event_study.general import COLLINEAR_HINT, fit_with_pyfixest, long_design
from analysis.estimators.event_study.panel_input import (NotBalanced, balanced_matrix, cohort_values,
                                                         parquet_moments)
from analysis.estimators.did.result import DynamicResult, wald_test
from analysis.estimators.results import EffectResult, dominance_share, tidy_estimates

__all__ = ["event_study", "ESTIMATORS"]

ESTIMATORS = ("twfe", "sun_abraham")
ESTIMANDS = {"twfe": "TWFE event study", "sun_abraham": "Sun-Abraham IW"}


def event_study(data: pd.DataFrame | str | Path, *, outcome: str, unit: str, time: str, cohort: str,
                window: tuple[int, int] = (-24, 36), reference: int = -1,
                estimator: Literal["twfe", "sun_abraham"] = "twfe", cluster: str | None = None,
                alpha: float = 0.05) -> EffectResult:
    """Dynamic effects by event time with unit and period fixed effects.

    Parameters
    ----------
    data
        A long panel (one row per unit and period) as a DataFrame, or the path
        of a Parquet file with those columns (streamed; see the module docstring).
    outcome, unit, time, cohort
        Column names. ``time`` holds integer periods (e.g. month index); ``cohort``
        the first treated period in the same units, 0 or NaN for never treated,
        constant within a unit.
    window
        ``(lo, hi)`` event times reported; times outside are binned at the endpoints.
    reference
        The omitted event time (inside the window); effects are relative to it.
    estimator
        ``"twfe"`` (event-time dummies) or ``"sun_abraham"`` (interaction-weighted).
    cluster
        Cluster column; ``None`` clusters by ``unit``.
    alpha
        1 - confidence level; intervals use a t distribution with G - 1 df (as pyfixest).

    Returns
    -------
    EffectResult
        Terms ``"e=k"`` for each event time in the window with data, except the
        reference; ``n`` is the number of treated units observed at that event time.
    """
    check_choice("estimator", estimator, ESTIMATORS)
    window, reference, alpha = _check_options(window, reference, alpha)
    for name, value in (("outcome", outcome), ("unit", unit), ("time", time), ("cohort", cohort)):
        if not isinstance(value, str):
            raise ParameterError(f"{name}={value!r} must be a column name (str).")
    if cluster is not None and not isinstance(cluster, str):
        raise ParameterError(f"cluster={cluster!r} must be a column name (str) or None (cluster by unit).")
    by_unit = cluster is None or cluster == unit
    columns = dict(outcome=outcome, unit=unit, time=time, cohort=cohort)

    # The fast path runs many small and skinny matrix products; multi-threaded OpenBLAS
    # spends more time synchronising than computing on them (measured 40x slower on the
    # 2-core project machine under load), so BLAS runs single-threaded during the call
    # (pyfixest's demeaning is numba, not BLAS, and is not affected).
    with threadpool_limits(limits=1, user_api="blas"):
        return _event_study(data, columns=columns, by_unit=by_unit, cluster=cluster, window=window,
                            reference=reference, estimator=estimator, alpha=alpha)


def _event_study(data, *, columns, by_unit, cluster, window, reference, estimator, alpha) -> EffectResult:
    outcome, unit, time, cohort = (columns[k] for k in ("outcome", "unit", "time", "cohort"))
    facts: dict[str, object] = {"rows_dropped_missing_outcome": 0}
    frame = None
    moments = None
    unit_rows = None   # fast path: visit -> calls visit(outcome block, cohort values) for all units
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_file():
            raise ParameterError(f"data={str(data)!r}: no such Parquet file; pass a DataFrame or a file path.")
        if by_unit:
            try:
                moments, read = parquet_moments(path, **columns)
                facts["source"] = f"parquet ({read['read_order']})"

                def unit_rows(visit, path=path):   # a second streamed pass (the fit is known by then)
                    parquet_moments(path, **columns, visit=visit)
            except NotBalanced as why:
                facts["path_reason"] = f"not a balanced panel ({why})"
        if moments is None:
            frame = _read_parquet(path, [outcome, unit, time, cohort] + ([] if by_unit else [cluster]))
            facts["source"] = "parquet (loaded)"
    elif isinstance(data, pd.DataFrame):
        frame = data
        facts["source"] = "DataFrame"
    else:
        raise ParameterError(f"data must be a pandas DataFrame or a Parquet path; got {type(data).__name__}.")

    if frame is not None:
        frame = _validated(frame, cluster=None if by_unit else cluster, **columns)
        facts["rows_dropped_missing_outcome"] = int(frame[outcome].isna().sum())
        if by_unit:
            try:
                matrix, unit_cohort, periods, _ = balanced_matrix(frame, **columns)
                cohorts = np.unique(unit_cohort)
                codes = np.searchsorted(cohorts, unit_cohort)
                moments = cohort_moments(matrix, codes, cohorts, periods)

                def unit_rows(visit, matrix=matrix, unit_cohort=unit_cohort):
                    visit(matrix, unit_cohort)
            except NotBalanced as why:
                facts["path_reason"] = f"not a balanced panel ({why})"
        else:
            facts["path_reason"] = f"clustered by {cluster!r}, not by unit"

    options = dict(window=window, reference=reference, estimator=estimator)
    if moments is not None:
        fitted = _fit_fast(moments, unit_rows=unit_rows, **options)
    else:
        fitted = _fit_general(frame.dropna(subset=[outcome]), cluster=cluster or unit, **columns, **options)
    return _result(fitted, facts, alpha=alpha, spec={**columns, **options, "cluster": cluster or unit,
                                                     "alpha": alpha})


def _check_options(window, reference, alpha):
    try:
        lo, hi = (int(v) for v in window)
        ok = (lo, hi) == tuple(window) and lo < hi
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ParameterError(f"window={window!r} must be two integers (lo, hi) with lo < hi, e.g. (-24, 36).")
    if not isinstance(reference, (int, np.integer)) or not lo <= reference <= hi:
        raise ParameterError(f"reference={reference!r} must be an integer event time inside window=({lo}, {hi}).")
    if not isinstance(alpha, (float, int)) or not 0 < alpha < 1:
        raise ParameterError(f"alpha={alpha!r} must lie strictly between 0 and 1, e.g. 0.05.")
    return (lo, hi), int(reference), float(alpha)


def _read_parquet(path: Path, names: list[str]) -> pd.DataFrame:
    import pyarrow.parquet as pq

    available = pq.ParquetFile(path).schema_arrow.names
    missing = [c for c in names if c not in available]
    if missing:
        raise DataValidationError(f"{path}: columns {missing} not found; the file has {available}.")
    return pq.read_table(path, columns=list(dict.fromkeys(names))).to_pandas()


def _validated(frame, *, outcome, unit, time, cohort, cluster):
    names = [outcome, unit, time, cohort] + ([cluster] if cluster else [])
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise ParameterError(f"columns {missing} are not in the data; it has {list(frame.columns)[:20]}.")
    for name in (outcome, time, cohort):
        if not pd.api.types.is_numeric_dtype(frame[name]) or pd.api.types.is_bool_dtype(frame[name]):
            raise DataValidationError(f"column {name!r} must be numeric; it is {frame[name].dtype}.")
    for name in [unit, time] + ([cluster] if cluster else []):
        if frame[name].isna().any():
            raise DataValidationError(f"column {name!r} has {int(frame[name].isna().sum())} missing values; "
                                      "every row needs one. Drop or fix those rows first.")
    t = frame[time].to_numpy(dtype=float)
    g = cohort_values(frame[cohort])
    for name, values in ((time, t), (cohort, g)):
        bad = values != np.round(values)
        if bad.any():
            raise DataValidationError(f"column {name!r} must hold whole periods; {int(bad.sum())} rows do not "
                                      f"(e.g. {values[bad][:3].tolist()}). Use an integer period index.")
    varying = pd.Series(g).groupby(frame[unit].to_numpy()).nunique()
    if (varying > 1).any():
        raise DataValidationError(f"column {cohort!r} varies within {int((varying > 1).sum())} units "
                                  f"(e.g. {varying[varying > 1].index[:5].tolist()}); the cohort is the first "
                                  "treated period and must be constant within a unit.")
    return frame


def _sun_abraham_control(cohorts, counts, periods):
    """Control cohort and how many leading periods to keep (Sun & Abraham 2021, sec. 4)."""
    present = cohorts[counts > 0]
    if (present == 0).any():
        return 0.0, len(periods), "never treated"
    last = present.max()
    keep = int((np.asarray(periods, dtype=float) < last).sum())
    if len(present) < 2 or keep < 2:
        raise StudyError("Sun-Abraham needs a control cohort: there are no never-treated units and the "
                         f"last-treated cohort ({last:g}) leaves {keep} period(s) before its treatment.")
    return float(last), keep, f"last treated (cohort {last:g}; periods from {last:g} on dropped)"


def _fit_fast(moments, *, window, reference, estimator, unit_rows=None):
    control, label = 0.0, "never treated"
    n_periods_used = len(moments.periods)
    if estimator == "sun_abraham":
        control, keep, label = _sun_abraham_control(moments.cohorts, moments.counts, moments.periods)
        moments = moments.first_periods(keep)
        n_periods_used = keep
    design = event_design(moments.cohorts, moments.periods, moments.counts, window=window,
                          reference=reference, estimator=estimator, control_cohort=control)
    if not design.terms:
        raise StudyError(f"No treated unit is observed at any event time in window={window}.")
    fit = fit_from_moments(moments, design.design)
    if fit.rank_deficient:
        raise StudyError("The event-time columns are collinear with the unit and period effects. "
                         + COLLINEAR_HINT)
    n_units = int(moments.counts.sum())
    dominance = None
    if unit_rows is not None:
        top = TopTwo(len(design.terms))

        def visit(y, block_cohort):
            codes = np.searchsorted(moments.cohorts, block_cohort)
            top.add(unit_terms(fit, y[:, :n_periods_used], codes, design.weights))

        unit_rows(visit)
        dominance = top.shares()
    n_control = int(moments.counts[moments.cohorts == control].sum())
    return dict(design=design, coef=fit.coef, vcov=fit.vcov, n_obs=fit.n_obs, n_units=n_units,
                n_clusters=fit.n_clusters, n_periods=len(moments.periods), control=label,
                path="cohort moments", dominance=dominance, n_control=n_control)


class TopTwo:
    """Running sum of absolute values and the two largest, per column, over blocks of rows."""

    def __init__(self, k: int):
        self.total = np.zeros(k)
        self.top = np.zeros((2, k))

    def add(self, block: np.ndarray) -> None:
        a = np.abs(block)
        self.total += a.sum(axis=0)
        if len(a) > 2:
            a = np.partition(a, len(a) - 2, axis=0)[-2:]
        self.top = -np.sort(-np.vstack([self.top, a]), axis=0)[:2]

    def shares(self) -> list[float]:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(self.total > 0, np.minimum(1.0, self.top.sum(axis=0) / self.total), np.nan)
        return [float(v) for v in out]


def _fit_general(frame, *, outcome, unit, time, cohort, cluster, window, reference, estimator):
    work = frame.assign(_cohort=cohort_values(frame[cohort]))
    control, label = 0.0, "never treated"
    if estimator == "sun_abraham":
        per_unit = work.groupby(unit)["_cohort"].first()
        cohorts, counts = np.unique(per_unit.to_numpy(), return_counts=True)
        periods = np.sort(work[time].unique())
        control, keep, label = _sun_abraham_control(cohorts, counts, periods)
        work = work[work[time].to_numpy(dtype=float) < periods[keep - 1] + 0.5]
    work, design = long_design(work, unit=unit, cohort_col="_cohort", time=time, window=window,
                               reference=reference, estimator=estimator, control_cohort=control)
    if not design.terms:
        raise StudyError(f"No treated unit is observed at any event time in window={window}.")
    coef, vcov, n_obs, n_clusters, contributions = fit_with_pyfixest(
        work, outcome=outcome, unit=unit, time=time, cluster=cluster, n_columns=len(design.columns),
        term_weights=design.weights)
    n_control = int(work.loc[work["_cohort"].to_numpy() == control, unit].nunique())
    return dict(design=design, coef=coef, vcov=vcov, n_obs=n_obs, n_units=int(work[unit].nunique()),
                n_clusters=n_clusters, n_periods=int(work[time].nunique()), control=label, path="pyfixest",
                contributions=contributions, n_control=n_control)


def _result(fitted, facts, *, alpha, spec) -> EffectResult:
    design = fitted["design"]
    estimate = design.weights @ fitted["coef"]
    vcov = design.weights @ fitted["vcov"] @ design.weights.T
    share_variance = None
    if spec["estimator"] == "sun_abraham":
        share_variance = cohort_share_variance(design, fitted["coef"])
        vcov = vcov + np.diag(share_variance)
    # a variance can come out as -1e-30 on noiseless data: it is zero
    std_error = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
    terms = [f"e={k}" for k in design.terms]
    dof = fitted["n_clusters"] - 1
    contributions = fitted.get("contributions")
    dominance = fitted.get("dominance")
    if dominance is None and contributions is not None:
        dominance = [dominance_share(contributions[:, j]) for j in range(contributions.shape[1])]
    # comparison units: the control cohort (never treated, or Sun-Abraham's last-treated cohort); a TWFE
    # without never-treated units compares with the not-yet-treated only: no separate count (NA)
    n_control = fitted["n_control"] if (fitted["n_control"] > 0 or spec["estimator"] == "sun_abraham") else None
    table = tidy_estimates(terms, estimate, std_error, n=design.units, alpha=alpha, dof=dof,
                           n_control=n_control, dominance=dominance)
    n_columns = len(design.columns)
    residual_dof = fitted["n_obs"] - fitted["n_units"] - (fitted["n_periods"] - 1) - n_columns
    pre = [i for i, k in enumerate(design.terms) if k < spec["reference"]]
    diagnostics: dict[str, object] = {
        "path": fitted["path"], **facts, "n_units": fitted["n_units"], "n_obs": fitted["n_obs"],
        "n_periods": fitted["n_periods"], "n_clusters": fitted["n_clusters"],
        "residual_dof": int(residual_dof), "n_event_columns": n_columns,
        "control_cohort": fitted["control"], "terms_without_data": [f"e={k}" for k in design.empty],
        "vcov": pd.DataFrame(vcov, index=pd.Index(terms, name="term"), columns=terms), "warnings": [],
    }
    if spec["estimator"] == "sun_abraham":
        diagnostics["share_variance"] = pd.Series(share_variance, index=terms)
        diagnostics["cohort_effects"] = pd.DataFrame(
            [{"term": f"e={k}", "cohort": g, "estimate": fitted["coef"][j]} for j, (g, k) in enumerate(design.columns)])
        diagnostics["cohort_weights"] = pd.DataFrame(
            [{"term": f"e={k}", "cohort": g, "weight": design.weights[design.terms.index(k), j]}
             for j, (g, k) in enumerate(design.columns)])
    if pre:
        diagnostics["pretrend_test"] = _wald(estimate[pre], vcov[np.ix_(pre, pre)], dof)
        if diagnostics["pretrend_test"]["p_value"] < alpha:  # NaN (no testable direction) does not reject
            msg = (f"Pre-trend test rejects zero pre-treatment effects jointly (F = "
                   f"{diagnostics['pretrend_test']['statistic']:.2f}, p = {diagnostics['pretrend_test']['p_value']:.3g}"
                   f", {diagnostics['pretrend_test']['df']} df): parallel trends are doubtful; do not read the effects as causal.")
            diagnostics["warnings"].append(msg)
            warnings.warn(msg, PreTrendWarning, stacklevel=4)
    spec = {**spec, "endpoints": "binned (e<=lo counted as lo, e>=hi as hi)",
            "never_treated": "cohort 0 or NaN", "vcov": "CR1 (pyfixest/fixest small-sample factor)"}
    return DynamicResult(estimates=table, estimand=ESTIMANDS[spec["estimator"]], spec=spec,
                         diagnostics=diagnostics)


def cohort_share_variance(design, coef) -> np.ndarray:
    """Variance of each Sun-Abraham term from estimating its cohort shares (as Stata ``eventstudyinteract``).

    Term ``e=k`` is ``sum_g p_gk d_gk`` with p_gk the share of cohort g among the N_k treated units
    observed at k. eventstudyinteract regresses each cohort indicator on the event-time indicators
    (no constant) among the treated and takes the heteroskedasticity-robust sandwich: for
    mutually exclusive indicators that is the multinomial variance (diag(p_k) - p_k p_k') / N_k of
    the shares at k, with no covariance between event times. The delta method adds
    d_k' (diag(p_k) - p_k p_k') d_k / N_k to the variance of term k, the share and regression
    estimates being treated as independent (as eventstudyinteract does).
    """
    out = np.zeros(len(design.terms))
    for row, n_k in enumerate(design.units):
        cols = np.flatnonzero(design.weights[row])
        p, d = design.weights[row, cols], np.asarray(coef)[cols]
        if n_k > 0:
            out[row] = float(d @ ((np.diag(p) - np.outer(p, p)) @ d)) / float(n_k)
    return out


def _wald(estimate, vcov, dof) -> dict:
    """Joint F test that the pre-treatment terms are zero: Wald / rank ~ F(rank, G-1).

    Uses the rank of the covariance (pseudo-inverse; :func:`analysis.estimators.did.result.wald_test`),
    so a singular covariance (e.g. a cohort of one unit) lowers the degrees of freedom instead of failing.
    """
    out = wald_test(estimate, vcov, dof=dof)
    out.setdefault("statistic", np.nan)
    out.setdefault("df_denom", int(dof))
    return out
