"""Train/validation/test splits and the support/query (X_s / X_q) builders.

The split is stratified on the (label, protected) cells, 70 / 15 / 15 (paper 5.3), and
preprocessing is fitted on the training split only. The builders: ``config1`` and
``config2`` (paper 5.4), ``ratio`` and ``swap`` (paper 5.5 and 5.6), read as stated on
the book's Table 1 page ("How the support and query sets are built").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from faalgrad.datasets import Dataset
from faalgrad.validation import check_choice

__all__ = [
    "DIRECTIONS",
    "INPUTS",
    "PAPER_RATIOS",
    "SPLIT_PROCEDURES",
    "SPLITS",
    "SplitData",
    "SplitMode",
    "format_ratio",
    "max_ratio",
    "parse_ratio",
    "over_represented_label",
    "split_dataset",
    "support_query",
    "train_val_test_indices",
]

SplitMode = Literal["config1", "config2", "ratio", "swap"]
SPLITS: tuple[str, ...] = get_args(SplitMode)

#: Config 2 directions, named by the cells placed in the query set X_q: the counter-
#: stereotypical cells (the authors' code, the default) or the stereotype-consistent ones.
DIRECTIONS: tuple[str, ...] = ("counter", "consistent")
#: How the train/validation/test split is drawn: ours (70/15/15, stratified) or the
#: authors' script (80/20 then 12.5 % of the rest, unstratified, NumPy RandomState).
SPLIT_PROCEDURES: tuple[str, ...] = ("paper", "code")
#: Numeric inputs: standardised (ours), raw, or raw rounded down to integers (the authors'
#: script casts its COMPAS design matrix to int, after whole-day lengths of stay).
INPUTS: tuple[str, ...] = ("scaled", "raw", "integer")

#: The paper's ratio grid, X_q:X_s = 80:20 ... 50:50, as X_s shares.
PAPER_RATIOS: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5)


@dataclass(frozen=True)
class SplitData:
    """One seed's train/validation/test split, preprocessed (fitted on train)."""

    X_train: np.ndarray
    y_train: np.ndarray
    a_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    a_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    a_test: np.ndarray
    feature_names: tuple[str, ...]
    dataset: str
    seed: int


def train_val_test_indices(
    y: np.ndarray, a: np.ndarray, seed: int, sizes: tuple[float, float, float] = (0.70, 0.15, 0.15)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of a train/validation/test split stratified on (label, protected)."""
    if len(sizes) != 3 or any(s <= 0 for s in sizes) or not np.isclose(sum(sizes), 1.0):
        raise ValueError(f"sizes={sizes!r} must be three positive fractions summing to 1")
    strata = 2 * np.asarray(y) + np.asarray(a)
    idx = np.arange(len(strata))
    train, rest = train_test_split(idx, train_size=sizes[0], stratify=strata, random_state=seed)
    val, test = train_test_split(
        rest, train_size=sizes[1] / (sizes[1] + sizes[2]), stratify=strata[rest], random_state=seed
    )
    return np.sort(train), np.sort(val), np.sort(test)


def code_split_indices(n_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The authors' script's split: 20 % test, then 12.5 % of the rest as validation.

    Both ``train_test_split`` calls are unstratified and draw, in the script's order, from
    one explicit ``np.random.RandomState(seed)`` (the script seeds NumPy's global legacy
    generator instead). Rows keep the script's order (not sorted).

    Parameters
    ----------
    n_rows : int
        Rows of the dataset.
    seed : int
        The script's seed.

    Returns
    -------
    train, val, test : numpy.ndarray
        Row positions: 70 %, 10 % and 20 % of the rows.
    """
    state = np.random.RandomState(seed)
    rest, test = train_test_split(np.arange(n_rows), test_size=0.2, random_state=state)
    train, val = train_test_split(rest, test_size=0.125, random_state=state)
    return train, val, test


def split_dataset(
    dataset: Dataset,
    seed: int,
    *,
    include_protected: bool = True,
    procedure: str = "paper",
    inputs: str = "scaled",
) -> SplitData:
    """Split ``dataset`` for ``seed`` and preprocess it, fitting on the training split.

    Parameters
    ----------
    dataset : Dataset
        The data.
    seed : int
        Seed of the split.
    include_protected : bool
        Append the binary protected attribute as the last input column, named
        ``dataset.protected_feature``.
    procedure : {"paper", "code"}
        :func:`train_val_test_indices` (70 / 15 / 15, stratified) or
        :func:`code_split_indices` (the authors' script).
    inputs : {"scaled", "raw", "integer"}
        Numeric columns standardised, left raw, or rounded down to integers (the authors'
        script). Categorical columns are one-hot encoded (unknown categories ignored).

    Returns
    -------
    SplitData
    """
    check_choice("split procedure", procedure, SPLIT_PROCEDURES)
    check_choice("inputs", inputs, INPUTS)
    numeric = {
        "scaled": StandardScaler(),
        "raw": "passthrough",
        "integer": FunctionTransformer(np.floor, feature_names_out="one-to-one"),
    }[inputs]
    if procedure == "paper":
        train, val, test = train_val_test_indices(dataset.y, dataset.a, seed)
    else:
        train, val, test = code_split_indices(len(dataset.y), seed)
    transformer = ColumnTransformer(
        [
            ("num", numeric, list(dataset.numeric)),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                list(dataset.categorical),
            ),
        ],
        verbose_feature_names_out=False,
    )
    features = dataset.features
    transformer.fit(features.iloc[train])
    names = tuple(str(n) for n in transformer.get_feature_names_out())

    def encode(rows: np.ndarray) -> np.ndarray:
        X = transformer.transform(features.iloc[rows]).astype(np.float32)
        if include_protected:
            X = np.column_stack([X, dataset.a[rows].astype(np.float32)])
        return X

    if include_protected:
        names = names + (dataset.protected_feature,)
    return SplitData(
        X_train=encode(train),
        y_train=dataset.y[train],
        a_train=dataset.a[train],
        X_val=encode(val),
        y_val=dataset.y[val],
        a_val=dataset.a[val],
        X_test=encode(test),
        y_test=dataset.y[test],
        a_test=dataset.a[test],
        feature_names=names,
        dataset=dataset.name,
        seed=seed,
    )


def parse_ratio(value: float | str) -> float:
    """X_s share from a float, its text or an ``"X_q:X_s"`` string.

    A float in (0, 1) (or its text, ``"0.2"``) or an ``"X_q:X_s"`` string such as ``"80:20"``.
    """
    given = value
    if isinstance(value, str) and ":" not in value:
        try:
            value = float(value)  # a decimal X_s share given as text, e.g. on the command line
        except ValueError:
            raise ValueError(
                f"ratio {value!r} must be an X_s share such as 0.2 or look like '80:20' (X_q:X_s)"
            ) from None
    if isinstance(value, str):
        try:
            q, s = (float(part) for part in value.split(":"))
        except ValueError:
            raise ValueError(
                f"ratio {value!r} must be an X_s share such as 0.2 or look like '80:20' (X_q:X_s)"
            ) from None
        if q < 0 or s <= 0:
            raise ValueError(f"ratio {value!r} must have a positive X_s part")
        value = s / (q + s)
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"ratio {given!r} must lie strictly between 0 and 1 (the X_s share)")
    return value


def max_ratio(a: np.ndarray, split: Literal["ratio", "swap"]) -> float:
    """Largest feasible X_s share: the protected (``ratio``) or unprotected (``swap``) share."""
    a = np.asarray(a)
    moved = a == 1 if split == "ratio" else a == 0
    return float(moved.mean())


def format_ratio(ratio: float) -> str:
    """``0.2`` -> ``"80:20"`` (X_q:X_s, in percent)."""
    s = round(100 * ratio)
    return f"{100 - s}:{s}"


def over_represented_label(y: np.ndarray, a: np.ndarray) -> int:
    """The label more frequent among protected than among unprotected samples (the
    group's over-represented label: COMPAS re-offended, Adult income <=50K, ...).

    Parameters
    ----------
    y, a : array of 0/1
        Labels and protected attribute of a training split.

    Returns
    -------
    int
        1 if the protected group's rate of y = 1 exceeds the unprotected group's, else 0.
    """
    y, a = np.asarray(y), np.asarray(a)
    if not ((a == 1).any() and (a == 0).any()):
        raise ValueError("both groups must be present to find the over-represented label")
    return int(y[a == 1].mean() > y[a == 0].mean())


def support_query(
    y: np.ndarray,
    a: np.ndarray,
    split: SplitMode,
    *,
    dataset: str = "data",
    ratio: float | str | None = None,
    seed: int = 0,
    direction: str = "counter",
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (support, query) of X_s and X_q within a training split.

    Parameters
    ----------
    y, a : array of 0/1
        Training labels and protected attribute (1 = protected).
    split : {"config1", "config2", "ratio", "swap"}
        Builder, see the module docstring.
    dataset : str
        Dataset name, used in error messages.
    direction : {"counter", "consistent"}
        Config 2: which cells form X_q, the counter-stereotypical ones (protected samples
        without the group's over-represented label, unprotected samples with it) or the
        stereotype-consistent ones; X_s holds the others. The over-represented label is
        computed from ``y`` and ``a`` (:func:`over_represented_label`).
    ratio : float or str, optional
        X_s share (``0.2`` or ``"80:20"``); required by ``ratio`` and ``swap``.
    seed : int
        Seed of the random draw of the samples moved into X_s.
    """
    y, a = np.asarray(y), np.asarray(a)
    idx = np.arange(len(y))
    if split == "config1":
        support = idx[a == 1]
    elif split == "config2":
        check_choice("Config 2 direction", direction, DIRECTIONS)
        label = over_represented_label(y, a)
        consistent = ((a == 1) & (y == label)) | ((a == 0) & (y != label))
        support = idx[~consistent] if direction == "consistent" else idx[consistent]
    elif split in ("ratio", "swap"):
        if ratio is None:
            raise ValueError(f"split {split!r} needs a ratio (X_s share, e.g. 0.2 or '80:20')")
        share = parse_ratio(ratio)
        pool = idx[a == 1] if split == "ratio" else idx[a == 0]
        n_support = int(round(share * len(y)))
        if n_support > len(pool):
            group = "protected" if split == "ratio" else "unprotected"
            limit = max_ratio(a, split)
            # Rounded down (not to nearest), so that the value printed is itself feasible.
            shown, shown_pct = (np.floor(k * limit + 1e-9) / k for k in (1000, 100))
            raise ValueError(
                f"ratio {format_ratio(share)} (X_s share {share:.2f}) is infeasible for "
                f"{dataset} with split {split!r}: X_s holds only {group} samples, "
                f"{100 * limit:.1f}% of the training split; the largest feasible ratio is "
                f"{shown:.3f} ({format_ratio(shown_pct)})"
            )
        rng = np.random.default_rng(seed)
        support = np.sort(rng.choice(pool, size=n_support, replace=False))
    else:
        check_choice("split", split, SPLITS)
    query = np.setdiff1d(idx, support, assume_unique=True)
    return support, query
