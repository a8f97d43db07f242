"""Parameters declared once: ``name: "TYPE" = default  # help`` read with ast, values checked against it.

The accepted types and the messages are those of docs/architecture.md ("Parameters are declared once");
the help text is never parsed, and the older ``# help [a|b]`` form keeps its behaviour for ``.ipynb``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.errors import ParameterError
from analysis.run.catalog import Parameter, Study
from analysis.run.declarations import Range, is_declared_form, parse_declarations, parse_type
from analysis.run.params import validate_parameters

CELL = '''
# population
municipality: "str" = "all"  # 'all' or a code [not|choices] # hash inside help
age_min: "Annotated[int, Range(18, 66)]" = 18  # youngest age
window: "Annotated[int, Range(1, 36)]" = 12  # months before inflow
alpha: "Annotated[float, Range(0, 1)]" = 0.05  # test level
drift: "Annotated[float, Range(None, 0.5)]" = -1.5  # only an upper bound
sex: 'Literal["all", "F", "M"]' = "all"  # everyone, women or men
steps: "Literal[1, 3, 6]" = 6  # ladder step
covariates: "list[str]" = ["female", "age"]  # covariates
event_window: "list[int]" = [-4, 4]  # years around the event
by: "str" = "none"  # subgroups [none|sex]
bootstrap: "bool" = False  # draw bootstrap bands
ratio: "float" = 1  # an integer default of a float is fine
label: "str" = "a # not a comment"  # the help
output_dir: "str" = ""  # set by the runner
'''


def _study(source: str = CELL) -> Study:
    decls = parse_declarations(source, where="toy")
    params = tuple(Parameter(d.name, d.annotation, d.default_source, d.help, declaration=d) for d in decls)
    return Study(name="toy", notebook=Path("50_toy.py"), parameters=params, title="Toy")


def test_every_declared_type_is_read():
    d = {x.name: x for x in parse_declarations(CELL)}
    assert [x.name for x in d.values()][:3] == ["municipality", "age_min", "window"], "declaration order kept"
    assert (d["window"].kind, d["window"].range) == ("int", Range(1, 36))
    assert (d["alpha"].kind, d["alpha"].range) == ("float", Range(0, 1))
    assert d["drift"].range == Range(None, 0.5) and d["drift"].default == -1.5
    assert (d["sex"].kind, d["sex"].choices) == ("str", ("all", "F", "M"))
    assert (d["steps"].kind, d["steps"].choices) == ("int", (1, 3, 6))
    assert (d["covariates"].kind, d["covariates"].default) == ("list[str]", ["female", "age"])
    assert (d["event_window"].kind, d["event_window"].default) == ("list[int]", [-4, 4])
    assert d["bootstrap"].kind == "bool" and d["ratio"].kind == "float"
    assert d["label"].default == "a # not a comment" and d["label"].help == "the help"
    assert d["sex"].source == """sex: 'Literal["all", "F", "M"]' = "all"  # everyone, women or men"""
    assert d["sex"].default_source == '"all"' and d["sex"].annotation == 'Literal["all", "F", "M"]'


def test_help_text_is_never_parsed_for_choices():
    d = {x.name: x for x in parse_declarations(CELL)}
    assert d["municipality"].help == "'all' or a code [not|choices] # hash inside help"
    assert d["municipality"].choices is None and d["by"].choices is None
    checked = validate_parameters(_study(), {"by": "migration_background", "municipality": "GM0363"})
    assert checked == {"by": "migration_background", "municipality": "GM0363"}


@pytest.mark.parametrize("given,expected", [
    ({"window": "36", "age_min": 66}, {"window": 36, "age_min": 66}),
    ({"alpha": "0.1", "drift": "-100"}, {"alpha": 0.1, "drift": -100.0}),
    ({"sex": "F", "steps": "3"}, {"sex": "F", "steps": 3}),
    ({"covariates": "female, age", "event_window": "[-2, 3]"}, {"covariates": ["female", "age"],
                                                                  "event_window": [-2, 3]}),
    ({"covariates": "", "bootstrap": "ja"}, {"covariates": [], "bootstrap": True}),
    ({"event_window": [-1, 1], "ratio": 2}, {"event_window": [-1, 1], "ratio": 2.0}),
])
def test_values_are_converted_to_the_declared_type(given, expected):
    assert validate_parameters(_study(), given) == expected


@pytest.mark.parametrize("name,value,pattern", [
    ("window", "0", r"'window' received '0': outside the allowed range. Allowed: an integer from 1 to 36\. "
                    r"It is declared as `window: \"Annotated\[int, Range\(1, 36\)\]\" = 12  # months before inflow`\. "
                    r"Fix: .*`-p window 12`.*default 12"),
    ("window", "12.5", r"'window' received '12.5': not an integer\. Allowed: an integer from 1 to 36"),
    ("window", True, r"'window' received True: true/false is not an integer"),
    ("alpha", "1.5", r"'alpha' received '1.5': outside the allowed range. Allowed: a number from 0 to 1"),
    ("alpha", "nan", r"'alpha' received 'nan': not a finite number"),
    ("drift", "0.6", r"Allowed: a number of at most 0.5"),
    ("age_min", 17, r"'age_min' received 17: outside the allowed range. Allowed: an integer from 18 to 66"),
    ("sex", "X", r"'sex' received 'X': not one of the allowed values. Allowed: one of 'all', 'F', 'M'\. .*"
                 r"`-p sex all`"),
    ("steps", "2", r"'steps' received '2': not one of the allowed values. Allowed: one of 1, 3, 6"),
    ("event_window", "a,b", r"'event_window' received 'a,b': not an integer\. Allowed: a list of integers"),
    ("covariates", "[unclosed", r"'covariates' received '\[unclosed': not a readable list"),
    ("bootstrap", "maybe", r"'bootstrap' received 'maybe': not true or false"),
])
def test_refusals_name_parameter_value_allowed_and_fix(name, value, pattern):
    with pytest.raises(ParameterError, match=pattern):
        validate_parameters(_study(), {name: value})


def test_unknown_parameter_refused_listing_the_declarations():
    with pytest.raises(ParameterError, match=r"(?s)no parameter 'windw'.*Valid parameters:.*"
                                             r'window: "Annotated\[int, Range\(1, 36\)\]" = 12  # months'):
        validate_parameters(_study(), {"windw": 3})


@pytest.mark.parametrize("cell,pattern", [
    ('n: int = 3  # help', r'type of \'n\' must be a string, `n: "int" = \.\.\.`'),
    ('n: "integer" = 3', r"type 'integer' is not one the runner reads"),
    ('n: "list[float]" = []', r"type 'list\[float\]' is not one the runner reads"),
    ('n: "dict" = {}', r"type 'dict' is not one the runner reads"),
    ('n: "Literal[]" = 1', r"not one the runner reads"),
    ('n: "Literal[\'a\', 1]" = 1', r"mix text and integers"),
    ('n: "Literal[True]" = True', r"takes text or integer values"),
    ('n: "Annotated[str, Range(1, 2)]" = "a"', r"takes int or float with a Range"),
    ('n: "Annotated[int, Limits(1, 2)]" = 1', r"must be Range\(low, high\)"),
    ('n: "Annotated[int, Range(5, 1)]" = 3', r"Range\(5, 1\) is empty"),
    ('n: "Annotated[int, Range(1, x)]" = 3', r"a Range bound must be a number or None"),
    ('n: "int" = 3.5', r"default 3.5 of 'n' is not an integer"),
    ('n: "Annotated[int, Range(1, 36)]" = 40', r"default 40 of 'n' is not allowed by its own declaration"),
    ('s: \'Literal["nl", "en"]\' = "de"', r"default \"de\" of 's' is not allowed"),
    ('n: "list[int]" = [1, "a"]', r"is not a list of integers"),
    ('n: "int" = 1 + 2', r"default of 'n' must be a literal"),
    ('n: "int" = 1\nn: "int" = 2', r"line 2: 'n' is declared twice \(first on line 1\)"),
    ('n = 3', r"`n = 3` is not a declaration"),
    ('import os', r"`import os` is not a declaration"),
    ('n: "list[int]" = [1,\n   2]', r"spans several lines"),
    ('n: "int" = (', r"not valid Python"),
])
def test_malformed_declarations_refused_with_line(cell, pattern):
    with pytest.raises(ParameterError, match=pattern):
        parse_declarations(cell, where="50_toy.py, parameters cell")


def test_declared_form_is_told_from_the_older_form():
    assert is_declared_form('lang: "str" = "nl"  # language')
    assert not is_declared_form('lang: str = "nl"  # report language [nl|en]')
    assert parse_type("Annotated[int, Range(None, None)]", where="x") == ("int", None, Range(None, None))


def test_older_form_keeps_choices_from_help():
    """An .ipynb study not yet moved: type from papermill's inspection, allowed values from ``[a|b]``."""
    study = Study(name="old", notebook=Path("10_old.ipynb"), title="Old", parameters=(
        Parameter("lang", "str", '"nl"', "report language [nl|en]"),
        Parameter("n", "int", "3", "how many"),
    ))
    assert validate_parameters(study, {"lang": "en", "n": "4"}) == {"lang": "en", "n": 4}
    with pytest.raises(ParameterError, match=r"'lang' must be one of nl, en; received 'de'"):
        validate_parameters(study, {"lang": "de"})


def test_papermill_finds_every_declared_parameter():
    """papermill's own inspector finds none of `lang: 'Literal["nl", "en"]' = "nl"` and warns "Passed unknown
    parameter" for each one passed; with the runner's translator it reads the declaration."""
    import nbformat
    from papermill.execute import _infer_parameters

    from analysis.run.declarations import register_papermill_translator

    cell = nbformat.v4.new_code_cell('lang: "Literal[\'nl\', \'en\']" = "nl"  # report language\n'
                                     'months: "Annotated[int, Range(1, 36)]" = 12  # window\n')
    cell.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    register_papermill_translator()
    register_papermill_translator()  # idempotent
    found = _infer_parameters(nb)
    assert [p.name for p in found] == ["lang", "months"]
    assert found[1].default == "12" and found[0].help == "report language"
