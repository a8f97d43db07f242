"""The Report: numbered tables and figures that pass disclosure control, text from the catalogue.

A study shows everything through a :class:`Report`. Each table, figure and
paragraph is displayed as one notebook output carrying ``text/markdown`` (what
the PDF is made of), plus HTML or PNG for JupyterLab, and metadata
``{"rendeert": {...}}`` by which the PDF export recognises it. Any other
output (prints, warnings, reprs) stays in the notebook and out of the PDF.
"""

from __future__ import annotations

import html
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from analysis.report.disclosure import DisclosureLog, DisclosurePolicy, apply_to_table
from analysis.report.labels import fmt_eur, fmt_int, fmt_number, fmt_pct, t

FORMATS = ("pct", "int", "eur", "num0", "num1", "num2", "num3", "text")


def _display(bundle: dict, kind: str) -> None:
    from IPython.display import display

    display(bundle, raw=True, metadata={"rendeert": {"kind": kind}})


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


class Report:
    """Collects a study's report: numbering, disclosure control, language."""

    def __init__(self, study: str, *, lang: str = "nl", policy: DisclosurePolicy | None = None,
                 figure_dir: str | Path | None = None):
        self.study = study
        self.lang = lang
        self.policy = policy or DisclosurePolicy.load()
        self.log = DisclosureLog()
        self.figure_dir = Path(figure_dir) if figure_dir else Path(tempfile.mkdtemp(prefix="rendeert-fig-"))
        self.tables: list[str] = []
        self.figures: list[str] = []

    # -- formatting -------------------------------------------------------------------------
    def _format(self, value, fmt: str | None, dtype) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return self.policy.symbol
        if isinstance(value, str) or fmt == "text":
            return str(value)
        if fmt == "pct":
            return fmt_pct(value, self.lang)
        if fmt == "eur":
            return fmt_eur(value, self.lang)
        if fmt == "int" or (fmt is None and (pd.api.types.is_integer_dtype(dtype) or float(value).is_integer())):
            return fmt_int(value, self.lang)
        if fmt and fmt.startswith("num"):
            return fmt_number(value, self.lang, digits=int(fmt[3:]))
        return fmt_number(value, self.lang, digits=3 if abs(float(value)) < 1 else 1)

    def format_frame(self, frame: pd.DataFrame, number_formats: Mapping[str, str] | None = None) -> pd.DataFrame:
        number_formats = dict(number_formats or {})
        out = pd.DataFrame(index=frame.index)
        for col in frame.columns:
            fmt = number_formats.get(col)
            out[col] = [self._format(v, fmt, frame[col].dtype) for v in frame[col]]
        return out

    # -- outputs ------------------------------------------------------------------------------
    def table(self, frame: pd.DataFrame, *, caption: str, counts: str | None = None,
              number_formats: Mapping[str, str] | None = None, note: str | None = None) -> pd.DataFrame:
        """Show a table: rows resting on too few persons (``counts`` column) are withheld first."""
        self.tables.append(caption)
        number = len(self.tables)
        shown = frame.reset_index(drop=True)
        if counts is not None:
            shown = apply_to_table(shown, counts=counts, policy=self.policy, log=self.log,
                                   name=f"{t('table', self.lang)} {number}", key=shown.columns[0])
        text = self.format_frame(shown, number_formats)
        withheld = (text == self.policy.symbol).to_numpy().any()
        align = ["---:" if pd.api.types.is_numeric_dtype(shown[c]) else ":---" for c in shown.columns]
        lines = ["| " + " | ".join(_escape(c) for c in shown.columns) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(_escape(v) for v in row) + " |" for row in text.itertuples(index=False)]
        notes = []
        if withheld:
            notes.append(t("suppressed_note", self.lang, min_units=self.policy.min_units))
        if note:
            notes.append(note)
        md = "\n".join(lines) + f"\n\n: {_escape(caption)}\n"
        if notes:
            md += "\n" + " ".join(f"*{n}*" for n in notes) + "\n"
        label = f"{t('table', self.lang)} {number}"
        html_table = text.to_html(index=False, escape=True)
        html_out = f"<p><b>{label}.</b> {html.escape(caption)}</p>{html_table}" + "".join(
            f"<p><i>{html.escape(n)}</i></p>" for n in notes)
        _display({"text/markdown": md, "text/html": html_out, "text/plain": f"{label}. {caption}"}, "table")
        return shown

    def figure(self, fig, *, caption: str, counts: int | None = None, width: str = "95%") -> Path | None:
        """Show a matplotlib figure (saved as PNG, 200 dpi); withheld if it rests on too few persons."""
        import matplotlib.pyplot as plt

        if counts is not None and counts < self.policy.min_units:
            self.log.add(f"{t('figure', self.lang)}: {caption}", "all", "min_units", counts)
            plt.close(fig)
            self.markdown(f"*{t('suppressed_note', self.lang, min_units=self.policy.min_units)}*")
            return None
        self.figures.append(caption)
        number = len(self.figures)
        self.figure_dir.mkdir(parents=True, exist_ok=True)
        path = self.figure_dir / f"figure-{number:02d}.png"
        fig.savefig(path, dpi=200, bbox_inches="tight")
        plt.close(fig)
        rel = f"{self.figure_dir.name}/{path.name}"
        md = f"![{_escape(caption)}]({rel}){{width={width}}}\n"
        import base64

        png = base64.b64encode(path.read_bytes()).decode()
        label = f"{t('figure', self.lang)} {number}"
        _display({"text/markdown": md, "image/png": png, "text/plain": f"{label}. {caption}"}, "figure")
        _display({"text/html": f"<p><b>{label}.</b> {html.escape(caption)}</p>",
                  "text/plain": f"{label}. {caption}"}, "caption")
        return path

    def markdown(self, text: str) -> None:
        """A paragraph of report text (build it from the catalogue and the results)."""
        _display({"text/markdown": text + "\n", "text/plain": text}, "markdown")

    def heading(self, text: str, level: int = 2) -> None:
        _display({"text/markdown": "#" * level + " " + text + "\n", "text/plain": text}, "markdown")

    def warning(self, text: str) -> None:
        """A caveat the reader must not miss (shown boxed in the PDF)."""
        _display({"text/markdown": f"> **{text}**\n", "text/plain": f"WARNING: {text}"}, "warning")
