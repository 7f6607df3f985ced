import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from faalgrad import FaAlGradClassifier


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    a = (rng.random(400) < 0.4).astype(int)
    y = (X[:, 0] + 0.8 * a + 0.5 * rng.normal(size=400) > 0.3).astype(int)
    return X, y, a


def test_fit_predict_shapes_and_probabilities(toy):
    X, y, a = toy
    clf = FaAlGradClassifier(max_epochs=30).fit(X, y, sensitive_features=a)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert set(np.unique(clf.predict(X))) <= {0, 1}
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    assert clf.n_features_in_ == X.shape[1]


def test_learns_better_than_chance(toy):
    X, y, a = toy
    clf = FaAlGradClassifier(outer_lr=0.05, max_epochs=100).fit(X, y, sensitive_features=a)
    assert clf.score(X, y) > max(y.mean(), 1 - y.mean()) + 0.1


def test_get_set_params_and_clone(toy):
    clf = FaAlGradClassifier(inner_steps=3, split="config2", config2_direction="consistent")
    params = clf.get_params()
    assert params["inner_steps"] == 3 and params["split"] == "config2"
    copy = clone(clf)
    assert copy is not clf and copy.get_params() == params
    copy.set_params(inner_steps=5)
    assert copy.inner_steps == 5 and clf.inner_steps == 3
    assert not hasattr(copy, "result_")


def test_same_random_state_same_model(toy):
    X, y, a = toy
    p1 = (
        FaAlGradClassifier(max_epochs=10, random_state=3)
        .fit(X, y, sensitive_features=a)
        .predict_proba(X)
    )
    p2 = (
        FaAlGradClassifier(max_epochs=10, random_state=3)
        .fit(X, y, sensitive_features=a)
        .predict_proba(X)
    )
    p3 = (
        FaAlGradClassifier(max_epochs=10, random_state=4)
        .fit(X, y, sensitive_features=a)
        .predict_proba(X)
    )
    np.testing.assert_array_equal(p1, p2)
    assert not np.array_equal(p1, p3)


def test_in_pipeline_with_routed_sensitive_features(toy):
    X, y, a = toy
    pipe = make_pipeline(StandardScaler(), FaAlGradClassifier(max_epochs=10))
    pipe.fit(X, y, faalgradclassifier__sensitive_features=a)
    assert pipe.predict(X).shape == (len(y),)


def test_ratio_split_and_infeasible_ratio(toy):
    X, y, a = toy
    FaAlGradClassifier(split="ratio", ratio="80:20", max_epochs=5).fit(X, y, sensitive_features=a)
    with pytest.raises(ValueError, match="largest feasible ratio"):
        FaAlGradClassifier(split="ratio", ratio=0.9, max_epochs=5).fit(X, y, sensitive_features=a)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"split": "bogus"}, "valid choices: config1"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"activation": "gelu"}, "activation"),
    ],
)
def test_bad_parameters_raise_naming_them(toy, params, match):
    X, y, a = toy
    with pytest.raises(ValueError, match=match):
        FaAlGradClassifier(**params).fit(X, y, sensitive_features=a)


def test_sensitive_features_must_match_and_be_binary(toy):
    X, y, a = toy
    with pytest.raises(ValueError, match="rows"):
        FaAlGradClassifier().fit(X, y, sensitive_features=a[:-1])
    with pytest.raises(ValueError, match="binary"):
        FaAlGradClassifier().fit(X, y, sensitive_features=a * 2)


def test_predict_before_fit_raises(toy):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        FaAlGradClassifier().predict(toy[0])
