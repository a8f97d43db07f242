"""Every file a run writes obeys the output rules (issue #13, "Done when").

Every study runs on a small synthetic dataset and for its smallest municipality through
``analysis.run.runner.run_study`` with the PDF; then every output file of every run is read:
report.pdf (text via pypdf), results.json, manifest.json, disclosure_log.json, published.json and the
executed notebook.ipynb (all its outputs). The checks:

- no results row with n < 10 unless it is withheld with n null;
- every share row passes numerator and complement (n*p and n*(1-p) >= 10); every published cell has 10+ units;
- no log (disclosure_log.json, the manifest's copy, published.json, notebook prints) gives the n of a
  withheld cell: a log record's n is "<10" or null;
- cells computed here from the raw dataset tables that rest on fewer than 10 persons (bijstand shares
  and working-age counts per municipality, the smallest municipality's working-age count per year, its
  mean programme cost) do not appear next to their label in the PDF text or the notebook outputs.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import nbformat
import pandas as pd
import pytest
import yaml

from analysis.report.escape import plain_text
from analysis.report.labels import fmt_eur, fmt_pct

MIN_UNITS = 10  # the CBS default policy
SMALL_PERSONS = 4_000
SMALL_SEED = 11
WORKING_AGE = (18, 66)  # overview's population: age = year - birth_year
LANG = "nl"  # the default report language: the formats below are Dutch


pytestmark = pytest.mark.xdist_group("disclosure_runs")  # one worker runs the shared runs (conftest.py)


@pytest.fixture(scope="module")
def small_dataset(disclosure_dataset):
    """The session's disclosure dataset (conftest.py), the draw these checks were written for."""
    meta = yaml.safe_load((disclosure_dataset / "dataset.yml").read_text())
    assert meta["name"] == f"synthetic-n{SMALL_PERSONS}-seed{SMALL_SEED}", meta["name"]
    return disclosure_dataset


def smallest_municipality(dataset) -> str:
    counts = pd.read_parquet(dataset / "persons.parquet")["municipality_code"].value_counts()
    return str(counts.idxmin())


def smallest_statline_municipality() -> str:
    from analysis.data.statline import load_participatiewet

    tables = load_participatiewet()
    gm = tables[(tables["region_type"] == "GM") & (tables["age_class"] == "all") & (tables["year"] == 2017)]
    return str(gm.sort_values("inhabitants")["region"].iloc[0])


def run_plan(dataset) -> dict:
    """(study, population) -> parameters: every study, on the dataset and for its smallest municipality."""
    small = smallest_municipality(dataset)
    plan = {}
    for study in ("overview", "intake", "exit_health", "intervention"):
        plan[(study, "all")] = {"dataset": str(dataset)}
        plan[(study, small)] = {"dataset": str(dataset), "municipality": small}
    plan[("benchmark", "GM0363")] = {}
    plan[("benchmark", smallest_statline_municipality())] = {"municipality": smallest_statline_municipality()}
    plan[("validation", "all")] = {}
    return plan


@pytest.fixture(scope="module")
def runs(small_dataset, disclosure_run):
    """Every run of the plan, with its PDF (run once per session: the small-population tests read some)."""
    done = {}
    for key, params in run_plan(small_dataset).items():
        given = {k: v for k, v in params.items() if k != "dataset"}
        done[key] = disclosure_run(key[0], dataset="dataset" in params, **given)
    return done


# -- reading the files --------------------------------------------------------------------------------
def pdf_lines(run_dir) -> list[str]:
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() or "" for page in PdfReader(run_dir / "report.pdf").pages)
    return [" ".join(line.split()) for line in text.splitlines()]


def notebook_lines(run_dir) -> list[str]:
    """Every line of every output (markdown, plain text, HTML stripped of tags, prints, errors); a
    Markdown table row becomes its cells separated by spaces, as in the PDF text."""
    nb = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {})
            for mime in ("text/markdown", "text/plain"):
                if mime in data:
                    texts.append(str(data[mime]))
            if "text/html" in data:
                texts.append(re.sub(r"<[^>]+>", " ", str(data["text/html"]).replace("</tr>", "\n")))
            if out.get("output_type") == "stream":
                texts.append(out.get("text", ""))
    lines = []
    for line in plain_text("\n".join(texts)).splitlines():
        if line.strip().startswith("|"):
            line = " ".join(c.strip() for c in line.strip().strip("|").split("|"))
        lines.append(" ".join(line.split()))
    return lines


def walk_log_records(obj):
    """Every dict shaped like a disclosure-log record ({object, cell, rule}) anywhere in a JSON value."""
    if isinstance(obj, dict):
        if {"object", "cell", "rule"} <= set(obj):
            yield obj
        for v in obj.values():
            yield from walk_log_records(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from walk_log_records(v)


def passes_share_rule(n, p) -> bool:
    return n * p >= MIN_UNITS and n * (1 - p) >= MIN_UNITS


def count_token(n: int) -> re.Pattern:
    """A count printed on its own (not part of a larger number, a decimal or a percentage)."""
    return re.compile(rf"(?<![\d.,]){n}(?![\d.,%])")


# -- cells computed from the raw data -------------------------------------------------------------------
def raw_small_cells(dataset, population: str) -> list[tuple[str, re.Pattern]]:
    """(label, pattern) pairs: a number resting on fewer than 10 persons that must not follow its label.

    - per municipality: persons aged 18-66 on 31 December of the last year and the share of them with
      bijstand that day (overview's table), where the count, numerator or complement is below 10;
    - for one municipality: its working-age count in each year below 10 (after the year, as a table row).
    """
    meta = yaml.safe_load((dataset / "dataset.yml").read_text())
    end = pd.Timestamp(meta["observation_end"])
    persons = pd.read_parquet(dataset / "persons.parquet")
    spells = pd.read_parquet(dataset / "benefit_spells.parquet")
    bij = spells[spells["benefit"] == "bijstand"]
    names = pd.read_parquet(dataset / "municipalities.parquet").set_index("municipality_code")["name"]
    cells = []
    day = pd.Timestamp(dt.date(end.year, 12, 31))
    age = end.year - persons["birth_year"]
    working = persons[(age >= WORKING_AGE[0]) & (age <= WORKING_AGE[1])]
    on_day = bij[(pd.to_datetime(bij["start_date"]) <= day)
                 & (pd.to_datetime(bij["end_date"]).isna() | (pd.to_datetime(bij["end_date"]) >= day))]
    with_bij = set(on_day["person_id"])
    for code, part in working.groupby("municipality_code"):
        n, k = len(part), int(part["person_id"].isin(with_bij).sum())
        label = str(names.get(code, code))
        if 0 < n < MIN_UNITS:
            cells.append((label, count_token(n)))
        if n and not passes_share_rule(n, k / n):
            cells.append((label, re.compile(re.escape(fmt_pct(k / n, LANG)))))
    if population != "all":
        mine = persons[persons["municipality_code"] == population]
        start = pd.Timestamp(meta["observation_start"]).year
        for year in range(start, end.year + 1):
            a = year - mine["birth_year"]
            n = int(((a >= WORKING_AGE[0]) & (a <= WORKING_AGE[1])).sum())
            if 0 < n < MIN_UNITS:
                cells.append((str(year), count_token(n)))
    return cells


def raw_small_means(dataset, population: str) -> list[str]:
    """Means of amounts over fewer than 10 persons, as the report would print them: the smallest
    municipality's mean cost of the most frequent programme."""
    if population == "all":
        return []
    inter = pd.read_parquet(dataset / "interventions.parquet")
    persons = pd.read_parquet(dataset / "persons.parquet")
    main = inter["intervention"].value_counts().index[0]
    mine = inter[(inter["intervention"] == main)
                 & inter["person_id"].isin(persons.loc[persons["municipality_code"] == population, "person_id"])]
    per_person = mine.groupby("person_id")["cost_eur"].sum()
    if 0 < len(per_person) < MIN_UNITS:
        return [fmt_eur(float(per_person.mean()), LANG)]
    return []


def plan_keys():
    """Test ids: each study on the whole dataset ("all") and for the smallest municipality ("small")."""
    return ["overview/all", "overview/small", "intake/all", "intake/small", "exit_health/all", "exit_health/small",
            "intervention/all", "intervention/small", "benchmark/all", "benchmark/small", "validation/all"]


def _run(runs, key: str):
    study, which = key.split("/")
    for (s, population), run_dir in runs.items():
        if s != study:
            continue
        is_all = population in ("all", "GM0363")
        if (which == "all") == is_all:
            return population, run_dir
    raise KeyError(key)


# -- the checks ---------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("key", plan_keys())
def test_results_rows_rest_on_ten_or_more_or_are_withheld_with_n_null(runs, key):
    _, run_dir = _run(runs, key)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["estimates"]
    for row in results["estimates"]:
        if row["suppressed"]:
            assert row["n"] is None and row["estimate"] is None and row["se"] is None, row
            assert row["ci_low"] is None and row["ci_high"] is None, row
        else:
            assert row["n"] is not None and row["n"] >= MIN_UNITS, row
            if row["unit"] == "share" and row["estimate"] is not None:
                assert passes_share_rule(row["n"], row["estimate"]), row


@pytest.mark.slow
@pytest.mark.parametrize("key", plan_keys())
def test_published_cells_rest_on_ten_or_more(runs, key):
    """published.json (for the output checker): every published cell's units reach the minimum. (Its n of
    a share over events is the distinct persons, so n*p there is not the numerator: the share rule is
    checked on the results rows above.)"""
    _, run_dir = _run(runs, key)
    published = json.loads((run_dir / "published.json").read_text())
    assert set(published) >= {"study", "dataset", "population", "policy", "cells"}
    for cell in published["cells"]:
        assert cell["n"] is None or cell["n"] >= MIN_UNITS, cell


@pytest.mark.slow
@pytest.mark.parametrize("key", plan_keys())
def test_no_log_gives_the_n_of_a_withheld_cell(runs, key):
    _, run_dir = _run(runs, key)
    files = {name: json.loads((run_dir / name).read_text())
             for name in ("disclosure_log.json", "manifest.json", "published.json", "results.json")}
    records = [r for data in files.values() for r in walk_log_records(data)]
    assert all(r.get("n") in (None, f"<{MIN_UNITS}") for r in records if "rule" in r), records
    if key.startswith(("exit_health", "intervention", "validation")):  # these name every withheld row
        # (benchmark rows CBS left unpublished are withheld at the source; overview and intake mark some
        # rows withheld before the policy sees them, so the log does not name them: reported, not ours)
        withheld = {r["name"] for r in files["results.json"]["estimates"] if r["suppressed"]}
        logged = {r["cell"] for r in files["disclosure_log.json"] if r["object"] == "results.json"}
        assert withheld <= logged, withheld - logged
    for line in notebook_lines(run_dir):  # prints and warnings name no count of withheld cells
        assert not re.search(r"\d+ (cells?|cellen|estimates?) (withheld|onderdrukt)", line), line


@pytest.mark.slow
@pytest.mark.parametrize("key", plan_keys())
def test_small_cells_from_the_raw_data_do_not_appear_next_to_their_label(runs, small_dataset, key):
    population, run_dir = _run(runs, key)
    if key.startswith(("benchmark", "validation")):
        pytest.skip("public data (StatLine, reference datasets): no microdata cells to compute")
    cells = raw_small_cells(small_dataset, population)
    assert cells, "the small dataset has municipalities below 10 persons: the scan must have work"
    for where, lines in (("report.pdf", pdf_lines(run_dir)), ("notebook.ipynb", notebook_lines(run_dir))):
        for label, pattern in cells:
            for line in lines:
                if line.startswith(label + " "):
                    rest = line[len(label):]
                    assert not pattern.search(rest), (where, label, pattern.pattern, line)
        text = "\n".join(lines)
        for amount in raw_small_means(small_dataset, population):
            assert amount not in text, (where, amount)
    assert (run_dir / "report.pdf").stat().st_size > 0
