"""Check and convert run parameters against a study's declared parameters.

Papermill only warns about unknown parameters; the runner refuses them, and
refuses values of the wrong type or outside the allowed values or range, before
any kernel starts. A parameter declared as ``name: "TYPE" = default  # help`` is
checked against its declaration (:mod:`analysis.run.declarations`); its help is
never parsed. The older form ``name: type = value  # help [a|b|c]`` (``.ipynb``
studies that have not moved yet) keeps its behaviour: the type papermill
inferred, and allowed values listed at the end of the help.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import yaml

from analysis.errors import ParameterError
from analysis.run.catalog import RUNNER_PARAMETERS, Study

_CHOICES = re.compile(r"\[([^\[\]]+\|[^\[\]]+)\]\s*$")
_TRUE = {"true", "yes", "1", "y", "ja"}
_FALSE = {"false", "no", "0", "n", "nee"}


def allowed_values(help_text: str) -> tuple[str, ...] | None:
    """Allowed values listed at the end of a help text as ``[a|b|c]``, if any."""
    m = _CHOICES.search(help_text or "")
    return tuple(v.strip() for v in m.group(1).split("|")) if m else None


def _convert(name: str, type_name: str, value: Any) -> Any:
    base = type_name.split("[")[0].strip().lower()
    text = isinstance(value, str)
    try:
        if base == "int":
            if isinstance(value, bool) or (not text and not isinstance(value, int)):
                raise ValueError
            return int(value)
        if base == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if base == "bool":
            if isinstance(value, bool):
                return value
            if text and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            raise ValueError
        if base in ("list", "tuple"):
            if text:
                parsed = yaml.safe_load(value) if value.strip().startswith("[") else [
                    v.strip() for v in value.split(",") if v.strip()
                ]
                value = parsed
            if not isinstance(value, (list, tuple)):
                raise ValueError
            return list(value)
        if base == "dict":
            if text:
                value = yaml.safe_load(value)
            if not isinstance(value, dict):
                raise ValueError
            return value
        if base == "str":
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError
            return str(value)
    except (ValueError, TypeError, yaml.YAMLError):
        raise ParameterError(
            f"Parameter {name!r} must be of type {type_name}; received {value!r}."
        ) from None
    return value  # an undeclared type (None): passed through as given


def read_yaml_file(p: Path, what: str):
    """A YAML file of plain values; a malformed or tagged (``!!python/...``) file is refused naming it."""
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ParameterError(f"{what} {str(p)!r} is not UTF-8 text; save it as UTF-8.") from None
    except OSError as exc:
        raise ParameterError(f"{what} {str(p)!r} cannot be read: {exc.strerror or exc}.") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParameterError(f"{what} {str(p)!r} is not plain YAML{where}: {problem}. Only plain values "
                             "(numbers, text, lists, mappings) are allowed; tags such as !!python/... are refused."
                             ) from None


def load_parameter_file(path: str | Path) -> dict:
    """Parameters from a YAML file (``-f params.yml``): a mapping of name to value."""
    p = Path(path)
    if not p.is_file():
        raise ParameterError(f"Parameter file {str(p)!r} does not exist.")
    data = read_yaml_file(p, "Parameter file") or {}
    if not isinstance(data, dict):
        raise ParameterError(f"Parameter file {str(p)!r} must hold a mapping name: value; found {type(data).__name__}.")
    return data


def validate_parameters(study: Study, given: Mapping[str, Any]) -> dict:
    """Checked and converted parameters for ``study``; raises ``ParameterError`` listing valid ones."""
    declared = {p.name: p for p in study.user_parameters}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        listing = "\n".join(f"  {p.describe()}" for p in declared.values())
        raise ParameterError(
            f"Study {study.name!r} has no parameter {', '.join(map(repr, unknown))}. "
            f"Valid parameters:\n{listing}"
        )
    checked = {}
    for name, value in given.items():
        spec = declared[name]
        if spec.declaration is not None:
            checked[name] = spec.declaration.convert(value)
            continue
        converted = _convert(name, spec.type_name, value)
        choices = allowed_values(spec.help)
        if choices is not None and str(converted) not in choices:
            raise ParameterError(
                f"Parameter {name!r} must be one of {', '.join(choices)}; received {converted!r}."
            )
        checked[name] = converted
    for name in RUNNER_PARAMETERS:
        checked.pop(name, None)
    return checked
