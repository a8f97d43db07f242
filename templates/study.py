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
# Validate the parameters, load and check the dataset against the contract, build the processed store, and
# define the population (public API `import analysis as rd`, docs/writing-a-study.md).

# %%
import analysis as rd

run = rd.start("__STUDY_NAME__", parameters=dict(
    dataset=dataset, municipality=municipality, age_min=age_min, age_max=age_max, sex=sex, first_year=first_year,
    last_year=last_year, lang=lang, output_dir=output_dir))
pop = rd.population(run.store, municipality=municipality, age_min=age_min, age_max=age_max, sex=sex,
                    first_year=first_year, last_year=last_year)
run.report.markdown(rd.text.population_sentence(pop, lang=lang))

# %% [markdown]
# Example step: persons in the population (age on 31 December, sex, municipality) with a bijstand spell
# covering 31 December, per year. `safe_aggregate` returns a checked table: cells that rest on too few
# persons are withheld. Only checked tables reach the report, and each estimate takes its `n` from the table.

# %%
import numpy as np

panel = rd.person_year(pop, outcomes=["bijstand"])
frame = panel.to_frame().query("in_band").astype({"bijstand": float}).rename(columns={"period": "year"})
years = [int(y) for y in panel.periods]
shares = rd.safe_aggregate(frame, by=["year"], value="bijstand", stat="share", name="bijstand_share",
                           levels={"year": years}, policy=run.policy, log=run.report.log)
columns = {"year": rd.label("year", lang), "n": rd.label("n_persons", lang), "value": rd.label("share", lang)}
caption = {"nl": "Aandeel met bijstand op 31 december, per jaar",
           "en": "Share with bijstand on 31 December, per year"}[lang]
run.report.table(shares.relabel("year", str).rename(columns), caption=caption,
                 number_formats={columns["value"]: "pct", columns["n"]: "int"})
for row in shares.frame.itertuples():
    held = bool(np.isnan(row.value))
    se = None if held else float(np.sqrt(row.value * (1 - row.value) / row.n))
    run.add([{
        "name": f"bijstand_share_{row.year}", "unit": "share", "suppressed": held,
        "estimate": None if held else float(row.value), "se": se, "n": None if held else int(row.n),
        "ci_low": None if held else float(row.value - 1.96 * se),
        "ci_high": None if held else float(row.value + 1.96 * se),
    }])

# %% [markdown]
# Write results.json, published.json and the disclosure log.

# %%
run.finish();
