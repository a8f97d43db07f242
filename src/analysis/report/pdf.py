"""Executed notebook -> PDF: pandoc (pypandoc-binary) writes Typst, the typst package compiles it.

Pip only: no LaTeX, no browser. Only the outputs that the :class:`Report`
emitted (tables, figures, paragraphs; recognised by their ``rendeert``
metadata) enter the PDF, so code, prints and warnings never do. pandoc's
``--ipynb-output=best`` would silently keep one output of a cell with several,
which is why the notebook is read here, with nbformat, rather than by pandoc.
A code cell tagged ``summary`` has its outputs moved to the front, after the
title block. The page design (A4, running header, page "n / N", numbered
figures and tables above their captions, appendix with the manifest and the disclosure log after the
body without a forced page break, so no near-empty page precedes it) is the
Typst preamble below.

Nothing from data or parameters is Typst code: the title block, header and
appendix pass every string as a Typst string literal (:func:`_string`), and the
body's Markdown is read without raw-Typst/HTML attributes, citations or TeX
math (:data:`PANDOC_READER`), so ``#str(6*7)`` prints as written. The PDF is
compiled to a temporary name and renamed, so a failure leaves no partial
report.pdf. The appendix shows the disclosure log with its rules in words and
``<10`` for a size rule, never the count of a withheld cell.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Mapping

import nbformat

from analysis.errors import RunError
from analysis.report.labels import t, t_plain

KINDS = ("table", "figure", "markdown", "warning")
#: Outputs the template places itself: limitations go in their own section after the body.
PLACED = ("limitations",)
#: pandoc's Markdown without raw Typst/HTML/TeX, citations and TeX math: whatever text a name carries
#: (`` `#panic()`{=typst} ``, ``@key``, ``$x$``) reaches Typst as text, never as code.
PANDOC_READER = "markdown-raw_attribute-raw_html-raw_tex-citations-tex_math_dollars"


def _string(text) -> str:
    """A Typst string literal."""
    s = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{s}"'


def notebook_parts(notebook_path: Path) -> dict[str, str]:
    """The report's markdown from the Report outputs of an executed notebook: ``body`` (summary cells
    first, then the rest in order) and ``limitations`` (placed by the template after the body)."""
    nb = nbformat.read(notebook_path, as_version=4)
    front, body, placed = [], [], []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        target = front if "summary" in cell.metadata.get("tags", []) else body
        for out in cell.get("outputs", []):
            kind = out.get("metadata", {}).get("rendeert", {}).get("kind")
            if "text/markdown" not in out.get("data", {}):
                continue
            if kind in KINDS:
                target.append(out["data"]["text/markdown"])
            elif kind in PLACED:
                placed.append(out["data"]["text/markdown"])
    return {"body": "\n\n".join(front + body), "limitations": "\n\n".join(placed)}


def notebook_markdown(notebook_path: Path) -> str:
    """The report's markdown, in order, from the Report outputs of an executed notebook (limitations last)."""
    parts = notebook_parts(notebook_path)
    return "\n\n".join(p for p in (parts["body"], parts["limitations"]) if p)


def _preamble(title: str, meta: Mapping, lang: str) -> str:
    code = (meta.get("parameters") or {}).get("municipality")
    place = (meta.get("municipality_name") or code) if code not in (None, "", "all") else None
    synthetic = t_plain("report.synthetic_tag", lang).upper() if meta.get("synthetic") else None
    header = " · ".join(str(p) for p in (title, place, meta.get("dataset_name"), synthetic) if p)
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
#show figure.where(kind: table): set block(breakable: true)
#show figure.where(kind: table): set figure.caption(position: top)
#show figure.where(kind: image): set block(breakable: false)
#show figure.caption: set text(size: 9pt)
#show figure.caption.where(kind: table): it => block(sticky: true, width: 100%, it)
#show table.cell: set text(size: 8.5pt)
#show table.cell: set par(justify: false)
#set table(stroke: (x, y) => if y == 0 {{ (bottom: 0.6pt) }} else {{ none }}, inset: (x: 5pt, y: 3.5pt))
#show quote: it => block(fill: rgb("#fff3e0"), stroke: (left: 3pt + rgb("#d55e00")), inset: 8pt, width: 100%, it.body)
"""


#: Parameters that define a study's population; a study with none of them shows no population row.
POPULATION_KEYS = {"municipality", "age_min", "age_max", "sex", "first_year", "last_year"}


def _population(meta: Mapping, lang: str) -> str:
    """The population in words: municipality (name and code), age band, sex."""
    params = dict(meta.get("population") or meta.get("parameters") or {})
    if not POPULATION_KEYS & set(params):
        return ""  # a study without a population (the validation study's reference data)
    parts = []
    code = params.get("municipality")
    if code in (None, "", "all"):
        parts.append(t_plain("report.population.all_municipalities", lang))
    else:
        name = meta.get("municipality_name")
        parts.append(f"{name} ({code})" if name else str(code))
    low, high = params.get("age_min"), params.get("age_max")
    if low is not None and high is not None:
        parts.append(t_plain("report.population.age", lang, low=low, high=high))
    elif low is not None:
        parts.append(t_plain("report.population.age_min", lang, low=low))
    elif high is not None:
        parts.append(t_plain("report.population.age_max", lang, high=high))
    sex = params.get("sex")
    if sex in ("F", "M"):
        parts.append(t_plain(f"report.population.sex.{sex}", lang))
    return ", ".join(parts)


def _period(meta: Mapping, lang: str) -> str:
    params = dict(meta.get("population") or meta.get("parameters") or {})
    first, last = params.get("first_year"), params.get("last_year")
    start, end = meta.get("observation_start"), meta.get("observation_end")
    first = first if first is not None else (str(start)[:4] if start else None)
    last = last if last is not None else (str(end)[:4] if end else None)
    if first is None and last is None:
        return ""
    return t_plain("report.period.years", lang, first=first if first is not None else "…",
                   last=last if last is not None else "…")


def _banner(meta: Mapping, lang: str) -> str:
    if not meta.get("synthetic"):
        return ""
    return f"""
#block(width: 100%, fill: rgb("#fde8d7"), stroke: 1pt + rgb("#d55e00"), inset: 7pt, radius: 2pt)[
  #text(weight: "bold", fill: rgb("#8a3b00"), {_string(t_plain("report.synthetic_banner", lang))})
]
"""


def _parameter_value(value) -> str:
    """A parameter as the title block shows it: lists joined, an empty value as a dash (not a blank after '=')."""
    if isinstance(value, (list, tuple)):
        value = ", ".join(map(str, value))
    return str(value) if str(value) != "" else "\u2013"


def _title_block(title: str, meta: Mapping, lang: str) -> str:
    params = meta.get("parameters") or {}
    shown = ", ".join(f"{k} = {_parameter_value(v)}" for k, v in params.items() if k not in ("output_dir", "dataset"))
    code = params.get("municipality")
    municipal = code not in (None, "", "all")
    subtitle = ""
    if municipal:
        name = meta.get("municipality_name")
        subtitle = f"#text(size: 13pt, {_string(f'{name} ({code})' if name else str(code))})\n  #v(2pt)"
    rows = [
        (t("dataset", lang), meta.get("dataset_name") or ""),
        (t("source", lang), meta.get("dataset_source") or ""),
        (t("report.data.population", lang), _population(meta, lang)),
        (t("report.data.period", lang), _period(meta, lang)),
        (t("run_date", lang), meta.get("run_date") or ""),
        (t("parameters", lang), shown),
    ]
    rows = [r for r in rows if r[1]]
    cells = ", ".join(f"text(weight: \"bold\", {_string(k)}), text({_string(v)})" for k, v in rows)
    return f"""
#block(width: 100%, inset: (bottom: 8pt), stroke: (bottom: 0.8pt + luma(120)))[
  #text(size: 18pt, weight: "bold", {_string(title)})
  #v(2pt)
  {subtitle}
  #set text(size: 8.5pt)
  #grid(columns: (auto, 1fr), column-gutter: 10pt, row-gutter: 4pt, {cells})
]
{_banner(meta, lang)}
"""


def _limitations(typst_body: str, lang: str) -> str:
    if not typst_body.strip():
        return ""
    return f"""
== {_string_content(t_plain('report.limitations', lang))}
{typst_body}
"""


#: Rules about counts: the log shows "<min_units" for them (never a number).
SIZE_RULES = ("min_units", "numerator", "complement", "min_treated", "min_control", "at_risk")
#: Rules whose text names a value of the policy.
_RULE_VALUES = ("min_units", "share", "min_residual_df", "top_n")
MAX_LOG_ROWS = 400


def _label(key: str, lang: str, **values) -> str:
    """A catalogue text with ``values`` filled in here, so they reach Typst only as string literals."""
    text = t(key, lang)
    return text.format(**values) if values else text


def _policy_values(policy: Mapping | None) -> dict:
    rules = dict((policy or {}).get("rules") or {})
    share = float(rules.get("dominance_share", 0.9))
    return {"min_units": int(rules.get("min_units", 10)), "share": f"{100 * share:g}",
            "min_residual_df": int(rules.get("min_residual_df", 10)), "top_n": int(rules.get("dominance_top_n", 2))}


def rule_text(rule: str, lang: str, policy: Mapping | None = None) -> str:
    """A disclosure rule named in words, in the report's language."""
    key = f"log.rule.{rule}"
    from analysis.report.labels import catalogue

    if key not in catalogue():
        return _label("log.rule.unknown", lang, rule=rule)
    return _label(key, lang, **_policy_values(policy))


def _log_rows(log, lang: str, policy: Mapping | None) -> list[tuple[str, str, str, str]]:
    """object, cell, rule in words, "<10" for a size rule: no count of a withheld cell, whatever the log holds."""
    values = _policy_values(policy)
    rows = []
    for e in log:
        rule = str(e.get("rule", ""))
        n = f"<{values['min_units']}" if rule in SIZE_RULES else ""
        rows.append((str(e.get("object", "")), str(e.get("cell", "")), rule_text(rule, lang, policy), n))
    return rows


def _manifest_rows(manifest: Mapping, lang: str) -> list[tuple[str, str]]:
    """The manifest in a few translated lines (:func:`analysis.run.manifest.appendix_rows`)."""
    from analysis.run.manifest import appendix_rows

    return appendix_rows(manifest, lang)


def _policy_rows(policy: Mapping | None, lang: str) -> list[tuple[str, str]]:
    values = _policy_values(policy)
    rules = dict((policy or {}).get("rules") or {})
    rows = [(_label("log.rule", lang) + " 1", _label("appendix.policy.min_units", lang, value=values["min_units"])),
            (_label("log.rule", lang) + " 2", _label("appendix.policy.dominance", lang, top_n=values["top_n"],
                                                     share=values["share"])),
            (_label("log.rule", lang) + " 3", _label("appendix.policy.residual_df", lang,
                                                     value=values["min_residual_df"]))]
    known = {"min_units", "dominance_share", "dominance_top_n", "min_residual_df", "symbol"}
    for name, value in rules.items():
        if name not in known:
            rows.append((name, _label("appendix.policy.other", lang, name=name, value=value)))
    source = (policy or {}).get("file")
    rows.append((_label("appendix.policy.file", lang),
                 f"{Path(source).name} (sha256 {policy.get('sha256')})" if source else _label("appendix.policy.default", lang)))
    return rows


def _grid(rows, columns: str = "(auto, 1fr)") -> str:
    cells = ", ".join(", ".join(f"text(size: 7.5pt, {_string(str(v)[:600])})" for v in row) for row in rows)
    return f"#table(columns: {columns}, {cells})"


def _appendix(appendix: Mapping, lang: str) -> str:
    manifest = dict(appendix.get("manifest") or {})
    policy = appendix.get("policy") or manifest.get("policy")
    log = list(appendix.get("disclosure_log") or [])
    if log:
        rows = _log_rows(log[:MAX_LOG_ROWS], lang, policy)
        head = ", ".join(_string(t(k, lang)) for k in ("log.object", "log.cell", "log.rule", "log.n"))
        cells = ", ".join(", ".join(f"text(size: 7.5pt, {_string(v)})" for v in row) for row in rows)
        log_block = f"#table(columns: (2fr, 2fr, 2fr, auto), table.header({head}), {cells})"
        if len(log) > MAX_LOG_ROWS:
            log_block += f"\n#text(size: 8pt, {_string(f'... {len(log) - MAX_LOG_ROWS} more: disclosure_log.json')})"
    else:
        log_block = f"#text({_string(t('disclosure_log_empty', lang))})"
    return f"""
#v(1.2em)
#line(length: 100%, stroke: 0.6pt + luma(140))
== {_string_content(t('appendix', lang) + ': ' + t('manifest', lang))}
{_grid(_manifest_rows(manifest, lang))}

== {_string_content(t('appendix.policy', lang))}
{_grid(_policy_rows(policy, lang))}

== {_string_content(t('disclosure_log', lang))}
{log_block}
"""


def _string_content(text: str) -> str:
    """Text in markup position (a heading) as a Typst string expression: never parsed as markup."""
    return "#" + _string(text)


def export_pdf(notebook_path: str | Path, pdf_path: str | Path, *, title: str, meta: Mapping | None = None,
               appendix: Mapping | None = None, lang: str = "nl") -> Path:
    """Write the report PDF of an executed notebook; keep the .typ beside it when compiling fails."""
    notebook_path = Path(notebook_path)
    parts = notebook_parts(notebook_path)
    return markdown_to_pdf(parts["body"], pdf_path, title=title, meta=meta, appendix=appendix, lang=lang,
                           root=notebook_path.parent, what=notebook_path.name, limitations=parts["limitations"])


def _pandoc(markdown: str, *, root: Path, what: str) -> str:
    import pypandoc

    try:
        return subprocess.run(
            [pypandoc.get_pandoc_path(), "-f", PANDOC_READER, "-t", "typst", "--wrap=none"],
            input=markdown, capture_output=True, text=True, check=True, cwd=root, timeout=120,
        ).stdout
    except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired) as exc:
        raise RunError(f"pandoc could not convert {what}: {exc}") from None


def markdown_to_pdf(markdown: str, pdf_path: str | Path, *, title: str, meta: Mapping | None = None,
                    appendix: Mapping | None = None, lang: str = "nl", root: str | Path | None = None,
                    what: str = "the report", limitations: str = "") -> Path:
    """Pandoc markdown (figures relative to ``root``) -> PDF with the house page design; ``limitations``
    (markdown) is placed in its own section after the body."""
    import typst

    pdf_path = Path(pdf_path)
    root = Path(root) if root else pdf_path.parent
    body = _pandoc(markdown, root=root, what=what)
    placed = _limitations(_pandoc(limitations, root=root, what=what), lang) if limitations.strip() else ""
    source = (_preamble(title, meta or {}, lang) + _title_block(title, meta or {}, lang) + body + placed
              + _appendix(appendix or {}, lang))
    typ = pdf_path.with_suffix(".typ")
    partial = pdf_path.with_name(f".{pdf_path.stem}.{os.getpid()}.partial.pdf")
    try:
        typ.write_text(source, encoding="utf-8")
        typst.compile(str(typ), output=str(partial), root=str(root))
        os.replace(partial, pdf_path)  # a reader sees the whole PDF or none
    except OSError as exc:
        raise RunError(f"Could not write {pdf_path}: {exc}") from None
    except Exception as exc:  # typst raises its own error type with the compiler's message
        raise RunError(f"Typst could not compile {typ} (kept for debugging): {exc}") from None
    finally:
        if partial.exists():
            partial.unlink()
    typ.unlink()
    return pdf_path
