"""`rendeert batch compare -p year 2019,2020,2021` (issue #15): three runs, a random-effects summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.synthetic import generate
from analysis.estimators.funnel import random_effects_mean
from analysis.run import cli

PACKAGE = 1e-9  # the summary's pooled mean against the same formula on summary.csv: rounding only


@pytest.mark.slow
def test_compare_batch_over_years(tmp_path, capsys):
    data = generate(tmp_path / "data", n_persons=6000, seed=3, municipal_effects=True)
    code = cli.main(["batch", "compare", "-p", "year", "2019,2020,2021", "--dataset", str(data), "--workers", "1",
                     "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    batch_dir = next((tmp_path / "out" / "compare").glob("batch-*"))
    runs = pd.read_csv(batch_dir / "runs.csv")
    assert len(runs) == 3 and (runs["status"] != "failed").all()
    summary = pd.read_csv(batch_dir / "summary.csv")
    assert set(summary["param_year"]) == {2019, 2020, 2021}
    assert (batch_dir / "summary.pdf").stat().st_size > 10_000
    # the default estimate is the adjusted ratio (headline), not a raw rate
    from analysis.run.summary import choose_estimate

    name = choose_estimate(summary, None)
    assert name.startswith("adjusted_ratio_")
    rows = summary[(summary["name"] == name)].dropna(subset=["estimate", "se"])
    if len(rows) >= 2:
        re = random_effects_mean(rows["estimate"], rows["se"])
        assert np.isfinite(re.mean) and re.ci_low < re.mean < re.ci_high
