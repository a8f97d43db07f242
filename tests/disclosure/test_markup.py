"""Markup in data is text: municipality names holding Typst or Markdown syntax go through a table, a
caption and a sentence, then the real PDF pipeline (pandoc -> Typst), and come out printed as typed."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from analysis.report import Report
from analysis.report import report as report_module
from analysis.report.disclosure import safe_aggregate
from analysis.report.escape import markdown_text, plain_text
from analysis.report.labels import t

PAYLOADS = ['`#panic("x")`{=typst}', "#str(6*7)", "*bold*", "[link](x)", "$x$", "<tag>", "@ref", "a|b",
            "_under_", "# heading", "\\textbf{y}", "<!-- c -->"]


def _pdf_text(path) -> str:
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    return text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'")


def test_escape_round_trips_and_is_one_line():
    for p in PAYLOADS:
        assert plain_text(markdown_text(p)) == p
    assert markdown_text("two\nlines") == "two lines"


def test_t_escapes_its_string_arguments():
    text = t("overview.scope_one", "nl", code="#str(6*7)")
    assert "\\#str(6\\*7)" in text


@pytest.mark.slow
def test_names_with_markup_are_printed_as_text_in_the_pdf(tmp_path, monkeypatch):
    from analysis.report.pdf import markdown_to_pdf

    shown = []
    monkeypatch.setattr(report_module, "_display", lambda bundle, kind: shown.append(bundle))
    report = Report("markup", figure_dir=tmp_path / "figures")
    frame = pd.DataFrame({"name": [p for p in PAYLOADS for _ in range(12)]})
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        table = safe_aggregate(frame, by=["name"], stat="count", policy=report.policy, log=report.log, name="names")
    report.table(table, caption=t("overview.municipality_table_caption", "nl", year=2023))
    for p in PAYLOADS:
        report.markdown(t("overview.scope_one", "nl", code=p))
    markdown = "\n\n".join(b["text/markdown"] for b in shown)
    pdf = markdown_to_pdf(markdown, tmp_path / "markup.pdf", title="Markup", meta={}, lang="nl", root=tmp_path)
    text = _pdf_text(pdf)
    squeezed = "".join(text.split())
    for p in PAYLOADS:
        assert "".join(p.split()) in squeezed, (p, text[:2000])
    assert "42" not in text  # #str(6*7) was not evaluated
    html = next(b["text/html"] for b in shown if "text/html" in b)
    assert "&lt;tag&gt;" in html and "\\#" not in html  # the notebook view shows the names, unescaped, as text
