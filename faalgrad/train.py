"""ERM and FaAlGrad meta-training of small MLPs, on torch.func.

FaAlGrad (paper 4, eq. 5-6): ``inner_steps`` SGD steps on the support set X_s from θ0,
the query loss on X_q at the adapted parameters, differentiated back to θ0 (second
order, or first order), and an ordinary ``torch.optim`` step on θ0. Both trainers stop
early on the validation loss and keep the best parameters. See the book's Method page.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad

from faalgrad.validation import check_choice, check_int, replace_settings

#: A network's weights and biases by parameter name (`dict(model.named_parameters())`).
Weights = dict[str, torch.Tensor]
EpochCallback = Callable[[int, Weights], None]
#: ``loss(params, model, X, y)``: a scalar loss (:func:`bce`, or a batch's summed loss).
Loss = Callable[..., torch.Tensor]

__all__ = [
    "ACTIVATIONS",
    "EpochCallback",
    "EpochSelection",
    "Loss",
    "SparseRows",
    "TrainConfig",
    "TrainResult",
    "adapt",
    "as_inputs",
    "as_tensor",
    "bce",
    "build_mlp",
    "csr_product",
    "gradient_cosine",
    "logits",
    "meta_gradient",
    "meta_loss",
    "minibatches",
    "single_thread",
    "snapshot",
    "train_erm",
    "train_faalgrad",
    "wants_csr",
    "Weights",
]
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
#: The optimisers, built with ``foreach=True`` by every trainer: on the CPU the multi-tensor
#: step does each tensor's arithmetic exactly as the per-tensor default (tested), without a
#: Python loop over the tensors of a batch of runs.
OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}
#: Full-batch inputs at most this dense (share of non-zero entries) and with at least this
#: many entries enter the first layer as CSR: a pass over Adult's training split (88 % zeros,
#: its one-hot columns) then reads about a quarter of the bytes, the step's largest cost
#: (benchmarks/bench_sparse.py).
SPARSE_MAX_DENSITY, SPARSE_MIN_ENTRIES = 0.25, 250_000


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of one training run (model, optimisation, early stopping).

    ``outer_lr`` is the learning rate of the optimiser that updates θ0: the outer
    (meta) step for FaAlGrad, the only step for ERM. ``batch_size=None`` is full batch.
    """

    hidden: tuple[int, ...] = (8,)
    activation: Literal["relu", "tanh"] = "relu"
    inner_lr: float = 0.005
    outer_lr: float = 0.01
    inner_steps: int = 1
    first_order: bool = False
    optimizer: Literal["adam", "sgd"] = "adam"
    max_epochs: int = 100
    patience: int = 10
    batch_size: int | None = None

    def __post_init__(self) -> None:
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        for name in ("inner_steps", "max_epochs", "patience"):
            check_int(name, getattr(self, name))
        if not self.inner_lr >= 0:  # 0: no inner step, the meta-gradient is the query gradient
            raise ValueError(f"inner_lr={self.inner_lr!r} must be non-negative")
        if not self.outer_lr > 0:
            raise ValueError(f"outer_lr={self.outer_lr!r} must be positive")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden={self.hidden!r} must be one or more positive layer widths")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(
                f"batch_size={self.batch_size!r} must be a positive integer or None (full batch)"
            )

    def updated(self, **overrides) -> TrainConfig:
        """A copy with ``overrides``.

        Unknown names raise a ``ValueError`` listing the valid ones.
        """
        return replace_settings(self, **overrides)


@dataclass
class TrainResult:
    """A trained model: θ0 at the best validation epoch and the loss history."""

    model: nn.Module
    params: Weights
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0

    def predict_proba(self, X: np.ndarray | torch.Tensor) -> np.ndarray:
        """Probability of y = 1 for each row of ``X``."""
        with torch.no_grad():
            return torch.sigmoid(logits(self.params, self.model, as_tensor(X))).numpy()


def build_mlp(n_features: int, config: TrainConfig, seed: int) -> nn.Module:
    """The MLP ``n_features -> hidden... -> 1`` (one logit), initialised from ``seed``."""
    widths = (n_features, *config.hidden)
    # nn.Linear draws its initial weights when constructed, so build inside the seeded block.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(w_in, w_out), ACTIVATIONS[config.activation]()]
        layers.append(nn.Linear(widths[-1], 1))
        return nn.Sequential(*layers)


class SparseRows:
    """A design matrix held as CSR, with its transpose, for the first layer's products.

    Parameters
    ----------
    X : torch.Tensor
        The dense (n, d) inputs.
    """

    def __init__(self, X: torch.Tensor) -> None:
        self.csr = _csr32([_nonzeros(X)], *X.shape)
        self.csr_t = _csr32([_nonzeros(X.T.contiguous())], X.shape[1], X.shape[0])
        self.shape = X.shape

    @classmethod
    def block_diagonal(cls, blocks: list[torch.Tensor]) -> SparseRows:
        """The CSR matrix whose diagonal blocks are ``blocks`` (dense, all of one shape).

        Block ``r`` of its product with a stacked first layer is run ``r``'s rows times run
        ``r``'s weights (:mod:`faalgrad.batched`), one sparse product for a batch of runs.
        """
        n, d = blocks[0].shape
        out = object.__new__(cls)
        out.csr = _csr32([_nonzeros(b) for b in blocks], n, d)
        out.csr_t = _csr32([_nonzeros(b.T.contiguous()) for b in blocks], d, n)
        out.shape = torch.Size((len(blocks) * n, len(blocks) * d))
        out._block_shape = (n, d)
        return out

    def select_blocks(self, keep: torch.Tensor) -> SparseRows:
        """The block-diagonal matrix of the blocks ``keep`` only, sliced from this one (a
        :meth:`block_diagonal` matrix; ``keep`` is a boolean mask or indices of its blocks)."""
        n, d = self._block_shape
        index = torch.arange(self.shape[0] // n)[keep].tolist()
        out = object.__new__(SparseRows)
        out.csr = _csr_blocks(self.csr, index, n, d)
        out.csr_t = _csr_blocks(self.csr_t, index, d, n)
        out.shape = torch.Size((len(index) * n, len(index) * d))
        out._block_shape = (n, d)
        return out

    def to_dense(self) -> torch.Tensor:
        """The dense (n, d) inputs."""
        return self.csr.to_dense()


def _nonzeros(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row indices, column indices and values of the non-zero entries of ``X``, row-major."""
    i, j = X.nonzero(as_tuple=True)
    return i, j, X[i, j]


def _csr32(blocks: list[tuple], n: int, d: int) -> torch.Tensor:
    """CSR with 32-bit indices of the block-diagonal matrix whose ``n`` × ``d`` blocks have the
    non-zeros ``blocks`` (:func:`_nonzeros`; one block: the matrix itself).

    The sparse BLAS kernels' own; 64-bit ones are copied on every product.
    """
    rows = torch.cat([i + r * n for r, (i, _, _) in enumerate(blocks)])
    cols = torch.cat([j + r * d for r, (_, j, _) in enumerate(blocks)])
    crow = torch.zeros(len(blocks) * n + 1, dtype=torch.int32)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=len(blocks) * n), 0)
    return _csr_tensor(crow, cols.int(), torch.cat([v for _, _, v in blocks]), n, d)


def _csr_blocks(csr: torch.Tensor, index: list[int], n: int, d: int) -> torch.Tensor:
    """The blocks ``index`` of a block-diagonal CSR matrix of ``n`` × ``d`` blocks, as the
    block-diagonal CSR matrix of those blocks (each block's entries are one slice)."""
    crow, col, values = csr.crow_indices(), csr.col_indices(), csr.values()
    crows, cols, kept, offset = [crow[:1] * 0], [], [], 0
    for new, r in enumerate(index):
        start, end = int(crow[r * n]), int(crow[(r + 1) * n])
        crows.append(crow[r * n + 1 : (r + 1) * n + 1] - (start - offset))
        cols.append(col[start:end] + (new - r) * d)
        kept.append(values[start:end])
        offset += end - start
    return _csr_tensor(torch.cat(crows), torch.cat(cols), torch.cat(kept), n, d, len(index))


def _csr_tensor(crow, cols, values, n: int, d: int, blocks: int | None = None) -> torch.Tensor:
    blocks = len(crow[1:]) // n if blocks is None else blocks
    # torch marks CSR "beta"; the products used here are tested against dense ones
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        return torch.sparse_csr_tensor(
            crow, cols, values, (blocks * n, blocks * d), check_invariants=False
        )


def csr_product(M: torch.Tensor, X: SparseRows) -> torch.Tensor:
    """``X @ M.T`` for the CSR inputs ``X``, differentiable to any order in ``M``."""
    return _CsrProduct.apply(M, X, False)


class _CsrProduct(torch.autograd.Function):
    """``X @ M.T`` for CSR ``X`` (``gram=False``: the first layer), or ``M.T @ X`` (``gram=True``:
    its weight gradient); each is the other's derivative, so derivatives of any order work."""

    @staticmethod
    def forward(M: torch.Tensor, X: SparseRows, gram: bool) -> torch.Tensor:
        return (X.csr_t @ M).T if gram else X.csr @ M.T

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.X, ctx.gram = inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, G: torch.Tensor):
        return _CsrProduct.apply(G, ctx.X, not ctx.gram), None, None


def logits(params: Weights, model: nn.Module, X: torch.Tensor | SparseRows) -> torch.Tensor:
    """Logits of ``model`` with parameters ``params`` on ``X``, shape (n,).

    For the ``nn.Sequential`` MLPs of :func:`build_mlp` the layers are applied directly
    with ``F.linear`` (``functional_call`` costs more than the small matmuls themselves);
    any other module goes through ``torch.func.functional_call``. :class:`SparseRows`
    inputs enter the first layer as CSR products.
    """
    if isinstance(X, SparseRows):
        first = next(name for name, _ in model.named_children())
        W, b = params[f"{first}.weight"], params[f"{first}.bias"]
        h = csr_product(W, X) + b
        layers = list(model.named_children())[1:]
    elif not isinstance(model, nn.Sequential):
        return functional_call(model, params, (X,)).squeeze(-1)
    else:
        h, layers = X, list(model.named_children())
    for name, layer in layers:
        h = (
            F.linear(h, params[f"{name}.weight"], params[f"{name}.bias"])
            if isinstance(layer, nn.Linear)
            else layer(h)
        )
    return h.squeeze(-1)


def bce(
    params: Weights,
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Binary cross-entropy of ``params`` on (X, y).

    Optionally per-sample weighted (then the weighted mean).
    """
    losses = F.binary_cross_entropy_with_logits(logits(params, model, X), y, reduction="none")
    if weight is None:
        return losses.mean()
    return (losses * weight).sum() / weight.sum()


def adapt(
    params: Weights,
    model: nn.Module,
    X_s: torch.Tensor,
    y_s: torch.Tensor,
    inner_lr: float,
    inner_steps: int,
    *,
    loss: Loss = bce,
) -> Weights:
    """θ_I: ``inner_steps`` sequential SGD steps on the support set, differentiable in θ0.

    ``loss(params, model, X, y)`` is :func:`bce`, or a batch's summed loss
    (:mod:`faalgrad.batched`).
    """
    for _ in range(inner_steps):
        g = grad(loss)(params, model, X_s, y_s)
        params = {k: params[k] - inner_lr * g[k] for k in params}
    return params


def gradient_cosine(params: Weights, model: nn.Module, X_s, y_s, X_q, y_q) -> float:
    """cos(∇L(θ, X_s), ∇L(θ, X_q)): the alignment of the support and query gradients at θ."""
    g_s, g_q = (
        torch.cat([g.reshape(-1) for g in grad(bce)(params, model, X, y).values()])
        for X, y in ((X_s, y_s), (X_q, y_q))
    )
    return float(g_s @ g_q / (torch.linalg.vector_norm(g_s) * torch.linalg.vector_norm(g_q)))


def meta_loss(
    params: Weights,
    model: nn.Module,
    X_s,
    y_s,
    X_q,
    y_q,
    inner_lr: float,
    inner_steps: int,
    *,
    loss: Loss = bce,
) -> torch.Tensor:
    """L(θ_I, X_q): the query loss at the parameters adapted on the support set."""
    adapted = adapt(params, model, X_s, y_s, inner_lr, inner_steps, loss=loss)
    return loss(adapted, model, X_q, y_q)


def meta_gradient(
    params: Weights,
    model: nn.Module,
    X_s,
    y_s,
    X_q,
    y_q,
    *,
    inner_lr: float,
    inner_steps: int,
    first_order: bool = False,
    loss: Loss = bce,
) -> Weights:
    """∂L(θ_I, X_q)/∂θ0: through every inner step, or ∇L(θ_I, X_q) when ``first_order``.

    As in the functorch MAML example, the inner steps use ``torch.func.grad`` and the
    outer derivative is ordinary reverse-mode autograd through them (this measured
    faster than nesting ``grad`` for the outer derivative too, with equal results).
    """
    if first_order:
        detached = {k: v.detach() for k, v in params.items()}
        adapted = adapt(detached, model, X_s, y_s, inner_lr, inner_steps, loss=loss)
        adapted = {k: v.detach() for k, v in adapted.items()}
        return grad(loss)(adapted, model, X_q, y_q)
    leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    with torch.enable_grad():
        value = meta_loss(leaves, model, X_s, y_s, X_q, y_q, inner_lr, inner_steps, loss=loss)
        grads = torch.autograd.grad(value, list(leaves.values()))
    return dict(zip(leaves, grads, strict=True))


def train_erm(
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    config: TrainConfig,
    seed: int,
    *,
    sample_weight: np.ndarray | None = None,
    callback: EpochCallback | None = None,
) -> TrainResult:
    """Empirical risk minimisation of the MLP on (X, y), early-stopped on (X_val, y_val).

    Parameters
    ----------
    X, y : array-like
        Training inputs and 0/1 labels.
    X_val, y_val : array-like
        Validation split: its BCE decides early stopping and the returned parameters.
    config : TrainConfig
        Model and optimisation settings (``outer_lr`` is the optimiser's learning rate).
    seed : int
        Seed of the initialisation (and of the minibatch order).
    sample_weight : array-like, optional
        Per-sample weights of the loss (a weighted mean).
    callback : callable, optional
        ``callback(epoch, params)`` after every epoch, with a detached copy of θ0.

    Returns
    -------
    TrainResult
    """
    if not _minibatched(config, len(y)):  # the batch of one
        from faalgrad.batched import ErmTask, train_erm_batch

        task = ErmTask(X, y, X_val, y_val, seed, sample_weight=sample_weight, callback=callback)
        return train_erm_batch([task], config)[0]
    X_t, y_t = as_inputs(X, config), as_tensor(y)
    w_t = None if sample_weight is None else as_tensor(sample_weight)
    model = build_mlp(X_t.shape[1], config, seed)

    def step_grad(params: Weights, batch: np.ndarray | None) -> Weights:
        if batch is None:
            return grad(bce)(params, model, X_t, y_t, w_t)
        w = None if w_t is None else w_t[batch]
        return grad(bce)(params, model, X_t[batch], y_t[batch], w)

    return _fit(model, step_grad, len(y_t), X_val, y_val, config, seed, callback)


def train_faalgrad(
    X_s: np.ndarray,
    y_s: np.ndarray,
    X_q: np.ndarray,
    y_q: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    config: TrainConfig,
    seed: int,
    *,
    callback: EpochCallback | None = None,
) -> TrainResult:
    """FaAlGrad meta-training on support (X_s, y_s) and query (X_q, y_q) sets.

    Parameters
    ----------
    X_s, y_s : array-like
        The support set: the inner SGD steps adapt θ0 on it.
    X_q, y_q : array-like
        The query set: its loss at the adapted parameters is the meta-objective.
    X_val, y_val : array-like
        Validation split for early stopping.
    config : TrainConfig
        ``inner_lr``, ``inner_steps``, ``first_order`` and the outer optimiser's settings.
    seed : int
        Seed of the initialisation (and of the minibatch draws).
    callback : callable, optional
        As in :func:`train_erm`.

    Returns
    -------
    TrainResult
        θ0 of the epoch with the lowest validation loss.

    """
    if len(y_s) == 0 or len(y_q) == 0:
        raise ValueError(
            f"support ({len(y_s)} rows) and query ({len(y_q)} rows) must both be non-empty"
        )
    if not _minibatched(config, len(y_q)):  # the batch of one
        from faalgrad.batched import MetaTask, train_faalgrad_batch

        task = MetaTask(X_s, y_s, X_q, y_q, X_val, y_val, seed, callback=callback)
        return train_faalgrad_batch([task], config)[0]
    # the query set's minibatches decide: a support set smaller than a batch is still indexed
    Xs = as_inputs(X_s, config, batch_rows=len(y_q))
    ys, Xq, yq = as_tensor(y_s), as_inputs(X_q, config), as_tensor(y_q)
    model = build_mlp(Xs.shape[1], config, seed)
    support_rng = np.random.default_rng(seed + 1)

    def step_grad(params: Weights, batch: np.ndarray | None) -> Weights:
        if batch is None:
            s_x, s_y, q_x, q_y = Xs, ys, Xq, yq
        else:
            s_batch = support_rng.choice(len(ys), size=min(len(batch), len(ys)), replace=False)
            s_x, s_y, q_x, q_y = Xs[s_batch], ys[s_batch], Xq[batch], yq[batch]
        return meta_gradient(
            params,
            model,
            s_x,
            s_y,
            q_x,
            q_y,
            inner_lr=config.inner_lr,
            inner_steps=config.inner_steps,
            first_order=config.first_order,
        )

    return _fit(model, step_grad, len(yq), X_val, y_val, config, seed, callback)


def _fit(
    model: nn.Module,
    step_grad: Callable[[Weights, np.ndarray | None], Weights],
    n_rows: int,
    X_val: np.ndarray,
    y_val: np.ndarray,
    config: TrainConfig,
    seed: int,
    callback: EpochCallback | None = None,
) -> TrainResult:
    """The minibatch epoch loop: outer optimiser steps, validation loss, early stopping.

    Full-batch training goes through :mod:`faalgrad.batched` (a batch of one).
    """
    params = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
    optimizer = OPTIMIZERS[config.optimizer](params.values(), lr=config.outer_lr, foreach=True)
    X_v, y_v = as_inputs(X_val), as_tensor(y_val)
    batch_rng = np.random.default_rng(seed)
    result = TrainResult(model=model, params=snapshot(params))
    selection = EpochSelection(result, patience=config.patience)
    full_batch = config.batch_size is None or config.batch_size >= n_rows
    for epoch in range(config.max_epochs):
        batches = [None] if full_batch else minibatches(batch_rng, n_rows, config.batch_size)
        for batch in batches:
            grads = step_grad(params, batch)
            for k, p in params.items():
                p.grad = grads[k].detach()
            optimizer.step()
        if callback is not None:
            callback(epoch, snapshot(params))
        with torch.no_grad():
            loss = float(bce(params, model, X_v, y_v))
        result.val_loss.append(loss)
        if selection.update(epoch, (-loss,), params):
            break
    return result


def _minibatched(config: TrainConfig, n_rows: int) -> bool:
    """Whether ``config`` trains on minibatches of ``n_rows`` rows (else full batch)."""
    return config.batch_size is not None and config.batch_size < n_rows


def minibatches(rng: np.random.Generator, n_rows: int, batch_size: int) -> list[np.ndarray]:
    """One epoch's minibatches: a fresh permutation of the rows, cut into ``batch_size`` pieces.

    Parameters
    ----------
    rng : numpy.random.Generator
        The trainer's batch-order generator (advanced by one permutation).
    n_rows : int
        The number of training rows.
    batch_size : int
        Rows per batch; the last batch holds the remainder.

    Returns
    -------
    list of numpy.ndarray
    """
    order = rng.permutation(n_rows)
    return [order[i : i + batch_size] for i in range(0, n_rows, batch_size)]


class EpochSelection:
    """The one epoch-selection rule of every trainer.

    After each epoch, :meth:`update` compares the epoch's validation score with the best
    so far (a tuple, larger is better; a score holding a NaN is never an improvement); on an
    improvement it keeps a copy of the weights in ``result.params`` and the epoch in
    ``result.best_epoch``. Training stops after ``patience`` epochs in a row without one
    (``None``: it never stops early).

    Parameters
    ----------
    result : TrainResult
        Receives the selected weights and epoch.
    patience : int or None
        Epochs without improvement before stopping.
    """

    def __init__(self, result: TrainResult, patience: int | None) -> None:
        self.result = result
        self.patience = patience
        self.best: tuple | None = None
        self.waited = 0

    def update(self, epoch: int, score: tuple, params: Weights) -> bool:
        """Record ``epoch``'s ``score``; ``True`` when training should stop."""
        improved = not any(math.isnan(v) for v in score) and (
            self.best is None or score > self.best
        )
        if improved:
            self.best = score
            self.waited = 0
            self.result.params = snapshot(params)
            self.result.best_epoch = epoch
            return False
        self.waited += 1
        return self.patience is not None and self.waited >= self.patience


def snapshot(params: Weights) -> Weights:
    """Detached copies of ``params``."""
    return {k: v.detach().clone() for k, v in params.items()}


def as_tensor(a) -> torch.Tensor:
    """``a`` as a float32 tensor (tensors pass through unchanged)."""
    if isinstance(a, torch.Tensor):
        return a
    a = np.asarray(a)
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def as_inputs(
    X, config: TrainConfig | None = None, *, batch_rows: int | None = None
) -> torch.Tensor | SparseRows:
    """``X`` for full-batch products.

    :class:`SparseRows` when it is large and sparse, else a tensor. Minibatch training
    (``config.batch_size`` below ``batch_rows``, the row count the batches are drawn from:
    ``X``'s own by default, the query set's for the support set) indexes rows, so keeps the
    dense tensor. See :data:`SPARSE_MAX_DENSITY` and :data:`SPARSE_MIN_ENTRIES`.
    """
    X_t = as_tensor(X)
    rows = len(X_t) if batch_rows is None else batch_rows
    if config is not None and config.batch_size is not None and config.batch_size < rows:
        return X_t
    return SparseRows(X_t) if wants_csr(X_t) else X_t


def wants_csr(X: torch.Tensor) -> bool:
    """Whether full-batch products on ``X`` go through CSR: large and sparse enough.

    See :data:`SPARSE_MAX_DENSITY` and :data:`SPARSE_MIN_ENTRIES`.
    """
    return (
        X.numel() >= SPARSE_MIN_ENTRIES
        and int(torch.count_nonzero(X)) <= SPARSE_MAX_DENSITY * X.numel()
    )


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """One torch thread inside the block.

    Every run and explanation uses it: same numbers on any machine.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
