"""Report sentences built from results, in the report's language (label catalogue ``kit.*``).

Every number a sentence prints comes from a results.json row as disclosure control
checked it: the rows :meth:`analysis.kit.run.Run.add` returns (or ``run.estimate(name)``).
A withheld row gives a sentence that says so, never its number. Numbers follow the
house style: shares and effects on shares in percentage points (``fmt_pp``), euros
in whole euros (``fmt_eur``), Dutch decimal commas.
"""

from __future__ import annotations

from typing import Mapping

from analysis.errors import ParameterError, check_choice
from analysis.report.labels import fmt_eur, fmt_int, fmt_number, fmt_pp, t

SCALES = ("pp", "eur", "number")
#: A pre-trend test below this p-value is reported as a rejection (the studies' convention).
PRETREND_ALPHA = 0.05


def _format(value, scale: str, lang: str) -> str:
    if scale == "pp":
        return fmt_pp(value, lang)
    if scale == "eur":
        return fmt_eur(value, lang)
    return fmt_number(value, lang, digits=3 if abs(float(value)) < 1 else 1)


def _checked_row(row) -> Mapping:
    if not isinstance(row, Mapping) or not {"estimate", "suppressed", "n"} <= set(row):
        raise ParameterError(
            f"text: expected a results.json row as disclosure control checked it (what Run.add returns or "
            f"run.estimate(name) gives); received {type(row).__name__}. Add the result with run.add(...) first.")
    return row


def effect_sentence(row, *, outcome: str, scale: str = "number", lang: str = "nl") -> str:
    """``outcome``: the estimate with its 95% interval and the number of persons with the event.

    ``scale``: ``"pp"`` for an effect on a share, ``"eur"`` for euros, ``"number"`` otherwise.
    """
    check_choice("scale", scale, SCALES)
    row = _checked_row(row)
    if row["suppressed"] or row["estimate"] is None:
        return t("kit.effect_withheld", lang, outcome=outcome)
    ci = [_format(row[k], scale, lang) if row.get(k) is not None else "." for k in ("ci_low", "ci_high")]
    return t("kit.effect", lang, outcome=outcome, estimate=_format(row["estimate"], scale, lang), ci_low=ci[0],
             ci_high=ci[1], n=fmt_int(row["n"], lang))


def pretrend_sentence(row, *, lang: str = "nl", alpha: float = PRETREND_ALPHA) -> str:
    """The pre-trend test's p-value (a checked row of unit ``p-value``), with a warning when it rejects."""
    row = _checked_row(row)
    if row["suppressed"] or row["estimate"] is None:
        return t("kit.effect_withheld", lang, outcome="p")
    p = float(row["estimate"])
    verdict = t("kit.pretrend_rejects", lang) if p < alpha else ""
    return t("kit.pretrend", lang, p=fmt_number(p, lang, digits=3), verdict=verdict)


def _municipality_name(pop, code: str) -> str | None:
    """The name of municipality ``code`` from the dataset's optional ``municipalities`` table (None without it)."""
    table = getattr(getattr(getattr(pop, "store", None), "dataset", None), "tables", {}).get("municipalities")
    if table is None or "name" not in table or "municipality_code" not in table:
        return None
    hit = table.loc[table["municipality_code"].astype(str) == str(code), "name"]
    return str(hit.iloc[0]) if len(hit) else None


def population_sentence(pop, *, lang: str = "nl", municipality_name: str | None = None) -> str:
    """The population's definition in words (no counts); a municipality by its name and code when the dataset
    names it (``municipalities`` table), else by its code."""
    d = pop.definition
    if d.municipality != "all" and municipality_name is None:
        name = _municipality_name(pop, d.municipality)
        municipality_name = f"{name} ({d.municipality})" if name else None
    where = "".join(f", {c} = {', '.join(map(str, v)) if isinstance(v, tuple) else v}" for c, v in d.where)
    return t("kit.population", lang, age_min=d.age_min, age_max=d.age_max, first_year=str(d.first_year),
             last_year=str(d.last_year), sex=t(f"kit.sex.{d.sex}", lang) if d.sex != "all" else "",
             municipality=t("kit.municipality", lang, name=municipality_name or d.municipality)
             if d.municipality != "all" else "", where=where)


__all__ = ["effect_sentence", "population_sentence", "pretrend_sentence"]
