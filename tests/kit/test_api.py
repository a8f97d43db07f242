"""The public API `import analysis as rd`: lazy, complete, and results that render in a notebook."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import analysis as rd
from analysis.errors import ParameterError


def test_import_analysis_loads_no_heavy_module():
    code = "import sys, analysis; print(sorted(m for m in ('pandas', 'numpy', 'duckdb', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow  # imports every estimator module (statsmodels, scipy): seconds on a cold interpreter
def test_every_public_name_resolves_and_unknown_names_say_what_exists():
    for name in rd.__all__:
        assert getattr(rd, name) is not None, name
    with pytest.raises(AttributeError, match="public API is"):
        getattr(rd, "setup_study")


def _two_results():
    rng = np.random.default_rng(3)
    n, T = 400, 6
    cohort = np.where(rng.random(n) < 0.5, rng.integers(3, 6, n), 0).astype(float)
    effect = 0.5
    y = rng.normal(size=(n, T)) + effect * (np.arange(1, T + 1)[None, :] >= np.where(cohort > 0, cohort, 99)[:, None])
    at = np.ones((n, T), dtype=bool)
    a = rd.att_gt_at_risk(y, cohort, at_risk=at).aggregate("simple")
    b = rd.att_gt_at_risk(y, cohort, at_risk=at, control="never_treated").aggregate("simple")
    return a, b


def test_results_have_a_short_repr_and_an_html_view_with_the_specification():
    gt_simple, _ = _two_results()
    text = repr(gt_simple)
    assert text.startswith(type(gt_simple).__name__ + "(") and "ATT=" in text and "(n=" in text
    assert len(text) < 200 and "\n" not in text
    html = gt_simple._repr_html_()
    assert "Specification" in html and "estimand" in html and "<table" in html


def test_compare_puts_results_side_by_side():
    a, b = _two_results()
    view = rd.compare(a, b, labels=["not yet treated", "never treated"])
    frame = view.to_frame()
    assert frame.loc["ATT", ("not yet treated", "estimate")] == a.estimates.loc["ATT", "estimate"]
    assert frame.loc["ATT", ("never treated", "n")] == b.estimates.loc["ATT", "n"]
    assert "Comparison" in view._repr_html_()
    with pytest.raises(ParameterError, match="labels"):
        rd.compare(a, b, labels=["x"])
    with pytest.raises(ParameterError, match="not an estimator result"):
        rd.compare(a, pd.DataFrame())
