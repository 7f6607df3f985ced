"""Tests for :mod:`faalgrad.splits`: train/val/test split, preprocessing, X_s/X_q builders."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from faalgrad.datasets import DATASETS, Dataset, load_dataset
from faalgrad.splits import (
    DIRECTIONS,
    PAPER_RATIOS,
    SPLITS,
    code_split_indices,
    format_ratio,
    max_ratio,
    over_represented_label,
    parse_ratio,
    split_dataset,
    support_query,
    train_val_test_indices,
)

SIZES = (0.70, 0.15, 0.15)


# --- train / validation / test indices --------------------------------------------------


@pytest.mark.parametrize("name", ["german", "communities", "compas"])
@pytest.mark.parametrize("seed", [0, 3])
def test_indices_disjoint_complete_sized_and_stratified(name, seed):
    ds = load_dataset(name)
    n = len(ds)
    parts = train_val_test_indices(ds.y, ds.a, seed)
    train, val, test = parts
    # Disjoint and complete.
    assert (
        len(np.intersect1d(train, val))
        == len(np.intersect1d(train, test))
        == len(np.intersect1d(val, test))
        == 0
    )
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(n))
    for part in parts:
        np.testing.assert_array_equal(part, np.sort(part))
    # 70 / 15 / 15 up to one row of rounding per split.
    for part, frac in zip(parts, SIZES, strict=True):
        assert abs(len(part) - frac * n) <= 1
    # Stratified on the (y, a) cells. The training split is one stratified draw from all
    # rows, so each cell is within one row of its share; validation and test are a
    # stratified halving of the remaining 30 %, which can add half a row of the first
    # draw's rounding: within 1.5 rows.
    for y_val in (0, 1):
        for a_val in (0, 1):
            cell = (ds.y == y_val) & (ds.a == a_val)
            share = cell.mean()
            assert abs(cell[train].sum() - share * len(train)) < 1
            for part in (val, test):
                assert abs(cell[part].sum() - share * len(part)) < 1.5


def test_indices_depend_on_seed_only():
    ds = load_dataset("german")
    a = train_val_test_indices(ds.y, ds.a, 1)
    b = train_val_test_indices(ds.y, ds.a, 1)
    c = train_val_test_indices(ds.y, ds.a, 2)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("sizes", [(0.7, 0.3), (0.7, 0.2, 0.2), (0.8, 0.2, 0.0), (1.0, -0.5, 0.5)])
def test_indices_reject_bad_sizes(sizes):
    y = np.array([0, 1] * 20)
    with pytest.raises(ValueError, match=re.escape(f"sizes={sizes!r}")):
        train_val_test_indices(y, y, 0, sizes)


# --- preprocessing ----------------------------------------------------------------------


def _toy_dataset(extreme_rows: np.ndarray | None = None) -> Dataset:
    """200 rows, one categorical and two numeric columns; optionally extreme values in some rows."""
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 2, n).astype(np.int64)
    a = rng.integers(0, 2, n).astype(np.int64)
    features = pd.DataFrame(
        {
            "color": np.array(["red", "blue", "green"], dtype=object)[rng.integers(0, 3, n)],
            "x1": rng.normal(5.0, 2.0, n),
            "x2": rng.normal(-1.0, 0.5, n),
        }
    )
    if extreme_rows is not None:
        features.loc[extreme_rows, "x1"] = 1e6
        features.loc[extreme_rows, "x2"] = -1e6
        features.loc[extreme_rows, "color"] = "purple"
    return Dataset(
        name="toy",
        features=features,
        y=y,
        a=a,
        categorical=("color",),
        numeric=("x1", "x2"),
        protected_feature="group_b",
        group_names=("A", "B"),
        label_meaning="positive",
    )


def test_preprocessing_fitted_on_training_split_only():
    clean = _toy_dataset()
    train, val, test = train_val_test_indices(clean.y, clean.a, 0)
    held_out = np.concatenate([val, test])
    dirty = _toy_dataset(extreme_rows=held_out)  # same y, a: same split; wild val/test features
    c, d = split_dataset(clean, 0), split_dataset(dirty, 0)

    # The training matrix and feature set do not see the validation/test rows at all.
    np.testing.assert_array_equal(d.X_train, c.X_train)
    assert (
        d.feature_names
        == c.feature_names
        == ("x1", "x2", "color_blue", "color_green", "color_red", "group_b")
    )
    # Numeric columns standardised with the training mean/std (ddof=0, StandardScaler).
    np.testing.assert_allclose(d.X_train[:, :2].mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(d.X_train[:, :2].std(axis=0), 1.0, atol=1e-6)
    raw = clean.features.iloc[train][["x1", "x2"]].to_numpy()
    mu, sd = raw.mean(axis=0), raw.std(axis=0)
    np.testing.assert_allclose(
        d.X_val[:, :2], np.broadcast_to((np.array([1e6, -1e6]) - mu) / sd, (len(val), 2)), rtol=1e-6
    )
    np.testing.assert_allclose(
        c.X_test[:, :2],
        (clean.features.iloc[test][["x1", "x2"]].to_numpy() - mu) / sd,
        rtol=1e-5,
        atol=1e-5,
    )
    # The unseen category is ignored: all one-hot columns zero.
    assert (d.X_val[:, 2:5] == 0).all() and (d.X_test[:, 2:5] == 0).all()
    # Training one-hot rows have exactly one 1.
    np.testing.assert_array_equal(c.X_train[:, 2:5].sum(axis=1), 1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_real_data_scaled_on_train(seed):
    ds = load_dataset("german")
    data = split_dataset(ds, seed)
    numeric = [data.feature_names.index(c) for c in ds.numeric]
    np.testing.assert_allclose(data.X_train[:, numeric].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data.X_train[:, numeric].std(axis=0), 1.0, atol=1e-5)
    for X in (data.X_val, data.X_test):  # other rows: not exactly standardised
        assert np.abs(X[:, numeric].mean(axis=0)).max() > 1e-3
    assert all(X.dtype == np.float32 for X in (data.X_train, data.X_val, data.X_test))


@pytest.mark.parametrize("name", ["german", "communities"])
def test_split_dataset_rows_and_protected_column(name):
    ds = load_dataset(name)
    train, val, test = train_val_test_indices(ds.y, ds.a, 2)
    with_a = split_dataset(ds, 2)
    without = split_dataset(ds, 2, include_protected=False)
    assert with_a.dataset == name and with_a.seed == 2
    for part, idx in (("train", train), ("val", val), ("test", test)):
        np.testing.assert_array_equal(getattr(with_a, f"y_{part}"), ds.y[idx])
        np.testing.assert_array_equal(getattr(with_a, f"a_{part}"), ds.a[idx])
        X, X_no = getattr(with_a, f"X_{part}"), getattr(without, f"X_{part}")
        assert X.shape == (len(idx), len(with_a.feature_names))
        assert X_no.shape == (len(idx), X.shape[1] - 1)
        np.testing.assert_array_equal(X[:, -1], ds.a[idx])  # the last column is a
        np.testing.assert_array_equal(X[:, :-1], X_no)  # everything else unchanged
    assert with_a.feature_names[-1] == ds.protected_feature
    assert with_a.feature_names[:-1] == without.feature_names
    assert ds.protected_feature not in without.feature_names


# --- support / query builders -----------------------------------------------------------

# Hand-made training split: 12 rows, all four (a, y) cells present.
Y = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1])
A = np.array([1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0])
PROTECTED = [0, 1, 4, 6, 9]
UNPROTECTED = [2, 3, 5, 7, 8, 10, 11]


def _check_partition(support, query, n):
    assert len(np.intersect1d(support, query)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([support, query])), np.arange(n))
    np.testing.assert_array_equal(support, np.sort(support))
    np.testing.assert_array_equal(query, np.sort(query))


def test_config1_support_is_protected_rows():
    support, query = support_query(Y, A, "config1", dataset="compas")
    np.testing.assert_array_equal(support, PROTECTED)
    np.testing.assert_array_equal(query, UNPROTECTED)


# (protected, y=0) = 0, 6, 9; (protected, y=1) = 1, 4; (unprotected, y=0) = 3, 5;
# (unprotected, y=1) = 2, 7, 8, 10, 11. The protected group's rate of y = 1 (2/5) is below
# the unprotected group's (5/7): its over-represented label is 0.
CONSISTENT = [0, 2, 6, 7, 8, 9, 10, 11]  # protected y=0 + unprotected y=1
COUNTER = [1, 3, 4, 5]  # protected y=1 + unprotected y=0


def test_over_represented_label():
    assert over_represented_label(Y, A) == 0
    assert over_represented_label(1 - Y, A) == 1
    with pytest.raises(ValueError, match="both groups"):
        over_represented_label(Y, np.ones_like(A))


@pytest.mark.parametrize(("direction", "query"), [("counter", COUNTER), ("consistent", CONSISTENT)])
def test_config2_direction_names_the_query_cells(direction, query):
    support, q = support_query(Y, A, "config2", dataset="toy", direction=direction)
    np.testing.assert_array_equal(q, query)
    _check_partition(support, q, len(Y))
    # flipping the label coding flips the over-represented label, not the cells
    support_flipped, q_flipped = support_query(1 - Y, A, "config2", direction=direction)
    np.testing.assert_array_equal(q_flipped, query)


def test_config2_default_is_the_authors_code_and_bad_direction_is_refused():
    assert DIRECTIONS == ("counter", "consistent")
    np.testing.assert_array_equal(support_query(Y, A, "config2")[1], COUNTER)
    with pytest.raises(ValueError, match="'sideways'; valid choices: counter, consistent"):
        support_query(Y, A, "config2", direction="sideways")


#: The over-represented label of the protected group, by meaning, in each dataset's coding.
OVER = {
    "compas": 0,
    "adult": 0,
    "communities": 1,
    "german": 0,
}  # re-offended, <=50K, high crime, bad credit


@pytest.mark.parametrize("dataset", DATASETS)
def test_config2_on_each_dataset(dataset):
    ds = load_dataset(dataset)
    y, a = ds.y, ds.a
    assert over_represented_label(y, a) == OVER[dataset]
    support, query = support_query(y, a, "config2", dataset=dataset)
    label = OVER[dataset]
    assert ((a[query] == 1) & (y[query] != label) | (a[query] == 0) & (y[query] == label)).all()
    assert (
        (a[support] == 1) & (y[support] == label) | (a[support] == 0) & (y[support] != label)
    ).all()
    _check_partition(support, query, len(y))


def test_code_split_indices_replay_the_script_draws():
    """The script's order of draws from NumPy's global generator after np.random.seed(seed)."""
    from sklearn.model_selection import train_test_split

    train, val, test = code_split_indices(1000, 102)
    assert (len(train), len(val), len(test)) == (700, 100, 200)
    # The script draws from NumPy's global generator: replay it there, then restore it.
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(102)  # noqa: NPY002
    rest, test_ref = train_test_split(np.arange(1000), test_size=0.2)
    train_ref, val_ref = train_test_split(rest, test_size=0.125)
    np.random.set_state(state)  # noqa: NPY002
    for got, ref in ((train, train_ref), (val, val_ref), (test, test_ref)):
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("seed", [0, 1])
def test_every_builder_partitions(split, seed):
    rng = np.random.default_rng(seed)
    y, a = rng.integers(0, 2, 101), (rng.random(101) < 0.45).astype(int)
    ratio = 0.3 if split in ("ratio", "swap") else None
    support, query = support_query(y, a, split, dataset="german", ratio=ratio, seed=seed)
    _check_partition(support, query, 101)
    assert len(support) > 0 and len(query) > 0


@pytest.mark.parametrize(("split", "group"), [("ratio", 1), ("swap", 0)])
@pytest.mark.parametrize("ratio", [0.1, 0.2, "80:20", "70:30", 0.35])
def test_ratio_and_swap_support(split, group, ratio):
    rng = np.random.default_rng(4)
    n = 203
    a = np.zeros(n, dtype=int)
    a[rng.choice(n, size=90, replace=False)] = 1  # 90 protected, 113 unprotected
    y = rng.integers(0, 2, n)
    support, query = support_query(y, a, split, dataset="compas", ratio=ratio, seed=0)
    share = parse_ratio(ratio)
    assert len(support) == round(share * n)
    assert (a[support] == group).all()
    _check_partition(support, query, n)
    # The query set keeps every sample of the other group.
    assert set(np.flatnonzero(a != group)) <= set(query)


@pytest.mark.parametrize("split", ["ratio", "swap"])
def test_ratio_draw_depends_on_seed(split):
    a = np.array([1, 0] * 50)
    y = np.zeros(100, dtype=int)
    s0, _ = support_query(y, a, split, dataset="german", ratio=0.2, seed=0)
    s0b, _ = support_query(y, a, split, dataset="german", ratio=0.2, seed=0)
    s1, _ = support_query(y, a, split, dataset="german", ratio=0.2, seed=1)
    np.testing.assert_array_equal(s0, s0b)
    assert not np.array_equal(s0, s1)


@pytest.mark.parametrize("split", ["ratio", "swap"])
def test_ratio_needs_a_ratio(split):
    with pytest.raises(ValueError, match=f"split '{split}' needs a ratio"):
        support_query(Y, A, split, dataset="german")


def test_ratio_up_to_the_group_share_is_feasible():
    support, query = support_query(Y, A, "ratio", dataset="german", ratio=5 / 12)
    np.testing.assert_array_equal(support, PROTECTED)
    support, _ = support_query(Y, A, "swap", dataset="german", ratio=7 / 12)
    np.testing.assert_array_equal(support, UNPROTECTED)


def _largest_feasible(message: str) -> float:
    match = re.search(r"largest feasible ratio is (\d\.\d{3})", message)
    assert match, message
    return float(match.group(1))


@pytest.mark.parametrize(
    ("name", "split"),
    [("adult", "ratio"), ("german", "ratio"), ("compas", "swap"), ("communities", "ratio")],
)
def test_infeasible_ratio_reports_largest_feasible_value(name, split):
    """The paper's 50:50 is infeasible here; the error names the largest share that works."""
    ds = load_dataset(name)
    train, _, _ = train_val_test_indices(ds.y, ds.a, 0)
    y, a = ds.y[train], ds.a[train]
    share = (a == 1).mean() if split == "ratio" else (a == 0).mean()
    assert max_ratio(a, split) == share
    with pytest.raises(ValueError, match=f"infeasible for {name}") as info:
        support_query(y, a, split, dataset=name, ratio="50:50")
    shown = _largest_feasible(str(info.value))
    assert share - 0.001 < shown <= share  # the group share, to three decimals
    support, _ = support_query(y, a, split, dataset=name, ratio=shown)  # ...and it works
    assert len(support) == round(shown * len(y))
    with pytest.raises(ValueError, match="infeasible"):
        support_query(y, a, split, dataset=name, ratio=shown + 0.001)


def test_infeasible_ratio_synthetic_known_share():
    a = np.array([1] * 30 + [0] * 70)
    y = np.zeros(100, dtype=int)
    with pytest.raises(ValueError, match=r"largest feasible ratio is 0\.300 \(70:30\)"):
        support_query(y, a, "ratio", dataset="german", ratio=0.4)
    with pytest.raises(ValueError, match=r"largest feasible ratio is 0\.700 \(30:70\)"):
        support_query(y, a, "swap", dataset="german", ratio=0.8)


def test_unknown_split_lists_choices():
    with pytest.raises(
        ValueError, match="unknown split 'config3'; valid choices: config1, config2, ratio, swap"
    ):
        support_query(Y, A, "config3", dataset="german")


# --- ratio helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("80:20", 0.2),
        ("70:30", 0.3),
        ("60:40", 0.4),
        ("50:50", 0.5),
        ("8:2", 0.2),
        (0.25, 0.25),
        ("1:3", 0.75),
    ],
)
def test_parse_ratio(value, expected):
    assert parse_ratio(value) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize(
    "value", ["80-20", "a:b", "80:20:0", "100:0", "-10:20", 0.0, 1.0, 1.5, -0.2]
)
def test_parse_ratio_rejects(value):
    with pytest.raises(
        ValueError, match=re.escape(repr(value)) if isinstance(value, str) else "strictly between"
    ):
        parse_ratio(value)


@pytest.mark.parametrize("ratio", PAPER_RATIOS)
def test_format_ratio_round_trip(ratio):
    assert parse_ratio(format_ratio(ratio)) == pytest.approx(ratio, abs=1e-15)


def test_paper_ratios_and_format():
    assert [format_ratio(r) for r in PAPER_RATIOS] == ["80:20", "70:30", "60:40", "50:50"]
    assert max_ratio(np.array([1, 0, 0, 0]), "ratio") == 0.25
    assert max_ratio(np.array([1, 0, 0, 0]), "swap") == 0.75
