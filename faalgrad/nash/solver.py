"""The Nash bargaining solution of K players' hypergradients (Zeng et al., NeurIPS 2024).

See the Comparisons page of the book for its role in Nash-Meta-Learning.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["nbs_solve", "nbs_solve_batch"]


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
    alpha, converged = nbs_solve_batch(G[None], max_iter=max_iter, tol=tol, ridge=ridge)
    return alpha[0], bool(converged[0])


def nbs_solve_batch(
    G: torch.Tensor, *, max_iter: int = 100, tol: float = 1e-8, ridge: float = 0.0
) -> tuple[torch.Tensor, np.ndarray]:
    """:func:`nbs_solve` of several problems at once: ``G`` is runs × K × B.

    Each problem takes its own Newton steps and stops on its own; its solution does not
    depend on the other problems of the stack. Returns ``(alpha, converged)``: runs × K
    (ones where a problem failed) and a boolean array of runs.
    """
    S, K = G.shape[0], G.shape[1]
    ones = torch.ones(S, K, dtype=G.dtype)
    failed = np.zeros(S, dtype=bool)
    if K == 0:
        return ones, failed
    Gd = G.detach().to(torch.float64).numpy()
    M = Gd @ np.swapaxes(Gd, -1, -2)
    diag = np.diagonal(M, axis1=-2, axis2=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        # a player whose hypergradient is (numerically) zero can never gain
        usable = np.isfinite(M).all(axis=(-2, -1)) & (diag.min(-1) > 0)
        usable &= diag.min(-1) / diag.max(-1) >= 1e-24
    scale = np.where(usable, diag.mean(-1), 1.0)
    Ms = M / scale[:, None, None]
    Mr = Ms + ridge * np.eye(K) if ridge else Ms
    alpha = np.ones((S, K))
    alpha[usable] = 1.0 / np.sqrt(np.diagonal(Ms[usable], axis1=-2, axis2=-1))
    q = _dot(_times(Mr, alpha), alpha)
    start = usable & (q > 0)
    alpha[start] *= np.sqrt(K / q[start])[:, None]  # the best multiple of the start
    converged = np.zeros(S, dtype=bool)
    active = usable.copy()
    for it in range(max_iter + 1):
        inv = 1.0 / alpha
        g = _times(Mr, alpha) - inv
        done = active & (np.sqrt(_dot(g, g)) <= tol * np.sqrt(_dot(inv, inv)))
        converged |= done
        active &= ~done
        if it == max_iter or not active.any():
            break
        runs = np.flatnonzero(active)
        hessian = Mr[runs] + inv[runs, :, None] * np.eye(K) * inv[runs, None, :]
        step = -_solve(hessian, g[runs])
        lam = np.sqrt(np.maximum(-_dot(g[runs], step), 0.0))
        stalled = lam < 1e-14  # stalled at the rounding floor above tol
        damped = np.where((lam < 0.25)[:, None], step, step / (1.0 + lam)[:, None])
        alpha[runs] = np.where(stalled[:, None], alpha[runs], alpha[runs] + damped)
        a = alpha[runs]
        diverged = ~np.isfinite(a).all(-1) | (a.min(-1) <= 0) | (a.max(-1) > 1e8)
        active[runs[stalled | diverged | np.isnan(step).any(-1)]] = False
    out = torch.from_numpy(alpha / np.sqrt(scale)[:, None]).to(G.dtype)
    return torch.where(torch.from_numpy(converged)[:, None], out, ones), converged


def _times(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    """M v of each problem (runs × K × K by runs × K)."""
    return (M @ v[..., None])[..., 0]


def _dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """uᵀv of each problem (runs × K by runs × K)."""
    return (u[..., None, :] @ v[..., :, None])[..., 0, 0]


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A x = b of each problem; NaN rows where A is singular."""
    try:
        return np.linalg.solve(A, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = np.full_like(b, np.nan)
        for i in range(len(A)):
            try:
                out[i] = np.linalg.solve(A[i], b[i])
            except np.linalg.LinAlgError:
                pass
        return out
