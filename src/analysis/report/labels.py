"""Report text in Dutch and English: one catalogue, and number formatting per language.

The catalogue is ``labels.yml`` plus every ``labels.d/*.yml`` (one file per study or
area, so that parallel work on two studies never edits one file): ``key: {nl: ...,
en: ...}``, values may hold ``{placeholders}`` filled by :func:`t`. A key defined in
two files is an error. Dutch is the default language.
Numbers follow the language: Dutch ``1.234,5`` and ``21,3%``; English
``1,234.5`` and ``21.3%``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import yaml

from analysis.errors import AnalysisError, check_choice

LANGUAGES = ("nl", "en")
CATALOGUE = Path(__file__).with_name("labels.yml")
CATALOGUE_PARTS = Path(__file__).with_name("labels.d")


def catalogue_files() -> list[Path]:
    """The catalogue's files: ``labels.yml`` first, then ``labels.d/*.yml`` by name."""
    return [CATALOGUE, *sorted(CATALOGUE_PARTS.glob("*.yml"))]


@lru_cache(maxsize=1)
def catalogue() -> dict:
    merged: dict = {}
    origin: dict[str, str] = {}
    for path in catalogue_files():
        part = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, entry in part.items():
            if key in merged:
                raise AnalysisError(f"Report text {key!r} is defined in both {origin[key]} and {path.name}; "
                                    "keep one.")
            merged[key] = entry
            origin[key] = path.name
    return merged


def t(key: str, lang: str = "nl", **values) -> str:
    """The text of ``key`` in ``lang`` (Markdown), with ``{placeholders}`` filled from ``values``.

    String values are escaped (:func:`analysis.report.escape.markdown_text`): a name from the data
    is printed as text, never read as Markdown or Typst. Use :func:`t_plain` where the text is not
    Markdown (a figure label, a Typst string literal).
    """
    from analysis.report.escape import markdown_text

    values = {k: markdown_text(v) if isinstance(v, str) else v for k, v in values.items()}
    return _text(key, lang, values)


def t_plain(key: str, lang: str = "nl", **values) -> str:
    """As :func:`t`, not escaped: for figure labels and other text that is not Markdown."""
    return _text(key, lang, values)


def _text(key: str, lang: str, values: dict) -> str:
    check_choice("lang", lang, LANGUAGES)
    entry = catalogue().get(key)
    if entry is None:
        raise AnalysisError(f"No report text for key {key!r} in {CATALOGUE.name}; add it with nl and en.")
    text = entry.get(lang)
    if text is None:
        raise AnalysisError(f"Report text {key!r} has no {lang!r} version in {CATALOGUE.name}.")
    return text.format(**values) if values else text


def _group(digits: str, sep: str) -> str:
    out = []
    while len(digits) > 3:
        out.insert(0, digits[-3:])
        digits = digits[:-3]
    out.insert(0, digits)
    return sep.join(out)


def fmt_number(x, lang: str = "nl", digits: int = 1) -> str:
    """``1234.5`` -> ``"1.234,5"`` (nl) or ``"1,234.5"`` (en); missing -> ``"."`` (the CBS sign)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "."
    text = f"{abs(float(x)):.{digits}f}"
    whole, _, frac = text.partition(".")
    thousands, decimal = (".", ",") if lang == "nl" else (",", ".")
    body = _group(whole, thousands) + (decimal + frac if frac else "")
    return ("-" if float(x) < 0 and float(text) != 0 else "") + body


def fmt_int(x, lang: str = "nl") -> str:
    return fmt_number(x, lang, digits=0)


def fmt_pct(x, lang: str = "nl", digits: int = 1) -> str:
    """A share as a percentage: ``0.213`` -> ``"21,3%"``."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "."
    return fmt_number(100 * float(x), lang, digits) + "%"


def fmt_pp(x, lang: str = "nl", digits: int = 1) -> str:
    """A difference of shares in percentage points: ``0.05`` -> ``"5,0 procentpunt"``."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "."
    unit = "procentpunt" if lang == "nl" else "percentage points"
    return f"{fmt_number(100 * float(x), lang, digits)} {unit}"


def fmt_eur(x, lang: str = "nl", digits: int = 0) -> str:
    """An amount in euros: ``1234`` -> ``"€ 1.234"``."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "."
    return f"€ {fmt_number(x, lang, digits)}"
