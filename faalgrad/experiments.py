"""Run specs -> tidy rows -> DataFrames; the paper's Table 1 grid.

A :class:`RunSpec` names one run (dataset, method, split, ratio, inner steps, seed,
overrides of the dataset preset); :func:`run` trains it on the seed's training split,
selects on the validation split, and evaluates once on the test split, returning one
tidy row. :func:`run_grid` runs many specs, in parallel with joblib when asked.
"""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from faalgrad import baselines, cache, paper
from faalgrad.datasets import DATASETS, load_dataset
from faalgrad.metrics import METRICS, aggregate, evaluate
from faalgrad.mitigators import MITIGATOR_LABELS, MITIGATORS, POSTPROCESSORS, fit_mitigator
from faalgrad.nash import NASH_METHODS, nash_config, train_nash
from faalgrad.presets import check_dataset, erm_config, faalgrad_config
from faalgrad.splits import (
    SPLITS, SplitData, format_ratio, parse_ratio, split_dataset, support_query, train_val_test_indices,
)
from faalgrad.train import TrainResult, train_erm, train_faalgrad

METHODS: tuple[str, ...] = ("erm", "mba_dp", "mba_eod", "threshold", "faalgrad", *NASH_METHODS, *MITIGATORS)
METHOD_LABELS = {
    "erm": "Baseline MLP", "mba_dp": "MBA for DP", "mba_eod": "MBA for EOD", "threshold": "Threshold adjustment",
    "nash_ltr": "Nash-Meta-Learning (LtR)", "nash_forml": "Nash-Meta-Learning (FORML)",
    "nash_gdro": "Nash-Meta-Learning (Meta-gDRO)", "ltr": "LtR", "forml": "FORML", "gdro": "Meta-gDRO",
    **MITIGATOR_LABELS,
}
SPLIT_LABELS = {"config1": "Config 1", "config2": "Config 2", "ratio": "Ratio", "swap": "Swap"}


@dataclass(frozen=True)
class RunSpec:
    """One run. ``split``, ``ratio`` and ``inner_steps`` apply to ``method="faalgrad"`` only.

    ``overrides`` are :class:`~faalgrad.train.TrainConfig` settings replacing the dataset
    preset, as ``(name, value)`` pairs (a dict is accepted and frozen).
    """

    dataset: str
    method: str = "faalgrad"
    split: str = "config1"
    ratio: float | None = None
    inner_steps: int = 1
    seed: int = 0
    include_protected: bool = True
    overrides: tuple[tuple[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        check_dataset(self.dataset)
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; valid choices: {', '.join(METHODS)}")
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; valid choices: {', '.join(SPLITS)}")
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r} must be a non-negative integer")
        items = self.overrides.items() if isinstance(self.overrides, dict) else self.overrides
        frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in items))
        object.__setattr__(self, "overrides", frozen)
        if self.method != "faalgrad" and self.ratio is not None:
            raise ValueError(f"ratio={self.ratio!r} applies only to method 'faalgrad', not {self.method!r}")
        if self.method == "faalgrad":
            if self.split in ("ratio", "swap"):
                if self.ratio is None:
                    raise ValueError(f"split {self.split!r} needs a ratio (X_s share, e.g. 0.2 or '80:20')")
                object.__setattr__(self, "ratio", parse_ratio(self.ratio))
                self._check_feasible()
            elif self.ratio is not None:
                raise ValueError(f"ratio={self.ratio!r} applies only to the 'ratio' and 'swap' splits, not {self.split!r}")
        self.config()  # validates inner_steps and overrides early

    def _check_feasible(self) -> None:
        """Raise the builder's ``ValueError`` now if the ratio cannot be met on this seed's split."""
        ds = load_dataset(self.dataset)
        train, _, _ = train_val_test_indices(ds.y, ds.a, self.seed)
        support_query(ds.y[train], ds.a[train], self.split, dataset=self.dataset, ratio=self.ratio, seed=self.seed)

    def config(self):
        """The :class:`~faalgrad.train.TrainConfig` this run trains with."""
        overrides = dict(self.overrides)
        if self.method == "faalgrad":
            return faalgrad_config(self.dataset, inner_steps=self.inner_steps, **overrides)
        if self.method in NASH_METHODS:
            return nash_config(self.dataset, **overrides)
        return erm_config(self.dataset, **overrides)

    @property
    def label(self) -> str:
        """Human-readable row label, e.g. ``"Config 1"`` or ``"MBA for DP"``."""
        if self.method != "faalgrad":
            return METHOD_LABELS[self.method]
        label = SPLIT_LABELS[self.split]
        return f"{label} {format_ratio(self.ratio)}" if self.ratio is not None else label


@lru_cache(maxsize=64)
def _split(dataset: str, seed: int, include_protected: bool) -> SplitData:
    return split_dataset(load_dataset(dataset), seed, include_protected=include_protected)


def split_data(dataset: str, seed: int, include_protected: bool = True) -> SplitData:
    """The seed's preprocessed train/validation/test split (memoised; the one every run uses)."""
    check_dataset(dataset)
    return _split(dataset, int(seed), bool(include_protected))


@lru_cache(maxsize=64)
def _erm(dataset: str, seed: int, include_protected: bool, overrides: tuple) -> TrainResult:
    def train() -> TrainResult:
        data = _split(dataset, seed, include_protected)
        config = erm_config(dataset, **dict(overrides))
        return train_erm(data.X_train, data.y_train, data.X_val, data.y_val, config, seed)

    return cache.memoize(("erm", dataset, seed, include_protected, overrides), train)


def erm_model(dataset: str, seed: int, include_protected: bool = True, **overrides) -> TrainResult:
    """The baseline MLP of ``seed`` (trained once per process, or per book build with the run cache).

    The same model the ERM, threshold-adjustment and MBA-for-EOD rows start from.
    """
    spec = RunSpec(dataset, "erm", seed=seed, include_protected=include_protected, overrides=overrides)
    with single_thread():
        return _erm(spec.dataset, spec.seed, spec.include_protected, spec.overrides)


def fit(spec: RunSpec) -> tuple[TrainResult, dict[str, Any]]:
    """Train the model of ``spec``; returns it and run facts (threshold, set sizes, epochs)."""
    data = _split(spec.dataset, spec.seed, spec.include_protected)
    facts: dict[str, Any] = {"threshold": 0.5}
    if spec.method in ("erm", "threshold"):
        model = _erm(spec.dataset, spec.seed, spec.include_protected, spec.overrides)
        if spec.method == "threshold":
            scores = model.predict_proba(data.X_val)
            facts["threshold"] = baselines.choose_threshold(scores, data.y_val, data.a_val)
    elif spec.method == "mba_dp":
        rows = baselines.mba_dp_indices(data.a_train, spec.seed)
        model = train_erm(data.X_train[rows], data.y_train[rows], data.X_val, data.y_val, spec.config(), spec.seed)
    elif spec.method == "mba_eod":
        erm = _erm(spec.dataset, spec.seed, spec.include_protected, spec.overrides)
        y_pred = (erm.predict_proba(data.X_train) >= 0.5).astype(int)
        weights = baselines.mba_eod_weights(data.y_train, y_pred, data.a_train)
        model = train_erm(data.X_train, data.y_train, data.X_val, data.y_val, spec.config(), spec.seed, sample_weight=weights)
    elif spec.method in NASH_METHODS:
        model = train_nash(spec.method, data.X_train, data.y_train, data.a_train, data.X_val, data.y_val, data.a_val,
                           spec.config(), spec.seed)
        facts.update({f"conflict_{k}": v for k, v in model.history.conflict_shares().items()})
    elif spec.method in MITIGATORS:
        erm = _erm(spec.dataset, spec.seed, spec.include_protected, spec.overrides) if spec.method in POSTPROCESSORS else None
        model = fit_mitigator(spec.method, data, spec.seed, model=erm)
    else:
        support, query = support_query(data.y_train, data.a_train, spec.split, dataset=spec.dataset, ratio=spec.ratio, seed=spec.seed)
        model = train_faalgrad(
            data.X_train[support], data.y_train[support], data.X_train[query], data.y_train[query],
            data.X_val, data.y_val, spec.config(), spec.seed,
        )
        facts.update(n_support=len(support), n_query=len(query))
    facts.update(best_epoch=model.best_epoch, epochs=len(model.val_loss))
    return model, facts


def run(spec: RunSpec) -> dict[str, Any]:
    """Train, select on validation, evaluate on test: one tidy row.

    The row holds the spec, run facts, every :data:`METRICS` entry on the test split, and
    the same on the validation split as ``val_<metric>`` (for choosing between runs, e.g.
    the best ratio, without looking at the test split). With the run cache on
    (:mod:`faalgrad.cache`), a spec already run in this cache returns its stored row.
    """
    return cache.memoize(("run", spec), lambda: _run(spec))


def _run(spec: RunSpec) -> dict[str, Any]:
    with single_thread():
        model, facts = fit(spec)
        data = _split(spec.dataset, spec.seed, spec.include_protected)
        scores = model.predict_proba(data.X_test)
        val_scores = model.predict_proba(data.X_val)
    y_pred = baselines.predict_with_threshold(scores, data.a_test, facts["threshold"])
    val_pred = baselines.predict_with_threshold(val_scores, data.a_val, facts["threshold"])
    if hasattr(model, "predict_labels"):  # randomised classifiers (fairlearn mitigators) draw their own labels
        y_pred, val_pred = model.predict_labels(data.X_test, data.a_test), model.predict_labels(data.X_val, data.a_val)
    row = {k: v for k, v in asdict(spec).items() if k != "overrides"}
    row["overrides"] = ",".join(f"{k}={v}" for k, v in spec.overrides)
    row["label"] = spec.label
    val = {f"val_{k}": v for k, v in evaluate(data.y_val, val_pred, data.a_val, y_score=val_scores).items()}
    return {**row, **facts, **evaluate(data.y_test, y_pred, data.a_test, y_score=scores), **val}


def run_grid(specs: Iterable[RunSpec], *, n_jobs: int = 1, progress: bool = True) -> pd.DataFrame:
    """Run every spec; one row each, in the order given.

    Specs that start from the same ERM model (ERM, threshold adjustment, MBA for EOD on
    one dataset and seed) run in the same worker, so that model is trained once. ``n_jobs`` is passed to joblib (switch
    its backend with ``joblib.parallel_config`` to scale out). Each run uses one torch
    thread, so results do not depend on ``n_jobs``.
    """
    specs = list(specs)
    groups: dict[tuple, list[int]] = {}
    for i, spec in enumerate(specs):
        shares_erm = spec.method in _USES_ERM
        key = (spec.dataset, spec.seed, spec.include_protected, spec.overrides) if shares_erm else (i,)
        groups.setdefault(key, []).append(i)
    # Longest chunks first (a rough cost model), so that parallel workers finish together.
    order = sorted(groups, key=lambda key: -sum(_cost(specs[i]) for i in groups[key]))
    groups = {key: groups[key] for key in order}
    chunks = [[specs[i] for i in idx] for idx in groups.values()]
    bar = tqdm(total=len(specs), desc="runs", disable=not progress, leave=False)
    results: list[list[dict]] = []
    for chunk_rows in Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_run_chunk)(c) for c in chunks):
        results.append(chunk_rows)
        bar.update(len(chunk_rows))
    bar.close()
    rows: list[dict | None] = [None] * len(specs)
    for idx, chunk_rows in zip(groups.values(), results):
        for i, row in zip(idx, chunk_rows):
            rows[i] = row
    return pd.DataFrame(rows)


_USES_ERM = frozenset({"erm", "threshold", "mba_eod", *POSTPROCESSORS})


def _cost(spec: RunSpec) -> float:
    """Relative run time, for scheduling only: rows times training passes."""
    passes = 10.0 * spec.inner_steps if spec.method == "faalgrad" else 8.0
    if spec.method in MITIGATORS:  # ExponentiatedGradient ~ 20 logistic-regression fits; post-processing ~ nothing
        passes = 1.0 if spec.method in POSTPROCESSORS else 6.0
    return len(load_dataset(spec.dataset)) * passes


def _run_chunk(specs: list[RunSpec]) -> list[dict]:
    return [run(s) for s in specs]


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """One torch thread inside the block (every run and explanation uses it: same numbers on any machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --- the paper's Table 1 --------------------------------------------------------------

TABLE1_ROWS: tuple[tuple[str, str, int | None], ...] = (
    ("baseline", "erm", None), ("mba_dp", "mba_dp", None), ("mba_eod", "mba_eod", None),
    ("threshold", "threshold", None),
    ("config1", "faalgrad", 1), ("config1", "faalgrad", 10),
    ("config2", "faalgrad", 1), ("config2", "faalgrad", 10),
)


def check_seeds(seeds: int) -> int:
    """``seeds`` if it is a positive integer, else a ``ValueError``."""
    if not isinstance(seeds, (int, np.integer)) or isinstance(seeds, bool) or seeds < 1:
        raise ValueError(f"seeds={seeds!r} must be a positive integer (the number of seeds 0..seeds-1)")
    return int(seeds)


def table1_specs(datasets: Iterable[str] = DATASETS, seeds: int = 5, *, include_protected: bool = True, **overrides) -> list[RunSpec]:
    """Every run of Table 1: 8 rows x ``seeds`` per dataset."""
    check_seeds(seeds)
    specs = []
    for dataset in datasets:
        check_dataset(dataset)
        for seed in range(seeds):
            for row, method, inner in TABLE1_ROWS:
                split = row if method == "faalgrad" else "config1"
                specs.append(RunSpec(dataset, method, split=split, inner_steps=inner or 1, seed=seed,
                                     include_protected=include_protected, overrides=overrides))
    return specs


def table_row_key(rows: pd.DataFrame) -> pd.Series:
    """The paper's Table 1 row name of each run row ("baseline", "mba_dp", ..., "config1")."""
    return rows["method"].where(rows["method"] != "faalgrad", rows["split"]).replace({"erm": "baseline"})


def table1(rows: pd.DataFrame) -> pd.DataFrame:
    """Table 1 from run rows: paper value, our mean and std, and the difference, per cell.

    One row per (dataset, row, inner_steps) with columns ``<metric>_paper``,
    ``<metric>_mean``, ``<metric>_std``, ``<metric>_diff`` (ours - paper) for accuracy,
    DP and EOD difference. ``inner_steps`` is missing for the non-meta-learning rows.
    """
    rows = rows.assign(row=table_row_key(rows), inner_steps=rows["inner_steps"].where(rows["method"] == "faalgrad"))
    ours = aggregate(rows, ["dataset", "row", "inner_steps"], ("accuracy", "dp_diff", "eod_diff"))
    ours["inner_steps"] = ours["inner_steps"].astype("Int64")
    reported = paper.table1()
    out = ours.merge(reported, on=["dataset", "row", "inner_steps"], how="left", suffixes=("", "_p"))
    for m in ("accuracy", "dp_diff", "eod_diff"):
        out[f"{m}_paper"] = out[m]
        out[f"{m}_diff"] = out[f"{m}_mean"] - out[m]
    labels = {"baseline": "Baseline MLP", "config1": "Config 1", "config2": "Config 2", **METHOD_LABELS}
    out["method"] = out["row"].map(labels)
    cols = ["dataset", "method", "inner_steps"] + [
        f"{m}_{s}" for m in ("accuracy", "dp_diff", "eod_diff") for s in ("paper", "mean", "std", "diff")
    ] + ["n_seeds"]
    return out[cols]


def format_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Printable copy of :func:`table1`: accuracy in percent, "mean ± std" strings."""
    from faalgrad.metrics import mean_std

    out = table[["dataset", "method"]].copy()
    out["I"] = table["inner_steps"].astype("string").fillna("–")
    for m, scale, name in (("accuracy", 100, "acc"), ("dp_diff", 1, "DP"), ("eod_diff", 1, "EOD")):
        out[f"{name} paper"] = [f"{scale * v:.{digits}f}" if pd.notna(v) else "–" for v in table[f"{m}_paper"]]
        out[f"{name} ours"] = [mean_std(a, b, digits, scale) for a, b in zip(table[f"{m}_mean"], table[f"{m}_std"])]
        out[f"{name} diff"] = [f"{scale * v:+.{digits}f}" if pd.notna(v) else "–" for v in table[f"{m}_diff"]]
    return out


def check_parameters(*, datasets: Iterable[str] | None = None, seeds: int | None = None, n_jobs: int | None = None) -> None:
    """Validate a notebook's parameters; a ``ValueError`` names the parameter and the valid choices.

    ``datasets``: a non-empty list of names from :data:`~faalgrad.datasets.DATASETS`;
    ``seeds``: a positive integer; ``n_jobs``: a non-zero integer (joblib's convention).
    """
    if datasets is not None:
        if isinstance(datasets, str) or not isinstance(datasets, Iterable) or not list(datasets):
            raise ValueError(f"datasets={datasets!r} must be a non-empty list; valid choices: {', '.join(DATASETS)}")
        bad = [d for d in datasets if d not in DATASETS]
        if bad:
            raise ValueError(f"datasets: unknown {', '.join(map(repr, bad))}; valid choices: {', '.join(DATASETS)}")
    if seeds is not None:
        check_seeds(seeds)
    if n_jobs is not None and (not isinstance(n_jobs, (int, np.integer)) or isinstance(n_jobs, bool) or n_jobs == 0):
        raise ValueError(f"n_jobs={n_jobs!r} must be a non-zero integer (-1 = all cores)")
