"""Study "validation": every reference case, our number beside the published one, with a verdict.

The PDF is the document a reviewer reads before trusting the workbench. Each
row here is also a test in ``tests/reference/`` (with its source in the
docstring); this study shows the same comparisons in one table.

The notebook (notebooks/90_validation.py) calls one function per reference
case; each takes the :class:`ReferenceSource` and returns a frame of
comparisons (case, quantity, ours, published, difference, tolerance, reason,
verdict, n). :func:`collect` puts them in one frozen :class:`Comparisons`,
whose rows go to results.json as ``validation_000``, ``validation_001``, ... in
the order of the cases.

Disclosure. The reference data are public (R packages, published replication
files), but the rows pass the same control as every study's (``run.add``):
``n`` is the number of units of the reference dataset behind each number.
There is no person population: the study has no population parameters.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.errors import ParameterError

COLUMNS = ["case", "quantity", "ours", "published", "difference", "tolerance", "reason", "verdict", "n"]
SOURCES = ("mpdta (R did), Card & Krueger (1994), Rossi et al. (1980), Freireich et al. (1963), "
           "LaLonde / Dehejia-Wahba (Imbens & Xu 2024 replication files)")


@dataclass(frozen=True)
class ReferenceSource:
    """The directory of reference cases, with what results.json needs to name it."""

    path: Path
    meta: dict
    content_hash: str


def reference_source(reference_dir: str = "tests/reference") -> ReferenceSource:
    """The reference cases in ``reference_dir`` (relative to the project root), fingerprinted."""
    from analysis.paths import resolve_path

    path = resolve_path(reference_dir)
    if not (path / "mpdta" / "mpdta.csv").is_file():
        raise ParameterError(f"reference_dir={reference_dir!r} does not hold the reference cases (mpdta/mpdta.csv); "
                             "give the directory tests/reference of the project, or leave it out.")
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file() and f.suffix in (".csv", ".dta"):
            h.update(f.read_bytes())
    return ReferenceSource(path=path, content_hash=h.hexdigest(),
                           meta={"name": "reference datasets", "source": SOURCES})


@dataclass(frozen=True)
class Comparisons:
    """Every comparison of our number with a published one, in case order."""

    table: pd.DataFrame

    @property
    def passed(self) -> int:
        return int(self.table["verdict"].sum())

    def __len__(self) -> int:
        return len(self.table)

    def to_estimates(self) -> list[dict]:
        """results.json rows ``validation_NNN`` (our number; ``n`` the units of the reference dataset)."""
        return [{"name": f"validation_{i:03d}", "estimate": float(r["ours"]), "se": None, "ci_low": None,
                 "ci_high": None, "n": int(r["n"]), "unit": f"{r['case']}: {r['quantity']}", "suppressed": False}
                for i, r in self.table.iterrows()]

    def __repr__(self) -> str:
        return f"Comparisons({self.passed} of {len(self)} within tolerance)"


def collect(*frames: pd.DataFrame) -> Comparisons:
    """The comparisons of every case, in the order given."""
    if not frames:
        raise ParameterError("collect: no cases given; pass the frames of the reference cases.")
    return Comparisons(table=pd.concat(frames, ignore_index=True)[COLUMNS])


def _row(case, quantity, ours, published, tolerance, reason, n):
    diff = ours - published
    return {"case": case, "quantity": quantity, "ours": ours, "published": published, "difference": diff,
            "tolerance": tolerance, "reason": reason, "verdict": bool(abs(diff) <= tolerance), "n": n}


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def did_mpdta(source: ReferenceSource) -> pd.DataFrame:
    """Callaway & Sant'Anna on mpdta against R ``did``: ATT(g,t), aggregations, pre-test, with covariate lpop."""
    from analysis.estimators import att_gt

    ref = source.path
    rows = []
    mp = pd.read_csv(ref / "mpdta" / "mpdta.csv")
    attgt = pd.read_csv(ref / "mpdta" / "ref_attgt.csv")
    aggte = pd.read_csv(ref / "mpdta" / "ref_aggte.csv")
    pre = pd.read_csv(ref / "mpdta" / "ref_pretest.csv")
    for scenario, control in (("mpdta_nev_dr", "never_treated"), ("mpdta_nyt_dr", "not_yet_treated")):
        r = att_gt(mp, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", control=control)
        m = r.estimates.merge(attgt[attgt.scenario == scenario], left_on=["group", "time"], right_on=["group", "t"])
        for _, x in m.iterrows():
            rows.append(_row(f"R did, {scenario}", f"ATT({int(x['group'])},{int(x['time'])})", x["estimate"], x["att"],
                             1e-6, "same closed form", len(mp) // 5))
            rows.append(_row(f"R did, {scenario}", f"se ATT({int(x['group'])},{int(x['time'])})", x["std_error"],
                             x["se"], 1e-6, "same closed form", len(mp) // 5))
        for kind in ("simple", "group", "dynamic", "calendar"):
            a = r.aggregate(kind).to_frame().loc["ATT"]
            ra = aggte[(aggte.scenario == scenario) & (aggte.type == kind)].iloc[0]
            rows.append(_row(f"R did, {scenario}", f"{kind} ATT", a["estimate"], ra["overall_att"], 1e-6,
                             "same closed form", len(mp) // 5))
            rows.append(_row(f"R did, {scenario}", f"{kind} se", a["std_error"], ra["overall_se"], 1e-6,
                             "same closed form", len(mp) // 5))
        p = pre[pre.scenario == scenario].iloc[0]
        rows.append(_row(f"R did, {scenario}", "pre-test W", r.pretrend_test()["W"], p["W"], 1e-6, "same closed form",
                         len(mp) // 5))
    # With a covariate (lpop): full-precision R output (reg) and the reference manual's printed dr ATT(g,t)
    cov = att_gt(mp, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", covariates=["lpop"],
                 method="reg")
    refc = pd.read_csv(ref / "mpdta" / "ref_cov_attgt.csv").query("scenario == 'mpdta_nev_reg_cov'")
    for _, x in cov.estimates.merge(refc, left_on=["group", "time"], right_on=["group", "t"]).iterrows():
        rows.append(_row("R did, mpdta_nev_reg_cov (~lpop)", f"ATT({int(x['group'])},{int(x['time'])})",
                         x["estimate"], x["att"], 1e-8, "closed form; R stored to 15 digits", len(mp) // 5))
        rows.append(_row("R did, mpdta_nev_reg_cov (~lpop)", f"se ATT({int(x['group'])},{int(x['time'])})",
                         x["std_error"], x["se"], 1e-8, "closed form; R stored to 15 digits", len(mp) // 5))
    printed = pd.read_csv(ref / "mpdta" / "ref_printed_dr_lpop.csv")
    for scenario, control in (("mpdta_nev_dr_lpop", "never_treated"), ("mpdta_nyt_dr_lpop", "not_yet_treated")):
        dr = att_gt(mp, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", covariates=["lpop"],
                    control=control)
        m = dr.estimates.merge(printed[printed.scenario == scenario], left_on=["group", "time"],
                               right_on=["group", "t"])
        for _, x in m.iterrows():
            rows.append(_row(f"R did manual, {scenario}", f"ATT({int(x['group'])},{int(x['time'])})", x["estimate"],
                             x["att"], 0.5e-4, "printed to 4 decimals", len(mp) // 5))
    return _frame(rows)


def card_krueger(source: ReferenceSource) -> pd.DataFrame:
    """Card & Krueger (1994): the 2x2 DiD of full-time employment, clustered standard error."""
    from analysis.estimators import did_2x2

    rows = []
    ck = pd.read_csv(source.path / "card_krueger" / "card_krueger_1994.csv")
    c = did_2x2(ck, outcome="fte", treated="nj", post="t", cluster="id").to_frame().loc["ATT"]
    rows.append(_row("Card & Krueger (1994)", "DiD FTE", c["estimate"], 2.914, 0.0005, "printed to 3 decimals", int(c["n"])))
    rows.append(_row("Card & Krueger (1994)", "clustered se", c["std_error"], 1.291, 0.0005, "printed to 3 decimals",
                     int(c["n"])))
    return _frame(rows)


def cox_rossi(source: ReferenceSource) -> pd.DataFrame:
    """The Rossi recidivism Cox model against R ``coxph`` (Efron ties), also on (start, stop] rows."""
    from analysis.estimators import cox

    rows = []
    rossi = pd.read_csv(source.path / "rossi" / "rossi.csv")
    published = {"fin": (-0.37942, 0.19138), "age": (-0.05744, 0.02200), "race": (0.31390, 0.30799),
                 "wexp": (-0.14980, 0.21222), "mar": (-0.43370, 0.38187), "paro": (-0.08487, 0.19576),
                 "prio": (0.09150, 0.02865)}
    fit = cox(rossi, duration="week", event="arrest", covariates=list(published))
    for name, (b, se) in published.items():
        rows.append(_row("Rossi Cox (R coxph, Efron)", name, fit.to_frame().loc[name, "estimate"], b, 1e-4,
                         "iterative fit vs 5 printed digits", len(rossi)))
        rows.append(_row("Rossi Cox (R coxph, Efron)", f"se {name}", fit.to_frame().loc[name, "std_error"], se, 1e-4,
                         "iterative fit vs 5 printed digits", len(rossi)))
    rows.append(_row("Rossi Cox (R coxph, Efron)", "log-likelihood", fit.log_likelihood, -658.748, 5e-4,
                     "printed to 3 decimals", len(rossi)))
    # the same model on counting-process rows split at week 20 (an event time): R's risk sets
    # (start < t <= stop) leave the partial likelihood unchanged
    late = rossi["week"] > 20
    split = pd.concat([rossi.assign(start=0, stop=rossi["week"].clip(upper=20), arrest=rossi["arrest"].where(~late, 0)),
                       rossi[late].assign(start=20, stop=rossi.loc[late, "week"])], ignore_index=True)
    tv = cox(split, duration="stop", event="arrest", covariates=list(published), entry="start")
    rows.append(_row("Rossi Cox, (start, stop] rows split at week 20", "fin", tv.to_frame().loc["fin", "estimate"],
                     published["fin"][0], 1e-4, "iterative fit vs 5 printed digits", len(split)))
    rows.append(_row("Rossi Cox, (start, stop] rows split at week 20", "log-likelihood", tv.log_likelihood, -658.748,
                     5e-4, "printed to 3 decimals", len(split)))
    return _frame(rows)


def kaplan_meier_6mp(source: ReferenceSource) -> pd.DataFrame:
    """Kaplan-Meier survival of the 6-MP arm (Freireich et al. 1963) against the printed table."""
    from analysis.estimators import kaplan_meier

    rows = []
    six_mp = pd.read_csv(source.path / "freireich" / "six_mp.csv")
    published_s = {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}
    km = kaplan_meier(six_mp, duration="weeks", event="relapse").to_frame(times=list(published_s))
    for week, s in published_s.items():
        rows.append(_row("Kaplan-Meier, 6-MP (Freireich 1963)", f"S({week})", km.loc[f"S@t={week}", "estimate"], s,
                         0.0005, "printed to 3 decimals", len(six_mp)))
    return _frame(rows)


def lalonde(source: ReferenceSource) -> pd.DataFrame:
    """NSW / LaLonde: experimental differences, regression adjustment, Dehejia-Wahba matching, IPW and
    AIPW on the CPS-1 comparison against the experiment."""
    from analysis.estimators.propensity import att_aipw, att_ipw, att_matching, difference_in_means

    ref = source.path
    rows = []
    afdc = pd.read_stata(ref / "lalonde" / "data_cs_NSW_AFDC_CS.dta")
    afdc = afdc[afdc["lalonde"] == 1].dropna(subset=["re79"]).astype({"treated": float})
    a = difference_in_means(afdc, outcome="re79", treatment="treated").to_frame().loc["ATT"]
    rows.append(_row("NSW AFDC women (Calonico & Smith 2017)", "difference in means", a["estimate"], 821, 0.5,
                     "printed to dollars", len(afdc)))
    rows.append(_row("NSW AFDC women (Calonico & Smith 2017)", "classical se", a["std_error"], 308, 0.5,
                     "printed to dollars", len(afdc)))
    dw = pd.read_stata(ref / "lalonde" / "data_lalonde_nsw_dw.dta")
    dw = dw.assign(age2=dw["age"] ** 2)
    e = difference_in_means(dw, outcome="re78", treatment="treat").to_frame().loc["ATT"]
    rows.append(_row("LaLonde, DW experiment", "difference in means", e["estimate"], 1794.34, 0.005, "printed to cents", len(dw)))
    rows.append(_row("LaLonde, DW experiment", "classical se", e["std_error"], 632.85, 0.005, "printed to cents", len(dw)))
    covs = ["age", "age2", "education", "nodegree", "black", "hispanic", "re74", "re75"]
    ra = difference_in_means(dw, outcome="re78", treatment="treat", covariates=covs).to_frame().loc["ATT"]
    rows.append(_row("LaLonde, DW experiment", "regression-adjusted", ra["estimate"], 1672, 0.5, "printed to dollars", len(dw)))
    cps = pd.read_stata(ref / "lalonde" / "data_lalonde_cps_controls.dta")
    obs = pd.concat([dw[dw["treat"] == 1].drop(columns="age2"), cps], ignore_index=True)
    obs = obs.astype({k: float for k in ["age", "education", "re74", "re75", "re78", "treat"]})
    obs = obs.assign(u74=(obs.re74 == 0).astype(float), u75=(obs.re75 == 0).astype(float), age2=obs.age ** 2,
                     educ2=obs.education ** 2, educ_re74=obs.education * obs.re74)
    raw = difference_in_means(obs, outcome="re78", treatment="treat").to_frame().loc["ATT", "estimate"]
    rows.append(_row("LaLonde, NSW + CPS-1", "raw difference", raw, -8498, 0.5, "printed to dollars", len(obs)))
    formula = ("age + I(age**2) + I(age**3) + education + I(education**2) + married + nodegree + black + hispanic"
               " + re74 + re75 + u74 + u75 + I(education*re74)")
    match = att_matching(obs, outcome="re78", treatment="treat", formula=formula, common_support="dehejia_wahba")
    mt = match.to_frame().loc["ATT"]
    rows.append(_row("LaLonde, NSW + CPS-1", "DW matching (1-NN, DW support)", mt["estimate"], 1582,
                     2 * match.diagnostics["tie_breaking_sd"],
                     "DW broke ties at random; ours shares them: 2 sd of that lottery", int(mt["n"])))
    covs2 = ["age", "age2", "education", "educ2", "married", "nodegree", "black", "hispanic", "re74", "re75", "u74",
             "u75", "educ_re74"]
    ipw = att_ipw(obs, outcome="re78", treatment="treat", covariates=covs2, formula=formula).to_frame().loc["ATT"]
    aipw = att_aipw(obs, outcome="re78", treatment="treat", covariates=covs2).to_frame().loc["ATT"]
    rows.append(_row("LaLonde, NSW + CPS-1", "IPW vs experiment", ipw["estimate"], 1794.34, 1000,
                     "benchmark, not a published replication", len(obs)))
    rows.append(_row("LaLonde, NSW + CPS-1", "AIPW vs experiment", aipw["estimate"], 1794.34, 1000,
                     "benchmark, not a published replication", len(obs)))
    return _frame(rows)


def table(comparisons: Comparisons, *, lang: str = "nl"):
    """The comparisons as a checked public table (text cells) for ``run.report.table``."""
    from analysis.report.disclosure import public_table
    from analysis.report.labels import fmt_sci, fmt_sig, t

    frame = comparisons.table
    shown = pd.DataFrame({
        t("validation.case", lang): frame["case"], t("validation.quantity", lang): frame["quantity"],
        t("validation.ours", lang): [fmt_sig(v, lang) for v in frame["ours"]],
        t("validation.published", lang): [fmt_sig(v, lang) for v in frame["published"]],
        t("validation.difference", lang): [fmt_sci(v, lang) for v in frame["difference"]],
        t("validation.tolerance", lang): [fmt_sci(v, lang) for v in frame["tolerance"]],
        t("validation.verdict", lang): [t("validation.pass" if v else "validation.fail", lang)
                                        for v in frame["verdict"]],
    })
    # The reference datasets are public (R packages, published replication files): nothing here is
    # microdata, and the numbers are shown as they are (text cells, their published sources named).
    return public_table(shown, name="validation", source="reference datasets (tests/reference)",
                        keys=list(shown.columns))


def summary_sentence(comparisons: Comparisons, *, lang: str = "nl") -> str:
    """How many comparisons fall within their tolerance, in words."""
    from analysis.report.labels import t

    return t("validation.summary", lang, passed=comparisons.passed, total=len(comparisons))
