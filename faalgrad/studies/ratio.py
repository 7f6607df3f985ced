"""The ratio and swap ablations (paper 5.5 and 5.6: Tables 2, 3 and 4, Figure 2).

Reading of the ratio (see :mod:`faalgrad.splits`): ``ratio`` is the X_s share of the
training split, written X_q:X_s (``0.2`` = ``"80:20"``). The ``ratio`` split fills X_s with
protected samples only, the ``swap`` split with unprotected samples only, so a ratio is
feasible only up to that group's share of the training split. Infeasible cells are kept
as rows with the builder's reason, never dropped.

Flow: :func:`ablation_specs` (feasible run specs + infeasible cells) ->
:func:`~faalgrad.experiments.run_grid` -> :func:`ablation_table` / :func:`group_table`
(beside :mod:`faalgrad.paper`) -> :func:`format_ablation_table` / :func:`format_group_table`
for printing; :func:`threshold_sweep` and :func:`tradeoff_frame` for Figure 2;
:func:`ratio_verdict`, :func:`inner_steps_verdict` and :func:`swap_verdict` for the claims.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Literal, Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from faalgrad import claims, experiments, paper
from faalgrad.datasets import DATASETS, load_dataset
from faalgrad.metrics import aggregate, mean_std
from faalgrad.splits import PAPER_RATIOS, format_ratio, parse_ratio, support_query, train_val_test_indices

Study = Literal["ratio", "swap"]
STUDIES: tuple[str, ...] = ("ratio", "swap")

#: Protected-group thresholds of the baseline sweep (the unprotected group keeps 0.5).
SWEEP_THRESHOLDS: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))
BASE_THRESHOLD = 0.5

#: Fairness metrics the claims are checked on, with their display names.
FAIRNESS: dict[str, str] = {"dp_diff": "DP", "eod_diff": "EOD"}
_TABLE_METRICS = ("accuracy", "dp_diff", "eod_diff")
_GROUP_METRICS = ("acc_protected", "acc_unprotected")
INFEASIBLE_COLUMNS = ["dataset", "split", "inner_steps", "ratio", "xq_xs", "reason"]


# --- parameters ---------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_parameters(
    *,
    study: Study = "ratio",
    datasets: Iterable[str] | None = None,
    seeds: int | None = None,
    ratios: Sequence[float | str] | None = None,
    inner_steps: Sequence[int] | None = None,
    n_jobs: int | None = None,
) -> None:
    """Validate an ablation page's parameters; a ``ValueError`` names the parameter and the valid choices.

    ``datasets``, ``seeds``, ``n_jobs`` as in :func:`faalgrad.experiments.check_parameters`;
    ``ratios``: at least two distinct X_s shares, each a float in (0, 1) or an ``"X_q:X_s"``
    string; ``inner_steps``: a list of distinct positive integers, at least two for the
    ``ratio`` study (its claim compares them), at least one for ``swap``.
    """
    if study not in STUDIES:
        raise ValueError(f"study={study!r}; valid choices: {', '.join(STUDIES)}")
    experiments.check_parameters(datasets=datasets, seeds=seeds, n_jobs=n_jobs)
    if ratios is not None:
        paper_grid = ", ".join(format_ratio(r) for r in PAPER_RATIOS)
        valid = f"valid choices: floats in (0, 1) (the X_s share) or 'X_q:X_s' strings, e.g. the paper's {paper_grid}"
        if isinstance(ratios, (str, float, int)) or not isinstance(ratios, Iterable):
            raise ValueError(f"ratios={ratios!r} must be a list; {valid}")
        shares = []
        for value in ratios:
            if isinstance(value, bool) or not isinstance(value, (str, float, int, np.floating, np.integer)):
                raise ValueError(f"ratios: {value!r} is not a ratio; {valid}")
            try:
                shares.append(parse_ratio(value))
            except ValueError as error:
                raise ValueError(f"ratios: {error}; {valid}") from None
        if len(set(shares)) < 2 or len(set(shares)) != len(shares):
            raise ValueError(f"ratios={list(ratios)!r} must hold at least two distinct ratios (no repeats); {valid}")
    if inner_steps is not None:
        least = 2 if study == "ratio" else 1
        valid = f"a list of at least {least} distinct positive integers, e.g. [1, 10]"
        if isinstance(inner_steps, (str, bytes)) or not isinstance(inner_steps, Iterable):
            raise ValueError(f"inner_steps={inner_steps!r} must be {valid}")
        steps = list(inner_steps)
        if not all(_is_int(i) and i >= 1 for i in steps) or len(set(steps)) != len(steps) or len(steps) < least:
            raise ValueError(f"inner_steps={steps!r} must be {valid}")


# --- run specs ----------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _train_labels(dataset: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    ds = load_dataset(dataset)
    train, _, _ = train_val_test_indices(ds.y, ds.a, seed)
    return ds.y[train], ds.a[train]


def infeasibility(dataset: str, split: Study, ratio: float | str, seed: int = 0) -> str | None:
    """The support/query builder's ``ValueError`` text if ``ratio`` is infeasible on ``seed``'s split, else ``None``."""
    y, a = _train_labels(dataset, int(seed))
    try:
        support_query(y, a, split, dataset=dataset, ratio=ratio, seed=seed)
    except ValueError as error:
        return str(error)
    return None


def ablation_specs(
    datasets: Iterable[str],
    seeds: int,
    ratios: Iterable[float | str] = PAPER_RATIOS,
    inner_steps: Iterable[int] = (1, 10),
    *,
    split: Study = "ratio",
    **overrides,
) -> tuple[list[experiments.RunSpec], pd.DataFrame]:
    """Run specs of every feasible (dataset, I, ratio) cell, and the infeasible cells.

    A cell is infeasible when the ratio cannot be met on any one seed's training split;
    all its seeds are then left out, and the returned frame (columns
    :data:`INFEASIBLE_COLUMNS`) holds one row per such cell with the builder's reason.
    """
    if split not in STUDIES:
        raise ValueError(f"split={split!r}; valid choices: {', '.join(STUDIES)}")
    seeds = experiments.check_seeds(seeds)
    specs, infeasible = [], []
    for dataset in datasets:
        for steps in inner_steps:
            for value in ratios:
                share = parse_ratio(value)
                reasons = (infeasibility(dataset, split, share, seed) for seed in range(seeds))
                reason = next((r for r in reasons if r is not None), None)
                if reason is not None:
                    infeasible.append((dataset, split, steps, share, format_ratio(share), reason))
                    continue
                specs += [
                    experiments.RunSpec(dataset, "faalgrad", split=split, ratio=share, inner_steps=steps, seed=seed,
                                        overrides=overrides)
                    for seed in range(seeds)
                ]
    return specs, pd.DataFrame(infeasible, columns=INFEASIBLE_COLUMNS)


# --- tables beside the paper --------------------------------------------------------------


def paper_values(split: Study) -> pd.DataFrame:
    """The paper's cells of one study: Table 2 (``ratio``) or Table 4 (``swap``, COMPAS, I = 1).

    Columns ``dataset``, ``inner_steps``, ``xq_xs``, ``accuracy``, ``dp_diff``, ``eod_diff``
    (accuracy as a fraction) and ``paper_feasible`` (False where the paper reports the cell
    as not feasible).
    """
    if split == "ratio":
        table = paper.table2()
    elif split == "swap":
        table = _paper_table4()
    else:
        raise ValueError(f"split={split!r}; valid choices: {', '.join(STUDIES)}")
    table = table.rename(columns={"ratio": "xq_xs"}).astype({"inner_steps": "Int64"})
    table["paper_feasible"] = table[list(_TABLE_METRICS)].notna().any(axis=1)
    return table[["dataset", "inner_steps", "xq_xs", *_TABLE_METRICS, "paper_feasible"]]


def _paper_table4() -> pd.DataFrame:
    """:func:`faalgrad.paper.table4` (COMPAS, I = 1) with ``dataset`` and ``inner_steps`` columns."""
    table = paper.table4()
    defaults = {"dataset": "compas", "inner_steps": 1}
    return table.assign(**{k: v for k, v in defaults.items() if k not in table})


def _cells(rows: pd.DataFrame, infeasible: pd.DataFrame, split: str, metrics: Sequence[str]) -> pd.DataFrame:
    """Our mean/std per (dataset, I, ratio), with the infeasible cells as rows of NaN."""
    rows = rows[rows["split"] == split] if len(rows) else rows
    if len(rows):
        ours = aggregate(rows, ["dataset", "inner_steps", "ratio"], tuple(metrics))
    else:
        ours = pd.DataFrame(columns=["dataset", "inner_steps", "ratio", "n_seeds"]
                            + [f"{m}_{s}" for m in metrics for s in ("mean", "std")])
    ours["feasible"], ours["reason"] = True, ""
    bad = infeasible[infeasible["split"] == split] if len(infeasible) else infeasible
    bad = bad.assign(feasible=False, n_seeds=0)[["dataset", "inner_steps", "ratio", "feasible", "reason", "n_seeds"]]
    cells = pd.concat([ours, bad], ignore_index=True) if len(bad) else ours
    cells = cells.astype({"inner_steps": "Int64", "ratio": float, "n_seeds": int, "feasible": bool})
    cells["xq_xs"] = [format_ratio(r) for r in cells["ratio"]]
    return _sorted(cells, ["inner_steps", "ratio"])


def ablation_table(rows: pd.DataFrame, infeasible: pd.DataFrame, *, split: Study = "ratio") -> pd.DataFrame:
    """Table 2 (``ratio``) or Table 4 (``swap``) from run rows, beside the paper.

    One row per requested (dataset, I, ratio) cell, infeasible ones included (``feasible``
    False, ``reason`` the builder's message). Columns ``<metric>_paper``, ``_mean``,
    ``_std`` and ``_diff`` (ours - paper) for accuracy (fraction), DP and EOD difference;
    ``paper_feasible`` is False where the paper reports the cell as not feasible and NaN
    where the paper has no such cell.
    """
    cells = _cells(rows, infeasible, split, _TABLE_METRICS)
    reported = paper_values(split)
    out = cells.merge(reported, on=["dataset", "inner_steps", "xq_xs"], how="left")
    for m in _TABLE_METRICS:
        out[f"{m}_paper"] = out.pop(m)
        out[f"{m}_diff"] = out[f"{m}_mean"] - out[f"{m}_paper"]
    cols = ["dataset", "inner_steps", "ratio", "xq_xs", "feasible", "reason"] + [
        f"{m}_{s}" for m in _TABLE_METRICS for s in ("paper", "mean", "std", "diff")
    ] + ["paper_feasible", "n_seeds"]
    return out[cols]


def baseline_groups(sweep: pd.DataFrame, dataset: str = "compas") -> pd.DataFrame:
    """Per-seed baseline MLP rows (threshold 0.5 for both groups) taken from a threshold sweep."""
    base = sweep[(sweep["dataset"] == dataset) & np.isclose(sweep["threshold"], BASE_THRESHOLD)]
    return base.reset_index(drop=True)


def group_table(rows: pd.DataFrame, infeasible: pd.DataFrame, sweep: pd.DataFrame, *, dataset: str = "compas") -> pd.DataFrame:
    """Table 3: per-group accuracy (fractions) of the baseline MLP and each (I, ratio) cell, beside the paper.

    The baseline row comes from ``sweep`` at threshold 0.5 (:func:`baseline_groups`); its
    ``inner_steps`` is missing and ``xq_xs`` is ``"baseline"``. Columns
    ``acc_protected_{paper,mean,std,diff}``, the same for ``acc_unprotected``, and
    ``gap_mean`` / ``gap_paper`` (unprotected minus protected accuracy).
    """
    cells = _cells(rows[rows["dataset"] == dataset] if len(rows) else rows,
                   infeasible[infeasible["dataset"] == dataset] if len(infeasible) else infeasible,
                   "ratio", _GROUP_METRICS)
    base = baseline_groups(sweep, dataset)
    if len(base):
        agg = aggregate(base.assign(row="baseline"), ["row"], _GROUP_METRICS).drop(columns="row")
        agg = agg.assign(dataset=dataset, inner_steps=pd.NA, ratio=np.nan, xq_xs="baseline", feasible=True, reason="")
        cells = pd.concat([agg.astype({"inner_steps": "Int64"}), cells], ignore_index=True)
    reported = paper.table3().rename(columns={"ratio": "xq_xs"}) if dataset == "compas" else pd.DataFrame(
        columns=["inner_steps", "xq_xs", *_GROUP_METRICS])
    out = cells.merge(reported.astype({"inner_steps": "Int64"}), on=["inner_steps", "xq_xs"], how="left")
    for m in _GROUP_METRICS:
        out[f"{m}_paper"] = out.pop(m).astype(float)
        out[f"{m}_diff"] = out[f"{m}_mean"] - out[f"{m}_paper"]
    out["gap_mean"] = out["acc_unprotected_mean"] - out["acc_protected_mean"]
    out["gap_paper"] = out["acc_unprotected_paper"] - out["acc_protected_paper"]
    cols = ["dataset", "inner_steps", "xq_xs", "feasible", "reason"] + [
        f"{m}_{s}" for m in _GROUP_METRICS for s in ("paper", "mean", "std", "diff")
    ] + ["gap_paper", "gap_mean", "n_seeds"]
    return out[cols]


# --- printing -----------------------------------------------------------------------------


def short_reason(reason: str) -> str:
    """The builder's message without its leading "ratio ... is infeasible for ... :" part."""
    head, sep, tail = reason.partition(": ")
    return tail if sep and "infeasible" in head else reason


def _num(value, digits: int, scale: float = 1.0, sign: bool = False) -> str:
    if pd.isna(value):
        return "–"
    return f"{scale * value:+.{digits}f}" if sign else f"{scale * value:.{digits}f}"


def _note(row) -> str:
    notes = []
    if not row["feasible"]:
        notes.append(f"infeasible here: {short_reason(row['reason'])}")
    reported = row.get("paper_feasible")
    if isinstance(reported, (bool, np.bool_)) and not reported:
        notes.append("the paper reports it as not feasible")
    return "; ".join(notes)


def format_ablation_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Printable copy of :func:`ablation_table`: accuracy in percent, "mean ± std" strings, a note column.

    Infeasible cells read "infeasible" in the "ours" columns and give the reason in ``note``.
    """
    out = pd.DataFrame({"dataset": table["dataset"], "I": table["inner_steps"].astype("string"),
                        "X_q:X_s": table["xq_xs"]})
    for m, scale, name in (("accuracy", 100, "acc"), ("dp_diff", 1, "DP"), ("eod_diff", 1, "EOD")):
        out[f"{name} paper"] = [_num(v, digits, scale) for v in table[f"{m}_paper"]]
        out[f"{name} ours"] = [
            mean_std(a, b, digits, scale) if ok else "infeasible"
            for a, b, ok in zip(table[f"{m}_mean"], table[f"{m}_std"], table["feasible"])
        ]
        out[f"{name} diff"] = [_num(v, digits, scale, sign=True) for v in table[f"{m}_diff"]]
    out["note"] = [_note(row) for _, row in table.iterrows()]
    return out.reset_index(drop=True)


def format_group_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Printable copy of :func:`group_table`, accuracies in percent."""
    out = pd.DataFrame({"I": table["inner_steps"].astype("string").fillna("–"), "X_q:X_s": table["xq_xs"]})
    for m, name in (("acc_protected", "protected"), ("acc_unprotected", "unprotected")):
        out[f"{name} paper"] = [_num(v, digits, 100) for v in table[f"{m}_paper"]]
        out[f"{name} ours"] = [
            mean_std(a, b, digits, 100) if ok else "infeasible"
            for a, b, ok in zip(table[f"{m}_mean"], table[f"{m}_std"], table["feasible"])
        ]
        out[f"{name} diff"] = [_num(v, digits, 100, sign=True) for v in table[f"{m}_diff"]]
    out["gap paper"] = [_num(v, digits, 100) for v in table["gap_paper"]]
    out["gap ours"] = [_num(v, digits, 100) for v in table["gap_mean"]]
    out["note"] = [_note(row) for _, row in table.iterrows()]
    return out.reset_index(drop=True)


# --- the baseline's threshold sweep (Figure 2) --------------------------------------------


def sweep_scores(scores, y, a, thresholds: Sequence[float] = SWEEP_THRESHOLDS, base: float = BASE_THRESHOLD) -> pd.DataFrame:
    """Metrics of every protected-group threshold, the unprotected group kept at ``base``.

    Predictions are those of :func:`faalgrad.baselines.predict_with_threshold`; the metrics
    follow fairlearn's definitions (DP difference = gap in selection rate, EOD difference =
    the larger of the TPR and FPR gaps), vectorised over the thresholds. One row per
    threshold: ``accuracy``, ``dp_diff``, ``eod_diff``, ``acc_protected``,
    ``acc_unprotected``, ``selection_protected``, ``selection_unprotected``.
    """
    scores, y, a = np.asarray(scores, dtype=float), np.asarray(y).astype(int), np.asarray(a).astype(int)
    t = np.asarray(thresholds, dtype=float)[:, None]
    pred = np.where(a == 1, scores >= t, scores >= base)
    correct = pred == y
    group = {g: a == g for g in (0, 1)}
    sel = {g: pred[:, m].mean(axis=1) for g, m in group.items()}
    tpr = {g: pred[:, m & (y == 1)].mean(axis=1) for g, m in group.items()}
    fpr = {g: pred[:, m & (y == 0)].mean(axis=1) for g, m in group.items()}
    return pd.DataFrame({
        "threshold": np.asarray(thresholds, dtype=float),
        "accuracy": correct.mean(axis=1),
        "dp_diff": np.abs(sel[1] - sel[0]),
        "eod_diff": np.maximum(np.abs(tpr[1] - tpr[0]), np.abs(fpr[1] - fpr[0])),
        "acc_protected": correct[:, group[1]].mean(axis=1),
        "acc_unprotected": correct[:, group[0]].mean(axis=1),
        "selection_protected": sel[1],
        "selection_unprotected": sel[0],
    })


def _sweep_one(dataset: str, seed: int, thresholds: tuple[float, ...]) -> pd.DataFrame:
    model = experiments.erm_model(dataset, seed)
    data = experiments.split_data(dataset, seed)
    with experiments.single_thread():
        scores = model.predict_proba(data.X_test)
    return sweep_scores(scores, data.y_test, data.a_test, thresholds).assign(dataset=dataset, seed=seed)


def threshold_sweep(
    datasets: Iterable[str], seeds: int, thresholds: Sequence[float] = SWEEP_THRESHOLDS, *, n_jobs: int = 1
) -> pd.DataFrame:
    """The baseline MLP's protected-group threshold sweep on the test split, per (dataset, seed, threshold).

    Each seed's model is :func:`faalgrad.experiments.erm_model` (the Table 1 baseline) and
    its data :func:`faalgrad.experiments.split_data`; nothing is selected, the whole curve
    is reported. Seeds run in parallel with joblib (``n_jobs``).
    """
    datasets, seeds = list(datasets), experiments.check_seeds(seeds)
    thresholds = tuple(float(t) for t in thresholds)
    jobs = [(d, s) for d in datasets for s in range(seeds)]
    by_cost = sorted(jobs, key=lambda job: -len(load_dataset(job[0])))  # largest datasets first
    frames = dict(zip(by_cost, Parallel(n_jobs=n_jobs)(delayed(_sweep_one)(d, s, thresholds) for d, s in by_cost)))
    out = pd.concat([frames[job] for job in jobs], ignore_index=True)
    return out[["dataset", "seed", *out.columns.drop(["dataset", "seed"])]]


def sweep_curve(sweep: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds of the sweep, per (dataset, threshold)."""
    metrics = [c for c in sweep.columns if c not in ("dataset", "seed", "threshold")]
    return sweep.groupby(["dataset", "threshold"], sort=False)[metrics].mean().reset_index()


SWEEP_SERIES = "Baseline MLP, threshold sweep"


def tradeoff_frame(table: pd.DataFrame, sweep: pd.DataFrame) -> pd.DataFrame:
    """Figure 2 in long form: the sweep curve and FaAlGrad's feasible ratio cells (means over seeds).

    Columns ``dataset``, ``series`` (:data:`SWEEP_SERIES` first, then ``"FaAlGrad, I=<I>"``),
    ``label`` (threshold or X_q:X_s), ``accuracy`` (percent) and ``dp_diff``.
    """
    curve = sweep_curve(sweep)
    line = pd.DataFrame({"dataset": curve["dataset"], "series": SWEEP_SERIES,
                         "label": [f"t={t:.2f}" for t in curve["threshold"]],
                         "accuracy": 100 * curve["accuracy"], "dp_diff": curve["dp_diff"]})
    ok = table[table["feasible"]]
    points = pd.DataFrame({"dataset": ok["dataset"], "series": [f"FaAlGrad, I={i}" for i in ok["inner_steps"]],
                           "label": ok["xq_xs"], "accuracy": 100 * ok["accuracy_mean"], "dp_diff": ok["dp_diff_mean"]})
    return pd.concat([line, points], ignore_index=True)


def sweep_comparison(table: pd.DataFrame, sweep: pd.DataFrame) -> pd.DataFrame:
    """Does each FaAlGrad cell beat the threshold sweep? (means over seeds, test split)

    For a cell with DP difference d, ``sweep_accuracy`` is the best mean accuracy of a
    sweep threshold whose mean DP difference is at most d (NaN if none is that fair);
    ``above`` is True when the cell's accuracy exceeds it (or no threshold is that fair).
    """
    curve = sweep_curve(sweep)
    out = table.loc[table["feasible"], ["dataset", "inner_steps", "xq_xs", "accuracy_mean", "dp_diff_mean"]].copy()
    best = []
    for dataset, dp in zip(out["dataset"], out["dp_diff_mean"]):
        c = curve[(curve["dataset"] == dataset) & (curve["dp_diff"] <= dp)]
        best.append(c["accuracy"].max() if len(c) else np.nan)
    out["sweep_accuracy"] = best
    out["above"] = ~(out["sweep_accuracy"] >= out["accuracy_mean"])
    return out.reset_index(drop=True)


# --- long form for the trend plots --------------------------------------------------------

STUDY_LABELS = {"ratio": "ratio: protected in X_s", "swap": "swap: unprotected in X_s"}


def trend_long(rows: pd.DataFrame, *, with_paper: bool = True) -> pd.DataFrame:
    """DP and EOD difference against the X_s share, long form: one row per (run, metric).

    Columns ``dataset``, ``study`` (:data:`STUDY_LABELS`), ``inner_steps``, ``source``
    (``"ours"`` per run, ``"paper"`` per reported cell of Tables 2 and 4 for the same
    datasets and inner steps), ``x_s_share``, ``metric`` ("DP difference", "EOD difference")
    and ``value``.
    """
    names = {"dp_diff": "DP difference", "eod_diff": "EOD difference"}
    rows = rows[rows["split"].isin(STUDIES)]
    ours = rows.melt(id_vars=["dataset", "split", "inner_steps", "ratio"], value_vars=list(names),
                     var_name="metric", value_name="value").assign(source="ours")
    frames = [ours]
    if with_paper:
        for split in STUDIES:
            if not (rows["split"] == split).any():
                continue
            keys = rows.loc[rows["split"] == split, ["dataset", "inner_steps"]].drop_duplicates()
            reported = paper_values(split).merge(keys.astype({"inner_steps": "Int64"}), on=["dataset", "inner_steps"])
            reported = reported.assign(split=split, ratio=[parse_ratio(r) for r in reported["xq_xs"]])
            frames.append(reported.melt(id_vars=["dataset", "split", "inner_steps", "ratio"], value_vars=list(names),
                                        var_name="metric", value_name="value").dropna(subset=["value"])
                          .assign(source="paper"))
    out = pd.concat(frames, ignore_index=True)
    out["study"] = out.pop("split").map(STUDY_LABELS)
    out["metric"] = out["metric"].map(names)
    out = out.rename(columns={"ratio": "x_s_share"}).astype({"inner_steps": int, "value": float})
    return out[["dataset", "study", "inner_steps", "source", "x_s_share", "metric", "value"]]


# --- claims -------------------------------------------------------------------------------


def trend_cases(table: pd.DataFrame, value: Literal["mean", "paper"] = "mean") -> pd.DataFrame:
    """Per (dataset, I, metric): the value at the smallest and at the largest ratio that has one.

    ``value="mean"`` reads our means (feasible cells), ``"paper"`` the paper's cells.
    ``holds`` is True when the value at the largest ratio is below the smallest ratio's.
    Groups with fewer than two such ratios are left out.
    """
    out = []
    for metric in FAIRNESS:
        col = f"{metric}_{value}"
        have = table[table[col].notna()].sort_values("ratio")
        for (dataset, steps), cell in have.groupby(["dataset", "inner_steps"], sort=False):
            if len(cell) < 2:
                continue
            first, last = cell.iloc[0], cell.iloc[-1]
            out.append((dataset, steps, metric, first["xq_xs"], last["xq_xs"], first[col], last[col]))
    cases = pd.DataFrame(out, columns=["dataset", "inner_steps", "metric", "from_ratio", "to_ratio", "from_value", "to_value"])
    cases["holds"] = cases["to_value"] < cases["from_value"]
    return _sorted(cases, ["inner_steps", "metric"])


def steps_cases(table: pd.DataFrame, value: Literal["mean", "paper"] = "mean") -> pd.DataFrame:
    """Per (dataset, ratio, metric): the value at the fewest and at the most inner steps.

    ``holds`` is True when the most inner steps give the lower value. Cells missing either
    inner-step count are left out.
    """
    out = []
    steps = sorted(table["inner_steps"].dropna().unique())
    if len(steps) >= 2:
        lo, hi = steps[0], steps[-1]
        for metric in FAIRNESS:
            col = f"{metric}_{value}"
            have = table[table[col].notna()]
            wide = have.pivot_table(index=["dataset", "xq_xs", "ratio"], columns="inner_steps", values=col, sort=False)
            if lo not in wide or hi not in wide:
                continue
            wide = wide[[lo, hi]].dropna().reset_index()
            for r in wide.itertuples(index=False):
                out.append((r[0], r[1], r[2], metric, int(lo), int(hi), r[3], r[4]))
    cases = pd.DataFrame(out, columns=["dataset", "xq_xs", "ratio", "metric", "few_steps", "many_steps",
                                       "few_value", "many_value"])
    cases["holds"] = cases["many_value"] < cases["few_value"]
    return _sorted(cases, ["ratio", "metric"])


def _sorted(frame: pd.DataFrame, then: list[str]) -> pd.DataFrame:
    """``frame`` sorted by dataset (in :data:`DATASETS` order), then by ``then``."""
    order = {d: i for i, d in enumerate(DATASETS)}
    frame = frame.assign(_order=frame["dataset"].map(order))
    return frame.sort_values(["_order", *then], kind="stable").drop(columns="_order").reset_index(drop=True)


def _counts(cases: pd.DataFrame) -> dict[str, tuple[int, int]]:
    return {m: (int(cases.loc[cases["metric"] == m, "holds"].sum()), int((cases["metric"] == m).sum())) for m in FAIRNESS}


def _trend_verdict(key: str, table: pd.DataFrame, unit: str, what: str) -> claims.Verdict:
    cases = trend_cases(table)
    if cases.empty:
        raise ValueError(f"claim {key!r}: no {unit} cell has two feasible ratios to compare; add ratios or datasets")
    counts = _counts(cases)
    held = sum(k for k, _ in counts.values())
    total = sum(n for _, n in counts.values())
    head = (f"{what} at the largest feasible ratio is below its value at the smallest "
            + " and ".join(f"for {FAIRNESS[m]} in {k} of {n} {unit} cells" for m, (k, n) in counts.items()))
    details = []
    for (dataset, steps), group in cases.groupby(["dataset", "inner_steps"], sort=False):
        first = group.iloc[0]
        parts = ", ".join(f"{FAIRNESS[r.metric]} {r.from_value:.3f}→{r.to_value:.3f}" for r in group.itertuples())
        details.append(f"{dataset} I={steps} ({first['from_ratio']}→{first['to_ratio']}): {parts}")
    return claims.Verdict(key, claims.verdict_from_counts(held, total), f"{head}: " + "; ".join(details) + ".")


def ratio_verdict(table: pd.DataFrame) -> claims.Verdict:
    """Claim "ratio": per (dataset, I) and for DP and EOD alike, is the fairness gap at the
    largest feasible ratio below the smallest ratio's? All cases: reproduced; some: partly."""
    return _trend_verdict("ratio", table, "(dataset, I)", "The fairness gap (our mean over seeds)")


def swap_verdict(table: pd.DataFrame) -> claims.Verdict:
    """Claim "swap": the same rule as :func:`ratio_verdict`, on the swap study's table."""
    return _trend_verdict("swap", table, "(dataset, I)", "With unprotected samples in X_s, the fairness gap")


def inner_steps_verdict(table: pd.DataFrame) -> claims.Verdict:
    """Claim "inner_steps": per feasible (dataset, ratio) and for DP and EOD alike, is the value
    at the most inner steps below the value at the fewest?"""
    cases = steps_cases(table)
    if cases.empty:
        raise ValueError("claim 'inner_steps': needs at least two inner_steps values with a common feasible cell")
    counts = _counts(cases)
    held = sum(k for k, _ in counts.values())
    total = sum(n for _, n in counts.values())
    lo, hi = int(cases["few_steps"].iloc[0]), int(cases["many_steps"].iloc[0])
    head = (f"I={hi} gives a lower fairness gap than I={lo} "
            + " and ".join(f"for {FAIRNESS[m]} in {k} of {n} (dataset, ratio) cells" for m, (k, n) in counts.items()))
    change = cases.assign(change=cases["many_value"] - cases["few_value"])
    mean = change.groupby(["dataset", "metric"], sort=False)["change"].mean().unstack("metric")
    details = "; ".join(
        f"{d}: " + ", ".join(f"{FAIRNESS[m]} {mean.loc[d, m]:+.3f}" for m in FAIRNESS if m in mean and pd.notna(mean.loc[d, m]))
        for d in mean.index
    )
    return claims.Verdict("inner_steps", claims.verdict_from_counts(held, total),
                          f"{head}; mean change from I={lo} to I={hi} per dataset: {details}.")


def paper_rule_counts(cases: pd.DataFrame) -> str:
    """``"k of n"`` over all cases (e.g. the same rule applied to the paper's own numbers)."""
    return f"{int(cases['holds'].sum())} of {len(cases)}"


# --- glue-ready summaries -----------------------------------------------------------------


def comparison_summary(table: pd.DataFrame, *, far: float = 0.05) -> dict[str, str]:
    """Strings for the prose: how far our cells are from the paper's, over the cells both have.

    Keys: ``n_compared``, ``mean_abs_acc_diff`` (points), ``mean_abs_dp_diff``,
    ``mean_abs_eod_diff``, ``far`` (the threshold), ``n_dp_far`` ("k of n" cells whose DP
    difference is more than ``far`` from the paper's) and ``worst_dp_cell``.
    """
    both = table[table["feasible"] & table["dp_diff_paper"].notna()]
    acc = table.loc[table["feasible"], "accuracy_diff"].dropna()
    out = {
        "n_compared": str(int((table["feasible"] & table["accuracy_paper"].notna()).sum())),
        "mean_abs_acc_diff": _num(100 * acc.abs().mean() if len(acc) else np.nan, 1),
        "mean_abs_dp_diff": _num(both["dp_diff_diff"].abs().mean() if len(both) else np.nan, 3),
        "mean_abs_eod_diff": _num(table.loc[table["feasible"], "eod_diff_diff"].abs().mean(), 3),
        "far": f"{far:.2f}",
        "n_dp_far": f"{int((both['dp_diff_diff'].abs() > far).sum())} of {len(both)}",
        "worst_dp_cell": "–",
    }
    if len(both):
        worst = both.loc[both["dp_diff_diff"].abs().idxmax()]
        out["worst_dp_cell"] = (f"{worst['dataset']}, I={worst['inner_steps']}, {worst['xq_xs']}: "
                                f"{worst['dp_diff_mean']:.2f} against the paper's {worst['dp_diff_paper']:.2f}")
    return out


def infeasible_summary(table: pd.DataFrame) -> dict[str, str]:
    """Strings for the prose: ``n_infeasible`` ("k of n" cells), ``infeasible_cells`` (per
    dataset, the infeasible X_q:X_s values) and ``largest_feasible`` (per dataset, the
    largest feasible X_s share the builder reports)."""
    bad = table[~table["feasible"]]
    per_dataset = bad.groupby("dataset", sort=False)["xq_xs"].agg(lambda s: ", ".join(dict.fromkeys(s)))
    limits = bad.groupby("dataset", sort=False)["reason"].first().map(
        lambda r: r.rpartition("largest feasible ratio is ")[2] or r)
    return {
        "n_infeasible": f"{len(bad)} of {len(table)}",
        "infeasible_cells": "; ".join(f"{d} {r}" for d, r in per_dataset.items()) or "none",
        "largest_feasible": "; ".join(f"{d} {v}" for d, v in limits.items()) or "no requested ratio exceeds it",
    }


def cell_value(table: pd.DataFrame, dataset: str, inner_steps: int, which: Literal["first", "last"], metric: str) -> dict[str, str]:
    """Ours and the paper's ``metric`` at the smallest (``"first"``) or largest feasible ratio of a (dataset, I).

    Returns ``xq_xs``, ``ours`` ("mean ± std") and ``paper`` ("–" if not reported); all "–"
    if the (dataset, I) has no feasible cell.
    """
    cells = table[(table["dataset"] == dataset) & (table["inner_steps"] == inner_steps) & table["feasible"]]
    if cells.empty:
        return {"xq_xs": "–", "ours": "–", "paper": "–"}
    row = cells.sort_values("ratio").iloc[0 if which == "first" else -1]
    scale, digits = (100, 2) if metric == "accuracy" else (1, 2)
    return {"xq_xs": row["xq_xs"], "ours": mean_std(row[f"{metric}_mean"], row[f"{metric}_std"], digits, scale),
            "paper": _num(row[f"{metric}_paper"], digits, scale)}


def group_summary(table: pd.DataFrame) -> dict[str, str]:
    """Strings for the prose from :func:`group_table` (percent; "–" where missing).

    Keys ``base_protected_{ours,paper}``, ``base_unprotected_{ours,paper}``,
    ``base_gap_{ours,paper}`` (unprotected minus protected accuracy of the baseline),
    ``gap_{ours,paper}`` (the same gap averaged over the FaAlGrad cells both have) and
    ``n_narrower`` ("k of n" FaAlGrad cells whose gap is below our baseline's).
    """
    base = table[table["xq_xs"] == "baseline"]
    cells = table[(table["xq_xs"] != "baseline") & table["feasible"]]
    first = base.iloc[0] if len(base) else pd.Series(dtype=float)
    both = cells.dropna(subset=["gap_mean", "gap_paper"])
    base_gap = first.get("gap_mean", np.nan)
    return {
        "base_protected_ours": _num(first.get("acc_protected_mean", np.nan), 2, 100),
        "base_protected_paper": _num(first.get("acc_protected_paper", np.nan), 2, 100),
        "base_unprotected_ours": _num(first.get("acc_unprotected_mean", np.nan), 2, 100),
        "base_unprotected_paper": _num(first.get("acc_unprotected_paper", np.nan), 2, 100),
        "base_gap_ours": _num(base_gap, 2, 100),
        "base_gap_paper": _num(first.get("gap_paper", np.nan), 2, 100),
        "gap_ours": _num(both["gap_mean"].mean() if len(both) else np.nan, 2, 100),
        "gap_paper": _num(both["gap_paper"].mean() if len(both) else np.nan, 2, 100),
        "n_narrower": f"{int((cells['gap_mean'] < base_gap).sum())} of {len(cells)}" if pd.notna(base_gap) else "–",
    }


def sweep_summary(comparison: pd.DataFrame) -> dict[str, str]:
    """Strings for the prose from :func:`sweep_comparison`: ``n_above`` ("k of n" cells above the
    sweep) and ``per_dataset`` ("compas 3 of 8; ...")."""
    per = comparison.groupby("dataset", sort=False)["above"].agg(["sum", "size"])
    return {
        "n_above": f"{int(comparison['above'].sum())} of {len(comparison)}",
        "per_dataset": "; ".join(f"{d} {int(r['sum'])} of {int(r['size'])}" for d, r in per.iterrows()) or "–",
    }
