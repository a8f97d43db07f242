"""A study population: who is in it, by a definition a reader can check.

``population(store, municipality=, age_min=, age_max=, sex=, first_year=,
last_year=, where={col: value})`` selects the persons of the store's
``persons`` table

- living in ``municipality`` (``"all"`` or a code, the persons table's
  ``municipality_code``),
- of ``sex`` (``"all"``, ``"F"``, ``"M"``),
- with every ``where`` column (any categorical column of ``persons``, e.g.
  ``education`` or ``migration_background``) equal to its value (or in a list of values),
- aged ``age_min``..``age_max`` (age = year - birth_year, on 31 December) in at
  least one year of ``first_year``..``last_year``.

A person belongs to the population for the whole period; which of their
periods lie inside the age band is :meth:`Population.in_band`, which the
panels and event cohorts use (an event counts only inside the band).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from analysis.errors import ParameterError, check_choice

SEXES = ("all", "F", "M")
#: Columns of ``persons`` that are not categorical and so cannot be a ``where`` condition.
NOT_CATEGORICAL = ("person_id", "birth_year")


@dataclass(frozen=True)
class PopulationDefinition:
    """The parameters that define a population (what results.json and the report record)."""

    municipality: str
    age_min: int
    age_max: int
    sex: str
    first_year: int
    last_year: int
    where: tuple = ()  # ((column, value or tuple of values), ...)

    def to_dict(self) -> dict:
        return {"municipality": self.municipality, "age_min": self.age_min, "age_max": self.age_max,
                "sex": self.sex, "first_year": self.first_year, "last_year": self.last_year,
                "where": {c: (list(v) if isinstance(v, tuple) else v) for c, v in self.where}}

    def text(self) -> str:
        """The definition in words (English; the report's sentences come from analysis.kit.text)."""
        parts = [f"aged {self.age_min}-{self.age_max}", f"in {self.first_year}-{self.last_year}"]
        if self.sex != "all":
            parts.append("women" if self.sex == "F" else "men")
        if self.municipality != "all":
            parts.append(f"living in {self.municipality}")
        parts += [f"{c} = {', '.join(map(str, v)) if isinstance(v, tuple) else v}" for c, v in self.where]
        return "persons " + ", ".join(parts)


@dataclass(frozen=True)
class Population:
    """Persons of a store selected by a :class:`PopulationDefinition` (ids sorted)."""

    store: Any  # analysis.data.Store
    definition: PopulationDefinition
    person_ids: np.ndarray
    birth_year: np.ndarray  # aligned with person_ids

    def __len__(self) -> int:
        return len(self.person_ids)

    @property
    def years(self) -> np.ndarray:
        return np.arange(self.definition.first_year, self.definition.last_year + 1)

    def persons(self) -> pd.DataFrame:
        """The ``persons`` rows of the population, in ``person_ids`` order."""
        people = self.store.read("persons")
        people = people[people["person_id"].isin(self.person_ids)]
        return people.set_index("person_id").loc[self.person_ids].reset_index()

    def in_band(self, years) -> np.ndarray:
        """Persons x ``years``: True where the person's age lies in the age band that year."""
        age = np.asarray(years)[None, :] - self.birth_year[:, None]
        return (age >= self.definition.age_min) & (age <= self.definition.age_max)

    def levels(self, column: str) -> list[str]:
        """The values a categorical column of ``persons`` takes in the population (for ``where`` and ``by``)."""
        people = self.persons()
        if column not in people.columns or column in NOT_CATEGORICAL:
            allowed = [c for c in people.columns if c not in NOT_CATEGORICAL]
            raise ParameterError(f"{column!r} is not a categorical column of persons; use one of: {', '.join(allowed)}.")
        return sorted(people[column].dropna().astype(str).unique())

    def connect(self):
        """A DuckDB connection to the store with a view ``population`` (the person ids) and
        ``population_persons`` (their persons rows)."""
        con = self.store.connect()
        con.register("population_ids_frame", pd.DataFrame({"person_id": self.person_ids}))
        con.execute("CREATE VIEW population AS SELECT person_id FROM population_ids_frame")
        con.execute("CREATE VIEW population_persons AS SELECT p.* FROM persons p SEMI JOIN population USING (person_id)")
        return con

    def describe(self, *, min_units: int | None = None) -> str:
        """The definition and the number of persons (shown as 'fewer than N' under the output rules)."""
        if min_units is None:
            from analysis.report.disclosure import DisclosurePolicy

            min_units = DisclosurePolicy.load().min_units
        n = len(self)
        count = f"{n:,}".replace(",", " ") if n >= min_units else f"fewer than {min_units}"
        return f"Population: {self.definition.text()}; {count} persons."

    def __repr__(self) -> str:
        return f"Population({self.definition.text()}; n={len(self)})"

    def _repr_html_(self) -> str:
        import html

        return f"<p><b>Population</b>: {html.escape(self.describe())}</p>"


def _check_int(name: str, value, lo=None, hi=None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"population: {name}={value!r} must be a whole number; give for example {name}=50.")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ParameterError(f"population: {name}={value!r} lies outside {lo}..{hi}; give a value inside it.")
    return int(value)


def population(store, *, municipality: str = "all", age_min: int = 18, age_max: int = 66, sex: str = "all",
               first_year: int | None = None, last_year: int | None = None,
               where: Mapping[str, Any] | None = None) -> Population:
    """The persons of ``store`` in the population defined by the options (module docstring)."""
    meta = store.dataset.meta
    lo, hi = meta["observation_start"].year, meta["observation_end"].year
    first_year = lo if first_year is None else _check_int("first_year", first_year, lo, hi)
    last_year = hi if last_year is None else _check_int("last_year", last_year, lo, hi)
    if first_year > last_year:
        raise ParameterError(f"population: first_year={first_year} is after last_year={last_year}; give "
                             "first_year <= last_year.")
    age_min, age_max = _check_int("age_min", age_min, 0, 120), _check_int("age_max", age_max, 0, 120)
    if age_min > age_max:
        raise ParameterError(f"population: age_min={age_min} exceeds age_max={age_max}; give age_min <= age_max.")
    check_choice("sex", sex, SEXES)
    people = store.read("persons")
    keep = ((people["birth_year"] >= first_year - age_max) & (people["birth_year"] <= last_year - age_min)).to_numpy()
    if sex != "all":
        keep &= (people["sex"] == sex).to_numpy()
    if municipality != "all":
        codes = sorted(people["municipality_code"].dropna().astype(str).unique())
        if municipality not in codes:
            raise ParameterError(f"population: municipality={municipality!r} does not occur in this dataset; use "
                                 f"'all' or one of: {', '.join(codes[:12])}{' ...' if len(codes) > 12 else ''}.")
        keep &= (people["municipality_code"] == municipality).to_numpy()
    conditions = []
    for column, value in dict(where or {}).items():
        if column not in people.columns or column in NOT_CATEGORICAL:
            allowed = [c for c in people.columns if c not in NOT_CATEGORICAL]
            raise ParameterError(f"population: where={{{column!r}: ...}}: {column!r} is not a categorical column of "
                                 f"persons; use one of: {', '.join(allowed)}.")
        values = tuple(value) if isinstance(value, (list, tuple, set)) else (value,)
        observed = sorted(people[column].dropna().astype(str).unique())
        for v in values:
            check_choice(f"where[{column!r}]", str(v), observed)
        keep &= people[column].astype(str).isin([str(v) for v in values]).to_numpy()
        conditions.append((column, values if len(values) > 1 else values[0]))
    chosen = people[keep].sort_values("person_id")
    definition = PopulationDefinition(municipality=municipality, age_min=age_min, age_max=age_max, sex=sex,
                                      first_year=first_year, last_year=last_year, where=tuple(conditions))
    return Population(store=store, definition=definition, person_ids=chosen["person_id"].to_numpy(),
                      birth_year=chosen["birth_year"].to_numpy(dtype=int))


__all__ = ["Population", "PopulationDefinition", "population"]
