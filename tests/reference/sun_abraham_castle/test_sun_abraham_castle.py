"""Sun & Abraham IW against Stata ``eventstudyinteract`` on the castle-doctrine data (source: SOURCE.md).

Stata (Mixtape-Sessions/Causal-Inference-2, Lab/Cheng-Hoekstra/Solutions/Solutions-Stata.md):
``eventstudyinteract l_homicide rel_year_lag* rel_year_lead*, cohort(effyear)
control_cohort(never_treated) absorb(sid year) vce(cluster sid)``, every relative time -9..5 except -1
as its own indicator (no binning). Ours: ``event_study(..., estimator="sun_abraham", window=(-9, 5))``
with the never-treated states (``effyear`` missing) as control cohort, clustered by state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import PreTrendWarning
from analysis.estimators.event_study import event_study

HERE = Path(__file__).parent
#: Stata prints every number of this table to 7 decimals: half a unit of the last digit, plus float noise
PRINTED_7 = 0.5e-7 + 1e-12
#: the printed t statistics have 2 decimals
PRINTED_T = 0.005 + 1e-12
#: the relative-time range of the data (rel_year runs -9..5): a window that bins nothing
WINDOW = (-9, 5)


@pytest.fixture(scope="module")
def castle() -> pd.DataFrame:
    frame = pd.read_csv(HERE / "castle.csv", float_precision="round_trip")
    # never-treated states have no effyear (Stata "."): NaN means never treated here as well
    return frame


@pytest.fixture(scope="module")
def stata() -> pd.DataFrame:
    table = pd.read_csv(HERE / "stata_eventstudyinteract.csv")
    return table.set_index(table["event_time"].map(lambda k: f"e={k}"))


def _fit(frame, **options):
    # the pre-period terms are far from zero (e=-9: -0.40, t = -6.6), so the pre-test rejects, as it should
    with pytest.warns(PreTrendWarning):
        return event_study(frame, outcome="l_homicide", unit="sid", time="year", cohort="effyear",
                           window=WINDOW, estimator="sun_abraham", **options)


@pytest.mark.parametrize("path", ["cohort moments", "pyfixest"])
def test_estimates_and_standard_errors_match_eventstudyinteract(castle, stata, path):
    # the pyfixest path is taken when clustering by a column other than the unit column (same clusters)
    frame = castle.assign(state_cluster=castle["sid"]) if path == "pyfixest" else castle
    result = _fit(frame, cluster="state_cluster" if path == "pyfixest" else None)
    assert result.diagnostics["path"] == path
    ours = result.estimates
    assert list(ours.index) == list(stata.index)          # the same 14 terms, -1 omitted
    np.testing.assert_allclose(ours["estimate"], stata["estimate"], rtol=0, atol=PRINTED_7)
    np.testing.assert_allclose(ours["std_error"], stata["std_error"], rtol=0, atol=PRINTED_7)
    # intervals: t with G - 1 = 49 df, as Stata's after a vce(cluster) with 50 clusters
    np.testing.assert_allclose(ours["ci_lower"], stata["ci_lower"], rtol=0, atol=PRINTED_7)
    np.testing.assert_allclose(ours["ci_upper"], stata["ci_upper"], rtol=0, atol=PRINTED_7)
    np.testing.assert_allclose(ours["estimate"] / ours["std_error"], stata["t"], rtol=0, atol=PRINTED_T)
    assert result.diagnostics["n_clusters"] == 50 and result.diagnostics["n_obs"] == 550


def test_share_variance_is_what_closes_the_gap(castle, stata):
    """Without the cohort-share variance the standard errors miss Stata's by far more than the rounding:
    at e=-8 (cohorts 2008 and 2009, shares 2/3 and 1/3, cohort effects -0.25 and +0.12) they would be 45 %
    too small (what an aggregation that treats the shares as known reports)."""
    result = _fit(castle)
    fixed = np.sqrt(result.estimates["std_error"] ** 2 - result.diagnostics["share_variance"])
    gap = 1 - fixed / stata["std_error"]
    assert gap["e=-8"] > 0.4
    assert (gap.drop(["e=-9", "e=5"]) > 10 * PRINTED_7 / stata["std_error"].drop(["e=-9", "e=5"])).all()
    # a single cohort at e=-9 (2009) and e=5 (2005): its share is 1 and adds nothing
    assert result.diagnostics["share_variance"][["e=-9", "e=5"]].abs().max() < 1e-15
