"""rd.start / Run.add / Run.finish write what StudyContext writes; text sentences follow the house style."""

from __future__ import annotations

import json

import pytest

from analysis.errors import ParameterError
from analysis.kit.run import start
from analysis.kit.text import effect_sentence, population_sentence

ROW = {"name": "att_x", "estimate": 0.034, "se": 0.01, "ci_low": 0.0144, "ci_high": 0.0536, "n": 250,
       "unit": "probability difference", "suppressed": False}


def test_finish_writes_the_files_of_the_older_studies(small, tmp_path):
    from analysis.studies.base import setup_study

    path, _, _ = small
    params = dict(age_min=50, age_max=66)
    run = start("kit_probe", parameters=dict(dataset=str(path), lang="en", output_dir=str(tmp_path / "a"), **params))
    old = setup_study("kit_probe", dataset=str(path), lang="en", output_dir=str(tmp_path / "b"), parameters=params)
    (checked,) = run.add([dict(ROW)])
    old.add_estimates([dict(ROW)])
    assert checked["n"] == 250 and not checked["suppressed"]
    run.finish()
    old.finish()
    for name in ("results.json", "published.json", "disclosure_log.json"):
        a = json.loads((tmp_path / "a" / name).read_text(encoding="utf-8"))
        b = json.loads((tmp_path / "b" / name).read_text(encoding="utf-8"))
        assert a == b, name
    with pytest.raises(ParameterError, match="added twice"):
        run.add([dict(ROW)])


def test_start_refuses_an_empty_age_band_before_building_anything(small, tmp_path):
    path, _, _ = small
    with pytest.raises(ParameterError, match="age_min=70 exceeds age_max=50"):
        start("kit_probe", parameters=dict(dataset=str(path), age_min=70, age_max=50, output_dir=str(tmp_path)))
    with pytest.raises(ParameterError, match="'dataset'"):
        start("kit_probe", parameters=dict(age_min=50))


def test_a_withheld_row_is_rejected_as_too_small(small, tmp_path):
    path, _, _ = small
    run = start("kit_probe", parameters=dict(dataset=str(path), output_dir=str(tmp_path)))
    (checked,) = run.add([dict(ROW, n=3)])  # below the CBS minimum of 10 units
    assert checked["suppressed"] and checked["estimate"] is None
    assert "niet gepubliceerd" in effect_sentence(checked, outcome="Antidepressiva", scale="pp")


def test_sentences_in_percentage_points_and_euros():
    # house style (COMMON.md, "One style for numbers"): effects on shares in percentage points, whole euros
    nl = effect_sentence(ROW, outcome="Antidepressiva", scale="pp", lang="nl")
    assert nl.startswith("Antidepressiva: 3,4 procentpunt (95%-betrouwbaarheidsinterval 1,4 procentpunt tot 5,4")
    en = effect_sentence(dict(ROW, estimate=-381.4, ci_low=-500.2, ci_high=-262.0), outcome="Costs", scale="eur",
                         lang="en")
    # the sentence is Markdown: a leading minus is escaped
    assert "€ -381 (95% confidence interval € -500 to € -262; 250 persons" in en.replace("\\", "")
    with pytest.raises(ParameterError, match="checked"):
        effect_sentence(0.03, outcome="x")


def test_population_sentence(small):
    from analysis.kit.population import population

    _, store, _ = small
    pop = population(store, age_min=50, age_max=66, sex="F")
    assert population_sentence(pop, lang="nl") == "Populatie: personen van 50 tot en met 66 jaar in 2014-2023, vrouwen."


def test_start_checks_the_parameters_against_the_notebook_declaration(small, tmp_path):
    path, _, _ = small
    with pytest.raises(ParameterError, match="'sex' received 'X'"):
        start("job_loss", parameters=dict(dataset=str(path), sex="X", output_dir=str(tmp_path)))
    with pytest.raises(ParameterError, match="no parameter 'window'"):
        start("job_loss", parameters=dict(dataset=str(path), window=3, output_dir=str(tmp_path)))
    run = start("job_loss", parameters=dict(dataset=str(path), age_min="55", output_dir=str(tmp_path)))
    assert run.parameters["age_min"] == 55 and run.lang == "nl"


def test_population_sentence_names_the_municipality_from_the_dataset():
    """A municipal population is named as the dataset's municipalities table names it, with its code; without
    the table, by its code."""
    from types import SimpleNamespace

    import pandas as pd

    from analysis.kit.population import PopulationDefinition
    from analysis.kit.text import population_sentence

    d = PopulationDefinition(municipality="GM0363", age_min=30, age_max=55, sex="F", first_year=2014, last_year=2023)
    table = pd.DataFrame({"municipality_code": ["GM0363", "GM0599"], "name": ["Amsterdam", "Rotterdam"]})
    named = SimpleNamespace(definition=d, store=SimpleNamespace(dataset=SimpleNamespace(tables={"municipalities": table})))
    bare = SimpleNamespace(definition=d, store=SimpleNamespace(dataset=SimpleNamespace(tables={})))
    assert "wonend in Amsterdam (GM0363)" in population_sentence(named, lang="nl")
    assert "living in GM0363" in population_sentence(bare, lang="en")
