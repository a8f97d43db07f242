"""The benchmark's numbers in words and on axes: shares of municipalities as a reader says them, size
classes, indicator values (Dutch decimal commas through analysis.report.labels)."""

from __future__ import annotations

import numpy as np

from analysis.errors import ParameterError


def fmt_value(value: float, unit: str, lang: str) -> str:
    from analysis.report.labels import fmt_number, fmt_pct

    if value is None or not np.isfinite(value):
        return "."
    return fmt_pct(value, lang) if unit == "share" else fmt_number(value, lang, digits=1)


def size_label(lo: float, hi: float, lang: str) -> str:
    from analysis.report.labels import fmt_int, t

    if not np.isfinite(hi):
        return t("benchmark.size_from", lang, lo=fmt_int(lo, lang))
    return t("benchmark.size_range", lang, lo=fmt_int(lo, lang), hi=fmt_int(hi, lang))


def axis_int(v: float, lang: str) -> str:
    from analysis.report.labels import fmt_int

    return fmt_int(round(v), lang) if v >= 1 else ""


def count_words(n: int, lang: str) -> str:
    from analysis.report.labels import fmt_int

    return fmt_int(n, lang)


#: Rough shares in words, as a reader says them ("meer dan een kwart"); (upper bound exclusive, key).
_SHARE_WORDS = ((0.05, "nearly_none"), (0.15, "tenth"), (0.3, "quarter"), (0.4, "third"), (0.6, "half"),
                (0.7, "two_thirds"), (0.9, "three_quarters"), (0.999, "nearly_all"), (np.inf, "all"))
_SHARE_VALUES = {"none": 0.0, "tenth": 0.1, "quarter": 0.25, "third": 1 / 3, "half": 0.5, "two_thirds": 2 / 3,
                 "three_quarters": 0.75, "nearly_all": 0.9, "all": 1.0}


def share_in_words(k: int, n: int, lang: str) -> str:
    """``k`` of ``n`` municipalities in words: "ruim een kwart van de 120", "elk van de 30"; below ten
    the count itself ("1 van de 4"), since a share of a handful reads oddly."""
    from analysis.report.labels import fmt_int, t

    if n <= 0:
        raise ParameterError(f"share_in_words: n={n!r} must be positive.")
    nn = fmt_int(n, lang)
    if n < 10:
        return t("benchmark.share.count", lang, k=fmt_int(k, lang), n=nn)
    share = k / n
    for bound, key in _SHARE_WORDS:
        if share < bound:
            break
    if k in (0, n) or key in ("nearly_none", "nearly_all"):
        return t(f"benchmark.share.{'all' if k == n else ('none' if k == 0 else key)}", lang, n=nn)
    value = _SHARE_VALUES[key]
    qualifier = "about" if abs(share - value) < 0.02 else ("more_than" if share > value else "less_than")
    words = t(f"benchmark.share.{qualifier}", lang, share=t(f"benchmark.share.{key}", lang))
    return t("benchmark.share.of", lang, share=words, n=nn)
