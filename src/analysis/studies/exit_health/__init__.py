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

from analysis.errors import ParameterError, PreTrendWarning, check_choice
from analysis.studies.base import StudyContext, setup_study

from analysis.studies.exit_health import design as dz

OUTCOMES = dz.OUTCOMES
DYNAMIC = ("antidepressants", "healthcare_costs_eur")
CONTROL_GROUPS = dz.CONTROL_GROUPS
AGE_GROUPS = [(18, 34), (35, 49), (50, 66)]
#: Event times published as ``att_<outcome>_e<k>``.
PUBLISHED_E = range(4)


def _check_parameters(*, outcomes, control_group, covariates, event_window, horizon_years, discount_rate,
                      anticipation, base_period) -> None:
    """Every option checked before any data is read (ParameterError naming the value and what is allowed)."""
    check_choice("base_period", base_period, ("universal", "varying"))
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
    if not 0 <= discount_rate < 1:
        raise ParameterError(f"discount_rate={discount_rate} must lie in [0, 1).")
    if not 1 <= horizon_years <= 30:
        raise ParameterError(f"horizon_years={horizon_years} must lie between 1 and 30.")


def setup(*, dataset: str, outcomes: list | None = None, exit_window_days: int = 31,
          control_group: str = "risk_set", covariates: list | None = None, event_window: list | None = None,
          horizon_years: int = 5, discount_rate: float = 0.03, municipality: str = "all", anticipation: int = 0,
          base_period: str = "universal", lang: str = "nl", seed: int = 0, pre_trend_alpha: float = 0.05,
          output_dir: str = "") -> StudyContext:
    """Validate the options, load the dataset and build the store. ``covariates=None`` is the default set
    (:data:`.design.DEFAULT_COVARIATES`); ``[]`` estimates without covariates."""
    outcomes = list(outcomes or OUTCOMES)
    event_window = list(event_window or [-4, 4])
    covariates = list(dz.DEFAULT_COVARIATES) if covariates is None else covariates
    _check_parameters(outcomes=outcomes, control_group=control_group, covariates=covariates,
                      event_window=event_window, horizon_years=horizon_years, discount_rate=discount_rate,
                      anticipation=anticipation, base_period=base_period)
    ctx = setup_study("exit_health", dataset=dataset, lang=lang, output_dir=output_dir, title_key="exit_health.title",
                      parameters={"outcomes": outcomes, "exit_window_days": exit_window_days,
                                  "control_group": control_group, "covariates": list(covariates),
                                  "event_window": event_window,
                                  "horizon_years": horizon_years, "discount_rate": discount_rate,
                                  "municipality": municipality, "anticipation": anticipation,
                                  "base_period": base_period, "seed": seed, "pre_trend_alpha": pre_trend_alpha})
    return ctx


def _estimate_names(ctx: StudyContext) -> list[str]:
    """Every results.json name this study writes for its parameters (also when it withholds them all)."""
    names = []
    for o in ctx.parameters["outcomes"]:
        names.append(f"att_{o}")
        if o in DYNAMIC:
            names += [f"att_{o}_e{k}" for k in PUBLISHED_E]
        names.append(f"pretrend_p_{o}")
    if "healthcare_costs_eur" in ctx.parameters["outcomes"]:
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


def panel(ctx: StudyContext) -> dz.ExitDesign:
    """The design: exit-to-work and placebo cohorts with their risk sets, and the outcome matrices."""
    design = dz.build(ctx.store, exit_window_days=int(ctx.parameters["exit_window_days"]),
                      municipality=ctx.parameters["municipality"])
    n_treated, n_control = _design_units(ctx, design)
    ctx.frames = {"design": design, "dropped_incomplete": design.dropped_incomplete,  # type: ignore[attr-defined]
                  "estimable": min(n_treated, n_control) >= ctx.report.policy.min_units,
                  "design_units": (n_treated, n_control), "dropped_covariates": {}}
    return design


def _design_units(ctx: StudyContext, design: dz.ExitDesign, keep=None, placebo: bool = False) -> tuple[int, int]:
    return dz.design_units(design, keep=keep, placebo=placebo, control_group=ctx.parameters["control_group"],
                           anticipation=ctx.parameters["anticipation"])


def _att(ctx: StudyContext, outcome: str, *, keep=None, placebo: bool = False, label: str = "",
         control_group: str | None = None, anticipation: int | None = None):
    """The at-risk Callaway & Sant'Anna fit of the run's design (None when nothing can be estimated);
    covariates left out (constant or collinear in these persons) are remembered for the report."""
    p = ctx.parameters
    fit = dz.estimate(ctx.frames["design"], outcome, keep=keep, placebo=placebo,  # type: ignore[attr-defined]
                      control_group=p["control_group"] if control_group is None else control_group,
                      covariates=p["covariates"], anticipation=p["anticipation"] if anticipation is None else anticipation,
                      base_period=p["base_period"], seed=p["seed"])
    if fit.dropped:
        ctx.frames["dropped_covariates"].setdefault(label, set()).update(fit.dropped)  # type: ignore[attr-defined]
    if fit.result is not None and fit.result.diagnostics.get("cohorts_without_model"):
        years = {int(ctx.frames["design"].years[0] + g - 1)  # type: ignore[attr-defined]
                 for g in fit.result.diagnostics["cohorts_without_model"]}
        ctx.frames.setdefault("cohorts_without_model", {}).setdefault(  # type: ignore[attr-defined]
            "main" if label == "main" else "other", set()).update(years)
    if fit.dropped_in_cohorts:
        ctx.frames["dropped_covariates"].setdefault("_cohorts", set()).update(  # type: ignore[attr-defined]
            fit.dropped_in_cohorts)
    return fit.result


def _rows(result, terms_names: dict, unit: str) -> list[dict]:
    """results.json rows for ``terms_names`` (term -> name), with the units they rest on."""
    terms = [t for t in terms_names if t in result.estimates.index]
    return result.to_estimates(unit=unit, terms=terms, names=terms_names)


def _checked_rows(ctx: StudyContext, rows: list[dict], obj: str) -> dict[str, dict]:
    """Rows shown in a table but not written to results.json, checked by the same policy (logged
    under ``obj``); returned by name."""
    from analysis.report.disclosure import apply_to_estimates

    checked = apply_to_estimates(rows, policy=ctx.report.policy, log=ctx.report.log, obj=obj)
    return {r["name"]: c for r, c in zip(rows, checked)}


def _rows_table(ctx: StudyContext, rows: list[dict], *, name: str, key: str):
    """A checked display table (key ``key``; estimate, ci_low, ci_high, n) from results rows."""
    from analysis.report.disclosure import checked_estimates

    return checked_estimates(rows, policy=ctx.report.policy, log=ctx.report.log, name=name).rename({"name": key})


def effects(ctx: StudyContext) -> dict:
    """Simple and dynamic ATT per outcome, the pre-trend tests, and the event-study figure."""
    from analysis.report.labels import t

    lo, hi = ctx.parameters["event_window"]
    out = {}
    if not ctx.frames["estimable"]:  # type: ignore[attr-defined]
        n_t, n_c = ctx.frames["design_units"]  # type: ignore[attr-defined]
        ctx.add_estimates([_withheld(name, n_t, n_c) for name in _estimate_names(ctx)])
        ctx.report.markdown(t("exit_health.too_few", ctx.lang, min_units=ctx.report.policy.min_units))
        ctx.frames["effects"] = out  # type: ignore[attr-defined]
        ctx.frames["rejected"] = []  # type: ignore[attr-defined]
        return out
    for outcome in ctx.parameters["outcomes"]:
        gt = _att(ctx, outcome, label="main")
        if gt is None:
            n_t, n_c = ctx.frames["design_units"]  # type: ignore[attr-defined]
            own = {f"att_{outcome}", f"pretrend_p_{outcome}"} | {f"att_{outcome}_e{k}" for k in PUBLISHED_E}
            if outcome == "healthcare_costs_eur":
                own.add("health_savings_per_exit_eur")
            names = [n for n in _estimate_names(ctx) if n in own]
            ctx.add_estimates([{**_withheld(name, n_t, n_c), "estimate": None} for name in names])
            ctx.report.markdown(t("exit_health.not_estimable", ctx.lang,
                                  outcome=t(f"exit_health.outcome.{outcome}", ctx.lang)))
            continue
        simple = gt.aggregate("simple")
        dyn = gt.aggregate("dynamic", min_e=lo, max_e=hi)
        pre = gt.pretrend_test()
        unit = _unit_of(f"att_{outcome}")
        (att_row,) = ctx.add_estimates(_rows(simple, {"ATT": f"att_{outcome}"}, unit))
        if outcome in DYNAMIC:
            ctx.add_estimates(_rows(dyn, {f"e={k}": f"att_{outcome}_e{k}" for k in PUBLISHED_E}, unit))
            missing = [f"att_{outcome}_e{k}" for k in PUBLISHED_E if f"e={k}" not in dyn.estimates.index]
            ctx.add_estimates([_withheld(name, 0) for name in missing])
        ctx.add_estimates([{"name": f"pretrend_p_{outcome}", "estimate": pre["p_value"], "se": None,
                            "ci_low": None, "ci_high": None, "n": int(simple.estimates.loc["ATT", "n"]),
                            "unit": "p-value", "suppressed": False}])
        out[outcome] = (gt, simple, dyn, pre)
    rejected = [o for o, (_, _, _, pre) in out.items() if pre["p_value"] < ctx.parameters["pre_trend_alpha"]
                and not ctx.estimate(f"pretrend_p_{o}")["suppressed"]]
    ctx.frames["rejected"] = rejected  # type: ignore[attr-defined]
    if rejected:
        msg = t("exit_health.pretrend_rejects", ctx.lang,
                outcomes=", ".join(t(f"exit_health.outcome.{o}", ctx.lang) for o in rejected))
        warnings.warn(msg, PreTrendWarning, stacklevel=2)
        ctx.report.warning(msg)
    if out:
        _event_figure(ctx, out)
        _att_table(ctx, out)
        _sensitivity(ctx, out)
    ctx.frames["effects"] = out  # type: ignore[attr-defined]
    return out


def _sensitivity(ctx: StudyContext, out: dict) -> None:
    """How far the average effect survives violations of parallel trends (honest_did, relative
    magnitudes) and how much the pre-test could have seen (Roth 2022), for the headline outcomes."""
    from analysis.report.labels import t, t_plain
    from analysis.studies.designs import sensitivity_analysis

    if ctx.parameters["base_period"] != "universal":
        return
    ctx.report.heading(t("exit_health.sensitivity_heading", ctx.lang), level=3)
    for outcome in [o for o in DYNAMIC if o in out]:
        _, _, dyn, pre = out[outcome]
        sensitivity_analysis(ctx, dyn, name=f"att_{outcome}", label=t_plain(f"exit_health.outcome.{outcome}", ctx.lang),
                             event_time=None, reference=-1.0 - ctx.parameters["anticipation"], width=1,
                             percent=outcome == "antidepressants", pretest_p=pre["p_value"])


def _event_figure(ctx: StudyContext, out: dict) -> None:
    """An event-study figure per outcome (own scale), each term checked on its units: a term resting on
    too few persons, or dominated by one or two, is an x where it would be."""
    from analysis.report import figures
    from analysis.report.disclosure import checked_result
    from analysis.report.labels import t, t_plain

    for outcome in out:
        dyn = out[outcome][2]
        terms = [term for term in dyn.estimates.index if term != "ATT"]
        tb = checked_result(dyn, policy=ctx.report.policy, log=ctx.report.log, terms=terms,
                            name=f"event_study {outcome}")
        fig = figures.event_study([{t_plain(f"exit_health.outcome.{outcome}", ctx.lang): tb}], ylabel="",
                                  xlabel=t_plain("exit_health.years_since", ctx.lang), name=f"event_study {outcome}",
                                  reference=-1 - ctx.parameters["anticipation"], percent=outcome == "antidepressants",
                                  lang=ctx.lang)
        control = t(f"exit_health.control_long.{ctx.parameters['control_group']}", ctx.lang)
        ctx.report.figure(fig, caption=f"{t('exit_health.event_caption', ctx.lang, control=control)}: "
                                       f"{t(f'exit_health.outcome.{outcome}', ctx.lang)}. "
                                       + t(f"exit_health.base_caption.{ctx.parameters['base_period']}", ctx.lang,
                                           ref=-1 - ctx.parameters["anticipation"]), width="70%")


def _att_table(ctx: StudyContext, out: dict) -> None:
    from analysis.report.disclosure import combine
    from analysis.report.labels import t

    key = t("exit_health.outcome", ctx.lang)
    label = {f"att_{o}": t(f"exit_health.outcome.{o}", ctx.lang) for o in out}
    label.update({f"pretrend_p_{o}": t(f"exit_health.outcome.{o}", ctx.lang) for o in out})
    att = _rows_table(ctx, [ctx.estimate(f"att_{o}") for o in out], name="att", key=key).relabel(key, label)
    pre = _rows_table(ctx, [ctx.estimate(f"pretrend_p_{o}") for o in out], name="pretrend",
                      key=key).relabel(key, label)
    cols = [(t("estimate", ctx.lang), att, "estimate"), (t("ci_low", ctx.lang), att, "ci_low"),
            (t("ci_high", ctx.lang), att, "ci_high"), (t("exit_health.pretrend_p", ctx.lang), pre, "estimate"),
            (t("exit_health.treated", ctx.lang), att, "n")]
    table = combine(cols, on=[key], name="att_table")
    ctx.report.table(table, caption=t("exit_health.att_table_caption", ctx.lang),
                     number_formats={c[0]: "num3" for c in cols[:4]} | {cols[4][0]: "int"})


def design_comparison(ctx: StudyContext):
    """The headline effects under every comparison group (the run's own first): what the choice of who is
    compared does. The old design (all recipients) is there for comparison; each cell is checked on the
    treated units, comparison units and dominance of its own estimate."""
    from analysis.report.checked import combine
    from analysis.report.labels import t

    if not ctx.frames["effects"]:  # type: ignore[attr-defined]
        return None
    own = ctx.parameters["control_group"]
    groups = [own] + [c for c in CONTROL_GROUPS if c != own]
    key = t("exit_health.outcome", ctx.lang)
    parts = []
    for cg in groups:
        rows = []
        for outcome in [o for o in DYNAMIC if o in ctx.frames["effects"]]:  # type: ignore[attr-defined]
            label = t(f"exit_health.outcome.{outcome}", ctx.lang)
            if cg == own:
                gt = ctx.frames["effects"][outcome][0]  # type: ignore[attr-defined]
            else:
                gt = _att(ctx, outcome, control_group=cg, label="comparison")
            if gt is None:
                rows.append(_withheld(label, 0))
            else:
                rows.append(_rows(gt.aggregate("simple"), {"ATT": label}, _unit_of(f"att_{outcome}"))[0])
        table = _rows_table(ctx, rows, name=f"design_comparison {cg}", key=key)
        name = t(f"exit_health.control_short.{cg}", ctx.lang)
        parts.append((name, table, "estimate"))
    table = combine(parts, on=[key], name="design_comparison")
    ctx.report.table(table, caption=t("exit_health.design_comparison_caption", ctx.lang,
                                      own=t(f"exit_health.control_short.{own}", ctx.lang)),
                     number_formats={p[0]: "num3" for p in parts})
    return table


def placebo_and_heterogeneity(ctx: StudyContext):
    """The placebo (exit for other reasons) beside the main effect, and effects by sex and age group.

    A group with too few leavers or comparison persons is withheld, never estimated. The table shows
    the groups' counts only when no group is withheld: with the main count they would give a withheld
    group's count by subtraction.
    """
    from analysis.report.checked import concat
    from analysis.report.labels import t

    if not ctx.frames["effects"]:  # type: ignore[attr-defined]
        return None
    design = ctx.frames["design"]  # type: ignore[attr-defined]
    group_col = t("intake.group", ctx.lang)
    tables = []
    for outcome in [o for o in DYNAMIC if o in ctx.frames["effects"]]:  # type: ignore[attr-defined]
        everyone = np.ones(len(design.female), dtype=bool)
        groups = [(t("exit_health.main", ctx.lang), everyone, False, "main"),
                  (t("exit_health.placebo", ctx.lang), everyone, True, "placebo"),
                  (t("women", ctx.lang), design.female, False, "women"),
                  (t("men", ctx.lang), ~design.female, False, "men")]
        for lo, hi in AGE_GROUPS:
            groups.append((f"{lo}-{hi}", (design.age_first >= lo) & (design.age_first <= hi), False, f"{lo}-{hi}"))
        rows = []
        for label, keep, placebo, tag in groups:
            n_t, n_c = _design_units(ctx, design, keep=keep, placebo=placebo)
            if tag == "main":
                gt = ctx.frames["effects"][outcome][0]  # type: ignore[attr-defined]
            elif min(n_t, n_c) >= ctx.report.policy.min_units:
                gt = _att(ctx, outcome, keep=keep, placebo=placebo, label=tag)
            else:
                gt = None
            if gt is not None:
                rows.append(_rows(gt.aggregate("simple"), {"ATT": label}, _unit_of(f"att_{outcome}"))[0])
            else:
                rows.append(_withheld(label, n_t, n_c))
        tables.append(_rows_table(ctx, rows, name=f"heterogeneity {outcome}", key=group_col)
                      .with_key(t("exit_health.outcome", ctx.lang), t(f"exit_health.outcome.{outcome}", ctx.lang)))
    table = concat(tables, name="heterogeneity")
    columns = [t("exit_health.outcome", ctx.lang), group_col, "estimate", "ci_low", "ci_high"]
    if not table.any_withheld:
        columns.append("n")
    names = {"estimate": t("estimate", ctx.lang), "ci_low": t("ci_low", ctx.lang), "ci_high": t("ci_high", ctx.lang),
             "n": t("exit_health.treated", ctx.lang)}
    table = table.select(columns).rename(names)
    ctx.report.table(table, caption=t("exit_health.heterogeneity_caption", ctx.lang),
                     number_formats={names["estimate"]: "num3", names["ci_low"]: "num3", names["ci_high"]: "num3",
                                     names["n"]: "int"})
    return table


def health_returns(ctx: StudyContext) -> dict:
    """Discounted health-care savings per exit to work over the horizon, with its standard error.

    Only the yearly effects e=0, 1, ... up to the first one that is withheld enter (the last of
    them carried forward); with e=0 withheld the returns are withheld too.
    """
    from analysis.report.labels import fmt_eur, t

    effects_ = ctx.frames["effects"]  # type: ignore[attr-defined]
    if "healthcare_costs_eur" not in effects_:  # not asked for, or too few units (then already withheld)
        return {}
    gt, _, dyn, _ = effects_["healthcare_costs_eur"]
    h, r = ctx.parameters["horizon_years"], ctx.parameters["discount_rate"]
    index = list(dyn.estimates.index)
    last = -1
    for k in PUBLISHED_E:
        row = ctx.estimate(f"att_healthcare_costs_eur_e{k}")
        if row["suppressed"] or f"e={k}" not in index:
            break
        last = k
    if last < 0:
        ctx.add_estimates([_withheld("health_savings_per_exit_eur", 0)])
        ctx.report.markdown(t("exit_health.returns_withheld", ctx.lang, min_units=ctx.report.policy.min_units))
        return {}
    weights = np.zeros(len(index))
    for k in range(h):
        weights[index.index(f"e={min(k, last)}")] += -1.0 / (1 + r) ** k  # savings = minus the cost effect
    est = float(dyn.estimates["estimate"].to_numpy() @ weights)
    inf = dyn.diagnostics["influence"] @ weights
    se = float(np.sqrt(np.sum(inf ** 2)) / gt.n_units)
    used = [f"e={k}" for k in range(last + 1)]
    n_used = int(min(dyn.estimates.loc[used, "n"]))
    (row,) = ctx.add_estimates([{"name": "health_savings_per_exit_eur", "estimate": est, "se": se,
                                 "ci_low": est - 1.96 * se, "ci_high": est + 1.96 * se, "n": n_used,
                                 "unit": _unit_of("health_savings_per_exit_eur"), "suppressed": False,
                                 "_dominance": _combination_dominance(gt, dict(zip(index, weights)))}])
    if row["suppressed"]:
        ctx.report.markdown(t("exit_health.returns_withheld", ctx.lang, min_units=ctx.report.policy.min_units))
        return {}
    ctx.report.markdown(t("exit_health.returns_text", ctx.lang, h=h, r=f"{100 * r:g}", last=last,
                          value=fmt_eur(est, ctx.lang), lo=fmt_eur(row["ci_low"], ctx.lang),
                          hi=fmt_eur(row["ci_high"], ctx.lang)))
    return {"estimate": est, "se": se}


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


from analysis.studies.exit_health.narrative import methods, summary  # noqa: E402  (the notebook's calls)
