# %% [markdown]
# # Overview of a dataset
#
# **Question.** What does this dataset look like: who is in it, how many receive bijstand, how many enter
# and leave each year, how long spells last, how many partnerships end, and how health differs by bijstand
# status?
#
# **Data.** Any dataset in the shape of the data contract (the bundled synthetic register data by default).
# **Estimands.** Descriptive: shares, counts and a Kaplan-Meier median; no causal claim. This study proves the
# chain from dataset to report end to end. Every table and figure passes disclosure control before it is
# shown. The report's text comes from the label catalogue (`labels.d/overview.yml`); these markdown cells are
# notes for the researcher.

# %% tags=["parameters"]
dataset: "str" = "data/raw/synthetic-default"  # dataset directory in the shape of the data contract
municipality: "str" = "all"  # 'all' or one municipality code (GM + 4 digits): the same report for one gemeente
age_min: "Annotated[int, Range(0, 120)]" = 18  # youngest age counted in a year, on 31 December (working age from 18)
age_max: "Annotated[int, Range(0, 120)]" = 66  # oldest age counted in a year (66: up to the state pension age)
sex: 'Literal["all", "F", "M"]' = "all"  # everyone, only women or only men
first_year: "Annotated[int, Range(1900, None)]" = 2014  # first calendar year described
last_year: "Annotated[int, Range(1900, None)]" = 2023  # last calendar year described (its 31 December in the data)
lang: 'Literal["nl", "en"]' = "nl"  # report language
output_dir: "str" = ""  # set by the runner: where results.json and figures go (empty: a temporary directory)

# %% [markdown]
# Validate the parameters, load and check the dataset against the contract, build the processed store, and
# select the population: persons of `sex` living in `municipality`, aged `age_min`..`age_max` in some year of
# `first_year`..`last_year`. Each year's figures count the persons whose age lies in the band that year.

# %%
import analysis as rd
from analysis.report.labels import fmt_months, fmt_number, fmt_pct, t_plain
from analysis.studies import overview

run = rd.start("overview", title_key="overview.title", parameters=dict(
    dataset=dataset, municipality=municipality, age_min=age_min, age_max=age_max, sex=sex, first_year=first_year,
    last_year=last_year, lang=lang, output_dir=output_dir))
pop = rd.population(run.store, municipality=municipality, age_min=age_min, age_max=age_max, sex=sex,
                    first_year=first_year, last_year=last_year)
win = overview.window(pop)  # the years whose 31 December the data cover
AGES = f"{age_min}-{age_max}"
checks = dict(policy=run.policy, log=run.report.log)
names = overview.municipality_names(run.dataset)
run.report.markdown(rd.text.population_sentence(pop, lang=lang, municipality_name=names.get(municipality)))
run.report.markdown(rd.label("overview.definitions", lang, ages=AGES))

# %% [markdown]
# Who is in the data: persons of the band by sex and age band on 31 December of the last year. The total is
# published in the stock table below, so the withheld cells together must rest on 10 or more persons.

# %%
SEXES = {s: rd.label(label, lang) for s, label in (("F", "women"), ("M", "men")) if sex in ("all", s)}
people = overview.persons_by_age_band(pop, year=win.last, policy=run.policy)  # cells, counted in DuckDB
people["sex"] = people["sex"].map(SEXES)
table = rd.safe_aggregate_cells(people, by=["age_band", "sex"], stat="count", name="population", total_published=True,
                                levels={"age_band": overview.age_bands(pop), "sex": list(SEXES.values())}, **checks)
wide = table.pivot(index="age_band", columns="sex").rename({"age_band": rd.label("age_band", lang)})
run.report.table(wide, caption=rd.label("overview.population_caption", lang, ages=AGES, year=win.last),
                 number_formats={c: "int" for c in wide.values})

# %% [markdown]
# The bijstand stock on 31 December, as a share of the persons of the band; one results row per year
# (`bijstand_share_<year>`, with its binomial standard error).

# %%
on_dec31 = overview.bijstand_on_december_31(pop, win.years, by=["year"], policy=run.policy)
stock = rd.safe_aggregate_cells(on_dec31, by=["year"], stat="share", name="bijstand_share",
                                levels={"year": list(win.years)}, **checks)
run.add(overview.estimate_rows(stock, prefix="bijstand_share", key="year", unit="share", binomial_se=True))
yearly = stock.relabel("year", str)
run.report.figure(rd.figures.line_by_group(yearly.with_key("group", t_plain("bijstand", lang)), x="year", y="value",
                                           group="group", ylabel=t_plain("overview.share_working_age", lang, ages=AGES),
                                           percent=True, lang=lang),
                  caption=rd.label("overview.stock_caption", lang, ages=AGES))

# %%
from analysis.report.checked import combine
from analysis.report.disclosure import derived_counts

recipients = derived_counts(yearly, name="bijstand_recipients", log=run.report.log)
# a column heading is plain text (rd.label escapes its values for Markdown)
persons_label, share_label = t_plain("overview.working_age_persons", lang, ages=AGES), rd.label("share", lang)
stock_table = combine([(rd.label("overview.recipients", lang), recipients, "value"), (persons_label, yearly, "n"),
                 (share_label, yearly, "value")], on=["year"], name="bijstand_stock")
run.report.table(stock_table.rename({"year": rd.label("year", lang)}),
                 caption=rd.label("overview.stock_table_caption", lang, ages=AGES),
                 number_formats={share_label: "pct", rd.label("overview.recipients", lang): "int", persons_label: "int"})

# %% [markdown]
# The same share per municipality on 31 December of the last year (small cells withheld; the total over all
# municipalities is the stock table's last year, so the withheld cells are protected from it).

# %%
last = overview.bijstand_on_december_31(pop, [win.last], by=["municipality_code"], policy=run.policy)
by_muni = rd.safe_aggregate_cells(last, by=["municipality_code"], stat="share", total_published=True,
                                  name="bijstand_share_by_municipality", **checks)
by_muni = by_muni.relabel("municipality_code", lambda c: names.get(c, c), into="name").sort("value", ascending=False)
run.report.figure(rd.figures.bar(by_muni, x="value", y="name", percent=True, lang=lang,
                                 xlabel=t_plain("overview.share_working_age", lang, ages=AGES)),
                  caption=rd.label("overview.municipality_caption", lang, ages=AGES, year=win.last))
run.report.table(by_muni.rename({"name": rd.label("municipality", lang), "municipality_code": rd.label("code", lang),
                                 "n": persons_label, "value": share_label}),
                 caption=rd.label("overview.municipality_table_caption", lang, year=win.last),
                 number_formats={share_label: "pct", persons_label: "int"})

# %% [markdown]
# Flows: new spells (after a full calendar month without bijstand) and ended spells per year, of persons in the
# band that year. A person may start more than one spell in a year: the output rules count persons
# (`unit_id`). A year without any inflow (a small gemeente) is a count of 0, withheld as "x", not left out.

# %%
from analysis.report.checked import concat

years = {"year": list(win.years)}
tin = rd.safe_aggregate_cells(overview.inflow(pop, win, policy=run.policy), by=["year"], stat="count", levels=years,
                              per_unit=True, name="inflow", **checks)
tout = rd.safe_aggregate_cells(overview.outflow(pop, win, policy=run.policy), by=["year"], stat="count",
                               levels=years, per_unit=True, name="outflow", **checks)
run.add(overview.estimate_rows(tin, prefix="inflow", key="year", unit="spells"))
tin, tout = tin.relabel("year", str), tout.relabel("year", str)
in_label, out_label = rd.label("inflow", lang), rd.label("outflow", lang)
both = concat([tin.with_key("flow", t_plain("inflow", lang)), tout.with_key("flow", t_plain("outflow", lang))],
              name="flows")
run.report.figure(rd.figures.grouped_bars(both, x="year", y="value", group="flow",
                                          ylabel=t_plain("overview.spells", lang), lang=lang),
                  caption=rd.label("overview.flows_caption", lang, ages=AGES))
flows = combine([(in_label, tin, "value"), (out_label, tout, "value")], on=["year"], name="flows")
run.report.table(flows.rename({"year": rd.label("year", lang)}),
                 caption=rd.label("overview.flows_table_caption", lang, ages=AGES),
                 number_formats={in_label: "int", out_label: "int"})

# %% [markdown]
# How long spells last: Kaplan-Meier over the spells whose start is seen (in a year studied, the person in the
# band), spells still running at the end of the window censored. The curve stops where fewer than 10 remain
# at risk; the median is published where it rests on 10 or more spells on both sides.

# %%
from analysis.report.disclosure import survival_curve, survival_median

spans = overview.durations(pop, win)
if len(spans) < run.policy.min_units:  # a small gemeente: withheld, the rest of the report stands
    run.add([overview.withheld_row("median_spell_months", unit="months")])
    run.report.log.add("spell_durations", "all", "min_units")
    run.report.markdown(f"*{rd.label('overview.km_withheld', lang, min_units=run.policy.min_units)}*")
else:
    km = rd.kaplan_meier(spans, duration="months", event="ended")
    run.add([survival_median(km, name="median_spell_months", unit="months", **checks)])
    curve = survival_curve(km, name="spell_durations", **checks)
    run.report.figure(rd.figures.survival(curve, xlabel=t_plain("overview.months_since_start", lang),
                                          ylabel=t_plain("overview.still_in_bijstand", lang), lang=lang,
                                          min_units=run.policy.min_units),
                      caption=rd.label("overview.km_caption", lang))

# %% [markdown]
# Partnership ends per year by reason (the events the intake study starts from), of persons in the band that year.

# %%
ends = overview.partnership_ends(pop, win, policy=run.policy)  # cells by year and reason
ends["end_reason"] = ends["end_reason"].map(lambda r: rd.label(f"end_reason.{r}", lang))
reasons = sorted(ends["end_reason"].unique())
ended = rd.safe_aggregate_cells(ends, by=["year", "end_reason"], stat="count", name="partnership_ends",
                                levels={"year": list(win.years), "end_reason": reasons} if reasons else None, **checks)
wide = ended.relabel("year", str).pivot(index="year", columns="end_reason").rename({"year": rd.label("year", lang)})
run.report.table(wide, caption=rd.label("overview.partnership_caption", lang, ages=AGES),
                 number_formats={c: "int" for c in wide.values})

# %% [markdown]
# Health by bijstand status over the person-years of the band (descriptive: the exit_health study asks the causal
# question). Rows are person-years: the output rules count persons, a person's years are one contributor.

# %%
statuses = [rd.label("overview.in_bijstand", lang), rd.label("overview.not_in_bijstand", lang)]
health = {stat: overview.health_years(pop, win, stat=stat, policy=run.policy) for stat in ("share", "mean")}
for cells in health.values():  # cells by in_bijstand (True/False), labelled
    cells["status"] = cells.pop("in_bijstand").map({True: statuses[0], False: statuses[1]})
share = rd.safe_aggregate_cells(health["share"], by=["status"], stat="share", levels={"status": statuses},
                                per_unit=True, name="antidepressants_by_status", **checks)
costs = rd.safe_aggregate_cells(health["mean"], by=["status"], stat="mean", levels={"status": statuses},
                                per_unit=True, name="costs_by_status", **checks)
labels = {k: rd.label(f"overview.{k}", lang) for k in ("person_years", "antidepressants_share", "mean_costs")}
health_table = combine([(labels["person_years"], share, "n"), (labels["antidepressants_share"], share, "value"),
                        (labels["mean_costs"], costs, "value")], on=["status"], name="health_by_status")
run.report.table(health_table.rename({"status": rd.label("overview.status", lang)}),
                 caption=rd.label("overview.health_caption", lang, ages=AGES, first_year=win.years[0],
                                  last_year=win.last),
                 number_formats={labels["person_years"]: "int", labels["antidepressants_share"]: "pct",
                                 labels["mean_costs"]: "eur"})

# %% [markdown]
# Key numbers in one paragraph, built from the results rows as disclosure control checked them (the PDF shows
# this summary first); a withheld row shows as "x".

# %% tags=["summary"]
def shown(row, fmt):
    return rd.label("suppressed_short", lang) if row["suppressed"] or row["estimate"] is None else fmt(row["estimate"])


scope = (rd.label("overview.scope_all", lang) if municipality == "all"
         else rd.label("overview.scope_one", lang, code=municipality))
run.report.markdown(rd.label(
    "overview.summary", lang, dataset=run.dataset.meta.get("name"), scope=scope, ages=AGES, year=win.last,
    first_year=win.years[0],
    share=shown(run.estimate(f"bijstand_share_{win.last}"), lambda v: fmt_pct(v, lang)),
    first_share=shown(run.estimate(f"bijstand_share_{win.years[0]}"), lambda v: fmt_pct(v, lang)),
    inflow=shown(run.estimate(f"inflow_{win.last}"), lambda v: fmt_number(v, lang, digits=0)),
    median=shown(run.estimate("median_spell_months"), lambda v: fmt_months(v, lang, digits=0))))
run.report.say_withheld()

# %% [markdown]
# Write results.json, published.json and the disclosure log.

# %%
run.finish();
