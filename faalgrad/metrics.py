"""Accuracy, fairness and AUC metrics (through fairlearn) and mean ± std aggregation.

``dp_diff`` / ``eod_diff`` are fairlearn's demographic parity and equalized odds
differences (smaller is fairer), ``dp_ratio`` / ``eod_ratio`` the ratios (larger is
fairer). AUCs use scores, never hard labels. Accuracy is a fraction in [0, 1].
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import accuracy_score, roc_auc_score

__all__ = ["METRICS", "aggregate", "evaluate", "mean_std", "roc_auc"]

METRICS: tuple[str, ...] = (
    "accuracy",
    "dp_diff",
    "eod_diff",
    "dp_ratio",
    "eod_ratio",
    "acc_protected",
    "acc_unprotected",
    "auc",
    "auc_protected",
    "auc_unprotected",
    "auc_gap",
    "auc_worst",
)


def roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """ROC AUC, NaN when only one class is present."""
    return float(roc_auc_score(y_true, y_score)) if len(np.unique(y_true)) == 2 else float("nan")


def evaluate(y_true, y_pred, sensitive_features, *, y_score=None) -> dict[str, float]:
    """All :data:`METRICS` for hard predictions ``y_pred`` and (for AUCs) scores ``y_score``.

    ``sensitive_features`` is 0/1 with 1 = protected. Without ``y_score`` the AUC
    entries are NaN. Per-group rates are fairlearn's metric functions applied to each
    group's rows; differences and ratios are taken between the groups present, as
    fairlearn's ``demographic_parity_*`` and ``equalized_odds_*`` (``agg="worst_case"``)
    do, without building a ``MetricFrame`` per metric (tested equal to them).
    """
    y_true, y_pred, a = (np.asarray(v).astype(int) for v in (y_true, y_pred, sensitive_features))
    if not (len(y_true) == len(y_pred) == len(a)):
        raise ValueError(
            f"lengths differ: y_true {len(y_true)}, y_pred {len(y_pred)}, "
            f"sensitive_features {len(a)}"
        )
    groups = {g: a == g for g in np.unique(a)}
    by_group = {
        name: {g: float(f(y_true[m], y_pred[m])) for g, m in groups.items()}
        for name, f in (
            ("selection", selection_rate),
            ("tpr", true_positive_rate),
            ("fpr", false_positive_rate),
            ("accuracy", accuracy_score),
        )
    }
    diff = {name: _difference(values) for name, values in by_group.items()}
    ratio = {name: _ratio(values) for name, values in by_group.items()}
    row = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "dp_diff": diff["selection"],
        "eod_diff": max(diff["tpr"], diff["fpr"]),
        "dp_ratio": ratio["selection"],
        "eod_ratio": min(ratio["tpr"], ratio["fpr"]),
        "acc_protected": by_group["accuracy"].get(1, np.nan),
        "acc_unprotected": by_group["accuracy"].get(0, np.nan),
    }
    if y_score is None:
        row.update(
            auc=np.nan,
            auc_protected=np.nan,
            auc_unprotected=np.nan,
            auc_gap=np.nan,
            auc_worst=np.nan,
        )
        return row
    y_score = np.asarray(y_score, dtype=float)
    auc = {g: roc_auc(y_true[m], y_score[m]) for g, m in groups.items()}
    row["auc"] = roc_auc(y_true, y_score)
    row["auc_protected"], row["auc_unprotected"] = auc.get(1, np.nan), auc.get(0, np.nan)
    row["auc_gap"] = _difference(auc)
    defined = [v for v in auc.values() if not np.isnan(v)]
    row["auc_worst"] = float(min(defined)) if defined else np.nan  # a one-class group has no AUC
    return row


def _difference(values: dict) -> float:
    """Largest minus smallest group value (fairlearn's ``between_groups`` difference)."""
    v = np.array(list(values.values()), dtype=float)
    return float(v.max() - v.min())


def _ratio(values: dict) -> float:
    """Smallest over largest group value (fairlearn's ``between_groups`` ratio; 0/0 is NaN)."""
    v = np.array(list(values.values()), dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(v.min() / v.max())


def aggregate(
    rows: pd.DataFrame, by: list[str], metrics: tuple[str, ...] | list[str] = METRICS
) -> pd.DataFrame:
    """Mean and sample std (ddof=1) over seeds of each metric, per ``by`` group.

    Returns one row per group with ``<metric>_mean``, ``<metric>_std`` and ``n_seeds``.
    """
    metrics = [m for m in metrics if m in rows.columns]
    grouped = rows.groupby(by, sort=False, dropna=False)
    out = grouped[metrics].agg(["mean", "std"])
    out.columns = [f"{m}_{stat}" for m, stat in out.columns]
    out["n_seeds"] = grouped.size()
    return out.reset_index()


def mean_std(mean: float, std: float, digits: int = 2, scale: float = 1.0) -> str:
    """``"0.12 ± 0.03"``; NaN std (one seed) prints the mean alone."""
    if np.isnan(mean):
        return "–"
    if np.isnan(std):
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"
