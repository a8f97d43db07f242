"""Rule violations of a dataset, collected over every file and raised as one error.

A :class:`Problem` names the file, the column, the rule, the number of offending rows, up to
:data:`MAX_EXAMPLES` example rows with their values, and how to fix it. :class:`Problems`
collects them while ``load.py`` checks a dataset, and raises one ``DataValidationError`` for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.files import show_value
from analysis.errors import DataValidationError

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Problem:
    """One broken rule: where, which rule, how many rows, examples with their values, the fix."""

    file: str
    rule: str
    message: str
    fix: str
    column: str | None = None
    count: int | None = None
    examples: tuple = ()  # (row number counted from 1 after the header, "col='value', ...")

    def __str__(self) -> str:
        where = self.file + (f", column {self.column}" if self.column else "") + f", rule {self.rule}"
        if self.count is None:
            text = f"{where}: {self.message}."
        else:
            noun = "row has" if self.count == 1 else "rows have"
            shown = ", ".join(f"{row} ({vals})" if vals else str(row) for row, vals in self.examples)
            more = f" (the first {MAX_EXAMPLES} of {self.count:,})" if self.count > MAX_EXAMPLES else ""
            text = f"{where}: {self.count:,} {noun} {self.message}; {'row' if self.count == 1 else 'rows'} {shown}{more}."
        return f"{text} Fix: {self.fix.rstrip('.')}."


class Problems:
    """Collects rule violations of every file; raises them all at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[Problem] = []

    def add(self, file: str, *, rule: str, message: str, fix: str, column: str | None = None,
            mask=None, frame: pd.DataFrame | None = None, show=None) -> None:
        """Record a problem; with ``mask``, only when a row breaks it, with example rows and values.

        ``show`` lists the columns of ``frame`` whose values the examples print (default: ``column``).
        """
        if mask is None:
            self.items.append(Problem(file, rule, message, fix, column))
            return
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        if n == 0:
            return
        rows = np.flatnonzero(mask)[:MAX_EXAMPLES]
        cols = [c for c in (show if show is not None else [column] if column else [])
                if frame is not None and c in frame.columns]
        examples = tuple(
            (int(i) + 1, ", ".join(f"{c}={show_value(frame[c].iloc[i])}" for c in cols)) for i in rows)
        self.items.append(Problem(file, rule, message, fix, column, n, examples))

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            head = (f"{self.path}: the dataset breaks the data contract ({n} problem{'s' if n > 1 else ''}; "
                    "rows are data rows counted from 1, the header not counted):")
            err = DataValidationError("\n".join([head, *("- " + str(p) for p in self.items),
                                                 "Fix the extract; nothing was written."]))
            err.problems = tuple(self.items)
            raise err
