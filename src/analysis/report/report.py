"""The Report: numbered tables and figures that passed disclosure control, text from the catalogue.

A study shows everything through a :class:`Report`. Each table, figure and
paragraph is displayed as one notebook output carrying ``text/markdown`` (what
the PDF is made of), plus HTML or PNG for JupyterLab, and metadata
``{"rendeert": {...}}`` by which the PDF export recognises it. Any other
output (prints, warnings, reprs) stays in the notebook and out of the PDF.

Control cannot be skipped: :meth:`Report.table` takes only a
:class:`~analysis.report.checked.CheckedTable` (or a results object that
carries its units) and :meth:`Report.figure` only a
:class:`~analysis.report.checked.CheckedFigure`; anything else raises
:class:`~analysis.errors.DisclosureError`. Every published cell is recorded
(``Report.published``) for ``published.json``. Strings from the data are
escaped before pandoc sees them (:mod:`analysis.report.escape`).
"""

from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from analysis.errors import DisclosureError
from analysis.report.checked import HOW_TO_CHECK, CheckedFigure, CheckedTable, checked_result
from analysis.report.disclosure import DisclosureLog, DisclosurePolicy
from analysis.report.escape import markdown_text, plain_text
from analysis.report.labels import fmt_eur, fmt_int, fmt_number, fmt_pct, fmt_prob, t, t_plain

FORMATS = ("pct", "pp", "int", "eur", "months", "prob", "num0", "num1", "num2", "num3", "text")


def _display(bundle: dict, kind: str) -> None:
    from IPython.display import display

    display(bundle, raw=True, metadata={"rendeert": {"kind": kind}})


class Report:
    """Collects a study's report: numbering, disclosure control, language."""

    def __init__(self, study: str, *, lang: str = "nl", policy: DisclosurePolicy | None = None,
                 figure_dir: str | Path | None = None):
        self.study = study
        self.lang = lang
        self.policy = policy or DisclosurePolicy.load()
        self.log = DisclosureLog(min_units=self.policy.min_units)
        self.figure_dir = Path(figure_dir) if figure_dir else Path(tempfile.mkdtemp(prefix="rendeert-fig-"))
        self.tables: list[str] = []
        self.figures: list[str] = []
        self.published: list[dict] = []
        self.shown_as: dict[str, list] = {}  # object name -> ["Tabel 3", "Figuur 2"]

    # -- formatting -------------------------------------------------------------------------
    def _format(self, value, fmt: str | None, dtype) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "."  # not available (not a withheld cell: those show the policy's symbol)
        if isinstance(value, str) or fmt == "text":
            return str(value)
        if fmt == "pct":
            return fmt_pct(value, self.lang)
        if fmt == "pp":  # an effect on a share, in points; the column header names the unit
            return fmt_number(100 * float(value), self.lang, 1)
        if fmt == "eur":
            return fmt_eur(value, self.lang)
        if fmt == "months":
            return fmt_number(value, self.lang, 1)
        if fmt == "prob":
            return fmt_prob(value, self.lang)
        if fmt == "int" or (fmt is None and (pd.api.types.is_integer_dtype(dtype) or float(value).is_integer())):
            return fmt_int(value, self.lang)
        if fmt and fmt.startswith("num"):
            return fmt_number(value, self.lang, digits=int(fmt[3:]))
        return fmt_number(value, self.lang, digits=3 if abs(float(value)) < 1 else 1)

    def format_table(self, table: CheckedTable, number_formats: Mapping[str, str] | None = None) -> pd.DataFrame:
        """The table's cells as text: withheld cells show the policy's symbol."""
        number_formats = dict(number_formats or {})
        frame, held = table.frame, table.withheld
        out = pd.DataFrame(index=frame.index)
        for col in frame.columns:
            fmt = number_formats.get(col)
            cells = [self._format(v, fmt, frame[col].dtype) for v in frame[col]]
            if col in held.columns:
                cells = [self.policy.symbol if h else c for c, h in zip(cells, held[col].to_numpy())]
            out[col] = cells
        return out

    # -- outputs ------------------------------------------------------------------------------
    def table(self, table, *, caption: str, number_formats: Mapping[str, str] | None = None,
              note: str | None = None, **unchecked) -> CheckedTable:
        """Show a checked table (or a results object's terms, checked on their units).

        ``caption`` and ``note`` are catalogue text (:func:`~analysis.report.labels.t`, which escapes
        its arguments); column names and cells are escaped here.
        """
        if unchecked:
            raise DisclosureError(f"Report.table no longer takes {sorted(unchecked)}: a table is checked when it "
                                  "is built, not when it is shown. " + HOW_TO_CHECK)
        if not isinstance(table, CheckedTable):
            if hasattr(table, "estimates") and isinstance(getattr(table, "estimates"), pd.DataFrame):
                table = checked_result(table, policy=self.policy, log=self.log, name=f"{self.study}: {plain_text(caption)}")
            else:
                raise DisclosureError(
                    f"Report.table got a {type(table).__name__}, which disclosure control has not checked; "
                    "nothing unchecked is shown. " + HOW_TO_CHECK)
        self.tables.append(caption)
        number = len(self.tables)
        label = f"{t('table', self.lang)} {number}"
        for obj in (*table.sources, table.name):
            self.shown_as.setdefault(obj, []).append(label)
        text = self.format_table(table, number_formats)
        numeric = [c in table.values for c in table.columns]
        # dashes in proportion to each column's longest entry: pandoc gives wide tables those relative
        # widths, so a long case name gets room instead of wrapping in a column as narrow as a number's
        widths = [max([len(str(c)), *(len(str(v)) for v in text[c])]) for c in table.columns]
        align = [("-" * max(3, min(w, 40))) + ":" if num else ":" + "-" * max(3, min(w, 40))
                 for num, w in zip(numeric, widths)]
        lines = ["| " + " | ".join(markdown_text(c) for c in table.columns) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(markdown_text(v) for v in row) + " |" for row in text.itertuples(index=False)]
        notes = []
        if table.any_withheld:
            notes.append(t("suppressed_note", self.lang, min_units=self.policy.min_units))
        if note:
            notes.append(note)
        md = "\n".join(lines) + f"\n\n: {caption}\n"
        if notes:
            md += "\n" + " ".join(f"*{n}*" for n in notes) + "\n"
        html_table = text.to_html(index=False, escape=True)
        html_out = f"<p><b>{label}.</b> {html.escape(plain_text(caption))}</p>{html_table}" + "".join(
            f"<p><i>{html.escape(plain_text(n))}</i></p>" for n in notes)
        _display({"text/markdown": md, "text/html": html_out, "text/plain": f"{label}. {plain_text(caption)}"}, "table")
        self.published.extend(dict(c, shown_as=label) for c in table.cells())
        return table

    def figure(self, fig, *, caption: str, width: str = "95%", **unchecked) -> Path | None:
        """Show a checked figure (saved as PNG, 200 dpi)."""
        import matplotlib.pyplot as plt

        if unchecked:
            raise DisclosureError(f"Report.figure no longer takes {sorted(unchecked)}: a figure is checked when it "
                                  "is drawn, by analysis.report.figures. " + HOW_TO_CHECK)
        if not isinstance(fig, CheckedFigure):
            if hasattr(fig, "savefig"):
                plt.close(fig)
            raise DisclosureError(
                f"Report.figure got a {type(fig).__name__}, which disclosure control has not checked; draw it with "
                "analysis.report.figures from checked tables. " + HOW_TO_CHECK)
        self.figures.append(caption)
        number = len(self.figures)
        label = f"{t('figure', self.lang)} {number}"
        for obj in (*fig.sources, fig.name):
            self.shown_as.setdefault(obj, []).append(label)
        self.figure_dir.mkdir(parents=True, exist_ok=True)
        path = self.figure_dir / f"figure-{number:02d}.png"
        fig.figure.savefig(path, dpi=200, bbox_inches="tight")
        plt.close(fig.figure)
        rel = f"{self.figure_dir.name}/{path.name}"
        md = f"![{caption}]({rel}){{width={width}}}\n"
        if fig.any_withheld:
            md += f"\n*{t('figure_withheld_note', self.lang, min_units=self.policy.min_units)}*\n"
        png = base64.b64encode(path.read_bytes()).decode()
        _display({"text/markdown": md, "image/png": png, "text/plain": f"{label}. {plain_text(caption)}"}, "figure")
        _display({"text/html": f"<p><b>{label}.</b> {html.escape(plain_text(caption))}</p>",
                  "text/plain": f"{label}. {plain_text(caption)}"}, "caption")
        self.published.extend(dict(c, shown_as=label) for c in fig.cells())
        return path

    def markdown(self, text: str) -> None:
        """A paragraph of report text (build it from the catalogue, :func:`t`, and the results)."""
        _display({"text/markdown": text + "\n", "text/plain": plain_text(text)}, "markdown")

    def limitations(self, text: str) -> None:
        """The study's limitations paragraph (catalogue text): the PDF places it in its own section
        ("Beperkingen" / "Limitations") after the body, wherever the cell stands."""
        _display({"text/markdown": text + "\n", "text/plain": plain_text(text)}, "limitations")

    def heading(self, text: str, level: int = 2) -> None:
        _display({"text/markdown": "#" * level + " " + text + "\n", "text/plain": plain_text(text)}, "markdown")

    def warning(self, text: str) -> None:
        """A caveat the reader must not miss (shown boxed in the PDF)."""
        _display({"text/markdown": f"> **{text}**\n", "text/plain": f"WARNING: {plain_text(text)}"}, "warning")

    # -- what was withheld, in a sentence ---------------------------------------------------------
    def withheld_sentence(self) -> str | None:
        """One sentence naming the tables, figures and estimates with withheld cells (no counts), or None."""
        objects = self.log.objects()
        if not objects:
            return None
        names = [[t("withheld.estimates", self.lang)] if o == "results.json" else self.shown_as.get(o, [])
                 for o in objects]
        names = list(dict.fromkeys(n for group in names for n in group))
        if not names:
            names = [t("withheld.elsewhere", self.lang)]
        objects = ", ".join(markdown_text(n) for n in names)  # escaped once here, inserted as is
        return t_plain("withheld.sentence", self.lang, min_units=self.policy.min_units, objects=objects)

    def say_withheld(self) -> None:
        """Show :meth:`withheld_sentence` as a paragraph (nothing when nothing was withheld)."""
        sentence = self.withheld_sentence()
        if sentence:
            self.markdown(f"*{sentence}*")
