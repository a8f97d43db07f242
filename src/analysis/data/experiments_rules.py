"""The rules of the optional ``experiments`` table that need more than one column or row.

``contract.TABLES["experiments"]`` gives the per-cell rules (ids, names, dates) and one assignment per
person per experiment (``unique``); ``load.py`` checks persons are known. This module adds
(docs/contract-experiments.md):

- ``within-observation``: an assignment_date before observation_start or after observation_end (the
  outcomes of a person assigned outside the data period cannot be measured);
- ``control-arm``: an experiment without an arm named ``control`` (the arm every effect is measured
  against: regular service);
- ``treatment-arm``: an experiment with only the control arm;
- ``cluster-one-arm`` / ``cluster-one-stratum``: a cluster (the unit of randomisation when whole teams
  or districts were randomised) whose persons are in more than one arm or stratum of an experiment;
- ``stratum-complete`` / ``cluster-complete``: an experiment with a stratum (cluster) on some rows
  and not on others.

Each problem names the experiments and rows concerned, like every other rule of the loader.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from analysis.data.contract import CONTROL_ARM
from analysis.data.problems import Problems


def _rows_of(frame: pd.DataFrame, experiments) -> np.ndarray:
    return frame["experiment"].isin(list(experiments)).to_numpy()


def _names(values) -> str:
    values = sorted(map(str, values))
    return ", ".join(values[:5]) + (f" and {len(values) - 5} more" if len(values) > 5 else "")


def check_experiments(frame: pd.DataFrame, file: str, meta: dict, problems: Problems) -> None:
    """Add the cross-row problems of a typed experiments table to ``problems``."""
    start, end = meta.get("observation_start"), meta.get("observation_end")
    when = frame["assignment_date"]
    if isinstance(start, date) and isinstance(end, date):
        outside = (when.notna() & ((when < pd.Timestamp(start)) | (when > pd.Timestamp(end)))).to_numpy()
        problems.add(file, rule="within-observation", column="assignment_date",
                     message=f"an assignment_date outside the data period {start} to {end}",
                     fix="keep the persons assigned inside the observation window of dataset.yml (their outcomes "
                         "are measured from the spell tables), or extend the window", mask=outside, frame=frame,
                     show=["experiment", "assignment_date"])
    named = frame.dropna(subset=["experiment", "arm"])
    if named.empty:
        return
    arms = named.groupby("experiment")["arm"].agg(lambda a: set(a))
    no_control = [e for e, a in arms.items() if CONTROL_ARM not in a]
    problems.add(file, rule="control-arm", column="arm",
                 message=f"an experiment without a {CONTROL_ARM!r} arm (experiments: {_names(no_control)})",
                 fix=f"name the arm of regular service {CONTROL_ARM!r}: every effect is measured against it",
                 mask=_rows_of(frame, no_control), frame=frame, show=["experiment", "arm"])
    only_control = [e for e, a in arms.items() if a == {CONTROL_ARM}]
    problems.add(file, rule="treatment-arm", column="arm",
                 message=f"an experiment with only the {CONTROL_ARM!r} arm (experiments: {_names(only_control)})",
                 fix="add the rows of the persons assigned to the treatment arms, or drop the experiment",
                 mask=_rows_of(frame, only_control), frame=frame, show=["experiment", "arm"])
    for col in ("stratum", "cluster"):
        if col not in frame:
            continue
        filled = named.assign(_has=named[col].notna()).groupby("experiment")["_has"].agg(["any", "all"])
        partial = filled.index[filled["any"] & ~filled["all"]].tolist()
        problems.add(file, rule=f"{col}-complete", column=col,
                     message=f"an empty {col} in an experiment whose other rows have one "
                             f"(experiments: {_names(partial)})",
                     fix=f"give every person of the experiment its {col}, or leave {col} empty for the whole "
                         "experiment", mask=_rows_of(frame, partial) & frame[col].isna().to_numpy(), frame=frame,
                     show=["experiment"])
    if "cluster" in frame:
        clustered = named.dropna(subset=["cluster"])
        checks = [("arm", "cluster-one-arm", "persons in more than one arm",
                   "a cluster is the unit of randomisation: all its persons get the same arm; correct the arms or "
                   "leave cluster empty for an individually randomised experiment")]
        if "stratum" in frame:
            checks.append(("stratum", "cluster-one-stratum", "persons in more than one stratum",
                           "stratify clusters on cluster characteristics: all persons of a cluster share its stratum"))
        for col, rule, what, fix in checks:
            spread = clustered.groupby(["experiment", "cluster"])[col].nunique(dropna=False)
            bad = spread[spread > 1].index
            mask = pd.MultiIndex.from_frame(frame[["experiment", "cluster"]]).isin(bad)
            problems.add(file, rule=rule, column="cluster", message=f"a cluster with {what}",
                         fix=fix, mask=mask, frame=frame, show=["experiment", "cluster", col])
