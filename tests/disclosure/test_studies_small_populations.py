"""Small populations never crash (issue #13, item 6): exit_health, intervention and benchmark run to the
end on a 30-person dataset and for the smallest municipality, withhold what rests on too few persons,
and say so in a sentence.

The design facts are computed here from the raw dataset tables (not from the study): a person who leaves
bijstand for work has a bijstand spell whose end is followed by an employment start within 31 days.
The store merges spells with short gaps, so every exit the study sees is also such a raw exit; the raw
count is therefore an upper bound on the units behind an estimate, and an upper bound below 10 proves
the estimate rests on fewer than 10 persons.
"""

from __future__ import annotations

import json
import shutil

import nbformat
import pandas as pd
import pytest
import yaml

from analysis.run.runner import run_study

MIN_UNITS = 10  # the CBS default policy
SMALL_PERSONS = 4_000
SMALL_SEED = 11
EXIT_WINDOW_DAYS = 31  # the study's default: a job within this many days of the spell's end
# one day either side of the window: the raw bound must include every exit the store could see
SLACK_DAYS = 1


pytestmark = pytest.mark.xdist_group("disclosure_runs")  # its runs are shared with test_output_files.py


@pytest.fixture(scope="module")
def base_dataset(disclosure_dataset):
    """The session's disclosure dataset (conftest.py), the draw these checks were written for."""
    meta = yaml.safe_load((disclosure_dataset / "dataset.yml").read_text())
    assert meta["name"] == f"synthetic-n{SMALL_PERSONS}-seed{SMALL_SEED}", meta["name"]
    return disclosure_dataset


def raw_exits_to_work(dataset) -> pd.DataFrame:
    """person_id, year of every raw bijstand spell end followed by a job start within the window (+ slack)."""
    spells = pd.read_parquet(dataset / "benefit_spells.parquet")
    jobs = pd.read_parquet(dataset / "employment_spells.parquet")[["person_id", "start_date"]]
    ends = spells[(spells["benefit"] == "bijstand") & spells["end_date"].notna()][["person_id", "end_date"]]
    pairs = ends.merge(jobs, on="person_id")
    gap = (pd.to_datetime(pairs["start_date"]) - pd.to_datetime(pairs["end_date"])).dt.days
    hit = pairs[(gap >= -SLACK_DAYS) & (gap <= EXIT_WINDOW_DAYS + SLACK_DAYS)]
    return pd.DataFrame({"person_id": hit["person_id"], "year": pd.to_datetime(hit["end_date"]).dt.year})


def subset_dataset(src, out, person_ids, name: str):
    """The dataset restricted to ``person_ids`` (a valid contract dataset: every table filtered)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    ids = set(person_ids)
    for f in src.glob("*.parquet"):
        table = pd.read_parquet(f)
        if "person_id" in table:
            table = table[table["person_id"].isin(ids)]
        table.to_parquet(out / f.name, index=False)
    meta = yaml.safe_load((src / "dataset.yml").read_text())
    meta["name"] = name
    (out / "dataset.yml").write_text(yaml.safe_dump(meta))
    return out


def tiny_dataset_from(base, out):
    """30 persons: 6 leaving for work late in the window, 6 early, 13 other recipients, 5 participants."""
    meta = yaml.safe_load((base / "dataset.yml").read_text())
    last = pd.Timestamp(meta["observation_end"]).year
    exits = raw_exits_to_work(base)
    first = exits.groupby("person_id")["year"].min()
    late = list(first[first >= last - 1].index[:6])
    early = list(first[(first < last - 3) & (first > last - 8)].index[:6])
    spells = pd.read_parquet(base / "benefit_spells.parquet")
    recipients = spells.loc[spells["benefit"] == "bijstand", "person_id"].unique()
    others = [p for p in recipients if p not in set(exits["person_id"])][:13]
    inter = pd.read_parquet(base / "interventions.parquet")
    chosen = set(late + early + others)
    participants = [p for p in inter["person_id"].unique() if p not in chosen][:5]
    return subset_dataset(base, out, late + early + others + participants, "tiny-30")


@pytest.fixture(scope="module")
def tiny_dataset(base_dataset, tmp_path_factory):
    return tiny_dataset_from(base_dataset, tmp_path_factory.mktemp("tiny") / "tiny-30")


@pytest.fixture(scope="module")
def smallest_code(base_dataset):
    counts = pd.read_parquet(base_dataset / "persons.parquet")["municipality_code"].value_counts()
    return str(counts.idxmin())


def check_rows(run_dir) -> dict:
    """Every results.json row is withheld (numbers and n null) or rests on 10 or more units."""
    results = json.loads((run_dir / "results.json").read_text())
    for row in results["estimates"]:
        if row["suppressed"]:
            assert row["estimate"] is None and row["se"] is None and row["n"] is None, row
        else:
            assert row["n"] is not None and row["n"] >= MIN_UNITS, row
    log = json.loads((run_dir / "disclosure_log.json").read_text())
    assert all(e["n"] in (None, f"<{MIN_UNITS}") for e in log), log
    return {r["name"]: r for r in results["estimates"]}


def notebook_markdown(run_dir) -> str:
    nb = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    return "\n".join(str(o.get("data", {}).get("text/markdown", "")) for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))


@pytest.mark.slow
def test_exit_health_on_30_persons_withholds_event_times_resting_on_fewer_than_10(tiny_dataset, tmp_path):
    meta = yaml.safe_load((tiny_dataset / "dataset.yml").read_text())
    last = pd.Timestamp(meta["observation_end"]).year
    first = raw_exits_to_work(tiny_dataset).groupby("person_id")["year"].min()
    assert len(pd.read_parquet(tiny_dataset / "persons.parquet")) == 30
    bound_e3 = int((first <= last - 3).sum())  # a leaver in e=3 must have exited by last - 3
    assert bound_e3 < MIN_UNITS, "the tiny dataset is built so that e=3 rests on fewer than 10 persons"
    outcome = run_study("exit_health", {"dataset": str(tiny_dataset)}, out_root=tmp_path, progress=False, pdf=False)
    rows = check_rows(outcome.run_dir)
    for name in ("att_healthcare_costs_eur_e3", "att_antidepressants_e3"):
        assert rows[name]["suppressed"] and rows[name]["n"] is None, rows[name]
    assert "Wegens geheimhouding" in notebook_markdown(outcome.run_dir)


@pytest.mark.slow
@pytest.mark.parametrize("study", ["exit_health", "intervention"])
def test_smallest_municipality_withholds_everything_and_says_why(study, smallest_code, disclosure_run):
    run_dir = disclosure_run(study, municipality=smallest_code)  # the run test_output_files.py scans too
    rows = check_rows(run_dir)
    assert rows and all(r["suppressed"] for r in rows.values())
    text = notebook_markdown(run_dir)
    assert "Niet gepubliceerd." in text and "minder dan 10" in text
    assert "Wegens geheimhouding" in text


@pytest.mark.slow
def test_intervention_on_30_persons_runs_and_withholds(tiny_dataset, tmp_path):
    outcome = run_study("intervention", {"dataset": str(tiny_dataset)}, out_root=tmp_path, progress=False, pdf=False)
    rows = check_rows(outcome.run_dir)
    assert all(r["suppressed"] for r in rows.values())
    assert "Niet gepubliceerd." in notebook_markdown(outcome.run_dir)


@pytest.mark.slow
def test_exit_health_covariates_in_a_tiny_population_never_crash(tiny_dataset, tmp_path):
    """With covariates a small exit cohort can make the covariate model singular: withheld, not a crash."""
    outcome = run_study("exit_health", {"dataset": str(tiny_dataset), "covariates": ["female", "age"],
                                        "control_group": "never_treated"}, out_root=tmp_path, progress=False, pdf=False)
    check_rows(outcome.run_dir)


@pytest.mark.slow
def test_benchmark_without_cbs_figures_says_so(tmp_path):
    """Schiermonnikoog (GM0088) has no recipients of pension age in StatLine: a sentence, not a KeyError."""
    outcome = run_study("benchmark", {"municipality": "GM0088", "age_class": "from_pension_age"}, out_root=tmp_path,
                        progress=False, pdf=False)
    rows = check_rows(outcome.run_dir)
    assert rows["bijstand_density"]["suppressed"] and rows["percentile_bijstand_density"]["suppressed"]
    from analysis.studies.benchmark import municipality_names

    shown = municipality_names(2017).get("GM0088", "GM0088")  # the code where the names file is not bundled
    assert f"CBS publiceerde voor {shown} in 2017 geen cijfers" in notebook_markdown(outcome.run_dir)
