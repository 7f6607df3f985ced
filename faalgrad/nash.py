"""Fairness-aware meta-learning via Nash bargaining (Zeng et al., NeurIPS 2024) and its
one-stage baselines (Learning-to-Reweight, FORML, Meta-gDRO).

All six methods reweight the examples of every training minibatch, Learning-to-Reweight
style (Ren et al., 2018):

1. Per-example weights ε = 0 and a one-step, plain-SGD look-ahead
   θ'(ε) = θ − η ∇θ Σᵢ εᵢ ℓᵢ(θ) (η = ``lookahead_lr``).
2. A small **meta set**, balanced over the (group × label) cells of the validation split
   (``meta_per_cell`` examples per cell, all of a cell if it has fewer). Each non-empty
   cell is a **player** k with loss L_k = mean BCE of its meta examples at θ'(ε).
3. **Hypergradients** g_k = ∂L_k/∂ε ∈ R^B at ε = 0, stacked into G (K × B). With the
   plain-SGD look-ahead they have the closed form
   g_k,i = −η ∇θL_k(θ) · ∇θℓᵢ(θ) (:func:`hypergradients`): for the MLP from per-layer
   factors of the per-example gradients (never materialised), for any other model from
   per-example gradients (``torch.func.vmap(grad(...))``) and one matrix product.
4. A direction d ∈ R^B:

   * **stage 1** (``nash_*`` methods, epochs ``< bargain_epochs``): the Nash bargaining
     solution d = Σ α_k g_k with α > 0 solving (G Gᵀ) α = 1/α, so that every player
     gains, g_kᵀd = 1/α_k > 0 (:func:`nbs_solve`);
   * **stage 2** (``nash_*`` afterwards, and the one-stage methods throughout):
     d = ∂F/∂ε of a one-stage meta objective F, with L_g the mean meta loss of the
     meta examples of sensitive group g ∈ {0, 1}:
     ``ltr`` F = mean meta loss; ``forml`` F = max_g L_g − min_g L_g;
     ``gdro`` F = max_g L_g. Each is a linear combination d = cᵀG of the player rows.
5. Weights w = max(−d, 0) / ‖max(−d, 0)‖₂ (examples whose up-weighting lowers the meta
   loss: g = ∂L/∂ε, so the descent direction in ε is −d), then one step of the real
   optimiser (SGD, momentum, weight decay) on Σᵢ wᵢ ℓᵢ. An all-zero w makes no update
   at all (no weight decay, no momentum step). The gradient of Σᵢ wᵢ ℓᵢ reuses the
   per-layer factors of step 3, so no extra forward or backward pass.

**Weight normalisation (``weight_norm``).** Default ``"l2"``, w / ‖w‖₂, as the authors'
code: their learning rate (1e-3 with momentum 0.9) was tuned with it. Both choices make
the step independent of the overall scale of d (which shrinks with η and with the meta
loss); they differ in how it grows with the number n⁺ of positively weighted examples:
with n⁺ equal weights, the L2-normalised weighted gradient is √n⁺ times the mean
gradient of those examples, the sum-normalised one (Ren et al.'s ``"sum"``, a weighted
mean, also available) is the mean. At B = 512 the sum would make the authors' steps
about 16x shorter, a differently tuned method.

**Epoch selection (``selection``).** Training always runs ``epochs`` epochs (no early
stopping, as the authors) and returns the parameters of the epoch with the highest
worst-group AUC on the held-out validation rows (``"val_worst_auc"``, the default; ties
go to the lower validation BCE), or with the lowest validation BCE (``"val_loss"``, the
rule of :mod:`faalgrad.train`). Both are recorded for every epoch. Why AUC: the meta set
is balanced over (group × label) cells, so these methods deliberately move the model's
class prior towards balance, and BCE on the (imbalanced) validation split penalises
exactly that: on Adult (seed 0), BCE selection picks epochs 0-4 of 50 for LtR,
Meta-gDRO, Nash-LtR and Nash-gDRO, before training has settled. AUC is invariant to that prior shift and is
what the paper reports. Its cost is noise on small validation splits. "Held-out"
means the validation rows not in the meta set (the meta rows steer every step; if the
meta set is the whole validation split, all rows are used). The authors instead picked
the epoch on the test set and computed AUCs from hard labels; we do neither.

**NBS failures.** When no direction lets every player gain (by Gordan's theorem: some
non-negative combination of the player hypergradients is zero, e.g. a zero row),
:func:`nbs_solve` reports ``converged=False`` and returns α = 1 (the authors' solver
also returns α = 1 on failure); with ``nbs_fallback="ones"`` (default) the step then
uses d = Σ_k g_k, with ``"objective"`` the stage-2 objective's direction (what the
authors' notebook does for FORML and Meta-gDRO). ``NashHistory.nbs_failures`` counts
them.

Differences from the authors' code, on purpose: one logit and BCE instead of two logits
and cross-entropy (the MLP is d → 128 → 64 → 1, ReLU), no dropout, no F1 surrogate added
to the meta loss, a plain-SGD look-ahead (they differentiate through the momentum
optimiser with ``higher``), a balanced meta sample of the validation split instead of
the whole (balanced) validation split, and the last partial minibatch is kept. Their
``ep < bargain_epochs`` with epochs counted from 1 bargains for T − 1 epochs; here
epochs are counted from 0, so exactly ``bargain_epochs`` epochs bargain.

**Conflict diagnostic.** For every batch the history records whether any player loses
under the one-stage direction (some g_kᵀd ≤ 0 with d the method's stage-2 objective
direction), and, on bargaining batches, under the NBS direction actually used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import grad_and_value, vmap

from faalgrad.metrics import _auc
from faalgrad.presets import check_dataset
from faalgrad.train import (
    ACTIVATIONS, Params, TrainConfig, TrainResult, _snapshot, _tensor, build_mlp, logits, replace_settings,
)

NASH_METHODS: tuple[str, ...] = ("nash_ltr", "nash_forml", "nash_gdro", "ltr", "forml", "gdro")
OBJECTIVES: tuple[str, ...] = ("ltr", "forml", "gdro")
WEIGHT_NORMS: tuple[str, ...] = ("l2", "sum")
SELECTIONS: tuple[str, ...] = ("val_loss", "val_worst_auc")
FALLBACKS: tuple[str, ...] = ("ones", "objective")

#: Per-dataset overrides of :class:`NashConfig` (the authors used batch 32 for crime).
NASH_PRESETS: dict[str, dict] = {"communities": {"batch_size": 32}}


def _positive_int(name: str, value) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")


@dataclass(frozen=True)
class NashConfig:
    """Every setting of one Nash-meta-learning run; defaults are the authors'.

    ``lookahead_lr`` is η of the look-ahead θ − η ∇θ Σ εᵢ ℓᵢ (``None``: equal to ``lr``).
    ``bargain_epochs`` (T) applies to the ``nash_*`` methods: epochs 0..T−1 bargain.
    ``nbs_max_iter`` / ``nbs_tol`` are passed to :func:`nbs_solve`.
    """

    hidden: tuple[int, ...] = (128, 64)
    activation: Literal["relu", "tanh"] = "relu"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 512
    epochs: int = 50
    bargain_epochs: int = 15
    meta_per_cell: int = 8
    lookahead_lr: float | None = None
    weight_norm: Literal["l2", "sum"] = "l2"
    selection: Literal["val_loss", "val_worst_auc"] = "val_worst_auc"
    nbs_fallback: Literal["ones", "objective"] = "ones"
    nbs_max_iter: int = 100
    nbs_tol: float = 1e-8

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; valid choices: {', '.join(ACTIVATIONS)}")
        for name, choices in (("weight_norm", WEIGHT_NORMS), ("selection", SELECTIONS), ("nbs_fallback", FALLBACKS)):
            if getattr(self, name) not in choices:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; valid choices: {', '.join(choices)}")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden={self.hidden!r} must be one or more positive layer widths")
        for name in ("batch_size", "epochs", "meta_per_cell", "nbs_max_iter"):
            _positive_int(name, getattr(self, name))
        b = self.bargain_epochs
        if not isinstance(b, (int, np.integer)) or isinstance(b, bool) or b < 0:
            raise ValueError(f"bargain_epochs={b!r} must be a non-negative integer")
        if b > self.epochs:
            raise ValueError(f"bargain_epochs={b!r} exceeds epochs={self.epochs!r}")
        for name in ("lr", "nbs_tol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be positive")
        if self.lookahead_lr is not None and not self.lookahead_lr > 0:
            raise ValueError(f"lookahead_lr={self.lookahead_lr!r} must be positive or None (= lr)")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum={self.momentum!r} must lie in [0, 1)")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay={self.weight_decay!r} must be non-negative")

    @property
    def eta(self) -> float:
        """The look-ahead learning rate η."""
        return self.lr if self.lookahead_lr is None else float(self.lookahead_lr)

    def mlp_config(self) -> TrainConfig:
        """A :class:`~faalgrad.train.TrainConfig` carrying the architecture, for :func:`build_mlp`."""
        return TrainConfig(hidden=tuple(self.hidden), activation=self.activation)

    def updated(self, **overrides) -> "NashConfig":
        """A copy with ``overrides``; unknown names raise a ``ValueError`` listing the valid ones."""
        return replace_settings(self, **overrides)


def nash_config(dataset: str, **overrides) -> NashConfig:
    """The authors' setting for ``dataset`` (batch 32 for Communities, 512 otherwise), with ``overrides``."""
    return NashConfig().updated(**{**NASH_PRESETS.get(check_dataset(dataset), {}), **overrides})


def split_method(method: str) -> tuple[str, bool]:
    """``"nash_forml"`` -> ``("forml", True)``: the stage-2 objective and whether it bargains first."""
    if method not in NASH_METHODS:
        raise ValueError(f"unknown method {method!r}; valid choices: {', '.join(NASH_METHODS)}")
    return method.removeprefix("nash_"), method.startswith("nash_")


# --- meta set -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MetaSet:
    """Rows of the validation split forming the meta set, and their players.

    ``players[j]`` is the player (0..K−1) of meta row ``indices[j]``; player k is the
    (group, label) cell ``cells[k]`` (label −1: every label of the group, one player per
    group, as in :func:`synthetic_two_group`); ``player_groups[k]`` its sensitive group.
    """

    indices: np.ndarray
    players: np.ndarray
    cells: tuple[tuple[int, int], ...]

    @property
    def n_players(self) -> int:
        return len(self.cells)

    @property
    def player_groups(self) -> np.ndarray:
        return np.array([g for g, _ in self.cells], dtype=np.int64)

    def player_matrix(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """A (K × N) averaging each player's meta rows, and the player sizes; cached per dtype."""
        cache = self.__dict__.setdefault("_player_matrices", {})
        if dtype not in cache:
            cache[dtype] = _player_matrix(torch.from_numpy(self.players), self.n_players, dtype)
        return cache[dtype]


def meta_set(y_val: np.ndarray, a_val: np.ndarray, per_cell: int, seed: int) -> MetaSet:
    """Draw ``per_cell`` rows (all, if fewer) of each non-empty (group, label) cell, seeded."""
    y_val, a_val = np.asarray(y_val).astype(int), np.asarray(a_val).astype(int)
    rng = np.random.default_rng([seed, 1])
    indices, players, cells = [], [], []
    for g in (0, 1):
        for label in (0, 1):
            rows = np.flatnonzero((a_val == g) & (y_val == label))
            if len(rows) == 0:
                continue
            take = np.sort(rng.choice(rows, size=min(per_cell, len(rows)), replace=False))
            indices.append(take)
            players.append(np.full(len(take), len(cells), dtype=np.int64))
            cells.append((g, label))
    if not cells:
        raise ValueError("the validation split is empty: no meta set can be drawn")
    return MetaSet(np.concatenate(indices), np.concatenate(players), tuple(cells))


# --- Nash bargaining solution -----------------------------------------------------------


def nbs_solve(G: torch.Tensor, *, max_iter: int = 100, tol: float = 1e-8, ridge: float = 0.0) -> tuple[torch.Tensor, bool]:
    """The Nash bargaining weights α > 0 with (G Gᵀ) α = 1/α, for the K × B matrix ``G``.

    Solved as the minimiser of the strictly convex, self-concordant function
    f(α) = ½ αᵀMα − Σ_k log α_k (M = G Gᵀ; its gradient is exactly Mα − 1/α) by damped
    Newton: step 1/(1 + λ) while the Newton decrement λ ≥ 1/4, full steps after. Both
    keep α > 0 without a line search. The Hessian M + diag(1/α²) is positive definite
    even when M is singular, so rank-deficient G (e.g. two identical rows) needs no
    regularisation and is solved exactly; ``ridge`` (relative to the mean diagonal of
    M, default 0) can add one. M is scaled to unit mean diagonal first (α scales as
    1/√scale), in float64.

    A solution exists iff some direction d has g_kᵀd > 0 for every player k; otherwise
    (Gordan) a non-negative combination of the rows vanishes, f is unbounded below and
    α diverges. Returns ``(alpha, converged)``: ``converged`` is True when the relative
    residual ‖Mα − 1/α‖ / ‖1/α‖ is at most ``tol``. Failures (a zero row, opposite rows,
    an empty G, non-finite entries, α diverging past 1e8 in scaled units, Newton stalled
    at the rounding floor, or ``max_iter`` steps) return ``(ones, False)``, the authors'
    fallback. Typical well-posed problems converge in fewer than 10 Newton steps.
    """
    K = G.shape[0]
    ones = torch.ones(K, dtype=G.dtype)
    if K == 0:
        return ones, False
    Gd = G.detach().to(torch.float64).numpy()
    M = Gd @ Gd.T
    diag = np.diag(M).copy()
    if not np.isfinite(M).all() or diag.min() <= 0 or diag.min() / diag.max() < 1e-24:
        return ones, False  # a player whose hypergradient is (numerically) zero can never gain
    scale = float(diag.mean())
    Ms = M / scale
    Mr = Ms + ridge * np.eye(K) if ridge else Ms
    alpha = 1.0 / np.sqrt(np.diag(Ms))
    q = float(alpha @ Mr @ alpha)
    if q > 0:
        alpha *= math.sqrt(K / q)  # the best multiple of the start
    converged = False
    for it in range(max_iter + 1):
        inv = 1.0 / alpha
        if np.linalg.norm(Mr @ alpha - inv) <= tol * np.linalg.norm(inv):
            converged = True
            break
        if it == max_iter:
            break
        g = Mr @ alpha - inv
        try:
            step = -np.linalg.solve(Mr + np.diag(inv * inv), g)
        except np.linalg.LinAlgError:
            break
        lam = math.sqrt(max(float(-g @ step), 0.0))
        if lam < 1e-14:
            break  # stalled at the rounding floor above tol
        alpha = alpha + (step if lam < 0.25 else step / (1.0 + lam))
        if not np.isfinite(alpha).all() or alpha.min() <= 0 or alpha.max() > 1e8:
            break
    if not converged:
        return ones, False
    return torch.from_numpy(alpha / math.sqrt(scale)).to(G.dtype), True


# --- hypergradients -------------------------------------------------------------------
#
# Two implementations of the same closed form g_k,i = −η ∇θL_k(θ)·∇θℓᵢ(θ):
#
# * generic: per-example gradients with ``vmap(grad)`` (n × P matrices), G = −η (A J_meta) Jᵀ;
# * factored, for stacks of ``nn.Linear`` and parameter-free elementwise activations
#   (every model :func:`build_mlp` makes): the per-example gradient of layer l's weight
#   is the outer product δ_l,i h_l,iᵀ (h the layer input, δ = ∂ℓᵢ/∂z the gradient at its
#   output), so ∇ℓᵢ·∇ℓ_j = Σ_l (δ_l,i·δ_l,j)(h_l,i·h_l,j + 1[bias]) without ever forming
#   the B × P per-example gradients (the trick behind "ghost" clipping). One forward and
#   one backward (to the layer outputs only) per set, then B × N_meta kernels. The
#   weighted-loss gradient is Σᵢ wᵢ δ_l,i h_l,iᵀ = (w ⊙ δ_l)ᵀ h_l. On Adult (B = 512,
#   P = 22k) this is over 20x faster than the generic path, which is memory-bound.

_ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Softplus, nn.Identity)


def _example_loss(params: Params, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits(params, model, x[None]), y[None])


def per_example_grads(params: Params, model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example BCE gradients, flattened in ``params`` order (n × P), and the losses (n,).

    Generic (any model ``functional_call`` can run), via ``vmap(grad_and_value(...))``.
    """
    detached = {k: v.detach() for k, v in params.items()}
    grads, losses = vmap(grad_and_value(_example_loss), in_dims=(None, None, 0, 0))(detached, model, X, y)
    return torch.cat([grads[k].reshape(len(y), -1) for k in params], dim=1), losses


def _linear_stack(model: nn.Module) -> list[tuple[str | None, nn.Module]] | None:
    """``[(param prefix or None, module)]`` if ``model`` is Linear layers and elementwise activations."""
    if isinstance(model, nn.Linear):
        return [("", model)]
    if not isinstance(model, nn.Sequential):
        return None
    layers: list[tuple[str | None, nn.Module]] = []
    for name, m in model.named_children():
        if isinstance(m, nn.Linear):
            layers.append((f"{name}.", m))
        elif isinstance(m, _ELEMENTWISE) and not any(True for _ in m.parameters()):
            layers.append((None, m))
        else:
            return None
    return layers


@dataclass
class _Activations:
    """Layer inputs h_l, output gradients δ_l (per example) and losses of one set of rows."""

    prefixes: list[str]
    hs: list[torch.Tensor]
    deltas: list[torch.Tensor]
    losses: torch.Tensor


def _record(params: Params, layers, X: torch.Tensor, y: torch.Tensor) -> _Activations:
    h, hs, zs, prefixes = X, [], [], []
    with torch.enable_grad():
        for prefix, m in layers:
            if prefix is None:
                h = m(h)
                continue
            bias = params.get(f"{prefix}bias")
            z = F.linear(h, params[f"{prefix}weight"].detach(), None if bias is None else bias.detach())
            if not z.requires_grad:
                z.requires_grad_(True)
            prefixes.append(prefix)
            hs.append(h.detach())
            zs.append(z)
            h = z
        losses = F.binary_cross_entropy_with_logits(h.squeeze(-1), y, reduction="none")
        deltas = torch.autograd.grad(losses.sum(), zs)
    return _Activations(prefixes, hs, list(deltas), losses.detach())


def _gram(params: Params, left: _Activations, right: _Activations) -> torch.Tensor:
    """∇ℓᵢ·∇ℓ_j for rows i of ``left`` and j of ``right`` (n_left × n_right)."""
    out = None
    for prefix, h1, d1, h2, d2 in zip(left.prefixes, left.hs, left.deltas, right.hs, right.deltas):
        hh = h1 @ h2.T
        if f"{prefix}bias" in params:
            hh = hh + 1
        term = (d1 @ d2.T) * hh
        out = term if out is None else out + term
    return out


def _player_matrix(players: torch.Tensor, n_players: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """A (K × N) averaging each player's rows, and the player sizes (K,)."""
    players = torch.as_tensor(players, dtype=torch.long)
    sizes = torch.bincount(players, minlength=n_players)
    if len(sizes) > n_players or (sizes == 0).any():
        raise ValueError(f"players must cover 0..{n_players - 1} with at least one meta example each; sizes {sizes.tolist()}")
    onehot = F.one_hot(players, n_players).T.to(dtype)
    return onehot / sizes.to(dtype)[:, None], sizes


def _hyper_parts(params, model, X_batch, y_batch, X_meta, y_meta, players, n_players, lookahead_lr, *,
                 generic=False, player_matrix=None):
    """G (K × B), a function w -> ∇θ Σᵢ wᵢ ℓᵢ (a dict like ``params``), player losses L_k and sizes."""
    layers = None if generic else _linear_stack(model)
    A, sizes = player_matrix or _player_matrix(players, n_players, X_batch.dtype)
    if layers is None:
        J, _ = per_example_grads(params, model, X_batch, y_batch)
        J_meta, meta_losses = per_example_grads(params, model, X_meta, y_meta)
        G = (-lookahead_lr) * ((A @ J_meta) @ J.T)

        def weighted_grad(w: torch.Tensor) -> Params:
            flat, out, offset = w @ J, {}, 0
            for k, p in params.items():
                out[k] = flat[offset : offset + p.numel()].view_as(p)
                offset += p.numel()
            return out
    else:
        # one forward and one backward for batch and meta rows together
        B = len(y_batch)
        both = _record(params, layers, torch.cat([X_batch, X_meta]), torch.cat([y_batch, y_meta]))
        batch = _Activations(both.prefixes, [h[:B] for h in both.hs], [d[:B] for d in both.deltas], both.losses[:B])
        meta = _Activations(both.prefixes, [h[B:] for h in both.hs], [d[B:] for d in both.deltas], both.losses[B:])
        meta_losses = meta.losses
        G = (-lookahead_lr) * (A @ _gram(params, meta, batch))

        def weighted_grad(w: torch.Tensor) -> Params:
            out = {}
            for prefix, h, d in zip(batch.prefixes, batch.hs, batch.deltas):
                wd = d * w[:, None]
                out[f"{prefix}weight"] = wd.T @ h
                if f"{prefix}bias" in params:
                    out[f"{prefix}bias"] = wd.sum(0)
            return out
    return G, weighted_grad, A @ meta_losses, sizes


def hypergradients(
    params: Params, model: nn.Module, X_batch: torch.Tensor, y_batch: torch.Tensor,
    X_meta: torch.Tensor, y_meta: torch.Tensor, players: torch.Tensor, n_players: int, lookahead_lr: float,
    *, generic: bool = False,
) -> torch.Tensor:
    """G (K × B): g_k,i = ∂L_k(θ'(ε))/∂εᵢ at ε = 0 for the look-ahead θ'(ε) = θ − η ∇θ Σ εᵢ ℓᵢ.

    L_k is the mean BCE of the meta rows with ``players == k`` (each of 0..K−1 must
    occur). Closed form g_k,i = −η ∇θL_k(θ)·∇θℓᵢ(θ): for MLPs (``nn.Linear`` layers and
    elementwise activations) from per-layer factors without materialising per-example
    gradients; otherwise, or with ``generic=True``, from ``vmap(grad)`` per-example
    gradients of batch and meta set and one matrix product.
    """
    return _hyper_parts(params, model, X_batch, y_batch, X_meta, y_meta, players, n_players, lookahead_lr,
                        generic=generic)[0]


# --- directions, weights and one step -------------------------------------------------


def objective_coefficients(objective: str, player_losses: torch.Tensor, player_sizes: torch.Tensor,
                           player_groups: np.ndarray) -> torch.Tensor:
    """c with ∂F/∂ε = cᵀG for the one-stage objective F (``ltr``, ``forml`` or ``gdro``).

    L_g = Σ_{k in g} n_k L_k / n_g is the mean meta loss of group g. Ties go to the
    lower group index; with a single group FORML's F is identically 0, so c = 0.
    """
    sizes = player_sizes.to(player_losses.dtype)
    if objective == "ltr":
        return sizes / sizes.sum()
    groups = torch.as_tensor(player_groups)
    present = torch.unique(groups)
    weights = torch.stack([(groups == g).to(sizes.dtype) * sizes / sizes[groups == g].sum() for g in present])
    group_losses = weights @ player_losses
    hi = int(torch.argmax(group_losses))
    if objective == "gdro":
        return weights[hi]
    if objective == "forml":
        lo = int(torch.argmin(group_losses))
        return weights[hi] - weights[lo] if hi != lo else torch.zeros_like(sizes)
    raise ValueError(f"unknown objective {objective!r}; valid choices: {', '.join(OBJECTIVES)}")


def reweight(d: torch.Tensor, norm: str = "l2") -> torch.Tensor:
    """w = max(−d, 0), divided by its L2 norm (``"l2"``) or its sum (``"sum"``); zeros stay zeros."""
    w = torch.clamp(-d, min=0)
    total = w.norm() if norm == "l2" else w.sum()
    return w / total if total > 0 else w


@dataclass(frozen=True)
class StepInfo:
    """What one reweighting step did."""

    bargained: bool
    conflict_before: bool
    conflict_after: bool | None
    nbs_converged: bool | None
    n_weighted: int
    updated: bool


def nash_step(
    params: Params, model: nn.Module, optimizer: torch.optim.Optimizer, X_batch: torch.Tensor, y_batch: torch.Tensor,
    X_meta: torch.Tensor, y_meta: torch.Tensor, meta: MetaSet, *, objective: str, bargain: bool,
    lookahead_lr: float, weight_norm: str = "l2", fallback: str = "ones", nbs_max_iter: int = 100, nbs_tol: float = 1e-8,
) -> StepInfo:
    """One reweighted optimiser step on the batch; returns what it did.

    Hypergradients G of the ``meta`` players; the one-stage direction d = cᵀG of
    ``objective`` (``ltr``/``forml``/``gdro``) or, with ``bargain``, the NBS direction
    d = αᵀG (on failure α = 1 for ``fallback="ones"``, the one-stage d for
    ``"objective"``); weights w = max(−d, 0) normalised by ``weight_norm``; then
    ``optimizer.step()`` with ``params[k].grad`` = ∇ Σᵢ wᵢ ℓᵢ, skipped (no update at
    all) when w = 0. ``conflict_before``: some g_kᵀd ≤ 0 for the one-stage d;
    ``conflict_after``: the same for the direction used, on bargaining steps only.
    """
    G, weighted_grad, player_losses, sizes = _hyper_parts(
        params, model, X_batch, y_batch, X_meta, y_meta, None, meta.n_players, lookahead_lr,
        player_matrix=meta.player_matrix(X_batch.dtype),
    )
    c = objective_coefficients(objective, player_losses, sizes, meta.player_groups)
    G64 = G.double()  # directions and gains in float64: the gains 1/α_k can be small
    d = c.double() @ G64
    conflict_before = bool((G64 @ d <= 0).any())
    conflict_after = converged = None
    if bargain:
        alpha, converged = nbs_solve(G64, max_iter=nbs_max_iter, tol=nbs_tol)
        if converged or fallback == "ones":
            d = alpha @ G64
        conflict_after = bool((G64 @ d <= 0).any())
    d = d.to(G.dtype)
    w = reweight(d, weight_norm)
    n_weighted = int((w > 0).sum())
    if n_weighted:
        grads = weighted_grad(w)
        for k, p in params.items():
            p.grad = grads[k].detach().reshape(p.shape).to(p.dtype)
        optimizer.step()
    return StepInfo(bargain, conflict_before, conflict_after, converged, n_weighted, bool(n_weighted))


# --- training -------------------------------------------------------------------------


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
        """One row per batch: epoch, bargained, conflict_before/after, nbs_converged, n_weighted, updated."""
        rows = [{"epoch": e, **vars(s)} for e, s in zip(self.batch_epoch, self.steps)]
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
    aucs = [_auc(y[a == g], scores[a == g]) for g in (0, 1) if (a == g).any()]
    aucs = [v for v in aucs if not np.isnan(v)]
    return min(aucs) if aucs else float("nan")


def train_nash(
    method: str, X: np.ndarray, y: np.ndarray, a: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, a_val: np.ndarray,
    config: NashConfig | None = None, seed: int = 0,
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
    X_t, y_t = _tensor(X), _tensor(y)
    Xv, yv = _tensor(X_val), _tensor(y_val)
    yv_np, av_np = np.asarray(y_val).astype(int), np.asarray(a_val).astype(int)
    if not (len(X_t) == len(y_t) == len(np.asarray(a))) or not (len(Xv) == len(yv) == len(av_np)):
        raise ValueError(f"lengths differ: X {len(X_t)}, y {len(y_t)}, a {len(np.asarray(a))}; "
                         f"X_val {len(Xv)}, y_val {len(yv)}, a_val {len(av_np)}")
    if len(y_t) == 0:
        raise ValueError("the training split is empty")
    meta = meta_set(yv_np, av_np, config.meta_per_cell, seed)
    X_meta, y_meta = Xv[meta.indices], yv[meta.indices]
    held = np.ones(len(yv_np), dtype=bool)  # selection on validation rows outside the meta set
    held[meta.indices] = False
    if not held.any():
        held[:] = True
    Xs, ys, ys_np, as_np = Xv[torch.from_numpy(held)], yv[torch.from_numpy(held)], yv_np[held], av_np[held]
    model = build_mlp(X_t.shape[1], config.mlp_config(), seed)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
    optimizer = torch.optim.SGD(params.values(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    history = NashHistory(method=method, bargain_epochs=config.bargain_epochs if two_stage else 0)
    result = NashResult(model=model, params=_snapshot(params), method=method, history=history, meta=meta)
    batch_rng = np.random.default_rng(seed)
    n, B = len(y_t), config.batch_size
    best: tuple | None = None
    for epoch in range(config.epochs):
        bargain = two_stage and epoch < config.bargain_epochs
        history.epoch_stage.append("bargain" if bargain else "objective")
        order = batch_rng.permutation(n)
        for start in range(0, n, B):
            batch = torch.from_numpy(order[start : start + B])
            info = nash_step(
                params, model, optimizer, X_t[batch], y_t[batch], X_meta, y_meta, meta,
                objective=objective, bargain=bargain, lookahead_lr=config.eta, weight_norm=config.weight_norm,
                fallback=config.nbs_fallback, nbs_max_iter=config.nbs_max_iter, nbs_tol=config.nbs_tol,
            )
            history.batch_epoch.append(epoch)
            history.steps.append(info)
        with torch.no_grad():
            z = logits(params, model, Xs)
            loss = float(F.binary_cross_entropy_with_logits(z, ys))
            worst = worst_group_auc(ys_np, z.numpy(), as_np)
        history.val_loss.append(loss)
        history.val_worst_auc.append(worst)
        # larger is better; a NaN worst-group AUC ranks below any number, ties go to the lower loss
        key = (-loss,) if config.selection == "val_loss" else (-math.inf if math.isnan(worst) else worst, -loss)
        if best is None or key > best:
            best = key
            result.params, result.best_epoch = _snapshot(params), epoch
    result.val_loss = list(history.val_loss)
    return result


# --- synthetic two-group experiment ---------------------------------------------------


class _PlainSGD:
    """θ ← θ − lr · grad, without ``torch.optim``'s per-step overhead (the toy takes ~4,000 steps)."""

    def __init__(self, params: Params, lr: float) -> None:
        self.params, self.lr = params, lr

    def step(self) -> None:
        with torch.no_grad():
            for p in self.params.values():
                p -= self.lr * p.grad


def synthetic_two_group(
    *, objectives: tuple[str, ...] = ("ltr", "forml", "gdro"), n_starts: int = 4, steps: int = 150,
    bargain_steps: int = 50, lr: float = 0.1, n_train: tuple[int, int] = (360, 40), meta_per_group: int = 32,
    angle: float = 100.0, sharpness: float = 3.0, weight_norm: str = "sum", seed: int = 0,
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
        return _synthetic(objectives, n_starts, steps, bargain_steps, lr, n_train, meta_per_group, angle, sharpness,
                          weight_norm, seed)
    finally:
        torch.set_num_threads(threads)


def _synthetic(objectives, n_starts, steps, bargain_steps, lr, n_train, meta_per_group, angle, sharpness, weight_norm, seed):
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
    meta = MetaSet(np.arange(2 * meta_per_group), np.repeat([0, 1], meta_per_group), ((0, -1), (1, -1)))
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
                        infos.append(nash_step(params, model, opt, X_tr, y_tr, X_meta, y_meta, meta, objective=objective,
                                               bargain=two_stage and step < bargain_steps, lookahead_lr=1.0,
                                               weight_norm=weight_norm))
                theta = torch.stack(thetas)  # (steps + 1) x 2
                z = torch.einsum("sd,gnd->sgn", theta, X_eval)
                losses = F.binary_cross_entropy_with_logits(z, y_eval.expand_as(z), reduction="none").mean(-1)
                for step in range(steps + 1):
                    row = {"objective": objective, "method": "two_stage" if two_stage else "one_stage", "start": s,
                           "step": step, "theta_0": float(theta[step, 0]), "theta_1": float(theta[step, 1]),
                           "loss_g0": float(losses[step, 0]), "loss_g1": float(losses[step, 1])}
                    if step < steps:
                        info = infos[step]
                        row.update(bargained=info.bargained, conflict_before=info.conflict_before,
                                   conflict_after=info.conflict_after, nbs_converged=info.nbs_converged)
                    rows.append(row)
    out = pd.DataFrame(rows)
    flags = ["bargained", "conflict_before", "conflict_after", "nbs_converged"]
    out[flags] = out[flags].astype("boolean")
    return out
