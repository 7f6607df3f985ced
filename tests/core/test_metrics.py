"""Tests for :mod:`faalgrad.metrics`: metric definitions, aggregation, formatting."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
)
from sklearn.metrics import accuracy_score, roc_auc_score

from faalgrad.metrics import METRICS, aggregate, evaluate, mean_std

# --- hand-made cases, every metric worked out on paper ----------------------------------
#
# Case "tpr": group 0 (unprotected), 6 rows: y = 1 1 1 0 0 0, ŷ = 1 1 0 1 0 0
#   selection 3/6 = 1/2, TPR 2/3, FPR 1/3, accuracy 4/6
# group 1 (protected), 5 rows: y = 1 1 0 0 0, ŷ = 1 0 1 0 0
#   selection 2/5, TPR 1/2, FPR 1/3, accuracy 3/5
# DP diff 1/2 - 2/5 = 1/10, DP ratio (2/5)/(1/2) = 4/5,
# EOD diff max(|2/3 - 1/2|, |1/3 - 1/3|) = 1/6 (TPR), EOD ratio min((1/2)/(2/3), 1) = 3/4.
# Scores (ŷ = score >= 0.5): group 0 .9 .8 .3 | .6 .2 .1  -> AUC 8/9 (8 of 9 pairs ordered)
#                            group 1 .7 .4 | .55 .3 .4    -> AUC 4.5/6 = 3/4 (one tie)
#   overall: positives .9 .8 .3 .7 .4 vs negatives .6 .2 .1 .55 .3 .4 -> (6+6+2.5+6+3.5)/30 = 4/5
CASE_TPR = dict(
    y=[1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0],
    pred=[1, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0],
    a=[0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
    score=[0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.7, 0.4, 0.55, 0.3, 0.4],
    expected=dict(
        accuracy=7 / 11,
        dp_diff=1 / 10,
        eod_diff=1 / 6,
        dp_ratio=4 / 5,
        eod_ratio=3 / 4,
        acc_protected=3 / 5,
        acc_unprotected=4 / 6,
        auc=4 / 5,
        auc_protected=3 / 4,
        auc_unprotected=8 / 9,
        auc_gap=8 / 9 - 3 / 4,
        auc_worst=3 / 4,
    ),
)
# Case "fpr": group 0, 4 rows: y = 1 1 0 0, ŷ = 1 1 1 0
#   selection 3/4, TPR 1, FPR 1/2, accuracy 3/4
# group 1, 8 rows (listed first): y = 1 1 1 0 0 0 0 0, ŷ = 1 1 1 1 0 0 0 0
#   selection 1/2, TPR 1, FPR 1/5, accuracy 7/8
# DP diff 1/4, DP ratio 2/3, EOD diff max(0, 3/10) = 3/10 (FPR), EOD ratio min(1, 2/5) = 2/5.
# Scores: group 1 .9 .8 .7 | .6 .1 .2 .3 .4 -> AUC 1;  group 0 .6 .5 | .7 .2 -> AUC 2/4 = 1/2
#   overall: positives .9 .8 .7 .6 .5 vs negatives .6 .1 .2 .3 .4 .7 .2
#     -> (7+7+6.5+5.5+5)/35 = 31/35
CASE_FPR = dict(
    y=[1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0],
    pred=[1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0],
    a=[1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0],
    score=[0.9, 0.8, 0.7, 0.6, 0.1, 0.2, 0.3, 0.4, 0.6, 0.5, 0.7, 0.2],
    expected=dict(
        accuracy=10 / 12,
        dp_diff=1 / 4,
        eod_diff=3 / 10,
        dp_ratio=2 / 3,
        eod_ratio=2 / 5,
        acc_protected=7 / 8,
        acc_unprotected=3 / 4,
        auc=31 / 35,
        auc_protected=1.0,
        auc_unprotected=1 / 2,
        auc_gap=1 / 2,
        auc_worst=1 / 2,
    ),
)
CASES = [pytest.param(CASE_TPR, id="tpr-gap"), pytest.param(CASE_FPR, id="fpr-gap")]


def test_metric_names():
    assert METRICS == (
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


@pytest.mark.parametrize("case", CASES)
def test_evaluate_hand_computed(case):
    row = evaluate(case["y"], case["pred"], case["a"], y_score=case["score"])
    assert set(row) == set(METRICS)
    for name, value in case["expected"].items():
        assert row[name] == pytest.approx(value, abs=1e-12), name
        assert type(row[name]) is float, name


def _by_hand(y, pred, a):
    """The textbook definitions, group by group."""
    y, pred, a = map(np.asarray, (y, pred, a))
    sel = [pred[a == g].mean() for g in (0, 1)]
    tpr = [pred[(a == g) & (y == 1)].mean() for g in (0, 1)]
    fpr = [pred[(a == g) & (y == 0)].mean() for g in (0, 1)]
    return {
        "dp_diff": abs(sel[0] - sel[1]),
        "dp_ratio": min(sel) / max(sel),
        "eod_diff": max(abs(tpr[0] - tpr[1]), abs(fpr[0] - fpr[1])),
        "eod_ratio": min(min(tpr) / max(tpr), min(fpr) / max(fpr)),
        "accuracy": (pred == y).mean(),
        "acc_protected": (pred == y)[a == 1].mean(),
        "acc_unprotected": (pred == y)[a == 0].mean(),
    }


@pytest.mark.parametrize("seed", range(4))
def test_evaluate_matches_fairlearn_sklearn_and_definitions(seed):
    rng = np.random.default_rng(seed)
    n = 80
    a = rng.integers(0, 2, n)
    y = rng.integers(0, 2, n)
    score = np.clip(0.3 * y + 0.2 * a + rng.random(n) * 0.6, 0, 1)
    pred = (score >= 0.5).astype(int)
    row = evaluate(y, pred, a, y_score=score)

    lib = {
        "accuracy": accuracy_score(y, pred),
        "dp_diff": demographic_parity_difference(y, pred, sensitive_features=a),
        "eod_diff": equalized_odds_difference(y, pred, sensitive_features=a),
        "dp_ratio": demographic_parity_ratio(y, pred, sensitive_features=a),
        "eod_ratio": equalized_odds_ratio(y, pred, sensitive_features=a),
        "acc_protected": accuracy_score(y[a == 1], pred[a == 1]),
        "acc_unprotected": accuracy_score(y[a == 0], pred[a == 0]),
        "auc": roc_auc_score(y, score),
        "auc_protected": roc_auc_score(y[a == 1], score[a == 1]),
        "auc_unprotected": roc_auc_score(y[a == 0], score[a == 0]),
    }
    lib["auc_gap"] = abs(lib["auc_protected"] - lib["auc_unprotected"])
    lib["auc_worst"] = min(lib["auc_protected"], lib["auc_unprotected"])
    for name in METRICS:
        assert row[name] == pytest.approx(lib[name], abs=1e-12), name
    for name, value in _by_hand(y, pred, a).items():
        assert row[name] == pytest.approx(value, abs=1e-12), name


def test_evaluate_without_scores_has_nan_aucs():
    row = evaluate(CASE_TPR["y"], CASE_TPR["pred"], CASE_TPR["a"])
    for name in ("auc", "auc_protected", "auc_unprotected", "auc_gap", "auc_worst"):
        assert math.isnan(row[name]), name
    assert row["accuracy"] == pytest.approx(7 / 11)
    assert row["dp_diff"] == pytest.approx(1 / 10)


def test_auc_nan_for_single_class_group():
    # Group 1 has only positives: its AUC is undefined; the overall AUC is not.
    y = [1, 0, 1, 0, 1, 1]
    a = [0, 0, 0, 0, 1, 1]
    score = [0.9, 0.1, 0.4, 0.6, 0.8, 0.3]
    row = evaluate(y, [1, 0, 0, 1, 1, 0], a, y_score=score)
    assert math.isnan(row["auc_protected"])
    assert row["auc_unprotected"] == pytest.approx(3 / 4)  # .9 > .1,.6 ; .4 > .1 only
    assert row["auc"] == pytest.approx(roc_auc_score(y, score))


def test_evaluate_accepts_lists_and_bool_predictions():
    a = evaluate(CASE_FPR["y"], np.asarray(CASE_FPR["pred"], dtype=bool), CASE_FPR["a"])
    b = evaluate(np.asarray(CASE_FPR["y"]), np.asarray(CASE_FPR["pred"]), np.asarray(CASE_FPR["a"]))
    assert a["eod_diff"] == b["eod_diff"] == pytest.approx(3 / 10)


def test_evaluate_length_mismatch():
    with pytest.raises(
        ValueError, match="lengths differ: y_true 3, y_pred 2, sensitive_features 3"
    ):
        evaluate([0, 1, 1], [0, 1], [0, 0, 1])


# --- aggregation and formatting ---------------------------------------------------------


def test_aggregate_mean_std_ddof1():
    rows = pd.DataFrame(
        {
            "dataset": ["german", "german", "german", "adult", "adult", "compas"],
            "inner_steps": [1.0, 1.0, 1.0, np.nan, np.nan, 10.0],
            "seed": [0, 1, 2, 0, 1, 0],
            "accuracy": [0.5, 0.7, 0.9, 0.2, 0.4, 0.6],
            "dp_diff": [0.1, 0.1, 0.4, 0.0, 0.3, 0.05],
        }
    )
    out = aggregate(rows, ["dataset", "inner_steps"], ("accuracy", "dp_diff", "not_a_column"))
    assert list(out.columns) == [
        "dataset",
        "inner_steps",
        "accuracy_mean",
        "accuracy_std",
        "dp_diff_mean",
        "dp_diff_std",
        "n_seeds",
    ]
    assert list(out["dataset"]) == ["german", "adult", "compas"]  # first-appearance order
    german, adult, compas = (out.iloc[i] for i in range(3))
    # german accuracy 0.5, 0.7, 0.9: mean 0.7, sample std sqrt((0.04 + 0 + 0.04) / 2) = 0.2
    assert german["accuracy_mean"] == pytest.approx(0.7)
    assert german["accuracy_std"] == pytest.approx(0.2)
    # german dp 0.1, 0.1, 0.4: mean 0.2, std sqrt((0.01 + 0.01 + 0.04) / 2) = sqrt(0.03)
    assert german["dp_diff_mean"] == pytest.approx(0.2)
    assert german["dp_diff_std"] == pytest.approx(np.sqrt(0.03))
    # adult, grouped on a missing inner_steps (kept, not dropped): 0.2, 0.4 -> std sqrt(0.02)
    assert math.isnan(adult["inner_steps"])
    assert adult["accuracy_mean"] == pytest.approx(0.3)
    assert adult["accuracy_std"] == pytest.approx(np.sqrt(0.02))
    # a single seed: std undefined
    assert compas["accuracy_mean"] == pytest.approx(0.6)
    assert math.isnan(compas["accuracy_std"])
    assert list(out["n_seeds"]) == [3, 2, 1]


def test_aggregate_defaults_to_all_metrics_present():
    rows = pd.DataFrame({"method": ["erm", "erm"], **{m: [0.0, 1.0] for m in METRICS}})
    out = aggregate(rows, ["method"])
    assert len(out) == 1
    for m in METRICS:
        assert out.loc[0, f"{m}_mean"] == pytest.approx(0.5)
        assert out.loc[0, f"{m}_std"] == pytest.approx(np.sqrt(0.5))


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((0.123, 0.034), {}, "0.12 ± 0.03"),
        ((0.7047, 0.0213), {"digits": 1, "scale": 100}, "70.5 ± 2.1"),
        ((0.5, 0.0), {"digits": 3}, "0.500 ± 0.000"),
        ((0.123, float("nan")), {}, "0.12"),
        ((0.7047, float("nan")), {"scale": 100}, "70.47"),
        ((float("nan"), 0.1), {}, "–"),
        ((float("nan"), float("nan")), {}, "–"),
    ],
)
def test_mean_std(args, kwargs, expected):
    assert mean_std(*args, **kwargs) == expected
