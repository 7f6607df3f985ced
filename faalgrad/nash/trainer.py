"""Nash-Meta-Learning training of the MLP, and the synthetic two-group experiment.

Minibatch reweighting with bargaining in the first epochs (``nash_*``) or a one-stage
objective throughout (``ltr``, ``forml``, ``gdro``); epoch selection on held-out
validation rows. See the Comparisons page of the book.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from faalgrad.batched import ROW_ALIGN, narrowed, widened
from faalgrad.metrics import roc_auc
from faalgrad.nash.config import NashConfig, split_method
from faalgrad.nash.hypergrad import (
    N_CELLS,
    MetaSet,
    StackedPlayers,
    StepInfo,
    meta_set,
    nash_step,
    nash_step_batch,
)
from faalgrad.train import (
    EpochSelection,
    TrainResult,
    Weights,
    as_tensor,
    build_mlp,
    logits,
    minibatches,
    snapshot,
)

__all__ = [
    "NashHistory",
    "NashResult",
    "NashTask",
    "synthetic_two_group",
    "train_nash",
    "train_nash_batch",
    "worst_group_auc",
]


@dataclass
class NashHistory:
    """Per-epoch validation scores and per-batch diagnostics of one :func:`train_nash` run."""

    method: str
    bargain_epochs: int
    val_loss: list[float] = field(default_factory=list)
    val_worst_auc: list[float] = field(default_factory=list)
    epoch_stage: list[str] = field(default_factory=list)
    batch_epoch: list[int] = field(default_factory=list)
    steps: list[StepInfo] = field(default_factory=list)

    @property
    def nbs_failures(self) -> int:
        """Bargaining batches where :func:`nbs_solve` did not converge (fallback used)."""
        return sum(s.nbs_converged is False for s in self.steps)

    @property
    def skipped_steps(self) -> int:
        """Batches with an all-zero weight vector (no update)."""
        return sum(not s.updated for s in self.steps)

    def batches(self) -> pd.DataFrame:
        """One row per batch.

        Columns epoch, bargained, conflict_before/after, nbs_converged, n_weighted, updated.
        """
        rows = [{"epoch": e, **vars(s)} for e, s in zip(self.batch_epoch, self.steps, strict=True)]
        return pd.DataFrame(rows, columns=["epoch", *(f.name for f in fields(StepInfo))])

    def conflict_shares(self) -> dict[str, float]:
        """Share of batches with a conflict: one-stage direction (all batches and bargaining
        batches only) and the direction used after bargaining (bargaining batches)."""
        before = [s.conflict_before for s in self.steps]
        on_bargain = [s for s in self.steps if s.bargained]
        mean = lambda v: float(np.mean(v)) if len(v) else float("nan")  # noqa: E731
        return {
            "one_stage": mean(before),
            "one_stage_bargain_batches": mean([s.conflict_before for s in on_bargain]),
            "after_bargaining": mean([s.conflict_after for s in on_bargain]),
        }


@dataclass
class NashResult(TrainResult):
    """A trained model (parameters of the selected epoch) with its :class:`NashHistory`."""

    method: str = ""
    history: NashHistory | None = None
    meta: MetaSet | None = None


def worst_group_auc(y: np.ndarray, scores: np.ndarray, a: np.ndarray) -> float:
    """The smaller of the two within-group AUCs (NaN-aware; NaN if neither is defined)."""
    aucs = [roc_auc(y[a == g], scores[a == g]) for g in (0, 1) if (a == g).any()]
    aucs = [v for v in aucs if not np.isnan(v)]
    return min(aucs) if aucs else float("nan")


@dataclass(frozen=True, eq=False)
class NashTask:
    """One run of :func:`train_nash_batch`: its training and validation rows and its seed.

    Parameters
    ----------
    X, y, a : array-like
        Training inputs, 0/1 labels and 0/1 sensitive attribute.
    X_val, y_val, a_val : array-like
        The validation split: the meta set is drawn from it, the epoch selected on the rest.
    seed : int
        Seed of the initialisation, the meta set and the batch order.
    """

    X: np.ndarray
    y: np.ndarray
    a: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    a_val: np.ndarray
    seed: int = 0


def train_nash(
    method: str,
    X: np.ndarray,
    y: np.ndarray,
    a: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    a_val: np.ndarray,
    config: NashConfig | None = None,
    seed: int = 0,
) -> NashResult:
    """Train the MLP with ``method`` (one of :data:`NASH_METHODS`) on (X, y), groups ``a``.

    Plain arrays as :func:`faalgrad.train.train_erm`, plus the 0/1 sensitive attribute
    of both splits. The meta set is drawn from the validation split; the epoch is
    selected on the validation rows outside it (``config.selection``, see the module
    docstring). Deterministic given ``seed``: the torch initialisation of
    :func:`faalgrad.train.build_mlp`, the meta set and the batch order from numpy
    Generators. ``result.history`` holds per-epoch ``val_loss``/``val_worst_auc`` and
    ``epoch_stage`` and one :class:`StepInfo` per batch (``batches()`` as a DataFrame,
    ``conflict_shares()``, ``nbs_failures``, ``skipped_steps``); ``result.meta`` the
    meta set (indices into the validation split). The batch of one of
    :func:`train_nash_batch`: the same result as in any batch.
    """
    task = NashTask(X, y, a, X_val, y_val, a_val, seed)
    return train_nash_batch(method, [task], config)[0]


def train_nash_batch(
    method: str, tasks: Sequence[NashTask], config: NashConfig | None = None
) -> list[NashResult]:
    """Train the runs ``tasks`` with ``method`` together; one result per task, in order.

    Runs with as many training rows and input columns train as one stacked model
    (:func:`~faalgrad.nash.hypergrad.nash_step_batch`): each has its own initialisation,
    meta set, batch order, bargaining solves, skipped steps, optimiser state and epoch
    selection. Every minibatch and meta set is padded with zero-weight rows to a multiple of
    :data:`~faalgrad.batched.ROW_ALIGN` (the meta set to its largest possible size,
    :data:`~faalgrad.nash.hypergrad.N_CELLS` cells of ``config.meta_per_cell``) and every
    input to a multiple of :data:`COLUMN_ALIGN` columns, so a run's result does not depend
    on the other runs of its batch (see :mod:`faalgrad.batched`).

    Parameters
    ----------
    method : str
        One of :data:`NASH_METHODS`.
    tasks : sequence of NashTask
        The runs.
    config : NashConfig, optional
        Shared settings (default: the authors').

    Returns
    -------
    list of NashResult
        As :func:`train_nash` of each task.
    """
    config = config or NashConfig()
    objective, two_stage = split_method(method)
    tasks = list(tasks)
    if not tasks:
        raise ValueError("tasks is empty: give at least one NashTask")
    prepared = [_prepared(t, config) for t in tasks]
    groups: dict[tuple[int, int], list[int]] = {}
    for i, run in enumerate(prepared):
        groups.setdefault((len(run.y), _aligned(run.X.shape[1], COLUMN_ALIGN)), []).append(i)
    results: list[NashResult | None] = [None] * len(tasks)
    for indices in groups.values():
        runs = [prepared[i] for i in indices]
        for i, result in zip(indices, _train_stack(method, runs, config), strict=False):
            results[i] = result
    return results


@dataclass
class _Run:
    """One run's tensors: training rows, meta set and selection rows, and its model."""

    seed: int
    X: torch.Tensor
    y: torch.Tensor
    meta: MetaSet
    X_meta: torch.Tensor
    y_meta: torch.Tensor
    X_sel: torch.Tensor
    y_sel: torch.Tensor
    y_sel_np: np.ndarray
    a_sel_np: np.ndarray


def _prepared(task: NashTask, config: NashConfig) -> _Run:
    """The tensors of one task, its lengths checked and its meta set drawn."""
    X_t, y_t = as_tensor(task.X), as_tensor(task.y)
    X_v, y_v = as_tensor(task.X_val), as_tensor(task.y_val)
    y_v_np, a_v_np = np.asarray(task.y_val).astype(int), np.asarray(task.a_val).astype(int)
    same_train = len(X_t) == len(y_t) == len(np.asarray(task.a))
    same_val = len(X_v) == len(y_v) == len(a_v_np)
    if not (same_train and same_val):
        raise ValueError(
            f"lengths differ: X {len(X_t)}, y {len(y_t)}, a {len(np.asarray(task.a))}; "
            f"X_val {len(X_v)}, y_val {len(y_v)}, a_val {len(a_v_np)}"
        )
    if len(y_t) == 0:
        raise ValueError("the training split is empty")
    meta = meta_set(y_v_np, a_v_np, config.meta_per_cell, task.seed)
    held = np.ones(len(y_v_np), dtype=bool)
    held[meta.indices] = False
    if not held.any():
        held[:] = True
    # the epoch is selected on the validation rows outside the meta set
    keep = torch.from_numpy(held)
    return _Run(
        seed=task.seed,
        X=X_t,
        y=y_t,
        meta=meta,
        X_meta=X_v[meta.indices],
        y_meta=y_v[meta.indices],
        X_sel=X_v[keep],
        y_sel=y_v[keep],
        y_sel_np=y_v_np[held],
        a_sel_np=a_v_np[held],
    )


#: Inputs are padded with zero columns to a multiple of this width, the same for a run in
#: any batch (a product's rounding depends on its inner length): Adult's splits have 105 or
#: 106 columns, depending on the seed, and all train together as 112.
COLUMN_ALIGN = 8


def _aligned(n: int, multiple: int = ROW_ALIGN) -> int:
    """``n`` rounded up to a multiple of ``multiple``."""
    return -(-n // multiple) * multiple


class _StackedRows:
    """The training and meta rows of stacked runs, gathered for each step in one index.

    Run r's block holds its training rows, then its meta rows padded to ``meta_rows``; one
    zero row at the end stands for every padded batch row. All rows are padded with zero
    columns to ``width``.
    """

    def __init__(self, runs: list[_Run], width: int, meta_rows: int) -> None:
        self.n_rows, self.meta_rows = len(runs[0].y), meta_rows
        block = self.n_rows + meta_rows
        X, y, meta_mask = [], [], []
        for run in runs:
            pad, columns = meta_rows - len(run.y_meta), width - run.X.shape[1]
            X += [F.pad(run.X, (0, columns)), F.pad(run.X_meta, (0, columns, 0, pad))]
            y += [run.y, F.pad(run.y_meta, (0, pad))]
            meta_mask.append(F.pad(torch.ones(len(run.y_meta)), (0, pad)))
        self.X = F.pad(torch.cat(X), (0, 0, 0, 1))
        self.y = F.pad(torch.cat(y), (0, 1))
        self.zero_row = len(self.y) - 1
        self.offsets = torch.arange(len(runs))[:, None] * block
        self.meta_index = self.offsets + self.n_rows + torch.arange(meta_rows)
        self.meta_mask = torch.stack(meta_mask)

    def step(self, batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """Rows, labels and mask of a step (runs × rows), the batch's (padded) first.

        ``batch`` holds each run's batch indices (runs × B); returns also the padded B.
        """
        runs, size = batch.shape
        pad = _aligned(size) - size
        index = torch.cat(
            [
                torch.from_numpy(batch) + self.offsets,
                torch.full((runs, pad), self.zero_row),
                self.meta_index,
            ],
            dim=1,
        )
        mask = torch.cat([torch.ones(runs, size), torch.zeros(runs, pad), self.meta_mask], dim=1)
        flat = index.reshape(-1)
        X = self.X.index_select(0, flat).reshape(runs, -1, self.X.shape[1])
        return X, self.y[flat].reshape(runs, -1), mask, size + pad


def _train_stack(method: str, runs: list[_Run], config: NashConfig) -> list[NashResult]:
    """The epoch loop of runs with equal training shapes; a lone run gets a passenger copy.

    A stack of one run would take other kernels than a stack of several (see
    :func:`faalgrad.batched._stacked`); the copy trains alongside and is dropped.
    """
    n_results = len(runs)
    runs = runs if len(runs) > 1 else runs * 2
    objective, two_stage = split_method(method)
    widths = [run.X.shape[1] for run in runs]
    width = _aligned(max(widths), COLUMN_ALIGN)
    models = [
        build_mlp(w, config.mlp_config(), run.seed) for run, w in zip(runs, widths, strict=True)
    ]
    params = [
        {
            k: v.detach().clone().requires_grad_(True)
            for k, v in widened(m, width).named_parameters()
        }
        for m in models
    ]
    optimizer = torch.optim.SGD(
        [p for run_params in params for p in run_params.values()],
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        foreach=True,
    )
    histories = [
        NashHistory(method=method, bargain_epochs=config.bargain_epochs if two_stage else 0)
        for _ in runs
    ]
    results = [
        NashResult(
            model=m, params=snapshot(narrowed(p, w)), method=method, history=h, meta=run.meta
        )
        for m, p, w, h, run in zip(models, params, widths, histories, runs, strict=True)
    ]
    selections = [EpochSelection(r, patience=None) for r in results]
    rows = _StackedRows(runs, width, _aligned(N_CELLS * config.meta_per_cell))
    players = StackedPlayers.of_metas(
        [run.meta for run in runs], N_CELLS, rows.meta_rows, torch.float32
    )
    rngs = [np.random.default_rng(run.seed) for run in runs]
    for epoch in range(config.epochs):
        bargain = two_stage and epoch < config.bargain_epochs
        draws = [minibatches(rng, rows.n_rows, config.batch_size) for rng in rngs]
        for batch in zip(*draws, strict=True):
            X, y, mask, batch_rows = rows.step(np.stack(batch))
            stacked = {k: torch.stack([p[k].detach() for p in params]) for k in params[0]}
            grads, infos = nash_step_batch(
                stacked,
                models[0],
                X,
                y,
                mask,
                batch_rows,
                players,
                objective=objective,
                bargain=bargain,
                lookahead_lr=config.eta,
                weight_norm=config.weight_norm,
                fallback=config.nbs_fallback,
                nbs_max_iter=config.nbs_max_iter,
                nbs_tol=config.nbs_tol,
            )
            for r, info in enumerate(infos):
                histories[r].batch_epoch.append(epoch)
                histories[r].steps.append(info)
                if info.updated:
                    for k, p in params[r].items():
                        p.grad = grads[k][r]
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        for r, run in enumerate(runs[:n_results]):  # the passenger has no result
            history = histories[r]
            history.epoch_stage.append("bargain" if bargain else "objective")
            weights = narrowed(params[r], widths[r])
            with torch.no_grad():
                z = logits(weights, models[r], run.X_sel)
                loss = float(F.binary_cross_entropy_with_logits(z, run.y_sel))
                worst = worst_group_auc(run.y_sel_np, z.numpy(), run.a_sel_np)
            history.val_loss.append(loss)
            history.val_worst_auc.append(worst)
            # a NaN worst-group AUC ranks below any number, ties go to the lower loss
            if config.selection == "val_loss":
                score = (-loss,)
            else:
                score = (-math.inf if math.isnan(worst) else worst, -loss)
            selections[r].update(epoch, score, weights)
    for result, history in zip(results, histories, strict=True):
        result.val_loss = list(history.val_loss)
    return results[:n_results]


# --- synthetic two-group experiment ---------------------------------------------------


class _PlainSGD:
    """θ ← θ − lr · grad, without ``torch.optim``'s per-step overhead.

    The toy takes ~4,000 steps.
    """

    def __init__(self, params: Weights, lr: float) -> None:
        self.params, self.lr = params, lr

    def step(self) -> None:
        with torch.no_grad():
            for p in self.params.values():
                p -= self.lr * p.grad


def synthetic_two_group(
    *,
    objectives: tuple[str, ...] = ("ltr", "forml", "gdro"),
    n_starts: int = 4,
    steps: int = 150,
    bargain_steps: int = 50,
    lr: float = 0.1,
    n_train: tuple[int, int] = (360, 40),
    meta_per_group: int = 32,
    angle: float = 100.0,
    sharpness: float = 3.0,
    weight_norm: str = "sum",
    seed: int = 0,
) -> pd.DataFrame:
    """Group-loss trajectories of one-stage versus two-stage reweighting on a 2-D toy.

    Logistic regression θ ∈ R² (no bias) on two Gaussian groups, x ~ N(0, I₂) and
    P(y = 1 | x) = σ(``sharpness`` · u_gᵀx): the groups' optimal directions u_0 = (1, 0)
    and u_1 (at ``angle`` degrees) conflict, and group 1 is the minority of the training
    set (``n_train`` rows per group). The players are the two groups (K = 2; a balanced
    meta set of ``meta_per_group`` rows each, not the cells), every step is full batch,
    look-ahead η = 1, and the update is plain SGD with ``lr`` on the weights normalised
    by ``weight_norm`` (default ``"sum"``: with normalised weights the step length does
    not shrink near a stationary point, and the weighted mean keeps it small). For each
    stage-2 objective and each of ``n_starts`` starting points on a circle of radius 4,
    it runs the one-stage method (``method="one_stage"``) and its two-stage version
    (``"two_stage"``: NBS for the first ``bargain_steps`` steps, identical for all
    objectives). With the defaults, both group losses fall on about two thirds of the
    bargaining steps against a third to a half of the same steps one-stage; all runs end
    near the same losses.

    Returns one row per (objective, method, start, step), step 0 being the start and
    step ``steps`` the end: ``theta_0``, ``theta_1``, the group losses
    ``loss_g0``/``loss_g1`` on 2,000 fresh rows per group (before that step's update),
    and that step's ``bargained``, ``conflict_before`` (some player loses under the
    one-stage direction), ``conflict_after`` and ``nbs_converged`` (nullable booleans,
    NA where the step did not bargain and on the last row). Deterministic in ``seed``;
    about 3 s (it runs on one torch thread).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # ~4,000 tiny steps: thread hand-offs would dominate
    try:
        return _synthetic(
            objectives,
            n_starts,
            steps,
            bargain_steps,
            lr,
            n_train,
            meta_per_group,
            angle,
            sharpness,
            weight_norm,
            seed,
        )
    finally:
        torch.set_num_threads(threads)


def _synthetic(
    objectives,
    n_starts,
    steps,
    bargain_steps,
    lr,
    n_train,
    meta_per_group,
    angle,
    sharpness,
    weight_norm,
    seed,
):
    rng = np.random.default_rng(seed)
    u = np.array([[1.0, 0.0], [math.cos(math.radians(angle)), math.sin(math.radians(angle))]])

    def draw(n: int, g: int) -> tuple[torch.Tensor, torch.Tensor]:
        X = rng.standard_normal((n, 2))
        y = (rng.random(n) < 1 / (1 + np.exp(-sharpness * X @ u[g]))).astype(float)
        return torch.from_numpy(X), torch.from_numpy(y)

    train = [draw(n, g) for g, n in enumerate(n_train)]
    X_tr, y_tr = torch.cat([t[0] for t in train]), torch.cat([t[1] for t in train])
    metas = [draw(meta_per_group, g) for g in (0, 1)]
    X_meta, y_meta = torch.cat([m[0] for m in metas]), torch.cat([m[1] for m in metas])
    meta = MetaSet(
        np.arange(2 * meta_per_group), np.repeat([0, 1], meta_per_group), ((0, -1), (1, -1))
    )
    evals = [draw(2000, g) for g in (0, 1)]
    model = nn.Linear(2, 1, bias=False).double()
    angles = np.deg2rad(200 + 360 * np.arange(n_starts) / n_starts)
    starts = 4.0 * np.column_stack([np.cos(angles), np.sin(angles)])

    X_eval = torch.stack([e[0] for e in evals])  # 2 x n x 2
    y_eval = torch.stack([e[1] for e in evals])

    rows = []
    for objective in objectives:
        split_method(objective)
        for two_stage in (False, True):
            for s, theta0 in enumerate(starts):
                params = {"weight": torch.tensor(theta0[None, :], requires_grad=True)}
                opt = _PlainSGD(params, lr)
                thetas, infos = [], []
                for step in range(steps + 1):
                    thetas.append(params["weight"].detach()[0].clone())
                    if step < steps:
                        infos.append(
                            nash_step(
                                params,
                                model,
                                opt,
                                X_tr,
                                y_tr,
                                X_meta,
                                y_meta,
                                meta,
                                objective=objective,
                                bargain=two_stage and step < bargain_steps,
                                lookahead_lr=1.0,
                                weight_norm=weight_norm,
                            )
                        )
                theta = torch.stack(thetas)  # (steps + 1) x 2
                z = torch.einsum("sd,gnd->sgn", theta, X_eval)
                losses = F.binary_cross_entropy_with_logits(
                    z, y_eval.expand_as(z), reduction="none"
                ).mean(-1)
                for step in range(steps + 1):
                    row = {
                        "objective": objective,
                        "method": "two_stage" if two_stage else "one_stage",
                        "start": s,
                        "step": step,
                        "theta_0": float(theta[step, 0]),
                        "theta_1": float(theta[step, 1]),
                        "loss_g0": float(losses[step, 0]),
                        "loss_g1": float(losses[step, 1]),
                    }
                    if step < steps:
                        info = infos[step]
                        row.update(
                            bargained=info.bargained,
                            conflict_before=info.conflict_before,
                            conflict_after=info.conflict_after,
                            nbs_converged=info.nbs_converged,
                        )
                    rows.append(row)
    out = pd.DataFrame(rows)
    flags = ["bargained", "conflict_before", "conflict_after", "nbs_converged"]
    out[flags] = out[flags].astype("boolean")
    return out
