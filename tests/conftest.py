"""Shared test settings."""

import os

os.environ.setdefault(
    "MKL_CBWR", "AVX2"
)  # the MKL code path of the book's execution (see scripts/execute_notebook.py)

import pytest
import torch

# The tests train tiny MLPs on a few dozen rows, where intra-op threading only adds
# overhead (10x or more on small machines); every run pins one thread too
# (faalgrad.train.single_thread).
torch.set_num_threads(1)

#: The FAALGRAD_* variables the Makefile passes to pytest as the inputs of a stage:
#: the rendered book of the HTML checks and the re-executed run rows of the results check.
MAKE_INPUTS = frozenset({"FAALGRAD_HTML", "FAALGRAD_RERUN_DATA"})


@pytest.fixture(autouse=True)
def _no_faalgrad_environment(monkeypatch):
    """Each test starts without the shell's ``FAALGRAD_*`` variables (run cache, data
    directory, ...), so a variable left set in the shell cannot change what a test computes
    or where it writes. A test that needs one sets it with ``monkeypatch.setenv``, which runs
    after this fixture; monkeypatch restores the shell's values after the test.

    Exempt: ``FAALGRAD_HTML`` and ``FAALGRAD_RERUN_DATA`` (:data:`MAKE_INPUTS`), which
    ``make test`` sets for the stages that read them (``tests/book/test_book.py`` and
    ``test_browser.py``, ``tests/book/test_results.py``).

    nbval's notebook items are not affected: they are not pytest functions, and their kernel
    is a subprocess started with the environment of ``make test``'s nbval stage, so the
    notebooks still see its ``FAALGRAD_RUN_CACHE`` and ``FAALGRAD_DATA_DIR``.
    """
    for name in list(os.environ):
        if name.startswith("FAALGRAD_") and name not in MAKE_INPUTS:
            monkeypatch.delenv(name)
