"""Cox proportional hazards on the Rossi recidivism data against R coxph (Efron ties).

R: coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = Rossi)
Published in Fox & Weisberg, "Cox Proportional-Hazards Regression for Survival Data in R"
(appendix to An R Companion to Applied Regression); data: Rossi, Berk & Lenihan (1980).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.estimators import cox

PUBLISHED = {  # coefficient, standard error
    "fin": (-0.37942, 0.19138), "age": (-0.05744, 0.02200), "race": (0.31390, 0.30799),
    "wexp": (-0.14980, 0.21222), "mar": (-0.43370, 0.38187), "paro": (-0.08487, 0.19576),
    "prio": (0.09150, 0.02865),
}
#: R printed 5 significant digits; iterative fit: within 1e-4 of the printed value
TOL = 1e-4
LOGLIK = -658.748  # printed to 3 decimals


@pytest.fixture(scope="module")
def rossi():
    return pd.read_csv(Path(__file__).with_name("rossi.csv"))


@pytest.mark.parametrize("engine", ["newton", "statsmodels"])
def test_rossi_matches_r(rossi, engine):
    fit = cox(rossi, duration="week", event="arrest", covariates=list(PUBLISHED), engine=engine)
    assert fit.diagnostics["engine"] == engine
    table = fit.to_frame()
    for name, (b, se) in PUBLISHED.items():
        assert table.loc[name, "estimate"] == pytest.approx(b, abs=TOL), name
        assert table.loc[name, "std_error"] == pytest.approx(se, abs=TOL), name
    assert fit.log_likelihood == pytest.approx(LOGLIK, abs=0.5e-3)


@pytest.mark.parametrize("engine", ["newton", "statsmodels"])
def test_counting_process_split_gives_the_same_fit(rossi, engine):
    """Splitting each record into (0, 25.5] and (25.5, week] changes nothing (an identity of the partial
    likelihood; 25.5 is never an event time, so no convention for entries at an event time matters)."""
    rows = []
    for i, r in rossi.iterrows():
        if r["week"] > 25:
            rows.append({**r, "start": 0, "stop": 25.5, "arrest": 0})
            rows.append({**r, "start": 25.5, "stop": r["week"]})
        else:
            rows.append({**r, "start": 0, "stop": r["week"]})
    split = pd.DataFrame(rows)
    fit = cox(split, duration="stop", event="arrest", covariates=list(PUBLISHED), entry="start", engine=engine)
    assert fit.diagnostics["engine"] == engine
    for name, (b, se) in PUBLISHED.items():
        assert fit.to_frame().loc[name, "estimate"] == pytest.approx(b, abs=TOL), name
        assert fit.to_frame().loc[name, "std_error"] == pytest.approx(se, abs=TOL), name
    assert fit.log_likelihood == pytest.approx(LOGLIK, abs=0.5e-3)


def test_split_at_an_event_time_gives_the_same_fit(rossi):
    """Splitting every record at week 20, an event time, must also change nothing under R's
    convention (a row is at risk at t when start < t <= stop): the published fit again. statsmodels
    PHReg would count the second piece as at risk at week 20 too (entry <= t), which is why the
    Newton path is the default for counting-process rows."""
    assert ((rossi["week"] == 20) & (rossi["arrest"] == 1)).any()
    first = rossi.assign(start=0, stop=rossi["week"].clip(upper=20),
                         arrest=np.where(rossi["week"] <= 20, rossi["arrest"], 0))
    second = rossi[rossi["week"] > 20].assign(start=20, stop=lambda d: d["week"])
    split = pd.concat([first, second], ignore_index=True)
    fit = cox(split, duration="stop", event="arrest", covariates=list(PUBLISHED), entry="start")
    for name, (b, se) in PUBLISHED.items():
        assert fit.to_frame().loc[name, "estimate"] == pytest.approx(b, abs=TOL), name
        assert fit.to_frame().loc[name, "std_error"] == pytest.approx(se, abs=TOL), name
    assert fit.log_likelihood == pytest.approx(LOGLIK, abs=0.5e-3)


def test_bad_input(rossi):
    with pytest.raises(ParameterError, match=r"ties='exact' is not allowed"):
        cox(rossi, duration="week", event="arrest", covariates=["fin"], ties="exact")
    with pytest.raises(ParameterError, match=r"1 rows with 'start' not before 'week'"):
        cox(rossi.assign(start=[52] + [0] * (len(rossi) - 1)), duration="week", event="arrest",
            covariates=["fin"], entry="start")
    with pytest.raises(ParameterError, match=r"columns \['nope'\] not in the data"):
        cox(rossi, duration="week", event="arrest", covariates=["nope"])
