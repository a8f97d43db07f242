# %% [markdown]
# # __STUDY_TITLE__
#
# **Question.** What does this study ask, and for whom? (Replace this line with your question.)
#
# **Data.** Which dataset and tables it reads: by default the bundled synthetic register data, or any
# dataset in the shape of the data contract (`--dataset DIR`).
#
# **Estimand.** Which number answers the question, in which population. The example below: the share of
# the population with bijstand on 31 December, per year.
#
# **Assumption.** What identifies the estimand. The example is descriptive and needs none; a causal
# design names its own (parallel trends, no anticipation, ...).

# %% tags=["parameters"]
dataset: "str" = "data/raw/synthetic-default"  # dataset directory in the shape of the data contract
municipality: "str" = "all"  # 'all' or one municipality code (GM + 4 digits) that occurs in the dataset
age_min: "Annotated[int, Range(0, 120)]" = 18  # youngest age in the population, in years on 31 December
age_max: "Annotated[int, Range(0, 120)]" = 66  # oldest age in the population, in years on 31 December
sex: 'Literal["all", "F", "M"]' = "all"  # everyone, only women or only men
first_year: "Annotated[int, Range(1900, None)]" = 2014  # first calendar year studied
last_year: "Annotated[int, Range(1900, None)]" = 2023  # last calendar year studied
lang: 'Literal["nl", "en"]' = "nl"  # report language
output_dir: "str" = ""  # set by the runner: where results.json and figures go

# %% [markdown]
# Validate the parameters, load and check the dataset against the contract, build the processed store.

# %%
from analysis.errors import ParameterError
from analysis.studies.base import setup_study

study = setup_study("__STUDY_NAME__", dataset=dataset, lang=lang, output_dir=output_dir,
                    parameters=dict(municipality=municipality, age_min=age_min, age_max=age_max, sex=sex,
                                    first_year=first_year, last_year=last_year))
window = (study.dataset.meta["observation_start"].year, study.dataset.meta["observation_end"].year)
if age_min > age_max:
    raise ParameterError(f"age_min={age_min} exceeds age_max={age_max}; give age_min <= age_max.")
if not window[0] <= first_year <= last_year <= window[1]:
    raise ParameterError(f"first_year={first_year}, last_year={last_year}: the years must lie in the data's "
                         f"window {window[0]}-{window[1]}, first_year <= last_year; give years inside it.")

# %% [markdown]
# Example step: persons in the population (age on 31 December, sex, municipality) with a bijstand spell
# covering 31 December, per year. `safe_aggregate` returns a checked table: cells that rest on too few
# persons are withheld. Only checked tables reach the report, and each estimate takes its `n` from the table.

# %%
import numpy as np

from analysis.report.disclosure import safe_aggregate
from analysis.report.labels import t

frame = study.store.connect().execute("""
    SELECT y.year, CAST(EXISTS (SELECT 1 FROM bijstand_spells s WHERE s.person_id = p.person_id
               AND s.start_date <= make_date(y.year, 12, 31) AND s.end_date >= make_date(y.year, 12, 31))
           AS DOUBLE) AS bijstand
    FROM persons p CROSS JOIN (SELECT unnest(range($first, $last + 1)) AS year) y
    WHERE y.year - p.birth_year BETWEEN $age_min AND $age_max
      AND ($sex = 'all' OR p.sex = $sex) AND ($municipality = 'all' OR p.municipality_code = $municipality)
""", dict(first=first_year, last=last_year, age_min=age_min, age_max=age_max, sex=sex,
          municipality=municipality)).df()
years = list(range(first_year, last_year + 1))
shares = safe_aggregate(frame, by=["year"], value="bijstand", stat="share", name="bijstand_share",
                        levels={"year": years}, policy=study.report.policy, log=study.report.log)
columns = {"year": t("year", lang), "n": t("n_persons", lang), "value": t("share", lang)}
caption = {"nl": "Aandeel met bijstand op 31 december, per jaar",
           "en": "Share with bijstand on 31 December, per year"}[lang]
study.report.table(shares.relabel("year", str).rename(columns), caption=caption,
                   number_formats={columns["value"]: "pct", columns["n"]: "int"})
for row in shares.frame.itertuples():
    held = bool(np.isnan(row.value))
    se = None if held else float(np.sqrt(row.value * (1 - row.value) / row.n))
    study.add_estimates([{
        "name": f"bijstand_share_{row.year}", "unit": "share", "suppressed": held,
        "estimate": None if held else float(row.value), "se": se, "n": None if held else int(row.n),
        "ci_low": None if held else float(row.value - 1.96 * se),
        "ci_high": None if held else float(row.value + 1.96 * se),
    }])

# %% [markdown]
# Write results.json, published.json and the disclosure log.

# %%
study.finish();
