"""The Table 1 page: FaAlGrad against the baselines, beside the paper, and the
protected attribute as an input (excluded versus included).

Page: ``book/table1.ipynb`` ("Table 1: FaAlGrad against the baselines").
"""

from __future__ import annotations

from dataclasses import dataclass

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
from faalgrad.studies import PageResult, claims, paper, stats
from faalgrad.studies._common import number, paper_band, paper_vs_ours
from faalgrad.validation import check_choice, check_datasets, check_n_jobs, check_seeds

__all__ = [
    "Params",
    "compute",
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
    """The page's parameters: datasets, seeds (0..seeds-1) and joblib workers."""

    datasets: tuple[str, ...] = DATASETS
    seeds: int = 5
    n_jobs: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "datasets", check_datasets("datasets", self.datasets))
        check_seeds(self.seeds)
        check_n_jobs(self.n_jobs)


def specs(params: Params) -> list[RunSpec]:
    """Table 1's runs, the protected-input reruns (attribute excluded) and Config 2 with the
    other direction (stereotype-consistent cells in X_q, I = 1)."""
    other = [
        RunSpec(d, "faalgrad", split="config2", direction=DIRECTIONS[1], seed=s)
        for d in params.datasets
        for s in range(params.seeds)
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


def _baseline_comparison(rows: pd.DataFrame) -> pd.DataFrame:
    """Each FaAlGrad cell (dataset × Config × I) against the baseline MLP, paired by seed, for
    DP and EOD difference: mean change, 95 % interval, Holm-adjusted p across all cells and
    both metrics."""
    rows = rows[rows["include_protected"] & (rows["direction"] == DIRECTIONS[0])]
    rows = rows.assign(row=_table_row_key(rows))
    parts = [
        stats.paired_cells(
            rows,
            ["dataset", "row", "inner_steps"],
            m,
            rows["row"].isin(["config1", "config2"]),
            rows["row"] == "baseline",
            match_on=["dataset"],
        ).assign(metric=m)
        for m in ("dp_diff", "eod_diff")
    ]
    table = pd.concat(parts, ignore_index=True)
    table["p_holm"] = stats.holm(table["p"])
    table["lower"] = (table["mean"] < 0) & (table["p_holm"] < stats.ALPHA)
    return table


def compute(params: Params, rows: pd.DataFrame) -> PageResult:
    """Every table of the page, from the run rows of :func:`specs` (``params`` adds nothing
    the rows do not hold).

    ``table1`` (numbers), ``paper`` (printable), ``band`` (per "ours" cell of ``paper``:
    True/False if our mean is within/outside the paper's ± spread, NA without one), ``long``
    (DP per seed for the figure), ``protected`` (excluded versus included), ``directions``
    (Config 2 both ways) and ``versus_baseline`` (paired tests of the claim)."""
    included = rows[rows["include_protected"]]
    main = included[included["direction"] == DIRECTIONS[0]]
    table = table1(main)
    return {
        "table1": table,
        "paper": format_table(table),
        "long": _table1_long(main, "dp_diff"),
        "band": paper_band(table, paper.table1(), ["dataset", "row", "inner_steps"], _METRICS),
        "protected": _protected_input_table(rows[rows["direction"] == DIRECTIONS[0]]),
        "directions": _direction_table(included),
        "versus_baseline": _baseline_comparison(rows),
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
        "n_seeds": str(int(table["n_seeds"].max())),
        "mean_abs_acc_diff": number(table["accuracy_diff"].abs().mean(), 1, 100),
        "mean_abs_dp_diff": number(table["dp_diff_diff"].abs().mean(), 3),
        "excl_dp_change_min": number(change.min(), 2, sign=True),
        "excl_dp_change_max": number(change.max(), 2, sign=True),
        "excl_baseline_dp_change_mean": number(
            change.xs(_ROW_LABELS["baseline"], level="method").mean(), 2, sign=True
        ),
        "direction_dp_changes": "; ".join(
            f"{r['dataset']} {r['DP change']}" for _, r in result["directions"].iterrows()
        ),
    }


def _fairer_than_baseline(comparison: pd.DataFrame) -> claims.Verdict:
    """Verdict on "FaAlGrad lowers DP and EOD difference versus the baseline on all datasets".

    ``comparison`` is :func:`_baseline_comparison`. A FaAlGrad cell (dataset × Config 1/2 ×
    I) holds when its DP *and* its EOD difference are both lower than the baseline MLP's,
    paired by seed, with Holm-adjusted p < 0.05 across all cells and both metrics.
    Reproduced if every cell holds, partly if some do.
    """
    if comparison.empty:
        raise ValueError(
            "no FaAlGrad cell to compare with the baseline MLP (run the full Table 1 grid)"
        )
    cells = comparison.groupby(["dataset", "row", "inner_steps"], sort=False)["lower"].all()
    per_dataset = "; ".join(
        f"{d} {int(c.sum())}/{len(c)}" for d, c in cells.groupby(level="dataset", sort=False)
    )
    dp = comparison[
        (comparison["metric"] == "dp_diff")
        & (comparison["row"] == "config1")
        & (comparison["inner_steps"] == 1)
    ]
    pairs = ", ".join(
        f"{r.dataset} {number(r.mean, 2, sign=True)} [{number(r.low, 2, sign=True)}, "
        f"{number(r.high, 2, sign=True)}]"
        for r in dp.itertuples()
    )
    n = int(comparison["n"].min())
    evidence = (
        f"{int(cells.sum())} of {len(cells)} FaAlGrad cells (dataset × Config 1/2 × I = 1/10) "
        "have both DP and EOD difference lower than the baseline MLP's, "
        f"paired over {n} seeds, Holm-corrected over the {len(comparison)} tests "
        f"({per_dataset}). DP change, Config 1 with I = 1 minus baseline, "
        f"with 95 % intervals: {pairs}."
    )
    return claims.Verdict(
        "fairer_than_baseline", claims.verdict_from_counts(int(cells.sum()), len(cells)), evidence
    )


def verdicts(result: PageResult) -> list[claims.Verdict]:
    """The page's claim verdicts."""
    return [_fairer_than_baseline(result["versus_baseline"])]
