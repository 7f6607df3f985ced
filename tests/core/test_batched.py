"""Tests for :mod:`faalgrad.batched`: runs trained together equal runs trained alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from faalgrad import batched, train
from faalgrad.batched import ErmTask, MetaTask, train_erm_batch, train_faalgrad_batch
from faalgrad.train import SparseRows, TrainConfig, csr_product

#: Rows of different counts are padded with zero-weight rows, which changes the order of the
#: loss's sums: the padded batch equals the runs alone up to float32 rounding only. After 8
#: Adam steps at lr 0.05 the largest difference measured over the cases below was 2e-7 in a
#: weight and 1e-7 in a validation loss; 1e-5 leaves room for other CPUs' kernels and still
#: fails on any real difference (one epoch more or less moves a weight by ~1e-2).
PADDING_ROUNDING = 1e-5


def _tasks(kind: str, n_tasks: int, *, rows=(60,), width=(5,), weighted=False, seed=0):
    """``n_tasks`` small synthetic tasks (ERM or FaAlGrad), row counts and widths cycling."""
    rng = np.random.default_rng(seed)
    tasks = []
    for i in range(n_tasks):
        n, d = rows[i % len(rows)], width[i % len(width)]
        X = rng.normal(size=(n, d)).astype(np.float32)
        y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(np.float32)
        Xv = rng.normal(size=(40, d)).astype(np.float32)
        yv = (Xv[:, 0] > 0).astype(np.float32)
        if kind == "erm":
            w = rng.uniform(0.5, 2.0, size=n).astype(np.float32) if weighted else None
            tasks.append(ErmTask(X, y, Xv, yv, seed=i, sample_weight=w))
        else:
            half = n // 3
            tasks.append(MetaTask(X[:half], y[:half], X[half:], y[half:], Xv, yv, seed=i))
    return tasks


def _train(kind, tasks, config):
    return (train_erm_batch if kind == "erm" else train_faalgrad_batch)(tasks, config)


def _assert_identical(a: train.TrainResult, b: train.TrainResult) -> None:
    assert a.best_epoch == b.best_epoch
    assert a.val_loss == b.val_loss
    assert a.params.keys() == b.params.keys()
    for k in a.params:
        assert torch.equal(a.params[k], b.params[k]), k


CONFIGS = [
    pytest.param("erm", {}, id="erm"),
    pytest.param("erm", {"weighted": True}, id="erm-weighted"),
    pytest.param("faalgrad", {}, id="faalgrad-I1"),
    pytest.param("faalgrad", {"inner_steps": 3}, id="faalgrad-I3"),
    pytest.param("faalgrad", {"first_order": True, "inner_steps": 2}, id="faalgrad-first-order"),
    pytest.param("faalgrad", {"activation": "tanh", "hidden": (6, 4)}, id="faalgrad-tanh-2layers"),
]


def _split_kwargs(kwargs):
    weighted = kwargs.pop("weighted", False)
    return weighted, TrainConfig(outer_lr=0.05, inner_lr=0.1, max_epochs=40, patience=4, **kwargs)


@pytest.mark.parametrize(("kind", "kwargs"), CONFIGS)
def test_a_run_in_a_batch_equals_the_run_alone(kind, kwargs):
    """Bit for bit: weights, selected epoch and validation losses, with runs stopping early
    at different epochs (the batch shrinks under the others)."""
    weighted, config = _split_kwargs(dict(kwargs))
    tasks = _tasks(kind, 5, weighted=weighted)
    together = _train(kind, tasks, config)
    epochs = {len(r.val_loss) for r in together}
    assert len(epochs) > 1, "the case should have runs stopping at different epochs"
    for task, result in zip(tasks, together, strict=True):
        _assert_identical(_train(kind, [task], config)[0], result)


@pytest.mark.parametrize(("kind", "kwargs"), CONFIGS[:3])
def test_a_run_does_not_depend_on_its_batch(kind, kwargs):
    """Run 3 alone, in a batch of 5 and in a batch of 20 (other runs around it)."""
    weighted, config = _split_kwargs(dict(kwargs))
    tasks = _tasks(kind, 20, weighted=weighted)
    alone = _train(kind, [tasks[3]], config)[0]
    _assert_identical(alone, _train(kind, tasks[:5], config)[3])
    _assert_identical(alone, _train(kind, tasks, config)[3])


@pytest.mark.parametrize("kind", ["erm", "faalgrad"])
def test_single_run_trainers_are_the_batch_of_one(kind):
    config = TrainConfig(outer_lr=0.05, max_epochs=15, patience=4)
    task = _tasks(kind, 1)[0]
    if kind == "erm":
        single = train.train_erm(task.X, task.y, task.X_val, task.y_val, config, task.seed)
    else:
        single = train.train_faalgrad(
            task.X_s, task.y_s, task.X_q, task.y_q, task.X_val, task.y_val, config, task.seed
        )
    _assert_identical(single, _train(kind, [task], config)[0])


@pytest.mark.parametrize("kind", ["erm", "faalgrad"])
def test_padded_batch_equals_runs_alone_up_to_rounding(kind):
    """Different row counts and input widths: zero-weight rows and zero columns."""
    config = TrainConfig(outer_lr=0.05, max_epochs=8, patience=100)
    tasks = _tasks(kind, 4, rows=(60, 45, 72), width=(5, 3, 4))
    together = _train(kind, tasks, config)
    for task, result in zip(tasks, together, strict=True):
        alone = _train(kind, [task], config)[0]
        assert result.params["0.weight"].shape == alone.params["0.weight"].shape
        assert result.best_epoch == alone.best_epoch
        np.testing.assert_allclose(result.val_loss, alone.val_loss, atol=PADDING_ROUNDING)
        for k in alone.params:
            np.testing.assert_allclose(result.params[k], alone.params[k], atol=PADDING_ROUNDING)
        # the padded zero columns never reach the run's own weights
        X = task.X if kind == "erm" else task.X_s
        assert result.params["0.weight"].shape[1] == X.shape[1]


def test_minibatch_settings_train_one_at_a_time():
    config = TrainConfig(outer_lr=0.05, max_epochs=5, patience=10, batch_size=16)
    tasks = _tasks("erm", 3)
    together = train_erm_batch(tasks, config)
    for t, result in zip(tasks, together, strict=True):
        alone = train.train_erm(t.X, t.y, t.X_val, t.y_val, config, t.seed)
        _assert_identical(alone, result)


def test_callbacks_see_each_run_every_epoch():
    seen: dict[int, list[int]] = {0: [], 1: []}
    config = TrainConfig(outer_lr=0.3, hidden=(32,), max_epochs=300, patience=3)
    base = _tasks("erm", 2, rows=(12,))
    tasks = [
        ErmTask(t.X, t.y, t.X_val, t.y_val, t.seed, callback=lambda e, p, i=i: seen[i].append(e))
        for i, t in enumerate(base)
    ]
    results = train_erm_batch(tasks, config)
    for i, result in enumerate(results):
        assert seen[i] == list(range(len(result.val_loss)))


def test_block_diagonal_product_equals_each_blocks_product():
    rng = np.random.default_rng(0)
    blocks = [
        torch.from_numpy((rng.random((30, 7)) < 0.2) * rng.normal(size=(30, 7))).float()
        for _ in range(3)
    ]
    W = torch.from_numpy(rng.normal(size=(3, 4, 7))).float()
    rows = SparseRows.block_diagonal(blocks)
    assert rows.shape == (90, 21)
    M = W.transpose(0, 1).reshape(4, 21)
    out = csr_product(M, rows).reshape(3, 30, 4)
    for r, X in enumerate(blocks):
        torch.testing.assert_close(out[r], X @ W[r].T, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(rows.to_dense()[30:60, 7:14], blocks[1])


@pytest.mark.parametrize("keep", [[True, False, True], [False, True, False], [2, 0]])
def test_selected_blocks_equal_the_block_diagonal_of_those_blocks(keep):
    rng = np.random.default_rng(2)
    blocks = [
        torch.from_numpy((rng.random((10, 5)) < 0.3) * rng.normal(size=(10, 5))).float()
        for _ in range(3)
    ]
    kept = SparseRows.block_diagonal(blocks).select_blocks(torch.tensor(keep))
    index = torch.arange(3)[torch.tensor(keep)].tolist()
    fresh = SparseRows.block_diagonal([blocks[r] for r in index])
    assert kept.shape == fresh.shape
    for a, b in ((kept.csr, fresh.csr), (kept.csr_t, fresh.csr_t)):
        assert torch.equal(a.crow_indices(), b.crow_indices())
        assert torch.equal(a.col_indices(), b.col_indices())
        assert torch.equal(a.values(), b.values())
        assert a.col_indices().dtype == torch.int32


def test_large_sparse_inputs_train_as_one_block_product(monkeypatch):
    """Inputs that go to CSR (Adult's case) give the same runs alone and together."""
    monkeypatch.setattr(train, "SPARSE_MIN_ENTRIES", 1_000)
    rng = np.random.default_rng(1)
    tasks = []
    for seed in range(3):
        X = ((rng.random((200, 12)) < 0.15) * 1.0).astype(np.float32)
        y = (X[:, :3].sum(1) > 0).astype(np.float32)
        tasks.append(ErmTask(X, y, X[:80], y[:80], seed))
    assert isinstance(train.as_inputs(tasks[0].X), SparseRows)
    assert batched._Rows([t.X for t in tasks], [t.y for t in tasks], 12).sparse
    config = TrainConfig(outer_lr=0.05, max_epochs=12, patience=3)
    together = train_erm_batch(tasks, config)
    for task, result in zip(tasks, together, strict=True):
        _assert_identical(train_erm_batch([task], config)[0], result)


@pytest.mark.parametrize(
    "name, settings",
    [("adam", {"lr": 0.05}), ("sgd", {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4})],
)
def test_the_multi_tensor_step_is_the_per_tensor_step(name, settings):
    """The trainers build their optimisers with ``foreach=True``; on the CPU that takes each
    tensor through the same arithmetic as the per-tensor default, bit for bit, also when some
    tensors have no gradient (a stopped run, a skipped Nash step)."""
    gen = torch.Generator().manual_seed(4)
    shapes = [(16, 7), (16,), (1, 16), (1,)] * 3
    start = [torch.randn(s, generator=gen) for s in shapes]
    grads = [[torch.randn(s, generator=gen) for s in shapes] for _ in range(30)]
    trained = []
    for foreach in (False, True):
        params = [p.clone().requires_grad_(True) for p in start]
        optimizer = train.OPTIMIZERS[name](params, foreach=foreach, **settings)
        for step, step_grads in enumerate(grads):
            for i, (p, g) in enumerate(zip(params, step_grads, strict=True)):
                p.grad = None if (step % 3 == 0 and i % 4 == 1) else g.clone()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        trained.append(params)
    for a, b in zip(*trained, strict=True):
        assert torch.equal(a, b)
