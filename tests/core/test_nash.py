"""Tests for :mod:`faalgrad.nash` (Nash-bargaining meta-learning and its one-stage baselines)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from faalgrad.datasets import load_dataset
from faalgrad.nash import (
    NASH_METHODS,
    MetaSet,
    NashConfig,
    NashTask,
    hypergradients,
    meta_set,
    nash_config,
    nash_step,
    nbs_solve,
    nbs_solve_batch,
    objective_coefficients,
    reweight,
    synthetic_two_group,
    train_nash,
    train_nash_batch,
)
from faalgrad.nash.hypergrad import (
    StackedPlayers,
    _hyper_parts,  # the step's internals, tested directly
    nash_step_batch,
)
from faalgrad.splits import split_dataset
from faalgrad.train import TrainConfig, build_mlp, logits

FAST = NashConfig(hidden=(16, 8), epochs=3, bargain_epochs=2, batch_size=128, lr=0.01)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def german():
    return split_dataset(load_dataset("german"), 0)


def _train(method, data, config=FAST, seed=0, **kw):
    a_val = kw.pop("a_val", data.a_val)
    return train_nash(
        method,
        data.X_train,
        data.y_train,
        data.a_train,
        data.X_val,
        data.y_val,
        a_val,
        config,
        seed,
    )


def _relative_residual(G: torch.Tensor, alpha: torch.Tensor) -> float:
    G, alpha = G.double(), alpha.double()
    return float(torch.linalg.norm(G @ G.T @ alpha - 1 / alpha) / torch.linalg.norm(1 / alpha))


# --- Nash bargaining solver -----------------------------------------------------------


@pytest.mark.parametrize("K", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nbs_random(K, seed):
    gen = torch.Generator().manual_seed(100 * K + seed)
    G = torch.randn(K, 20, generator=gen, dtype=torch.float64) * 10.0 ** (seed - 1)
    alpha, converged = nbs_solve(G)
    assert converged
    assert (alpha > 0).all()
    assert _relative_residual(G, alpha) <= 1e-6
    gains = G @ (alpha @ G)
    assert (gains > 0).all()
    assert torch.allclose(gains, 1 / alpha, rtol=1e-6)


def test_nbs_random_with_conflicts():
    # rows sharing a common component but pairwise conflicting: still solvable in R^20
    gen = torch.Generator().manual_seed(7)
    base = torch.randn(1, 20, generator=gen, dtype=torch.float64)
    G = torch.randn(5, 20, generator=gen, dtype=torch.float64) * 3 + 0.1 * base
    assert (G @ G.T < 0).any()
    alpha, converged = nbs_solve(G)
    assert converged and (G @ (alpha @ G) > 0).all() and _relative_residual(G, alpha) <= 1e-6


def test_nbs_hand_made():
    # orthogonal rows: α_k = 1 / ‖g_k‖
    G = torch.zeros(3, 20, dtype=torch.float64)
    G[0, 0], G[1, 1], G[2, 2] = 2.0, 0.5, 4.0
    alpha, converged = nbs_solve(G)
    assert converged
    assert torch.allclose(alpha, torch.tensor([0.5, 2.0, 0.25], dtype=torch.float64), rtol=1e-9)
    # one player: α = 1 / ‖g‖
    g = torch.arange(1.0, 21.0, dtype=torch.float64)[None]
    alpha, converged = nbs_solve(g)
    assert converged and math.isclose(float(alpha), 1 / float(g.norm()), rel_tol=1e-9)
    # two unit rows at 120 degrees (conflicting): α_1 = α_2 = 1 / sqrt(1 - 1/2)
    G = torch.zeros(2, 20, dtype=torch.float64)
    G[0, 0], G[1, 0], G[1, 1] = 1.0, -0.5, math.sqrt(3) / 2
    alpha, converged = nbs_solve(G)
    assert converged and torch.allclose(
        alpha, torch.full((2,), math.sqrt(2.0), dtype=torch.float64), rtol=1e-9
    )
    # scaling G by c scales α by 1/c
    alpha_scaled, _ = nbs_solve(1e-4 * G)
    assert torch.allclose(alpha_scaled, 1e4 * alpha, rtol=1e-9)


def test_nbs_rank_deficient_identical_rows():
    gen = torch.Generator().manual_seed(3)
    G = torch.randn(3, 20, generator=gen, dtype=torch.float64)
    G[1] = G[0]
    alpha, converged = nbs_solve(G)
    assert converged and torch.isfinite(alpha).all()
    assert math.isclose(float(alpha[0]), float(alpha[1]), rel_tol=1e-9)
    assert _relative_residual(G, alpha) <= 1e-6 and (G @ (alpha @ G) > 0).all()


@pytest.mark.parametrize("case", ["zero_row", "opposite", "cancel_3", "all_zero", "nan", "empty"])
def test_nbs_degenerate_reports_failure(case):
    gen = torch.Generator().manual_seed(4)
    G = torch.randn(3, 20, generator=gen, dtype=torch.float64)
    if case == "zero_row":
        G[2] = 0
    elif case == "opposite":
        G = torch.stack([G[0], -G[0]])
    elif case == "cancel_3":  # g_1 + g_2 + g_3 = 0: no direction lets all three gain
        G[2] = -(G[0] + G[1])
    elif case == "all_zero":
        G = torch.zeros(3, 20, dtype=torch.float64)
    elif case == "nan":
        G[1, 3] = float("nan")
    else:
        G = torch.zeros(0, 20, dtype=torch.float64)
    alpha, converged = nbs_solve(G)
    assert converged is False
    assert alpha.shape == (G.shape[0],) and torch.equal(alpha, torch.ones_like(alpha))


def test_nbs_float32_input_keeps_dtype():
    G = torch.randn(4, 512, generator=torch.Generator().manual_seed(0)) * 1e-4
    alpha, converged = nbs_solve(G)
    assert converged and alpha.dtype == torch.float32 and (alpha > 0).all()
    assert _relative_residual(G, alpha) <= 1e-6


def test_nbs_batch_solves_each_problem_as_alone():
    """Each problem of a stack gets the solution it gets alone, bit for bit, whatever the
    others do: converge in fewer or more Newton steps, or fail."""
    gen = torch.Generator().manual_seed(7)
    problems = [
        torch.randn(4, 30, generator=gen, dtype=torch.float64) * 10.0**e for e in (-3, 0, 2)
    ]
    failing = problems[0].clone()
    failing[2] = 0.0  # a player with a zero hypergradient: no solution
    stack = [problems[1], failing, problems[0], problems[2]]
    alpha, converged = nbs_solve_batch(torch.stack(stack))
    assert converged.tolist() == [True, False, True, True]
    for i, G in enumerate(stack):
        alone, ok = nbs_solve(G)
        assert ok == converged[i]
        assert torch.equal(alpha[i], alone)
    for size in (1, 2):
        sub, _ = nbs_solve_batch(torch.stack(stack[:size]))
        assert torch.equal(sub, alpha[:size])


# --- hypergradients ---------------------------------------------------------------------


def _setup(model: nn.Module, n_features=5, B=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    model = model.double()
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    Xb = torch.randn(B, n_features, generator=gen, dtype=torch.float64)
    yb = (torch.rand(B, generator=gen) < 0.5).double()
    players = torch.tensor([0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3])
    Xm = torch.randn(len(players), n_features, generator=gen, dtype=torch.float64)
    ym = (torch.rand(len(players), generator=gen) < 0.5).double()
    return model, params, Xb, yb, Xm, ym, players


def _lookahead_reference(params, model, Xb, yb, Xm, ym, players, K, eta):
    """∂L_k/∂ε by autograd through θ'(ε) = θ − η ∇θ Σ εᵢ ℓᵢ (create_graph=True), at ε = 0."""
    theta = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    eps = torch.zeros(len(yb), dtype=torch.float64, requires_grad=True)
    losses = F.binary_cross_entropy_with_logits(logits(theta, model, Xb), yb, reduction="none")
    grads = torch.autograd.grad((eps * losses).sum(), list(theta.values()), create_graph=True)
    adapted = {k: v - eta * g for (k, v), g in zip(theta.items(), grads, strict=True)}
    meta_losses = F.binary_cross_entropy_with_logits(
        logits(adapted, model, Xm), ym, reduction="none"
    )
    L = torch.stack([meta_losses[players == k].mean() for k in range(K)])
    G = torch.stack([torch.autograd.grad(L[k], eps, retain_graph=True)[0] for k in range(K)])
    return G, eps, meta_losses


MODELS = {
    "mlp_relu": lambda: build_mlp(5, TrainConfig(hidden=(7, 4), activation="relu"), 0),
    "mlp_tanh": lambda: build_mlp(5, TrainConfig(hidden=(6,), activation="tanh"), 1),
    "linear_no_bias": lambda: nn.Linear(5, 1, bias=False),
}


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("generic", [False, True])
def test_hypergradients_match_autograd_through_lookahead(name, generic):
    torch.manual_seed(0)
    model, params, Xb, yb, Xm, ym, players = _setup(MODELS[name]())
    eta = 0.3
    G = hypergradients(params, model, Xb, yb, Xm, ym, players, 4, eta, generic=generic)
    G_ref, _, _ = _lookahead_reference(params, model, Xb, yb, Xm, ym, players, 4, eta)
    assert G.shape == (4, len(yb)) and G.dtype == torch.float64
    assert torch.allclose(G, G_ref, rtol=1e-6, atol=1e-9)
    assert G.abs().max() > 1e-3  # not trivially zero


@pytest.mark.parametrize("objective", ["ltr", "forml", "gdro"])
def test_objective_direction_is_dF_deps(objective):
    model, params, Xb, yb, Xm, ym, players = _setup(MODELS["mlp_relu"](), seed=2)
    groups = np.array([0, 0, 1, 1])  # players 0, 1 in group 0; 2, 3 in group 1
    eta = 0.5
    G, _, player_losses, sizes = _hyper_parts(params, model, Xb, yb, Xm, ym, players, 4, eta)
    c = objective_coefficients(objective, player_losses, sizes, groups)
    _, eps, meta_losses = _lookahead_reference(params, model, Xb, yb, Xm, ym, players, 4, eta)
    in_group0 = players <= 1
    Lg = torch.stack([meta_losses[in_group0].mean(), meta_losses[~in_group0].mean()])
    F_value = {"ltr": meta_losses.mean(), "forml": Lg.max() - Lg.min(), "gdro": Lg.max()}[objective]
    dF = torch.autograd.grad(F_value, eps)[0]
    assert torch.allclose(c @ G, dF, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("generic", [False, True])
def test_weighted_gradient_matches_autograd(generic):
    model, params, Xb, yb, Xm, ym, players = _setup(MODELS["mlp_relu"](), seed=3)
    _, weighted_grad, _, _ = _hyper_parts(
        params, model, Xb, yb, Xm, ym, players, 4, 0.1, generic=generic
    )
    w = torch.rand(len(yb), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    theta = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    loss = (
        w * F.binary_cross_entropy_with_logits(logits(theta, model, Xb), yb, reduction="none")
    ).sum()
    ref = dict(zip(theta, torch.autograd.grad(loss, list(theta.values())), strict=True))
    got = weighted_grad(w)
    for k in params:
        assert torch.allclose(got[k].reshape(ref[k].shape), ref[k], rtol=1e-10, atol=1e-12)


def test_hypergradients_reject_empty_player():
    model, params, Xb, yb, Xm, ym, players = _setup(MODELS["mlp_relu"]())
    with pytest.raises(ValueError, match="players must cover"):
        hypergradients(params, model, Xb, yb, Xm, ym, players, 5, 0.1)


# --- weights, steps, meta set -----------------------------------------------------------


def test_reweight_normalisations():
    d = torch.tensor([-3.0, 4.0, -4.0, 0.0])
    assert torch.allclose(reweight(d, "l2"), torch.tensor([0.6, 0.0, 0.8, 0.0]))
    assert torch.allclose(reweight(d, "sum"), torch.tensor([3 / 7, 0.0, 4 / 7, 0.0]))
    assert torch.equal(reweight(torch.tensor([1.0, 0.0, 2.0])), torch.zeros(3))


def test_all_zero_weights_make_no_update():
    model, params, Xb, yb, Xm, ym, _ = _setup(MODELS["mlp_relu"]())
    params = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    before = {k: v.detach().clone() for k, v in params.items()}
    opt = torch.optim.SGD(params.values(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    # one sensitive group only: FORML's F = max - min is identically 0, so d = 0 and w = 0
    meta = MetaSet(np.arange(len(ym)), np.repeat([0, 1], [7, 7]), ((0, 0), (0, 1)))
    info = nash_step(
        params, model, opt, Xb, yb, Xm, ym, meta, objective="forml", bargain=False, lookahead_lr=0.1
    )
    assert not info.updated and info.n_weighted == 0
    assert all(torch.equal(params[k], before[k]) for k in params)
    assert len(opt.state) == 0  # no momentum buffer, no weight decay step
    info = nash_step(
        params, model, opt, Xb, yb, Xm, ym, meta, objective="ltr", bargain=False, lookahead_lr=0.1
    )
    assert info.updated and any(not torch.equal(params[k], before[k]) for k in params)


def test_meta_set_balanced_and_seeded():
    y = np.array([0] * 20 + [1] * 20 + [0] * 3 + [1] * 10)
    a = np.array([0] * 40 + [1] * 13)
    meta = meta_set(y, a, 8, seed=1)
    assert meta.cells == ((0, 0), (0, 1), (1, 0), (1, 1))
    assert np.bincount(meta.players).tolist() == [8, 8, 3, 8]  # a cell with 3 gives all 3
    assert len(set(meta.indices)) == len(meta.indices)
    for k, (g, label) in enumerate(meta.cells):
        rows = meta.indices[meta.players == k]
        assert (a[rows] == g).all() and (y[rows] == label).all()
    assert np.array_equal(meta.indices, meta_set(y, a, 8, seed=1).indices)
    assert not np.array_equal(meta.indices, meta_set(y, a, 8, seed=2).indices)
    only_group0 = meta_set(y[:40], a[:40], 4, seed=0)
    assert only_group0.cells == ((0, 0), (0, 1)) and only_group0.player_groups.tolist() == [0, 0]


# --- config -----------------------------------------------------------------------------


def test_config_defaults_and_presets():
    c = NashConfig()
    assert (
        c.hidden,
        c.lr,
        c.momentum,
        c.weight_decay,
        c.batch_size,
        c.epochs,
        c.bargain_epochs,
        c.meta_per_cell,
    ) == ((128, 64), 1e-3, 0.9, 5e-4, 512, 50, 15, 8)
    assert c.eta == 1e-3 and NashConfig(lookahead_lr=0.5).eta == 0.5
    assert nash_config("communities").batch_size == 32
    assert nash_config("adult").batch_size == 512
    assert nash_config("communities", batch_size=64).batch_size == 64
    assert nash_config("german", hidden=[32]).hidden == (32,)


@pytest.mark.parametrize(
    "overrides, text",
    [
        ({"lr": 0.0}, "lr=0.0"),
        ({"bargain_epochs": 60}, "bargain_epochs=60 exceeds epochs=50"),
        ({"bargain_epochs": -1}, "bargain_epochs=-1"),
        ({"epochs": 0}, "epochs=0"),
        ({"batch_size": 2.5}, "batch_size=2.5"),
        ({"momentum": 1.0}, "momentum=1.0"),
        ({"weight_decay": -1.0}, "weight_decay=-1.0"),
        ({"lookahead_lr": -1.0}, "lookahead_lr=-1.0"),
        ({"activation": "gelu"}, "'gelu'"),
        ({"weight_norm": "max"}, "'max'"),
        ({"selection": "test_auc"}, "'test_auc'"),
        ({"hidden": (0,)}, "hidden"),
    ],
)
def test_config_validation_names_the_value(overrides, text):
    with pytest.raises(ValueError, match=text.replace("(", r"\(").replace(")", r"\)")):
        NashConfig().updated(**overrides)


def test_config_unknown_setting_and_dataset():
    with pytest.raises(ValueError, match="unknown setting"):
        nash_config("german", learning_rate=0.1)
    with pytest.raises(ValueError, match="unknown dataset"):
        nash_config("mnist")


# --- training ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", NASH_METHODS)
def test_every_method_trains_on_german(method, german):
    result = _train(method, german)
    proba = result.predict_proba(german.X_test)
    assert proba.shape == (len(german.y_test),) and np.isfinite(proba).all()
    assert ((proba > 0) & (proba < 1)).all()
    h = result.history
    assert (
        len(result.val_loss) == len(h.val_worst_auc) == FAST.epochs
        and np.isfinite(result.val_loss).all()
    )
    worst = np.nan_to_num(np.asarray(h.val_worst_auc), nan=-np.inf)
    best = [e for e in range(FAST.epochs) if worst[e] == worst.max()]
    assert result.best_epoch == min(
        best, key=lambda e: result.val_loss[e]
    )  # default: worst-group AUC
    batches_per_epoch = math.ceil(len(german.y_train) / FAST.batch_size)
    assert len(h.steps) == FAST.epochs * batches_per_epoch
    assert h.skipped_steps < len(h.steps)


def test_stages_switch_at_bargain_epochs(german):
    config = FAST.updated(epochs=4, bargain_epochs=2)
    h = _train("nash_gdro", german, config).history
    assert h.epoch_stage == ["bargain", "bargain", "objective", "objective"]
    frame = h.batches()
    assert (frame["bargained"] == (frame["epoch"] < 2)).all()
    assert frame.loc[frame["bargained"], "conflict_after"].notna().all()
    assert frame.loc[~frame["bargained"], "conflict_after"].isna().all()
    assert frame.loc[~frame["bargained"], "nbs_converged"].isna().all()
    converged = frame["bargained"] & (frame["nbs_converged"] == True)  # noqa: E712
    assert converged.any() and not frame.loc[converged, "conflict_after"].astype(bool).any()
    assert h.nbs_failures == int((frame["nbs_converged"] == False).sum())  # noqa: E712
    shares = h.conflict_shares()
    assert 0 <= shares["after_bargaining"] <= shares["one_stage_bargain_batches"] <= 1
    one_stage = _train("gdro", german, config).history
    assert one_stage.epoch_stage == ["objective"] * 4 and not any(
        s.bargained for s in one_stage.steps
    )
    assert math.isnan(one_stage.conflict_shares()["after_bargaining"])


def test_no_bargaining_when_bargain_epochs_is_zero(german):
    h = _train("nash_ltr", german, FAST.updated(bargain_epochs=0)).history
    assert h.epoch_stage == ["objective"] * FAST.epochs and h.nbs_failures == 0


def test_deterministic_with_seed(german):
    r1, r2 = _train("nash_forml", german), _train("nash_forml", german)
    assert all(torch.equal(r1.params[k], r2.params[k]) for k in r1.params)
    assert r1.val_loss == r2.val_loss and r1.history.steps == r2.history.steps
    assert np.array_equal(r1.meta.indices, r2.meta.indices)
    r3 = _train("nash_forml", german, seed=1)
    assert not np.array_equal(r1.meta.indices, r3.meta.indices)
    assert any(not torch.equal(r1.params[k], r3.params[k]) for k in r1.params)


def test_training_with_all_zero_weights_never_updates(german):
    # a single sensitive group in the meta set: FORML's weights are all zero every step
    result = _train("forml", german, a_val=np.zeros_like(german.a_val))
    init = build_mlp(german.X_train.shape[1], FAST.mlp_config(), 0)
    assert all(torch.equal(result.params[k], v.detach()) for k, v in init.named_parameters())
    assert result.history.skipped_steps == len(result.history.steps)


def test_selection_on_validation_loss(german):
    result = _train("ltr", german, FAST.updated(selection="val_loss", epochs=4, bargain_epochs=0))
    assert result.best_epoch == int(np.argmin(result.val_loss))
    assert all(
        torch.equal(result.params[k], v)
        for k, v in _train(
            "ltr",
            german,
            FAST.updated(selection="val_loss", epochs=result.best_epoch + 1, bargain_epochs=0),
        ).params.items()
    )


def test_selected_params_are_those_of_the_best_epoch(german):
    full = _train("nash_ltr", german, FAST.updated(epochs=4))
    again = _train(
        "nash_ltr",
        german,
        FAST.updated(epochs=full.best_epoch + 1, bargain_epochs=min(2, full.best_epoch + 1)),
    )
    # the shorter run repeats the first best_epoch + 1 epochs exactly, so its last epoch is the
    # selected one
    assert again.history.val_worst_auc == full.history.val_worst_auc[: full.best_epoch + 1]
    assert again.best_epoch == full.best_epoch
    assert all(torch.equal(full.params[k], again.params[k]) for k in full.params)


def test_rejects_unknown_method_and_bad_lengths(german):
    with pytest.raises(ValueError, match="unknown method 'nash'"):
        _train("nash", german)
    with pytest.raises(ValueError, match="lengths differ"):
        train_nash(
            "ltr",
            german.X_train,
            german.y_train[:-1],
            german.a_train,
            german.X_val,
            german.y_val,
            german.a_val,
            FAST,
            0,
        )


def _task(data, seed, drop_columns=0):
    width = data.X_train.shape[1] - drop_columns
    return NashTask(
        data.X_train[:, :width],
        data.y_train,
        data.a_train,
        data.X_val[:, :width],
        data.y_val,
        data.a_val,
        seed,
    )


def _same_run(a, b) -> bool:
    return (
        all(torch.equal(a.params[k], b.params[k]) for k in a.params)
        and a.best_epoch == b.best_epoch
        and a.val_loss == b.val_loss
        and a.history.val_worst_auc == b.history.val_worst_auc
        and a.history.steps == b.history.steps
        and np.array_equal(a.meta.indices, b.meta.indices)
    )


@pytest.mark.parametrize("method", ["nash_forml", "gdro"])
def test_a_run_does_not_depend_on_the_runs_trained_beside_it(method, german):
    """Seed 3 alone, in a batch of 3 and in a batch of 5 (whose last minibatch of each epoch
    is padded: 700 rows in batches of 128) gives the same weights, epochs and steps; so does
    a run with one input column fewer, beside runs of full width."""
    alone = train_nash_batch(method, [_task(german, 3)], FAST)[0]
    t = _task(german, 3)
    assert _same_run(alone, train_nash(method, t.X, t.y, t.a, t.X_val, t.y_val, t.a_val, FAST, 3))
    for seeds in ([1, 2, 3], [3, 0, 4, 1, 2]):
        batch = train_nash_batch(method, [_task(german, s) for s in seeds], FAST)
        assert _same_run(alone, batch[seeds.index(3)])
    narrow = train_nash_batch(method, [_task(german, 3, drop_columns=1)], FAST)[0]
    assert narrow.params["0.weight"].shape[1] == german.X_train.shape[1] - 1
    beside = train_nash_batch(
        method, [_task(german, 0), _task(german, 3, drop_columns=1), _task(german, 1)], FAST
    )
    assert _same_run(narrow, beside[1])


def test_stacked_step_equals_the_lone_step():
    """nash_step_batch on two padded runs gives each run the gradient and the step facts of
    nash_step on its own rows (float rounding aside)."""
    gen = torch.Generator().manual_seed(11)
    model = build_mlp(5, TrainConfig(hidden=(7, 4)), 0)
    metas, runs = [], []
    for seed, (B, per_player) in enumerate([(20, (3, 2, 4, 1)), (20, (2, 2, 2, 2))]):
        params = {
            k: v.detach().clone().requires_grad_(True)
            for k, v in build_mlp(5, TrainConfig(hidden=(7, 4)), seed).named_parameters()
        }
        players = np.repeat(np.arange(4), per_player)
        meta = MetaSet(np.arange(len(players)), players, ((0, 0), (0, 1), (1, 0), (1, 1)))
        Xb, Xm = torch.randn(B, 5, generator=gen), torch.randn(len(players), 5, generator=gen)
        yb = (torch.rand(B, generator=gen) < 0.5).float()
        ym = torch.tensor([0.0, 1.0] * (len(players) // 2 + 1))[: len(players)]
        metas.append(meta)
        runs.append((params, Xb, yb, Xm, ym))
    kw = dict(objective="gdro", bargain=True, lookahead_lr=0.5, weight_norm="l2")
    B_pad, M_pad = 32, 32
    X = torch.zeros(2, B_pad + M_pad, 5)
    y = torch.zeros(2, B_pad + M_pad)
    mask = torch.zeros(2, B_pad + M_pad)
    for r, (_, Xb, yb, Xm, ym) in enumerate(runs):
        X[r, : len(yb)], X[r, B_pad : B_pad + len(ym)] = Xb, Xm
        y[r, : len(yb)], y[r, B_pad : B_pad + len(ym)] = yb, ym
        mask[r, : len(yb)], mask[r, B_pad : B_pad + len(ym)] = 1.0, 1.0
    stacked = {k: torch.stack([run[0][k].detach() for run in runs]) for k in runs[0][0]}
    players = StackedPlayers.of_metas(metas, 4, M_pad, torch.float32)
    grads, infos = nash_step_batch(stacked, model, X, y, mask, B_pad, players, **kw)
    for r, (params, Xb, yb, Xm, ym) in enumerate(runs):
        before = {k: v.detach().clone() for k, v in params.items()}
        opt = torch.optim.SGD(params.values(), lr=1.0)
        info = nash_step(params, model, opt, Xb, yb, Xm, ym, metas[r], **kw)
        assert info == infos[r] and info.updated
        for k, p in params.items():
            assert torch.allclose(before[k] - p.detach(), grads[k][r], rtol=1e-4, atol=1e-6)


# --- synthetic --------------------------------------------------------------------------


def test_synthetic_two_group():
    kw = dict(objectives=("ltr", "gdro"), n_starts=2, steps=30, bargain_steps=10)
    df = synthetic_two_group(**kw)
    assert df.equals(synthetic_two_group(**kw))
    assert len(df) == 2 * 2 * 2 * 31
    assert {
        "objective",
        "method",
        "start",
        "step",
        "loss_g0",
        "loss_g1",
        "theta_0",
        "theta_1",
    } <= set(df.columns)
    assert np.isfinite(df[["loss_g0", "loss_g1", "theta_0", "theta_1"]].to_numpy()).all()
    steps = df[df["step"] < 30]
    assert (steps["bargained"] == ((steps["method"] == "two_stage") & (steps["step"] < 10))).all()
    # stage 1 is the same for every objective; starting points coincide across methods
    two = df[(df["method"] == "two_stage") & (df["step"] <= 10)]
    a, b = (two[two["objective"] == o][["loss_g0", "loss_g1"]].to_numpy() for o in ("ltr", "gdro"))
    assert np.array_equal(a, b)
    start = df[df["step"] == 0].groupby("start")[["theta_0", "theta_1"]].nunique()
    assert (start == 1).all().all()
    # bargaining steps resolve the conflicts they can
    bargained = steps[steps["bargained"]]
    assert (
        not bargained.loc[bargained["nbs_converged"].astype(bool), "conflict_after"]
        .astype(bool)
        .any()
    )
