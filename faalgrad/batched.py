"""Seeds trained together: a batch of runs as one stacked model.

The runs of a batch share a method and its :class:`~faalgrad.train.TrainConfig` and differ
in their rows and seed. Every weight gets a leading run dimension (the model-ensembling
pattern of ``torch.func.stack_module_state``), the layers become batched matrix products,
and ``torch.func.grad`` of the sum of the runs' losses gives each run its own gradient.
Each run keeps its own initialisation (:func:`~faalgrad.train.build_mlp` of its seed), its
own rows and its own early stopping; a run that stops keeps its best weights and leaves
the batch. Every run's rows are padded with zero-weight rows to a common multiple of
:data:`ROW_ALIGN`, and inputs of different widths with zero columns (their weights start
at zero and get zero gradients). A run's result does not depend on the other runs of its
batch when they have as many rows, rounded up to :data:`ROW_ALIGN` (every grid of the book:
the paper's splits have fixed sizes); otherwise the padding changes float rounding only.

Large sparse inputs (Adult's one-hot columns) enter the first layer as one block-diagonal
CSR product for the whole batch. Minibatch settings train one run at a time here; the
Nash-style methods' minibatch trainer stacks its runs itself
(:func:`faalgrad.nash.train_nash_batch`, with the same row padding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import grad

from faalgrad.train import (
    OPTIMIZERS,
    EpochCallback,
    EpochSelection,
    SparseRows,
    TrainConfig,
    TrainResult,
    Weights,
    _minibatched,
    as_tensor,
    build_mlp,
    csr_product,
    meta_gradient,
    snapshot,
    train_erm,
    train_faalgrad,
    wants_csr,
)

__all__ = [
    "ROW_ALIGN",
    "ErmTask",
    "MetaTask",
    "narrowed",
    "stacked_bce",
    "stacked_logits",
    "train_erm_batch",
    "train_faalgrad_batch",
    "widened",
]


@dataclass(frozen=True, eq=False)
class ErmTask:
    """One ERM run of a batch: training rows, optional sample weights, validation rows, seed.

    Parameters
    ----------
    X, y : array-like
        Training inputs and 0/1 labels.
    X_val, y_val : array-like
        The validation split (early stopping and the selected epoch).
    seed : int
        Seed of the initialisation.
    sample_weight : array-like, optional
        Per-sample weights of the loss (a weighted mean).
    callback : callable, optional
        ``callback(epoch, params)`` after every epoch of this run.
    """

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    seed: int
    sample_weight: np.ndarray | None = None
    callback: EpochCallback | None = None


@dataclass(frozen=True, eq=False)
class MetaTask:
    """One FaAlGrad run of a batch: support set, query set, validation rows, seed.

    Parameters
    ----------
    X_s, y_s : array-like
        The support set (the inner steps adapt θ0 on it).
    X_q, y_q : array-like
        The query set (its loss at the adapted weights is the meta-objective).
    X_val, y_val : array-like
        The validation split.
    seed : int
        Seed of the initialisation.
    callback : callable, optional
        As in :class:`ErmTask`.
    """

    X_s: np.ndarray
    y_s: np.ndarray
    X_q: np.ndarray
    y_q: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    seed: int
    callback: EpochCallback | None = None


#: Every run's rows are padded (with zero-weight rows) to a multiple of this count. ATen's
#: element-wise kernels process 2 × 16 floats at a time (AVX-512; 2 × 8 with AVX2) and the
#: remainder of a tensor with scalar code, whose tanh, exp and log1p round differently; with
#: whole blocks per run, no run's rows ever fall in that remainder, wherever the run sits in
#: the stack, so a run's result does not depend on its batch.
ROW_ALIGN = 32


class _Rows:
    """The rows of one set (training, support, query or validation) for every run of a batch.

    ``inputs`` is a (runs, rows, width) tensor, or one block-diagonal :class:`SparseRows`
    whose block ``r`` is run ``r``'s rows; ``weight`` is (runs, rows): the sample weights
    (ones without them), zero on padded rows.
    """

    def __init__(self, tables: Sequence, labels: Sequence, width: int, weights=None) -> None:
        X = [as_tensor(t) for t in tables]
        self.rows = -(-max(len(t) for t in X) // ROW_ALIGN) * ROW_ALIGN
        self.width = width
        self.sparse = wants_csr(X[0])
        X = [F.pad(t, (0, width - t.shape[1], 0, self.rows - len(t))) for t in X]
        self.y = torch.stack([F.pad(as_tensor(v), (0, self.rows - len(v))) for v in labels])
        weights = [None] * len(labels) if weights is None else weights
        ones = [
            torch.ones(len(v)) if w is None else as_tensor(w)
            for v, w in zip(labels, weights, strict=True)
        ]
        self.weight = torch.stack([F.pad(w, (0, self.rows - len(w))) for w in ones])
        self.inputs = SparseRows.block_diagonal(X) if self.sparse else torch.stack(X)

    def select(self, keep: torch.Tensor) -> _Rows:
        """The same rows for the runs ``keep`` only."""
        out = object.__new__(_Rows)
        out.rows, out.width, out.sparse = self.rows, self.width, self.sparse
        out.y = self.y[keep]
        out.weight = self.weight[keep]
        out.inputs = self.inputs.select_blocks(keep) if self.sparse else self.inputs[keep]
        return out


def stacked_logits(params: Weights, model: nn.Sequential, rows: _Rows) -> torch.Tensor:
    """Logits of every run of a batch on its own rows, shape (runs, rows).

    ``params`` holds each weight with a leading run dimension; ``model`` is one
    :func:`~faalgrad.train.build_mlp` network of the batch's architecture (its layers
    name the parameters and give the activations).
    """
    runs = next(iter(params.values())).shape[0]
    h = rows.inputs
    for i, (name, layer) in enumerate(model.named_children()):
        if not isinstance(layer, nn.Linear):
            h = layer(h)
            continue
        W, b = params[f"{name}.weight"], params[f"{name}.bias"]
        if i == 0 and isinstance(h, SparseRows):
            # block r of the product is run r's rows times run r's first layer
            M = W.transpose(0, 1).reshape(W.shape[1], runs * W.shape[2])
            h = csr_product(M, h).reshape(runs, rows.rows, W.shape[1]) + b[:, None, :]
        else:
            h = torch.baddbmm(b[:, None, :], h, W.transpose(1, 2))
    return h.squeeze(-1)


def stacked_bce(
    params: Weights, model: nn.Sequential, rows: _Rows, y: torch.Tensor
) -> torch.Tensor:
    """Each run's binary cross-entropy on its own rows (their weighted mean), shape (runs,)."""
    losses = F.binary_cross_entropy_with_logits(
        stacked_logits(params, model, rows), y, reduction="none"
    )
    return (losses * rows.weight).sum(dim=1) / rows.weight.sum(dim=1)


def _total_bce(params: Weights, model: nn.Sequential, rows: _Rows, y: torch.Tensor) -> torch.Tensor:
    """The sum of the runs' losses: its gradient is each run's own gradient, stacked."""
    return stacked_bce(params, model, rows, y).sum()


def train_erm_batch(tasks: Sequence[ErmTask], config: TrainConfig) -> list[TrainResult]:
    """ERM of every task's MLP, trained together; one result per task, in order.

    Parameters
    ----------
    tasks : sequence of ErmTask
        The runs (their seeds initialise their networks).
    config : TrainConfig
        Shared settings. With minibatches (``batch_size`` below a task's row count) the
        tasks train one at a time with :func:`~faalgrad.train.train_erm`.

    Returns
    -------
    list of TrainResult
        Each equal, up to float rounding, to :func:`~faalgrad.train.train_erm` on the task.
    """
    tasks = list(tasks)
    if _minibatched(config, max(len(t.y) for t in tasks)):
        return [
            train_erm(
                t.X,
                t.y,
                t.X_val,
                t.y_val,
                config,
                t.seed,
                sample_weight=t.sample_weight,
                callback=t.callback,
            )
            for t in tasks
        ]
    width = max(np.shape(t.X)[1] for t in tasks)
    stack = _stacked(tasks)
    weights = [t.sample_weight for t in stack]
    train = _Rows([t.X for t in stack], [t.y for t in stack], width, weights)

    def step_grad(params: Weights, keep: torch.Tensor | None) -> Weights:
        nonlocal train
        if keep is not None:
            train = train.select(keep)
        return grad(_total_bce)(params, model, train, train.y)

    model = build_mlp(width, config, tasks[0].seed)
    return _fit_batch(tasks, [np.shape(t.X)[1] for t in tasks], width, step_grad, config)


def train_faalgrad_batch(tasks: Sequence[MetaTask], config: TrainConfig) -> list[TrainResult]:
    """FaAlGrad meta-training of every task's MLP, trained together; one result per task.

    Parameters
    ----------
    tasks : sequence of MetaTask
        The runs.
    config : TrainConfig
        Shared settings (``inner_lr``, ``inner_steps``, ``first_order``, the optimiser's).
        With minibatches the tasks train one at a time with
        :func:`~faalgrad.train.train_faalgrad`.

    Returns
    -------
    list of TrainResult
        Each equal, up to float rounding, to :func:`~faalgrad.train.train_faalgrad`.
    """
    tasks = list(tasks)
    for t in tasks:
        if len(t.y_s) == 0 or len(t.y_q) == 0:
            raise ValueError(
                f"support ({len(t.y_s)} rows) and query ({len(t.y_q)} rows) must both be non-empty"
            )
    if _minibatched(config, max(len(t.y_q) for t in tasks)):
        return [
            train_faalgrad(
                t.X_s, t.y_s, t.X_q, t.y_q, t.X_val, t.y_val, config, t.seed, callback=t.callback
            )
            for t in tasks
        ]
    width = max(np.shape(t.X_s)[1] for t in tasks)
    stack = _stacked(tasks)
    support = _Rows([t.X_s for t in stack], [t.y_s for t in stack], width)
    query = _Rows([t.X_q for t in stack], [t.y_q for t in stack], width)

    def step_grad(params: Weights, keep: torch.Tensor | None) -> Weights:
        nonlocal support, query
        if keep is not None:
            support, query = support.select(keep), query.select(keep)
        return meta_gradient(
            params,
            model,
            support,
            support.y,
            query,
            query.y,
            inner_lr=config.inner_lr,
            inner_steps=config.inner_steps,
            first_order=config.first_order,
            loss=_total_bce,
        )

    model = build_mlp(width, config, tasks[0].seed)
    return _fit_batch(tasks, [np.shape(t.X_s)[1] for t in tasks], width, step_grad, config)


def _stacked(tasks: list) -> list:
    """The runs a batch stacks: ``tasks``, and a lone task twice.

    A stack of one run would take other kernels (matrix-vector and unbatched products) than
    a stack of several, with other rounding; with a second copy a run's result does not
    depend on whether it trains alone (the copy is a passenger: it gets no steps).
    """
    return tasks if len(tasks) > 1 else tasks * 2


def _fit_batch(
    tasks, widths: list[int], width: int, step_grad, config: TrainConfig
) -> list[TrainResult]:
    """The epoch loop of a batch: stacked gradients, each run's own optimiser step and selection.

    Each run's weights are their own tensors, stacked for the gradient and stepped by one
    optimiser over all runs (the same per-tensor arithmetic as a batch of one). After every
    epoch each active run's validation loss goes through its own
    :class:`~faalgrad.train.EpochSelection`; a run that stops leaves the stack (its weights
    get no more gradients, so the optimiser skips them), except that the stack keeps at
    least two runs (see :func:`_stacked`): a stopped run stays as a passenger.
    """
    stack_tasks = _stacked(list(tasks))
    stack_widths = widths + widths[: len(stack_tasks) - len(tasks)]
    models = [build_mlp(w, config, t.seed) for t, w in zip(stack_tasks, stack_widths, strict=True)]
    runs = [
        {
            k: v.detach().clone().requires_grad_(True)
            for k, v in widened(m, width).named_parameters()
        }
        for m in models
    ]
    optimizer = OPTIMIZERS[config.optimizer](
        [p for run in runs[: len(tasks)] for p in run.values()], lr=config.outer_lr, foreach=True
    )
    val = _Rows([t.X_val for t in stack_tasks], [t.y_val for t in stack_tasks], width)
    net = widened(models[0], width)
    results = [
        TrainResult(model=m, params=narrowed(run, w))
        for m, run, w in zip(models, runs, widths, strict=False)  # passengers have no result
    ]
    selections = [EpochSelection(r, patience=config.patience) for r in results]
    stack = list(range(len(stack_tasks)))  # the runs in the stack, in order
    training = set(range(len(tasks)))
    keep: torch.Tensor | None = None
    for epoch in range(config.max_epochs):
        params = {k: torch.stack([runs[r][k].detach() for r in stack]) for k in runs[0]}
        grads = step_grad(params, keep)
        keep = None
        for i, r in enumerate(stack):
            if r in training:
                for k, p in runs[r].items():
                    p.grad = grads[k][i]
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            params = {k: torch.stack([runs[r][k].detach() for r in stack]) for k in runs[0]}
            losses = stacked_bce(params, net, val, val.y).tolist()
        for r, loss in zip(stack, losses, strict=True):
            if r not in training:
                continue
            weights = narrowed(runs[r], widths[r])
            if tasks[r].callback is not None:
                tasks[r].callback(epoch, snapshot(weights))
            results[r].val_loss.append(loss)
            if selections[r].update(epoch, (-loss,), weights):
                training.discard(r)
        if not training:
            break
        remaining = [r for r in stack if r in training]
        if len(remaining) == 1:
            remaining += [next(r for r in stack if r not in training)]
        if remaining != stack:
            keep = torch.tensor([stack.index(r) for r in remaining])
            val = val.select(keep)
            stack = remaining
    return results


def widened(model: nn.Sequential, width: int) -> nn.Sequential:
    """``model`` with its first layer padded by zero weights to ``width`` inputs.

    Parameters
    ----------
    model : torch.nn.Sequential
        A :func:`~faalgrad.train.build_mlp` network.
    width : int
        The padded input width (at least the model's own).

    Returns
    -------
    torch.nn.Sequential
        ``model`` itself when it already has ``width`` inputs, else a copy whose extra input
        columns have zero weights (their products add nothing).
    """
    first = model[0]
    if first.in_features == width:
        return model
    wide = nn.Linear(width, first.out_features)
    with torch.no_grad():
        wide.weight.zero_()
        wide.weight[:, : first.in_features] = first.weight
        wide.bias.copy_(first.bias)
    return nn.Sequential(wide, *list(model)[1:])


def narrowed(weights: Weights, width: int) -> Weights:
    """A run's weights with its first layer cut back to its own ``width`` inputs.

    Parameters
    ----------
    weights : dict
        The weights of a :func:`widened` network, first layer first.
    width : int
        The run's own input width.

    Returns
    -------
    dict
        The same tensors, the first layer's weight as a view of its first ``width`` columns.
    """
    first = next(iter(weights))
    return {k: (v[:, :width] if k == first else v) for k, v in weights.items()}
