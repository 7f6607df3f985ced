"""The Table 1 page: FaAlGrad against the baselines, beside the paper, and the
protected attribute as an input (excluded versus included).

Page: ``book/table1.ipynb`` ("Table 1: FaAlGrad against the baselines").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from faalgrad.datasets import DATASETS
from faalgrad.metrics import aggregate, mean_std
from faalgrad.runs import (
    METHODS,
    SPLIT_LABELS,
    RunSpec,
    protected_input_specs,
    table1_specs,
)
from faalgrad.runs.grids import PROTECTED_INPUT_ROWS
from faalgrad.splits import DIRECTIONS
from faalgrad.studies import PageResult, claims, forest, paper, stats
from faalgrad.studies._common import (
    number,
    paper_band,
    paper_vs_ours,
    seed_count,
    seeds_per_dataset,
)
from faalgrad.studies._sweep import best_accuracy_at, threshold_sweep
from faalgrad.validation import check_choice, check_datasets, check_n_jobs, check_seed_counts

__all__ = [
    "Params",
    "compute",
    "forest_figure",
    "format_table",
    "glue_values",
    "specs",
    "table1",
    "verdicts",
]

#: Names the package's own API takes from this page (``faalgrad.table1`` and the CLI's
#: ``table1`` command), besides the page protocol.
_LIBRARY_API = {"table1", "format_table"}

_METRICS = (("accuracy", 100, "acc"), ("dp_diff", 1, "DP"), ("eod_diff", 1, "EOD"))
#: Display label of each Table 1 row name.
_ROW_LABELS = {
    "baseline": METHODS["erm"].label,
    "config1": SPLIT_LABELS["config1"],
    "config2": SPLIT_LABELS["config2"],
    **{k: m.label for k, m in METHODS.items()},
}


@dataclass(frozen=True)
class Params:
    """The page's parameters: datasets, seeds and joblib workers.

    ``seeds`` is one count for every dataset (seeds 0..seeds-1) or a count per dataset;
    it is kept as the count per dataset.
    """

    datasets: tuple[str, ...] = DATASETS
    seeds: int | dict[str, int] = 5
    n_jobs: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "datasets", check_datasets("datasets", self.datasets))
        object.__setattr__(self, "seeds", check_seed_counts(self.seeds, self.datasets))
        check_n_jobs(self.n_jobs)


def specs(params: Params) -> list[RunSpec]:
    """Table 1's runs, the protected-input reruns (attribute excluded) and Config 2 with the
    other direction (stereotype-consistent cells in X_q, I = 1)."""
    other = [
        RunSpec(d, "faalgrad", split="config2", direction=DIRECTIONS[1], seed=s)
        for d in params.datasets
        for s in range(params.seeds[d])
    ]
    return (
        table1_specs(params.datasets, params.seeds)
        + protected_input_specs(params.datasets, params.seeds)
        + other
    )


def _table_row_key(rows: pd.DataFrame) -> pd.Series:
    """The paper's Table 1 row name of each run row ("baseline", "mba_dp", ..., "config1")."""
    return (
        rows["method"]
        .where(rows["method"] != "faalgrad", rows["split"])
        .replace({"erm": "baseline"})
    )


def table1(rows: pd.DataFrame) -> pd.DataFrame:
    """Table 1 from run rows: paper value, our mean and std, and the difference, per cell.

    Parameters
    ----------
    rows : pandas.DataFrame
        Run rows of :func:`~faalgrad.runs.table1_specs` (protected attribute included).

    Returns
    -------
    pandas.DataFrame
        One row per (dataset, ``row`` key, inner_steps) with the row's ``method`` label,
        ``<metric>_paper``, ``_mean``,
        ``_std`` and ``_diff`` (ours - paper) for accuracy, DP and EOD difference, and
        ``n_seeds``. ``inner_steps`` is missing for the non-meta-learning rows.
    """
    rows = rows.assign(
        row=_table_row_key(rows),
        inner_steps=rows["inner_steps"].where(rows["method"] == "faalgrad"),
    )
    ours = aggregate(rows, ["dataset", "row", "inner_steps"], ("accuracy", "dp_diff", "eod_diff"))
    ours["inner_steps"] = ours["inner_steps"].astype("Int64")
    out = ours.merge(
        paper.table1(), on=["dataset", "row", "inner_steps"], how="left", suffixes=("", "_p")
    )
    for m in ("accuracy", "dp_diff", "eod_diff"):
        out[f"{m}_paper"] = out[m]
        out[f"{m}_diff"] = out[f"{m}_mean"] - out[m]
    out["method"] = out["row"].map(_ROW_LABELS)
    cols = (
        ["dataset", "row", "method", "inner_steps"]
        + [
            f"{m}_{s}"
            for m in ("accuracy", "dp_diff", "eod_diff")
            for s in ("paper", "mean", "std", "diff")
        ]
        + ["n_seeds"]
    )
    return out[cols]


def format_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Printable copy of :func:`table1`: accuracy in percent, "mean ± std" strings."""
    out = table[["dataset", "method"]].copy()
    out["I"] = table["inner_steps"].astype("string").fillna("–")
    return pd.concat([out, paper_vs_ours(table, _METRICS, digits)], axis=1)


def _metric_columns(printable: pd.DataFrame, name: str) -> pd.DataFrame:
    """One metric's columns of a printable table (those named ``"<name> ..."``, e.g. paper,
    ours, diff) after its row keys: a table narrow enough for the page."""
    keys = [c for c in ("dataset", "method", "I") if c in printable.columns]
    return printable[keys + [c for c in printable.columns if c.startswith(f"{name} ")]]


def _row_label(method: pd.Series, inner_steps: pd.Series) -> pd.Series:
    steps = inner_steps.astype("Int64").astype("string")
    return method.where(steps.isna(), method + " (I=" + steps.fillna("") + ")")


def _table1_long(rows: pd.DataFrame, metric: str = "dp_diff") -> pd.DataFrame:
    """Per-seed values of ``metric`` ("ours") beside the paper's value ("paper"), long form.

    Columns ``dataset``, ``method`` (e.g. ``"Config 1 (I=1)"``), ``source`` and ``value``,
    for a seaborn bar plot of our mean (with the seed spread) beside the paper.
    """
    check_choice("metric", metric, ("accuracy", "dp_diff", "eod_diff"))
    table = table1(rows)
    method = rows["method"].map({k: m.label for k, m in METHODS.items()}).fillna(rows["label"])
    method = method.where(rows["method"] != "faalgrad", rows["label"])
    steps = rows["inner_steps"].where(rows["method"] == "faalgrad")
    ours = pd.DataFrame(
        {
            "dataset": rows["dataset"],
            "method": _row_label(method, steps),
            "source": "ours",
            "value": rows[metric],
        }
    )
    reported = pd.DataFrame(
        {
            "dataset": table["dataset"],
            "method": _row_label(table["method"], table["inner_steps"]),
            "source": "paper",
            "value": table[f"{metric}_paper"],
        }
    ).dropna(subset=["value"])
    return pd.concat([ours, reported], ignore_index=True)


def _protected_input_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std of accuracy, DP and EOD difference with the protected attribute included
    and excluded, per dataset and Table 1 row, and the change (excluded − included).

    Only rows run both ways (same dataset, row, I and seeds) are compared.
    """
    rows = rows.assign(row=_table_row_key(rows))
    keys = ["dataset", "row", "inner_steps"]
    both = rows.groupby(keys + ["seed"])["include_protected"].transform("nunique") == 2
    rows = rows[both]
    if rows.empty:
        raise ValueError("no run was made both with and without the protected attribute")
    stats = aggregate(rows, keys + ["include_protected"], ("accuracy", "dp_diff", "eod_diff"))
    wide = stats.pivot(index=keys, columns="include_protected")
    out = wide.index.to_frame(index=False)
    out["method"] = out["row"].map(_ROW_LABELS)
    for m, scale, name in _METRICS:
        for flag, word in ((True, "included"), (False, "excluded")):
            out[f"{name} {word}"] = [
                mean_std(a, b, 2, scale)
                for a, b in zip(wide[(f"{m}_mean", flag)], wide[(f"{m}_std", flag)], strict=True)
            ]
        out[f"{name} change"] = [
            number(v, 2, scale, sign=True)
            for v in wide[(f"{m}_mean", False)] - wide[(f"{m}_mean", True)]
        ]
    out["I"] = (
        out["inner_steps"]
        .where(out["row"].isin(["config1", "config2"]))
        .astype("Int64")
        .astype("string")
        .fillna("–")
    )
    order = {r: i for i, (r, _, _) in enumerate(PROTECTED_INPUT_ROWS)}
    dorder = {d: i for i, d in enumerate(DATASETS)}
    out = out.assign(_d=out["dataset"].map(dorder), _o=out["row"].map(order)).sort_values(
        ["_d", "_o"], kind="stable"
    )
    return out[["dataset", "method", "I"] + [c for c in out.columns if " " in c]].reset_index(
        drop=True
    )


def _direction_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Config 2 (I = 1) with each direction: mean ± std per dataset, and the paired change
    (stereotype-consistent − counter-stereotypical cells in X_q) with its 95 % interval."""
    c2 = rows[(rows["split"] == "config2") & (rows["inner_steps"] == 1) & rows["include_protected"]]
    out = []
    for dataset, group in c2.groupby("dataset", sort=False):
        entry = {"dataset": dataset}
        for m, scale, name in _METRICS:
            wide = group.pivot(index="seed", columns="direction", values=m)
            for d in DIRECTIONS:
                entry[f"{name} X_q {d}"] = mean_std(wide[d].mean(), wide[d].std(), 2, scale)
            diff = stats.paired_difference(wide[DIRECTIONS[1]], wide[DIRECTIONS[0]])
            entry[f"{name} change"] = (
                f"{number(diff['mean'], 2, scale, sign=True)} "
                f"[{number(diff['low'], 2, scale, sign=True)}"
                f", {number(diff['high'], 2, scale, sign=True)}]"
            )
        out.append(entry)
    return pd.DataFrame(out)


#: The claim's metrics, each its own claim and verdict line (lower is fairer).
_CLAIM_METRICS = {"dp_diff": "lower_dp", "eod_diff": "lower_eod"}
_CELL_KEYS = ["dataset", "row", "inner_steps"]


def _claim_cells(rows: pd.DataFrame, sweep: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each FaAlGrad cell (dataset × Config × I) against the baseline MLP, paired by seed.

    For DP difference, EOD difference and accuracy: the paired difference FaAlGrad −
    baseline (``n``, ``mean``, ``sd``, 95 % ``low``/``high``) beside the paper's own
    (``paper_effect``: its FaAlGrad cell minus its baseline). For the two fairness metrics
    also each cell's ``outcome`` against the paper's effect
    (:func:`~faalgrad.studies.stats.cell_outcomes`, Holm-corrected over the metric's cells)
    and ``seeds_for_power``: the seeds a cell needs for 80 % power to find the paper's
    effect, at Holm's first-step level, given its measured seed spread. With the baseline's
    threshold ``sweep`` (:func:`~faalgrad.studies._sweep.threshold_sweep`), also the
    comparison at equal accuracy (:func:`_curve_comparison`): ``curve`` and ``curve_n``,
    ``curve_mean``, ``curve_low``, ``curve_high``.
    """
    rows = rows[rows["include_protected"] & (rows["direction"] == DIRECTIONS[0])]
    rows = rows.assign(row=_table_row_key(rows))
    treated = rows["row"].isin(["config1", "config2"])
    control = rows["row"] == "baseline"
    if not treated.any() or not control.any():
        raise ValueError(
            "no FaAlGrad cell to compare with the baseline MLP (run the full Table 1 grid)"
        )
    reported = paper.table1()
    reported_base = reported[reported["row"] == "baseline"].set_index("dataset")
    parts = []
    for metric in ("dp_diff", "eod_diff", "accuracy"):
        cells = stats.paired_cells(
            rows, _CELL_KEYS, metric, treated, control, match_on=["dataset"], spread=True
        )
        cells = cells.drop(columns="p_holm").assign(metric=metric)
        key = cells[_CELL_KEYS].astype({"inner_steps": "Int64"})
        reported_cells = key.merge(reported, on=_CELL_KEYS, how="left")[metric].to_numpy()
        base = cells["dataset"].map(reported_base[metric]).to_numpy()
        cells["paper_effect"] = reported_cells - base
        if metric in _CLAIM_METRICS:
            cells = stats.cell_outcomes(cells)
            level = stats.ALPHA / len(cells)
            cells["seeds_for_power"] = [
                stats.seeds_for_power(effect, sd, alpha=level)
                for effect, sd in zip(cells["paper_effect"], cells["sd"], strict=True)
            ]
        parts.append(cells)
    out = pd.concat(parts, ignore_index=True)
    if sweep is not None:
        curve = _curve_comparison(rows, sweep)[
            [*_CELL_KEYS, "metric", "curve", "n", "mean", "low", "high"]
        ]
        curve = curve.rename(columns={c: f"curve_{c}" for c in ("n", "mean", "low", "high")})
        out = out.merge(curve, on=[*_CELL_KEYS, "metric"], how="left")
    return out


#: The outcomes of the comparison with the baseline's own threshold curve.
_BEYOND, _INSIDE, _ON_CURVE = "beyond", "inside", "cannot tell"


def _curve_comparison(rows: pd.DataFrame, sweep: pd.DataFrame) -> pd.DataFrame:
    """Each FaAlGrad cell against the baseline MLP's own trade-off, seed by seed.

    For each seed, FaAlGrad's test accuracy minus the best accuracy of the same seed's
    baseline threshold whose gap (DP or EOD difference) is no larger than FaAlGrad's
    (:func:`~faalgrad.studies._sweep.best_accuracy_at`); paired over the seeds, Holm over
    the metric's cells: ``beyond`` the curve (more accurate at no larger a gap), ``inside``
    it (moving the baseline's threshold does better) or ``cannot tell``. A seed whose gap
    no threshold reaches is left out (``n`` counts the seeds used). ``rows`` are the claim's
    runs (protected attribute included, Config 2's default direction).
    """
    points = rows[rows["method"] == "faalgrad"].assign(row=lambda r: r["split"])
    out = []
    for metric in _CLAIM_METRICS:
        best = best_accuracy_at(points, sweep, metric)
        cells = []
        for key, group in points.assign(best=best).groupby(_CELL_KEYS, sort=False):
            diff = stats.paired_difference(group["accuracy"], group["best"])
            cells.append({**dict(zip(_CELL_KEYS, key, strict=True)), "metric": metric, **diff})
        table = pd.DataFrame(cells)
        table["p_holm"] = stats.holm(table["p"])
        significant = table["p_holm"] <= stats.ALPHA
        table["curve"] = np.select(
            [significant & (table["mean"] > 0), significant & (table["mean"] < 0)],
            [_BEYOND, _INSIDE],
            default=_ON_CURVE,
        )
        out.append(table)
    return pd.concat(out, ignore_index=True)


def _interval(mean: float, low: float, high: float, scale: float = 1.0, digits: int = 2) -> str:
    """``"+0.02 ± 0.05"``: a symmetric (t) interval as its mean and half-width."""
    return f"{number(mean, digits, scale, sign=True)} ± {number((high - low) / 2, digits, scale)}"


#: How the claim tables write each outcome (narrower than its name; the page defines them).
_OUTCOME_SHORT = {stats.REPRODUCED_SMALLER: "reproduced, smaller"}


def _claim_table(cells: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One fairness metric's cells for the page: our paired change with its interval, the
    paper's, the outcome, the seeds for 80 % power, the accuracy change (points) and the
    accuracy margin over the baseline's threshold curve at an equal or smaller gap."""
    name = dict((m, n) for m, _, n in _METRICS)[metric]
    fair = cells[cells["metric"] == metric].reset_index(drop=True)
    acc = cells[cells["metric"] == "accuracy"].set_index(_CELL_KEYS)
    acc = acc.loc[list(fair[_CELL_KEYS].itertuples(index=False, name=None))]
    table = pd.DataFrame(
        {
            "dataset": fair["dataset"],
            "cell": [f"{_ROW_LABELS[r.row]}, I={int(r.inner_steps)}" for r in fair.itertuples()],
            f"{name} change (± 95 % CI)": [
                _interval(r.mean, r.low, r.high) for r in fair.itertuples()
            ],
            f"{name} paper": [number(v, 2, sign=True) for v in fair["paper_effect"]],
            "outcome": fair["outcome"].replace(_OUTCOME_SHORT),
            "seeds for power": [
                "–" if pd.isna(n) else str(int(n)) for n in fair["seeds_for_power"]
            ],
            "accuracy change, points (± 95 % CI)": [
                _interval(r.mean, r.low, r.high, 100, 1) for r in acc.itertuples()
            ],
        }
    )
    if "curve" in fair.columns:  # with the baseline's threshold sweep
        table["vs threshold curve (points)"] = [
            f"{r.curve} ({number(r.curve_mean, 1, 100, sign=True)}"
            + ("" if r.curve_n == r.n else f", n={int(r.curve_n)}")
            + ")"
            for r in fair.itertuples()
        ]
    return table


#: The seed prefixes of the verdict-stability table (seeds 0..k-1 of the page's runs).
_STABILITY_SEEDS = (5, 10, 20)


def _stability(rows: pd.DataFrame) -> pd.DataFrame:
    """The claim's verdict and outcome counts on the first 5, 10 and 20 seeds of ``rows``, and
    on all of them.

    Each prefix is decided as the page decides its full runs (:func:`_claim_cells`,
    Holm over the metric's cells, the rule of
    :func:`~faalgrad.studies.claims.verdict_on_every_dataset`), so a reader sees whether a
    verdict holds as seeds are added or is an artefact of a few. A dataset with fewer seeds
    than a prefix contributes all it has (the "seeds" column gives the counts).
    """
    out = []
    most = int(rows["seed"].max()) + 1
    for k in (*(k for k in _STABILITY_SEEDS if k < most), most):
        cells = _claim_cells(rows[rows["seed"] < k])
        for metric, _, name in _METRICS:
            if metric not in _CLAIM_METRICS:
                continue
            fair = cells[cells["metric"] == metric]
            out.append(
                {
                    "claim": f"lower {name}",
                    "seeds": seed_count(fair["n"]),
                    "verdict": claims.verdict_on_every_dataset(fair),
                    "cells": claims.outcome_counts(fair["outcome"]),
                }
            )
    return pd.DataFrame(out)


def compute(params: Params, rows: pd.DataFrame) -> PageResult:
    """Every table of the page, from the run rows of :func:`specs` and the baseline MLP's
    threshold sweep on ``params``' datasets and seeds.

    ``table1`` (numbers), ``paper`` (printable; ``paper_accuracy``, ``paper_dp_diff`` and
    ``paper_eod_diff`` one metric each), ``band`` (per "ours" cell of ``paper``:
    True/False if our mean is within/outside the paper's ± spread, NA without one), ``long``
    (DP per seed for the figure), ``protected`` (excluded versus included), ``directions``
    (Config 2 both ways; both also one metric each, e.g. ``protected_dp_diff``),
    ``claim_cells`` (each FaAlGrad cell against the baseline MLP: paired changes, outcomes,
    seeds for power), ``claim_dp`` / ``claim_eod`` (the claim's cells as the page shows
    them) and ``stability`` (the claim decided on the first 5, 10 and 20 seeds)."""
    included = rows[rows["include_protected"]]
    main = included[included["direction"] == DIRECTIONS[0]]
    table = table1(main)
    printable = format_table(table)
    return {
        "table1": table,
        "paper": printable,
        **{f"paper_{m}": _metric_columns(printable, name) for m, _, name in _METRICS},
        "long": _table1_long(main, "dp_diff"),
        "band": paper_band(table, paper.table1(), ["dataset", "row", "inner_steps"], _METRICS),
        "protected": (
            protected := _protected_input_table(rows[rows["direction"] == DIRECTIONS[0]])
        ),
        **{f"protected_{m}": _metric_columns(protected, name) for m, _, name in _METRICS},
        "directions": (directions := _direction_table(included)),
        **{f"directions_{m}": _metric_columns(directions, name) for m, _, name in _METRICS},
        "claim_cells": (
            cells := _claim_cells(
                rows, threshold_sweep(params.datasets, params.seeds, n_jobs=params.n_jobs)
            )
        ),
        "claim_dp": _claim_table(cells, "dp_diff"),
        "claim_eod": _claim_table(cells, "eod_diff"),
        "stability": _stability(rows),
    }


def glue_values(result: PageResult) -> dict[str, str]:
    """The numbers the page's prose quotes, as text."""
    table, protected = result["table1"], result["protected"]
    dataset = table["dataset"].iloc[0]
    head = table.query("row == 'config1' and inner_steps == 1").set_index("dataset").loc[dataset]
    change = protected.set_index(["dataset", "method"])["DP change"].astype(float)
    return {
        "headline_dataset": dataset,
        "headline_dp_ours": mean_std(head["dp_diff_mean"], head["dp_diff_std"], 2),
        "headline_dp_paper": number(head["dp_diff_paper"], 2),
        "headline_dp_diff": number(head["dp_diff_diff"], 2, sign=True),
        "n_seeds": seed_count(table["n_seeds"]),
        "seeds_per_dataset": seeds_per_dataset(
            table.groupby("dataset", sort=False)["n_seeds"].max().to_dict()
        ),
        "mean_abs_acc_diff": number(table["accuracy_diff"].abs().mean(), 1, 100),
        "mean_abs_dp_diff": number(table["dp_diff_diff"].abs().mean(), 3),
        "excl_dp_change_min": number(change.min(), 2, sign=True),
        "excl_dp_change_max": number(change.max(), 2, sign=True),
        "excl_baseline_dp_change_mean": number(
            change.xs(_ROW_LABELS["baseline"], level="method").mean(), 2, sign=True
        ),
        **{
            f"claim_{key}_counts": _claim_counts(result["claim_cells"], metric)
            for metric, key in _CLAIM_METRICS.items()
        },
        "direction_dp_changes": "; ".join(
            f"{r['dataset']} {r['DP change']}" for _, r in result["directions"].iterrows()
        ),
    }


def _claim_counts(cells: pd.DataFrame, metric: str) -> str:
    """The outcomes of ``metric``'s cells in words, with the seeds behind them."""
    fair = cells[cells["metric"] == metric]
    return f"{claims.outcome_counts(fair['outcome'])} cells, {seed_count(fair['n'])} seeds"


def _claim_verdict(cells: pd.DataFrame, metric: str) -> claims.Verdict:
    """Verdict on "FaAlGrad lowers ``metric`` versus the baseline MLP on all four datasets".

    ``cells`` is :func:`_claim_cells`; the rule is
    :func:`~faalgrad.studies.claims.verdict_on_every_dataset` over the metric's cells. The
    evidence counts the outcomes, gives the seeds behind them and those 80 % power would
    need, and the accuracy the same cells give up.
    """
    name = dict((m, n) for m, _, n in _METRICS)[metric]
    fair = cells[cells["metric"] == metric]
    acc = cells[cells["metric"] == "accuracy"]
    per_dataset = "; ".join(
        f"{d}: {claims.outcome_counts(c['outcome'])}"
        for d, c in fair.groupby("dataset", sort=False)
    )
    needed = fair.loc[fair["outcome"] == stats.INCONCLUSIVE, "seeds_for_power"]
    n = seed_count(fair["n"])
    if needed.empty:
        power = ""
    elif needed.isna().any():
        power = (
            f" Where the data cannot tell, 80 % power against the paper's effect would take "
            f"more than 1000 seeds in {int(needed.isna().sum())} cells."
        )
    else:
        power = (
            f" Where the data cannot tell, 80 % power against the paper's effect would take "
            f"{int(needed.min())} to {int(needed.max())} seeds per cell; this page runs {n}."
        )
    evidence = (
        f"{name}: {claims.outcome_counts(fair['outcome'])} FaAlGrad cells "
        f"(dataset × Config 1/2 × I = 1/10) against the baseline MLP, paired over {n} seeds, "
        f"Holm-corrected over the {len(fair)} cells ({per_dataset}).{power} "
        f"Accuracy changes by {number(acc['mean'].min(), 1, 100, sign=True)} to "
        f"{number(acc['mean'].max(), 1, 100, sign=True)} points in the same cells."
    )
    if "curve" in fair.columns:
        counts = fair["curve"].value_counts()
        evidence += (
            " Against the baseline's own threshold curve at an equal or smaller gap: "
            f"{int(counts.get(_BEYOND, 0))} beyond, {int(counts.get(_INSIDE, 0))} inside, "
            f"{int(counts.get(_ON_CURVE, 0))} cannot tell."
        )
    return claims.Verdict(_CLAIM_METRICS[metric], claims.verdict_on_every_dataset(fair), evidence)


def forest_figure(result: PageResult, metric: str):
    """The claim's forest plot for ``metric``: each cell's paired change FaAlGrad − baseline
    with its 95 % interval, coloured by outcome, the paper's change (×) and zero marked.

    Parameters
    ----------
    result : PageResult
        :func:`compute`'s result.
    metric : {"dp_diff", "eod_diff"}
        The claim's metric.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_choice("metric", metric, _CLAIM_METRICS)
    cells = result["claim_cells"]
    fair = cells[cells["metric"] == metric]
    labels = [
        f"{r.dataset} · {_ROW_LABELS[r.row]} · I={int(r.inner_steps)}" for r in fair.itertuples()
    ]
    name = dict((m, n) for m, _, n in _METRICS)[metric]
    return forest.forest_figure(
        fair, labels, f"{name} difference, FaAlGrad − baseline MLP (×: the paper's)"
    )


def verdicts(result: PageResult) -> list[claims.Verdict]:
    """The page's claim verdicts."""
    return [_claim_verdict(result["claim_cells"], metric) for metric in _CLAIM_METRICS]
