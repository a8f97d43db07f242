"""Report text in Dutch and English: one catalogue, and number formatting per language.

The catalogue is ``labels.yml`` plus every ``labels.d/*.yml`` (one file per study or
area, so that parallel work on two studies never edits one file): ``key: {nl: ...,
en: ...}``, values may hold ``{placeholders}`` filled by :func:`t`. A key defined in
two files is an error. Dutch is the default language.
The units catalogue, the one place that formats numbers (nl, en): :func:`fmt_number`, :func:`fmt_int`,
shares :func:`fmt_pct` (``21,3%``), effects on a share :func:`fmt_pp` (``10,0 procentpunt``), euros
:func:`fmt_eur` (whole euros, ``€ -381``), durations :func:`fmt_months` (``3,2 maanden``),
probabilities :func:`fmt_prob` (``0,23``), and for figures :func:`axis_formatter` /
:func:`format_axes` (Dutch decimal commas on axes too). English: ``1,234.5``, ``21.3%``.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

import yaml
from matplotlib.ticker import Formatter

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


def _missing(x) -> bool:
    if x is None:
        return True
    try:
        return not math.isfinite(float(x))
    except (TypeError, ValueError):
        return True


def _rounded(x, digits: int) -> str:
    """``abs(x)`` with ``digits`` decimals, half away from zero on the shortest decimal that reads back as
    ``x`` (``380.5`` -> ``381``, ``2.675`` -> ``2.68``), as a reader rounds, not as binary floats do."""
    value = Decimal(repr(abs(float(x))))
    return str(value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def fmt_number(x, lang: str = "nl", digits: int = 1, *, signed: bool = False) -> str:
    """``1234.5`` -> ``"1.234,5"`` (nl) or ``"1,234.5"`` (en); missing -> ``"."`` (the CBS sign).

    Rounding is half away from zero; a value that rounds to zero carries no sign. ``signed`` writes
    ``+`` before a positive value (an effect, a change).
    """
    check_choice("lang", lang, LANGUAGES)
    if _missing(x):
        return "."
    text = _rounded(x, digits)
    whole, _, frac = text.partition(".")
    thousands, decimal = (".", ",") if lang == "nl" else (",", ".")
    body = _group(whole, thousands) + (decimal + frac if frac else "")
    zero = float(text) == 0
    if float(x) < 0 and not zero:
        return "-" + body
    return ("+" if signed and not zero else "") + body


def fmt_int(x, lang: str = "nl", *, signed: bool = False) -> str:
    """A count or whole number: ``12345`` -> ``"12.345"`` (nl), ``"12,345"`` (en)."""
    return fmt_number(x, lang, digits=0, signed=signed)


def fmt_pct(x, lang: str = "nl", digits: int = 1) -> str:
    """A share as a percentage: ``0.213`` -> ``"21,3%"``. For a difference of two shares use :func:`fmt_pp`."""
    if _missing(x):
        return "."
    return fmt_number(100 * float(x), lang, digits) + "%"


def fmt_pp(x, lang: str = "nl", digits: int = 1, *, signed: bool = False) -> str:
    """A difference of shares (an effect on a share) in percentage points: ``0.1`` -> ``"10,0 procentpunt"``
    (nl), ``"10.0 percentage points"`` (en); never a ``%``."""
    if _missing(x):
        return "."
    return f"{fmt_number(100 * float(x), lang, digits, signed=signed)} {_UNITS['pp'][lang]}"


def fmt_eur(x, lang: str = "nl", digits: int = 0, *, signed: bool = False) -> str:
    """An amount in euros, whole euros by default: ``1234.4`` -> ``"€ 1.234"``, ``-380.5`` -> ``"€ -381"``."""
    if _missing(x):
        return "."
    return f"€ {fmt_number(x, lang, digits, signed=signed)}"


def fmt_months(x, lang: str = "nl", digits: int = 1, *, signed: bool = False) -> str:
    """A duration in months: ``3.24`` -> ``"3,2 maanden"`` (nl), ``"3.2 months"`` (en); ``1`` at
    ``digits=0`` -> ``"1 maand"`` / ``"1 month"``."""
    if _missing(x):
        return "."
    number = fmt_number(x, lang, digits, signed=signed)
    unit = _UNITS["month"][lang] if number.lstrip("+-") == "1" else _UNITS["months"][lang]
    return f"{number} {unit}"


def fmt_prob(x, lang: str = "nl", digits: int = 2) -> str:
    """A probability (a p-value, a coverage) as a decimal: ``0.234`` -> ``"0,23"`` (nl), ``"0.23"`` (en);
    a value that would print as zero -> ``"< 0,01"``, never ``"0,00"``."""
    if _missing(x):
        return "."
    if not 0 <= float(x) <= 1:
        raise AnalysisError(f"fmt_prob got {x!r}, which is not a probability; give a value from 0 to 1 "
                            "(for a share use fmt_pct, for a difference of shares fmt_pp).")
    if float(x) > 0 and float(_rounded(x, digits)) == 0:
        return "< " + fmt_number(10.0 ** -digits, lang, digits)
    return fmt_number(x, lang, digits)


def fmt_sig(x, lang: str = "nl", significant: int = 6) -> str:
    """A number to ``significant`` significant digits, without trailing zeros: ``-0.0195052`` ->
    ``"-0,0195052"`` (nl); very small or large values in powers of ten (:func:`fmt_sci`)."""
    if _missing(x):
        return "."
    x = float(x)
    if x != 0 and not 1e-4 <= abs(x) < 10 ** significant:
        return fmt_sci(x, lang, digits=significant - 1)
    if x == 0:
        return "0"
    digits = max(0, significant - 1 - math.floor(math.log10(abs(x))))
    text = fmt_number(x, lang, digits)
    decimal = "," if lang == "nl" else "."
    return text.rstrip("0").rstrip(decimal) if decimal in text else text


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt_sci(x, lang: str = "nl", digits: int = 1) -> str:
    """A number in powers of ten: ``1.7e-17`` -> ``"1,7·10⁻¹⁷"`` (nl), ``"1.7·10⁻¹⁷"`` (en); zero -> ``"0"``."""
    if _missing(x):
        return "."
    x = float(x)
    if x == 0:
        return "0"
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    body = fmt_number(float(mantissa), lang, digits)
    if digits:  # no trailing zeros in the mantissa
        body = body.rstrip("0").rstrip("," if lang == "nl" else ".")
    return f"{body}·10{str(int(exponent)).translate(_SUPERSCRIPT)}"


_UNITS = {
    "pp": {"nl": "procentpunt", "en": "percentage points"},
    "months": {"nl": "maanden", "en": "months"},
    "month": {"nl": "maand", "en": "month"},
}

#: Units an axis can be formatted in (:func:`axis_formatter`).
AXIS_UNITS = ("number", "int", "pct", "pp", "eur", "months", "prob")


class AxisFormatter(Formatter):
    """Tick labels in the report's language: Dutch decimal commas and thousands dots on every axis.

    ``unit`` is one of :data:`AXIS_UNITS`: ``pct`` reads values as shares (``0.2`` -> ``"20%"``),
    ``pp`` as differences of shares printed in points (``0.05`` -> ``"5"``; the axis label names
    the unit), ``eur`` as euros (``"€ 1.000"``), ``months``/``number``/``prob`` as plain numbers. The
    number of decimals is the fewest that tell all visible ticks apart (``digits`` fixes it); numbers
    below 10 000 are not grouped (a year is 2015).
    """

    def __init__(self, unit: str = "number", lang: str = "nl", digits: int | None = None):
        check_choice("unit", unit, AXIS_UNITS)
        check_choice("lang", lang, LANGUAGES)
        self.unit, self.lang, self.digits = unit, lang, digits
        self._ticks: list[float] = []

    def set_locs(self, locs) -> None:
        self._ticks = [float(v) for v in locs]

    def _scale(self, x: float) -> float:
        return 100 * x if self.unit in ("pct", "pp") else x

    def _auto_digits(self) -> int:
        if self.digits is not None:
            return self.digits
        if self.unit == "int":
            return 0
        locs = [self._scale(v) for v in self._ticks if math.isfinite(v)]
        for digits in range(0, 6):
            if all(abs(v - round(v, digits)) < 1e-9 * max(1.0, abs(v)) for v in locs):
                return digits
        return 6

    def __call__(self, x, pos=None) -> str:
        digits = self._auto_digits()
        value = self._scale(float(x))
        text = fmt_number(value, self.lang, digits)
        if abs(value) < 10_000:  # four digits stay ungrouped on an axis: years read 2015, not 2.015
            text = text.replace("." if self.lang == "nl" else ",", "")
        if self.unit == "pct":
            return text + "%"
        if self.unit == "eur":
            return f"€ {text}"
        return text


def axis_formatter(unit: str = "number", lang: str = "nl", digits: int | None = None) -> AxisFormatter:
    """A matplotlib tick formatter for ``unit`` in ``lang``: ``ax.yaxis.set_major_formatter(axis_formatter("pp", "nl"))``."""
    return AxisFormatter(unit, lang, digits)


def format_axes(ax, lang: str = "nl", *, x: str | None = "number", y: str | None = "number") -> None:
    """Give the numeric axes of ``ax`` tick labels in ``lang`` (``x``/``y``: a unit of :data:`AXIS_UNITS`,
    or None to leave that axis as it is). An axis with categorical or already formatted ticks (any
    formatter other than matplotlib's default numeric one) keeps its labels unless a unit other than
    ``"number"`` is asked for."""
    from matplotlib.ticker import ScalarFormatter

    for axis, unit in ((ax.xaxis, x), (ax.yaxis, y)):
        if unit is None:
            continue
        if unit == "number" and not isinstance(axis.get_major_formatter(), ScalarFormatter):
            continue
        axis.set_major_formatter(AxisFormatter(unit, lang))
