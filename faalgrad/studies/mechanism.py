"""Is FaAlGrad's DP gain produced by its inner step on X_s (gradient alignment), by training on X_q
alone, or by stopping early? Arms on the same splits and seeds, per-epoch trajectories and DP at
equal validation accuracy.
Page: ``book/mechanism.ipynb`` ("Where the fairness comes from").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed

from faalgrad.baselines import predict_with_threshold
from faalgrad.metrics import aggregate, evaluate, mean_std
from faalgrad.presets import erm_config, faalgrad_config
from faalgrad.runs import (
    METHODS,
    SPLIT_LABELS,
    RunSpec,
    cached_split,
    erm_model,
    run_grid,
)
from faalgrad.splits import support_query
from faalgrad.studies import PageResult, claims, forest, stats
from faalgrad.studies._common import DATASET_LABELS, number, seed_count
from faalgrad.train import (
    as_tensor,
    build_mlp,
    gradient_cosine,
    logits,
    single_thread,
    train_erm,
    train_faalgrad,
)
from faalgrad.validation import check_datasets, check_int, check_n_jobs, check_seeds

__all__ = ["Params", "compute", "forest_figure", "glue_values", "specs", "verdicts"]

_FA = METHODS["faalgrad"].label
#: Display label of each arm key, (a) to (e).
_ARMS = {
    "faalgrad": f"(a) {_FA}",
    "no_alignment": "(b) inner lr 0",
    "first_order": "(c) first order",
    "stopped_erm": "(d) ERM stopped early",
    "erm": f"(e) {METHODS['erm'].label}",
}
#: The settings each FaAlGrad arm changes in the dataset's FaAlGrad preset.
_ARM_OVERRIDES = {
    "faalgrad": {},
    "no_alignment": {"inner_lr": 0.0},
    "first_order": {"first_order": True},
}
#: The arms FaAlGrad is compared with, and the two the verdict needs it to beat.
_CONTROLS: tuple[str, ...] = ("no_alignment", "first_order", "stopped_erm", "erm")
_VERDICT_CONTROLS: tuple[str, ...] = ("no_alignment", "stopped_erm")
#: The forest plot's short name of each of :data:`_VERDICT_CONTROLS`.
_ARM_SHORT = {"no_alignment": "no alignment", "stopped_erm": "stopped ERM"}
_MECHANISM_SPLITS: tuple[str, ...] = ("config1", "config2")
#: Protected-group thresholds of the baseline MLP's sweep (the unprotected group keeps 0.5).
_THRESHOLD_GRID: tuple[float, ...] = tuple(round(0.01 * k, 2) for k in range(101))
#: The references of the equal-accuracy comparison and their display labels.
_REFERENCES = {
    "erm_trajectory": "ERM trajectory (same seed)",
    "threshold_sweep": f"{METHODS['erm'].label} threshold sweep",
}
_LABELS = {
    "arm": _ARMS,
    "metric": {"dp_diff": "DP difference", "accuracy": "accuracy (points)"},
    "reference": _REFERENCES,
}
_METRICS = (
    ("accuracy", 100, "acc"),
    ("dp_diff", 1, "DP"),
    ("eod_diff", 1, "EOD"),
    ("epoch", 1, "selected epoch"),
)


@dataclass(frozen=True)
class Params:
    """``datasets``, ``seeds`` (0..seeds-1), ``trajectory_seeds`` (the first seeds traced),
    ``trajectory_epochs``, ``n_jobs`` and ``max_epochs`` (a cap on every arm's epochs, for quick
    checks; None: the presets')."""

    datasets: tuple[str, ...] = ("compas", "german", "communities")
    seeds: int = 10
    trajectory_seeds: int = 3
    trajectory_epochs: int = 100
    n_jobs: int = 2
    max_epochs: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "datasets", check_datasets("datasets", self.datasets, distinct=True)
        )
        check_seeds(self.seeds)
        check_int(
            "trajectory_seeds",
            self.trajectory_seeds,
            maximum=self.seeds,
            note=f"at most seeds={self.seeds}",
        )
        check_int("trajectory_epochs", self.trajectory_epochs)
        check_n_jobs(self.n_jobs)
        if self.max_epochs is not None:
            check_int("max_epochs", self.max_epochs, note="or None: the presets' epochs")

    def cap(self) -> dict:
        """The ``max_epochs`` override of every arm (empty without a cap)."""
        return {} if self.max_epochs is None else {"max_epochs": self.max_epochs}


def _arm_specs(params: Params) -> dict[str, list[RunSpec]]:
    """The runs of arms (a), (b), (c) and (e), keyed by arm, on the same datasets, splits and seeds.

    Parameters
    ----------
    params : Params

    Returns
    -------
    dict of str to list of RunSpec
        FaAlGrad arms: one run per (dataset, split, seed); the baseline MLP: one per (dataset,
        seed).
    """
    out = {
        arm: [
            RunSpec(d, "faalgrad", split=split, seed=s, overrides={**extra, **params.cap()})
            for d in params.datasets
            for split in _MECHANISM_SPLITS
            for s in range(params.seeds)
        ]
        for arm, extra in _ARM_OVERRIDES.items()
    }
    out["erm"] = [
        RunSpec(d, "erm", seed=s, overrides=params.cap())
        for d in params.datasets
        for s in range(params.seeds)
    ]
    return out


def specs(params: Params) -> list[RunSpec]:
    """Every run of :func:`_arm_specs`, arm after arm (arm (d) needs their rows:
    :func:`_stopped_specs`).

    Parameters
    ----------
    params : Params

    Returns
    -------
    list of RunSpec
    """
    return [spec for group in _arm_specs(params).values() for spec in group]


def _stopped_specs(rows: pd.DataFrame) -> list[RunSpec]:
    """Arm (d): ERM on the whole training split with FaAlGrad's optimiser and outer lr, for the
    selected epoch count of each FaAlGrad run (``best_epoch + 1`` epochs, no early stop before it).

    Parameters
    ----------
    rows : pandas.DataFrame
        Run rows of arm (a) (``dataset``, ``seed``, ``best_epoch``).

    Returns
    -------
    list of RunSpec
        One per row, in the rows' order.
    """
    return [
        RunSpec(
            r.dataset,
            "erm",
            seed=int(r.seed),
            overrides={
                "outer_lr": faalgrad_config(r.dataset).outer_lr,
                "max_epochs": int(r.best_epoch) + 1,
                "patience": int(r.best_epoch) + 1,
            },
        )
        for r in rows.itertuples()
    ]


def _closest_index(values, target: float, prefer=None) -> int:
    """Index of the value closest to ``target``; ties go to the smallest ``prefer`` (default: the
    first).

    Parameters
    ----------
    values : array-like of float
        E.g. validation accuracy per epoch or per threshold.
    target : float
        The value to match (FaAlGrad's validation accuracy).
    prefer : array-like of float, optional
        Tie-break key, smaller first.

    Returns
    -------
    int
    """
    gap = np.abs(np.asarray(values, dtype=float) - target)
    tied = np.flatnonzero(gap <= gap.min() + 1e-12)
    return (
        int(tied[np.argmin(np.asarray(prefer, dtype=float)[tied])])
        if prefer is not None
        else int(tied[0])
    )


def _point(data, scores_val, scores_test, threshold: float = 0.5) -> dict:
    """Validation and test metrics of one scored model: ``val_accuracy``, ``val_dp_diff``,
    ``accuracy``, ``dp_diff``."""
    val, test = (
        evaluate(y, predict_with_threshold(p, a, threshold), a)
        for p, y, a in (
            (scores_val, data.y_val, data.a_val),
            (scores_test, data.y_test, data.a_test),
        )
    )
    return {
        "val_accuracy": val["accuracy"],
        "val_dp_diff": val["dp_diff"],
        **{k: test[k] for k in ("accuracy", "dp_diff")},
    }


def _probe(dataset: str, seed: int, targets: dict[str, float], params: Params, trace: bool):
    """One (dataset, seed): ERM's trajectory and the equal-accuracy matches of FaAlGrad's
    ``targets`` (validation accuracy per split); with ``trace``, FaAlGrad's trajectories and the
    gradient cosines too."""
    data, epochs = cached_split(dataset, seed), params.trajectory_epochs
    fa_cfg = faalgrad_config(dataset, max_epochs=epochs, patience=epochs)
    erm_cfg = erm_config(dataset, max_epochs=epochs, patience=epochs, outer_lr=fa_cfg.outer_lr)
    sets = {
        s: support_query(data.y_train, data.a_train, s, dataset=dataset, seed=seed)
        for s in _MECHANISM_SPLITS
    }
    tensors = {
        s: [as_tensor(a[idx]) for idx in sq for a in (data.X_train, data.y_train)]
        for s, sq in sets.items()
    }
    model = build_mlp(data.X_train.shape[1], fa_cfg, seed)
    X_val, X_test = as_tensor(data.X_val), as_tensor(data.X_test)
    curves, scores, seen = (
        [],
        [],
        {},
    )  # rows; (val, test) scores per ERM epoch; metrics per prediction vector

    def record(method: str, splits: tuple[str, ...], keep: bool):
        def callback(epoch: int, theta) -> None:
            with torch.no_grad():
                val = torch.sigmoid(logits(theta, model, X_val)).numpy()
                if keep:
                    scores.append((val, torch.sigmoid(logits(theta, model, X_test)).numpy()))
            if trace:  # evaluated once per distinct prediction vector (plateaus repeat them)
                pred = predict_with_threshold(val, data.a_val, 0.5)
                m = seen.get(pred.tobytes()) or seen.setdefault(
                    pred.tobytes(), evaluate(data.y_val, pred, data.a_val)
                )
                for s in splits:
                    curves.append(
                        {
                            "dataset": dataset,
                            "split": s,
                            "seed": seed,
                            "method": method,
                            "epoch": epoch + 1,
                            "val_accuracy": m["accuracy"],
                            "val_dp_diff": m["dp_diff"],
                            "cosine": gradient_cosine(theta, model, *tensors[s]),
                        }
                    )

        return callback

    with single_thread():
        init = {k: v.detach() for k, v in model.named_parameters()}
        record("erm", _MECHANISM_SPLITS, False)(-1, init)
        train_erm(
            data.X_train,
            data.y_train,
            data.X_val,
            data.y_val,
            erm_cfg,
            seed,
            callback=record("erm", _MECHANISM_SPLITS, True),
        )
        for s in _MECHANISM_SPLITS if trace else ():
            record("faalgrad", (s,), False)(-1, init)
            (support, query), X, y = sets[s], data.X_train, data.y_train
            train_faalgrad(
                X[support],
                y[support],
                X[query],
                y[query],
                data.X_val,
                data.y_val,
                fa_cfg,
                seed,
                callback=record("faalgrad", (s,), False),
            )
        baseline = erm_model(dataset, seed, **params.cap())
        base_val, base_test = (
            baseline.predict_proba(data.X_val),
            baseline.predict_proba(data.X_test),
        )
    epoch_acc = [
        np.mean(predict_with_threshold(v, data.a_val, 0.5) == data.y_val) for v, _ in scores
    ]
    sweep_acc = [
        np.mean(predict_with_threshold(base_val, data.a_val, t) == data.y_val)
        for t in _THRESHOLD_GRID
    ]
    matches = []
    for s, target in targets.items():
        e = _closest_index(epoch_acc, target)
        t = _THRESHOLD_GRID[
            _closest_index(sweep_acc, target, prefer=[abs(t - 0.5) for t in _THRESHOLD_GRID])
        ]
        for reference, matched, point in (
            ("erm_trajectory", e + 1, _point(data, *scores[e])),
            ("threshold_sweep", t, _point(data, base_val, base_test, t)),
        ):
            matches.append(
                {
                    "dataset": dataset,
                    "split": s,
                    "seed": seed,
                    "reference": reference,
                    "matched": matched,
                    **point,
                }
            )
    return pd.DataFrame(curves), pd.DataFrame(matches)


def _check_rows(rows: pd.DataFrame, specs: list[RunSpec]) -> None:
    """A ``ValueError`` unless ``rows`` are the run rows of ``specs``, one per spec, in order."""
    expected = [
        (s.dataset, s.method, s.seed, ",".join(f"{k}={v}" for k, v in s.overrides)) for s in specs
    ]
    columns = ["dataset", "method", "seed", "overrides"]
    lined_up = (
        len(rows) == len(specs)
        and set(columns) <= set(rows.columns)
        and list(rows[columns].itertuples(index=False, name=None)) == expected
    )
    if not lined_up:
        raise ValueError(
            f"rows must be the {len(specs)} rows of run_grid(specs(params)), one per spec in the "
            f"specs' order; got {len(rows)} rows that do not match"
        )


def _probes(params: Params, fa: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One :func:`_probe` per (dataset, seed), the traced seeds first, on ``params.n_jobs``
    workers; ``fa`` holds arm (a)'s rows (its validation accuracy per split is the target).
    Returns the trajectories and the equal-accuracy matches, stacked."""
    jobs = [
        (
            d,
            s,
            fa[(fa["dataset"] == d) & (fa["seed"] == s)]
            .set_index("split")["val_accuracy"]
            .to_dict(),
        )
        for d in params.datasets
        for s in range(params.seeds)
    ]  # the traced seeds (first) run first
    out = Parallel(n_jobs=params.n_jobs)(
        delayed(_probe)(d, s, t, params, s < params.trajectory_seeds)
        for d, s, t in sorted(jobs, key=lambda job: job[1] >= params.trajectory_seeds)
    )
    curves, matches = (pd.concat([part[i] for part in out], ignore_index=True) for i in (0, 1))
    return curves, matches


def compute(params: Params, rows: pd.DataFrame) -> PageResult:
    """Everything the page shows, from the rows of arms (a), (b), (c) and (e).

    Runs arm (d) from (a)'s rows (:func:`_stopped_specs`), then one probe per (dataset, seed)
    (:func:`_probe`: the trajectories and the equal-accuracy references), then the tables.

    Parameters
    ----------
    params : Params
    rows : pandas.DataFrame
        The rows of ``run_grid(specs(params))``: one per spec, in the specs' order (checked).

    Returns
    -------
    dict
        ``trajectories`` (per-epoch validation accuracy, DP difference and gradient cosine of
        ERM and FaAlGrad on the first ``trajectory_seeds`` seeds; epoch 0 = initialisation),
        ``matches`` (the equal-accuracy references of every FaAlGrad run, with validation and
        test accuracy and DP) and the tables of :func:`_tables`, among them ``rows`` (every
        run row with an ``arm`` key; ``split`` is missing for the baseline MLP, shared by both
        configs).
    """
    groups = _arm_specs(params)
    _check_rows(rows, [spec for group in groups.values() for spec in group])
    rows = rows.assign(arm=[arm for arm, group in groups.items() for _ in group])
    fa = rows[rows["arm"] == "faalgrad"]
    stopped = run_grid(_stopped_specs(fa), n_jobs=params.n_jobs, progress=False)
    stopped["split"], stopped["arm"] = fa["split"].to_numpy(), "stopped_erm"
    rows = pd.concat([rows, stopped], ignore_index=True)
    rows["split"] = rows["split"].where(rows["arm"] != "erm", None)
    curves, matches = _probes(params, fa)
    return {
        "trajectories": curves,
        "matches": matches,
        **_tables(rows, curves, matches, params),
    }


def _signed(value, digits: int = 3, scale: float = 1.0) -> str:
    """``scale * value`` with a sign and ``digits`` decimals (a value rounding to zero prints as
    ``+0.000``)."""
    return number(round(scale * value, digits) + 0.0, digits, sign=True)


def _ci(row, digits: int = 3, scale: float = 1.0) -> str:
    """``"+0.012 [-0.004, +0.028]"``: a paired mean difference with its confidence interval."""
    low, high = (_signed(row[k], digits, scale) for k in ("low", "high"))
    return f"{_signed(row['mean'], digits, scale)} [{low}, {high}]"


def _paired_table(
    rows: pd.DataFrame, metrics: tuple[str, ...] = ("dp_diff", "accuracy")
) -> pd.DataFrame:
    """Paired differences FaAlGrad − arm per cell (dataset × config), by seed, Holm-corrected over
    the cells.

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows with ``arm``, ``dataset``, ``split`` (missing for an arm shared by both configs),
        ``seed`` and the ``metrics``.
    metrics : tuple of str
        The compared columns.

    Returns
    -------
    pandas.DataFrame
        One row per (control ``arm``, ``metric``, ``dataset``, ``split``): ``n``, ``mean``, ``low``,
        ``high``, ``p``, ``sd``, ``p_holm`` (:func:`~faalgrad.studies.stats.paired_cells`, one
        family per arm and metric) and ``lower`` (``p_holm`` < α and the interval entirely below
        0).
    """
    shared = rows["split"].isna()  # an arm serving both configs is the control of each
    rows = pd.concat(
        [rows[~shared], *(rows[shared].assign(split=s) for s in _MECHANISM_SPLITS)],
        ignore_index=True,
    )
    out = pd.concat(
        [
            stats.paired_cells(
                rows,
                ["dataset", "split"],
                m,
                rows["arm"] == "faalgrad",
                rows["arm"] == arm,
                spread=True,
            ).assign(arm=arm, metric=m)
            for arm in _CONTROLS
            if (rows["arm"] == arm).any()
            for m in metrics
        ],
        ignore_index=True,
    )
    out["lower"] = (out["p_holm"] < stats.ALPHA) & (out["high"] < 0)
    return out[
        [
            "arm",
            "metric",
            "dataset",
            "split",
            "n",
            "mean",
            "low",
            "high",
            "p",
            "sd",
            "p_holm",
            "lower",
        ]
    ]


def _equal_accuracy(rows: pd.DataFrame, matches: pd.DataFrame) -> pd.DataFrame:
    """DP difference FaAlGrad − reference at equal validation accuracy, per cell, on validation and
    test.

    Parameters
    ----------
    rows : pandas.DataFrame
        Run rows (arm (a) gives FaAlGrad's ``val_dp_diff`` and ``dp_diff``).
    matches : pandas.DataFrame
        The ``matches`` of :func:`compute`.

    Returns
    -------
    pandas.DataFrame
        One row per (``reference``, ``evaluated``: "validation" or "test", ``dataset``, ``split``)
        with the paired difference (``n`` ... ``p_holm``, Holm over the cells of one reference and
        split) and the mean accuracy gap FaAlGrad − reference on the validation split (``acc_gap``).
    """
    fa, parts = rows[rows["arm"] == "faalgrad"].assign(role="faalgrad"), []
    for reference, ref in matches.groupby("reference", sort=False):
        both = pd.concat([fa, ref.assign(role="reference")], ignore_index=True)
        gap = both.pivot_table(
            index=["dataset", "split", "seed"], columns="role", values="val_accuracy"
        ).dropna()
        gap = (
            (gap["faalgrad"] - gap["reference"])
            .groupby(level=["dataset", "split"])
            .mean()
            .rename("acc_gap")
        )
        for evaluated, col in (("validation", "val_dp_diff"), ("test", "dp_diff")):
            table = stats.paired_cells(
                both,
                ["dataset", "split"],
                col,
                both["role"] == "faalgrad",
                both["role"] == "reference",
            )
            parts.append(
                table.merge(gap.reset_index(), on=["dataset", "split"]).assign(
                    reference=reference, evaluated=evaluated
                )
            )
    out = pd.concat(parts, ignore_index=True)
    return out[
        [
            "reference",
            "evaluated",
            "dataset",
            "split",
            "n",
            "mean",
            "low",
            "high",
            "p",
            "p_holm",
            "acc_gap",
        ]
    ]


def _mechanism_cells(paired: pd.DataFrame) -> pd.DataFrame:
    """The claim's cells: FaAlGrad's test DP difference minus arm (b)'s (no alignment) and
    minus arm (d)'s (ERM stopped at FaAlGrad's epoch), per dataset and config, paired by seed,
    with their outcomes in the claim's direction (lower; the paper gives no number for these
    arms, so a cell is reproduced, opposite or inconclusive), Holm-corrected over all the
    claim's cells.

    Parameters
    ----------
    paired : pandas.DataFrame
        A :func:`_paired_table` with ``dp_diff`` rows for both arms.

    Returns
    -------
    pandas.DataFrame
        The ``dp_diff`` rows of the two arms with ``paper_effect`` (NaN), ``p_direction``,
        ``p_opposite``, ``p_smaller`` and ``outcome``.
    """
    dp = paired[(paired["metric"] == "dp_diff") & paired["arm"].isin(_VERDICT_CONTROLS)]
    if dp.empty or any(not (dp["arm"] == arm).any() for arm in _VERDICT_CONTROLS):
        raise ValueError(f"paired table needs dp_diff rows for arms {', '.join(_VERDICT_CONTROLS)}")
    cells = dp.drop(columns=["p_holm", "lower"]).assign(paper_effect=np.nan)
    return stats.cell_outcomes(cells.reset_index(drop=True), direction=-1)


def _mechanism_outcomes(cells: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, split): the outcome of "lower than both arms" (:func:`claims.all_of`)."""
    return (
        cells.groupby(["dataset", "split"], sort=False)["outcome"].agg(claims.all_of).reset_index()
    )


def _mechanism_verdict(paired: pd.DataFrame) -> claims.Verdict:
    """The "alignment_mechanism" claim: a cell (dataset × config) counts when FaAlGrad's test
    DP difference is lower than both arm (b), no alignment, and arm (d), ERM stopped early
    (:func:`_mechanism_cells`, :func:`_mechanism_outcomes`); the claim follows
    :func:`claims.verdict_on_every_dataset` over the cells (every cell must count).

    Parameters
    ----------
    paired : pandas.DataFrame
        A :func:`_paired_table` with ``dp_diff`` rows for both arms.

    Returns
    -------
    Verdict
    """
    cells = _mechanism_cells(paired)
    both = _mechanism_outcomes(cells)
    text = {
        arm: "; ".join(
            f"{DATASET_LABELS[r['dataset']]} {SPLIT_LABELS[r['split']]} {_ci(r)}"
            for r in cells[cells["arm"] == arm].to_dict("records")
        )
        for arm in _VERDICT_CONTROLS
    }
    counts = {
        arm: claims.outcome_counts(cells.loc[cells["arm"] == arm, "outcome"])
        for arm in _VERDICT_CONTROLS
    }
    evidence = (
        "FaAlGrad's test DP difference below both the no-alignment arm (inner lr 0) and ERM "
        "stopped at its selected epoch, per dataset × config: "
        f"{claims.outcome_counts(both['outcome'])} "
        f"(paired over {seed_count(cells['n'])} seeds, Holm-corrected over the {len(cells)} "
        "comparisons; the paper gives no number for these arms, so a cell is reproduced, "
        f"opposite or inconclusive). Below no alignment: {counts['no_alignment']}; below "
        f"stopped ERM: {counts['stopped_erm']}. Mean DP difference FaAlGrad − no alignment "
        f"[95 % CI]: {text['no_alignment']}. FaAlGrad − stopped ERM: {text['stopped_erm']}."
    )
    return claims.Verdict(
        "alignment_mechanism",
        claims.verdict_on_every_dataset(both, by=["dataset", "split"]),
        evidence,
    )


def forest_figure(result: PageResult):
    """The claim's forest plot: FaAlGrad's test DP difference minus each control arm's, per
    dataset and config, with its 95 % interval, coloured by outcome.

    Returns
    -------
    matplotlib.figure.Figure
    """
    cells = _mechanism_cells(result["paired"])
    labels = [
        f"{DATASET_LABELS[r.dataset]} · {SPLIT_LABELS[r.split]} · vs {_ARM_SHORT[r.arm]}"
        for r in cells.itertuples()
    ]
    return forest.forest_figure(cells, labels, "DP difference, FaAlGrad − control arm")


def _arm_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std per (dataset, config, arm) of test accuracy (%), DP and EOD difference and the
    selected epoch."""
    agg = aggregate(
        rows.assign(epoch=rows["best_epoch"] + 1, split=rows["split"].fillna("both")),
        ["dataset", "split", "arm"],
        ("accuracy", "dp_diff", "eod_diff", "epoch"),
    )
    rank = {
        **{d: i for i, d in enumerate(dict.fromkeys(rows["dataset"]))},
        **{a: i for i, a in enumerate(_ARMS)},
    }
    agg = agg.sort_values(
        ["dataset", "split", "arm"], key=lambda c: c if c.name == "split" else c.map(rank)
    )
    out = pd.DataFrame(
        {
            "dataset": agg["dataset"].map(DATASET_LABELS),
            "config": agg["split"].map({**SPLIT_LABELS, "both": "both"}),
            "arm": agg["arm"].map(_ARMS),
        }
    )
    for m, scale, name in _METRICS:
        out[name] = [
            mean_std(a, b, 0 if m == "epoch" else (1 if scale == 100 else 3), scale)
            for a, b in zip(agg[f"{m}_mean"], agg[f"{m}_std"], strict=True)
        ]
    out["seeds"] = agg["n_seeds"].to_numpy()
    return out.reset_index(drop=True)


def _display(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """A paired-difference table for display: the ``keys`` labelled (the index, so that each
    is shown once), "mean [low, high]", Holm-adjusted p."""
    out = pd.DataFrame({k: table[k].replace(_LABELS.get(k, {})) for k in keys})
    out["dataset"], out["config"] = (
        table["dataset"].map(DATASET_LABELS),
        table["split"].map(SPLIT_LABELS),
    )
    percent = table["metric"] == "accuracy" if "metric" in table else [False] * len(table)
    out["FaAlGrad − reference [95 % CI]"] = [
        _ci(r, 1, 100) if pc else _ci(r)
        for r, pc in zip(table.to_dict("records"), percent, strict=True)
    ]
    out["Holm p"] = ["< 0.001" if p < 0.001 else number(p, 3) for p in table["p_holm"]]
    out["seeds"] = table["n"].to_numpy()
    return out.set_index(keys)


def _tables(
    rows: pd.DataFrame, curves: pd.DataFrame, matches: pd.DataFrame, params: Params
) -> dict[str, pd.DataFrame]:
    """Every table of the page.

    Parameters
    ----------
    rows : pandas.DataFrame
        Every arm's run rows, with an ``arm`` key.
    curves, matches : pandas.DataFrame
        The trajectories and the equal-accuracy references of :func:`_probes`.
    params : Params

    Returns
    -------
    dict of str to pandas.DataFrame
        ``rows``, ``arms`` (mean ± std per arm), ``paired`` (:func:`_paired_table`) and
        ``paired_table`` (displayed), ``epochs`` (selected epoch per run of FaAlGrad, arm (b)
        and the baseline MLP, for the figure), ``curves`` (long form: ``quantity``,
        ``value``, labelled), ``equal`` (:func:`_equal_accuracy`) and ``equal_table``
        (displayed), ``setting`` (the parameters the prose quotes).
    """
    paired, equal = _paired_table(rows), _equal_accuracy(rows, matches)
    picked = rows[rows["arm"].isin(["faalgrad", "no_alignment", "erm"])]
    epochs = pd.DataFrame(
        {
            "dataset": picked["dataset"].map(DATASET_LABELS),
            "arm": picked["arm"].map(_ARMS),
            "config": picked["split"].map(SPLIT_LABELS).fillna("both"),
            "selected epoch": picked["best_epoch"] + 1,
        }
    )
    quantities = {
        "val_accuracy": "val. accuracy",
        "val_dp_diff": "val. DP difference",
        "cosine": "cos(∇L_s, ∇L_q)",
    }
    long = curves.melt(
        id_vars=["dataset", "split", "seed", "method", "epoch"],
        value_vars=list(quantities),
        var_name="quantity",
    )
    long = long.assign(
        dataset=long["dataset"].map(DATASET_LABELS),
        config=long["split"].map(SPLIT_LABELS),
        method=long["method"].map({"erm": f"ERM ({_FA}'s lr)", "faalgrad": _FA}),
        quantity=long["quantity"].map(quantities),
    )
    setting = pd.DataFrame(
        [{k: getattr(params, k) for k in ("seeds", "trajectory_seeds", "trajectory_epochs")}]
    )
    equal_table = _display(equal, ["reference", "evaluated"])
    equal_table["accuracy gap (points)"] = [_signed(g, 1, 100) for g in equal["acc_gap"]]
    return {
        "rows": rows,
        "arms": _arm_table(rows),
        "paired": paired,
        "paired_table": _display(paired, ["arm", "metric"]),
        "epochs": epochs,
        "curves": long,
        "equal": equal,
        "equal_table": equal_table,
        "setting": setting,
    }


def _range(values: pd.Series, digits: int = 3) -> str:
    return f"{_signed(values.min(), digits)} to {_signed(values.max(), digits)}"


def _significant(table: pd.DataFrame) -> tuple[str, str]:
    """How many cells differ significantly below and above 0 (Holm-adjusted p < α, interval off
    0)."""
    holm = table["p_holm"] < stats.ALPHA
    return str(int((holm & (table["high"] < 0)).sum())), str(int((holm & (table["low"] > 0)).sum()))


def glue_values(result: PageResult) -> dict[str, str]:
    """The numbers the page's prose quotes, as text.

    Parameters
    ----------
    result : dict
        :func:`compute`'s output.

    Returns
    -------
    dict of str to str
    """
    paired, equal, setting, rows = (
        result["paired"],
        result["equal"],
        result["setting"].iloc[0],
        result["rows"],
    )
    dp, acc = (paired[paired["metric"] == m].set_index("arm") for m in ("dp_diff", "accuracy"))
    epoch = rows.groupby("arm")["best_epoch"].median() + 1
    out = {k: str(int(setting[k])) for k in ("seeds", "trajectory_seeds", "trajectory_epochs")}
    out["n_cells"] = str(len(dp.loc[["no_alignment"]]))
    for arm in _CONTROLS:
        d = dp.loc[[arm]]
        out[f"dp_{arm}_lower"], out[f"dp_{arm}_higher"] = _significant(d)
        out.update(
            {
                f"dp_{arm}_range": _range(d["mean"]),
                f"dp_{arm}_median_abs": number(d["mean"].abs().median(), 3),
                f"acc_{arm}_range": _range(acc.loc[[arm], "mean"] * 100, 1),
            }
        )
    out.update(
        {
            f"epoch_{arm}_median": number(epoch[arm], 0)
            for arm in ("faalgrad", "no_alignment", "erm")
        }
    )
    for (reference, evaluated), group in equal.groupby(["reference", "evaluated"]):
        name = f"eq_{reference}_{'val' if evaluated == 'validation' else 'test'}"
        out[f"{name}_lower"], out[f"{name}_higher"] = _significant(group)
        out[f"{name}_range"], out[f"{name}_n"] = _range(group["mean"]), str(int(group["n"].max()))
    return out


def verdicts(result: PageResult) -> list[claims.Verdict]:
    """The page's claim verdicts: :func:`_mechanism_verdict`.

    Parameters
    ----------
    result : dict
        :func:`compute`'s output.

    Returns
    -------
    list of Verdict
    """
    return [_mechanism_verdict(result["paired"])]
