"""What the causal studies share about their designs: the sensitivity analysis every DiD report shows.

``sensitivity_analysis`` takes a dynamic aggregation (universal base period), bins event time when it
is monthly, and runs :func:`analysis.estimators.honest_did` (relative magnitudes, C-LF) and
:func:`analysis.estimators.pretrend_power` (Roth 2022) for one headline effect; it writes
``breakdown_mbar_<name>`` and ``pretrend_power_<name>`` to results.json, shows the sensitivity figure
(checked on the units of the effect) and says in words what the breakdown value means. No estimator
code: composition only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from typing import TYPE_CHECKING

from analysis.errors import AnalysisError

if TYPE_CHECKING:  # the type of the run argument only
    from analysis.kit.run import Run

MBAR = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


class _Bounds:
    """A results-like view of robust intervals (term per M-bar) carrying the effect's units."""

    def __init__(self, frame: pd.DataFrame):
        self.estimates = frame


def _through(result, last_term: str):
    """The event-time result up to ``last_term`` (estimates and covariance), for honest_did."""
    from analysis.estimators.did.result import DynamicResult

    est = result.estimates
    terms = [t for t in est.index if t.startswith("e=") and float(t[2:]) <= float(last_term[2:])]
    vcov = result.vcov.loc[terms, terms]
    return DynamicResult(estimates=est.loc[terms], estimand=result.estimand, spec=dict(result.spec),
                         diagnostics={**result.diagnostics, "vcov": vcov})


def sensitivity_analysis(run: "Run", dyn, *, name: str, label: str, event_time: float | None, reference: float,
                         width: int = 1, percent: bool = False, pretest_p: float | None = None,
                         ylabel: str | None = None) -> dict:
    """Honest DiD and pre-test power for the headline ``event_time`` of ``dyn`` (None: the average of the
    post periods, the simple ATT's counterpart); returns what it found.

    ``run`` is the study's :class:`analysis.kit.run.Run` (``rd.start``): its rows go through ``run.add`` (disclosure
    control), its figure and sentences to ``run.report``. ``ylabel`` names the effect's axis (default "Effect";
    with ``percent`` the unit percentage points is added)."""
    from analysis.estimators import honest_did, pretrend_power
    from analysis.estimators.honest_did import bin_event_time, bin_of
    from analysis.report import figures
    from analysis.report.disclosure import checked_result
    from analysis.report.labels import fmt_number, t, t_plain

    policy, log, lang = run.report.policy, run.report.log, run.lang
    binned = bin_event_time(dyn, width=width, reference=reference) if width > 1 else dyn
    if event_time is None:
        return _average_sensitivity(run, binned, name=name, label=label, percent=percent, pretest_p=pretest_p,
                                    ylabel=ylabel)
    target = bin_of(event_time, width=width, reference=reference)
    post_terms = [i for i in binned.estimates.index if i.startswith("e=") and float(i[2:]) > (0 if width > 1 else reference)]
    target_term = f"e={target}" if width > 1 else f"e={event_time:g}"
    unit = "M-bar"
    row = dyn.estimates.loc[f"e={event_time:g}"] if f"e={event_time:g}" in dyn.estimates.index else None
    judged = checked_result(dyn, name=f"sensitivity_{name}", terms=[f"e={event_time:g}"], policy=policy, log=log) \
        if row is not None else None
    if judged is None or judged.withheld["estimate"].iloc[0] or target_term not in post_terms:
        run.add([{"name": f"breakdown_mbar_{name}", "estimate": None, "se": None, "ci_low": None,
                            "ci_high": None, "n": None, "unit": unit, "suppressed": True},
                           {"name": f"pretrend_power_{name}", "estimate": None, "se": None, "ci_low": None,
                            "ci_high": None, "n": None, "unit": "probability", "suppressed": True}])
        log.add(f"sensitivity_{name}", "all", "min_treated")
        run.report.markdown(f"*{t('design.sensitivity_withheld', lang)}*")
        return {}
    k = post_terms.index(target_term) + 1
    # the post periods after the target do not constrain its bias under relative magnitudes (each post
    # change is bounded by the pre-period changes only), so they are left out: the C-LF interval then
    # stays on its fast path (at most about ten post periods)
    binned = _through(binned, post_terms[k - 1])
    units = {c: row.get(c) for c in ("n", "n_control", "dominance")}
    return _report(run, binned, target=k, units=units, name=name, label=label, width=width, percent=percent,
                   pretest_p=pretest_p, ylabel=ylabel)


def _not_computable(run, *, name, label, units, reason) -> dict:
    """Rows without numbers (not withheld: nothing could be computed) and a sentence saying so."""
    from analysis.report.labels import t

    note = f"not computable: {reason}"
    run.add([{"name": f"breakdown_mbar_{name}", "estimate": None, "se": None, "ci_low": None, "ci_high": None,
                        "n": units["n"], "unit": "M-bar", "suppressed": False, "_n_control": units["n_control"],
                        "_dominance": units["dominance"], "note": note},
                       {"name": f"pretrend_power_{name}", "estimate": None, "se": None, "ci_low": None, "ci_high": None,
                        "n": units["n"], "unit": "probability", "suppressed": False, "_n_control": units["n_control"],
                        "_dominance": units["dominance"], "note": note}])
    run.report.markdown(f"*{t('design.sensitivity_not_computable', run.lang, effect=label)}*")
    return {}


def _average_sensitivity(run, dyn, *, name, label, percent, pretest_p, ylabel=None) -> dict:
    """The sensitivity of the average post-period effect (the simple ATT's counterpart)."""
    from analysis.report.labels import t

    est = dyn.estimates
    ref = float(dyn.spec.get("reference", -1.0)) if isinstance(dyn.spec, dict) else -1.0
    post = [i for i in est.index if i.startswith("e=") and float(i[2:]) > ref and pd.notna(est.loc[i, "std_error"])]
    if "ATT" not in est.index or not post:
        run.report.markdown(f"*{t('design.sensitivity_withheld', run.lang)}*")
        return {}
    row = est.loc["ATT"]
    from analysis.report.disclosure import checked_result

    judged = checked_result(dyn, name=f"sensitivity_{name}", terms=["ATT"], policy=run.report.policy, log=run.report.log)
    if judged.withheld["estimate"].iloc[0]:
        run.add([{"name": f"breakdown_mbar_{name}", "estimate": None, "se": None, "ci_low": None,
                            "ci_high": None, "n": None, "unit": "M-bar", "suppressed": True},
                           {"name": f"pretrend_power_{name}", "estimate": None, "se": None, "ci_low": None,
                            "ci_high": None, "n": None, "unit": "probability", "suppressed": True}])
        run.report.markdown(f"*{t('design.sensitivity_withheld', run.lang)}*")
        return {}
    units = {c: row.get(c) for c in ("n", "n_control", "dominance")}
    return _report(run, dyn, target="average", units=units, name=name, label=label, width=1, percent=percent,
                   pretest_p=pretest_p, ylabel=ylabel)


def _report(run, binned, *, target, units, name, label, width, percent, pretest_p, ylabel=None) -> dict:
    """Run honest_did and pretrend_power on ``binned`` for ``target``; figure, rows and sentences."""
    from analysis.estimators import honest_did, pretrend_power
    from analysis.report import figures
    from analysis.report.disclosure import checked_result
    from analysis.report.labels import fmt_number, t, t_plain

    policy, log, lang = run.report.policy, run.report.log, run.lang
    unit = "M-bar"
    try:
        hd = honest_did(binned, restriction="relative_magnitudes", m=list(MBAR), target=target)
    except (np.linalg.LinAlgError, ValueError, AnalysisError) as exc:  # e.g. a singular covariance on few persons
        return _not_computable(run, name=name, label=label, units=units, reason=str(exc))
    try:
        power = pretrend_power(binned, target=target)
    except (np.linalg.LinAlgError, ValueError, AnalysisError):
        power = None
    bounds = pd.DataFrame({"estimate": hd.original["estimate"], "ci_lower": hd.estimates["ci_low"].to_numpy(),
                           "ci_upper": hd.estimates["ci_high"].to_numpy(), "event_time": hd.estimates["m"].to_numpy(),
                           **{c: units[c] for c in units}}, index=[f"M={m:g}" for m in hd.estimates["m"]])
    table = checked_result(_Bounds(bounds), name=f"sensitivity_{name}", policy=policy, log=log)
    table = table.rename({"event_time": "m"})
    original = checked_result(_Bounds(pd.DataFrame({"estimate": [hd.original["estimate"]],
                                                    "ci_lower": [hd.original["ci_low"]],
                                                    "ci_upper": [hd.original["ci_high"]], **{c: [units[c]] for c in units}},
                                                   index=["original"])), name=f"sensitivity_{name}_original",
                              policy=policy, log=log)
    fig = figures.sensitivity(table, original=original, xlabel=t_plain("design.mbar", lang),
                              ylabel=ylabel or t_plain("design.effect_axis", lang),
                              name=f"sensitivity_{name}", percent=percent, lang=lang, breakdown=hd.breakdown)
    key = "design.sensitivity_caption" if width > 1 else "design.sensitivity_caption_periods"
    run.report.figure(fig, caption=t(key, lang, effect=label, width=width))
    breakdown = hd.breakdown
    run.add([{"name": f"breakdown_mbar_{name}", "estimate": float(breakdown) if np.isfinite(breakdown) else None,
                        "se": None, "ci_low": None, "ci_high": None, "n": units["n"], "unit": unit, "suppressed": False,
                        "_n_control": units["n_control"], "_dominance": units["dominance"],
                        **({} if np.isfinite(breakdown) else {"note": hd.breakdown_note})},
                       {"name": f"pretrend_power_{name}",
                        "estimate": None if power is None or not np.isfinite(power.power) else float(power.power),
                        "se": None, "ci_low": None, "ci_high": None, "n": units["n"], "unit": "probability",
                        "suppressed": False, "_n_control": units["n_control"], "_dominance": units["dominance"],
                        **({"note": "not computable: the covariance of the pre-period effects is singular"}
                           if power is None else {"note": f"not computable: {power.reason}"} if power.reason else {})}])
    if np.isnan(breakdown):
        run.report.markdown(t("design.breakdown_none", lang, effect=label))
    elif np.isinf(breakdown):
        run.report.markdown(t("design.breakdown_beyond", lang, effect=label, mbar=fmt_number(MBAR[-1], lang, 2)))
    else:
        run.report.markdown(t("design.breakdown", lang, effect=label, mbar=fmt_number(breakdown, lang, 2)))
    if power is not None and not np.isfinite(power.power):
        run.report.markdown(t("pretrend.power_none", lang, effect=label))
    elif power is not None:
        if power.dropped_pre:
            run.report.markdown(t("pretrend.power_dropped", lang, count=len(power.dropped_pre),
                                  total=power.spec["num_pre"]))
        verdict = t_plain("design.power_verdict.strong" if power.power >= 0.8 else "design.power_verdict.weak", lang)
        run.report.markdown(t("design.power", lang, power=fmt_number(power.power, lang, 2), effect=label,
                              verdict=verdict))
    if pretest_p is not None and pretest_p < 0.05:
        run.report.markdown(t("design.pretest_rejects", lang, p=fmt_number(pretest_p, lang, 3)))
    return {"honest_did": hd, "power": power, "breakdown": breakdown}
