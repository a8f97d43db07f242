"""What a batch publishes: cross-run disclosure control, summary.csv and summary.pdf.

Each run of a batch is disclosure-controlled on its own (its study's
:class:`~analysis.report.report.Report`). A batch adds a risk that no single
run can see: two published figures whose populations nest give away their
difference. A municipality batch that publishes "all" and every municipality
but one publishes that one by subtraction; "all" and "all but GM0001" publish
GM0001. :func:`cross_run_control` therefore compares, for every estimate and
every set of runs that differ only in the ``municipality`` parameter, the
units behind the total with the units behind the published parts: when the
remainder (total minus the published parts) rests on more than zero but fewer
than ``min_units`` units, the smallest published parts are withheld until it
does not. Withheld figures are ``null`` with ``suppressed: true`` in
summary.csv *and* in the run's own results.json; the run's PDF, which shows
the figure, is renamed ``report.pdf.withheld`` with a note beside it, and the
decision enters the run's disclosure log. ``n`` is taken as additive over
municipalities (units live in one municipality per run), which holds for the
studies here; estimates without ``n`` cannot be checked and are listed.

summary.pdf shows, for one estimate (``--estimate``; default the first
estimate with a standard error), a forest plot across runs, a funnel plot
when runs compare municipalities (estimate against precision 1/se with 95 and
99.8 percent limits around the precision-weighted mean, Spiegelhalter 2005),
and the table of every run's figure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from analysis.report.disclosure import DisclosurePolicy

SUBSET_PARAMETER = "param_municipality"
TOTAL_VALUE = "all"
DIFFERENCING = "differencing"
NUMBERS = ("estimate", "se", "ci_low", "ci_high")
#: Beyond this many runs the forest plot drops the run labels (a caterpillar plot).
MAX_LABELLED_RUNS = 40


def _varying(summary: pd.DataFrame) -> list[str]:
    params = [c for c in summary.columns if c.startswith("param_") and c != "param_output_dir"]
    return [c for c in params if summary[c].astype(str).nunique() > 1]


def cross_run_control(summary: pd.DataFrame, policy: DisclosurePolicy) -> tuple[pd.DataFrame, list[dict]]:
    """Withhold figures that two or more published ones would give away by subtraction.

    Returns the controlled summary and a log (one entry per withheld figure, naming the run,
    the estimate and the rule; ``n`` is "<min_units", never the remainder itself). A withheld
    figure loses its ``n`` too.
    """
    out = summary.copy()
    log: list[dict] = []
    if out.empty or SUBSET_PARAMETER not in out.columns:
        return out, log
    keys = [c for c in out.columns if c.startswith("param_") and c not in (SUBSET_PARAMETER, "param_output_dir")]
    keys.append("name")
    grouped = out.astype({k: str for k in keys}).groupby(keys, sort=False, dropna=False).groups
    for _, index in grouped.items():
        rows = out.loc[index]
        total = rows[rows[SUBSET_PARAMETER].astype(str) == TOTAL_VALUE]
        parts = rows[(rows[SUBSET_PARAMETER].astype(str) != TOTAL_VALUE) & ~rows["suppressed"].astype(bool)]
        if total.empty or parts.empty or bool(total["suppressed"].iloc[0]) or pd.isna(total["n"].iloc[0]):
            continue
        if parts["n"].isna().any():
            log.extend({"run_dir": r.run_dir, "name": r.name, "rule": "cross_run_unchecked_no_n", "n": None,
                        "withheld": False} for r in parts.itertuples())
            continue
        remainder = float(total["n"].iloc[0]) - float(parts["n"].sum())
        for i in parts.sort_values("n").index:
            if remainder <= 0 or remainder >= policy.min_units:
                break
            remainder += float(out.loc[i, "n"])
            out.loc[i, list(NUMBERS)] = np.nan
            out.loc[i, "n"] = np.nan
            out.loc[i, "suppressed"] = True
            log.append({"run_dir": out.loc[i, "run_dir"], "name": out.loc[i, "name"],
                        "rule": DIFFERENCING, "n": f"<{policy.min_units}", "withheld": True})
    return out, log


def withhold_suppressed_counts(summary: pd.DataFrame) -> pd.DataFrame:
    """A withheld figure shows no numbers and no n (whatever an older results.json holds)."""
    out = summary.copy()
    if out.empty:
        return out
    withheld = out["suppressed"].astype(bool)
    out.loc[withheld, [*NUMBERS, "n"]] = np.nan
    return out


def pairwise_control(summary: pd.DataFrame, policy: DisclosurePolicy, *, dataset_sha: dict | None = None,
                     study: str = "", earlier=()) -> tuple[pd.DataFrame, list[dict]]:
    """Withhold a run's figure whose n (or a share's numerator) differs from another run's by 1 to 9 units.

    The runs of the batch are compared with each other and with what was exported before from the
    same dataset (``earlier``, from the register): see :mod:`analysis.run.differencing`.
    """
    from analysis.run import differencing
    from analysis.run.register import RESULTS_OBJECT, PublishedRun, population_of

    out = summary.copy()
    if out.empty:
        return out, []
    dataset_sha = dataset_sha or {}
    runs = []
    for run_dir, rows in out.groupby("run_dir", sort=False):
        first = rows.iloc[0]
        params = {c.removeprefix("param_"): first[c] for c in rows.columns if c.startswith("param_")}
        cells = tuple({"object": RESULTS_OBJECT, "cell": str(r["name"]), "value": None if pd.isna(r["estimate"]) else
                       float(r["estimate"]), "n": None if pd.isna(r["n"]) else float(r["n"]),
                       "kind": r.get("unit"), "suppressed": bool(r["suppressed"])} for _, r in rows.iterrows())
        runs.append(PublishedRun(run_id=Path(str(run_dir)).name, study=study, run_dir=str(run_dir),
                                 dataset_sha256=dataset_sha.get(str(run_dir)), population=population_of(params),
                                 cells=cells))
    findings = differencing.check(runs, min_units=policy.min_units, earlier=earlier)
    log = []
    for f in findings:
        i = out.index[(out["run_dir"].astype(str) == f["run_dir"]) & (out["name"].astype(str) == f["cell"])]
        out.loc[i, [*NUMBERS, "n"]] = np.nan
        out.loc[i, "suppressed"] = True
        log.append({"run_dir": f["run_dir"], "name": f["cell"], "rule": DIFFERENCING, "n": f["n"], "withheld": True})
    return out, log


def apply_to_runs(log: Sequence[dict], lang: str = "nl") -> None:
    """Carry cross-run suppression into each affected run: results.json, disclosure log, PDF."""
    by_run: dict[str, list[dict]] = {}
    for entry in log:
        if entry["withheld"]:
            by_run.setdefault(entry["run_dir"], []).append(entry)
    for run_dir, entries in by_run.items():
        run = Path(run_dir)
        names = {e["name"] for e in entries}
        results_path = run / "results.json"
        results = json.loads(results_path.read_text(encoding="utf-8"))
        for e in results["estimates"]:
            if e["name"] in names:
                e.update(estimate=None, se=None, ci_low=None, ci_high=None, n=None, suppressed=True)
        results_path.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
        log_path = run / "disclosure_log.json"
        run_log = json.loads(log_path.read_text(encoding="utf-8")) if log_path.is_file() else []
        run_log += [{"object": e["name"], "cell": "batch", "rule": e["rule"], "n": None} for e in entries]
        log_path.write_text(json.dumps(run_log, indent=2, ensure_ascii=False), encoding="utf-8")
        pdf = run / "report.pdf"
        if pdf.is_file():
            pdf.rename(run / "report.pdf.withheld")
            (run / "WITHHELD.txt").write_text(
                "report.pdf was withheld by the batch's cross-run disclosure control: it shows "
                f"{', '.join(sorted(names))}, which together with other runs of the batch would give away "
                "a figure resting on too few persons. Do not release it; results.json is controlled.\n",
                encoding="utf-8")


def _run_labels(table: pd.DataFrame, varying: list[str]) -> pd.Series:
    if not varying:
        return pd.Series([Path(r).name for r in table["run_dir"]], index=table.index)
    return table[varying].astype(str).agg(", ".join, axis=1) if len(varying) > 1 else table[varying[0]].astype(str)


#: Name prefixes of the studies' headline causal (or adjusted) estimates, in order of preference; the batch
#: summary plots the first of these a batch has, before any descriptive share.
HEADLINE_PREFIXES = ("att_", "ate_", "aipw_", "effect_", "did_", "adjusted_ratio_", "health_savings_")
#: Descriptive names never chosen by default when a headline exists.
DESCRIPTIVE_PREFIXES = ("share_", "raw_rate_", "percentile_", "pretrend_", "rank_", "outside_", "funnel_")


def _pick_default(summary: pd.DataFrame, names: list[str]) -> str:
    with_se = summary.dropna(subset=["se"])
    se_names = list(dict.fromkeys(with_se["name"]))
    for prefix in HEADLINE_PREFIXES:
        for pool in (se_names, names):
            hits = [n for n in pool if n.startswith(prefix)]
            if hits:
                return hits[0]
    for pool in (se_names, names):
        hits = [n for n in pool if not n.startswith(DESCRIPTIVE_PREFIXES)]
        if hits:
            return hits[0]
    return se_names[0] if se_names else names[0]


def municipality_labels(summary: pd.DataFrame, study: str = "") -> dict:
    """Municipality code -> name for the batch's runs: CBS's classification for StatLine benchmarks, else
    the ``municipalities`` table of the runs' dataset (CSV or Parquet) where it has names."""
    names: dict = {}
    if study == "benchmark" or "param_statline_dir" in summary:
        from analysis.studies.benchmark import municipality_names

        years = summary["param_year"].dropna().astype(int).unique() if "param_year" in summary else [2017]
        for year in sorted(years, reverse=True):
            try:
                names = {**municipality_names(int(year)), **names}
            except Exception:  # a year without bundled names: codes stay codes
                continue
        return names
    for d in summary.get("param_dataset", pd.Series(dtype=str)).dropna().unique():
        for f in ("municipalities.csv", "municipalities.parquet"):
            path = Path(str(d)) / f
            if path.is_file():
                table = pd.read_csv(path, dtype=str) if f.endswith(".csv") else pd.read_parquet(path)
                if {"municipality_code", "name"} <= set(table.columns):
                    names.update(dict(zip(table["municipality_code"], table["name"])))
    return names


def choose_estimate(summary: pd.DataFrame, estimate: str | None) -> str | None:
    """The estimate to plot: the one asked for, else the study's headline causal or adjusted estimate
    (:data:`HEADLINE_PREFIXES`), else the first non-descriptive one with a standard error."""
    if summary.empty:
        return None
    names = list(dict.fromkeys(summary["name"]))
    if estimate:
        if estimate not in names:
            from analysis.errors import ParameterError

            raise ParameterError(f"--estimate {estimate!r} is not an estimate of these runs; they have: "
                                 f"{', '.join(names[:30])}{' ...' if len(names) > 30 else ''}.")
        return estimate
    return _pick_default(summary, names)


def forest_figure(table: pd.DataFrame, *, labels: pd.Series, xlabel: str, pooled: float | None, pooled_label: str,
                  withheld_label: str, runs_label: str = ""):
    import matplotlib.pyplot as plt

    from analysis.report import theme

    shown = table.assign(label=labels).sort_values("estimate", na_position="first")
    height = max(2.2, 0.28 * min(len(shown), MAX_LABELLED_RUNS) + 1.0)
    fig, ax = plt.subplots(figsize=(7.0, min(height, 9.0)))
    y = np.arange(len(shown))
    ok = shown["estimate"].notna().to_numpy()
    has_ci = ok & shown["ci_low"].notna().to_numpy()
    ax.errorbar(shown["estimate"].to_numpy()[has_ci], y[has_ci],
                xerr=[(shown["estimate"] - shown["ci_low"]).to_numpy()[has_ci],
                      (shown["ci_high"] - shown["estimate"]).to_numpy()[has_ci]],
                fmt="o", ms=3.5, lw=1.0, color=theme.PALETTE[0])
    ax.plot(shown["estimate"].to_numpy()[ok & ~has_ci], y[ok & ~has_ci], "o", ms=3.5, color=theme.PALETTE[0])
    for yi in y[~ok]:
        ax.annotate(withheld_label, (0.01, yi), xycoords=("axes fraction", "data"), va="center", fontsize=7,
                    color="0.35")
    if pooled is not None:
        ax.axvline(pooled, color=theme.PALETTE[1], ls="--", lw=1.0, label=pooled_label)
        ax.legend(loc="lower right", fontsize=7)
    if len(shown) <= MAX_LABELLED_RUNS:
        ax.set_yticks(y, shown["label"], fontsize=7 if len(shown) > 25 else 8)
    else:  # hundreds of runs: a caterpillar plot; the table below names every run
        ax.set_yticks([])
        ax.set_ylabel(runs_label)
    from analysis.report.labels import fmt_number

    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: fmt_number(v, LANG[0], digits=2)))
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


def funnel_figure(table: pd.DataFrame, *, target: float, xlabel: str, ylabel: str, limit_labels: tuple[str, str],
                  tau2: float = 0.0, labels: pd.Series | None = None, max_labels: int = 12):
    """Estimates against their precision with limits ``target +/- z sqrt(se^2 + tau2)`` (random effects);
    the points outside the 95 % limits, and all when there are few, are labelled with ``labels``."""
    import matplotlib.pyplot as plt

    from analysis.estimators.funnel import funnel_limits_normal
    from analysis.report import theme

    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    precision = 1 / table["se"].to_numpy()
    grid = np.linspace(precision.min() * 0.8, precision.max() * 1.1, 200)
    lim = funnel_limits_normal(target, 1 / grid, tau2=tau2)
    ax.plot(grid, lim["upper_95"], color="0.45", lw=0.9, ls="--", label=limit_labels[0])
    ax.plot(grid, lim["lower_95"], color="0.45", lw=0.9, ls="--")
    ax.plot(grid, lim["upper_99.8"], color="0.2", lw=0.9, label=limit_labels[1])
    ax.plot(grid, lim["lower_99.8"], color="0.2", lw=0.9)
    ax.axhline(target, color=theme.PALETTE[1], lw=0.9)
    ax.scatter(precision, table["estimate"], s=14, color=theme.PALETTE[0], zorder=3)
    if labels is not None:
        own = funnel_limits_normal(target, table["se"].to_numpy(), tau2=tau2)
        outside = ((table["estimate"].to_numpy() > own["upper_95"].to_numpy())
                   | (table["estimate"].to_numpy() < own["lower_95"].to_numpy()))
        show = np.ones(len(table), bool) if len(table) <= max_labels else outside
        for k, (x, y, lab) in enumerate(zip(precision, table["estimate"], labels)):
            if show[k]:
                ax.annotate(str(lab), (x, y), xytext=(4, 3 if k % 2 else -9), textcoords="offset points",
                            fontsize=6.5, color="0.25")
    from analysis.report.labels import fmt_number

    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: fmt_number(v, LANG[0], digits=2)))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: fmt_number(v, LANG[0], digits=0)))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


LANG = ["nl"]  # the summary's language, for the axis formatters of its figures


def _param_text(value):
    """A parameter as a reader writes it: a list (stored as its Python text in summary.csv) comma-separated."""
    import ast

    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
        if isinstance(parsed, (list, tuple)):
            return ", ".join(map(str, parsed))
    return value


def _fmt(value, lang: str) -> str:
    from analysis.report.labels import fmt_number

    if value is None or pd.isna(value):
        return "x"
    value = float(value)
    return fmt_number(value, lang, digits=3 if abs(value) < 10 else 1)


def write_summary_pdf(batch_dir: Path, summary: pd.DataFrame, runs: pd.DataFrame, *, study: str,
                      estimate: str | None, lang: str, policy: DisclosurePolicy, log: Sequence[dict],
                      policy_path: Path | None = None) -> Path | None:
    """summary.pdf: forest plot, funnel plot (municipality comparisons) and table for one estimate."""
    import matplotlib.pyplot as plt

    from analysis.estimators.funnel import random_effects_mean
    from analysis.report.labels import fmt_int, fmt_pct, t
    from analysis.report.escape import markdown_text, plot_text
    from analysis.report.labels import t_plain
    from analysis.report.pdf import markdown_to_pdf
    from analysis.run.manifest import policy_record

    name = choose_estimate(summary, estimate)
    figures = batch_dir / "figures"
    figures.mkdir(exist_ok=True)
    md: list[str] = []
    failed = runs[runs["status"] == "failed"]
    md.append(t("batch.intro", lang, runs=len(runs), ok=int((runs["status"] != "failed").sum()),
                failed=len(failed)))
    if name is None:
        md.append(t("batch.nothing", lang))
    else:
        table = summary[summary["name"] == name].reset_index(drop=True)
        varying = _varying(summary)
        LANG[0] = lang
        names = municipality_labels(summary, study)
        if SUBSET_PARAMETER in table:
            table = table.assign(**{SUBSET_PARAMETER: table[SUBSET_PARAMETER].map(
                lambda c: names.get(str(c), c) if isinstance(c, str) else c)})
        labels = _run_labels(table, varying)
        unit = str(table["unit"].dropna().iloc[0]) if table["unit"].notna().any() else ""
        usable = table.dropna(subset=["estimate", "se"])
        usable = usable[usable["se"] > 0]
        is_municipal = SUBSET_PARAMETER in varying
        parts = usable[usable[SUBSET_PARAMETER].astype(str) != TOTAL_VALUE] if is_municipal else usable
        re = random_effects_mean(parts["estimate"], parts["se"]) if len(parts) >= 2 else None
        pooled = re.mean if re is not None else None
        code = name.rsplit("_", 1)[-1]
        shown_name = f"{name.rsplit('_', 1)[0]} {names[code]}" if code in names else name  # the municipality named
        xlabel = f"{shown_name} ({unit})" if unit else shown_name
        fig = forest_figure(table, labels=labels.map(plot_text), xlabel=xlabel, pooled=pooled, pooled_label=t("summary.pooled_re", lang),
                            withheld_label=t("suppressed_short", lang),
                            runs_label=t("batch.runs_sorted", lang, n=len(table)))
        fig.savefig(figures / "forest.png", dpi=200, bbox_inches="tight")
        plt.close(fig)
        md.append(f"## {t('batch.forest_heading', lang)}")
        md.append(f"![{t('summary.forest_caption', lang, name=name)}](figures/forest.png){{width=95%}}")
        if is_municipal and len(parts) >= 3:
            fig = funnel_figure(parts, target=pooled, xlabel=t("batch.precision", lang), ylabel=xlabel,
                                limit_labels=(t("batch.limit95", lang), t("batch.limit998", lang)), tau2=re.tau2,
                                labels=labels.loc[parts.index].map(plot_text))
            fig.savefig(figures / "funnel.png", dpi=200, bbox_inches="tight")
            plt.close(fig)
            md.append(f"## {t('batch.funnel_heading', lang)}")
            md.append(f"![{t('batch.funnel_caption', lang, name=name)}](figures/funnel.png){{width=90%}}")
        if re is not None:
            funnel_drawn = is_municipal and len(parts) >= 3
            md.append(t("summary.random_effects", lang, k=fmt_int(re.k, lang), mean=_fmt(re.mean, lang),
                        low=_fmt(re.ci_low, lang), high=_fmt(re.ci_high, lang),
                        tau=_fmt(float(np.sqrt(re.tau2)), lang), i2=fmt_pct(re.i2, lang, digits=0))
                      + (" " + t("summary.random_effects_funnel", lang) if funnel_drawn else ""))
        head = [t("batch.run", lang), t("estimate", lang), t("std_error", lang), t("ci", lang), "n"]
        lines = ["| " + " | ".join(head) + " |", "|:---|---:|---:|---:|---:|"]
        for label, row in zip(labels, table.itertuples()):
            ci = "x" if pd.isna(row.ci_low) else f"{_fmt(row.ci_low, lang)} – {_fmt(row.ci_high, lang)}"
            n = "" if pd.isna(row.n) else fmt_int(row.n, lang)
            lines.append(f"| {markdown_text(label)} | {_fmt(row.estimate, lang)} | {_fmt(row.se, lang)} | {ci} | {n} |")
        md.append(f"## {t('batch.table_heading', lang)}")
        md.append("\n".join(lines) + f"\n\n: {t('batch.table_caption', lang, name=name)}\n")
        if summary["suppressed"].astype(bool).any():
            md.append(f"*{t('suppressed_note', lang, min_units=policy.min_units)}*")
    if not failed.empty:
        md.append(f"## {t('batch.failures_heading', lang)}")
        lines = [f"| {t('batch.run', lang)} | {t('batch.error', lang)} |", "|:---|:---|"]
        for r in failed.itertuples():
            first = str(r.error).splitlines()[0] if isinstance(r.error, str) and r.error else ""
            lines.append(f"| {markdown_text(Path(str(r.run_dir)).name if r.run_dir else r.key)} | "
                         f"{markdown_text(first[:200])} |")
        md.append("\n".join(lines))
    appendix_log = [{"object": e["name"], "cell": Path(str(e["run_dir"])).name, "rule": e["rule"]} for e in log]
    datasets = sorted({Path(str(d)).name for d in summary.get("param_dataset", pd.Series(dtype=str)).dropna()})
    fixed = {c.removeprefix("param_"): _param_text(summary[c].iloc[0]) for c in summary.columns
             if c.startswith("param_") and c not in _varying(summary) and c != "param_dataset"} if len(summary) else {}
    meta = {"dataset_name": ", ".join(datasets) or "-", "dataset_source": t_plain("batch.source", lang, study=study),
            "run_date": batch_dir.name.removeprefix("batch-")[:15],
            "parameters": {"study": study, "estimate": name or "", **fixed,
                           "varying": ", ".join(c.removeprefix("param_") for c in _varying(summary))}}
    return markdown_to_pdf("\n\n".join(md), batch_dir / "summary.pdf", title=t_plain("batch.title", lang, study=study),
                           meta=meta, appendix={"manifest": {"batch": batch_dir.name, "runs": len(runs)},
                                                "disclosure_log": appendix_log,
                                                "policy": policy_record(policy, policy_path)},
                           lang=lang, root=batch_dir, what=f"the summary of {batch_dir.name}")
