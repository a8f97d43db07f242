"""Risk-set (dynamic) designs for programmes that start at different moments of a spell.

Comparing participants with everyone who never participated hands the
participants "immortal time": to start in month 7 of a spell one must still be
in the spell in month 7. The dynamic design (Sianesi 2004; risk-set matching,
Li, Propert & Rosenbaum 2001) compares, for each start month ``m``, the people
starting then with people in the same state in the same calendar month at the
same elapsed duration who have not started by ``m``. People who start later
are controls until they start, so the estimand is the effect of starting now
versus not starting now (possibly later). Outcomes are measured from ``m`` on.
The frame plugs into ``att_aipw``/``att_matching`` with SEs clustered by person
(controls appear in several risk sets). Plain pandas joins: no package does this.

Units (disclosure, issue #13): a person appears in several risk sets (as a
control until they start), so the frame has more rows than persons. Pass
``cluster="person_id"`` (or ``unit_id="person_id"``) to the estimators so that
``n`` and ``n_control`` count persons and each person's rows are one
contributor in the dominance share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import ParameterError

ESTIMAND = ("effect of starting the programme in month m versus not starting it in month m "
            "(possibly later), among those who start, at the same spell duration and calendar month")


def risk_set_frame(spells: pd.DataFrame, starts: pd.DataFrame, *, max_controls: int | None = None,
                   seed: int = 0) -> pd.DataFrame:
    """Participants and their risk sets.

    Parameters
    ----------
    spells
        person_id, start_month, end_month (integer months) of the state spells (bijstand).
    starts
        person_id, month: each person's first programme start.
    max_controls
        If given, at most this many controls per participant, drawn at random (seeded).

    Returns person_id, month (the risk-set month m), duration (months since spell start),
    treated (1 = starts in m), risk_set (an id per (m, duration)). Participants not in a
    spell at their start month are dropped and counted in ``frame.attrs["not_in_state"]``.
    """
    for col in ("person_id", "start_month", "end_month"):
        if col not in spells.columns:
            raise ParameterError(f"risk_set_frame: spells need column {col!r}.")
    for col in ("person_id", "month"):
        if col not in starts.columns:
            raise ParameterError(f"risk_set_frame: starts need column {col!r}.")
    first = starts.groupby("person_id", as_index=False)["month"].min()
    part = first.merge(spells, on="person_id")
    part = part[(part["month"] >= part["start_month"]) & (part["month"] <= part["end_month"])]
    not_in_state = len(first) - part["person_id"].nunique()
    part = part.assign(duration=part["month"] - part["start_month"], treated=1)
    cells = part[["month", "duration"]].drop_duplicates()
    cells = cells.assign(spell_start=cells["month"] - cells["duration"])
    ctrl = spells.merge(cells, left_on="start_month", right_on="spell_start")
    ctrl = ctrl[ctrl["end_month"] >= ctrl["month"]]
    ctrl = ctrl.merge(first.rename(columns={"month": "first_start"}), on="person_id", how="left")
    ctrl = ctrl[ctrl["first_start"].isna() | (ctrl["first_start"] > ctrl["month"])]
    ctrl = ctrl.assign(treated=0)[["person_id", "month", "duration", "treated"]]
    frame = pd.concat([part[["person_id", "month", "duration", "treated"]], ctrl], ignore_index=True)
    frame["risk_set"] = frame.groupby(["month", "duration"]).ngroup()
    if max_controls is not None:
        rng = np.random.default_rng(seed)
        frame["_r"] = rng.random(len(frame))
        n_part = frame[frame["treated"] == 1].groupby("risk_set").size()
        frame = frame.sort_values(["risk_set", "treated", "_r"], ascending=[True, False, True])
        rank = frame.groupby(["risk_set", "treated"]).cumcount()
        limit = frame["risk_set"].map(n_part * max_controls).fillna(0)
        frame = frame[(frame["treated"] == 1) | (rank < limit)].drop(columns="_r")
    # a risk set without controls cannot inform the comparison
    has_ctrl = frame.groupby("risk_set")["treated"].transform("min") == 0
    frame = frame[has_ctrl].reset_index(drop=True)
    frame.attrs["not_in_state"] = int(not_in_state)
    frame.attrs["estimand"] = ESTIMAND
    return frame
