"""At-risk rules: the state a person must be in for the event to be possible.

``rd.at_risk.partnered()``, ``employed()``, ``on_bijstand()``, ``on_benefit(...)``,
``anyone()`` each return a frozen :class:`AtRisk` whose ``state`` gives, per
person and month, whether the person is in that state. :func:`analysis.kit.cohorts.event_cohorts`
adds "the event has not happened yet" and "inside the population's age band", so
a comparison unit of a cohort is in the same state at the cohort's base period
as its treated units (the credible-designs rule; ``att_gt_at_risk``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from analysis.errors import check_choice
from analysis.kit.events import _month, employment_matrix, interval_matrix

BENEFITS = ("ww", "wia", "other")


@dataclass(frozen=True)
class AtRisk:
    """A state (units x months, bool) in which the event can happen."""

    name: str
    description: str
    state: Callable = None  # (store, unit_ids, m0, T) -> n x T bool

    def __repr__(self) -> str:
        return f"at_risk.{self.name}: {self.description}"


def _spells(frame: pd.DataFrame, ids, m0: int, T: int, end) -> np.ndarray:
    rows = pd.Index(ids).get_indexer(frame["person_id"])
    ok = rows >= 0
    f = frame[ok]
    s = _month(f["start_date"]) - m0
    e = np.where(f["end_date"].isna(), T - 1 + m0, _month(f["end_date"].fillna(pd.Timestamp(end)))) - m0
    return interval_matrix(rows[ok], s, e, len(ids), T)


def partnered() -> AtRisk:
    """In a union (marriage, registered partnership, cohabitation) that month."""
    def state(store, ids, m0, T):
        ds = store.dataset
        return _spells(ds.tables["partnerships"], ids, m0, T, ds.meta["observation_end"])
    return AtRisk("partnered", "in a union", state)


def employed() -> AtRisk:
    """In paid employment that month."""
    return AtRisk("employed", "employed", lambda store, ids, m0, T: employment_matrix(store, ids, m0, T))


def on_bijstand() -> AtRisk:
    """Receiving bijstand that month (the store's merged spells)."""
    def state(store, ids, m0, T):
        sp = store.connect().execute("SELECT person_id, start_month, end_month FROM bijstand_spells").df()
        rows = pd.Index(ids).get_indexer(sp["person_id"])
        ok = rows >= 0
        return interval_matrix(rows[ok], sp["start_month"].to_numpy()[ok] - m0, sp["end_month"].to_numpy()[ok] - m0,
                               len(ids), T)
    return AtRisk("on_bijstand", "on bijstand", state)


def on_benefit(benefit: str | None = None) -> AtRisk:
    """Receiving a benefit other than bijstand (``"ww"``, ``"wia"``, ``"other"``; None: any of them)."""
    if benefit is not None:
        check_choice("benefit", benefit, BENEFITS)
    kinds = BENEFITS if benefit is None else (benefit,)

    def state(store, ids, m0, T):
        ds = store.dataset
        spells = ds.tables["benefit_spells"]
        return _spells(spells[spells["benefit"].isin(kinds)], ids, m0, T, ds.meta["observation_end"])
    return AtRisk(f"on_benefit({benefit})" if benefit else "on_benefit",
                  f"receiving {benefit or 'a ww, wia or other'} benefit", state)


def anyone() -> AtRisk:
    """Everyone is at risk (no state needed); only the not-yet-had-the-event rule applies."""
    return AtRisk("anyone", "anyone", lambda store, ids, m0, T: np.ones((len(ids), T), dtype=bool))


__all__ = ["AtRisk", "anyone", "employed", "on_benefit", "on_bijstand", "partnered"]
