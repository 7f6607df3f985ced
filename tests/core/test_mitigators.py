"""fairlearn mitigators as run-grid methods (faalgrad.mitigators)."""

import warnings

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
from sklearn.base import is_classifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from faalgrad.mitigators import (
    MITIGATORS,
    POSTPROCESSORS,
    MitigatorResult,
    ScoreModel,
    base_learner,
    check_mitigator,
    fit_mitigator,
)
from faalgrad.runs import METHODS, RunSpec, cached_split, run
from faalgrad.splits import SplitData


def _biased(n: int, seed: int):
    """Two features; the first is shifted for the protected group, and the label follows it."""
    rng = np.random.default_rng(seed)
    a = (rng.random(n) < 0.4).astype(int)
    X = np.column_stack([rng.normal(1.5 * a, 1.0), rng.normal(0.0, 1.0, n)]).astype(np.float32)
    y = (rng.random(n) < 1 / (1 + np.exp(-(2 * X[:, 0] + X[:, 1] - 1)))).astype(int)
    return X, y, a


@pytest.fixture(scope="module")
def data() -> SplitData:
    (Xt, yt, at), (Xv, yv, av), (Xs, ys, as_) = (
        _biased(n, s) for n, s in ((1200, 0), (600, 1), (600, 2))
    )
    return SplitData(Xt, yt, at, Xv, yv, av, Xs, ys, as_, ("x0", "x1"), "toy", 0)


class _Scores:
    """A fitted score model with the trainer's interface: predict_proba(X) -> P(y = 1)."""

    def __init__(self, data: SplitData) -> None:
        self.lr = LogisticRegression().fit(data.X_train, data.y_train)

    def predict_proba(self, X):
        return self.lr.predict_proba(X)[:, 1]


@pytest.fixture(scope="module")
def scores(data) -> _Scores:
    return _Scores(data)


def _fit(method, data, scores, seed=0):
    return fit_mitigator(method, data, seed, model=scores if method in POSTPROCESSORS else None)


def test_registered_in_the_grid():
    assert set(MITIGATORS) <= set(METHODS)
    for m in MITIGATORS:
        assert METHODS[m].family == "fairlearn"
        assert METHODS[m].needs_erm == (m in POSTPROCESSORS)


@pytest.mark.parametrize("method", MITIGATORS)
def test_shapes_and_values(method, data, scores):
    result = _fit(method, data, scores)
    assert isinstance(result, MitigatorResult)
    p = result.predict_proba(data.X_test)
    labels = result.predict_labels(data.X_test, data.a_test)
    assert p.shape == labels.shape == (len(data.y_test),)
    assert np.all((p >= 0) & (p <= 1))
    assert set(np.unique(labels)) <= {0, 1}
    if method not in POSTPROCESSORS:  # one entry per ExponentiatedGradient iteration
        assert len(
            result.val_loss
        ) == result.estimator.last_iter_ + 1 and 0 <= result.best_epoch < len(result.val_loss)


@pytest.mark.parametrize("method", MITIGATORS)
def test_deterministic(method, data, scores):
    one, two = _fit(method, data, scores, seed=3), _fit(method, data, scores, seed=3)
    np.testing.assert_array_equal(
        one.predict_labels(data.X_test, data.a_test), two.predict_labels(data.X_test, data.a_test)
    )
    np.testing.assert_array_equal(one.predict_proba(data.X_test), two.predict_proba(data.X_test))
    # repeated predictions of one fitted model are reproducible too (fixed random_state)
    np.testing.assert_array_equal(
        one.predict_labels(data.X_test, data.a_test), one.predict_labels(data.X_test, data.a_test)
    )


@pytest.mark.parametrize("method", ["eg_dp", "to_dp"])
def test_dp_constraint_reduces_dp_difference(method, data, scores):
    plain = (scores.predict_proba(data.X_test) >= 0.5).astype(int)
    before = demographic_parity_difference(data.y_test, plain, sensitive_features=data.a_test)
    fair = _fit(method, data, scores).predict_labels(data.X_test, data.a_test)
    after = demographic_parity_difference(data.y_test, fair, sensitive_features=data.a_test)
    assert before > 0.2
    assert after < before / 2


@pytest.mark.parametrize("method", ["eg_eo", "to_eo"])
def test_eo_constraint_reduces_eod_difference(method, data, scores):
    plain = (scores.predict_proba(data.X_test) >= 0.5).astype(int)
    before = equalized_odds_difference(data.y_test, plain, sensitive_features=data.a_test)
    fair = _fit(method, data, scores).predict_labels(data.X_test, data.a_test)
    after = equalized_odds_difference(data.y_test, fair, sensitive_features=data.a_test)
    assert after < before


def test_threshold_optimizer_keeps_the_model_scores(data, scores):
    result = _fit("to_dp", data, scores)
    np.testing.assert_allclose(result.predict_proba(data.X_test), scores.predict_proba(data.X_test))


def test_exponentiated_gradient_score_is_the_mixture(data, scores):
    result = _fit("eg_dp", data, scores)
    eg = result.estimator
    assert np.isclose(eg.weights_.sum(), 1.0)
    expected = sum(
        w * eg.predictors_[t].predict_proba(data.X_test)[:, 1] for t, w in eg.weights_.items()
    )
    np.testing.assert_allclose(result.predict_proba(data.X_test), expected)


@pytest.mark.parametrize("method", MITIGATORS)
def test_no_warnings_escape(method, data, scores):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = _fit(method, data, scores)
        result.predict_labels(data.X_test, data.a_test)
        result.predict_proba(data.X_test)


def test_base_learner_is_seeded_liblinear():
    lr = base_learner(7)
    assert isinstance(lr, LogisticRegression) and lr.solver == "liblinear" and lr.random_state == 7


def test_score_model_is_a_fitted_classifier(scores, data):
    wrapped = ScoreModel(scores)
    check_is_fitted(wrapped)
    assert is_classifier(wrapped)
    proba = wrapped.predict_proba(data.X_test)
    assert proba.shape == (len(data.y_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(wrapped.predict(data.X_test), (proba[:, 1] >= 0.5).astype(int))


def test_bad_method_and_missing_model(data):
    with pytest.raises(ValueError, match="valid choices: eg_dp, eg_eo, to_dp, to_eo"):
        check_mitigator("reductions")
    with pytest.raises(ValueError, match="model="):
        fit_mitigator("to_eo", data, 0)


@pytest.mark.parametrize("method", ["eg_dp", "to_eo"])
def test_run_row_uses_the_randomised_labels(method):
    row = run(RunSpec("german", method, seed=0))
    assert row["label"] == METHODS[method].label
    d = cached_split("german", 0)
    from faalgrad.runs import erm_model

    result = fit_mitigator(
        method, d, 0, model=erm_model("german", 0) if method in POSTPROCESSORS else None
    )
    labels = result.predict_labels(d.X_test, d.a_test)
    assert row["accuracy"] == pytest.approx(float((labels == d.y_test).mean()))
    assert row["dp_diff"] == pytest.approx(
        demographic_parity_difference(d.y_test, labels, sensitive_features=d.a_test)
    )
    assert 0 <= row["val_accuracy"] <= 1 and 0 <= row["auc"] <= 1


def test_cli_runs_a_mitigator(capsys):
    from faalgrad.__main__ import main

    assert (
        main(["run", "--dataset", "german", "--method", "eg_dp", "--seeds", "1", "--n-jobs", "1"])
        == 0
    )
    assert "ExponentiatedGradient (DP)" in capsys.readouterr().out
