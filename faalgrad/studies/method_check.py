"""The gradient-alignment derivation of paper 4.1: the approximation's error against the exact
meta-gradient as η shrinks (I = 1 and I > 1), and the support/query gradient cosine over ERM and
FaAlGrad training.
Page: ``book/method_check.ipynb`` ("The gradient-alignment derivation (paper 4.1)"), which
writes the derivation out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from torch import nn
from torch.func import grad

from faalgrad.datasets import DATASETS
from faalgrad.presets import erm_config, faalgrad_config
from faalgrad.runs import METHODS, RunSpec, cached_split
from faalgrad.splits import support_query
from faalgrad.studies import PageResult, claims, forest, stats
from faalgrad.studies._common import DATASET_LABELS, number, seed_count
from faalgrad.train import (
    Weights,
    adapt,
    as_tensor,
    bce,
    build_mlp,
    gradient_cosine,
    meta_gradient,
    single_thread,
    train_erm,
    train_faalgrad,
)
from faalgrad.validation import (
    check_choice,
    check_dataset,
    check_datasets,
    check_int,
    check_int_list,
    check_n_jobs,
    check_number,
    check_number_list,
    check_seeds,
)

__all__ = ["Params", "compute", "forest_figure", "glue_values", "specs", "verdicts"]

#: A fixed η grid, 1e-5 ... 1e-1, two points per decade (``etas="auto"`` adapts to the data
#: instead).
_DEFAULT_ETAS: tuple[float, ...] = tuple(float(e) for e in np.logspace(-5, -1, 9))
#: η at which the measured error is pure float64 round-off (the true remainder is ~1e-20).
_ROUNDOFF_ETA = 1e-10
#: An error counts as resolved when it exceeds the round-off floor by this factor.
_RESOLUTION = 100.0
#: The splits the method check supports (X_s and X_q partition the training split).
_CHECK_SPLITS: tuple[str, ...] = ("config1", "config2")
#: ERM learning-rate choices of the alignment comparison (FaAlGrad's outer_lr, or the baseline
#: preset's) and their text.
_ERM_LR_LABELS = {
    "faalgrad": "the same optimiser and learning rate as FaAlGrad's outer step",
    "baseline": "the baseline preset's learning rate (Adam at 0.001)",
}
_ERM_LRS: tuple[str, ...] = tuple(_ERM_LR_LABELS)
#: Display label of each method key of :func:`_alignment_curves` (ERM here is not the baseline
#: preset).
_METHOD_LABELS = {"erm": "ERM", "faalgrad": METHODS["faalgrad"].label}
#: The column of :func:`_slope_table` fitting each error column of :func:`_error_sweep`.
_SLOPES = {
    "slope": "error",
    "slope_one_step_formula": "one_step_formula_error",
    "slope_first_order": "first_order_error",
}
#: Relative cost of one alignment run per dataset (seconds on one core), to start the
#: costliest first.
_ALIGNMENT_COST = {"adult": 4.5, "compas": 1.6, "communities": 0.7, "german": 0.5}
#: Plot label of each error column of :func:`_error_sweep`.
_QUANTITY_LABELS = {
    "error": "‖exact − (∇L_q − Iη∇(∇L_q·∇L_s))‖",
    "first_order_error": "‖exact − ∇L_q‖",
    "one_step_formula_error": "‖exact − (∇L_q − η∇(∇L_q·∇L_s))‖",
}


def _check_problem(dataset, seed, split) -> None:
    check_dataset(dataset)
    check_int("seed", seed, minimum=0)
    check_choice("split", split, _CHECK_SPLITS)


def _check_etas(etas) -> tuple[float, ...]:
    return check_number_list("etas", etas, 0, 1, least=3, note="or 'auto', the adaptive grid")


@dataclass(frozen=True)
class Params:
    """The page's parameters: the derivation check's problem (``dataset``, ``seed``, ``split``), η
    grid (``etas``: "auto" or at least 3 values in (0, 1)), ``inner_steps`` (I > 1) and
    ``slope_tolerance``; the alignment over training's ``datasets``, ``seeds`` (0..seeds-1),
    ``epochs``, ``last_epochs``, ``erm_lr`` and ``n_jobs``."""

    dataset: str = "compas"
    seed: int = 0
    split: str = "config1"
    etas: str | tuple[float, ...] = "auto"
    inner_steps: tuple[int, ...] = (2, 5, 10)
    slope_tolerance: float = 0.1
    datasets: tuple[str, ...] = DATASETS
    seeds: int = 10
    epochs: int = 100
    last_epochs: int = 20
    erm_lr: str = "faalgrad"
    n_jobs: int = 2

    def __post_init__(self) -> None:
        _check_problem(self.dataset, self.seed, self.split)
        if not (isinstance(self.etas, str) and self.etas == "auto"):
            object.__setattr__(self, "etas", _check_etas(self.etas))
        object.__setattr__(
            self,
            "inner_steps",
            check_int_list(
                "inner_steps",
                self.inner_steps,
                minimum=2,
                maximum=100,
                note="the I > 1 check; I = 1 is the first part",
            ),
        )
        check_number("slope_tolerance", self.slope_tolerance, 0, 1, closed=False)
        object.__setattr__(
            self, "datasets", check_datasets("datasets", self.datasets, distinct=True)
        )
        check_seeds(self.seeds)
        check_n_jobs(self.n_jobs)
        check_int("epochs", self.epochs)
        check_int(
            "last_epochs",
            self.last_epochs,
            maximum=self.epochs,
            note=f"at most epochs={self.epochs}",
        )
        check_choice("erm_lr", self.erm_lr, _ERM_LRS)


@dataclass(frozen=True)
class _AlignmentProblem:
    """θ0 of an MLP with its support (X_s, y_s) and query (X_q, y_q) sets, in float64."""

    model: nn.Module
    params: Weights
    X_s: torch.Tensor
    y_s: torch.Tensor
    X_q: torch.Tensor
    y_q: torch.Tensor
    inner_lr: float
    dataset: str = "synthetic"

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.params.values())


def _make_problem(
    model: nn.Module, X_s, y_s, X_q, y_q, *, inner_lr: float = 0.01, dataset: str = "synthetic"
) -> _AlignmentProblem:
    """An :class:`_AlignmentProblem` from a module (its current parameters are θ0) and data."""
    params = {k: v.detach().to(torch.float64).clone() for k, v in model.named_parameters()}
    data = (torch.as_tensor(np.asarray(a), dtype=torch.float64) for a in (X_s, y_s, X_q, y_q))
    return _AlignmentProblem(model, params, *data, float(inner_lr), dataset)


def _dataset_problem(
    dataset: str = "compas", seed: int = 0, split: str = "config1"
) -> _AlignmentProblem:
    """The preset MLP of ``dataset`` at its seeded initialisation, on the seed's training split
    (support and query sets of :func:`faalgrad.splits.support_query`; ``inner_lr`` is the preset's,
    a marker only)."""
    _check_problem(dataset, seed, split)
    data = cached_split(dataset, seed)
    support, query = support_query(data.y_train, data.a_train, split, dataset=dataset, seed=seed)
    config = faalgrad_config(dataset)
    model = build_mlp(data.X_train.shape[1], config, seed)
    return _make_problem(
        model,
        data.X_train[support],
        data.y_train[support],
        data.X_train[query],
        data.y_train[query],
        inner_lr=config.inner_lr,
        dataset=dataset,
    )


def _flat(g: Weights) -> torch.Tensor:
    return torch.cat([v.reshape(-1) for v in g.values()])


def _loss_grads_dot(params: Weights, model: nn.Module, X_s, y_s, X_q, y_q) -> torch.Tensor:
    """∇L(θ, X_q) · ∇L(θ, X_s)."""
    g_q, g_s = grad(bce)(params, model, X_q, y_q), grad(bce)(params, model, X_s, y_s)
    return sum((g_q[k] * g_s[k]).sum() for k in params)


def _alignment_term(problem: _AlignmentProblem) -> Weights:
    """∇_θ0 (∇L(θ0, X_q) · ∇L(θ0, X_s))."""
    return grad(_loss_grads_dot)(
        problem.params, problem.model, problem.X_s, problem.y_s, problem.X_q, problem.y_q
    )


def _alignment_gradient(problem: _AlignmentProblem, eta: float, inner_steps: int = 1) -> Weights:
    """The first-order approximation ∇L(θ0, X_q) - Iη ∇(∇L(θ0, X_q) · ∇L(θ0, X_s)),
    I = ``inner_steps`` (with ``inner_steps=1`` the paper's formula, section 4.1)."""
    g_q, g_dot = (
        grad(bce)(problem.params, problem.model, problem.X_q, problem.y_q),
        _alignment_term(problem),
    )
    return {k: g_q[k] - inner_steps * eta * g_dot[k] for k in problem.params}


def _exact_gradient(problem: _AlignmentProblem, eta: float, inner_steps: int = 1) -> Weights:
    """The exact meta-gradient through ``inner_steps`` inner steps,
    :func:`faalgrad.train.meta_gradient`."""
    p = problem
    return meta_gradient(
        p.params, p.model, p.X_s, p.y_s, p.X_q, p.y_q, inner_lr=eta, inner_steps=inner_steps
    )


def _relu_preactivations(model: nn.Module, params: Weights, X: torch.Tensor) -> list[torch.Tensor]:
    """The pre-activations of the hidden units followed by a ReLU, one tensor per layer."""
    out, h = [], X
    children = list(model.named_children())
    for (name, layer), (_, nxt) in zip(children, children[1:] + [(None, None)], strict=True):
        if isinstance(layer, nn.Linear):
            h = torch.nn.functional.linear(h, params[f"{name}.weight"], params[f"{name}.bias"])
            if isinstance(nxt, nn.ReLU):
                out.append(h)
        else:
            h = layer(h)
    return out


def _activation_flips(problem: _AlignmentProblem, eta: float, inner_steps: int = 1) -> int:
    """Hidden pre-activations (sample x unit) on X_s ∪ X_q whose sign at some inner iterate θ_1 ...
    θ_I (SGD on X_s) differs from their sign at θ0: units followed by a ReLU only (0 without
    ReLU)."""
    p, X = problem, torch.cat([problem.X_s, problem.X_q])
    with torch.no_grad():
        signs0 = [h > 0 for h in _relu_preactivations(p.model, p.params, X)]
        if not signs0:
            return 0
        flipped, theta = [torch.zeros_like(s) for s in signs0], p.params
        for _ in range(inner_steps):
            theta = adapt(theta, p.model, p.X_s, p.y_s, eta, 1)
            for f, s0, h in zip(
                flipped, signs0, _relu_preactivations(p.model, theta, X), strict=True
            ):
                f |= s0 != (h > 0)
    return int(sum(int(f.sum()) for f in flipped))


def _first_flip_eta(
    problem: _AlignmentProblem, inner_steps: int = 1, *, upper: float = 1.0, rel_tol: float = 0.1
) -> float:
    """The smallest η (within a factor ``1 + rel_tol``) whose inner steps flip a ReLU, or ``inf`` if
    none flips up to ``upper``: steps down a decade at a time to the first η without flips (at most
    to 1e-12), then bisects on a log scale, assuming that a flip, once present, stays for larger
    η."""
    with single_thread():
        hi = float(upper)
        if _activation_flips(problem, hi, inner_steps) == 0:
            return float("inf")
        lo = hi / 10
        while _activation_flips(problem, lo, inner_steps) > 0:
            if lo < 1e-12:
                return lo
            hi, lo = lo, lo / 10
        while hi / lo > 1 + rel_tol:
            mid = float(np.sqrt(lo * hi))
            hi, lo = (mid, lo) if _activation_flips(problem, mid, inner_steps) > 0 else (hi, mid)
        return hi


def _eta_grid(
    problem: _AlignmentProblem,
    inner_steps: int = 1,
    *,
    n_flip_free: int = 6,
    decades: float = 1.5,
    max_step: float = 0.01,
    upper: float = 0.1,
    per_decade: int = 2,
    flip_free_only: bool = False,
) -> list[float]:
    """An η grid adapted to the problem: ``n_flip_free`` points over ``decades`` decades, ending a
    quarter decade below :func:`_first_flip_eta`, or where the total inner step Iη reaches
    ``max_step`` if that comes first (the asymptotic regime of a smooth network); then, unless
    ``flip_free_only``, ``per_decade`` points per decade from the first flip up to ``upper``, where
    the ReLU kinks show. Values rounded to 3 significant digits."""
    eta_flip = _first_flip_eta(problem, inner_steps, upper=upper)
    top = min(eta_flip / 10**0.25, max_step / inner_steps)
    grid = np.logspace(np.log10(top) - decades, np.log10(top), n_flip_free)
    if not flip_free_only and eta_flip < upper:
        n_rough = max(2, int(np.ceil(per_decade * np.log10(upper / eta_flip))) + 1)
        grid = np.concatenate([grid, np.logspace(np.log10(eta_flip), np.log10(upper), n_rough)])
    return sorted({float(f"{v:.3g}") for v in grid})


def _error_sweep(
    problem: _AlignmentProblem, etas: Iterable[float] | str = "auto", inner_steps: int = 1
) -> pd.DataFrame:
    """One row per η (``etas="auto"``: :func:`_eta_grid`), for ``inner_steps`` = I inner steps.

    Columns: ``inner_steps``; ``eta``; ``error`` = ‖exact - (∇L_q - Iη∇(∇L_q·∇L_s))‖₂;
    ``relative_error`` (divided by ‖exact‖₂);
    ``one_step_formula_error`` = ‖exact - (∇L_q - η∇(∇L_q·∇L_s))‖₂ (equal to ``error`` when I = 1,
    O(η) otherwise); ``first_order_error`` = ‖exact - ∇L(θ0, X_q)‖₂ (no alignment term);
    ``activation_flips``; ``smooth`` (no flips); ``resolved`` (``error`` above :data:`_RESOLUTION`
    times the error at :data:`_ROUNDOFF_ETA`).
    """
    check_int("inner_steps", inner_steps)
    etas = (
        _eta_grid(problem, inner_steps)
        if isinstance(etas, str) and etas == "auto"
        else _check_etas(etas)
    )
    p, norm = problem, torch.linalg.vector_norm
    with single_thread():

        def errors(eta: float) -> tuple[torch.Tensor, float, float, float]:
            """exact, and its distance to the I-step formula, the one-step formula and ∇L_q
            (I = 0)."""
            exact = _flat(_exact_gradient(p, eta, inner_steps))
            return exact, *(
                float(norm(exact - _flat(_alignment_gradient(p, eta, i))))
                for i in (inner_steps, 1, 0)
            )

        floor, rows = errors(_ROUNDOFF_ETA)[1], []
        for eta in etas:
            exact, err, one_step, first = errors(eta)
            flips = _activation_flips(p, eta, inner_steps)
            rows.append(
                {
                    "inner_steps": int(inner_steps),
                    "eta": eta,
                    "error": err,
                    "relative_error": err / float(norm(exact)),
                    "one_step_formula_error": one_step,
                    "first_order_error": first,
                    "activation_flips": flips,
                    "smooth": flips == 0,
                    "resolved": err > _RESOLUTION * floor,
                }
            )
    return pd.DataFrame(rows)


def _inner_steps_sweep(
    problem: _AlignmentProblem, inner_steps: Iterable[int] = (2, 5, 10), **grid
) -> pd.DataFrame:
    """:func:`_error_sweep` for each I in ``inner_steps``, each on its own flip-free
    :func:`_eta_grid` (``grid`` passes its options), stacked."""
    return pd.concat(
        [
            _error_sweep(problem, _eta_grid(problem, int(i), flip_free_only=True, **grid), int(i))
            for i in inner_steps
        ],
        ignore_index=True,
    )


def _fit_rows(sweep: pd.DataFrame) -> pd.Series:
    """The rows a slope is fitted on: flip-free and above the round-off floor."""
    mask = sweep["smooth"]
    return mask & sweep["resolved"] if "resolved" in sweep else mask


def _fitted_slope(
    sweep: pd.DataFrame, column: str = "error", *, smooth_only: bool = False
) -> float:
    """Least-squares slope of log(``column``) against log(η); with ``smooth_only``, on
    :func:`_fit_rows` only (``ValueError`` if fewer than 2 remain)."""
    if smooth_only:
        sweep = sweep[_fit_rows(sweep)]
        if len(sweep) < 2:
            raise ValueError(
                "fewer than 2 flip-free η values above round-off; use etas='auto' "
                "or extend etas towards smaller values"
            )
    slope, _ = np.polyfit(np.log(sweep["eta"].to_numpy()), np.log(sweep[column].to_numpy()), 1)
    return float(slope)


def _slope_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """Per number of inner steps: the flip-free fitting range (``eta_min``, ``eta_max``, ``n_fit``)
    and the fitted slopes of ``error`` (``slope``, expected 2), ``one_step_formula_error``
    (``slope_one_step_formula``, expected 1 for I > 1) and ``first_order_error``
    (``slope_first_order``, expected 1)."""
    rows = []
    for steps, group in sweep.groupby("inner_steps", sort=True):
        fit = group[_fit_rows(group)]
        rows.append(
            {
                "inner_steps": int(steps),
                "eta_min": fit["eta"].min(),
                "eta_max": fit["eta"].max(),
                "n_fit": len(fit),
                **{k: _fitted_slope(group, c, smooth_only=True) for k, c in _SLOPES.items()},
            }
        )
    return pd.DataFrame(rows)


def _long_form(
    sweep: pd.DataFrame, columns: Sequence[str] = ("error", "first_order_error")
) -> pd.DataFrame:
    """The sweep in long form for plotting: ``eta``, ``quantity`` (a label of
    :data:`_QUANTITY_LABELS`), ``norm``, and when the sweep has them ``inner_steps``, ``I``
    ("I = 2") and ``regime`` ("flip-free", "ReLU flips")."""
    ids = [c for c in ("eta", "inner_steps", "smooth") if c in sweep]
    out = sweep.melt(id_vars=ids, value_vars=list(columns), var_name="quantity", value_name="norm")
    out["quantity"] = out["quantity"].map(_QUANTITY_LABELS)
    if "inner_steps" in out:
        out["I"] = "I = " + out["inner_steps"].astype(str)
    if "smooth" in out:
        out["regime"] = np.where(out.pop("smooth"), "flip-free", "ReLU flips")
    return out


def _describe_flips(sweep: pd.DataFrame, eta_flip: float) -> str:
    """One sentence on the ReLU flips of an I = 1 sweep, true whatever the numbers."""
    n_flip = int((~sweep["smooth"]).sum())
    if not np.isfinite(eta_flip) and n_flip == 0:
        return (
            "no hidden unit changes sign anywhere on the grid "
            "(this network has no ReLU kink in reach)"
        )
    where = (
        f"the first sign change comes at η ≈ {eta_flip:.2g}"
        if np.isfinite(eta_flip)
        else "no sign change was found up to η = 1"
    )
    return (
        f"{where}, and {n_flip} of the {len(sweep)} grid values of η flip at least one hidden unit"
    )


def _derivation_checks(slopes: pd.DataFrame, *, tolerance: float = 0.1) -> pd.DataFrame:
    """The derivation claim's checks from a :func:`_slope_table`: per I, the I-step formula's
    error slope against 2, and per I > 1 the one-step formula's against 1. Each is an exact
    float64 computation on one problem (no seed spread): *reproduced* within ±``tolerance``,
    *contradicted* outside.

    Returns
    -------
    pandas.DataFrame
        One row per check: ``inner_steps``, ``formula`` ("Iη" or "one-step"), ``slope``,
        ``expected``, ``mean`` (slope − expected) and ``outcome``.
    """
    check_number("slope_tolerance", tolerance, 0, 1, closed=False)
    rows = []
    for r in slopes.itertuples():
        rows.append({"inner_steps": int(r.inner_steps), "formula": "Iη", "slope": r.slope})
        if r.inner_steps > 1:
            rows.append(
                {
                    "inner_steps": int(r.inner_steps),
                    "formula": "one-step",
                    "slope": r.slope_one_step_formula,
                }
            )
    checks = pd.DataFrame(rows, columns=["inner_steps", "formula", "slope"])
    checks["expected"] = np.where(checks["formula"] == "Iη", 2.0, 1.0)
    checks["mean"] = checks["slope"] - checks["expected"]
    checks["outcome"] = np.where(
        checks["mean"].abs() <= tolerance, stats.REPRODUCED, stats.CONTRADICTED
    )
    return checks


def _derivation_verdict(
    slopes: pd.DataFrame, *, tolerance: float = 0.1, dataset: str = ""
) -> claims.Verdict:
    """The "derivation" claim from a :func:`_slope_table` by :func:`_derivation_checks`:
    *reproduced* when every check is, *contradicted* when any is."""
    checks = _derivation_checks(slopes, tolerance=tolerance)
    verdict = claims.all_of(checks["outcome"])
    parts = [
        f"I = {int(r.inner_steps)}: slope {r.slope:.3f}"
        + (
            f" with the Iη term, {r.slope_one_step_formula:.3f} with the one-step formula"
            if r.inner_steps > 1
            else ""
        )
        for r in slopes.itertuples()
    ]
    where = f" on {dataset}" if dataset else ""
    evidence = (
        f"Slopes of the approximation error{where}, per check: "
        f"{claims.outcome_counts(checks['outcome'])} (flip-free log-log fits, expected 2, and 1 "
        f"for the one-step formula when I > 1, tolerance ±{tolerance:g}; an exact float64 "
        "computation on one problem, so no seeds). Slopes: " + "; ".join(parts) + "."
    )
    return claims.Verdict("derivation", verdict, evidence)


def _alignment_curves(
    dataset: str,
    *,
    seed: int = 0,
    split: str = "config1",
    epochs: int = 100,
    erm_lr: str = "faalgrad",
) -> pd.DataFrame:
    """cos(∇L(θ, X_s), ∇L(θ, X_q)) on the training X_s and X_q over training, for ERM and FaAlGrad:
    one row per (method, epoch), with ``dataset``, ``method`` (key: "erm", "faalgrad"), ``epoch``
    (0 = initialisation, e = after e epochs) and ``cosine``. Both start from the preset MLP's seeded
    initialisation and run exactly ``epochs`` full-batch epochs (no early stopping). FaAlGrad uses
    the dataset's preset; ERM trains on the whole training split (X_s ∪ X_q) with the same
    optimiser, and with FaAlGrad's outer learning rate (``erm_lr="faalgrad"``, so that only the
    objective differs) or the baseline preset's (``"baseline"``)."""
    _check_problem(dataset, seed, split)
    check_choice("erm_lr", erm_lr, _ERM_LRS)
    data = cached_split(dataset, seed)
    support, query = support_query(data.y_train, data.a_train, split, dataset=dataset, seed=seed)
    fa_config = faalgrad_config(dataset, max_epochs=epochs, patience=epochs)
    erm_cfg = erm_config(
        dataset,
        max_epochs=epochs,
        patience=epochs,
        **({"outer_lr": fa_config.outer_lr} if erm_lr == "faalgrad" else {}),
    )
    Xs, ys, Xq, yq = (
        as_tensor(a[rows]) for rows in (support, query) for a in (data.X_train, data.y_train)
    )
    model = build_mlp(Xs.shape[1], fa_config, seed)
    with single_thread(), torch.no_grad():
        start = gradient_cosine(
            {k: v.detach() for k, v in model.named_parameters()}, model, Xs, ys, Xq, yq
        )
    points = {method: [(0, start)] for method in _METHOD_LABELS}  # (epoch, cosine) per method key

    def record(method: str):  # the training callback of ``method``
        return lambda epoch, params: points[method].append(
            (epoch + 1, gradient_cosine(params, model, Xs, ys, Xq, yq))
        )

    with single_thread():
        train_erm(
            data.X_train,
            data.y_train,
            data.X_val,
            data.y_val,
            erm_cfg,
            seed,
            callback=record("erm"),
        )
        train_faalgrad(
            data.X_train[support],
            data.y_train[support],
            data.X_train[query],
            data.y_train[query],
            data.X_val,
            data.y_val,
            fa_config,
            seed,
            callback=record("faalgrad"),
        )
    return pd.DataFrame(
        [
            {"dataset": dataset, "seed": seed, "method": method, "epoch": epoch, "cosine": cosine}
            for method, curve in points.items()
            for epoch, cosine in curve
        ]
    )


def _alignment_summary(curves: pd.DataFrame, last_epochs: int = 20) -> pd.DataFrame:
    """Per dataset and seed: the mean cosine over training (epochs 1 ... E, ``<key>_mean``) and
    over the last ``last_epochs`` epochs (``<key>_last``) of each method key of
    :func:`_alignment_curves`."""
    check_int("last_epochs", last_epochs)
    rows = []
    for (dataset, seed), group in curves.groupby(["dataset", "seed"], sort=False):
        trained = group[group["epoch"] >= 1]
        last = trained[trained["epoch"] > trained["epoch"].max() - last_epochs]
        rows.append(
            {
                "dataset": dataset,
                "seed": seed,
                **{
                    f"{key}_{which}": frame.loc[frame["method"] == key, "cosine"].mean()
                    for key in _METHOD_LABELS
                    for which, frame in (("mean", trained), ("last", last))
                },
            }
        )
    return pd.DataFrame(rows)


#: The alignment claim's two windows: the summary columns' suffix and its label.
_WINDOWS = {"mean": "over training", "last": "last epochs"}


def _alignment_cells(summary: pd.DataFrame) -> pd.DataFrame:
    """The alignment claim's cells: per dataset and window (:data:`_WINDOWS`), FaAlGrad's mean
    cosine minus ERM's, paired by seed, with its outcome in the claim's direction (higher;
    the paper gives no number, so there is no effect of its own to rule out: reproduced,
    opposite or inconclusive), Holm-corrected over the cells.

    Returns
    -------
    pandas.DataFrame
        One row per cell: ``dataset``, ``window``, ``faalgrad``, ``erm`` (means over seeds),
        ``n``, ``mean``, ``low``, ``high``, ``p``, ``sd``, ``paper_effect`` (NaN),
        ``p_direction``, ``p_opposite``, ``p_smaller`` and ``outcome``.
    """
    rows = []
    for dataset, group in summary.groupby("dataset", sort=False):
        for window in _WINDOWS:
            fa, erm = group[f"faalgrad_{window}"], group[f"erm_{window}"]
            rows.append(
                {
                    "dataset": dataset,
                    "window": window,
                    "faalgrad": fa.mean(),
                    "erm": erm.mean(),
                    **stats.paired_difference(fa, erm),
                    "sd": float((fa - erm).std(ddof=1)) if len(group) > 1 else np.nan,
                    "paper_effect": np.nan,
                }
            )
    return stats.cell_outcomes(pd.DataFrame(rows), direction=1)


def _alignment_outcomes(cells: pd.DataFrame) -> pd.DataFrame:
    """Per dataset: the outcome of "higher in both windows" (:func:`claims.all_of`)."""
    return cells.groupby("dataset", sort=False)["outcome"].agg(claims.all_of).reset_index()


def _alignment_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Printable :func:`_alignment_cells`: the mean cosines, the paired difference ± the
    half-width of its 95 % interval, and the outcome."""
    return pd.DataFrame(
        {
            "dataset": cells["dataset"],
            "window": cells["window"].map(_WINDOWS),
            "FaAlGrad": cells["faalgrad"].map(lambda v: number(v, 3)),
            "ERM": cells["erm"].map(lambda v: number(v, 3)),
            "FaAlGrad − ERM": [
                f"{number(m, 3, sign=True)} ± {number((h - lo) / 2, 3)}"
                if pd.notna(lo)
                else number(m, 3, sign=True)
                for m, lo, h in zip(cells["mean"], cells["low"], cells["high"], strict=True)
            ],
            "outcome": cells["outcome"],
        }
    ).set_index(["dataset", "window"])


def _alignment_verdict(cells: pd.DataFrame, last_epochs: int = 20) -> claims.Verdict:
    """The "alignment" claim from :func:`_alignment_cells`: a dataset's outcome needs both
    windows (:func:`_alignment_outcomes`), and the claim follows
    :func:`claims.verdict_on_every_dataset`."""
    datasets = _alignment_outcomes(cells)
    parts = [
        f"{r.dataset} {r.faalgrad:.3f} vs {r.erm:.3f}"
        for r in cells[cells["window"] == "mean"].itertuples()
    ]
    evidence = (
        "FaAlGrad's cosine between the support and query gradients against ERM's, over "
        f"training and over the last {last_epochs} epochs, per dataset: "
        f"{claims.outcome_counts(datasets['outcome'])} (higher in both windows; paired over "
        f"{seed_count(cells['n'])} seeds and Holm-corrected over the {len(cells)} cells of "
        "dataset × window; the paper gives no number, so a cell is reproduced, opposite or "
        f"inconclusive). Cells: {claims.outcome_counts(cells['outcome'])}. Mean cosine over "
        "training, FaAlGrad vs ERM: " + "; ".join(parts) + "."
    )
    return claims.Verdict("alignment", claims.verdict_on_every_dataset(datasets), evidence)


def forest_figure(result: PageResult, claim: str):
    """The forest plot of the page's claim ``claim`` ("derivation": each check's slope minus
    its expected value, tolerance shaded; "alignment": each cell's paired difference).

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_choice("claim", claim, ("derivation", "alignment"))
    if claim == "derivation":
        tolerance = float(result["setting"]["slope_tolerance"].iloc[0])
        checks = _derivation_checks(result["slopes"], tolerance=tolerance)
        labels = [f"I = {r.inner_steps} · {r.formula} formula" for r in checks.itertuples()]
        return forest.forest_figure(
            checks, labels, "fitted slope − expected slope (shaded: tolerance)", band=tolerance
        )
    cells = result["alignment_cells"]
    labels = [f"{DATASET_LABELS[r.dataset]} · {_WINDOWS[r.window]}" for r in cells.itertuples()]
    return forest.forest_figure(cells, labels, "cosine difference, FaAlGrad − ERM")


def specs(params: Params) -> list[RunSpec]:
    """No grid runs: the page computes its gradients and trains its models itself, in
    :func:`compute`."""
    return []


def compute(params: Params, rows: pd.DataFrame) -> PageResult:
    """Every table of the page: ``setting`` (one row: the problem's size,
    :func:`_first_flip_eta`, the parameters the prose quotes), ``sweep`` (:func:`_error_sweep`,
    I = 1), ``multi`` (:func:`_inner_steps_sweep`), their :func:`_long_form` (``*_long``),
    ``slopes``, ``curves`` (labelled), ``summary``, and ``*_table`` (displayed).

    The page trains through no grid (:func:`specs` is empty): it computes the meta-gradients
    and trains the alignment runs itself, and ``rows`` (those of ``run_grid(specs(params))``,
    none) is ignored."""
    problem = _dataset_problem(params.dataset, params.seed, params.split)
    sweep = _error_sweep(problem, params.etas)
    setting = pd.DataFrame(
        [
            {
                **{
                    k: getattr(params, k)
                    for k in (
                        "dataset",
                        "split",
                        "erm_lr",
                        "epochs",
                        "last_epochs",
                        "slope_tolerance",
                    )
                },
                "n_params": problem.n_params,
                "n_support": len(problem.y_s),
                "n_query": len(problem.y_q),
                "eta_flip": _first_flip_eta(problem),
            }
        ]
    )
    multi = _inner_steps_sweep(problem, params.inner_steps)
    order = sorted(params.datasets, key=lambda d: -_ALIGNMENT_COST.get(d, 0))  # costliest first
    curves = pd.concat(
        Parallel(n_jobs=params.n_jobs)(
            delayed(_alignment_curves)(
                d, seed=s, split=params.split, epochs=params.epochs, erm_lr=params.erm_lr
            )
            for d in order
            for s in range(params.seeds)
        ),
        ignore_index=True,
    )
    curves = curves.sort_values(
        ["dataset", "seed"],
        key=lambda c: c.map(params.datasets.index) if c.name == "dataset" else c,
        kind="stable",
    ).reset_index(drop=True)
    summary = _alignment_summary(curves, params.last_epochs)
    cells = _alignment_cells(summary)
    return {
        "setting": setting,
        "sweep": sweep,
        "sweep_long": _long_form(sweep),
        "sweep_table": sweep.drop(columns=["inner_steps", "one_step_formula_error"]),
        "multi": multi,
        "multi_long": _long_form(multi, ["error", "one_step_formula_error"]),
        "slopes": _slope_table(pd.concat([sweep, multi], ignore_index=True)),
        "curves": curves.assign(method=curves["method"].map(_METHOD_LABELS)),
        "summary": summary,
        "alignment_cells": cells,
        "summary_table": _alignment_table(cells),
    }


def glue_values(result: PageResult) -> dict[str, str]:
    """The numbers the page's prose quotes, as text."""
    row, sweep, summary, slopes = (
        result["setting"].iloc[0],
        result["sweep"],
        result["summary"],
        result["slopes"],
    )
    one, multi = (
        slopes.iloc[0],
        slopes[slopes["inner_steps"] > 1],
    )  # the I = 1 row (the sweep's fit), the I > 1 rows
    datasets = _alignment_outcomes(result["alignment_cells"])
    higher = datasets["outcome"] == stats.REPRODUCED
    return {
        **{
            k: str(row[k])
            for k in (
                "dataset",
                "split",
                "n_params",
                "n_support",
                "n_query",
                "epochs",
                "last_epochs",
            )
        },
        "flips": _describe_flips(sweep, row["eta_flip"]),
        "slope_all": number(_fitted_slope(sweep), 2),
        "slope_smooth": number(one["slope"], 3),
        "slope_first_order": number(one["slope_first_order"], 3),
        "n_fit": str(int(one["n_fit"])),
        "fit_eta_min": f"{one['eta_min']:.2g}",
        "fit_eta_max": f"{one['eta_max']:.2g}",
        "n_unresolved": str(int((~sweep["resolved"]).sum())),
        "inner_steps_list": ", ".join(str(i) for i in multi["inner_steps"]),
        "slopes_multi": ", ".join(number(s, 3) for s in multi["slope"]),
        "slopes_one_step": ", ".join(number(s, 3) for s in multi["slope_one_step_formula"]),
        "erm_lr_label": _ERM_LR_LABELS[row["erm_lr"]],
        "n_datasets": str(summary["dataset"].nunique()),
        "n_seeds": seed_count(result["alignment_cells"]["n"]),
        "n_align_hold": str(int(higher.sum())),
        "align_held": ", ".join(datasets.loc[higher, "dataset"]) or "none",
        **{
            f"cos_{k}_{w}": number(summary[f"{k}_{w}"].mean(), 2)
            for k in _METHOD_LABELS
            for w in ("last", "mean")
        },
        "slope_tolerance": f"{row['slope_tolerance']:g}",
    }


def verdicts(result: PageResult) -> list[claims.Verdict]:
    """The page's claim verdicts: :func:`_derivation_verdict` and :func:`_alignment_verdict`."""
    setting = result["setting"].iloc[0]
    return [
        _derivation_verdict(
            result["slopes"], tolerance=setting["slope_tolerance"], dataset=setting["dataset"]
        ),
        _alignment_verdict(result["alignment_cells"], int(setting["last_epochs"])),
    ]
