# Two entry points: `make run` (Table 1 in the terminal) and `make test` (the test suite);
# `make book` executes the notebooks (papermill) and builds the Jupyter Book into _build/html.
# Both create .venv from requirements.txt on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench book clean-venv

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m faalgrad table1 --seeds 5

# The second call re-executes the published notebooks (book/*.ipynb) and compares their
# outputs with nbval (about 3.5 minutes, mostly Table 1).
NBVAL_ENV := PYTHONHASHSEED=0 TQDM_DISABLE=1 PYTHONWARNINGS="ignore:IProgress not found"
test: $(STAMP)
	$(PY) -m pytest tests
	$(NBVAL_ENV) $(PY) -m pytest --nbval --nbval-current-env book/*.ipynb --nbval-sanitize-with tests/sanitize.cfg -p no:cacheprovider

bench: $(STAMP)
	$(PY) benchmarks/bench_trainer.py
	$(PY) benchmarks/bench_table1.py

# make book                      every notebooks/X.md -> book/X.ipynb (atomic), then _build/html
# make book NB=table1 PARAMS="-p datasets '[\"german\"]' -p seeds 2"
#                                one notebook with overridden parameters -> scratch/, book/ untouched
NB ?=
PARAMS ?=
book: $(STAMP)
ifeq ($(strip $(NB)),)
	$(PY) scripts/execute_notebook.py
	$(VENV)/bin/jupyter-book build . --all -W -n --keep-going
else
	$(PY) scripts/execute_notebook.py $(NB) --output-dir scratch $(PARAMS)
endif

clean-venv:
	rm -rf $(VENV)
