"""The gradient-alignment reading of the FaAlGrad meta-gradient (paper 4.1).

With one inner SGD step θ1 = θ0 - η∇L(θ0, X_s), the exact meta-gradient is

    ∂L(θ1, X_q)/∂θ0 = (I - η H_s(θ0)) ∇L(θ1, X_q).

A first-order expansion in η gives the paper's approximation

    ∇L(θ0, X_q) - η ∇_θ0 (∇L(θ0, X_q) · ∇L(θ0, X_s)),

which rewards aligning the gradients of the two subpopulations. The remainder is
O(η²), so the norm of (exact - approximation) should grow with slope 2 in η on a
log-log scale. :func:`error_sweep` measures it and :func:`fitted_slope` fits the slope.

With I inner steps, θ_I = θ0 - Iη∇L(θ0, X_s) + O(η²) and the product of the I step
Jacobians is I - Iη H_s(θ0) + O(η²), so the same expansion gives

    ∂L(θ_I, X_q)/∂θ0 = ∇L(θ0, X_q) - Iη ∇_θ0 (∇L(θ0, X_q) · ∇L(θ0, X_s)) + O(η²):

the alignment term is I times stronger. Keeping the one-step formula for I > 1 leaves
the error (I - 1)η ∇(∇L_q · ∇L_s) + O(η²), which is only O(η).
:func:`inner_steps_sweep` and :func:`slope_table` check both.

The expansion needs the loss to be smooth between θ0 and the inner iterates. With
ReLU networks it is only piecewise smooth: once η is large enough for the inner steps
to flip the sign of a hidden pre-activation on some sample, the remainder picks up a
kink term. The sweep therefore counts those flips (``activation_flips``),
:func:`first_flip_eta` finds the smallest η that flips one, :func:`eta_grid` places
the grid's flip-free points below it, and :func:`fitted_slope` can fit on the
flip-free rows only. At the small end, the error meets float64 round-off; rows whose
error is within a factor :data:`RESOLUTION` of the round-off floor (the error measured
at η = :data:`ROUNDOFF_ETA`, where the true remainder is negligible) are marked
``resolved = False`` and left out of that fit as well.

Everything in the derivation check runs in float64: at η = 1e-5 the O(η²) remainder
is far below float32 resolution of the gradient.

The alignment itself (:func:`alignment_curves`): the cosine between ∇L(θ, X_s) and
∇L(θ, X_q) after every epoch of ERM and of FaAlGrad training from the same
initialisation, for the same number of epochs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.func import grad

from faalgrad.claims import Verdict, verdict_from_counts
from faalgrad.datasets import DATASETS
from faalgrad.experiments import single_thread, split_data
from faalgrad.presets import check_dataset, erm_config, faalgrad_config
from faalgrad.splits import SPLITS, support_query
from faalgrad.train import Params, _tensor, bce, build_mlp, meta_gradient, train_erm, train_faalgrad

#: A fixed η grid, 1e-5 ... 1e-1, two points per decade (``etas="auto"`` adapts to the data instead).
DEFAULT_ETAS: tuple[float, ...] = tuple(float(e) for e in np.logspace(-5, -1, 9))
#: η at which the measured error is pure float64 round-off (the true remainder is ~1e-20).
ROUNDOFF_ETA = 1e-10
#: An error counts as resolved when it exceeds the round-off floor by this factor.
RESOLUTION = 100.0
#: The splits the method check supports (X_s and X_q partition the training split).
CHECK_SPLITS: tuple[str, ...] = ("config1", "config2")
#: ERM learning-rate choices of the alignment comparison: FaAlGrad's outer_lr, or the baseline preset's.
ERM_LRS: tuple[str, ...] = ("faalgrad", "baseline")
ERM_LR_LABELS = {
    "faalgrad": "the same optimiser and learning rate as FaAlGrad's outer step",
    "baseline": "the baseline preset's learning rate (Adam at 0.001)",
}
METHOD_NAMES = {"erm": "ERM", "faalgrad": "FaAlGrad"}


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


def _float64(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


def make_problem(model: nn.Module, X_s, y_s, X_q, y_q, *, inner_lr: float = 0.01, dataset: str = "synthetic") -> AlignmentProblem:
    """An :class:`AlignmentProblem` from a module (its current parameters are θ0) and data."""
    params = {k: v.detach().to(torch.float64).clone() for k, v in model.named_parameters()}
    return AlignmentProblem(
        model, params, _float64(X_s), _float64(y_s), _float64(X_q), _float64(y_q), float(inner_lr), dataset
    )


def dataset_problem(dataset: str = "compas", seed: int = 0, split: str = "config1") -> AlignmentProblem:
    """The preset MLP of ``dataset`` at its seeded initialisation, on the seed's training split.

    Support and query sets come from :func:`faalgrad.splits.support_query`; η defaults to
    the preset's inner learning rate (only used as a marker, the sweep sets η).
    """
    check_parameters(dataset=dataset, seed=seed, split=split)
    data = split_data(dataset, seed)
    support, query = support_query(data.y_train, data.a_train, split, dataset=dataset, seed=seed)
    config = faalgrad_config(dataset)
    model = build_mlp(data.X_train.shape[1], config, seed)
    return make_problem(
        model, data.X_train[support], data.y_train[support], data.X_train[query], data.y_train[query],
        inner_lr=config.inner_lr, dataset=dataset,
    )


# --- parameters ---------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_list(value) -> bool:
    return not isinstance(value, (str, bytes, dict)) and isinstance(value, Iterable)


def check_parameters(
    *, dataset: str | None = None, seed: int | None = None, split: str | None = None,
    etas: Sequence[float] | str | None = None, inner_steps: Sequence[int] | None = None,
    slope_tolerance: float | None = None, datasets: Sequence[str] | None = None, epochs: int | None = None,
    last_epochs: int | None = None, erm_lr: str | None = None,
) -> None:
    """Validate the method-check notebook's parameters; a ``ValueError`` names the bad one
    and its valid choices. Parameters left at ``None`` are not checked."""
    if dataset is not None:
        if not isinstance(dataset, str):
            raise ValueError(f"dataset={dataset!r} must be one dataset name; valid choices: {', '.join(DATASETS)}")
        try:
            check_dataset(dataset)
        except ValueError as err:
            raise ValueError(f"dataset: {err}") from None
    if seed is not None and (not _is_int(seed) or seed < 0):
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    if split is not None and split not in CHECK_SPLITS:
        raise ValueError(
            f"split={split!r} is not supported here; valid choices: {', '.join(CHECK_SPLITS)} (of {', '.join(SPLITS)})"
        )
    if etas is not None and not (isinstance(etas, str) and etas == "auto"):
        if not _is_list(etas):
            raise ValueError(f"etas={etas!r} must be 'auto' or a list of at least 3 step sizes in (0, 1)")
        values = list(etas)
        if len(values) < 3 or not all(isinstance(e, (int, float, np.number)) and not isinstance(e, bool) and 0 < e < 1
                                      for e in values):
            raise ValueError(f"etas={etas!r} must be 'auto' or a list of at least 3 step sizes in (0, 1)")
    if inner_steps is not None:
        values = list(inner_steps) if _is_list(inner_steps) else None
        if not values or not all(_is_int(i) and 2 <= i <= 100 for i in values) or len(set(values)) < len(values):
            raise ValueError(
                f"inner_steps={inner_steps!r} must be a non-empty list of distinct integers from 2 to 100 "
                "(the I > 1 check; I = 1 is the first part)"
            )
    if slope_tolerance is not None and not (
        isinstance(slope_tolerance, (int, float, np.number)) and not isinstance(slope_tolerance, bool)
        and 0 < slope_tolerance < 1
    ):
        raise ValueError(f"slope_tolerance={slope_tolerance!r} must be a number in (0, 1)")
    if datasets is not None:
        values = list(datasets) if _is_list(datasets) else None
        if not values or len(set(values)) < len(values) or not all(isinstance(d, str) and d in DATASETS for d in values):
            raise ValueError(
                f"datasets={datasets!r} must be a non-empty list of distinct dataset names; "
                f"valid choices: {', '.join(DATASETS)}"
            )
    if epochs is not None and (not _is_int(epochs) or epochs < 1):
        raise ValueError(f"epochs={epochs!r} must be a positive integer")
    if last_epochs is not None:
        if not _is_int(last_epochs) or last_epochs < 1:
            raise ValueError(f"last_epochs={last_epochs!r} must be a positive integer")
        if epochs is not None and last_epochs > epochs:
            raise ValueError(f"last_epochs={last_epochs!r} must be at most epochs={epochs!r}")
    if erm_lr is not None and erm_lr not in ERM_LRS:
        raise ValueError(f"erm_lr={erm_lr!r} is not a choice; valid choices: {', '.join(ERM_LRS)}")


# --- exact and approximate meta-gradients -------------------------------------------------


def _flat(g: Params) -> torch.Tensor:
    return torch.cat([v.reshape(-1) for v in g.values()])


def _loss_grads_dot(params: Params, model: nn.Module, X_s, y_s, X_q, y_q) -> torch.Tensor:
    """∇L(θ, X_q) · ∇L(θ, X_s)."""
    g_q = grad(bce)(params, model, X_q, y_q)
    g_s = grad(bce)(params, model, X_s, y_s)
    return sum((g_q[k] * g_s[k]).sum() for k in params)


def _alignment_term(problem: AlignmentProblem) -> Params:
    """∇_θ0 (∇L(θ0, X_q) · ∇L(θ0, X_s))."""
    p = problem
    return grad(_loss_grads_dot)(p.params, p.model, p.X_s, p.y_s, p.X_q, p.y_q)


def alignment_gradient(problem: AlignmentProblem, eta: float, inner_steps: int = 1) -> Params:
    """The first-order approximation ∇L(θ0, X_q) - Iη ∇(∇L(θ0, X_q) · ∇L(θ0, X_s)), I = ``inner_steps``.

    With ``inner_steps=1`` this is the paper's formula (section 4.1).
    """
    p = problem
    g_q = grad(bce)(p.params, p.model, p.X_q, p.y_q)
    g_dot = _alignment_term(p)
    return {k: g_q[k] - inner_steps * eta * g_dot[k] for k in p.params}


def exact_gradient(problem: AlignmentProblem, eta: float, inner_steps: int = 1) -> Params:
    """The exact meta-gradient through ``inner_steps`` inner steps, :func:`faalgrad.train.meta_gradient`."""
    p = problem
    return meta_gradient(p.params, p.model, p.X_s, p.y_s, p.X_q, p.y_q, inner_lr=eta, inner_steps=inner_steps)


def _iterates(problem: AlignmentProblem, eta: float, inner_steps: int) -> list[Params]:
    """θ_1 ... θ_I of the inner SGD steps on the support set (no graph)."""
    p, theta, out = problem, problem.params, []
    for _ in range(inner_steps):
        g = grad(bce)(theta, p.model, p.X_s, p.y_s)
        theta = {k: theta[k] - eta * g[k] for k in theta}
        out.append(theta)
    return out


def _relu_preactivations(model: nn.Module, params: Params, X: torch.Tensor) -> list[torch.Tensor]:
    """The pre-activations of the hidden units followed by a ReLU, one tensor per layer."""
    out, h = [], X
    children = list(model.named_children())
    for (name, layer), (_, nxt) in zip(children, children[1:] + [(None, None)]):
        if isinstance(layer, nn.Linear):
            h = torch.nn.functional.linear(h, params[f"{name}.weight"], params[f"{name}.bias"])
            if isinstance(nxt, nn.ReLU):
                out.append(h)
        else:
            h = layer(h)
    return out


def activation_flips(problem: AlignmentProblem, eta: float, inner_steps: int = 1) -> int:
    """Hidden pre-activations (sample x unit) on X_s ∪ X_q whose sign at some inner iterate
    θ_1 ... θ_I differs from their sign at θ0.

    Counts only units followed by a ReLU (tanh is smooth); 0 for networks without ReLU.
    """
    p = problem
    X = torch.cat([p.X_s, p.X_q])
    with torch.no_grad():
        signs0 = [h > 0 for h in _relu_preactivations(p.model, p.params, X)]
        if not signs0:
            return 0
        flipped = [torch.zeros_like(s) for s in signs0]
        for theta in _iterates(p, eta, inner_steps):
            for f, s0, h in zip(flipped, signs0, _relu_preactivations(p.model, theta, X)):
                f |= s0 != (h > 0)
    return int(sum(int(f.sum()) for f in flipped))


def first_flip_eta(problem: AlignmentProblem, inner_steps: int = 1, *, upper: float = 1.0, rel_tol: float = 0.1) -> float:
    """The smallest η (within a factor ``1 + rel_tol``) whose inner steps flip a ReLU, or
    ``inf`` if none flips up to ``upper``.

    Steps down from ``upper`` a decade at a time to the first η without flips (at most to
    1e-12), then bisects on a log scale; it assumes that a flip, once present, stays for
    larger η (each sweep row reports its own flip count regardless).
    """
    with single_thread():
        hi = float(upper)
        if activation_flips(problem, hi, inner_steps) == 0:
            return float("inf")
        lo = hi / 10
        while activation_flips(problem, lo, inner_steps) > 0:
            if lo < 1e-12:
                return lo
            hi, lo = lo, lo / 10
        while hi / lo > 1 + rel_tol:
            mid = float(np.sqrt(lo * hi))
            if activation_flips(problem, mid, inner_steps) > 0:
                hi = mid
            else:
                lo = mid
        return hi


def _round(values: Iterable[float]) -> list[float]:
    return [float(f"{v:.3g}") for v in values]


def eta_grid(
    problem: AlignmentProblem, inner_steps: int = 1, *, n_flip_free: int = 6, decades: float = 1.5,
    max_step: float = 0.01, upper: float = 0.1, per_decade: int = 2, flip_free_only: bool = False,
) -> list[float]:
    """An η grid adapted to the problem.

    ``n_flip_free`` points over ``decades`` decades, ending a quarter decade below
    :func:`first_flip_eta`, or where the total inner step Iη reaches ``max_step`` if
    that comes first (the asymptotic regime of a smooth network); then, unless
    ``flip_free_only``, ``per_decade`` points per decade from the first flip up to
    ``upper``, where the ReLU kinks show. Values rounded to 3 significant digits.
    """
    eta_flip = first_flip_eta(problem, inner_steps, upper=upper)
    top = min(eta_flip / 10**0.25, max_step / inner_steps)
    grid = np.logspace(np.log10(top) - decades, np.log10(top), n_flip_free)
    if not flip_free_only and eta_flip < upper:
        n_rough = max(2, int(np.ceil(per_decade * np.log10(upper / eta_flip))) + 1)
        grid = np.concatenate([grid, np.logspace(np.log10(eta_flip), np.log10(upper), n_rough)])
    return sorted(set(_round(grid)))


# --- the error sweep ----------------------------------------------------------------------


def error_sweep(problem: AlignmentProblem, etas: Iterable[float] | str = "auto", inner_steps: int = 1) -> pd.DataFrame:
    """One row per η (``etas="auto"``: :func:`eta_grid`), for ``inner_steps`` = I inner steps.

    Columns: ``inner_steps``; ``eta``; ``error`` = ‖exact - (∇L_q - Iη∇(∇L_q·∇L_s))‖₂;
    ``relative_error`` (divided by ‖exact‖₂); ``one_step_formula_error`` = ‖exact -
    (∇L_q - η∇(∇L_q·∇L_s))‖₂ (equal to ``error`` when I = 1, O(η) otherwise);
    ``first_order_error`` = ‖exact - ∇L(θ0, X_q)‖₂ (no alignment term at all);
    ``activation_flips`` (:func:`activation_flips`); ``smooth`` (no flips); ``resolved``
    (``error`` above :data:`RESOLUTION` times the round-off floor).
    """
    if not _is_int(inner_steps) or inner_steps < 1:
        raise ValueError(f"inner_steps={inner_steps!r} must be a positive integer")
    if isinstance(etas, str):
        check_parameters(etas=etas)
        etas = eta_grid(problem, inner_steps)
    etas = [float(e) for e in etas]
    check_parameters(etas=etas)
    p = problem
    with single_thread():
        g_q = _flat(grad(bce)(p.params, p.model, p.X_q, p.y_q))
        g_dot = _flat(_alignment_term(p))

        def errors(eta: float) -> tuple[torch.Tensor, float, float, float]:
            exact = _flat(exact_gradient(p, eta, inner_steps))
            norm = torch.linalg.vector_norm
            return (exact, float(norm(exact - (g_q - inner_steps * eta * g_dot))),
                    float(norm(exact - (g_q - eta * g_dot))), float(norm(exact - g_q)))

        floor = errors(ROUNDOFF_ETA)[1]
        rows = []
        for eta in etas:
            exact, err, one_step, first = errors(eta)
            flips = activation_flips(p, eta, inner_steps)
            rows.append({
                "inner_steps": int(inner_steps), "eta": eta, "error": err,
                "relative_error": err / float(torch.linalg.vector_norm(exact)),
                "one_step_formula_error": one_step, "first_order_error": first,
                "activation_flips": flips, "smooth": flips == 0, "resolved": err > RESOLUTION * floor,
            })
    return pd.DataFrame(rows)


def inner_steps_sweep(problem: AlignmentProblem, inner_steps: Iterable[int] = (2, 5, 10), **grid) -> pd.DataFrame:
    """:func:`error_sweep` for each I in ``inner_steps``, each on its own flip-free
    :func:`eta_grid` (``grid`` passes its options), stacked."""
    return pd.concat(
        [error_sweep(problem, eta_grid(problem, int(i), flip_free_only=True, **grid), int(i)) for i in inner_steps],
        ignore_index=True,
    )


def fit_rows(sweep: pd.DataFrame) -> pd.Series:
    """The rows a slope is fitted on: flip-free and above the round-off floor."""
    mask = sweep["smooth"]
    return mask & sweep["resolved"] if "resolved" in sweep else mask


def fitted_slope(sweep: pd.DataFrame, column: str = "error", *, smooth_only: bool = False) -> float:
    """Least-squares slope of log(``column``) against log(η); with ``smooth_only``, on
    :func:`fit_rows` only (``ValueError`` if fewer than 2 remain)."""
    if smooth_only:
        sweep = sweep[fit_rows(sweep)]
        if len(sweep) < 2:
            raise ValueError("fewer than 2 flip-free η values above round-off; use etas='auto' "
                             "or extend etas towards smaller values")
    slope, _ = np.polyfit(np.log(sweep["eta"].to_numpy()), np.log(sweep[column].to_numpy()), 1)
    return float(slope)


def slope_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """Per number of inner steps: the flip-free fitting range (``eta_min``, ``eta_max``,
    ``n_fit``) and the fitted slopes of ``error`` (``slope``, expected 2),
    ``one_step_formula_error`` (``slope_one_step_formula``, expected 1 for I > 1) and
    ``first_order_error`` (``slope_first_order``, expected 1)."""
    rows = []
    for steps, group in sweep.groupby("inner_steps", sort=True):
        fit = group[fit_rows(group)]
        rows.append({
            "inner_steps": int(steps), "eta_min": fit["eta"].min(), "eta_max": fit["eta"].max(), "n_fit": len(fit),
            "slope": fitted_slope(group, smooth_only=True),
            "slope_one_step_formula": fitted_slope(group, "one_step_formula_error", smooth_only=True),
            "slope_first_order": fitted_slope(group, "first_order_error", smooth_only=True),
        })
    return pd.DataFrame(rows)


QUANTITY_LABELS = {
    "error": "‖exact − (∇L_q − Iη∇(∇L_q·∇L_s))‖",
    "one_step_formula_error": "‖exact − (∇L_q − η∇(∇L_q·∇L_s))‖",
    "first_order_error": "‖exact − ∇L_q‖",
}


def long_form(sweep: pd.DataFrame, columns: Sequence[str] = ("error", "first_order_error")) -> pd.DataFrame:
    """The sweep in long form for plotting: ``eta``, ``quantity`` (a label of
    :data:`QUANTITY_LABELS`), ``norm``, and when the sweep has them ``inner_steps``,
    ``I`` (label "I = 2") and ``regime`` ("flip-free" or "ReLU flips")."""
    ids = [c for c in ("eta", "inner_steps", "smooth") if c in sweep]
    out = sweep.melt(id_vars=ids, value_vars=list(columns), var_name="quantity", value_name="norm")
    out["quantity"] = out["quantity"].map(QUANTITY_LABELS)
    if "inner_steps" in out:
        out["I"] = "I = " + out["inner_steps"].astype(str)
    if "smooth" in out:
        out["regime"] = np.where(out.pop("smooth"), "flip-free", "ReLU flips")
    return out


def describe_flips(sweep: pd.DataFrame, eta_flip: float) -> str:
    """One sentence on the ReLU flips of an I = 1 sweep, true whatever the numbers."""
    n_flip = int((~sweep["smooth"]).sum())
    if not np.isfinite(eta_flip) and n_flip == 0:
        return "no hidden unit changes sign anywhere on the grid (this network has no ReLU kink in reach)"
    where = f"the first sign change comes at η ≈ {eta_flip:.2g}" if np.isfinite(eta_flip) else \
        "no sign change was found up to η = 1"
    return f"{where}, and {n_flip} of the {len(sweep)} grid values of η flip at least one hidden unit"


def derivation_verdict(slopes: pd.DataFrame, *, tolerance: float = 0.1, dataset: str = "") -> Verdict:
    """The "derivation" claim from a :func:`slope_table` (I = 1 and I > 1 rows).

    One check per row: the error of the I-step formula has slope 2 ± ``tolerance``; and one
    more per I > 1 row: the one-step formula's error has slope 1 ± ``tolerance``. All hold:
    reproduced; some: partly; none: not reproduced.
    """
    check_parameters(slope_tolerance=tolerance)
    ok_two = (slopes["slope"] - 2).abs() <= tolerance
    multi = slopes["inner_steps"] > 1
    ok_one = (slopes.loc[multi, "slope_one_step_formula"] - 1).abs() <= tolerance
    n_hold, n_total = int(ok_two.sum() + ok_one.sum()), len(slopes) + int(multi.sum())
    parts = []
    for row in slopes.itertuples():
        text = f"I = {int(row.inner_steps)}: slope {row.slope:.3f}"
        if row.inner_steps > 1:
            text += f" with the Iη term, {row.slope_one_step_formula:.3f} with the one-step formula"
        parts.append(text)
    where = f" on {dataset}" if dataset else ""
    evidence = (f"Flip-free log-log slopes of the approximation error{where} (expected 2, and 1 for the "
                f"one-step formula when I > 1, tolerance ±{tolerance:g}): " + "; ".join(parts)
                + f"; {n_hold} of {n_total} checks hold.")
    return Verdict("derivation", verdict_from_counts(n_hold, n_total), evidence)


# --- the alignment over training ----------------------------------------------------------


def gradient_cosine(params: Params, model: nn.Module, X_s, y_s, X_q, y_q) -> float:
    """cos(∇L(θ, X_s), ∇L(θ, X_q))."""
    g_s = _flat(grad(bce)(params, model, X_s, y_s))
    g_q = _flat(grad(bce)(params, model, X_q, y_q))
    return float(g_s @ g_q / (torch.linalg.vector_norm(g_s) * torch.linalg.vector_norm(g_q)))


def alignment_curves(
    dataset: str, *, seed: int = 0, split: str = "config1", epochs: int = 100, erm_lr: str = "faalgrad",
) -> pd.DataFrame:
    """cos(∇L(θ, X_s), ∇L(θ, X_q)) over training, for ERM and FaAlGrad.

    Both start from the preset MLP's seeded initialisation and run exactly ``epochs``
    full-batch epochs (no early stopping). FaAlGrad uses the dataset's preset; ERM trains
    on the whole training split (X_s ∪ X_q) with the same optimiser, and with FaAlGrad's
    outer learning rate (``erm_lr="faalgrad"``, so that only the objective differs) or the
    baseline preset's (``"baseline"``). One row per (method, epoch): ``dataset``,
    ``method`` ("ERM", "FaAlGrad"), ``epoch`` (0 = initialisation, e = after e epochs) and
    ``cosine``, computed on the training X_s and X_q.
    """
    check_parameters(dataset=dataset, seed=seed, split=split, epochs=epochs, erm_lr=erm_lr)
    data = split_data(dataset, seed)
    support, query = support_query(data.y_train, data.a_train, split, dataset=dataset, seed=seed)
    fa_config = faalgrad_config(dataset, max_epochs=epochs, patience=epochs)
    erm_overrides = {"outer_lr": fa_config.outer_lr} if erm_lr == "faalgrad" else {}
    erm_cfg = erm_config(dataset, max_epochs=epochs, patience=epochs, **erm_overrides)
    Xs, ys = _tensor(data.X_train[support]), _tensor(data.y_train[support])
    Xq, yq = _tensor(data.X_train[query]), _tensor(data.y_train[query])
    model = build_mlp(Xs.shape[1], fa_config, seed)
    init = dict(model.named_parameters())
    rows = []
    with single_thread(), torch.no_grad():
        start = gradient_cosine({k: v.detach() for k, v in init.items()}, model, Xs, ys, Xq, yq)
    for method in ("erm", "faalgrad"):
        rows.append({"dataset": dataset, "method": METHOD_NAMES[method], "epoch": 0, "cosine": start})

        def record(epoch: int, params: Params, method: str = method) -> None:
            rows.append({"dataset": dataset, "method": METHOD_NAMES[method], "epoch": epoch + 1,
                         "cosine": gradient_cosine(params, model, Xs, ys, Xq, yq)})

        with single_thread():
            if method == "erm":
                train_erm(data.X_train, data.y_train, data.X_val, data.y_val, erm_cfg, seed, callback=record)
            else:
                train_faalgrad(data.X_train[support], data.y_train[support], data.X_train[query], data.y_train[query],
                               data.X_val, data.y_val, fa_config, seed, callback=record)
    return pd.DataFrame(rows)


def alignment_summary(curves: pd.DataFrame, last_epochs: int = 20) -> pd.DataFrame:
    """Per dataset: the mean cosine over training (epochs 1 ... E) and over the last
    ``last_epochs`` epochs, for ERM and FaAlGrad, and whether FaAlGrad's is higher in both
    (``holds``)."""
    check_parameters(last_epochs=last_epochs)
    rows = []
    for dataset, group in curves.groupby("dataset", sort=False):
        trained = group[group["epoch"] >= 1]
        last = trained[trained["epoch"] > trained["epoch"].max() - last_epochs]
        row = {"dataset": dataset}
        for method, key in (("ERM", "erm"), ("FaAlGrad", "faalgrad")):
            row[f"{key}_mean"] = trained.loc[trained["method"] == method, "cosine"].mean()
            row[f"{key}_last"] = last.loc[last["method"] == method, "cosine"].mean()
        row["holds"] = bool(row["faalgrad_mean"] > row["erm_mean"] and row["faalgrad_last"] > row["erm_last"])
        rows.append(row)
    return pd.DataFrame(rows)


def alignment_verdict(summary: pd.DataFrame, last_epochs: int = 20) -> Verdict:
    """The "alignment" claim from an :func:`alignment_summary`: it holds on a dataset when
    FaAlGrad's mean cosine is higher than ERM's both over training and over the last
    ``last_epochs`` epochs; all datasets: reproduced, some: partly, none: not reproduced."""
    n_hold, n_total = int(summary["holds"].sum()), len(summary)
    parts = [
        f"{r.dataset} {r.faalgrad_mean:.3f} vs {r.erm_mean:.3f} (last {last_epochs}: "
        f"{r.faalgrad_last:.3f} vs {r.erm_last:.3f})"
        for r in summary.itertuples()
    ]
    evidence = ("Mean cosine between the support and query gradients over training, FaAlGrad vs ERM: "
                + "; ".join(parts) + f"; FaAlGrad higher on {n_hold} of {n_total} datasets.")
    return Verdict("alignment", verdict_from_counts(n_hold, n_total), evidence)
