"""What works for whom (issue #17) on the simulator: a programme effect that varies with education is
found (GATES ordered, the BLP test rejects, subgroup effects by education near their truths), and on a
world where the programme does nothing the test rejects at about its nominal rate."""

from __future__ import annotations

import json

import pytest

from analysis.data.synthetic import generate
from analysis.run.runner import run_study

from test_intervention import study_steps  # the notebook's first steps, shared with the main tests

Z_MAX = 3.0  # the criterion for an estimate against its truth


LEVEL = 0.05  # the test's nominal level
SEEDS = 20  # homogeneous worlds
#: rejections allowed at LEVEL over SEEDS worlds: P(Binomial(20, 0.05) >= 4) = 1.6 %
MAX_REJECTIONS = 3

# With -n (loadgroup) a group starts before the single tests: these two long tests start early, not last.
pytestmark = pytest.mark.xdist_group("study_intervention_whom")


@pytest.mark.slow
def test_gates_find_the_education_gradient_and_group_effects_recover_the_truth(tmp_path, monkeypatch):
    """The study's own steps (setup, risk sets, effects by education, GATES) on a world where the programme
    works best for the low educated."""
    from analysis.studies import intervention

    monkeypatch.setenv("RENDEERT_HOME", str(tmp_path))
    draw = generate(tmp_path / "d", n_persons=80_000, seed=11, programme_effect="heterogeneous")
    truth = json.loads((draw / "truth.json").read_text())["truths"]["programme_effect_by_group"]["education"]
    run, opts, design = study_steps(draw, tmp_path / "o", by="education")
    intervention.by_group(run, design, opts)
    res = intervention.heterogeneity(run, design, opts)
    est = {e["name"]: e for e in run.estimates}
    assert est["heterogeneity_test_p"]["estimate"] < LEVEL
    # group 1 = smallest predicted effect on months in bijstand (the largest reduction): the low educated
    assert est["gates_1"]["estimate"] < est["gates_5"]["estimate"]
    assert est["gates_top_minus_bottom"]["ci_low"] > 0
    clan = res.clan
    assert clan.loc["edu_middle", "most_affected"] > clan.loc["edu_middle", "least_affected"]
    for level in ("low", "middle", "high"):
        e = est[f"group_effects_education_{level}"]
        true = truth[level]["att_months_bijstand_24m"]
        assert abs(e["estimate"] - true) <= Z_MAX * e["se"], (level, e, true)
    assert truth["low"]["att_months_bijstand_24m"] < truth["middle"]["att_months_bijstand_24m"] \
        < truth["high"]["att_months_bijstand_24m"]


def _heterogeneity_p(dataset, *, seed: int, out) -> float:
    """The study's own steps (setup, risk sets, GATES), without the kernel and the other estimators."""
    from analysis.studies import intervention

    run, opts, design = study_steps(dataset, out, gates_groups=3, seed=seed)
    res = intervention.heterogeneity(run, design, opts)
    return res.heterogeneity_test_p


@pytest.mark.slow
def test_on_a_world_without_effect_the_heterogeneity_test_keeps_its_level(tmp_path, monkeypatch):
    monkeypatch.setenv("RENDEERT_HOME", str(tmp_path))  # the processed stores of these worlds go there
    ps = []
    for seed in range(SEEDS):
        draw = generate(tmp_path / f"d{seed}", n_persons=8_000, seed=100 + seed, programme_effect="none")
        ps.append(_heterogeneity_p(draw, seed=seed, out=tmp_path / f"o{seed}"))
    rejections = sum(p < LEVEL for p in ps)
    assert rejections <= MAX_REJECTIONS, ps
