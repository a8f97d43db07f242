"""Executed notebook -> PDF: pandoc (pypandoc-binary) writes Typst, the typst package compiles it.

Pip only: no LaTeX, no browser. Only the outputs that the :class:`Report`
emitted (tables, figures, paragraphs; recognised by their ``rendeert``
metadata) enter the PDF, so code, prints and warnings never do. pandoc's
``--ipynb-output=best`` would silently keep one output of a cell with several,
which is why the notebook is read here, with nbformat, rather than by pandoc.
A code cell tagged ``summary`` has its outputs moved to the front, after the
title block. The page design (A4, running header, page "n / N", numbered
figures and tables, appendix with the manifest and the disclosure log) is the
Typst preamble below.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Mapping

import nbformat

from analysis.errors import RunError
from analysis.report.labels import t

KINDS = ("table", "figure", "markdown", "warning")


def _string(text) -> str:
    """A Typst string literal."""
    s = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{s}"'


def notebook_markdown(notebook_path: Path) -> str:
    """The report's markdown, in order, from the Report outputs of an executed notebook."""
    nb = nbformat.read(notebook_path, as_version=4)
    front, body = [], []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        target = front if "summary" in cell.metadata.get("tags", []) else body
        for out in cell.get("outputs", []):
            kind = out.get("metadata", {}).get("rendeert", {}).get("kind")
            if kind in KINDS and "text/markdown" in out.get("data", {}):
                target.append(out["data"]["text/markdown"])
    return "\n\n".join(front + body)


def _preamble(title: str, meta: Mapping, lang: str) -> str:
    header = f"{title} · {meta.get('dataset_name') or ''}"
    return f"""
#set document(title: {_string(title)})
#set text(lang: {_string(lang)}, size: 10pt, font: ("Libertinus Serif", "DejaVu Sans"))
#set par(justify: true, leading: 0.62em)
#set page(paper: "a4", margin: (x: 2.2cm, top: 2.4cm, bottom: 2.2cm),
  header: context {{ if counter(page).get().first() > 1 [
    #set text(size: 8pt, fill: luma(90)); #text({_string(header)}) #h(1fr) #text({_string(meta.get('run_date') or '')})
    #v(-4pt); #line(length: 100%, stroke: 0.4pt + luma(160)) ] }},
  footer: context [#set text(size: 8pt, fill: luma(90)); #h(1fr) #counter(page).display("1 / 1", both: true) #h(1fr)])
#set heading(numbering: none)
#show heading.where(level: 2): it => block(above: 1.2em, below: 0.6em, text(size: 12pt, weight: "bold", it.body))
#show figure: set block(breakable: true)
#show figure.caption: set text(size: 9pt)
#show table.cell: set text(size: 8.5pt)
#show table.cell: set par(justify: false)
#set table(stroke: (x, y) => if y == 0 {{ (bottom: 0.6pt) }} else {{ none }}, inset: (x: 5pt, y: 3.5pt))
#show quote: it => block(fill: rgb("#fff3e0"), stroke: (left: 3pt + rgb("#d55e00")), inset: 8pt, width: 100%, it.body)
"""


def _title_block(title: str, meta: Mapping, lang: str) -> str:
    params = meta.get("parameters") or {}
    shown = ", ".join(f"{k} = {v}" for k, v in params.items() if k not in ("output_dir",) and k != "dataset")
    rows = [
        (t("dataset", lang), meta.get("dataset_name") or ""),
        (t("source", lang), meta.get("dataset_source") or ""),
        (t("run_date", lang), meta.get("run_date") or ""),
        (t("parameters", lang), shown),
    ]
    cells = ", ".join(f"text(weight: \"bold\", {_string(k)}), text({_string(v)})" for k, v in rows)
    return f"""
#block(width: 100%, inset: (bottom: 8pt), stroke: (bottom: 0.8pt + luma(120)))[
  #text(size: 18pt, weight: "bold", {_string(title)})
  #v(2pt)
  #set text(size: 8.5pt)
  #grid(columns: (auto, 1fr), column-gutter: 10pt, row-gutter: 4pt, {cells})
]
"""


def _flatten(prefix: str, value, out: list) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out.append((prefix, f"{len(value)} entries"))
    else:
        out.append((prefix, json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value))


def _appendix(appendix: Mapping, lang: str) -> str:
    manifest = dict(appendix.get("manifest") or {})
    manifest.pop("disclosure_log", None)
    rows: list = []
    _flatten("", manifest, rows)
    cells = ", ".join(f"text(size: 7.5pt, {_string(k)}), text(size: 7.5pt, {_string(v[:160])})" for k, v in rows)
    log = appendix.get("disclosure_log") or []
    if log:
        log_cells = ", ".join(
            ", ".join(_string(str(e.get(k, ""))) for k in ("object", "cell", "rule", "n")) for e in log[:400])
        head = ", ".join(_string(t(k, lang)) for k in ("log.object", "log.cell", "log.rule", "log.n"))
        log_block = f"#table(columns: (2fr, 2fr, 1fr, auto), table.header({head}), {log_cells})"
        if len(log) > 400:
            log_block += f"\n#text(size: 8pt, {_string(f'... {len(log) - 400} more')})"
    else:
        log_block = f"#text({_string(t('disclosure_log_empty', lang))})"
    return f"""
#pagebreak()
== {t('appendix', lang)}: {t('manifest', lang)}
#table(columns: (auto, 1fr), {cells})

== {t('disclosure_log', lang)}
{log_block}
"""


def export_pdf(notebook_path: str | Path, pdf_path: str | Path, *, title: str, meta: Mapping | None = None,
               appendix: Mapping | None = None, lang: str = "nl") -> Path:
    """Write the report PDF of an executed notebook; keep the .typ beside it when compiling fails."""
    notebook_path = Path(notebook_path)
    return markdown_to_pdf(notebook_markdown(notebook_path), pdf_path, title=title, meta=meta, appendix=appendix,
                           lang=lang, root=notebook_path.parent, what=notebook_path.name)


def markdown_to_pdf(markdown: str, pdf_path: str | Path, *, title: str, meta: Mapping | None = None,
                    appendix: Mapping | None = None, lang: str = "nl", root: str | Path | None = None,
                    what: str = "the report") -> Path:
    """Pandoc markdown (figures relative to ``root``) -> PDF with the house page design."""
    import pypandoc
    import typst

    pdf_path = Path(pdf_path)
    root = Path(root) if root else pdf_path.parent
    try:
        body = subprocess.run(
            [pypandoc.get_pandoc_path(), "-f", "markdown", "-t", "typst", "--wrap=none"],
            input=markdown, capture_output=True, text=True, check=True, cwd=root, timeout=120,
        ).stdout
    except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired) as exc:
        raise RunError(f"pandoc could not convert {what}: {exc}") from None
    source = _preamble(title, meta or {}, lang) + _title_block(title, meta or {}, lang) + body + _appendix(
        appendix or {}, lang)
    typ = pdf_path.with_suffix(".typ")
    typ.write_text(source, encoding="utf-8")
    try:
        typst.compile(str(typ), output=str(pdf_path), root=str(root))
    except Exception as exc:  # typst raises its own error type with the compiler's message
        raise RunError(f"Typst could not compile {typ} (kept for debugging): {exc}") from None
    typ.unlink()
    return pdf_path
