"""faalgrad: a reproducible companion to *FaAlGrad: Fairness through Alignment of
Gradients across Different Subpopulations* (Malik & Mopuri, TMLR).

The public API: datasets, splits, the trainer, metrics, the estimator and the experiment
grid. See the README and the book for how they fit together.
"""
from faalgrad.datasets import DATASETS, Dataset, load_dataset
from faalgrad.estimator import FaAlGradClassifier
from faalgrad.experiments import METHODS, RunSpec, run, run_grid, table1, table1_specs
from faalgrad.metrics import METRICS, aggregate, evaluate
from faalgrad.presets import erm_config, faalgrad_config
from faalgrad.splits import SPLITS, SplitData, split_dataset, support_query
from faalgrad.train import TrainConfig, TrainResult, meta_gradient, train_erm, train_faalgrad

__all__ = [
    "DATASETS", "Dataset", "load_dataset",
    "FaAlGradClassifier",
    "METHODS", "RunSpec", "run", "run_grid", "table1", "table1_specs",
    "METRICS", "aggregate", "evaluate",
    "erm_config", "faalgrad_config",
    "SPLITS", "SplitData", "split_dataset", "support_query",
    "TrainConfig", "TrainResult", "meta_gradient", "train_erm", "train_faalgrad",
]
