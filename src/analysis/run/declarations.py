"""Parameters declared once, in a study notebook's parameters cell.

One line per parameter, literals only::

    name: "TYPE" = default  # help

``TYPE`` is a string annotation, so the kernel never evaluates it; this module
reads it with :mod:`ast`. Accepted types:

- ``int``, ``float``, ``str``, ``bool``, ``list[str]``, ``list[int]``;
- ``Literal["nl", "en"]``: the allowed values (all text or all integers);
- ``Annotated[int, Range(1, 36)]`` or ``Annotated[float, Range(0.0, None)]``:
  a closed range, either bound ``None`` for "no bound".

The help text after ``#`` is free prose: it is shown, never parsed. The
default must itself be allowed by the declaration. A value given to a run is
converted to the declared type (command-line values arrive as text) and
checked; an error names the parameter, the value received, what is allowed and
how to fix it.
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize
from dataclasses import dataclass
from typing import Any

import yaml

from analysis.errors import ParameterError

#: The element types, by the name written in an annotation.
SCALARS = ("int", "float", "str", "bool")
LISTS = ("list[str]", "list[int]")
ACCEPTED = ('"int"', '"float"', '"str"', '"bool"', '"list[str]"', '"list[int]"', """'Literal["a", "b"]'""",
            '"Annotated[int, Range(1, 36)]"', '"Annotated[float, Range(0, None)]"')
_TRUE = {"true", "yes", "1", "y", "ja"}
_FALSE = {"false", "no", "0", "n", "nee"}
_INT_TEXT = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class Range:
    """A closed range ``low <= value <= high``; ``None`` leaves that side open."""

    low: int | float | None = None
    high: int | float | None = None

    def contains(self, value: int | float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self, kind: str) -> str:
        what = "an integer" if kind == "int" else "a number"
        if self.low is not None and self.high is not None:
            return f"{what} from {self.low} to {self.high}"
        if self.low is not None:
            return f"{what} of at least {self.low}"
        if self.high is not None:
            return f"{what} of at most {self.high}"
        return what


@dataclass(frozen=True)
class Declaration:
    """One declared parameter: its type, default, help and allowed values or range."""

    name: str
    kind: str  # one of SCALARS or LISTS
    annotation: str  # the TYPE text inside the quotes, e.g. 'Literal["nl", "en"]'
    default: Any  # the default as a Python value
    default_source: str  # the default as written
    help: str
    choices: tuple | None = None
    range: Range | None = None
    source: str = ""  # the declaration line as written
    line: int = 0  # its line in the parameters cell (1-based)

    def allowed(self) -> str:
        """What values are allowed, in words."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.range is not None:
            return self.range.describe(self.kind)
        return {
            "int": "an integer", "float": "a number", "str": "text", "bool": "true or false",
            "list[str]": "a list of text values (comma separated, or [a, b])",
            "list[int]": "a list of integers (comma separated, or [1, 2])",
        }[self.kind]

    def example(self) -> str:
        """A value that is allowed, as one would type it after ``-p NAME``."""
        if self.choices is not None:
            return str(self.choices[0])
        value = self.default
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, list):
            return ",".join(map(str, value)) or ('a,b' if self.kind == "list[str]" else "1,2")
        text = str(value)
        return text if text else '""'

    def refuse(self, value: Any, reason: str) -> ParameterError:
        return ParameterError(
            f"Parameter {self.name!r} received {value!r}: {reason}. Allowed: {self.allowed()}. "
            f"It is declared as `{self.source}`. Fix: give an allowed value (for example "
            f"`-p {self.name} {self.example()}`), or leave it out to use the default {self.default_source}."
        )

    def convert(self, value: Any) -> Any:
        """``value`` as the declared type, checked against the allowed values or range."""
        converted = _convert(self, value)
        if self.choices is not None and converted not in self.choices:
            raise self.refuse(value, "not one of the allowed values")
        if self.range is not None and not self.range.contains(converted):
            raise self.refuse(value, "outside the allowed range")
        return converted


def _convert_scalar(decl: Declaration, kind: str, value: Any, original: Any) -> Any:
    text = isinstance(value, str)
    if kind == "int":
        if isinstance(value, bool):
            raise decl.refuse(original, "true/false is not an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if text and _INT_TEXT.match(value.strip()):
            return int(value.strip())
        raise decl.refuse(original, "not an integer")
    if kind == "float":
        if isinstance(value, bool):
            raise decl.refuse(original, "true/false is not a number")
        try:
            number = float(value) if isinstance(value, (int, float)) or text else None
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            raise decl.refuse(original, "not a finite number")
        return number
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if text and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise decl.refuse(original, "not true or false")
    # str
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise decl.refuse(original, "not text")


def _convert(decl: Declaration, value: Any) -> Any:
    if decl.kind in SCALARS:
        return _convert_scalar(decl, decl.kind, value, value)
    items = value
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                items = yaml.safe_load(stripped)
            except yaml.YAMLError:
                raise decl.refuse(value, "not a readable list") from None
        else:
            items = [v.strip() for v in stripped.split(",") if v.strip()]
    if not isinstance(items, (list, tuple)):
        raise decl.refuse(value, "not a list")
    element = decl.kind[len("list["):-1]
    return [_convert_scalar(decl, element, v, value) for v in items]


# --- reading a parameters cell ---------------------------------------------------------------------

def _comments(source: str) -> dict[int, str]:
    """The comment on each line of ``source`` (tokenize: a ``#`` inside a string is not a comment)."""
    found = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                found[tok.start[0]] = tok.string[1:].strip()
    except (tokenize.TokenError, IndentationError):
        pass  # ast.parse reports the syntax error with its line
    return found


def _parse_bound(node: ast.expr, where: str) -> int | float | None:
    if isinstance(node, ast.Constant) and (node.value is None or (
            isinstance(node.value, (int, float)) and not isinstance(node.value, bool))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool):
        return -node.operand.value
    raise ParameterError(f"{where}: a Range bound must be a number or None; found `{ast.unparse(node)}`.")


def parse_type(annotation: str, *, where: str) -> tuple[str, tuple | None, Range | None]:
    """``(kind, choices, range)`` of a TYPE annotation; refuses anything not in :data:`ACCEPTED`."""
    bad = ParameterError(
        f"{where}: type {annotation!r} is not one the runner reads. Write one of: {', '.join(ACCEPTED)}."
    )
    try:
        node = ast.parse(annotation.strip(), mode="eval").body
    except SyntaxError:
        raise bad from None
    if isinstance(node, ast.Name) and node.id in SCALARS:
        return node.id, None, None
    if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
        raise bad
    base, arg = node.value.id, node.slice
    if base == "list" and isinstance(arg, ast.Name) and f"list[{arg.id}]" in LISTS:
        return f"list[{arg.id}]", None, None
    if base == "Literal":
        elts = arg.elts if isinstance(arg, ast.Tuple) else [arg]
        values = []
        for e in elts:
            if not (isinstance(e, ast.Constant) and isinstance(e.value, (str, int)) and not isinstance(e.value, bool)):
                raise ParameterError(f"{where}: Literal[...] takes text or integer values; found "
                                     f"`{ast.unparse(e)}`. Write for example 'Literal[\"nl\", \"en\"]'.")
            values.append(e.value)
        kinds = {type(v) for v in values}
        if len(kinds) != 1:
            raise ParameterError(f"{where}: the values of {annotation!r} mix text and integers; use one kind.")
        if len(set(values)) != len(values):
            raise ParameterError(f"{where}: {annotation!r} lists a value twice.")
        return ("str" if kinds == {str} else "int"), tuple(values), None
    if base == "Annotated" and isinstance(arg, ast.Tuple) and len(arg.elts) == 2:
        inner, meta = arg.elts
        if not (isinstance(inner, ast.Name) and inner.id in ("int", "float")):
            raise ParameterError(f"{where}: Annotated[...] takes int or float with a Range; found "
                                 f"`{ast.unparse(inner)}`.")
        if not (isinstance(meta, ast.Call) and isinstance(meta.func, ast.Name) and meta.func.id == "Range"
                and len(meta.args) == 2 and not meta.keywords):
            raise ParameterError(f"{where}: the second part of Annotated[...] must be Range(low, high) (either "
                                 f"may be None); found `{ast.unparse(meta)}`.")
        low, high = (_parse_bound(a, where) for a in meta.args)
        if low is not None and high is not None and low > high:
            raise ParameterError(f"{where}: Range({low}, {high}) is empty: the lower bound exceeds the upper one.")
        return inner.id, None, Range(low, high)
    raise bad


def parse_declarations(source: str, *, where: str = "parameters cell") -> tuple[Declaration, ...]:
    """Every declaration of a parameters cell, in order. ``where`` names the cell in messages."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ParameterError(f"{where}: not valid Python (line {exc.lineno}: {exc.msg}).") from None
    comments = _comments(source)
    lines = source.splitlines()
    found: dict[str, Declaration] = {}
    for stmt in tree.body:
        at = f"{where}, line {stmt.lineno}"
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None):
            raise ParameterError(
                f"{at}: `{lines[stmt.lineno - 1].strip()}` is not a declaration. The parameters cell holds only "
                'lines `name: "TYPE" = default  # help`; move other code to the next cell.'
            )
        name = stmt.target.id
        if stmt.end_lineno != stmt.lineno:
            raise ParameterError(f"{at}: the declaration of {name!r} spans several lines; write it on one line.")
        if not (isinstance(stmt.annotation, ast.Constant) and isinstance(stmt.annotation.value, str)):
            raise ParameterError(
                f"{at}: the type of {name!r} must be a string, `{name}: \"{ast.unparse(stmt.annotation)}\" = ...`, "
                "so that the runner reads it and the kernel never evaluates it."
            )
        if name in found:
            raise ParameterError(f"{at}: {name!r} is declared twice (first on line {found[name].line}).")
        kind, choices, rng = parse_type(stmt.annotation.value, where=f"{at} ({name})")
        try:
            default = ast.literal_eval(stmt.value)
        except (ValueError, SyntaxError):
            raise ParameterError(f"{at}: the default of {name!r} must be a literal (a number, text, true/false "
                                 f"or a list of them); found `{ast.unparse(stmt.value)}`.") from None
        decl = Declaration(name=name, kind=kind, annotation=stmt.annotation.value, default=default,
                           default_source=ast.get_source_segment(source, stmt.value) or ast.unparse(stmt.value),
                           help=comments.get(stmt.lineno, ""), choices=choices, range=rng,
                           source=lines[stmt.lineno - 1].strip(), line=stmt.lineno)
        _check_default(decl, at)
        found[name] = decl
    return tuple(found.values())


def _check_default(decl: Declaration, at: str) -> None:
    value = decl.default
    exact = {"int": int, "float": (int, float), "str": str, "bool": bool}
    if decl.kind in SCALARS:
        ok = isinstance(value, exact[decl.kind]) and (decl.kind == "bool" or not isinstance(value, bool))
    else:
        element = exact[decl.kind[len("list["):-1]]
        ok = isinstance(value, list) and all(isinstance(v, element) and not isinstance(v, bool) for v in value)
    if not ok:
        raise ParameterError(f"{at}: the default {decl.default_source} of {decl.name!r} is not {decl.allowed()} "
                             f"(declared {decl.annotation!r}).")
    try:
        decl.convert(value)
    except ParameterError:
        raise ParameterError(f"{at}: the default {decl.default_source} of {decl.name!r} is not allowed by its own "
                             f"declaration; allowed: {decl.allowed()}.") from None


def is_declared_form(source: str) -> bool:
    """Whether a parameters cell uses the string annotations of this module (else: the older form)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(s, ast.AnnAssign) and isinstance(s.annotation, ast.Constant)
               and isinstance(s.annotation.value, str) for s in tree.body)


def papermill_parameters(source: str) -> list:
    """The parameters of a declared parameters cell as papermill's ``Parameter`` tuples.

    papermill's own Python inspector reads annotations with a regular expression that stops at a quote
    or a bracket, so it finds no parameter in ``lang: 'Literal["nl", "en"]' = "nl"`` and warns "Passed
    unknown parameter" for every parameter a run passes; :class:`DeclaredPythonTranslator` answers with
    this parser instead (the one the runner validates with)."""
    from papermill.models import Parameter

    return [Parameter(d.name, d.kind, d.default_source, d.help) for d in parse_declarations(source)]


def register_papermill_translator() -> None:
    """Make papermill inspect declared parameters cells with :func:`papermill_parameters` (idempotent)."""
    from papermill.translators import PythonTranslator, papermill_translators

    class DeclaredPythonTranslator(PythonTranslator):
        @classmethod
        def inspect(cls, parameters_cell):
            source = parameters_cell["source"]
            if is_declared_form(source):
                try:
                    return papermill_parameters(source)
                except ParameterError:  # the runner reports a bad declaration itself, with its line
                    return []
            return super().inspect(parameters_cell)

    if papermill_translators._translators.get("python", None).__name__ != "DeclaredPythonTranslator":
        papermill_translators.register("python", DeclaredPythonTranslator)
