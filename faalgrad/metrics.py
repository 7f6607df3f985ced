"""Accuracy, fairness and AUC metrics (through fairlearn) and mean ± std aggregation.

``dp_diff`` / ``eod_diff`` are fairlearn's demographic parity and equalized odds
differences (smaller is fairer), ``dp_ratio`` / ``eod_ratio`` the ratios (larger is
fairer). AUCs use scores, never hard labels. Accuracy is a fraction in [0, 1].
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
)
from sklearn.metrics import accuracy_score, roc_auc_score

METRICS: tuple[str, ...] = (
    "accuracy", "dp_diff", "eod_diff", "dp_ratio", "eod_ratio",
    "acc_protected", "acc_unprotected",
    "auc", "auc_protected", "auc_unprotected", "auc_gap", "auc_worst",
)


def _auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """ROC AUC, NaN when only one class is present."""
    return float(roc_auc_score(y_true, y_score)) if len(np.unique(y_true)) == 2 else float("nan")


def evaluate(y_true, y_pred, sensitive_features, *, y_score=None) -> dict[str, float]:
    """All :data:`METRICS` for hard predictions ``y_pred`` and (for AUCs) scores ``y_score``.

    ``sensitive_features`` is 0/1 with 1 = protected. Without ``y_score`` the AUC
    entries are NaN.
    """
    y_true, y_pred, a = (np.asarray(v).astype(int) for v in (y_true, y_pred, sensitive_features))
    if not (len(y_true) == len(y_pred) == len(a)):
        raise ValueError(f"lengths differ: y_true {len(y_true)}, y_pred {len(y_pred)}, sensitive_features {len(a)}")
    row = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "dp_diff": float(demographic_parity_difference(y_true, y_pred, sensitive_features=a)),
        "eod_diff": float(equalized_odds_difference(y_true, y_pred, sensitive_features=a)),
        "dp_ratio": float(demographic_parity_ratio(y_true, y_pred, sensitive_features=a)),
        "eod_ratio": float(equalized_odds_ratio(y_true, y_pred, sensitive_features=a)),
    }
    acc = MetricFrame(metrics=accuracy_score, y_true=y_true, y_pred=y_pred, sensitive_features=a).by_group
    row["acc_protected"], row["acc_unprotected"] = float(acc.get(1, np.nan)), float(acc.get(0, np.nan))
    if y_score is None:
        row.update(auc=np.nan, auc_protected=np.nan, auc_unprotected=np.nan, auc_gap=np.nan, auc_worst=np.nan)
        return row
    y_score = np.asarray(y_score, dtype=float)
    auc = MetricFrame(metrics=_auc, y_true=y_true, y_pred=y_score, sensitive_features=a)
    row["auc"] = float(auc.overall)
    row["auc_protected"], row["auc_unprotected"] = float(auc.by_group.get(1, np.nan)), float(auc.by_group.get(0, np.nan))
    row["auc_gap"] = float(auc.difference(method="between_groups"))
    row["auc_worst"] = float(auc.group_min())
    return row


def aggregate(rows: pd.DataFrame, by: list[str], metrics: tuple[str, ...] | list[str] = METRICS) -> pd.DataFrame:
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
