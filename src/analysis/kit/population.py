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

import functools
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


@dataclass(frozen=True, eq=False)
class Population:
    """Persons of a store selected by a :class:`PopulationDefinition`.

    The selection is a SQL condition on the store's ``persons`` table (``where_sql``), so a population of
    the whole country costs nothing until something asks for its persons: :meth:`connect` gives views of it
    inside DuckDB, ``len()`` counts there, and ``person_ids`` / ``birth_year`` (sorted by id) and
    :meth:`persons` read only the rows and columns they need, on first use.
    """

    store: Any  # analysis.data.Store
    definition: PopulationDefinition
    where_sql: str  # a condition on ``persons p``

    def _select(self, columns: str, *, extra: str = "") -> pd.DataFrame:
        con = self.store.connect()
        try:
            return con.execute(f"SELECT {columns} FROM persons p WHERE {self.where_sql} {extra} "
                               "ORDER BY p.person_id").df()
        finally:
            con.close()

    @functools.cached_property
    def _ids_and_birth(self) -> pd.DataFrame:
        return self._select("p.person_id, p.birth_year")

    @property
    def person_ids(self) -> np.ndarray:
        """The person ids, sorted (read on first use: at national scale prefer :meth:`connect`)."""
        return self._ids_and_birth["person_id"].to_numpy()

    @property
    def birth_year(self) -> np.ndarray:
        """Birth years aligned with ``person_ids``."""
        return self._ids_and_birth["birth_year"].to_numpy(dtype=int)

    @functools.cached_property
    def _count(self) -> int:
        con = self.store.connect()
        try:
            return int(con.execute(f"SELECT count(*) FROM persons p WHERE {self.where_sql}").fetchone()[0])
        finally:
            con.close()

    def __len__(self) -> int:
        return self._count

    @property
    def years(self) -> np.ndarray:
        return np.arange(self.definition.first_year, self.definition.last_year + 1)

    def persons(self, ids=None, *, columns=None) -> pd.DataFrame:
        """The ``persons`` rows of the population in ``person_ids`` order; with ``ids`` only those persons
        (in the order given; every id must belong to the population), with ``columns`` only those columns
        (``person_id`` always first). Reads only what is asked for."""
        cols = ["person_id", *[c for c in (columns or []) if c != "person_id"]] if columns is not None else None
        select = "p.*" if cols is None else ", ".join(f"p.{_quote(c)}" for c in cols)
        if ids is None:
            return self._select(select)
        wanted = pd.DataFrame({"person_id": np.asarray(ids)})
        con = self.store.connect()
        try:
            con.register("wanted_ids", wanted)
            found = con.execute(f"SELECT {select} FROM persons p SEMI JOIN wanted_ids w USING (person_id) "
                                f"WHERE {self.where_sql}").df()
        finally:
            con.close()
        if len(found) != len(wanted):
            missing = len(wanted) - len(found)
            raise ParameterError(f"population.persons(ids=...): {missing} of the {len(wanted)} ids are not persons "
                                 "of this population (or occur twice); give ids of the population only.")
        return found.set_index("person_id").loc[wanted["person_id"]].reset_index()

    def in_band(self, years, birth_year=None) -> np.ndarray:
        """Persons x ``years``: True where the person's age lies in the age band that year (the persons of
        ``birth_year``, by default the population's)."""
        birth = self.birth_year if birth_year is None else np.asarray(birth_year)
        age = np.asarray(years)[None, :] - birth[:, None]
        return (age >= self.definition.age_min) & (age <= self.definition.age_max)

    def levels(self, column: str) -> list[str]:
        """The values a categorical column of ``persons`` takes in the population (for ``where`` and ``by``)."""
        allowed = [c for c in _columns(self.store) if c not in NOT_CATEGORICAL]
        if column not in allowed:
            raise ParameterError(f"{column!r} is not a categorical column of persons; use one of: {', '.join(allowed)}.")
        return _distinct(self.store, column, where_sql=self.where_sql)

    def connect(self):
        """A DuckDB connection to the store with a view ``population`` (the person ids) and
        ``population_persons`` (their persons rows), both defined in SQL over the store's files."""
        con = self.store.connect()
        con.execute(f"CREATE VIEW population_persons AS SELECT p.* FROM persons p WHERE {self.where_sql}")
        con.execute("CREATE VIEW population AS SELECT person_id FROM population_persons")
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
    columns = _columns(store)
    conditions_sql = [f"p.birth_year BETWEEN {first_year - age_max} AND {last_year - age_min}"]
    if sex != "all":
        conditions_sql.append(f"p.sex = {_literal(sex)}")
    if municipality != "all":
        codes = _distinct(store, "municipality_code")
        if municipality not in codes:
            raise ParameterError(f"population: municipality={municipality!r} does not occur in this dataset; use "
                                 f"'all' or one of: {', '.join(codes[:12])}{' ...' if len(codes) > 12 else ''}.")
        conditions_sql.append(f"CAST(p.municipality_code AS VARCHAR) = {_literal(municipality)}")
    conditions = []
    for column, value in dict(where or {}).items():
        if column not in columns or column in NOT_CATEGORICAL:
            allowed = [c for c in columns if c not in NOT_CATEGORICAL]
            raise ParameterError(f"population: where={{{column!r}: ...}}: {column!r} is not a categorical column of "
                                 f"persons; use one of: {', '.join(allowed)}.")
        values = tuple(value) if isinstance(value, (list, tuple, set)) else (value,)
        observed = _distinct(store, column)
        for v in values:
            check_choice(f"where[{column!r}]", str(v), observed)
        conditions_sql.append(f"CAST(p.{_quote(column)} AS VARCHAR) IN ({', '.join(_literal(str(v)) for v in values)})")
        conditions.append((column, values if len(values) > 1 else values[0]))
    definition = PopulationDefinition(municipality=municipality, age_min=age_min, age_max=age_max, sex=sex,
                                      first_year=first_year, last_year=last_year, where=tuple(conditions))
    return Population(store, definition, " AND ".join(conditions_sql))


def _quote(column: str) -> str:
    return '"' + str(column).replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _columns(store) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(store.path("persons")).names)


def _distinct(store, column: str, *, where_sql: str = "TRUE") -> list[str]:
    """The values of a persons column (as text, sorted) among the persons ``where_sql`` selects, in DuckDB."""
    con = store.connect()
    try:
        rows = con.execute(f"SELECT DISTINCT CAST(p.{_quote(column)} AS VARCHAR) FROM persons p "
                           f"WHERE {where_sql} AND p.{_quote(column)} IS NOT NULL").fetchall()
    finally:
        con.close()
    return sorted(r[0] for r in rows)


__all__ = ["Population", "PopulationDefinition", "population"]
