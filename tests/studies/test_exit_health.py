"""exit_health against the simulator's truth, and the pre-trend warning on a draw with a pre-exit dip."""

from __future__ import annotations

import json

import nbformat
import pytest

from analysis.data.synthetic import generate
from analysis.run.runner import run_study

Z_MAX = 3.0  # the criterion: within three reported standard errors of the truth
NAMES = ["att_antidepressants", "att_healthcare_costs_eur", "att_mental_healthcare_costs_eur"] + [
    f"att_{o}_e{k}" for o in ("antidepressants", "healthcare_costs_eur") for k in range(4)]


@pytest.mark.slow
def test_estimates_within_three_se_of_truth(tmp_path):
    draw = generate(tmp_path / "d", n_persons=40_000, seed=202)
    outcome = run_study("exit_health", {"dataset": str(draw)}, out_root=tmp_path / "r", progress=False, pdf=False)
    truth = json.loads((draw / "truth.json").read_text())["truths"]
    est = {e["name"]: e for e in outcome.results["estimates"]}
    for name in NAMES:
        e = est[name]
        assert abs(e["estimate"] - truth[name]) <= Z_MAX * e["se"], (name, e["estimate"], truth[name], e["se"])
    assert est["pretrend_p_antidepressants"]["estimate"] > 0.001


@pytest.mark.slow
def test_pre_exit_dip_is_detected_and_shown(tmp_path):
    draw = generate(tmp_path / "dip", n_persons=40_000, seed=203, pre_exit_dip=True)
    outcome = run_study("exit_health", {"dataset": str(draw), "lang": "en"}, out_root=tmp_path / "r",
                        progress=False, pdf=True)
    est = {e["name"]: e for e in outcome.results["estimates"]}
    assert est["pretrend_p_antidepressants"]["estimate"] < 0.05
    assert est["pretrend_p_healthcare_costs_eur"]["estimate"] < 0.05
    nb = nbformat.read(outcome.run_dir / "notebook.ipynb", as_version=4)
    kinds = [o.get("metadata", {}).get("rendeert", {}).get("kind") for c in nb.cells if c.cell_type == "code"
             for o in c.get("outputs", [])]
    assert "warning" in kinds
    from pypdf import PdfReader

    text = " ".join(p.extract_text() for p in PdfReader(outcome.pdf).pages)
    assert "can therefore NOT be read as causal" in " ".join(text.split())
