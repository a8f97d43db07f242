"""The PDF: markup in names printed as text, the appendix without counts of withheld cells, in nl and en."""

from __future__ import annotations

import pytest

from analysis.report.pdf import markdown_to_pdf, rule_text
from analysis.run.manifest import policy_record, safe_log

PANIC = '`#panic("x")`{=typst}'
CODE = "#str(6*7)"
POLICY = {"file": None, "sha256": None,
          "rules": {"min_units": 10, "dominance_top_n": 2, "dominance_share": 0.9, "min_residual_df": 10, "symbol": "x"}}


def _text(pdf) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(str(pdf)).pages)


def _squash(text: str) -> str:
    return "".join(text.split())


@pytest.mark.slow
def test_markup_in_names_is_printed_as_text(tmp_path):
    """A dataset name, a municipality parameter and a table cell carrying Typst and Markdown syntax."""
    from analysis.report.escape import markdown_text

    body = f"| Gemeente | n |\n|:---|---:|\n| {markdown_text(PANIC)} | 12 |\n| {markdown_text(CODE)} | 15 |\n\n: Tabel\n\n" \
           f"Raw: {PANIC} and {CODE} @ref $x$\n"
    pdf = markdown_to_pdf(body, tmp_path / "report.pdf", title=f"Studie {CODE}",
                          meta={"dataset_name": PANIC, "dataset_source": CODE, "run_date": "2026-12-01",
                                "parameters": {"municipality": PANIC, "label": CODE}},
                          appendix={"manifest": {"study": CODE, "parameters": {"municipality": PANIC}},
                                    "disclosure_log": [{"object": CODE, "cell": PANIC, "rule": "min_units", "n": 3}],
                                    "policy": POLICY},
                          lang="nl")
    text = _squash(_text(pdf))
    assert _squash(CODE) in text and "42" not in text, "#str(6*7) is printed, never evaluated"
    assert _squash('#panic("x")') in text, "the raw-Typst attribute is text (and the run did not fail)"
    assert "@ref" in text and "$x$" in text


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "words", "heading"), [
    ("nl", "minder dan 10 personen", "Log van de geheimhoudingscontrole"),
    ("en", "fewer than 10 persons", "Disclosure-control log"),
])
def test_appendix_log_has_no_counts_and_speaks_the_report_language(tmp_path, lang, words, heading):
    log = [{"object": "Tabel drie", "cell": "Vlieland", "rule": "min_units", "n": 7},
           {"object": "Tabel drie", "cell": "Urk", "rule": "dominance", "n": 8},
           {"object": "Figuur een", "cell": "Sneek", "rule": "numerator", "n": "7"}]
    manifest = {"study": "intake", "run_id": "r1", "status": "ok", "parameters": {"window_months": 12},
                "dataset": {"path": "/data/d", "sha256": "ab" * 32}, "git": {"commit": "c0ffee" * 4, "dirty": True},
                "versions": {"python": "3.11"}, "environment": {"host": "secret-host", "executable": "/usr/bin/python"}}
    pdf = markdown_to_pdf("Tekst.\n", tmp_path / "report.pdf", title="T", meta={},
                          appendix={"manifest": manifest, "disclosure_log": log, "policy": POLICY}, lang=lang)
    text = _text(pdf)
    appendix_log = text.split(heading)[-1]
    assert words in appendix_log, "rules named in words, in the report's language"
    assert appendix_log.count("<10") == 2, "size rules show <10; dominance shows no n"
    assert "7" not in appendix_log and "8" not in appendix_log, "no count of a withheld cell"
    assert "secret-host" not in text, "the compact manifest leaves out the machine"
    assert "abababab" in _squash(text), "but names the dataset's hash"


def test_rule_text_names_every_interface_rule_in_words():
    rules = ["min_units", "numerator", "complement", "dominance", "secondary", "derived", "residual_df",
             "at_risk", "median", "single_value", "differencing", "min_treated", "min_control"]
    for lang in ("nl", "en"):
        texts = [rule_text(r, lang, POLICY) for r in rules]
        assert all(" " in t and "_" not in t for t in texts), "words, not the rule's code name"
        assert len(set(texts)) == len(rules)


def test_safe_log_never_passes_a_count():
    raw = [{"object": "t", "cell": "a", "rule": "min_units", "n": 3},
           {"object": "t", "cell": "b", "rule": "dominance", "n": 40},
           {"object": "t", "cell": "c", "rule": "at_risk", "n": "<10"}]
    assert safe_log(raw, min_units=15) == [
        {"object": "t", "cell": "a", "rule": "min_units", "n": "<15"},
        {"object": "t", "cell": "b", "rule": "dominance", "n": None},
        {"object": "t", "cell": "c", "rule": "at_risk", "n": "<15"}]


def test_policy_record_holds_the_rules_and_the_file_hash(tmp_path):
    import hashlib

    from analysis.report.disclosure import DisclosurePolicy

    f = tmp_path / "p.yml"
    f.write_text("min_units: 20\n")
    rec = policy_record(DisclosurePolicy.load(f), f)
    assert rec["rules"]["min_units"] == 20 and rec["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    assert policy_record(DisclosurePolicy.load(None), None)["file"] is None


@pytest.mark.slow
def test_a_run_prints_markup_in_its_dataset_name_and_parameters(tmp_path, monkeypatch):
    """Through the runner: a municipality and a dataset name carrying Typst code reach the PDF as text."""
    import nbformat

    from analysis.run.runner import run_study
    from notebook_builder import build_notebook
    from toy_study import BODY, FINISH, PARAMS

    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='toy'\n")
    nbformat.write(build_notebook([("markdown", "# Toy study"), ("parameters", PARAMS), ("code", BODY),
                                   ("code", FINISH)]), root / "notebooks" / "01_toy.ipynb")
    monkeypatch.setenv("RENDEERT_HOME", str(root))
    outcome = run_study("toy", {"municipality": PANIC, "dataset_name": CODE}, progress=False, pdf=True)
    text = _squash(_text(outcome.pdf))
    # evaluated, the name would print as 42 where the title block shows it (not anywhere: run ids and
    # hashes in the appendix are random hex and may hold "42" by chance)
    assert _squash(CODE) in text and "Dataset42" not in text and "Bron42" not in text
    assert _squash('#panic("x")') in text
    assert "<10" in text and "minderdan10personen" in text, "the toy's withheld cell, logged without its n"


@pytest.mark.slow
def test_batch_summary_prints_markup_in_run_labels(tmp_path):
    import pandas as pd

    from analysis.report.disclosure import DisclosurePolicy
    from analysis.run.summary import write_summary_pdf

    rows = [{"run_dir": str(tmp_path / f"r{i}"), "param_municipality": m, "param_dataset": "/d/x", "name": "rate",
             "estimate": 0.1 * (i + 1), "se": 0.01, "ci_low": 0.1 * (i + 1) - 0.02, "ci_high": 0.1 * (i + 1) + 0.02,
             "n": 100 + i, "unit": "share", "suppressed": False} for i, m in enumerate([CODE, PANIC, "*bold* $x$"])]
    summary = pd.DataFrame(rows)
    runs = pd.DataFrame([{"status": "ok", "run_dir": r["run_dir"], "key": str(i), "error": ""}
                         for i, r in enumerate(rows)])
    pdf = write_summary_pdf(tmp_path, summary, runs, study="toy", estimate="rate", lang="en",
                            policy=DisclosurePolicy(), log=[])
    text = _squash(_text(pdf))
    assert _squash(CODE) in text and _squash('#panic("x")') in text and "*bold*$x$" in text
    assert "42" not in text
