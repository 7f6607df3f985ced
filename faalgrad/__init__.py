"""faalgrad: a reproducible companion to *FaAlGrad: Fairness through Alignment of
Gradients across Different Subpopulations* (Malik & Mopuri, TMLR).

The public API: datasets, splits, the trainer, metrics, the estimator, the run grid and
Table 1. The book explains how they fit together.
"""

from faalgrad.datasets import DATASETS, Dataset, load_dataset
from faalgrad.estimator import FaAlGradClassifier
from faalgrad.metrics import METRICS, aggregate, evaluate
from faalgrad.presets import erm_config, faalgrad_config
from faalgrad.runs import METHODS, RunSpec, run, run_grid, table1_specs
from faalgrad.splits import SPLITS, SplitData, split_dataset, support_query
from faalgrad.studies.table1 import table1
from faalgrad.train import TrainConfig, TrainResult, meta_gradient, train_erm, train_faalgrad

__all__ = [
    "DATASETS",
    "Dataset",
    "load_dataset",
    "FaAlGradClassifier",
    "METRICS",
    "aggregate",
    "evaluate",
    "erm_config",
    "faalgrad_config",
    "METHODS",
    "RunSpec",
    "run",
    "run_grid",
    "table1_specs",
    "SPLITS",
    "SplitData",
    "split_dataset",
    "support_query",
    "table1",
    "TrainConfig",
    "TrainResult",
    "meta_gradient",
    "train_erm",
    "train_faalgrad",
]
