"""Shared test settings."""

import torch

# The tests train tiny MLPs on a few dozen rows, where intra-op threading only adds
# overhead (10x or more on small machines); faalgrad.experiments.run pins one thread too.
torch.set_num_threads(1)
