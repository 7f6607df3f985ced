"""The spec grids of the paper's tables: Table 1, the protected-input rerun, the ratio and
swap ablations (Tables 2-4) and the Comparisons page. Grids built here are identical
wherever they are used, so a book build's run cache computes each run once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

import numpy as np
import pandas as pd

from faalgrad.datasets import DATASETS, load_dataset
from faalgrad.mitigators import MITIGATORS
from faalgrad.nash import NASH_METHODS, nash_config
from faalgrad.runs.spec import RunSpec
from faalgrad.splits import (
    PAPER_RATIOS,
    format_ratio,
    parse_ratio,
    support_query,
    train_val_test_indices,
)
from faalgrad.validation import check_choice, check_dataset, check_seed_counts, check_seeds

__all__ = [
    "INFEASIBLE_COLUMNS",
    "PROTECTED_INPUT_ROWS",
    "STUDIES",
    "TABLE1_ROWS",
    "ablation_specs",
    "comparison_specs",
    "infeasibility",
    "nash_overrides",
    "protected_input_specs",
    "table1_specs",
]

#: Table 1's rows: (row name, method, inner steps or None).
TABLE1_ROWS: tuple[tuple[str, str, int | None], ...] = (
    ("baseline", "erm", None),
    ("mba_dp", "mba_dp", None),
    ("mba_eod", "mba_eod", None),
    ("threshold", "threshold", None),
    ("config1", "faalgrad", 1),
    ("config1", "faalgrad", 10),
    ("config2", "faalgrad", 1),
    ("config2", "faalgrad", 10),
)

#: Table 1 rows re-run without the protected attribute among the inputs (I = 1 only).
PROTECTED_INPUT_ROWS: tuple[tuple[str, str, int], ...] = (
    ("baseline", "erm", 1),
    ("threshold", "threshold", 1),
    ("config1", "faalgrad", 1),
    ("config2", "faalgrad", 1),
)

#: The ablations: X_s filled with protected (``ratio``) or unprotected (``swap``) samples.
STUDIES: tuple[str, ...] = ("ratio", "swap")
INFEASIBLE_COLUMNS = ["dataset", "split", "inner_steps", "ratio", "xq_xs", "reason"]


def table1_specs(
    datasets: Iterable[str] = DATASETS,
    seeds: int | Mapping[str, int] = 5,
    *,
    include_protected: bool = True,
    **overrides,
) -> list[RunSpec]:
    """Every run of Table 1: the :data:`TABLE1_ROWS` times ``seeds`` per dataset.

    Parameters
    ----------
    datasets : iterable of str
        Names from :data:`~faalgrad.datasets.DATASETS`.
    seeds : int or mapping
        Seeds 0..seeds-1, for all datasets or per dataset (``{"compas": 20, ...}``).
    include_protected : bool
        Whether the protected attribute is an input.
    **overrides
        Settings replacing each method's dataset preset.

    Returns
    -------
    list of RunSpec
    """
    datasets = [check_dataset(d) for d in datasets]
    counts = check_seed_counts(seeds, datasets)
    specs = []
    for dataset in datasets:
        for seed in range(counts[dataset]):
            for row, method, inner in TABLE1_ROWS:
                split = row if method == "faalgrad" else "config1"
                specs.append(
                    RunSpec(
                        dataset,
                        method,
                        split=split,
                        inner_steps=inner or 1,
                        seed=seed,
                        include_protected=include_protected,
                        overrides=overrides,
                    )
                )
    return specs


def protected_input_specs(datasets: Iterable[str], seeds: int | Mapping[str, int]) -> list[RunSpec]:
    """The :data:`PROTECTED_INPUT_ROWS` runs.

    Their inputs exclude the protected attribute; ``seeds`` as in :func:`table1_specs`.
    """
    datasets = list(datasets)
    counts = check_seed_counts(seeds, datasets)
    return [
        RunSpec(
            dataset,
            method,
            split=row if method == "faalgrad" else "config1",
            inner_steps=inner,
            seed=seed,
            include_protected=False,
        )
        for dataset in datasets
        for seed in range(counts[dataset])
        for row, method, inner in PROTECTED_INPUT_ROWS
    ]


@lru_cache(maxsize=64)
def _train_labels(dataset: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    ds = load_dataset(dataset)
    train, _, _ = train_val_test_indices(ds.y, ds.a, seed)
    return ds.y[train], ds.a[train]


def infeasibility(dataset: str, split: str, ratio: float | str, seed: int = 0) -> str | None:
    """The support/query builder's ``ValueError`` text if ``ratio`` is infeasible, else ``None``.

    Checked on ``seed``'s split.
    """
    y, a = _train_labels(dataset, int(seed))
    try:
        support_query(y, a, split, dataset=dataset, ratio=ratio, seed=seed)
    except ValueError as error:
        return str(error)
    return None


def ablation_specs(
    datasets: Iterable[str],
    seeds: int,
    ratios: Iterable[float | str] = PAPER_RATIOS,
    inner_steps: Iterable[int] = (1, 10),
    *,
    split: str = "ratio",
    **overrides,
) -> tuple[list[RunSpec], pd.DataFrame]:
    """Run specs of every feasible (dataset, I, ratio) cell, and the infeasible cells.

    Parameters
    ----------
    datasets : iterable of str
        Dataset names.
    seeds : int
        Seeds 0..seeds-1.
    ratios : iterable of float or str
        X_s shares (``0.2`` or ``"80:20"``).
    inner_steps : iterable of int
        The inner-step counts I.
    split : {"ratio", "swap"}
        Which group fills X_s.
    **overrides
        FaAlGrad settings replacing the dataset preset.

    Returns
    -------
    specs : list of RunSpec
        Every seed of every feasible cell.
    infeasible : pandas.DataFrame
        One row per cell whose ratio cannot be met on some seed's training split, with
        the builder's reason (columns :data:`INFEASIBLE_COLUMNS`).
    """
    check_choice("split", split, STUDIES)
    seeds = check_seeds(seeds)
    specs, infeasible = [], []
    for dataset in datasets:
        for steps in inner_steps:
            for value in ratios:
                share = parse_ratio(value)
                reasons = (infeasibility(dataset, split, share, seed) for seed in range(seeds))
                reason = next((r for r in reasons if r is not None), None)
                if reason is not None:
                    infeasible.append((dataset, split, steps, share, format_ratio(share), reason))
                    continue
                specs += [
                    RunSpec(
                        dataset,
                        "faalgrad",
                        split=split,
                        ratio=share,
                        inner_steps=steps,
                        seed=seed,
                        overrides=overrides,
                    )
                    for seed in range(seeds)
                ]
    return specs, pd.DataFrame(infeasible, columns=INFEASIBLE_COLUMNS)


def nash_overrides(
    dataset: str, epochs: int | None = None, bargain_epochs: int | None = None
) -> dict[str, int]:
    """The Nash settings that differ from ``nash_config(dataset)`` (``None``: keep the default)."""
    base = nash_config(dataset)
    out = {}
    if epochs is not None and epochs != base.epochs:
        out["epochs"] = int(epochs)
    if bargain_epochs is not None and bargain_epochs != base.bargain_epochs:
        out["bargain_epochs"] = int(bargain_epochs)
    nash_config(dataset, **out)  # validates the pair
    return out


def comparison_specs(
    datasets: Iterable[str],
    seeds: int,
    *,
    nash_epochs: int | None = None,
    nash_bargain_epochs: int | None = None,
) -> list[RunSpec]:
    """Every run of the Comparisons page: baseline and FaAlGrad Config 1/2 (Table 1's specs),
    the feasible ratio-ablation settings (the ratio page's specs), the fairlearn mitigators
    and the six Nash-style methods, on ``seeds`` seeds of each dataset."""
    datasets = list(datasets)
    seeds = check_seeds(seeds)
    shared = [s for s in table1_specs(datasets, seeds) if s.method in ("erm", "faalgrad")]
    ratios, _ = ablation_specs(datasets, seeds, split="ratio")
    own = []
    for dataset in datasets:
        overrides = nash_overrides(dataset, nash_epochs, nash_bargain_epochs)
        for seed in range(seeds):
            own += [RunSpec(dataset, m, seed=seed) for m in MITIGATORS]
            own += [RunSpec(dataset, m, seed=seed, overrides=overrides) for m in NASH_METHODS]
    return shared + ratios + own
