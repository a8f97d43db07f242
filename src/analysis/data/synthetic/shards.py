"""Shards: the simulator's seeding unit, and truths that add up over shards.

A shard is :data:`SHARD_PERSONS` consecutive persons. Every random number of a person comes from
their shard's own streams: the stream keyed ``key`` (e.g. ``(t,)`` for month ``t`` of the monthly model)
is ``default_rng([seed, *key])`` for shard 0, the stream the simulator has always used, so every
dataset of up to :data:`SHARD_PERSONS` persons is the same draw as before shards existed, and
``default_rng([seed, *key, SHARD_TAG, j])`` for shard ``j >= 1``. (Keys have at most three entries and
``j >= 1``, so no shard's key is another stream's key; numpy's ``SeedSequence`` does not tell trailing
zeros apart, which is why shard 0 is not ``[..., SHARD_TAG, 0]``.)

:class:`ShardStreams` gives the vectorised model of a block (consecutive shards simulated together)
each draw as the concatenation of the shards' own draws, in shard order: the same numbers as
simulating each shard alone. Draws per row of a derived table (a spell, a union) are split by the
shard of the row's person.

Truths are means, ratios and counts. Each is computed per shard (:func:`mean` gives a :class:`Ratio`,
a count is an int) and the shards' values are added in shard order (:func:`fold`) and divided at the
end (:func:`resolve`): the result does not depend on how shards are grouped into blocks, and for a
single shard ``num / den`` is bit for bit ``numpy.mean`` (the same pairwise sum divided by the count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, is_dataclass, replace

import numpy as np

#: Persons per shard (the seeding unit; recorded in truth.json as ``parameters.shard_persons``).
SHARD_PERSONS = 100_000
#: Marks a shard's stream key: ``[seed, *key, SHARD_TAG, j]`` for shard j >= 1.
SHARD_TAG = 0x5EED_5A4D


@dataclass(frozen=True)
class Layout:
    """The shards of one block: ``shards`` their global indices, ``bounds`` their first person's position
    in the block (and the block's size last), ``first`` the block's first person's global index."""

    first: int
    bounds: tuple
    shards: tuple

    @classmethod
    def of(cls, lo: int, hi: int, shard_persons: int) -> "Layout":
        """Persons ``lo`` .. ``hi - 1`` (``lo`` a multiple of ``shard_persons``)."""
        starts = list(range(lo, hi, shard_persons))
        return cls(first=lo, bounds=tuple(s - lo for s in starts) + (hi - lo,),
                   shards=tuple(s // shard_persons for s in starts))

    @classmethod
    def single(cls, n: int) -> "Layout":
        return cls(first=0, bounds=(0, int(n)), shards=(0,))

    @property
    def n(self) -> int:
        return self.bounds[-1]

    @property
    def slices(self) -> list:
        return [slice(a, b) for a, b in zip(self.bounds[:-1], self.bounds[1:])]

    def shard_of(self, rows) -> np.ndarray:
        """Position (0 .. len(shards) - 1) of the shard of each person index ``rows`` (block positions)."""
        return np.searchsorted(np.asarray(self.bounds[1:-1]), np.asarray(rows), side="right")


def stream_key(seed: int, key: tuple, shard: int) -> list:
    return [seed, *key] if shard == 0 else [seed, *key, SHARD_TAG, shard]


def shard_zero(seed: int, key: tuple) -> np.random.Generator:
    """Shard 0's stream ``key``: for a draw that is common to all persons (taken from it in every block)."""
    return np.random.default_rng(stream_key(seed, tuple(key), 0))


class ShardStreams:
    """One random stream per shard of a block, with the Generator's methods drawing per person.

    ``random(lead=(k,))`` is ``rng.random((k, n))``, ``random(tail=(k,))`` is ``rng.random((n, k))``;
    ``where=mask`` draws for the persons of ``mask`` (``rng.integers(a, b, mask.sum())``), ``rows=r`` for
    the rows of a derived table whose persons are ``r`` (``rng.integers(a, b, len(r))``). Each shard's
    stream gets the call with its own size, so the numbers are those of the shard simulated alone."""

    def __init__(self, seed: int, key: tuple, layout: Layout, *, generators: list | None = None):
        self.layout = layout
        self.generators = generators if generators is not None else [
            np.random.default_rng(stream_key(seed, tuple(key), j)) for j in layout.shards]

    @classmethod
    def wrap(cls, rng: np.random.Generator, n: int) -> "ShardStreams":
        """A single shard of ``n`` persons drawing from ``rng`` (callers that hold a Generator)."""
        return cls(0, (), Layout.single(n), generators=[rng])

    def _draw(self, method: str, args, *, lead=(), tail=(), where=None, rows=None):
        gens, slices = self.generators, self.layout.slices
        if rows is not None:
            rows = np.asarray(rows)
            if len(gens) == 1:
                return getattr(gens[0], method)(*args, size=len(rows))
            pos = self.layout.shard_of(rows)
            parts = [(pos == i, getattr(g, method)(*args, size=int((pos == i).sum()))) for i, g in enumerate(gens)]
            out = np.empty(len(rows), dtype=parts[0][1].dtype)
            for sel, values in parts:
                out[sel] = values
            return out
        if where is not None:
            parts = [getattr(g, method)(*args, size=int(np.count_nonzero(where[sl]))) for g, sl in zip(gens, slices)]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        parts = [getattr(g, method)(*args, size=(*lead, sl.stop - sl.start, *tail) if lead or tail
                                    else sl.stop - sl.start) for g, sl in zip(gens, slices)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=len(lead))

    def random(self, **kw):
        return self._draw("random", (), **kw)

    def normal(self, *args, **kw):
        return self._draw("normal", args, **kw)

    def integers(self, *args, **kw):
        return self._draw("integers", args, **kw)

    def gamma(self, *args, **kw):
        return self._draw("gamma", args, **kw)

    def advance(self, call) -> None:
        """Make the call ``call(generator)`` on every shard's stream (a draw that is not per person, e.g. a
        permutation of the municipalities, taken from shard 0's stream: every stream stays in step)."""
        for g in self.generators:
            call(g)


@dataclass(frozen=True)
class Ratio:
    """A mean or ratio as numerator and denominator, added over shards; ``empty`` when the denominator is 0."""

    num: float
    den: float
    empty: float | None = None

    def __add__(self, other: "Ratio") -> "Ratio":
        return Ratio(self.num + other.num, self.den + other.den, self.empty)

    def value(self):
        return self.num / self.den if self.den else self.empty


def mean(values, *, empty: float | None = math.nan) -> Ratio:
    """The mean of ``values`` as a :class:`Ratio` (numpy's sum, in float64 for integers and booleans)."""
    x = np.asarray(values)
    total = np.add.reduce(x, axis=None, dtype=np.float64 if x.dtype.kind in "biu" else None)
    return Ratio(float(total), int(x.size), empty)


def fold(a, b):
    """``a + b`` for truth trees: dicts key by key (a key in one only is kept), Ratios and counts added."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for key, value in b.items():
            out[key] = fold(a[key], value) if key in a else value
        return out
    if isinstance(a, Ratio) and isinstance(b, Ratio):
        return a + b
    if isinstance(a, (int, np.integer)) and isinstance(b, (int, np.integer)) and not isinstance(a, bool):
        return int(a) + int(b)
    raise TypeError(f"cannot add truth values {a!r} and {b!r} over shards: only Ratio, int and dicts of them")


def fold_all(trees):
    """:func:`fold` over the shards' truth trees in shard order (None: a shard without the truth)."""
    total = None
    for tree in trees:
        if tree is not None:
            total = tree if total is None else fold(total, tree)
    return total


def resolve(tree):
    """Divide every Ratio of a folded truth tree (counts stay ints)."""
    if isinstance(tree, dict):
        return {key: resolve(value) for key, value in tree.items()}
    if isinstance(tree, Ratio):
        return tree.value()
    return tree


def rows_of(obj, sl: slice):
    """A Population or World (or a dict of arrays / tuples of arrays) restricted to the persons ``sl``."""
    if isinstance(obj, dict):
        return {k: rows_of(v, sl) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(rows_of(v, sl) for v in obj)
    if isinstance(obj, np.ndarray):
        return obj[sl]
    if is_dataclass(obj):
        changes = {}
        for f in fields(obj):
            value = getattr(obj, f.name)
            if isinstance(value, np.ndarray):
                changes[f.name] = value[sl]
            elif f.name == "union_events":
                changes[f.name] = [(i - sl.start, *rest) for i, *rest in value if sl.start <= i < sl.stop]
        return replace(obj, **changes)
    return obj


def per_shard(layout: Layout, compute, *objects) -> list:
    """``compute(*objects restricted to the shard)`` for every shard of ``layout``, in shard order."""
    if len(layout.shards) == 1:
        return [compute(*objects)]
    return [compute(*(rows_of(o, sl) for o in objects)) for sl in layout.slices]
