"""Shared test settings."""

import os

os.environ.setdefault(
    "MKL_CBWR", "AVX2"
)  # the MKL code path of the book's execution (see scripts/execute_notebook.py)

import torch  # noqa: E402

# The tests train tiny MLPs on a few dozen rows, where intra-op threading only adds
# overhead (10x or more on small machines); faalgrad.experiments.run pins one thread too.
torch.set_num_threads(1)
