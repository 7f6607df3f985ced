"""Fairness-aware meta-learning via Nash bargaining (Zeng et al., NeurIPS 2024) and its
one-stage baselines (Learning-to-Reweight, FORML, Meta-gDRO), on the MLPs of the core.

``config`` holds the settings, ``solver`` the bargaining solution, ``hypergrad`` the
per-example hypergradients and one reweighted step, ``trainer`` the training loop and the
synthetic two-group experiment. The Comparisons page of the book explains the method.
"""

from faalgrad.nash.config import NASH_METHODS, OBJECTIVES, NashConfig, nash_config, split_method
from faalgrad.nash.hypergrad import (
    MetaSet,
    StepInfo,
    hypergradients,
    meta_set,
    nash_step,
    objective_coefficients,
    per_example_grads,
    reweight,
)
from faalgrad.nash.solver import nbs_solve, nbs_solve_batch
from faalgrad.nash.trainer import (
    NashHistory,
    NashResult,
    NashTask,
    synthetic_two_group,
    train_nash,
    train_nash_batch,
    worst_group_auc,
)

__all__ = [
    "NASH_METHODS",
    "OBJECTIVES",
    "NashConfig",
    "nash_config",
    "split_method",
    "MetaSet",
    "StepInfo",
    "hypergradients",
    "meta_set",
    "nash_step",
    "objective_coefficients",
    "per_example_grads",
    "reweight",
    "nbs_solve",
    "nbs_solve_batch",
    "NashHistory",
    "NashResult",
    "NashTask",
    "synthetic_two_group",
    "train_nash",
    "train_nash_batch",
    "worst_group_auc",
]
