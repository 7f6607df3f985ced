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
from torch import nn
from torch.func import grad

from faalgrad.datasets import DATASETS
from faalgrad.presets import erm_config, faalgrad_config
from faalgrad.runs import METHODS, RunSpec, cached_split
from faalgrad.splits import support_query
from faalgrad.studies import PageResult, claims
from faalgrad.studies._common import number
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
    check_number,
    check_number_list,
)

__all__ = ["Params", "compute", "glue_values", "specs", "verdicts"]

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
    ``slope_tolerance``; the alignment over training's ``datasets``, ``epochs``, ``last_epochs`` and
    ``erm_lr``."""

    dataset: str = "compas"
    seed: int = 0
    split: str = "config1"
    etas: str | tuple[float, ...] = "auto"
    inner_steps: tuple[int, ...] = (2, 5, 10)
    slope_tolerance: float = 0.1
    datasets: tuple[str, ...] = DATASETS
    epochs: int = 100
    last_epochs: int = 20
    erm_lr: str = "faalgrad"

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


def _derivation_verdict(
    slopes: pd.DataFrame, *, tolerance: float = 0.1, dataset: str = ""
) -> claims.Verdict:
    """The "derivation" claim from a :func:`_slope_table` (I = 1 and I > 1 rows): one check per row,
    the I-step formula's error has slope 2 ± ``tolerance``, and one more per I > 1 row, the one-step
    formula's error has slope 1 ± ``tolerance``. All hold: reproduced; some: partly; none: not
    reproduced."""
    check_number("slope_tolerance", tolerance, 0, 1, closed=False)
    ok_two = (slopes["slope"] - 2).abs() <= tolerance
    multi = slopes["inner_steps"] > 1
    ok_one = (slopes.loc[multi, "slope_one_step_formula"] - 1).abs() <= tolerance
    n_hold, n_total = int(ok_two.sum() + ok_one.sum()), len(slopes) + int(multi.sum())
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
        f"Flip-free log-log slopes of the approximation error{where} (expected 2, and 1 for the "
        f"one-step formula when I > 1, tolerance ±{tolerance:g}): "
        + "; ".join(parts)
        + f"; {n_hold} of {n_total} checks hold."
    )
    return claims.Verdict("derivation", claims.verdict_from_counts(n_hold, n_total), evidence)


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
            {"dataset": dataset, "method": method, "epoch": epoch, "cosine": cosine}
            for method, curve in points.items()
            for epoch, cosine in curve
        ]
    )


def _alignment_summary(curves: pd.DataFrame, last_epochs: int = 20) -> pd.DataFrame:
    """Per dataset: the mean cosine over training (epochs 1 ... E, ``<key>_mean``) and over the last
    ``last_epochs`` epochs (``<key>_last``) of each method key of :func:`_alignment_curves`;
    ``holds`` if FaAlGrad's is higher in both."""
    check_int("last_epochs", last_epochs)
    rows = []
    for dataset, group in curves.groupby("dataset", sort=False):
        trained = group[group["epoch"] >= 1]
        last = trained[trained["epoch"] > trained["epoch"].max() - last_epochs]
        row = {
            "dataset": dataset,
            **{
                f"{key}_{which}": frame.loc[frame["method"] == key, "cosine"].mean()
                for key in _METHOD_LABELS
                for which, frame in (("mean", trained), ("last", last))
            },
        }
        row["holds"] = bool(
            row["faalgrad_mean"] > row["erm_mean"] and row["faalgrad_last"] > row["erm_last"]
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _alignment_verdict(summary: pd.DataFrame, last_epochs: int = 20) -> claims.Verdict:
    """The "alignment" claim from an :func:`_alignment_summary`: it holds on a dataset when
    FaAlGrad's mean cosine is higher than ERM's both over training and over the last ``last_epochs``
    epochs; all datasets: reproduced, some: partly, none: not reproduced."""
    n_hold, n_total = int(summary["holds"].sum()), len(summary)
    parts = [
        f"{r.dataset} {r.faalgrad_mean:.3f} vs {r.erm_mean:.3f} (last {last_epochs}: "
        f"{r.faalgrad_last:.3f} vs {r.erm_last:.3f})"
        for r in summary.itertuples()
    ]
    evidence = (
        "Mean cosine between the support and query gradients over training, FaAlGrad vs ERM: "
        + "; ".join(parts)
        + f"; FaAlGrad higher on {n_hold} of {n_total} datasets."
    )
    return claims.Verdict("alignment", claims.verdict_from_counts(n_hold, n_total), evidence)


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
    curves = pd.concat(
        [
            _alignment_curves(
                d, seed=params.seed, split=params.split, epochs=params.epochs, erm_lr=params.erm_lr
            )
            for d in params.datasets
        ],
        ignore_index=True,
    )
    summary = _alignment_summary(curves, params.last_epochs)
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
        "summary_table": summary.round(3),
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
        "n_datasets": str(len(summary)),
        "n_align_hold": str(int(summary["holds"].sum())),
        "align_held": ", ".join(summary.loc[summary["holds"], "dataset"]) or "none",
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
        _alignment_verdict(result["summary"], int(setting["last_epochs"])),
    ]
