"""Nash-Meta-Learning training of the MLP, and the synthetic two-group experiment.

Minibatch reweighting with bargaining in the first epochs (``nash_*``) or a one-stage
objective throughout (``ltr``, ``forml``, ``gdro``); epoch selection on held-out
validation rows. See the Comparisons page of the book.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from faalgrad.metrics import roc_auc
from faalgrad.nash.config import NashConfig, split_method
from faalgrad.nash.hypergrad import MetaSet, StepInfo, meta_set, nash_step
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

__all__ = ["NashHistory", "NashResult", "synthetic_two_group", "train_nash", "worst_group_auc"]


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
    meta set (indices into the validation split).
    """
    config = config or NashConfig()
    objective, two_stage = split_method(method)
    X_t, y_t = as_tensor(X), as_tensor(y)
    X_v, y_v = as_tensor(X_val), as_tensor(y_val)
    y_v_np, a_v_np = np.asarray(y_val).astype(int), np.asarray(a_val).astype(int)
    same_train = len(X_t) == len(y_t) == len(np.asarray(a))
    same_val = len(X_v) == len(y_v) == len(a_v_np)
    if not (same_train and same_val):
        raise ValueError(
            f"lengths differ: X {len(X_t)}, y {len(y_t)}, a {len(np.asarray(a))}; "
            f"X_val {len(X_v)}, y_val {len(y_v)}, a_val {len(a_v_np)}"
        )
    if len(y_t) == 0:
        raise ValueError("the training split is empty")
    meta = meta_set(y_v_np, a_v_np, config.meta_per_cell, seed)
    X_meta, y_meta = X_v[meta.indices], y_v[meta.indices]
    held = np.ones(len(y_v_np), dtype=bool)
    held[meta.indices] = False
    if not held.any():
        held[:] = True
    # the epoch is selected on the validation rows outside the meta set
    X_sel, y_sel, y_sel_np, a_sel_np = (
        X_v[torch.from_numpy(held)],
        y_v[torch.from_numpy(held)],
        y_v_np[held],
        a_v_np[held],
    )
    model = build_mlp(X_t.shape[1], config.mlp_config(), seed)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
    optimizer = torch.optim.SGD(
        params.values(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    history = NashHistory(method=method, bargain_epochs=config.bargain_epochs if two_stage else 0)
    result = NashResult(
        model=model, params=snapshot(params), method=method, history=history, meta=meta
    )
    selection = EpochSelection(result, patience=None)
    batch_rng = np.random.default_rng(seed)
    for epoch in range(config.epochs):
        bargain = two_stage and epoch < config.bargain_epochs
        history.epoch_stage.append("bargain" if bargain else "objective")
        for batch in minibatches(batch_rng, len(y_t), config.batch_size):
            batch = torch.from_numpy(batch)
            info = nash_step(
                params,
                model,
                optimizer,
                X_t[batch],
                y_t[batch],
                X_meta,
                y_meta,
                meta,
                objective=objective,
                bargain=bargain,
                lookahead_lr=config.eta,
                weight_norm=config.weight_norm,
                fallback=config.nbs_fallback,
                nbs_max_iter=config.nbs_max_iter,
                nbs_tol=config.nbs_tol,
            )
            history.batch_epoch.append(epoch)
            history.steps.append(info)
        with torch.no_grad():
            z = logits(params, model, X_sel)
            loss = float(F.binary_cross_entropy_with_logits(z, y_sel))
            worst = worst_group_auc(y_sel_np, z.numpy(), a_sel_np)
        history.val_loss.append(loss)
        history.val_worst_auc.append(worst)
        # a NaN worst-group AUC ranks below any number, ties go to the lower loss
        if config.selection == "val_loss":
            score = (-loss,)
        else:
            score = (-math.inf if math.isnan(worst) else worst, -loss)
        selection.update(epoch, score, params)
    result.val_loss = list(history.val_loss)
    return result


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
