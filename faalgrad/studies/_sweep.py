"""The baseline MLP's own fairness-accuracy trade-off: its test-split scores with the
protected group's threshold swept (the unprotected group's stays at 0.5), per seed.

The ratio and swap pages draw it as Figure 2's curve; the Table 1 page asks, seed by seed,
whether a FaAlGrad model lies beyond it (more accurate at no larger a gap).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from faalgrad.datasets import load_dataset
from faalgrad.runs import cached_split, erm_model
from faalgrad.train import single_thread
from faalgrad.validation import check_choice, check_seed_counts

__all__ = [
    "BASE_THRESHOLD",
    "SWEEP_THRESHOLDS",
    "best_accuracy_at",
    "sweep_curve",
    "sweep_scores",
    "threshold_sweep",
]

#: Protected-group thresholds of the sweep (the unprotected group keeps BASE_THRESHOLD).
SWEEP_THRESHOLDS: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))
BASE_THRESHOLD = 0.5


def sweep_scores(
    scores, y, a, thresholds: Sequence[float] = SWEEP_THRESHOLDS, base: float = BASE_THRESHOLD
) -> pd.DataFrame:
    """Per protected-group (``a == 1``) threshold, the other group at ``base``, the metrics of
    :func:`faalgrad.baselines.predict_with_threshold` (fairlearn's, vectorised): ``accuracy``,
    ``dp_diff``, ``eod_diff``, ``acc_{protected,unprotected}``,
    ``selection_{protected,unprotected}``."""
    scores, y, a = (
        np.asarray(scores, dtype=float),
        np.asarray(y).astype(int),
        np.asarray(a).astype(int),
    )
    pred = np.where(a == 1, scores >= np.asarray(thresholds, dtype=float)[:, None], scores >= base)
    correct, group = pred == y, {g: a == g for g in (0, 1)}
    sel = {g: pred[:, m].mean(axis=1) for g, m in group.items()}
    tpr = {g: pred[:, m & (y == 1)].mean(axis=1) for g, m in group.items()}
    fpr = {g: pred[:, m & (y == 0)].mean(axis=1) for g, m in group.items()}
    return pd.DataFrame(
        {
            "threshold": np.asarray(thresholds, dtype=float),
            "accuracy": correct.mean(axis=1),
            "dp_diff": np.abs(sel[1] - sel[0]),
            "eod_diff": np.maximum(np.abs(tpr[1] - tpr[0]), np.abs(fpr[1] - fpr[0])),
            "acc_protected": correct[:, group[1]].mean(axis=1),
            "acc_unprotected": correct[:, group[0]].mean(axis=1),
            "selection_protected": sel[1],
            "selection_unprotected": sel[0],
        }
    )


def _sweep_one(dataset: str, seed: int, thresholds: tuple[float, ...]) -> pd.DataFrame:
    model, data = erm_model(dataset, seed), cached_split(dataset, seed)
    with single_thread():
        scores = model.predict_proba(data.X_test)
    return sweep_scores(scores, data.y_test, data.a_test, thresholds).assign(
        dataset=dataset, seed=seed
    )


def threshold_sweep(
    datasets: Iterable[str],
    seeds: int | Mapping[str, int],
    thresholds: Sequence[float] = SWEEP_THRESHOLDS,
    *,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """The baseline MLP's protected-group threshold sweep on the test split (Figure 2's curve).

    Parameters
    ----------
    datasets, seeds, n_jobs
        Dataset names; seeds 0..seeds-1 (each seed's :func:`faalgrad.runs.erm_model`), for
        all datasets or per dataset; joblib workers.
    thresholds : sequence of float
        The protected group's thresholds; the whole curve is reported, nothing is selected.

    Returns
    -------
    pandas.DataFrame
        One row per (dataset, seed, threshold) with the columns of :func:`sweep_scores`.
    """
    datasets, thresholds = list(datasets), tuple(float(t) for t in thresholds)
    counts = check_seed_counts(seeds, datasets)
    jobs = [(d, s) for d in datasets for s in range(counts[d])]
    by_cost = sorted(jobs, key=lambda job: -len(load_dataset(job[0])))  # largest datasets first
    frames = dict(
        zip(
            by_cost,
            Parallel(n_jobs=n_jobs)(delayed(_sweep_one)(d, s, thresholds) for d, s in by_cost),
            strict=True,
        )
    )
    out = pd.concat([frames[job] for job in jobs], ignore_index=True)
    return out[["dataset", "seed", *out.columns.drop(["dataset", "seed"])]]


def sweep_curve(sweep: pd.DataFrame) -> pd.DataFrame:
    """The sweep's mean over the seeds, per (dataset, threshold)."""
    metrics = [c for c in sweep.columns if c not in ("dataset", "seed", "threshold")]
    return sweep.groupby(["dataset", "threshold"], sort=False)[metrics].mean().reset_index()


def best_accuracy_at(points: pd.DataFrame, sweep: pd.DataFrame, metric: str) -> np.ndarray:
    """For each point (a model's test ``accuracy`` and ``metric`` on one dataset and seed), the
    best accuracy of the same seed's baseline threshold whose ``metric`` is at most the
    point's: the baseline's accuracy at an equal or smaller gap (NaN where no threshold of
    the sweep reaches the point's gap).

    Parameters
    ----------
    points : pandas.DataFrame
        ``dataset``, ``seed``, ``accuracy`` and ``metric`` columns.
    sweep : pandas.DataFrame
        :func:`threshold_sweep` for those datasets and seeds.
    metric : {"dp_diff", "eod_diff"}
        The gap compared.

    Returns
    -------
    numpy.ndarray
        One accuracy per point.
    """
    check_choice("metric", metric, ("dp_diff", "eod_diff"))
    curves = {key: group for key, group in sweep.groupby(["dataset", "seed"], sort=False)}
    out = np.full(len(points), np.nan)
    for i, (dataset, seed, gap) in enumerate(
        zip(points["dataset"], points["seed"], points[metric], strict=True)
    ):
        curve = curves.get((dataset, seed))
        if curve is None:
            raise ValueError(f"the sweep has no curve for {dataset!r}, seed {seed}")
        reached = curve.loc[curve[metric] <= gap + 1e-12, "accuracy"]
        if len(reached):
            out[i] = reached.max()
    return out
