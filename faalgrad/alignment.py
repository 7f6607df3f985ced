"""The gradient-alignment reading of the FaAlGrad meta-gradient (paper 4.1).

With one inner SGD step θ1 = θ0 - η∇L(θ0, X_s), the exact meta-gradient is

    ∂L(θ1, X_q)/∂θ0 = (I - η H_s(θ0)) ∇L(θ1, X_q).

A first-order expansion in η gives the paper's approximation

    ∇L(θ0, X_q) - η ∇_θ0 (∇L(θ0, X_q) · ∇L(θ0, X_s)),

which rewards aligning the gradients of the two subpopulations. The remainder is
O(η²), so the norm of (exact - approximation) should grow with slope 2 in η on a
log-log scale. :func:`error_sweep` measures it and :func:`fitted_slope` fits the slope.

The expansion needs the loss to be smooth between θ0 and θ1. With ReLU networks it is
only piecewise smooth: once η is large enough for the inner step to flip the sign of a
hidden pre-activation on some sample, the remainder picks up a kink term. The sweep
therefore counts those flips (``activation_flips``), and :func:`fitted_slope` can fit
the slope on the flip-free (smooth) rows only.

Everything here runs in float64: at η = 1e-4 the O(η²) remainder is far below float32
resolution of the gradient.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.func import grad

from faalgrad.datasets import DATASETS, load_dataset
from faalgrad.presets import check_dataset, faalgrad_config
from faalgrad.splits import SPLITS, split_dataset, support_query
from faalgrad.train import Params, bce, build_mlp, meta_gradient

#: The default η grid of the method check: 1e-5 ... 1e-1, two points per decade.
DEFAULT_ETAS: tuple[float, ...] = tuple(float(e) for e in np.logspace(-5, -1, 9))


@dataclass(frozen=True)
class AlignmentProblem:
    """θ0 of an MLP with its support (X_s, y_s) and query (X_q, y_q) sets, in float64."""

    model: nn.Module
    params: Params
    X_s: torch.Tensor
    y_s: torch.Tensor
    X_q: torch.Tensor
    y_q: torch.Tensor
    inner_lr: float
    dataset: str = "synthetic"

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.params.values())


def make_problem(model: nn.Module, X_s, y_s, X_q, y_q, *, inner_lr: float = 0.01, dataset: str = "synthetic") -> AlignmentProblem:
    """An :class:`AlignmentProblem` from a module (its current parameters are θ0) and data."""
    to64 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64)  # noqa: E731
    params = {k: v.detach().to(torch.float64).clone() for k, v in model.named_parameters()}
    return AlignmentProblem(model, params, to64(X_s), to64(y_s), to64(X_q), to64(y_q), float(inner_lr), dataset)


def dataset_problem(dataset: str = "compas", seed: int = 0, split: str = "config1") -> AlignmentProblem:
    """The preset MLP of ``dataset`` at its seeded initialisation, on the seed's training split.

    Support and query sets come from :func:`faalgrad.splits.support_query`; η defaults to
    the preset's inner learning rate (only used as a marker, the sweep sets η).
    """
    check_parameters(dataset=dataset, seed=seed, split=split)
    data = split_dataset(load_dataset(dataset), seed)
    support, query = support_query(data.y_train, data.a_train, split, dataset=dataset, seed=seed)
    config = faalgrad_config(dataset)
    model = build_mlp(data.X_train.shape[1], config, seed)
    return make_problem(
        model, data.X_train[support], data.y_train[support], data.X_train[query], data.y_train[query],
        inner_lr=config.inner_lr, dataset=dataset,
    )


def check_parameters(*, dataset: str | None = None, seed: int | None = None, split: str | None = None,
                     etas: Sequence[float] | None = None) -> None:
    """Validate the method-check notebook's parameters; ``ValueError`` names the bad one."""
    if dataset is not None:
        if not isinstance(dataset, str):
            raise ValueError(f"dataset={dataset!r} must be one dataset name; valid choices: {', '.join(DATASETS)}")
        check_dataset(dataset)
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    if split is not None and split not in ("config1", "config2"):
        raise ValueError(f"split={split!r} is not supported here; valid choices: config1, config2 (of {', '.join(SPLITS)})")
    if etas is not None:
        if isinstance(etas, (str, bytes)) or not isinstance(etas, Iterable):
            raise ValueError(f"etas={etas!r} must be a list of at least 3 positive step sizes")
        values = list(etas)
        if len(values) < 3 or not all(isinstance(e, (int, float, np.number)) and not isinstance(e, bool) and 0 < e < 1 for e in values):
            raise ValueError(f"etas={etas!r} must be a list of at least 3 step sizes in (0, 1)")


def _flat(g: Params) -> torch.Tensor:
    return torch.cat([v.reshape(-1) for v in g.values()])


def _loss_grads_dot(params: Params, model: nn.Module, X_s, y_s, X_q, y_q) -> torch.Tensor:
    """∇L(θ, X_q) · ∇L(θ, X_s)."""
    g_q = grad(bce)(params, model, X_q, y_q)
    g_s = grad(bce)(params, model, X_s, y_s)
    return sum((g_q[k] * g_s[k]).sum() for k in params)


def alignment_gradient(problem: AlignmentProblem, eta: float) -> Params:
    """The approximation ∇L(θ0, X_q) - η ∇(∇L(θ0, X_q) · ∇L(θ0, X_s))."""
    p = problem
    g_q = grad(bce)(p.params, p.model, p.X_q, p.y_q)
    g_dot = grad(_loss_grads_dot)(p.params, p.model, p.X_s, p.y_s, p.X_q, p.y_q)
    return {k: g_q[k] - eta * g_dot[k] for k in p.params}


def exact_gradient(problem: AlignmentProblem, eta: float) -> Params:
    """The exact one-inner-step meta-gradient, :func:`faalgrad.train.meta_gradient`."""
    p = problem
    return meta_gradient(p.params, p.model, p.X_s, p.y_s, p.X_q, p.y_q, inner_lr=eta, inner_steps=1)


def activation_flips(problem: AlignmentProblem, eta: float) -> int:
    """Hidden pre-activations (sample x unit) whose sign differs between θ0 and θ1 on X_s ∪ X_q.

    Counts only units followed by a ReLU (tanh is smooth); 0 for networks without ReLU.
    """
    p = problem
    g_s = grad(bce)(p.params, p.model, p.X_s, p.y_s)
    theta1 = {k: p.params[k] - eta * g_s[k] for k in p.params}
    X = torch.cat([p.X_s, p.X_q])
    flips = 0
    h0, h1 = X, X
    children = list(p.model.named_children())
    for (name, layer), (_, nxt) in zip(children, children[1:] + [(None, None)]):
        if isinstance(layer, nn.Linear):
            h0 = torch.nn.functional.linear(h0, p.params[f"{name}.weight"], p.params[f"{name}.bias"])
            h1 = torch.nn.functional.linear(h1, theta1[f"{name}.weight"], theta1[f"{name}.bias"])
            if isinstance(nxt, nn.ReLU):
                flips += int(((h0 > 0) != (h1 > 0)).sum())
        else:
            h0, h1 = layer(h0), layer(h1)
    return flips


def error_sweep(problem: AlignmentProblem, etas: Iterable[float] = DEFAULT_ETAS) -> pd.DataFrame:
    """One row per η: ``eta``, ``error`` = ‖exact - approximation‖₂, ``relative_error``
    (divided by ‖exact‖₂), ``first_order_error`` = ‖exact - ∇L(θ0, X_q)‖₂ (the O(η)
    error of ignoring the alignment term), for comparison, ``activation_flips``
    (:func:`activation_flips`) and ``smooth`` (no flips)."""
    check_parameters(etas=list(etas))
    g0 = _flat(grad(bce)(problem.params, problem.model, problem.X_q, problem.y_q))
    rows = []
    for eta in etas:
        exact = _flat(exact_gradient(problem, float(eta)))
        approx = _flat(alignment_gradient(problem, float(eta)))
        err = float(torch.linalg.vector_norm(exact - approx))
        rows.append({
            "eta": float(eta), "error": err, "relative_error": err / float(torch.linalg.vector_norm(exact)),
            "first_order_error": float(torch.linalg.vector_norm(exact - g0)),
            "activation_flips": activation_flips(problem, float(eta)),
        })
        rows[-1]["smooth"] = rows[-1]["activation_flips"] == 0
    return pd.DataFrame(rows)


def fitted_slope(sweep: pd.DataFrame, column: str = "error", *, smooth_only: bool = False) -> float:
    """Least-squares slope of log(``column``) against log(η); with ``smooth_only``, on the
    rows without activation flips (``ValueError`` if fewer than 2 remain)."""
    if smooth_only:
        sweep = sweep[sweep["smooth"]]
        if len(sweep) < 2:
            raise ValueError("fewer than 2 flip-free η values; extend etas towards smaller values")
    slope, _ = np.polyfit(np.log(sweep["eta"].to_numpy()), np.log(sweep[column].to_numpy()), 1)
    return float(slope)


def long_form(sweep: pd.DataFrame) -> pd.DataFrame:
    """The sweep in long form for plotting: ``eta``, ``quantity``, ``norm``."""
    labels = {"error": "‖exact − alignment approx.‖", "first_order_error": "‖exact − ∇L(θ0, X_q)‖"}
    out = sweep.melt(id_vars="eta", value_vars=list(labels), var_name="quantity", value_name="norm")
    out["quantity"] = out["quantity"].map(labels)
    return out
