"""Plain autograd reference for FaAlGrad: no torch.func, written out by hand.

Used by the trainer's property tests and by ``benchmarks/bench_trainer.py``.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F


def mlp_logits(
    params: OrderedDict[str, torch.Tensor], X: torch.Tensor, activation: str = "relu"
) -> torch.Tensor:
    """Logits of the MLP whose Linear layers are ``params`` in order (weight, bias, ...)."""
    act = torch.relu if activation == "relu" else torch.tanh
    tensors = list(params.values())
    h = X
    for i in range(0, len(tensors), 2):
        h = F.linear(h, tensors[i], tensors[i + 1])
        if i + 2 < len(tensors):
            h = act(h)
    return h.squeeze(-1)


def reference_meta_gradient(params, X_s, y_s, X_q, y_q, inner_lr, inner_steps, activation="relu"):
    """∂L(θ_I, X_q)/∂θ0 with ``torch.autograd.grad(create_graph=True)`` inner steps."""
    theta0 = OrderedDict((k, v.detach().requires_grad_(True)) for k, v in params.items())
    theta = theta0
    for _ in range(inner_steps):
        loss = F.binary_cross_entropy_with_logits(mlp_logits(theta, X_s, activation), y_s)
        grads = torch.autograd.grad(loss, list(theta.values()), create_graph=True)
        theta = OrderedDict(
            (k, v - inner_lr * g) for (k, v), g in zip(theta.items(), grads, strict=True)
        )
    outer = F.binary_cross_entropy_with_logits(mlp_logits(theta, X_q, activation), y_q)
    return OrderedDict(zip(theta0, torch.autograd.grad(outer, list(theta0.values())), strict=True))


def reference_train(
    params,
    X_s,
    y_s,
    X_q,
    y_q,
    X_val,
    y_val,
    *,
    inner_lr,
    outer_lr,
    inner_steps,
    epochs,
    activation="relu",
):
    """``epochs`` full-batch meta-updates with Adam, the validation loss after each.

    No early stopping.
    """
    theta = OrderedDict((k, v.detach().clone().requires_grad_(True)) for k, v in params.items())
    optimizer = torch.optim.Adam(theta.values(), lr=outer_lr)
    val_loss = []
    for _ in range(epochs):
        grads = reference_meta_gradient(
            theta, X_s, y_s, X_q, y_q, inner_lr, inner_steps, activation
        )
        for k, p in theta.items():
            p.grad = grads[k]
        optimizer.step()
        with torch.no_grad():
            val_loss.append(
                float(
                    F.binary_cross_entropy_with_logits(mlp_logits(theta, X_val, activation), y_val)
                )
            )
    return theta, val_loss
