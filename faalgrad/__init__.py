"""faalgrad: a reproducible companion to *FaAlGrad: Fairness through Alignment of
Gradients across Different Subpopulations* (Malik & Mopuri, TMLR).

The public API: datasets, splits, the trainer, metrics, the estimator, the run grid and
Table 1. The book explains how they fit together. Names are imported on first use
(PEP 562), so ``import faalgrad.train`` loads the core alone, without the run grid, the
studies or their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Each public name and the module that defines it.
_HOMES = {
    "DATASETS": "faalgrad.datasets",
    "Dataset": "faalgrad.datasets",
    "load_dataset": "faalgrad.datasets",
    "FaAlGradClassifier": "faalgrad.estimator",
    "METRICS": "faalgrad.metrics",
    "aggregate": "faalgrad.metrics",
    "evaluate": "faalgrad.metrics",
    "erm_config": "faalgrad.presets",
    "faalgrad_config": "faalgrad.presets",
    "METHODS": "faalgrad.runs",
    "RunSpec": "faalgrad.runs",
    "run": "faalgrad.runs",
    "run_grid": "faalgrad.runs",
    "table1_specs": "faalgrad.runs",
    "SPLITS": "faalgrad.splits",
    "SplitData": "faalgrad.splits",
    "split_dataset": "faalgrad.splits",
    "support_query": "faalgrad.splits",
    "table1": "faalgrad.studies.table1",
    "TrainConfig": "faalgrad.train",
    "TrainResult": "faalgrad.train",
    "meta_gradient": "faalgrad.train",
    "train_erm": "faalgrad.train",
    "train_faalgrad": "faalgrad.train",
}

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

if TYPE_CHECKING:
    from faalgrad.datasets import DATASETS, Dataset, load_dataset
    from faalgrad.estimator import FaAlGradClassifier
    from faalgrad.metrics import METRICS, aggregate, evaluate
    from faalgrad.presets import erm_config, faalgrad_config
    from faalgrad.runs import METHODS, RunSpec, run, run_grid, table1_specs
    from faalgrad.splits import SPLITS, SplitData, split_dataset, support_query
    from faalgrad.studies.table1 import table1
    from faalgrad.train import TrainConfig, TrainResult, meta_gradient, train_erm, train_faalgrad


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'faalgrad' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
