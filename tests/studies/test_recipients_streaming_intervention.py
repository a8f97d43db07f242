"""The intervention study's risk sets from the population's recipients (issue #18) against the old computation.

``risk_sets`` now reads the bijstand spells of the population's recipients in SQL, and the persons rows,
programme starts, jobs and ladder steps of those persons only (``analysis.kit.events.person_rows``), instead of
whole tables in pandas. The old function, kept here verbatim as the reference, read everything; the frame, the
covariates and the units must be the same (exactly: the same rows in the same order, so the seeded draw of
comparison persons is the same), and the new path must not have read any whole raw table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

N_PERSONS = 4_000  # enough programme participants (>= 10) for the full design, features and ladder included
SEED = 8


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A project directory of the module's runs: the draw's store is built once."""
    return tmp_path_factory.mktemp("iv-home")


@pytest.fixture(scope="module")
def draw(home):
    from analysis.data.synthetic import generate

    return generate(home / "d", n_persons=N_PERSONS, seed=SEED)


def _start(draw, out, **population):
    import analysis as rd
    from analysis.studies import intervention

    run = rd.start("intervention", parameters={"dataset": str(draw), "output_dir": str(out)})
    opts = intervention.programme(run, intervention.options())
    return run, opts, rd.population(run.store, **population)


# ---- the old computation (whole tables in pandas), the reference --------------------------------------------

def old_risk_sets(run: Run, pop, opts: Options) -> Design:
    """The risk sets of ``opts.intervention`` in the population ``pop`` (``rd.population``): spells of its
    persons, start months in its years and its age band (age in years at the start month's year)."""
    from analysis.estimators.risk_set import risk_set_frame
    from analysis.studies.intervention.design import COVARIATES_BASE, LADDER, LADDER_MONTH, Design

    h, a = opts.outcome_months, opts.anticipation
    con = run.store.connect()
    meta = run.dataset.meta
    m1 = meta["observation_end"].year * 12 + meta["observation_end"].month - 1
    inter = run.dataset.tables["interventions"]
    inter = inter[inter["intervention"] == opts.intervention]
    starts = pd.DataFrame({"person_id": inter["person_id"],
                           "month": inter["start_date"].dt.year * 12 + inter["start_date"].dt.month - 1})
    spells = con.execute("SELECT person_id, start_month, end_month FROM bijstand_spells").df()
    spells = spells[spells["person_id"].isin(pop.person_ids)]
    # the risk set of a start in month m is formed in month m - a (its base month): the same calendar month and
    # spell duration then, comparison persons not started by m (risk_set_frame on the starts moved a months back)
    frame = risk_set_frame(spells, starts.assign(month=starts["month"] - a), max_controls=opts.max_controls,
                           seed=opts.seed)
    frame = frame.rename(columns={"month": "base_month"})
    frame.insert(1, "month", frame["base_month"] + a)  # the start month: outcomes run from it
    if opts.control_group == "not_yet_treated":  # comparison persons not started by the end of the window
        first = starts.groupby("person_id")["month"].min()
        later = frame["person_id"].map(first)
        frame = frame[(frame["treated"] == 1) | later.isna() | (later > frame["month"] + h)]
        frame = frame[frame.groupby("risk_set")["treated"].transform("min") == 0]  # a risk set needs comparisons
    frame = frame[frame["month"] + h <= m1].reset_index(drop=True)  # the full outcome window is observed
    d = pop.definition
    birth = pd.Series(pop.birth_year, index=pop.person_ids)
    year, age = frame["month"] // 12, frame["month"] // 12 - frame["person_id"].map(birth)
    frame = frame[year.between(d.first_year, d.last_year) & age.between(d.age_min, d.age_max)].reset_index(drop=True)
    units = (int(frame.loc[frame["treated"] == 1, "person_id"].nunique()),
             int(frame.loc[frame["treated"] == 0, "person_id"].nunique()))
    if min(units) < run.policy.min_units:
        return Design(frame=frame, covariates=(), units=units, estimable=False)
    con.register("rs", frame[["person_id", "month", "base_month"]].drop_duplicates())
    con.register("emp_raw", run.dataset.tables["employment_spells"])
    end = meta["observation_end"]
    # One pass of joins (no correlated subqueries: those do not scale to a million persons): per
    # risk-set row the spells of that person, aggregated.
    feats = con.execute(f"""
        WITH emp AS (SELECT person_id, year(start_date::DATE) * 12 + month(start_date::DATE) - 1 AS sm,
                            year(COALESCE(end_date::DATE, DATE '{end}')) * 12 + month(COALESCE(end_date::DATE, DATE '{end}')) - 1 AS em
                     FROM emp_raw),
        bij AS (
            SELECT r.person_id, r.month,
              sum(GREATEST(0, LEAST(b.end_month, r.month + {h}) - GREATEST(b.start_month, r.month + 1) + 1)) AS months_bijstand,
              sum(GREATEST(0, LEAST(b.end_month, r.base_month - 1) - GREATEST(b.start_month, r.base_month - 24) + 1))
                AS bij_months_24,
              arg_min(b.end_month, b.start_month) FILTER (WHERE r.base_month BETWEEN b.start_month AND b.end_month)
                AS spell_end,
              bool_or(b.censored) FILTER (WHERE r.base_month BETWEEN b.start_month AND b.end_month) AS spell_censored,
              arg_min(b.spell_id, b.start_month) FILTER (WHERE r.base_month BETWEEN b.start_month AND b.end_month)
                AS spell_id,
              arg_min(b.monthly_amount_eur, b.start_month) FILTER (WHERE r.base_month BETWEEN b.start_month AND b.end_month)
                AS monthly_amount_eur
            FROM rs r JOIN bijstand_spells b ON b.person_id = r.person_id
            GROUP BY r.person_id, r.month, r.base_month),
        em AS (
            SELECT r.person_id, r.month,
              max((r.month + {h} BETWEEN e.sm AND e.em)::INTEGER) AS employed_end,
              max((r.month + {LADDER_MONTH} BETWEEN e.sm AND e.em)::INTEGER) AS employed_ladder,
              sum(GREATEST(0, LEAST(e.em, r.base_month - 1) - GREATEST(e.sm, r.base_month - 24) + 1)) AS emp_months_24
            FROM rs r JOIN emp e ON e.person_id = r.person_id
            GROUP BY r.person_id, r.month, r.base_month),
        exits AS (SELECT spell_id, min(days_to_employment) AS days_to_job FROM bijstand_exits GROUP BY spell_id)
        SELECT r.person_id, r.month,
               COALESCE(bij.months_bijstand, 0) AS months_bijstand,
               COALESCE(em.employed_end, 0) AS employed_end,
               COALESCE(em.employed_ladder, 0) AS employed_ladder,
               COALESCE(em.emp_months_24, 0) AS emp_months_24,
               COALESCE(bij.bij_months_24, 0) AS bij_months_24,
               bij.spell_end, bij.spell_censored, x.days_to_job, bij.monthly_amount_eur
        FROM rs r LEFT JOIN bij USING (person_id, month) LEFT JOIN em USING (person_id, month)
             LEFT JOIN exits x ON x.spell_id = bij.spell_id""").df()
    persons = run.store.read("persons")
    frame = frame.merge(feats, on=["person_id", "month"]).merge(persons, on="person_id")
    ladder = run.dataset.tables.get("participation_ladder")
    covariates = list(COVARIATES_BASE)
    if ladder is not None and not ladder.empty:
        lad = ladder.assign(lmonth=ladder["date"].dt.year * 12 + ladder["date"].dt.month - 1)
        lad = lad.sort_values("lmonth")[["person_id", "lmonth", "step"]]
        keys = frame[["person_id", "month", "base_month"]].drop_duplicates().sort_values("base_month")
        last = pd.merge_asof(keys, lad, left_on="base_month", right_on="lmonth", by="person_id", direction="backward")
        frame = frame.merge(last[["person_id", "month", "step"]], on=["person_id", "month"], how="left")
        step = frame["step"].astype(float)  # a nullable integer column cannot hold the mean
        frame["ladder_missing"] = step.isna().astype(float)
        frame["ladder_step"] = step.fillna(step.mean())
        covariates += LADDER
        # Outcome: the step LADDER_MONTH months after the start: 6 (paid work) for the employed, else
        # the latest measurement up to then (a caseworker re-assesses at spell starts and yearly).
        keys = keys.assign(at=keys["month"] + LADDER_MONTH).sort_values("at")
        later = pd.merge_asof(keys, lad, left_on="at", right_on="lmonth", by="person_id", direction="backward")
        frame = frame.merge(later[["person_id", "month", "step"]].rename(columns={"step": "ladder_after"}),
                            on=["person_id", "month"], how="left")
        frame["ladder_step_12m"] = np.where(frame["employed_ladder"] == 1, 6.0, frame["ladder_after"])
    frame["female"] = (frame["sex"] == "F").astype(float)
    frame["age"] = frame["base_month"] // 12 - frame["birth_year"]  # covariates at the base month
    frame["age2"] = frame["age"] ** 2
    frame["year"] = frame["base_month"] // 12
    for col, val, name in (("education", "middle", "edu_middle"), ("education", "high", "edu_high"),
                           ("migration_background", "western", "mig_western"),
                           ("migration_background", "non_western", "mig_non_western")):
        frame[name] = (frame[col] == val).astype(float) if col in frame else 0.0
    munis = frame["municipality_code"].value_counts()
    big = [m for m in munis.index[1:] if munis[m] >= 50]
    for m in big:
        frame[f"muni_{m}"] = (frame["municipality_code"] == m).astype(float)
    covariates += [f"muni_{m}" for m in big]
    if opts.covariates:  # the researcher's subset
        covariates = [c for c in covariates if c in opts.covariates]
    dropped = tuple(c for c in covariates if frame[c].std() == 0 and c in opts.covariates)
    covariates = [c for c in covariates if frame[c].std() > 0]  # constants add nothing
    return Design(frame=frame, covariates=tuple(covariates), units=units, estimable=True, dropped=dropped)


# ---- equivalence --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("population, options", [
    ({}, {}),
    pytest.param({"age_min": 25, "age_max": 60, "first_year": 2015}, {}, marks=pytest.mark.slow),
    pytest.param({}, {"anticipation": 2, "control_group": "not_yet_treated"}, marks=pytest.mark.slow),
])
def test_risk_sets_from_the_recipients_equal_the_whole_table_risk_sets(draw, home, tmp_path, monkeypatch,
                                                                        population, options):
    from dataclasses import replace

    from analysis.studies import intervention

    monkeypatch.setenv("RENDEERT_HOME", str(home))
    run, opts, pop = _start(draw, tmp_path / "o", **population)
    opts = replace(opts, **options)
    new = intervention.risk_sets(run, pop, opts)
    assert run.dataset.tables.loaded() == []  # no raw table was read whole into pandas
    run2, _, pop2 = _start(draw, tmp_path / "o2", **population)
    old = old_risk_sets(run2, pop2, opts)
    assert new.estimable and old.estimable and "ladder_step_12m" in new.frame
    pd.testing.assert_frame_equal(new.frame, old.frame)
    assert (new.covariates, new.units, new.dropped) == (old.covariates, old.units, old.dropped)


def test_programme_costs_and_names_read_only_what_they_need(draw, home, tmp_path, monkeypatch):
    """The programme (most frequent), the costs per participant and the results names without reading a whole
    raw table, equal to what the whole interventions table gives."""
    from analysis.studies import intervention
    from analysis.studies.intervention.design import _names
    from analysis.studies.intervention.returns import _programme_costs

    monkeypatch.setenv("RENDEERT_HOME", str(home))
    run, opts, pop = _start(draw, tmp_path / "o")
    design = intervention.risk_sets(run, pop, opts)
    costs = _programme_costs(run, design, opts)
    names = _names(run, opts)
    assert run.dataset.tables.loaded() == []
    inter = pd.read_parquet(draw / "interventions.parquet")
    assert opts.intervention == inter["intervention"].value_counts().index[0]
    part = inter[(inter["intervention"] == opts.intervention)
                 & inter["person_id"].isin(design.frame.loc[design.frame["treated"] == 1, "person_id"])]
    expected = part.groupby("person_id")["cost_eur"].sum()
    assert len(costs) == design.units[0]
    np.testing.assert_array_equal(costs.index.to_numpy(), expected.index.to_numpy())
    np.testing.assert_array_equal(costs.to_numpy(), expected.to_numpy())
    assert "att_ladder_step_12m" in names
