# %% [markdown]
# # Validation against published numbers
#
# Every reference case, our number beside the published one: R `did` on mpdta (Callaway & Sant'Anna), Card &
# Krueger's 2x2 DiD, the Rossi Cox model, Kaplan-Meier on the 6-MP trial, and LaLonde / Dehejia-Wahba. The PDF
# is what a reviewer reads before trusting the workbench; each row is also a test in tests/reference/.
#
# **Data.** Public reference datasets (R packages, published replication files), no person-level register
# microdata: the study has no person population and so no population parameters (docs/writing-a-study.md,
# "Studies without a person population"). Every row still passes disclosure control, with `n` the units of
# the reference dataset behind it.

# %% tags=["parameters"]
reference_dir: "str" = "tests/reference"  # directory with the reference cases and their data
lang: 'Literal["nl", "en"]' = "nl"  # report language
output_dir: "str" = ""  # set by the runner: where results.json and figures go

# %% [markdown]
# Validate the parameters and name the reference data (their directory and a fingerprint go into results.json).

# %%
import analysis as rd
from analysis.studies import validation

source = validation.reference_source(reference_dir)
run = rd.start_public("validation", title_key="validation.title", source=source,
                      parameters=dict(reference_dir=reference_dir, lang=lang, output_dir=output_dir))

# %% [markdown]
# The cases, one call each; every comparison has its tolerance and the reason for it (the same as in its test).

# %%
comparisons = validation.collect(
    validation.did_mpdta(source),         # R did: ATT(g,t), aggregations, pre-test; with covariate lpop
    validation.card_krueger(source),      # Card & Krueger (1994): 2x2 DiD, clustered se
    validation.cox_rossi(source),         # R coxph (Efron) on Rossi, also on (start, stop] rows
    validation.kaplan_meier_6mp(source),  # Kaplan-Meier on the 6-MP arm (Freireich 1963)
    validation.lalonde(source),           # NSW experiment, DW matching, IPW / AIPW on CPS-1
)
rows = run.add(comparisons.to_estimates())
comparisons

# %% tags=["summary"]
run.report.markdown(validation.summary_sentence(comparisons, lang=lang))
run.report.table(validation.table(comparisons, lang=lang), caption=rd.label("validation.caption", lang))

# %%
run.finish();
