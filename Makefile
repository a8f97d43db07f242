# Two commands do all set-up on a fresh machine that has only python3:
#   make report   create .venv, install, generate the bundled synthetic data, run every study
#   make test     create .venv, install, run the whole test suite
# Both are idempotent: nothing is reinstalled, regenerated or rerun when nothing changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATASET ?= data/raw/synthetic-default
PERSONS ?= 50000
SEED    ?= 1
PYTEST_ARGS ?=

SOURCES := $(shell find src notebooks -type f \( -name '*.py' -o -name '*.ipynb' -o -name '*.yml' -o -name '*.typ' -o -name '*.lua' \) 2>/dev/null)

.PHONY: report test lab data bench bench-scale clean help requirements-ra

help:
	@echo "make report | make test | make lab | make data | make bench | make bench-scale | make clean | make requirements-ra"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name rendeert --display-name "Python (rendeert)" >/dev/null
	@touch $(STAMP)

data: $(DATASET)/dataset.yml

# Regenerated when the simulator changed (a draw of an older simulator, e.g. without the experiments table,
# is not reused).
$(DATASET)/dataset.yml: $(wildcard src/analysis/data/synthetic/*.py) | $(STAMP)
	$(BIN)/rendeert synth --persons $(PERSONS) --seed $(SEED) --out $(DATASET)

# Reruns every study only when the code, the notebooks or the data changed.
reports/.make-report: $(STAMP) $(DATASET)/dataset.yml $(SOURCES)
	$(BIN)/rendeert run all --dataset $(DATASET)
	@touch $@

report: reports/.make-report
	@echo "Reports: reports/<study>/latest/report.pdf"

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --durations=15 $(PYTEST_ARGS)

# The studies are jupytext percent-format text notebooks (notebooks/NN_<name>.py): this makes JupyterLab open a
# .py file as a notebook on a double click (a setting of this venv only, not of your home directory). Saving
# writes the .py back, inputs only: outputs are never stored in it.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

$(LAB_OVERRIDES): | $(STAMP)
	@mkdir -p $(dir $@)
	$(BIN)/python -c "import json, pathlib, sys; p = pathlib.Path(sys.argv[1]); \
	s = json.loads(p.read_text()) if p.is_file() else {}; \
	s.setdefault('@jupyterlab/docmanager-extension:plugin', {}).setdefault('defaultViewers', {})['python'] = 'Jupytext Notebook'; \
	p.write_text(json.dumps(s, indent=2) + '\\n')" $@

lab: $(STAMP) $(LAB_OVERRIDES)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py --studies

# Issue #18: every step at national-scale sizes, each in a fresh process (benchmarks/scale.py): seconds, peak
# memory of the process tree, disk, growth factor -> benchmarks/results/scale.{md,json,png}. 1M and 4M by
# default; 18M once, outside CI, only when asked: make bench-scale SCALE_SIZES=1000000,4000000,18000000
# (SCALE_DATA=stack: copies of the bundled data with renamed ids, for memory and time only).
SCALE_SIZES  ?= 1000000,4000000
SCALE_CAP_GB ?= 14
SCALE_DATA   ?= generate
SCALE_ARGS   ?=
bench-scale: $(STAMP)
	$(BIN)/python benchmarks/scale.py --sizes $(SCALE_SIZES) --cap-gb $(SCALE_CAP_GB) --data-from $(SCALE_DATA) $(SCALE_ARGS)

clean:
	rm -rf data/processed/*/ reports/*/ reports/.make-report

# CBS Remote Access install route (README "Inside CBS Remote Access"). requirements-ra.txt pins every
# runtime dependency of pyproject.toml with == for CBS's Python (Windows, CPython 3.12), binary wheels
# only; requirements-ra-linux.txt pins the same versions for Linux / 3.12 (the CI check that installs
# and runs a study). RA_EXCLUDE_NEWER fixes the index snapshot, so a rerun gives the same pins; move it
# forward on purpose (and commit both files) to take newer releases.
RA_EXCLUDE_NEWER ?= 2026-12-01T00:00:00Z
RA_COMPILE = $(BIN)/uv pip compile pyproject.toml --python-version 3.12 --only-binary :all: \
	--exclude-newer $(RA_EXCLUDE_NEWER) --custom-compile-command "make requirements-ra" --quiet

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv

# setuptools and wheel are pinned too: inside RA the project is installed with
# pip install --no-deps --no-build-isolation, with no index to fetch its build backend from.
RA_BUILD = printf 'setuptools>=68\nwheel\n'

requirements-ra: | $(BIN)/uv
	$(RA_BUILD) | $(RA_COMPILE) --python-platform windows -o requirements-ra.txt -
	$(RA_BUILD) | $(RA_COMPILE) --python-platform linux -c requirements-ra.txt -o requirements-ra-linux.txt -
	@echo "requirements-ra.txt: $$(grep -c '==' requirements-ra.txt) pins for win_amd64 / CPython 3.12"
	@echo "requirements-ra-linux.txt: the same versions for Linux (CI installs it)"
