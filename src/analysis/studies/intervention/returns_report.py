"""Intervention study: the report of the MKBA (accounts side by side, scenarios, uncertainty, tornado)."""

from __future__ import annotations

import numpy as np

from analysis.kit.run import Run
from analysis.studies.intervention.design import _table

ITEMS = ("bijstand_payments", "programme_cost", "taxes", "other_benefits", "gross_wages", "healthcare_costs",
         "health_qaly", "leisure", "total")
ACCOUNTS = ("gemeente", "rijk", "zorgverzekeraar", "participant", "social")
SCENARIO_COLUMNS = ("social_npv", "fiscal_gemeente", "fiscal_rijk", "fiscal_zorgverzekeraar", "benefit_cost_ratio",
                    "prob_social_npv_positive")


def _cell(key: tuple, value: float, unit_row: dict, unit: str = "EUR per participant") -> dict:
    """A results-style row for a cell ``key`` = (row, column) of a derived table; its units are the MKBA's."""
    return {"name": "|".join(key), "estimate": float(value), "se": None, "ci_low": None, "ci_high": None,
            "n": unit_row["n"], "unit": unit, "suppressed": False}


def _grid(run: Run, cells: list[dict], *, name: str, row_key: str, row_labels: dict, col_labels: dict):
    """A checked wide table from cells named ``"<row>|<col>"``, rows and columns in the order given."""
    codes = {k: f"{i:03d}" for i, k in enumerate(row_labels)}
    tab = _table(run, cells, name=name, key="name")
    tab = tab.relabel("name", lambda s: codes[s.split("|")[0]], into="_row").relabel(
        "name", lambda s: s.split("|")[1], into="_col").select(["_row", "_col", "estimate"])
    wide = tab.pivot(index="_row", columns="_col", value="estimate")  # rows sorted by their codes
    wide = wide.select(["_row", *[c for c in col_labels if c in wide.frame.columns]])
    back = {code: row_labels[k] for k, code in codes.items()}
    return wide.relabel("_row", back).rename({"_row": row_key, **col_labels})


def show_mkba(run: Run, mk, published: dict, *, health: bool) -> None:
    """Tables and figure of the MKBA, and the paragraphs on its inputs and on what a council can conclude."""
    from analysis.report.labels import fmt_eur, fmt_number, fmt_pct, t

    lang = run.lang
    spec = mk.spec
    main = published["social_npv_per_participant_eur"]
    run.report.markdown(t("intervention.mkba.intro", lang, rate=fmt_pct(spec["discount_rate"], lang, 2),
                          horizon=fmt_number(spec["horizon_months"] / 12, lang, 0),
                          window=spec["window_months"], half=fmt_number(DEFAULT_HALF_LIFE(spec), lang, 0)))
    # 1. the two accounts side by side (main scenario)
    acc = mk.accounts
    cells = [_cell((item, actor), acc.loc[item, actor], main) for item in ITEMS for actor in ACCOUNTS
             if item in acc.index]
    rows = {i: t(f"intervention.mkba.item.{i}", lang) for i in ITEMS}
    cols = {a: t(f"intervention.mkba.actor.{a}", lang) for a in ACCOUNTS}
    table = _grid(run, cells, name="mkba_accounts", row_key=t("intervention.mkba.item", lang), row_labels=rows,
                  col_labels=cols)
    run.report.table(table, caption=t("intervention.mkba.accounts_caption", lang),
                     number_formats={v: "eur" for v in cols.values()},
                     note=t("intervention.mkba.accounts_note", lang,
                            displacement=fmt_pct(spec["displacement_share"], lang, 0)))
    # 2. joint uncertainty of the headline rows
    names = ("social_npv_per_participant_eur", "fiscal_npv_gemeente_per_participant_eur",
             "fiscal_npv_rijk_per_participant_eur", "fiscal_npv_zorgverzekeraar_per_participant_eur")
    unc = _table(run, [{**published[k], "name": t(f"intervention.mkba.row.{k}", lang)} for k in names],
                 name="mkba_uncertainty", key=t("intervention.mkba.account", lang))
    vn = {"estimate": t("estimate", lang), "ci_low": t("ci_low", lang), "ci_high": t("ci_high", lang)}
    unc = unc.select([t("intervention.mkba.account", lang), "estimate", "ci_low", "ci_high"]).rename(vn)
    run.report.table(unc, caption=t("intervention.mkba.uncertainty_caption", lang),
                     number_formats={v: "eur" for v in vn.values()})
    bcr, p_soc, p_gem = (published[k] for k in ("benefit_cost_ratio_social", "prob_social_npv_positive",
                                                "prob_fiscal_npv_gemeente_positive"))
    run.report.markdown(t("intervention.mkba.uncertainty_text", lang, social=fmt_eur(main["estimate"], lang),
                          low=fmt_eur(main["ci_low"], lang), high=fmt_eur(main["ci_high"], lang),
                          bcr=fmt_number(bcr["estimate"], lang, 2), bcr_low=fmt_number(bcr["ci_low"], lang, 2),
                          bcr_high=fmt_number(bcr["ci_high"], lang, 2), p_social=fmt_pct(p_soc["estimate"], lang, 0),
                          p_gemeente=fmt_pct(p_gem["estimate"], lang, 0)))
    # 3. persistence scenarios, one row each
    sc = mk.scenarios
    cells = [_cell((s, c), sc.loc[s, c], main, unit="probability" if c.startswith("prob") else
                   ("ratio" if c == "benefit_cost_ratio" else "EUR per participant"))
             for s in sc.index for c in SCENARIO_COLUMNS]
    srows = {s: t(f"intervention.mkba.scenario.{s}", lang) if s in KNOWN_SCENARIOS else s for s in sc.index}
    scols = {c: t(f"intervention.mkba.scol.{c}", lang) for c in SCENARIO_COLUMNS}
    table = _grid(run, cells, name="mkba_scenarios", row_key=t("intervention.mkba.scenario", lang), row_labels=srows,
                  col_labels=scols)
    formats = {v: "eur" for v in scols.values()}
    formats[scols["benefit_cost_ratio"]] = "num2"
    formats[scols["prob_social_npv_positive"]] = "pct"
    run.report.table(table, caption=t("intervention.mkba.scenarios_caption", lang,
                                      main=srows.get(spec["main_scenario"], spec["main_scenario"])),
                     number_formats=formats)
    # 4. the tornado
    _tornado(run, mk, main)
    # 5. inputs and their sources; what a council can and cannot conclude
    inp = spec["inputs"]
    run.report.markdown(t("intervention.mkba.sources", lang, benefit=fmt_eur(inp["benefit_month_eur"], lang),
                          cost=fmt_eur(inp["programme_cost_eur"], lang), wage=fmt_eur(inp["gross_wage_month_eur"], lang),
                          tax=fmt_pct(inp["tax_share"], lang, 0), other=fmt_eur(inp["other_benefits_month_eur"], lang),
                          qaly=fmt_eur(inp["qaly_value_eur"], lang), leisure=fmt_pct(inp["leisure_value_share"], lang, 0),
                          rate=fmt_pct(spec["discount_rate"], lang, 2)))
    run.report.markdown(t("intervention.mkba.council", lang, window=spec["window_months"],
                          health=t("intervention.mkba.council_health_in" if health else
                                   "intervention.mkba.council_health_out", lang)))


KNOWN_SCENARIOS = ("stops", "half_life_12m", "half_life_36m", "stays")


def DEFAULT_HALF_LIFE(spec) -> float:  # noqa: N802 - reads like the constant it reports
    h = spec["scenarios"][spec["main_scenario"]]
    return float("nan") if h is None else float(h)


def _tornado(run: Run, mk, main: dict) -> None:
    """Horizontal bars of the social NPV at each input's low and high value around the point value."""
    import matplotlib.pyplot as plt

    from analysis.report.checked import checked_figure
    from analysis.report.labels import fmt_eur, fmt_number, t, t_plain
    from analysis.report.escape import plot_text

    lang = run.lang
    tor = mk.tornado
    cells = []
    for k, r in tor.iterrows():
        for side in ("npv_low", "npv_high"):
            cells.append(_cell((k, side), r[side], main))
    tab = _table(run, cells, name="mkba_tornado", key="name")
    f = tab.frame
    held = tab.withheld["estimate"].to_numpy()
    values = {name: (np.nan if h else v) for name, v, h in zip(f["name"], f["estimate"], held)}
    base = float(main["estimate"])

    def label(k, r):
        if k.startswith("effect:"):
            name = t_plain(f"intervention.mkba.tornado.{k.split(':')[1]}", lang)
            return f"{name} ({fmt_number(r['low'], lang, 2)} … {fmt_number(r['high'], lang, 2)})"
        fmt = (lambda v: fmt_eur(v, lang)) if k.endswith("_eur") else (lambda v: fmt_number(v, lang, 2))
        return f"{t_plain(f'intervention.mkba.tornado.{k}', lang)} ({fmt(r['low'])} … {fmt(r['high'])})"

    fig, ax = plt.subplots(figsize=(7.0, 0.4 * len(tor) + 1.2))
    y = np.arange(len(tor))
    lo = np.array([values[f"{k}|npv_low"] for k in tor.index])
    hi = np.array([values[f"{k}|npv_high"] for k in tor.index])
    ax.barh(y, lo - base, left=base, color="#0072B2", label=t_plain("intervention.mkba.tornado_low", lang))
    ax.barh(y, hi - base, left=base, color="#E69F00", label=t_plain("intervention.mkba.tornado_high", lang))
    ax.set_yticks(y, [plot_text(label(k, r)) for k, r in tor.iterrows()], fontsize=7)
    ax.axvline(0, color="#D55E00", lw=1)
    ax.axvline(base, color="grey", lw=0.8, ls="--")
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(plt.MaxNLocator(5))  # euro labels are wide: five ticks stay readable
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: fmt_eur(v, lang)))
    ax.set_xlabel(t_plain("intervention.mkba.tornado_axis", lang))
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, frameon=False)
    fig.tight_layout()
    run.report.figure(checked_figure(fig, name="mkba_tornado", tables=[tab]),
                      caption=t("intervention.mkba.tornado_caption", lang))
