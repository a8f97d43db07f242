"""The validation study's pieces: the reference source, one case against its published numbers, the run."""

from __future__ import annotations

import pytest

import analysis as rd
from analysis.errors import ParameterError
from analysis.studies import validation

#: Card & Krueger (1994), Table 3, printed to 3 decimals: DiD of FTE employment 2.914 (clustered se 1.291
#: as in tests/reference/card_krueger): half a unit of the last printed digit.
PRINTED_3 = 0.0005


def test_reference_source_refuses_a_directory_without_the_cases(tmp_path):
    with pytest.raises(ParameterError, match="does not hold the reference cases"):
        validation.reference_source(str(tmp_path))


def test_card_krueger_case_matches_the_paper():
    frame = validation.card_krueger(validation.reference_source())
    did = frame.set_index("quantity").loc["DiD FTE"]
    assert abs(did["ours"] - 2.914) <= PRINTED_3 and bool(did["verdict"])


def test_collect_numbers_rows_in_case_order_and_refuses_nothing():
    source = validation.reference_source()
    km, ck = validation.kaplan_meier_6mp(source), validation.card_krueger(source)
    rows = validation.collect(km, ck).to_estimates()
    assert [r["name"] for r in rows] == [f"validation_{i:03d}" for i in range(len(km) + len(ck))]
    assert rows[0]["unit"].startswith("Kaplan-Meier") and rows[-1]["unit"].startswith("Card & Krueger")
    with pytest.raises(ParameterError, match="no cases given"):
        validation.collect()


def test_start_public_checks_parameters_and_source(tmp_path):
    source = validation.reference_source()
    with pytest.raises(ParameterError, match="lacks path, meta, content_hash"):
        rd.start_public("validation", parameters={"lang": "nl"}, source=object())
    with pytest.raises(ParameterError, match="lang"):
        rd.start_public("validation", parameters={"lang": "de"}, source=source)
    run = rd.start_public("validation", parameters={"lang": "en", "output_dir": str(tmp_path)}, source=source)
    assert run.store is None and run.lang == "en" and run.output_dir == tmp_path
    run.add(validation.collect(validation.card_krueger(source)).to_estimates())
    results = run.results()
    assert results["dataset"]["sha256"] == source.content_hash and "output_dir" not in results["parameters"]
