"""The Nash bargaining solution of K players' hypergradients (Zeng et al., NeurIPS 2024).

See the Comparisons page of the book for its role in Nash-Meta-Learning.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["nbs_solve"]


def nbs_solve(
    G: torch.Tensor, *, max_iter: int = 100, tol: float = 1e-8, ridge: float = 0.0
) -> tuple[torch.Tensor, bool]:
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
