"""The compare study against the simulator's truth (scenario municipal_effects) and its null.

- the scenario is off by default, and the default draw has no municipal truths;
- with municipal effects (default size, 50,000 persons), the adjusted ratios rank the municipalities
  as their true effects do (Spearman >= 0.9) while the raw rates rank them visibly worse;
- without municipal effects, the overdispersion-aware limits hold about their nominal coverage;
- a small municipality is withheld, not crashed on; bad parameters are refused before any store.
"""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
from scipy import stats

from analysis.data.synthetic import generate, simulate
from analysis.errors import ParameterError
from analysis.studies import compare as cmp

DEFAULT_SIZE = 50_000
MIN_SPEARMAN = {"bijstand": 0.9,  # the bar for the adjusted ratios (the stock)
                "inflow": 0.8}  # one year's inflow has ~4x fewer events than the stock: noisier ranks
RAW_WORSE_BY = 0.3  # "visibly worse": the raw rates' rank correlation at least this much lower


def _run(dataset, tmp_path, **params):
    ctx = cmp.setup(dataset=str(dataset), output_dir=str(tmp_path / "out"), **params)
    frame = cmp.population_frame(ctx)
    model = cmp.reference_model(ctx, frame)
    raw, comp = cmp.compare(ctx, frame, model)
    cmp.funnel(ctx, raw, comp)
    cmp.table(ctx, raw, comp)
    cmp.peers(ctx, frame, raw)
    cmp.methods(ctx, model, comp)
    cmp.summary(ctx, comp)
    ctx.finish()
    return ctx, comp


def test_municipal_effects_off_by_default():
    assert inspect.signature(simulate).parameters["municipal_effects"].default is False
    draw = simulate(300, seed=2)
    assert "municipal_effects" not in draw.truth["truths"]
    assert "municipal_effects" not in draw.truth["parameters"]
    on = simulate(300, seed=2, municipal_effects=True)
    effects = on.truth["truths"]["municipal_effects"]
    assert len(effects) == 14 and all(e["exit_to_work_log_odds"] == -e["entry_log_odds"] for e in effects.values())
    # composition leans against the effect: where the municipality lowers bijstand, more low education
    eff = [e["entry_log_odds"] for e in effects.values()]
    low = [e["share_low_education"] for e in effects.values()]
    assert stats.spearmanr(eff, low)[0] < -0.9
    with pytest.raises(ParameterError, match="municipal_effects"):
        simulate(300, seed=2, municipal_effects="yes")


@pytest.fixture(scope="module")
def municipal_data(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("mun") / "data", n_persons=DEFAULT_SIZE, seed=1, municipal_effects=True)


@pytest.fixture(scope="module")
def null_data(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("null") / "data", n_persons=DEFAULT_SIZE, seed=5)


@pytest.mark.slow
@pytest.mark.parametrize("outcome", ["bijstand", "inflow"])
def test_adjusted_ratios_rank_like_the_truth(municipal_data, tmp_path, outcome):
    ctx, comp = _run(municipal_data, tmp_path, outcome=outcome)
    truth = json.loads((municipal_data / "truth.json").read_text())["truths"]["municipal_effects"]
    tab = comp.table.set_index("unit")
    eff = np.array([truth[u]["entry_log_odds"] for u in tab.index])
    adjusted = stats.spearmanr(tab["ratio"], eff)[0]
    raw = stats.spearmanr(tab["observed"] / tab["n"], eff)[0]
    assert len(tab) >= 10
    assert adjusted >= MIN_SPEARMAN[outcome], (adjusted, raw)
    assert raw <= adjusted - RAW_WORSE_BY, (adjusted, raw)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    names = {e["name"] for e in results["estimates"]}
    for code in tab.index:
        assert {f"adjusted_ratio_{outcome}_{code}", f"raw_rate_{outcome}_{code}"} <= names
    assert {f"overdispersion_{outcome}", f"outside_998_share_{outcome}"} <= names


@pytest.mark.slow
def test_limits_hold_nominal_coverage_without_municipal_effects(null_data, tmp_path):
    """No municipal effects and composition independent of municipality: with about 12 published
    municipalities, at most 2 lie outside the 95 % limits (expected 0.6; P(>2) < 3 % under the null)
    and none outside the 99.8 % limits (P(any) < 3 %)."""
    ctx, comp = _run(null_data, tmp_path, outcome="bijstand")
    assert comp.outside_share(0.998) == 0
    assert (comp.table["position"] != "within").sum() <= 2
    assert ctx.estimate("outside_998_share_bijstand")["estimate"] == 0


@pytest.mark.slow
def test_small_municipality_is_withheld_not_crashed(tmp_path):
    data = generate(tmp_path / "small", n_persons=4_000, seed=11)
    for outcome in cmp.OUTCOMES:
        ctx, comp = _run(data, tmp_path / outcome, outcome=outcome, municipality="GM0088", lang="en")
        row = ctx.estimate(f"adjusted_ratio_{outcome}_GM0088")
        assert row["suppressed"] and row["n"] is None and row["estimate"] is None
        log = (tmp_path / outcome / "out" / "disclosure_log.json").read_text()
        assert '"n": "<10"' in log or '"n": null' in log


def test_parameters_refused_before_any_store(tmp_path):
    data = generate(tmp_path / "tiny", n_persons=300, seed=3)
    with pytest.raises(ParameterError, match="outcome"):
        cmp.setup(dataset=str(data), outcome="bogus", output_dir=str(tmp_path / "o"))
    with pytest.raises(ParameterError, match="year=2030"):
        cmp.setup(dataset=str(data), year=2030, output_dir=str(tmp_path / "o"))
    with pytest.raises(ParameterError, match="covariates"):
        cmp.setup(dataset=str(data), covariates=["income"], output_dir=str(tmp_path / "o"))
    with pytest.raises(ParameterError, match="age_min"):
        cmp.setup(dataset=str(data), age_min=70, age_max=20, output_dir=str(tmp_path / "o"))
    (data / "participation_ladder.parquet").unlink()
    with pytest.raises(ParameterError, match="participation_ladder"):
        cmp.setup(dataset=str(data), outcome="participation_ladder", output_dir=str(tmp_path / "o"))


def test_funnel_labels_of_neighbours_take_different_places():
    """Two points close together (0.05 decades, 0.01 apart on a 1.5 axis) get different label offsets; a far one keeps the
    default place right of its point."""
    offsets = cmp.label_offsets([100, 112, 1000], [1.0, 1.01, 1.0], y_span=1.5)
    assert offsets[0] != offsets[1]
    assert offsets[2] == (4, 0, "left")
