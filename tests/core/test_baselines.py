"""Tests for :mod:`faalgrad.baselines`: MBA for DP / EOD and threshold adjustment."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference

from faalgrad.baselines import (
    MAX_EOD_WEIGHT,
    THRESHOLDS,
    choose_threshold,
    mba_dp_indices,
    mba_eod_weights,
    predict_with_threshold,
)

# --- MBA for DP -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a",
    [
        pytest.param([1, 0, 0, 0, 1, 0, 0], id="protected-minority"),
        pytest.param([1, 1, 0, 1, 1, 1, 0, 1], id="protected-majority"),
        pytest.param([0, 0, 0, 0, 0, 0, 0, 0, 0, 1], id="single-protected"),
        pytest.param([1, 0, 1, 0], id="balanced"),
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_mba_dp_indices_balances_groups(a, seed):
    a = np.asarray(a)
    n_small, n_large = sorted([(a == 0).sum(), (a == 1).sum()])
    small = 1 if (a == 1).sum() <= (a == 0).sum() else 0
    idx = mba_dp_indices(a, seed)
    counts = np.bincount(idx, minlength=len(a))
    # Equal group sizes, each the size of the larger group.
    assert (a[idx] == 0).sum() == (a[idx] == 1).sum() == n_large
    assert len(idx) == 2 * n_large
    # Every original row is kept; only the smaller group is duplicated.
    assert (counts >= 1).all()
    assert (counts[a != small] == 1).all()
    assert counts[a == small].sum() == n_large
    np.testing.assert_array_equal(idx, np.sort(idx))
    np.testing.assert_array_equal(idx, mba_dp_indices(a, seed))  # deterministic


def test_mba_dp_indices_balanced_is_identity():
    np.testing.assert_array_equal(mba_dp_indices(np.array([1, 0, 0, 1]), 0), [0, 1, 2, 3])


def test_mba_dp_indices_seed_changes_draw():
    a = np.array([1] * 10 + [0] * 40)
    draws = {tuple(mba_dp_indices(a, s)) for s in range(3)}
    assert len(draws) == 3


# --- MBA for EOD ------------------------------------------------------------------------


def test_max_eod_weight():
    assert MAX_EOD_WEIGHT == 10.0


# Rows 0-3: a=0, y=1, ŷ 1 1 1 0 -> FNR 1/4
# Rows 4-7: a=1, y=1, ŷ 0 0 0 1 -> FNR 3/4: group 1 worse, its 3 false negatives weigh 3
# Rows 8-12: a=0, y=0, ŷ 1 0 0 0 0 -> FPR 1/5
# Rows 13-14: a=1, y=0, ŷ 0 0 -> FPR 0: group 0 worse, ratio infinite -> capped at 10
EOD_CASE_1 = dict(
    y=[1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
    pred=[1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0],
    a=[0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1],
    expected=[1, 1, 1, 1, 3, 3, 3, 1, 10, 1, 1, 1, 1, 1, 1],
)
# Rows 0-19: a=0, y=0, only row 0 wrong -> FPR 1/20
# Row 20: a=1, y=0, wrong -> FPR 1: ratio 20, capped at 10
# Rows 21-22: a=0, y=1, ŷ 1 0 -> FNR 1/2;  rows 23-24: a=1, y=1, ŷ 0 1 -> FNR 1/2: equal, all 1
EOD_CASE_2 = dict(
    y=[0] * 21 + [1, 1, 1, 1],
    pred=[1] + [0] * 19 + [1] + [1, 0, 0, 1],
    a=[0] * 20 + [1] + [0, 0, 1, 1],
    expected=[1] * 20 + [10] + [1, 1, 1, 1],
)
# Negatives: a=0 FPR 2/4 = 1/2 (rows 0-3), a=1 FPR 1/5 (rows 4-8): ratio 5/2 on rows 0 and 1.
# Positives: no errors at all -> unchanged.
EOD_CASE_3 = dict(
    y=[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
    pred=[1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1],
    a=[0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1],
    expected=[2.5, 2.5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
)
# No errors anywhere: all weights 1.
EOD_CASE_4 = dict(y=[0, 1, 0, 1], pred=[0, 1, 0, 1], a=[0, 0, 1, 1], expected=[1, 1, 1, 1])


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(EOD_CASE_1, id="fnr-ratio-and-zero-rate-cap"),
        pytest.param(EOD_CASE_2, id="ratio-cap-and-tie"),
        pytest.param(EOD_CASE_3, id="fpr-ratio-below-cap"),
        pytest.param(EOD_CASE_4, id="no-errors"),
    ],
)
def test_mba_eod_weights_hand_made(case):
    w = mba_eod_weights(np.asarray(case["y"]), np.asarray(case["pred"]), np.asarray(case["a"]))
    assert w.dtype == np.float64
    np.testing.assert_allclose(w, case["expected"], rtol=0, atol=1e-12)


def test_mba_eod_weights_only_touch_misclassified_rows():
    rng = np.random.default_rng(0)
    y, pred, a = rng.integers(0, 2, 200), rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    w = mba_eod_weights(y, pred, a)
    assert (w[pred == y] == 1).all()
    assert ((w >= 1) & (w <= MAX_EOD_WEIGHT)).all()
    # Per label, only one group's errors can be up-weighted.
    for label in (0, 1):
        up = (w > 1) & (y == label)
        assert len(np.unique(a[up])) <= 1


# --- threshold adjustment ---------------------------------------------------------------


def test_thresholds_grid():
    assert THRESHOLDS == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (0.3, [1, 1, 0, 1, 1, 0]),
        (0.5, [0, 1, 0, 1, 1, 0]),  # 0.5 for everyone
        (0.6, [0, 1, 0, 1, 0, 0]),
        (1.0, [0, 0, 0, 1, 0, 0]),
    ],
)
def test_predict_with_threshold(threshold, expected):
    scores = np.array([0.3, 0.6, 0.3, 0.6, 0.5, 0.1])
    a = np.array([1, 1, 0, 0, 1, 0])
    pred = predict_with_threshold(scores, a, threshold)
    np.testing.assert_array_equal(pred, expected)
    assert pred.dtype.kind == "i"


def test_predict_with_threshold_custom_base():
    pred = predict_with_threshold(np.array([0.3, 0.3, 0.7]), np.array([1, 0, 0]), 0.2, base=0.8)
    np.testing.assert_array_equal(pred, [1, 0, 0])


# Unprotected scores .9 .6 .4 .2 -> selection 1/2 at the fixed 0.5.
UNPROT_SCORES = [0.9, 0.6, 0.4, 0.2]


@pytest.mark.parametrize(
    ("prot_scores", "prot_y", "expected"),
    [
        # Protected selection 3/4 at 0.1, 1/2 at 0.2 (DP 0), 1/4 at 0.3, 0 from 0.4: DP picks 0.2,
        # although predicting 0 for the protected rows (t >= 0.4) would be more accurate.
        pytest.param([0.35, 0.25, 0.15, 0.05], [0, 0, 0, 0], 0.2, id="dp-first"),
        # Selection 1/2 for t in 0.1..0.3 with identical predictions: the tie goes to 0.3
        # (closest to 0.5).
        pytest.param([0.45, 0.35, 0.05, 0.05], [1, 0, 0, 1], 0.3, id="tie-closest-to-half"),
        # Selection 3/4 for t = 0.1...0.4 (DP 1/4) and 1/4 for t = 0.5, 0.6 (DP 1/4), 0 above: the
        # DP-1/4 thresholds tie; accuracy prefers selecting the positives (y = 1 1 1 0), i.e.
        # t <= 0.4.
        pytest.param([0.65, 0.45, 0.45, 0.05], [1, 1, 1, 0], 0.4, id="tie-accuracy-then-closest"),
        # Same scores, labels favouring few positives: t in 0.5, 0.6 wins, 0.5 is closest.
        pytest.param([0.65, 0.45, 0.45, 0.05], [1, 0, 0, 0], 0.5, id="tie-accuracy-other-way"),
    ],
)
def test_choose_threshold_hand_made(prot_scores, prot_y, expected):
    scores = np.array(UNPROT_SCORES + prot_scores)
    a = np.array([0] * 4 + [1] * len(prot_scores))
    y = np.array([1, 1, 0, 0] + prot_y)
    assert choose_threshold(scores, y, a) == expected


def test_choose_threshold_accuracy_beats_closeness():
    # One protected sample, score 0.15, y = 1: every threshold gives DP 1/2; only t = 0.1 is right.
    scores = np.array([0.9, 0.2, 0.15])
    a = np.array([0, 0, 1])
    y = np.array([1, 0, 1])
    assert choose_threshold(scores, y, a) == 0.1


def test_choose_threshold_minimises_dp_by_brute_force():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2, 60)
    y = rng.integers(0, 2, 60)
    scores = np.clip(rng.random(60) - 0.2 * a, 0, 1)
    chosen = choose_threshold(scores, y, a)

    def dp(t):
        pred = predict_with_threshold(scores, a, t)
        return abs(pred[a == 0].mean() - pred[a == 1].mean())

    assert chosen in THRESHOLDS
    assert dp(chosen) == pytest.approx(min(dp(t) for t in THRESHOLDS), abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_choose_threshold_equals_fairlearn_reference(seed):
    """The chosen threshold is the one fairlearn's demographic_parity_difference ranks first."""
    rng = np.random.default_rng(seed)
    n = 300
    a = rng.integers(0, 2, size=n)
    y = rng.integers(0, 2, size=n)
    scores = np.clip(rng.normal(0.45 + 0.2 * y - 0.1 * a, 0.2), 0, 1)

    def key(t):
        pred = predict_with_threshold(scores, a, t)
        dp = demographic_parity_difference(y, pred, sensitive_features=a)
        return (round(float(dp), 12), -float((pred == y).mean()), abs(t - 0.5))

    assert choose_threshold(scores, y, a) == min(THRESHOLDS, key=key)
