"""Study "exit_health": health after leaving bijstand for work.

Frames from the processed store (:mod:`.design`); estimators from ``analysis.estimators``.

- Exit to work: a merged bijstand spell that ends with employment starting within
  ``exit_window_days`` of its end (``bijstand_exits.days_to_employment``). A person's
  treatment year g is the calendar year of the first such exit in the window.
  Placebo: the first exit for other reasons.
- Design (issue #14): the treated of year g were on bijstand on 31 December of g - 1 (the base
  year; ``anticipation`` years earlier with anticipation); the comparison group (``control_group``)
  is by default the risk set: persons on bijstand on that same 31 December who do not leave for
  work in year g (they may leave later). Estimand: the effect of leaving for work now rather than
  not now, on those who leave (Sianesi 2004). Covariates at the base year (age, sex, education,
  migration background, spell duration, bijstand months in the last two years) enter the doubly
  robust estimator. ``control_group="all_recipients"`` is the old design, for comparison.
- Outcomes (person-year): antidepressant use, health-care costs (total, mental, GP).
- Callaway & Sant'Anna with at-risk comparison groups, simple ATT and event time -4..4 with
  uniform bands against a universal base period and the pre-trend test; the sensitivity to
  violations of parallel trends (Rambachan & Roth 2023) with the pre-test's power (Roth 2022);
  the headline effect under the other control groups; heterogeneity by sex and age group; the placebo.
- Health returns: the discounted sum of the yearly cost effects over ``horizon_years``
  (the effect of the last published year carried forward), with its standard error
  from the influence functions.

Disclosure control. Every published effect carries the treated units it rests on
(``n``: the persons of the exit cohorts whose cells enter the term), the comparison
units and its dominance: the share of the two largest persons' terms in the
estimate (``ATT = sum_i lambda_i dy_i``, as ``att_gt`` and ``event_study`` compute
it; not centred influence functions, which hide one extreme person). The policy withholds a term resting on fewer than 10 persons, or dominated
by one or two persons' costs. A population too small to estimate anything gets
every effect withheld and a sentence in the report saying so; it never crashes.
The health returns combine only the yearly effects that are themselves published
(otherwise the withheld year would follow from the returns by subtraction).
"""

from __future__ import annotations

import warnings

import numpy as np

from dataclasses import dataclass, field, replace
from typing import Mapping

from analysis.errors import ParameterError, PreTrendWarning, check_choice

from analysis.studies.exit_health import design as dz

OUTCOMES = dz.OUTCOMES
DYNAMIC = ("antidepressants", "healthcare_costs_eur")
CONTROL_GROUPS = dz.CONTROL_GROUPS
AGE_GROUPS = [(18, 34), (35, 49), (50, 66)]
#: the pre-test's level: a rejection is shown prominently
PRE_TREND_ALPHA = 0.05
#: Event times published as ``att_<outcome>_e<k>``.
PUBLISHED_E = range(4)
#: categorical columns of persons a researcher would name in ``by`` (any other column of persons works too)
BY_EXAMPLES = ("sex", "education", "migration_background", "municipality_code")


def _check_parameters(*, outcomes, control_group, covariates, event_window, horizon_years, discount_rate,
                      anticipation, base_period, by="") -> None:
    """Every option checked before any data is read (ParameterError naming the value and what is allowed)."""
    check_choice("base_period", base_period, ("universal", "varying"))
    if not isinstance(by, str) or by in ("person_id", "birth_year"):
        raise ParameterError(f"by={by!r} must be '' (no groups) or the name of a categorical column of persons, "
                             f"e.g. {', '.join(BY_EXAMPLES)}.")
    if isinstance(anticipation, bool) or not isinstance(anticipation, int) or not 0 <= anticipation <= 2:
        raise ParameterError(f"anticipation={anticipation!r} must be 0, 1 or 2 years (how long before the exit "
                             "health may already change).")
    for o in outcomes:
        check_choice("outcome", o, OUTCOMES)
    check_choice("control_group", control_group, CONTROL_GROUPS)
    if not isinstance(covariates, (list, tuple)):
        raise ParameterError(f"covariates={covariates!r} must be a list of covariate names, e.g. "
                             f"{list(dz.DEFAULT_COVARIATES)}; [] for none.")
    for c in covariates:
        check_choice("covariate", c, tuple(dz.COVARIATE_COLUMNS))
    if len(event_window) != 2 or event_window[0] >= 0 or event_window[1] < 3:
        raise ParameterError(f"event_window={event_window} must be [first, last] with first < 0 and last >= 3.")
    if not -0.01 <= discount_rate < 1:
        raise ParameterError(f"discount_rate={discount_rate} must lie in [-0.01, 1): the Dutch MKBA guideline's "
                             "standard real rate is 0.0225, -0.01 for risk-free flows (Werkgroep discontovoet 2020).")
    if not 1 <= horizon_years <= 30:
        raise ParameterError(f"horizon_years={horizon_years} must lie between 1 and 30.")


def check_parameters(*, outcomes, control_group, covariates, event_window, horizon_years, discount_rate,
                     anticipation, base_period, by="") -> None:
    """Every option checked before any data is read (the notebook's first step): a ParameterError names the
    value received and what is allowed."""
    _check_parameters(outcomes=outcomes, control_group=control_group, covariates=covariates,
                      event_window=event_window, horizon_years=horizon_years, discount_rate=discount_rate,
                      anticipation=anticipation, base_period=base_period, by=by)


@dataclass(frozen=True)
class Notes:
    """What the fits left out, for the methods' sentences: covariates per group, per cohort, and cohorts
    without a propensity model (by calendar year)."""

    dropped: tuple = ()        # ((group tag, covariate), ...)
    in_cohorts: tuple = ()     # covariates left out of some cohorts' models
    without_model: tuple = ()  # (("main" | "other", year), ...)

    def __add__(self, other: "Notes") -> "Notes":
        return Notes(self.dropped + other.dropped, self.in_cohorts + other.in_cohorts,
                     self.without_model + other.without_model)


@dataclass(frozen=True)
class StudyDesign:
    """The design (cohorts, risk sets, outcome matrices) with the units it rests on, for the run's
    ``control_group`` and ``anticipation``. It hands the estimator the kit's objects: ``panel``,
    ``cohorts(control_group)``, ``covariates(names)`` (the columns behind the covariates parameter, less those
    constant in these persons) and ``control(control_group)`` (the estimator's comparison rule)."""

    design: dz.ExitDesign
    n_treated: int
    n_control: int
    estimable: bool
    control_group: str = "risk_set"
    anticipation: int = 0
    min_units: int = 10
    group: tuple = ()  # (by, level) of a subgroup (:meth:`within`); () for the whole population

    @property
    def dropped_incomplete(self) -> int:
        return self.design.dropped_incomplete

    @property
    def panel(self):
        return self.design.panel

    def cohorts(self, control_group: str | None = None):
        return self.design.cohorts(self.control_group if control_group is None else control_group)

    def covariates(self, names) -> list[str]:
        return self.design.covariate_columns(names)

    def control(self, control_group: str | None = None) -> str:
        return dz.estimator_control(self.control_group if control_group is None else control_group)

    def within(self, by: str, level) -> "StudyDesign":
        """The same design among the persons whose ``persons`` column ``by`` is ``level`` (a subgroup), with
        its own units and whether they suffice."""
        sub = self.design.within(self.design.members(by, level))
        n_t, n_c = dz.design_units(sub, control_group=self.control_group, anticipation=self.anticipation)
        return replace(self, design=sub, n_treated=n_t, n_control=n_c, estimable=min(n_t, n_c) >= self.min_units,
                       group=(by, str(level)))

    def __repr__(self) -> str:
        where = f", {self.group[0]}={self.group[1]}" if self.group else ""
        return (f"StudyDesign(control_group={self.control_group!r}{where}, exits to work with a base year at risk: "
                f"{'enough' if self.estimable else 'too few'} (at least {self.min_units} needed))")


@dataclass(frozen=True)
class OutcomeEffects:
    """One outcome's fit as published: the group-time result (None: not estimable), its simple and dynamic
    aggregations, the pre-trend test and what the fit left out."""

    outcome: str
    gt: object | None = None
    simple: object | None = None
    dynamic: object | None = None
    pretrend: Mapping | None = None
    notes: "Notes" = None

    def __repr__(self) -> str:
        return f"OutcomeEffects({self.outcome!r}, {'estimated' if self.gt is not None else 'not estimated'})"


@dataclass(frozen=True)
class Effects:
    """Per outcome (gt, simple, dynamic, pre-test) of the main design, the rejected pre-tests and notes."""

    fits: Mapping = field(default_factory=dict)
    rejected: tuple = ()
    notes: Notes = Notes()


@dataclass(frozen=True)
class Table:
    """A checked table the report showed, with what its fits left out."""

    table: object | None
    notes: Notes = Notes()


@dataclass(frozen=True)
class Returns:
    """The health returns per exit to work (None: withheld or not asked for)."""

    estimate: float | None = None
    se: float | None = None


def _add(run, rows: list[dict]) -> list[dict]:
    return run.add(rows) if rows else []


def _estimate_names(run) -> list[str]:
    """Every results.json name this study writes for its parameters (also when it withholds them all)."""
    names = []
    for o in run.parameters["outcomes"]:
        names.append(f"att_{o}")
        if o in DYNAMIC:
            names += [f"att_{o}_e{k}" for k in PUBLISHED_E]
        names.append(f"pretrend_p_{o}")
    if "healthcare_costs_eur" in run.parameters["outcomes"]:
        names.append("health_savings_per_exit_eur")
    return names


def _unit_of(name: str) -> str:
    if name.startswith("pretrend_p_"):
        return "p-value"
    if name == "health_savings_per_exit_eur":
        return "EUR per exit to work (present value)"
    return "probability difference" if name.startswith("att_antidepressants") else "EUR per person-year"


def _withheld(name: str, n: int, n_control: int | None = None) -> dict:
    """A row not estimated because ``n`` treated or ``n_control`` comparison units are too few: the policy
    withholds it (and logs why) like any other row."""
    return {"name": name, "estimate": None, "se": None, "ci_low": None, "ci_high": None, "n": int(n),
            "unit": _unit_of(name), "suppressed": False, "_n_control": None if n_control is None else int(n_control)}


def study_design(run, population) -> StudyDesign:
    """The design of ``population``: exit-to-work and placebo cohorts with their risk sets, the outcome
    matrices, and whether enough treated and comparison persons remain to estimate anything."""
    p = run.parameters
    d = dz.build(run.store, exit_window_days=int(p["exit_window_days"]), population=population)
    n_treated, n_control = dz.design_units(d, control_group=p["control_group"], anticipation=p["anticipation"])
    return StudyDesign(design=d, n_treated=n_treated, n_control=n_control,
                       estimable=min(n_treated, n_control) >= run.policy.min_units, control_group=p["control_group"],
                       anticipation=int(p["anticipation"]), min_units=run.policy.min_units)


def _design_units(run, design: dz.ExitDesign, keep=None, placebo: bool = False) -> tuple[int, int]:
    p = run.parameters
    return dz.design_units(design, keep=keep, placebo=placebo, control_group=p["control_group"],
                           anticipation=p["anticipation"])


def _att(run, design: dz.ExitDesign, outcome: str, *, keep=None, placebo: bool = False, label: str = "",
         control_group: str | None = None, anticipation: int | None = None):
    """The at-risk Callaway & Sant'Anna fit of the run's design (result None when nothing can be estimated)
    and the covariates or cohorts it left out (constant or collinear in these persons), for the report."""
    p = run.parameters
    fit = dz.estimate(design, outcome, keep=keep, placebo=placebo,
                      control_group=p["control_group"] if control_group is None else control_group,
                      covariates=p["covariates"], anticipation=p["anticipation"] if anticipation is None else anticipation,
                      base_period=p["base_period"], seed=p["seed"])
    dropped = tuple((label, c) for c in fit.dropped)
    lost: tuple = ()
    if fit.result is not None and fit.result.diagnostics.get("cohorts_without_model"):
        where = "main" if label == "main" else "other"
        lost = tuple((where, int(design.years[0] + g - 1)) for g in fit.result.diagnostics["cohorts_without_model"])
    return fit.result, Notes(dropped, tuple(fit.dropped_in_cohorts), lost)


def _rows(result, terms_names: dict, unit: str) -> list[dict]:
    """results.json rows for ``terms_names`` (term -> name), with the units they rest on."""
    terms = [t for t in terms_names if t in result.estimates.index]
    return result.to_estimates(unit=unit, terms=terms, names=terms_names)


def _checked_rows(run, rows: list[dict], obj: str) -> dict[str, dict]:
    """Rows shown in a table but not written to results.json, checked by the same policy (logged
    under ``obj``); returned by name."""
    from analysis.report.disclosure import apply_to_estimates

    checked = apply_to_estimates(rows, policy=run.policy, log=run.report.log, obj=obj)
    return {r["name"]: c for r, c in zip(rows, checked)}


def _rows_table(run, rows: list[dict], *, name: str, key: str):
    """A checked display table (key ``key``; estimate, ci_low, ci_high, n) from results rows."""
    from analysis.report.disclosure import checked_estimates

    return checked_estimates(rows, policy=run.policy, log=run.report.log, name=name).rename({"name": key})


def _own_names(run, outcome: str) -> list[str]:
    own = {f"att_{outcome}", f"pretrend_p_{outcome}"} | {f"att_{outcome}_e{k}" for k in PUBLISHED_E}
    if outcome == "healthcare_costs_eur":
        own.add("health_savings_per_exit_eur")
    return [n for n in _estimate_names(run) if n in own]


def outcome_effects(run, sd: StudyDesign, gt, *, outcome: str) -> OutcomeEffects:
    """The rows of one outcome's fit ``gt`` (the notebook's ``rd.att_gt_at_risk`` call) added to the run as
    disclosure control checks them: the simple ATT, the event times ``att_<outcome>_e<k>`` (headline outcomes)
    and the pre-trend test. A fit without any post-exit cell (None, or a population where no cohort could be
    estimated) gets its rows withheld and a sentence."""
    from analysis.report.labels import t

    lo, hi = run.parameters["event_window"]
    covariates = run.parameters["covariates"]
    dropped = sd.design.constant_covariates(covariates)
    if not dz.estimable(gt):
        _add(run, [_withheld(name, sd.n_treated, sd.n_control) for name in _own_names(run, outcome)])
        run.report.markdown(t("exit_health.not_estimable", run.lang,
                              outcome=t(f"exit_health.outcome.{outcome}", run.lang)))
        return OutcomeEffects(outcome=outcome, notes=Notes(tuple(("main", c) for c in dropped)))
    lost = tuple(("main", int(sd.design.years[0] + g - 1)) for g in gt.diagnostics.get("cohorts_without_model", []))
    notes = Notes(tuple(("main", c) for c in dropped),
                  tuple(c for c in dz.cohort_dropped(gt, covariates) if c not in dropped), lost)
    simple = gt.aggregate("simple")
    dyn = gt.aggregate("dynamic", min_e=lo, max_e=hi)
    pre = gt.pretrend_test()
    unit = _unit_of(f"att_{outcome}")
    _add(run, _rows(simple, {"ATT": f"att_{outcome}"}, unit))
    if outcome in DYNAMIC:
        _add(run, _rows(dyn, {f"e={k}": f"att_{outcome}_e{k}" for k in PUBLISHED_E}, unit))
        missing = [f"att_{outcome}_e{k}" for k in PUBLISHED_E if f"e={k}" not in dyn.estimates.index]
        _add(run, [_withheld(name, 0) for name in missing])
    _add(run, [{"name": f"pretrend_p_{outcome}", "estimate": pre["p_value"], "se": None,
                "ci_low": None, "ci_high": None, "n": int(simple.estimates.loc["ATT", "n"]),
                "unit": "p-value", "suppressed": False}])
    return OutcomeEffects(outcome=outcome, gt=gt, simple=simple, dynamic=dyn, pretrend=pre, notes=notes)


def effects(run, sd: StudyDesign, fits: Mapping[str, OutcomeEffects]) -> Effects:
    """What the per-outcome fits show together: the pre-trend warning, the event-study figures, the table and
    the sensitivity analysis. A design with too few treated or comparison persons (``sd.estimable`` False: the
    notebook fits nothing) gets every row withheld and a sentence saying why."""
    from analysis.report.labels import t

    if not sd.estimable:
        _add(run, [_withheld(name, sd.n_treated, sd.n_control) for name in _estimate_names(run)])
        run.report.markdown(t("exit_health.too_few", run.lang, min_units=run.policy.min_units))
        return Effects()
    notes = Notes()
    for fit in fits.values():
        notes += fit.notes
    out = {o: (f.gt, f.simple, f.dynamic, f.pretrend) for o, f in fits.items() if f.gt is not None}
    rejected = [o for o, (_, _, _, pre) in out.items() if pre["p_value"] < PRE_TREND_ALPHA
                and not run.estimate(f"pretrend_p_{o}")["suppressed"]]
    if rejected:
        msg = t("exit_health.pretrend_rejects", run.lang,
                outcomes=", ".join(t(f"exit_health.outcome.{o}", run.lang) for o in rejected))
        warnings.warn(msg, PreTrendWarning, stacklevel=2)
        run.report.warning(msg)
    if out:
        _event_figure(run, out)
        _att_table(run, out)
        _sensitivity(run, out)
    return Effects(fits=out, rejected=tuple(rejected), notes=notes)


def _sensitivity(run, out: dict) -> None:
    """How far the average effect survives violations of parallel trends (honest_did, relative
    magnitudes) and how much the pre-test could have seen (Roth 2022), for the headline outcomes."""
    from analysis.report.labels import t, t_plain
    from analysis.studies.designs import sensitivity_analysis

    if run.parameters["base_period"] != "universal":
        return
    run.report.heading(t("exit_health.sensitivity_heading", run.lang), level=3)
    for outcome in [o for o in DYNAMIC if o in out]:
        _, _, dyn, pre = out[outcome]
        sensitivity_analysis(run, dyn, name=f"att_{outcome}", label=t_plain(f"exit_health.outcome.{outcome}", run.lang),
                             event_time=None, reference=-1.0 - run.parameters["anticipation"], width=1,
                             percent=outcome == "antidepressants", pretest_p=pre["p_value"],
                             ylabel=None if outcome == "antidepressants" else t_plain("exit_health.effect_axis_eur", run.lang))


def _event_figure(run, out: dict) -> None:
    """An event-study figure per outcome (own scale), each term checked on its units: a term resting on
    too few persons, or dominated by one or two, is an x where it would be."""
    from analysis.report import figures
    from analysis.report.disclosure import checked_result
    from analysis.report.labels import t, t_plain

    for outcome in out:
        dyn = out[outcome][2]
        terms = [term for term in dyn.estimates.index if term != "ATT"]
        tb = checked_result(dyn, policy=run.policy, log=run.report.log, terms=terms,
                            name=f"event_study {outcome}")
        # percentage points: the figure adds the unit to the shared "Effect" label; euros name theirs
        axis = "design.effect_axis" if outcome == "antidepressants" else "exit_health.effect_axis_eur"
        ylabel = t_plain(axis, run.lang)
        fig = figures.event_study([{t_plain(f"exit_health.outcome.{outcome}", run.lang): tb}], ylabel=ylabel,
                                  xlabel=t_plain("exit_health.years_since", run.lang), name=f"event_study {outcome}",
                                  reference=-1 - run.parameters["anticipation"], percent=outcome == "antidepressants",
                                  lang=run.lang)
        control = t(f"exit_health.control_long.{run.parameters['control_group']}", run.lang)
        run.report.figure(fig, caption=f"{t('exit_health.event_caption', run.lang, control=control)}: "
                                       f"{t(f'exit_health.outcome.{outcome}', run.lang)}. "
                                       + t(f"exit_health.base_caption.{run.parameters['base_period']}", run.lang,
                                           ref=-1 - run.parameters["anticipation"]), width="70%")


def _att_table(run, out: dict) -> None:
    from analysis.report.disclosure import combine
    from analysis.report.labels import t

    key = t("exit_health.outcome", run.lang)
    label = {f"att_{o}": t(f"exit_health.outcome.{o}", run.lang) for o in out}
    label.update({f"pretrend_p_{o}": t(f"exit_health.outcome.{o}", run.lang) for o in out})
    att = _rows_table(run, [run.estimate(f"att_{o}") for o in out], name="att", key=key).relabel(key, label)
    pre = _rows_table(run, [run.estimate(f"pretrend_p_{o}") for o in out], name="pretrend",
                      key=key).relabel(key, label)
    cols = [(t("estimate", run.lang), att, "estimate"), (t("ci_low", run.lang), att, "ci_low"),
            (t("ci_high", run.lang), att, "ci_high"), (t("exit_health.pretrend_p", run.lang), pre, "estimate"),
            (t("exit_health.treated", run.lang), att, "n")]
    table = combine(cols, on=[key], name="att_table")
    from analysis.studies.exit_health.tables import _show_by_scale

    _show_by_scale(run, table, key=key, labels=label, caption=t("exit_health.att_table_caption", run.lang),
                   columns=[c[0] for c in cols[:3]], formats={cols[3][0]: "num3", cols[4][0]: "int"})


def health_returns(run, fx: Effects) -> Returns:
    """Discounted health-care savings per exit to work over the horizon, with its standard error.

    Only the yearly effects e=0, 1, ... up to the first one that is withheld enter (the last of
    them carried forward); with e=0 withheld the returns are withheld too.
    """
    from analysis.report.labels import fmt_eur, fmt_pct, t

    if "healthcare_costs_eur" not in fx.fits:  # not asked for, or too few units (then already withheld)
        return Returns()
    gt, _, dyn, _ = fx.fits["healthcare_costs_eur"]
    h, r = run.parameters["horizon_years"], run.parameters["discount_rate"]
    index = list(dyn.estimates.index)
    last = -1
    for k in PUBLISHED_E:
        row = run.estimate(f"att_healthcare_costs_eur_e{k}")
        if row["suppressed"] or f"e={k}" not in index:
            break
        last = k
    if last < 0:
        _add(run, [_withheld("health_savings_per_exit_eur", 0)])
        run.report.markdown(t("exit_health.returns_withheld", run.lang, min_units=run.policy.min_units))
        return Returns()
    weights = np.zeros(len(index))
    for k in range(h):
        weights[index.index(f"e={min(k, last)}")] += -1.0 / (1 + r) ** k  # savings = minus the cost effect
    est = float(dyn.estimates["estimate"].to_numpy() @ weights)
    inf = dyn.diagnostics["influence"] @ weights
    se = float(np.sqrt(np.sum(inf ** 2)) / gt.n_units)
    used = [f"e={k}" for k in range(last + 1)]
    n_used = int(min(dyn.estimates.loc[used, "n"]))
    (row,) = _add(run, [{"name": "health_savings_per_exit_eur", "estimate": est, "se": se,
                                 "ci_low": est - 1.96 * se, "ci_high": est + 1.96 * se, "n": n_used,
                                 "unit": _unit_of("health_savings_per_exit_eur"), "suppressed": False,
                                 "_dominance": _combination_dominance(gt, dict(zip(index, weights)))}])
    if row["suppressed"]:
        run.report.markdown(t("exit_health.returns_withheld", run.lang, min_units=run.policy.min_units))
        return Returns()
    run.report.markdown(t("exit_health.returns_text", run.lang, h=h, r=fmt_pct(r, run.lang, digits=2), last=last,
                          value=fmt_eur(est, run.lang), lo=fmt_eur(row["ci_low"], run.lang),
                          hi=fmt_eur(row["ci_high"], run.lang)))
    return Returns(estimate=est, se=se)


def _combination_dominance(gt, term_weights: dict) -> float:
    """Dominance of sum_k w_k ATT(e=k): the top-2 share of the persons' terms in it, from the cells the
    dynamic aggregation combines (ATT(e=k) weights its cells by cohort share), as the estimator judges
    its own terms (``GroupTimeResult._dominance``: unit terms, not centred influence functions)."""
    est = gt.estimates
    pg = gt._group_probability().loc[est["group"]].to_numpy()
    idx, weights = [], []
    for term, w in term_weights.items():
        if w == 0 or not term.startswith("e="):
            continue
        cells = np.flatnonzero(est["event_time"].to_numpy() == float(term[2:]))
        idx += list(cells)
        weights += list(w * pg[cells] / pg[cells].sum())
    return gt._dominance(np.asarray(idx, dtype=int), np.asarray(weights, dtype=float))


from analysis.studies.exit_health.narrative import methods, summary  # noqa: E402,F401  (the notebook's calls)
from analysis.studies.exit_health.tables import (  # noqa: E402,F401  (the notebook's calls)
    _level_label, design_comparison, group_effects, placebo_and_heterogeneity)
