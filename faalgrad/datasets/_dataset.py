"""The :class:`Dataset` container returned by :func:`faalgrad.datasets.load_dataset`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Dataset"]


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A tabular fairness benchmark: raw features, binary label, binary group.

    Instances returned by :func:`~faalgrad.datasets.load_dataset` are cached
    and shared, so treat them as immutable: `y` and `a` are read-only arrays,
    and `features` must not be modified in place (derive new frames with
    ``drop``/``assign``/``copy`` instead, which never touch the shared one
    under pandas' copy-on-write).

    Parameters
    ----------
    name : str
        Dataset name, one of :data:`~faalgrad.datasets.DATASETS`.
    features : pandas.DataFrame
        Raw model inputs, *without* the protected attribute.  Categorical
        columns have dtype ``object`` (Python ``str`` values), numeric
        columns ``float64``; the index is a fresh ``RangeIndex``.  Columns
        are ordered categorical first, then numeric, so
        ``categorical + numeric == tuple(features.columns)``.
    y : numpy.ndarray
        ``int64`` 0/1 label, shape ``(n,)``; see `label_meaning`.
    a : numpy.ndarray
        ``int64`` 0/1 protected attribute, shape ``(n,)``; 1 = protected group.
    categorical : tuple of str
        Names of the categorical columns of `features`, in column order.
    numeric : tuple of str
        Names of the numeric columns of `features`, in column order.
    protected_feature : str
        Column name to use for `a` when the protected attribute is given to
        a model as an input, e.g. ``"sex_female"``.  Never a column of
        `features`.
    group_names : tuple of (str, str)
        Human-readable names of the groups ``a == 0`` and ``a == 1``, in
        that order (unprotected, protected).
    label_meaning : str
        What ``y == 1`` means, e.g. ``"no two-year recidivism"``.

    Raises
    ------
    ValueError
        If the fields are inconsistent (lengths, dtypes, column bookkeeping,
        values outside {0, 1}, or `protected_feature` among the features).
    """

    name: str
    features: pd.DataFrame
    y: np.ndarray
    a: np.ndarray
    categorical: tuple[str, ...]
    numeric: tuple[str, ...]
    protected_feature: str
    group_names: tuple[str, str]
    label_meaning: str

    def __post_init__(self) -> None:
        n = len(self.features)
        for field in ("y", "a"):
            arr = getattr(self, field)
            ok = isinstance(arr, np.ndarray) and arr.dtype == np.int64
            if not ok or arr.shape != (n,):
                raise ValueError(f"{self.name}: {field} must be an int64 array of shape ({n},)")
            if not np.isin(arr, (0, 1)).all():
                raise ValueError(f"{self.name}: {field} must only contain 0 and 1")
        columns = tuple(self.features.columns)
        if tuple(self.categorical) + tuple(self.numeric) != columns:
            raise ValueError(
                f"{self.name}: categorical + numeric must equal the feature "
                f"columns in order; got {columns}"
            )
        if self.protected_feature in columns:
            raise ValueError(
                f"{self.name}: protected feature {self.protected_feature!r} "
                "must not be a column of features"
            )
        if len(self.group_names) != 2:
            raise ValueError(f"{self.name}: group_names must have two entries")

    def __len__(self) -> int:
        """Return the number of rows."""
        return len(self.y)

    def __repr__(self) -> str:
        """Return a one-line summary (the data itself is not printed)."""
        return (
            f"Dataset(name={self.name!r}, n={len(self)}, "
            f"n_features={self.features.shape[1]}, "
            f"positive_rate={self.y.mean():.4f}, protected_rate={self.a.mean():.4f})"
        )
