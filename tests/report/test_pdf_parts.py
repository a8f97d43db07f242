"""The report's shared parts (issue #16): synthetic-data banner, data rows, the municipality in the
title, the limitations section, captions above their tables, the translated manifest appendix."""

from __future__ import annotations

import pytest

from analysis.report.pdf import _parameter_value, _population, markdown_to_pdf, notebook_parts
from analysis.run.manifest import appendix_rows

MANIFEST = {"study": "intake", "run_id": "20261201T000000-abcdef", "start_time": "2026-12-01T10:00:00+00:00",
            "end_time": "2026-12-01T10:01:00+00:00", "parameters": {"municipality": "GM0363", "lang": "en"},
            "git": {"commit": "0123456789abcdef", "dirty": True},
            "versions": {"python": "3.11.7", "rendeert": "0.1.0", "numpy": "2.4.6"},
            "inputs": {"exit_health": {"run": "/r/exit_health/20261130T000000-aaaaaa", "sha256": "f" * 64}}}


def _text(pdf) -> str:
    from pypdf import PdfReader

    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(str(pdf)).pages)


def test_the_appendix_rows_are_translated_and_compact():
    en = dict(appendix_rows(MANIFEST, "en"))
    nl = dict(appendix_rows(MANIFEST, "nl"))
    assert en["Code (git commit)"] == "0123456789ab (with uncommitted changes)"
    assert nl["Code (git-commit)"] == "0123456789ab (met niet-vastgelegde wijzigingen)"
    assert en["Versions"] == "python 3.11.7, rendeert 0.1.0, … (manifest.json)", "numpy is left to manifest.json"
    assert en["Inputs from other runs"] == "20261130T000000-aaaaaa (sha256 ffffffffffff)"
    assert nl["Invoer uit eerdere runs"].startswith("20261130T000000-aaaaaa")


def test_population_in_words():
    meta = {"parameters": {"municipality": "GM0363", "age_min": 30, "age_max": 55, "sex": "F"},
            "municipality_name": "Amsterdam"}
    assert _population(meta, "nl") == "Amsterdam (GM0363), 30 tot en met 55 jaar, vrouwen"
    assert _population(meta, "en") == "Amsterdam (GM0363), aged 30 to 55, women"
    assert _population({"parameters": {"municipality": "all"}}, "nl") == "alle gemeenten"
    assert _population({"parameters": {"reference_dir": "x"}}, "nl") == "", "no population: no row"


@pytest.mark.slow
def test_a_municipal_report_on_synthetic_data(tmp_path):
    body = "Tekst voor de tabel.\n\n| a | b |\n|:--|--:|\n| x | 1 |\n\n: Bijschrift van de tabel\n"
    pdf = markdown_to_pdf(body, tmp_path / "report.pdf", title="Studie",
                          meta={"dataset_name": "synthetic-n20", "dataset_source": "simulator", "synthetic": True,
                                "run_date": "2026-12-01", "parameters": {"municipality": "GM0363"},
                                "municipality_name": "Amsterdam", "observation_start": "2014-01-01",
                                "observation_end": "2023-12-31"},
                          appendix={"manifest": MANIFEST}, lang="nl", limitations="Een beperking van de studie.")
    text = _text(pdf)
    assert "Synthetische gegevens: deze cijfers komen uit een simulatie" in text
    assert "Amsterdam (GM0363)" in text
    assert "Periode 2014 tot en met 2023" in text
    assert text.index("Tabel 1: Bijschrift van de tabel") < text.index("a b x 1"), "the caption stands above"
    assert text.index("Beperkingen Een beperking van de studie.") < text.index("Bijlage")


@pytest.mark.slow
def test_real_data_has_no_banner(tmp_path):
    pdf = markdown_to_pdf("Tekst.\n", tmp_path / "report.pdf", title="Studie",
                          meta={"dataset_name": "cbs-extract", "synthetic": False, "parameters": {}},
                          appendix={"manifest": {}}, lang="en")
    text = _text(pdf)
    assert "Synthetic data" not in text and "SYNTHETIC" not in text


def test_limitations_outputs_are_collected_apart(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "Beperking."},
                                           metadata={"rendeert": {"kind": "limitations"}}),
                    nbformat.v4.new_output("display_data", data={"text/markdown": "Alinea."},
                                           metadata={"rendeert": {"kind": "markdown"}})]
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "nb.ipynb")
    assert notebook_parts(tmp_path / "nb.ipynb") == {"body": "Alinea.", "limitations": "Beperking."}


def test_an_empty_parameter_shows_as_a_dash_in_the_title_block():
    """'by = , seed = 0' read as a typo in the rendered intake and experiment headers."""
    assert _parameter_value("") == "\u2013"
    assert _parameter_value([]) == "\u2013"
    assert _parameter_value(["female", "age"]) == "female, age"
    assert _parameter_value(0) == "0"
