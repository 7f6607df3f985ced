"""``FaAlGradClassifier``: FaAlGrad with scikit-learn / fairlearn conventions."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted, validate_data

from faalgrad.splits import SPLITS, support_query
from faalgrad.train import TrainConfig, train_faalgrad
from faalgrad.validation import check_choice

__all__ = ["FaAlGradClassifier"]


class FaAlGradClassifier(ClassifierMixin, BaseEstimator):
    """Binary classifier meta-trained with FaAlGrad (gradient alignment across groups).

    ``fit`` holds out a stratified ``validation_fraction`` of the rows for early stopping,
    builds the support set X_s and the query set X_q from the rest with ``split``, and
    meta-trains an MLP; ``predict_proba`` uses the learned θ0. Inputs must be numeric (put
    a ``ColumnTransformer`` before it in a ``Pipeline``).

    Parameters
    ----------
    hidden, activation, inner_lr, outer_lr, inner_steps, first_order
        As in :class:`faalgrad.train.TrainConfig`.
    optimizer, max_epochs, patience, batch_size
        As in :class:`faalgrad.train.TrainConfig`.
    split : {"config1", "config2", "ratio", "swap"}
        Support/query builder, see :mod:`faalgrad.splits`.
    ratio : float or str, optional
        X_s share for the ``ratio`` and ``swap`` splits (``0.2`` or ``"80:20"``).
    config2_direction : {"counter", "consistent"}
        For ``config2``: which cells form X_q (see :func:`faalgrad.splits.support_query`).
    validation_fraction : float
        Share of the rows held out for early stopping.
    random_state : int
        Seed of the hold-out split, the X_s draw and the initialisation.
    """

    def __init__(
        self,
        *,
        hidden=(8,),
        activation="relu",
        inner_lr=0.005,
        outer_lr=0.01,
        inner_steps=1,
        first_order=False,
        optimizer="adam",
        max_epochs=100,
        patience=10,
        batch_size=None,
        split="config1",
        ratio=None,
        config2_direction="counter",
        validation_fraction=0.15,
        random_state=0,
    ):
        self.hidden = hidden
        self.activation = activation
        self.inner_lr = inner_lr
        self.outer_lr = outer_lr
        self.inner_steps = inner_steps
        self.first_order = first_order
        self.optimizer = optimizer
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.split = split
        self.ratio = ratio
        self.config2_direction = config2_direction
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _config(self) -> TrainConfig:
        return TrainConfig(
            hidden=tuple(int(h) for h in np.atleast_1d(self.hidden)),
            activation=self.activation,
            inner_lr=self.inner_lr,
            outer_lr=self.outer_lr,
            inner_steps=self.inner_steps,
            first_order=self.first_order,
            optimizer=self.optimizer,
            max_epochs=self.max_epochs,
            patience=self.patience,
            batch_size=self.batch_size,
        )

    def fit(self, X, y, *, sensitive_features):
        """Meta-train on (X, y); ``sensitive_features`` is 0/1 with 1 = protected."""
        check_choice("split", self.split, SPLITS)
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(
                f"validation_fraction={self.validation_fraction!r} must lie strictly "
                "between 0 and 1"
            )
        config = self._config()
        X, y = validate_data(self, X, y, dtype=np.float32)
        a = np.asarray(sensitive_features).ravel()
        if len(a) != len(y):
            raise ValueError(f"sensitive_features has {len(a)} rows, X has {len(y)}")
        for name, values in (("y", y), ("sensitive_features", a)):
            if not set(np.unique(values)) <= {0, 1}:
                raise ValueError(f"{name} must be binary 0/1, got values {np.unique(values)[:5]}")
        y, a = y.astype(int), a.astype(int)
        self.classes_ = np.array([0, 1])
        train, val = train_test_split(
            np.arange(len(y)),
            test_size=self.validation_fraction,
            stratify=2 * y + a,
            random_state=self.random_state,
        )
        support, query = support_query(
            y[train],
            a[train],
            self.split,
            dataset="the training data",
            ratio=self.ratio,
            seed=self.random_state,
            direction=self.config2_direction,
        )
        Xt, yt = X[train], y[train]
        self.result_ = train_faalgrad(
            Xt[support],
            yt[support],
            Xt[query],
            yt[query],
            X[val],
            y[val],
            config,
            self.random_state,
        )
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n, 2): columns P(y=0), P(y=1)."""
        check_is_fitted(self, "result_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        p = self.result_.predict_proba(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        """Hard labels at threshold 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
