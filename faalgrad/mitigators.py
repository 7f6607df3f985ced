"""fairlearn's mitigators as run-grid methods, on the same splits and seeds as FaAlGrad.

ExponentiatedGradient (DP or equalized odds) with a logistic-regression base learner, and
ThresholdOptimizer post-processing the baseline MLP on the validation split. The
Comparisons page (book/comparisons.ipynb) explains the choices.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import DemographicParity, EqualizedOdds, ExponentiatedGradient
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from faalgrad.validation import check_choice

__all__ = [
    "MITIGATORS",
    "POSTPROCESSORS",
    "MitigatorResult",
    "ScoreModel",
    "base_learner",
    "check_mitigator",
    "fit_mitigator",
    "quiet",
]

MITIGATORS: tuple[str, ...] = ("eg_dp", "eg_eo", "to_dp", "to_eo")
#: The mitigators that post-process the baseline MLP (they need it, trained first).
POSTPROCESSORS: tuple[str, ...] = ("to_dp", "to_eo")

_EG_CONSTRAINTS = {"eg_dp": DemographicParity, "eg_eo": EqualizedOdds}
_TO_CONSTRAINTS = {"to_dp": "demographic_parity", "to_eo": "equalized_odds"}


def check_mitigator(method: str) -> str:
    """``method`` if it is one of :data:`MITIGATORS`, else a ``ValueError`` listing them."""
    return check_choice("mitigator", method, MITIGATORS)


def base_learner(seed: int = 0) -> LogisticRegression:
    """ExponentiatedGradient's base learner: ``LogisticRegression(solver="liblinear")`` seeded."""
    return LogisticRegression(solver="liblinear", random_state=int(seed))


@contextmanager
def quiet() -> Iterator[None]:
    """Silence fairlearn's pandas deprecation warnings and scikit-learn's ConvergenceWarning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"fairlearn(\.|$)")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        yield


class ScoreModel(ClassifierMixin, BaseEstimator):
    """A fitted score model (anything with ``predict_proba(X) -> P(y = 1)``, shape (n,)) as a
    fitted scikit-learn binary classifier, for ``ThresholdOptimizer(prefit=True)``."""

    def __init__(self, model: Any = None) -> None:
        self.model = model

    def __sklearn_is_fitted__(self) -> bool:
        return self.model is not None

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])

    def fit(self, X, y):  # noqa: D102 - prefit only
        return self

    def predict_proba(self, X) -> np.ndarray:
        p = np.asarray(self.model.predict_proba(X), dtype=float).reshape(-1)
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


@dataclass
class MitigatorResult:
    """A fitted mitigator, with the interface :func:`faalgrad.runs.run` uses.

    ``predict_proba(X)`` is the score for AUCs; ``predict_labels(X, a)`` the randomised
    classifier's hard labels (``random_state`` = ``seed``). ``best_epoch`` and ``val_loss``
    stand in for the trainer's: for ExponentiatedGradient the best iterate and one (NaN)
    entry per iteration, so a run row's ``epochs`` counts the iterations; for
    ThresholdOptimizer those of the baseline MLP it post-processes.
    """

    method: str
    estimator: ExponentiatedGradient | ThresholdOptimizer
    seed: int
    scorer: Any = None
    best_epoch: int = 0
    val_loss: list[float] = field(default_factory=list)

    def predict_proba(self, X) -> np.ndarray:
        """The score of each row of ``X`` (see the module docstring)."""
        X = np.asarray(X)
        if isinstance(self.estimator, ThresholdOptimizer):
            return self.scorer.predict_proba(X)[:, 1]
        eg = self.estimator
        with quiet():
            weights = eg.weights_[eg.weights_ > 0]
            return sum(w * eg.predictors_[t].predict_proba(X)[:, 1] for t, w in weights.items())

    def predict_labels(self, X, sensitive_features) -> np.ndarray:
        """Hard 0/1 labels of the randomised classifier, reproducible (``random_state=seed``)."""
        X, a = np.asarray(X), np.asarray(sensitive_features).astype(int)
        with quiet():
            if isinstance(self.estimator, ThresholdOptimizer):
                pred = self.estimator.predict(X, sensitive_features=a, random_state=self.seed)
            else:
                pred = self.estimator.predict(X, random_state=self.seed)
        return np.asarray(pred).astype(int)


def fit_mitigator(method: str, data, seed: int, *, model: Any = None) -> MitigatorResult:
    """Fit mitigator ``method`` on one seed's :class:`~faalgrad.splits.SplitData`.

    ExponentiatedGradient (``eg_*``) fits on the training split; ThresholdOptimizer
    (``to_*``) needs ``model``, the fitted baseline MLP (``predict_proba`` giving P(y = 1)),
    and fits its thresholds on the validation split.
    """
    check_mitigator(method)
    seed = int(seed)
    with quiet():
        if method in POSTPROCESSORS:
            if model is None:
                raise ValueError(f"{method!r} post-processes a fitted model: pass model=")
            scorer = ScoreModel(model)
            to = ThresholdOptimizer(
                estimator=scorer,
                constraints=_TO_CONSTRAINTS[method],
                prefit=True,
                predict_method="predict_proba",
            )
            to.fit(
                np.asarray(data.X_val),
                np.asarray(data.y_val).astype(int),
                sensitive_features=np.asarray(data.a_val).astype(int),
            )
            return MitigatorResult(
                method,
                to,
                seed,
                scorer=scorer,
                best_epoch=getattr(model, "best_epoch", 0),
                val_loss=list(getattr(model, "val_loss", [])),
            )
        eg = ExponentiatedGradient(base_learner(seed), constraints=_EG_CONSTRAINTS[method]())
        eg.fit(
            np.asarray(data.X_train, dtype=np.float64),
            np.asarray(data.y_train).astype(int),
            sensitive_features=np.asarray(data.a_train).astype(int),
        )
    return MitigatorResult(
        method,
        eg,
        seed,
        best_epoch=int(eg.best_iter_),
        val_loss=[float("nan")] * (eg.last_iter_ + 1),
    )
