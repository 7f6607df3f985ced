"""The paper's baselines (5.2): MBA for DP, MBA for EOD and threshold adjustment.

The paper describes each in one sentence; the readings implemented here are stated on the
book's Table 1 page ("How the baselines are implemented").
"""

from __future__ import annotations

import numpy as np
from fairlearn.metrics import selection_rate

__all__ = [
    "MAX_EOD_WEIGHT",
    "THRESHOLDS",
    "choose_threshold",
    "mba_dp_indices",
    "mba_eod_weights",
    "predict_with_threshold",
]

THRESHOLDS: tuple[float, ...] = tuple(round(0.1 * k, 1) for k in range(1, 11))
MAX_EOD_WEIGHT = 10.0


def mba_dp_indices(a: np.ndarray, seed: int) -> np.ndarray:
    """Training indices with the smaller group oversampled (with replacement) to equal size."""
    a = np.asarray(a)
    small = 1 if (a == 1).sum() <= (a == 0).sum() else 0
    small_idx, large_idx = np.flatnonzero(a == small), np.flatnonzero(a != small)
    rng = np.random.default_rng(seed)
    extra = rng.choice(small_idx, size=len(large_idx) - len(small_idx), replace=True)
    return np.sort(np.concatenate([small_idx, large_idx, extra]))


def mba_eod_weights(y: np.ndarray, y_pred: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Per-sample weights that up-weight the worse group's errors, per label (see module doc)."""
    y, y_pred, a = (np.asarray(v).astype(int) for v in (y, y_pred, a))
    weights = np.ones(len(y), dtype=np.float64)
    wrong = y_pred != y
    for label in (0, 1):
        rates = {}
        for g in (0, 1):
            cell = (y == label) & (a == g)
            rates[g] = wrong[cell].mean() if cell.any() else 0.0
        worse, better = (0, 1) if rates[0] > rates[1] else (1, 0)
        if rates[worse] == 0.0:
            continue
        factor = (
            MAX_EOD_WEIGHT
            if rates[better] == 0.0
            else min(rates[worse] / rates[better], MAX_EOD_WEIGHT)
        )
        weights[(y == label) & (a == worse) & wrong] = factor
    return weights


def predict_with_threshold(
    scores: np.ndarray, a: np.ndarray, threshold: float, base: float = 0.5
) -> np.ndarray:
    """Hard predictions with a threshold of their own for the protected group.

    ``scores >= threshold`` for the protected group, ``>= base`` for the rest.
    """
    scores, a = np.asarray(scores), np.asarray(a)
    return np.where(a == 1, scores >= threshold, scores >= base).astype(int)


def choose_threshold(scores: np.ndarray, y: np.ndarray, a: np.ndarray) -> float:
    """The protected-group threshold that minimises DP difference on (scores, y, a).

    The candidates are :data:`THRESHOLDS`.
    """

    def key(t: float) -> tuple[float, float, float]:
        pred = predict_with_threshold(scores, a, t)
        # fairlearn's demographic_parity_difference, from its per-group selection rates
        # (without a MetricFrame per threshold; tested equal)
        rates = [selection_rate(y[a == g], pred[a == g]) for g in groups]
        dp = max(rates) - min(rates)
        return (round(float(dp), 12), -float((pred == y).mean()), abs(t - 0.5))

    scores, y, a = np.asarray(scores), np.asarray(y), np.asarray(a)
    groups = np.unique(a)

    return min(THRESHOLDS, key=key)
