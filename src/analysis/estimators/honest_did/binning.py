"""Event time in bins: a monthly event study as quarters or years, with the covariance that goes with it.

The relative-magnitudes interval is instant up to about ten post periods and takes minutes per M-bar
beyond that (:mod:`.arp`), and its restriction compares steps of equal length before and after the
event. A monthly study (24 months before, 36 after) is therefore judged on bins of ``width`` months:
each bin's effect is the mean of its months' effects, its covariance ``A V A'`` for the averaging
matrix ``A``. Bins are counted from the reference period (the universal base, which has no variance):
bin 1 holds the ``width`` periods after it, bin -1 the ``width`` before it, so every bin before and
after spans the same length of time.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.errors import ParameterError
from analysis.estimators.did.result import DynamicResult
from analysis.estimators.results import tidy_estimates


def bin_event_time(result, *, width: int, reference: float) -> DynamicResult:
    """Bins of ``width`` event times around ``reference``; terms "e=q" (q = ..., -2, -1, 1, 2, ...).

    ``result`` is a dynamic aggregation or event study with terms "e=k" and a covariance
    (``result.vcov`` or ``diagnostics["vcov"]``), estimated with a universal base period at
    ``reference``. A bin that is not complete (the event window ends inside it) is left out, so the
    bins before and after stay comparable. ``n`` of a bin is the smallest ``n`` of its periods.
    """
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise ParameterError(f"width={width!r} must be a whole number of periods, 1 or more.")
    est = result.estimates
    terms = [t for t in est.index if isinstance(t, str) and t.startswith("e=")]
    vcov = getattr(result, "vcov", None)
    if vcov is None:
        vcov = (getattr(result, "diagnostics", None) or {}).get("vcov")
    if vcov is None or not terms:
        raise ParameterError("bin_event_time needs event-time terms 'e=k' and their covariance (result.vcov).")
    times = pd.Series({t: float(t[2:]) for t in terms})
    times = times[times != reference]
    offset = times - reference
    bins = np.where(offset > 0, np.ceil(offset / width), -np.ceil(-offset / width)).astype(int)
    frame = pd.DataFrame({"term": times.index, "bin": bins})
    sizes = frame.groupby("bin")["term"].size()
    complete = sizes[sizes == width].index
    frame = frame[frame["bin"].isin(complete)]
    order = sorted(frame["bin"].unique())
    if not any(b < 0 for b in order) or not any(b > 0 for b in order):
        raise ParameterError(f"bins of {width} periods leave no complete bin before or after the reference "
                             f"{reference:g}; use a narrower width or a wider event window.")
    all_terms = list(frame["term"])
    A = np.zeros((len(order), len(all_terms)))
    for i, b in enumerate(order):
        members = frame.index[frame["bin"] == b]
        for t in frame.loc[members, "term"]:
            A[i, all_terms.index(t)] = 1.0 / width
    v = vcov.loc[all_terms, all_terms].to_numpy(float) if isinstance(vcov, pd.DataFrame) else None
    if v is None:
        raise ParameterError("bin_event_time needs the covariance as a DataFrame indexed by term.")
    b_est = A @ est.loc[all_terms, "estimate"].to_numpy(float)
    b_vcov = A @ v @ A.T
    se = np.sqrt(np.clip(np.diag(b_vcov), 0, None))
    names = [f"e={q}" for q in order]
    n = [int(est.loc[frame.loc[frame["bin"] == q, "term"], "n"].min()) for q in order]
    table = tidy_estimates(names, b_est, se, n=n)
    table["event_time"] = [float(q) for q in order]
    periods = {f"e={q}": [float(t[2:]) for t in frame.loc[frame["bin"] == q, "term"]] for q in order}
    vc = pd.DataFrame(b_vcov, index=pd.Index(names, name="term"), columns=names)
    spec = {**getattr(result, "spec", {}), "reference": 0.0, "bin_width": int(width),
            "bin_reference_period": float(reference)}
    return DynamicResult(estimates=table, estimand=f"ATT(e) in bins of {width} periods", spec=spec,
                         diagnostics={"vcov": vc, "bin_periods": periods,
                                      "warnings": list((result.diagnostics or {}).get("warnings", []))})


def bin_of(event_time: float, *, width: int, reference: float) -> int:
    """The bin number of one event time (as :func:`bin_event_time` numbers them)."""
    offset = event_time - reference
    return int(math.ceil(offset / width)) if offset > 0 else -int(math.ceil(-offset / width))
