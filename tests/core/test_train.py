"""Tests for :mod:`faalgrad.train`: the meta-gradient, the trainers, early stopping."""

from __future__ import annotations

import re
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import log_loss
from torch import nn

from faalgrad import batched, train
from faalgrad.train import (
    SparseRows,
    TrainConfig,
    adapt,
    as_inputs,
    bce,
    build_mlp,
    meta_gradient,
    train_erm,
    train_faalgrad,
)

ARCHS = [
    pytest.param("relu", (5,), id="relu-1layer"),
    pytest.param("tanh", (5,), id="tanh-1layer"),
    pytest.param("relu", (5, 4), id="relu-2layers"),
    pytest.param("tanh", (5, 4), id="tanh-2layers"),
]
INNER_LR = 0.3  # large enough that the second-order terms are far above 1e-6


# --- a hand-written reference: explicit forward pass and plain torch.autograd -----------


def _forward(params: dict, model: nn.Sequential, X: torch.Tensor) -> torch.Tensor:
    """Logits of the Sequential MLP, layer by layer, with the given parameter tensors."""
    h = X
    for i, layer in enumerate(model):
        if isinstance(layer, nn.Linear):
            h = h @ params[f"{i}.weight"].T + params[f"{i}.bias"]
        elif isinstance(layer, nn.ReLU):
            h = torch.relu(h)
        elif isinstance(layer, nn.Tanh):
            h = torch.tanh(h)
        else:  # pragma: no cover - build_mlp only makes these three
            raise AssertionError(f"unexpected layer {layer}")
    return h.squeeze(-1)


def _ref_loss(params: dict, model, X, y) -> torch.Tensor:
    """Mean binary cross-entropy, written out: -(y log σ(z) + (1 - y) log(1 - σ(z)))."""
    z = _forward(params, model, X)
    return -(y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z)).mean()


def _leaf_params(model) -> OrderedDict:
    return OrderedDict(
        (k, v.detach().clone().requires_grad_(True)) for k, v in model.named_parameters()
    )


def _ref_adapt(theta0: OrderedDict, model, X_s, y_s, lr, steps, *, create_graph=True) -> dict:
    theta = theta0
    for _ in range(steps):
        loss = _ref_loss(theta, model, X_s, y_s)
        grads = torch.autograd.grad(loss, list(theta.values()), create_graph=create_graph)
        theta = {k: v - lr * g for (k, v), g in zip(theta.items(), grads, strict=True)}
    return theta


def _ref_meta_gradient(model, X_s, y_s, X_q, y_q, lr, steps) -> dict:
    theta0 = _leaf_params(model)
    theta = _ref_adapt(theta0, model, X_s, y_s, lr, steps)
    outer = torch.autograd.grad(_ref_loss(theta, model, X_q, y_q), list(theta0.values()))
    return dict(zip(theta0, outer, strict=True))


def _problem(activation: str, hidden: tuple[int, ...], seed: int = 0):
    """A float64 MLP and random support/query sets."""
    model = build_mlp(3, TrainConfig(hidden=hidden, activation=activation), seed=seed).double()
    g = torch.Generator().manual_seed(100 + seed)
    X_s = torch.randn(7, 3, generator=g, dtype=torch.float64)
    X_q = torch.randn(9, 3, generator=g, dtype=torch.float64)
    y_s = torch.tensor([0, 1, 1, 0, 1, 0, 1], dtype=torch.float64)
    y_q = torch.tensor([1, 0, 0, 1, 1, 0, 1, 0, 0], dtype=torch.float64)
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    return model, params, X_s, y_s, X_q, y_q


def _assert_dicts_close(a: dict, b: dict, atol: float) -> None:
    assert list(a) == list(b)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0, msg=lambda m, k=k: f"{k}: {m}")


def _max_abs_diff(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


# --- meta-gradient ----------------------------------------------------------------------


@pytest.mark.parametrize(("activation", "hidden"), ARCHS)
@pytest.mark.parametrize("inner_steps", [1, 3])
def test_meta_gradient_matches_autograd_reference(activation, hidden, inner_steps):
    model, params, X_s, y_s, X_q, y_q = _problem(activation, hidden)
    ours = meta_gradient(
        params, model, X_s, y_s, X_q, y_q, inner_lr=INNER_LR, inner_steps=inner_steps
    )
    ref = _ref_meta_gradient(model, X_s, y_s, X_q, y_q, INNER_LR, inner_steps)
    assert all(v.dtype == torch.float64 for v in ours.values())
    _assert_dicts_close(ours, ref, atol=1e-6)


@pytest.mark.parametrize(("activation", "hidden"), ARCHS)
def test_one_step_meta_gradient_closed_form(activation, hidden):
    """I = 1: ∂L(θ1, X_q)/∂θ0 = v - η H_s(θ0) v with v = ∇L(θ1, X_q)."""
    model, params, X_s, y_s, X_q, y_q = _problem(activation, hidden)
    theta0 = _leaf_params(model)
    g_s = torch.autograd.grad(
        _ref_loss(theta0, model, X_s, y_s), list(theta0.values()), create_graph=True
    )
    theta1 = {
        k: (v - INNER_LR * g).detach().requires_grad_(True)
        for (k, v), g in zip(theta0.items(), g_s, strict=True)
    }
    v = torch.autograd.grad(_ref_loss(theta1, model, X_q, y_q), list(theta1.values()))
    hvp = torch.autograd.grad(
        sum((g * vi).sum() for g, vi in zip(g_s, v, strict=True)), list(theta0.values())
    )
    closed = {k: vi - INNER_LR * hi for k, vi, hi in zip(theta0, v, hvp, strict=True)}

    ours = meta_gradient(params, model, X_s, y_s, X_q, y_q, inner_lr=INNER_LR, inner_steps=1)
    _assert_dicts_close(ours, closed, atol=1e-6)
    # The Hessian term matters here, so the check above discriminates first from second order.
    assert max(float((INNER_LR * h).abs().max()) for h in hvp) > 1e-4


@pytest.mark.parametrize(("activation", "hidden"), ARCHS)
def test_ten_inner_steps_differ_from_one(activation, hidden):
    model, params, X_s, y_s, X_q, y_q = _problem(activation, hidden)
    one = meta_gradient(params, model, X_s, y_s, X_q, y_q, inner_lr=INNER_LR, inner_steps=1)
    ten = meta_gradient(params, model, X_s, y_s, X_q, y_q, inner_lr=INNER_LR, inner_steps=10)
    assert _max_abs_diff(one, ten) > 1e-3
    _assert_dicts_close(ten, _ref_meta_gradient(model, X_s, y_s, X_q, y_q, INNER_LR, 10), atol=1e-6)


@pytest.mark.parametrize(("activation", "hidden"), ARCHS)
@pytest.mark.parametrize("inner_steps", [1, 3])
def test_first_order_is_query_gradient_at_adapted_params(activation, hidden, inner_steps):
    model, params, X_s, y_s, X_q, y_q = _problem(activation, hidden)
    first = meta_gradient(
        params,
        model,
        X_s,
        y_s,
        X_q,
        y_q,
        inner_lr=INNER_LR,
        inner_steps=inner_steps,
        first_order=True,
    )
    second = meta_gradient(
        params, model, X_s, y_s, X_q, y_q, inner_lr=INNER_LR, inner_steps=inner_steps
    )
    # ∇L(θ_I, X_q) by hand: adapt without a graph, then one plain gradient at θ_I.
    theta_I = _ref_adapt(
        _leaf_params(model), model, X_s, y_s, INNER_LR, inner_steps, create_graph=False
    )
    theta_I = OrderedDict((k, v.detach().requires_grad_(True)) for k, v in theta_I.items())
    by_hand = dict(
        zip(
            theta_I,
            torch.autograd.grad(_ref_loss(theta_I, model, X_q, y_q), list(theta_I.values())),
            strict=True,
        )
    )
    _assert_dicts_close(first, by_hand, atol=1e-6)
    assert _max_abs_diff(first, second) > 1e-4


@pytest.mark.parametrize(("activation", "hidden"), ARCHS)
@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("inner_steps", [1, 10])
def test_meta_gradient_reaches_every_parameter(activation, hidden, first_order, inner_steps):
    model, params, X_s, y_s, X_q, y_q = _problem(activation, hidden)
    out = meta_gradient(
        params,
        model,
        X_s,
        y_s,
        X_q,
        y_q,
        inner_lr=INNER_LR,
        inner_steps=inner_steps,
        first_order=first_order,
    )
    assert set(out) == {k for k, _ in model.named_parameters()}
    for k, g in out.items():
        assert g.shape == params[k].shape
        assert torch.isfinite(g).all(), k
        assert g.abs().max() > 0, k


def test_meta_gradient_does_not_modify_params():
    model, params, X_s, y_s, X_q, y_q = _problem("relu", (5,))
    before = {k: v.clone() for k, v in params.items()}
    meta_gradient(params, model, X_s, y_s, X_q, y_q, inner_lr=INNER_LR, inner_steps=3)
    for k in params:
        assert torch.equal(params[k], before[k])


@pytest.mark.parametrize(("activation", "hidden"), ARCHS)
def test_one_inner_step_lowers_support_loss(activation, hidden):
    model, params, X_s, y_s, X_q, y_q = _problem(activation, hidden)
    before = float(bce(params, model, X_s, y_s))
    after = float(bce(adapt(params, model, X_s, y_s, 1e-2, 1), model, X_s, y_s))
    assert after < before
    # ...and it is exactly one plain SGD step.
    theta1 = _ref_adapt(_leaf_params(model), model, X_s, y_s, 1e-2, 1, create_graph=False)
    _assert_dicts_close(
        adapt(params, model, X_s, y_s, 1e-2, 1), {k: v.detach() for k, v in theta1.items()}, 1e-12
    )


def test_bce_matches_sklearn_log_loss_and_weighting():
    model, params, X_s, y_s, _, _ = _problem("tanh", (5,))
    with torch.no_grad():
        p = torch.sigmoid(_forward(params, model, X_s)).numpy()
        w = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0, 1.0, 4.0], dtype=torch.float64)
        assert float(bce(params, model, X_s, y_s)) == pytest.approx(
            log_loss(y_s.numpy(), p), rel=1e-12
        )
        assert float(bce(params, model, X_s, y_s, w)) == pytest.approx(
            log_loss(y_s.numpy(), p, sample_weight=w.numpy()), rel=1e-12
        )


def test_build_mlp_architecture_and_seed():
    config = TrainConfig(hidden=(6, 4), activation="tanh")
    model = build_mlp(5, config, seed=3)
    kinds = [type(m) for m in model]
    assert kinds == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    assert [(m.in_features, m.out_features) for m in model if isinstance(m, nn.Linear)] == [
        (5, 6),
        (6, 4),
        (4, 1),
    ]
    same, other = build_mlp(5, config, seed=3), build_mlp(5, config, seed=4)
    for (k, v), v_same, v_other in zip(
        model.named_parameters(), same.parameters(), other.parameters(), strict=True
    ):
        assert torch.equal(v, v_same), k
        assert not torch.equal(v, v_other), k


def test_build_mlp_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_mlp(4, TrainConfig(), seed=0)
    assert torch.equal(torch.rand(3), expected)


# --- trainers ---------------------------------------------------------------------------


def _data(n: int, seed: int, noise: float = 0.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = ((X @ np.array([1.0, -1.0, 0.5, 0.0]) + noise * rng.normal(size=n)) > 0).astype(np.int64)
    return X, y


@pytest.fixture(scope="module")
def sets():
    X, y = _data(60, 0)
    Xv, yv = _data(30, 1)
    return {
        "X_s": X[:20],
        "y_s": y[:20],
        "X_q": X[20:],
        "y_q": y[20:],
        "X": X,
        "y": y,
        "X_val": Xv,
        "y_val": yv,
    }


def _train(kind: str, sets, config: TrainConfig, seed: int, **kwargs):
    if kind == "erm":
        return train_erm(sets["X"], sets["y"], sets["X_val"], sets["y_val"], config, seed, **kwargs)
    return train_faalgrad(
        sets["X_s"],
        sets["y_s"],
        sets["X_q"],
        sets["y_q"],
        sets["X_val"],
        sets["y_val"],
        config,
        seed,
    )


def _assert_identical(r1, r2) -> None:
    assert r1.val_loss == r2.val_loss
    assert r1.best_epoch == r2.best_epoch
    assert list(r1.params) == list(r2.params)
    for k in r1.params:
        assert torch.equal(r1.params[k], r2.params[k]), k


def _params_equal(r1, r2) -> bool:
    return all(torch.equal(r1.params[k], r2.params[k]) for k in r1.params)


CONFIGS = [
    pytest.param(TrainConfig(max_epochs=8, outer_lr=0.05), id="full-batch"),
    pytest.param(
        TrainConfig(max_epochs=8, outer_lr=0.05, batch_size=16, inner_steps=2), id="minibatch"
    ),
    pytest.param(
        TrainConfig(max_epochs=8, outer_lr=0.05, first_order=True, optimizer="sgd"),
        id="first-order-sgd",
    ),
]


@pytest.mark.parametrize("kind", ["erm", "faalgrad"])
@pytest.mark.parametrize("config", CONFIGS)
def test_same_seed_same_result(kind, config, sets):
    r1, r2 = _train(kind, sets, config, seed=5), _train(kind, sets, config, seed=5)
    _assert_identical(r1, r2)
    assert len(r1.val_loss) == config.max_epochs
    np.testing.assert_array_equal(r1.predict_proba(sets["X_val"]), r2.predict_proba(sets["X_val"]))


@pytest.mark.parametrize("kind", ["erm", "faalgrad"])
@pytest.mark.parametrize("config", CONFIGS)
def test_different_seed_different_result(kind, config, sets):
    r1, r2 = _train(kind, sets, config, seed=5), _train(kind, sets, config, seed=6)
    assert r1.val_loss != r2.val_loss
    assert not _params_equal(r1, r2)


@pytest.mark.parametrize("kind", ["erm", "faalgrad"])
def test_minibatch_differs_from_full_batch(kind, sets):
    full = _train(kind, sets, TrainConfig(max_epochs=5, outer_lr=0.05), seed=0)
    mini = _train(kind, sets, TrainConfig(max_epochs=5, outer_lr=0.05, batch_size=8), seed=0)
    assert full.val_loss != mini.val_loss
    assert not _params_equal(full, mini)
    # A batch at least as large as the data is full batch.
    big = _train(kind, sets, TrainConfig(max_epochs=5, outer_lr=0.05, batch_size=1000), seed=0)
    _assert_identical(full, big)


@pytest.mark.parametrize("kind", ["erm", "faalgrad"])
def test_training_lowers_validation_loss(kind, sets):
    result = _train(kind, sets, TrainConfig(max_epochs=30, outer_lr=0.05), seed=0)
    model = build_mlp(4, TrainConfig(), seed=0)
    with torch.no_grad():
        initial = float(
            bce(
                dict(model.named_parameters()),
                model,
                torch.from_numpy(sets["X_val"]),
                torch.from_numpy(sets["y_val"].astype(np.float32)),
            )
        )
    assert min(result.val_loss) < initial


def test_sample_weight_changes_erm(sets):
    config = TrainConfig(max_epochs=6, outer_lr=0.05)
    plain = _train("erm", sets, config, seed=0)
    w = np.where(sets["y"] == 1, 5.0, 1.0)
    weighted = _train("erm", sets, config, seed=0, sample_weight=w)
    assert plain.val_loss != weighted.val_loss
    assert not _params_equal(plain, weighted)
    # Uniform weights are the unweighted loss (weighted mean), up to float rounding.
    uniform = _train("erm", sets, config, seed=0, sample_weight=np.full(len(sets["y"]), 3.0))
    np.testing.assert_allclose(uniform.val_loss, plain.val_loss, rtol=1e-5)


def test_faalgrad_rejects_empty_support_or_query(sets):
    config = TrainConfig(max_epochs=2)
    with pytest.raises(ValueError, match=r"support \(0 rows\)"):
        train_faalgrad(
            sets["X_s"][:0],
            sets["y_s"][:0],
            sets["X_q"],
            sets["y_q"],
            sets["X_val"],
            sets["y_val"],
            config,
            0,
        )
    with pytest.raises(ValueError, match=r"query \(0 rows\)"):
        train_faalgrad(
            sets["X_s"],
            sets["y_s"],
            sets["X_q"][:0],
            sets["y_q"][:0],
            sets["X_val"],
            sets["y_val"],
            config,
            0,
        )


# --- early stopping ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def overfit_sets():
    """Tiny training sets with labels unrelated to validation: the validation loss rises."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(12, 4)).astype(np.float32)
    y = rng.integers(0, 2, size=12)
    Xv = rng.normal(size=(40, 4)).astype(np.float32)
    yv = rng.integers(0, 2, size=40)
    return {
        "X_s": X[:5],
        "y_s": y[:5],
        "X_q": X[5:],
        "y_q": y[5:],
        "X": X,
        "y": y,
        "X_val": Xv,
        "y_val": yv,
    }


@pytest.mark.parametrize("kind", ["erm", "faalgrad"])
@pytest.mark.parametrize("patience", [3, 6])
def test_early_stopping_restores_best_weights(kind, patience, overfit_sets):
    config = TrainConfig(hidden=(32,), outer_lr=0.3, max_epochs=300, patience=patience)
    result = _train(kind, overfit_sets, config, seed=0)
    losses = np.asarray(result.val_loss)
    assert len(losses) < config.max_epochs, "the overfitting case should stop early"
    assert result.best_epoch == int(np.argmin(losses))
    assert len(losses) == result.best_epoch + patience + 1
    # The patience epochs after the best one are all no better.
    assert (losses[result.best_epoch + 1 :] >= losses[result.best_epoch]).all()
    # The returned parameters are those of the best epoch: their validation BCE, computed as
    # the trainer computes it (a stack of runs, here the run and its copy), is the minimum.
    rows = batched._Rows([overfit_sets["X_val"]] * 2, [overfit_sets["y_val"]] * 2, 4)
    stacked = {k: torch.stack([v, v]) for k, v in result.params.items()}
    with torch.no_grad():
        assert batched.stacked_bce(stacked, result.model, rows, rows.y)[0].item() == losses.min()
    p = result.predict_proba(overfit_sets["X_val"]).astype(np.float64)
    assert log_loss(overfit_sets["y_val"], p) == pytest.approx(losses.min(), rel=1e-5)


@pytest.mark.parametrize("kind", ["erm", "faalgrad"])
def test_no_early_stop_runs_every_epoch(kind, sets):
    config = TrainConfig(max_epochs=4, patience=10, outer_lr=0.01)
    result = _train(kind, sets, config, seed=0)
    assert len(result.val_loss) == 4
    assert result.best_epoch == int(np.argmin(result.val_loss))


# --- TrainConfig ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "shown"),
    [
        ({"max_epochs": 0}, "max_epochs=0"),
        ({"max_epochs": -3}, "max_epochs=-3"),
        ({"max_epochs": 2.0}, "max_epochs=2.0"),
        ({"inner_steps": 0}, "inner_steps=0"),
        ({"inner_steps": -1}, "inner_steps=-1"),
        ({"inner_steps": True}, "inner_steps=True"),
        ({"patience": 0}, "patience=0"),
        ({"activation": "sigmoid"}, "'sigmoid'"),
        ({"optimizer": "rmsprop"}, "'rmsprop'"),
        ({"inner_lr": -0.01}, "inner_lr=-0.01"),
        ({"outer_lr": -0.1}, "outer_lr=-0.1"),
        ({"hidden": ()}, "hidden=()"),
        ({"hidden": (8, 0)}, "hidden=(8, 0)"),
        ({"batch_size": 0}, "batch_size=0"),
    ],
)
def test_train_config_validation(kwargs, shown):
    with pytest.raises(ValueError, match=re.escape(shown)):
        TrainConfig(**kwargs)
    with pytest.raises(ValueError, match=re.escape(shown)):
        TrainConfig().updated(**kwargs)


def test_train_config_unknown_choice_lists_valid_ones():
    with pytest.raises(ValueError, match="valid choices: relu, tanh"):
        TrainConfig(activation="gelu")
    with pytest.raises(ValueError, match="valid choices: adam, sgd"):
        TrainConfig(optimizer="lbfgs")


def test_updated_rejects_unknown_setting():
    with pytest.raises(ValueError, match="unknown setting.*learning_rate") as info:
        TrainConfig().updated(learning_rate=0.1, max_epochs=3)
    assert "outer_lr" in str(info.value)  # lists the valid names


def test_updated_copies_and_normalises_hidden():
    base = TrainConfig()
    new = base.updated(inner_steps=10, hidden=[8, 8])
    assert new.inner_steps == 10 and new.hidden == (8, 8)
    assert base.inner_steps == 1 and base.hidden == (8,)  # the original is untouched
    assert base.updated(hidden=16).hidden == (16,)


# --- per-epoch callback -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["erm", "faalgrad"])
def test_callback_sees_every_epoch_and_changes_nothing(kind, sets):
    config = TrainConfig(max_epochs=6, patience=10, outer_lr=0.05)
    seen = []

    def record(epoch, params):
        seen.append((epoch, {k: v.clone() for k, v in params.items()}))
        for v in params.values():  # the callback gets copies: mutating them is harmless
            v.add_(1.0)

    if kind == "erm":
        with_cb = train_erm(
            sets["X"], sets["y"], sets["X_val"], sets["y_val"], config, 0, callback=record
        )
    else:
        with_cb = train_faalgrad(
            sets["X_s"],
            sets["y_s"],
            sets["X_q"],
            sets["y_q"],
            sets["X_val"],
            sets["y_val"],
            config,
            0,
            callback=record,
        )
    _assert_identical(with_cb, _train(kind, sets, config, seed=0))
    assert [e for e, _ in seen] == list(range(6))
    assert all(not v.requires_grad for _, p in seen for v in p.values())
    # the callback's parameters are θ0 after that epoch: the validation loss recorded for it matches
    Xv, yv = torch.from_numpy(sets["X_val"]), torch.from_numpy(sets["y_val"].astype(np.float32))
    for epoch, params in seen:
        assert float(bce(params, with_cb.model, Xv, yv)) == pytest.approx(
            with_cb.val_loss[epoch], rel=1e-6
        )
    assert _params_equal(with_cb, type(with_cb)(with_cb.model, seen[with_cb.best_epoch][1]))


@pytest.mark.parametrize("kind", ["erm", "faalgrad"])
def test_callback_stops_with_early_stopping(kind, overfit_sets):
    config = TrainConfig(hidden=(32,), outer_lr=0.3, max_epochs=300, patience=3)
    epochs = []
    data = overfit_sets
    if kind == "erm":
        result = train_erm(
            data["X"],
            data["y"],
            data["X_val"],
            data["y_val"],
            config,
            0,
            callback=lambda e, p: epochs.append(e),
        )
    else:
        result = train_faalgrad(
            data["X_s"],
            data["y_s"],
            data["X_q"],
            data["y_q"],
            data["X_val"],
            data["y_val"],
            config,
            0,
            callback=lambda e, p: epochs.append(e),
        )
    assert len(result.val_loss) < config.max_epochs
    assert epochs == list(range(len(result.val_loss)))


def test_zero_inner_lr_meta_gradient_is_the_query_gradient():
    """inner_lr = 0 removes the alignment term: the meta-gradient is the ERM gradient on X_q."""
    torch.manual_seed(0)
    model = build_mlp(4, TrainConfig(), seed=3)
    params = {k: v.detach() for k, v in model.named_parameters()}
    X_s, X_q = torch.randn(20, 4), torch.randn(30, 4)
    y_s, y_q = (torch.rand(20) > 0.5).float(), (torch.rand(30) > 0.5).float()
    meta = meta_gradient(params, model, X_s, y_s, X_q, y_q, inner_lr=0.0, inner_steps=3)
    plain = torch.func.grad(bce)(params, model, X_q, y_q)
    for k in params:
        torch.testing.assert_close(meta[k], plain[k], rtol=1e-5, atol=1e-7)  # float32 rounding only


# --- sparse inputs: the CSR first layer against the dense one ----------------------------


def _sparse_problem(activation: str, hidden: tuple[int, ...]):
    """``_problem`` with one-hot-like inputs: most entries exactly zero."""
    model, params, X_s, y_s, X_q, y_q = _problem(activation, hidden)
    g = torch.Generator().manual_seed(7)
    X_s, X_q = (X * (torch.rand(X.shape, generator=g, dtype=X.dtype) < 0.3) for X in (X_s, X_q))
    return model, params, X_s, y_s, X_q, y_q


@pytest.mark.parametrize(("activation", "hidden"), ARCHS)
@pytest.mark.parametrize("inner_steps", [1, 3])
@pytest.mark.parametrize("first_order", [False, True])
def test_sparse_rows_meta_gradient_equals_dense(activation, hidden, inner_steps, first_order):
    model, params, X_s, y_s, X_q, y_q = _sparse_problem(activation, hidden)
    assert (X_s == 0).any() and (X_s != 0).any()
    kw = dict(inner_lr=INNER_LR, inner_steps=inner_steps, first_order=first_order)
    dense = meta_gradient(params, model, X_s, y_s, X_q, y_q, **kw)
    sparse = meta_gradient(params, model, SparseRows(X_s), y_s, SparseRows(X_q), y_q, **kw)
    _assert_dicts_close(sparse, dense, atol=1e-12)
    ref = (
        _ref_meta_gradient(model, X_s, y_s, X_q, y_q, INNER_LR, inner_steps)
        if not first_order
        else dense
    )
    _assert_dicts_close(sparse, ref, atol=1e-6)


def test_sparse_rows_round_trip_and_logits():
    model, params, X_s, *_ = _sparse_problem("relu", (5, 4))
    rows = SparseRows(X_s)
    assert rows.shape == X_s.shape
    assert rows.csr.col_indices().dtype == torch.int32
    torch.testing.assert_close(rows.to_dense(), X_s, atol=0, rtol=0)
    torch.testing.assert_close(
        train.logits(params, model, rows), _forward(params, model, X_s), atol=1e-12, rtol=0
    )


def test_as_inputs_chooses_csr_only_for_large_sparse_full_batches(monkeypatch):
    monkeypatch.setattr(train, "SPARSE_MIN_ENTRIES", 100)
    sparse = np.zeros((50, 4), dtype=np.float32)
    sparse[np.arange(50), np.arange(50) % 4] = 1.0  # one-hot: density 1/4
    assert isinstance(as_inputs(sparse), SparseRows)
    assert isinstance(
        as_inputs(sparse, TrainConfig(batch_size=50)), SparseRows
    )  # one batch of every row
    assert isinstance(
        as_inputs(sparse, TrainConfig(batch_size=49)), torch.Tensor
    )  # minibatches index rows
    assert isinstance(as_inputs(np.ones((50, 4))), torch.Tensor)  # dense
    assert isinstance(as_inputs(sparse[:20]), torch.Tensor)  # 80 entries: too small to gain


@pytest.mark.parametrize("kind", ["erm", "faalgrad"])
def test_training_on_sparse_inputs_matches_dense_training(kind, monkeypatch):
    X, y = _data(400, 3)
    X = (X * (np.random.default_rng(0).random(X.shape) < 0.2)).astype(np.float32)
    half = {
        "X_s": X[:200],
        "y_s": y[:200],
        "X_q": X[200:],
        "y_q": y[200:],
        "X": X,
        "y": y,
        "X_val": X[:100],
        "y_val": y[:100],
    }
    config = TrainConfig(max_epochs=20, patience=20, outer_lr=0.05)
    monkeypatch.setattr(train, "SPARSE_MIN_ENTRIES", 10**12)
    dense = _train(kind, half, config, seed=1)
    monkeypatch.setattr(train, "SPARSE_MIN_ENTRIES", 100)
    assert isinstance(as_inputs(X), SparseRows)
    sparse = _train(kind, half, config, seed=1)
    # float32 sums in another order: equal to rounding, not bit for bit
    np.testing.assert_allclose(sparse.val_loss, dense.val_loss, rtol=0, atol=1e-5)
    assert sparse.best_epoch == dense.best_epoch


def test_sparse_support_smaller_than_a_batch_of_a_minibatched_query(monkeypatch):
    """A support set that fits in one batch while the query set is minibatched is still
    indexed by row: large sparse inputs train (once a TypeError), as dense ones do."""
    from faalgrad.estimator import FaAlGradClassifier

    rng = np.random.default_rng(0)
    X = (rng.random((1200, 30)) < 0.1).astype(float)
    y = rng.integers(0, 2, 1200)
    a = (rng.random(1200) < 0.2).astype(int)  # the support set (protected) < one batch

    def fitted_scores():
        clf = FaAlGradClassifier(batch_size=400, max_epochs=2, random_state=0)
        return clf.fit(X, y, sensitive_features=a).predict_proba(X)[:, 1]

    monkeypatch.setattr(train, "SPARSE_MIN_ENTRIES", 10**12)
    dense = fitted_scores()
    monkeypatch.setattr(train, "SPARSE_MIN_ENTRIES", 100)
    np.testing.assert_array_equal(fitted_scores(), dense)
