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
from faalgrad.runs import METHODS, RunSpec, SPLIT_LABELS, check_seeds, protected_input_specs, table1_specs
from faalgrad.runs.grids import PROTECTED_INPUT_ROWS
from faalgrad.studies import claims, paper
from faalgrad.studies._common import number, paper_vs_ours
from faalgrad.studies._params import check_choice, check_dataset_list, check_n_jobs

__all__ = ["Params", "fairer_than_baseline", "format_table", "glue_values", "protected_input_table", "specs",
           "table1", "table1_long", "table_row_key", "tables", "verdicts"]

_METRICS = (("accuracy", 100, "acc"), ("dp_diff", 1, "DP"), ("eod_diff", 1, "EOD"))
#: Display label of each Table 1 row name.
ROW_LABELS = {"baseline": METHODS["erm"].label, "config1": SPLIT_LABELS["config1"], "config2": SPLIT_LABELS["config2"],
              **{k: m.label for k, m in METHODS.items()}}


@dataclass(frozen=True)
class Params:
    """The page's parameters: datasets, seeds (0..seeds-1) and joblib workers."""

    datasets: tuple[str, ...] = DATASETS
    seeds: int = 5
    n_jobs: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "datasets", check_dataset_list("datasets", self.datasets))
        check_seeds(self.seeds)
        check_n_jobs(self.n_jobs)


def specs(params: Params) -> list[RunSpec]:
    """Table 1's runs, then the protected-input reruns (attribute excluded)."""
    return table1_specs(params.datasets, params.seeds) + protected_input_specs(params.datasets, params.seeds)


def table_row_key(rows: pd.DataFrame) -> pd.Series:
    """The paper's Table 1 row name of each run row ("baseline", "mba_dp", ..., "config1")."""
    return rows["method"].where(rows["method"] != "faalgrad", rows["split"]).replace({"erm": "baseline"})


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
    rows = rows.assign(row=table_row_key(rows), inner_steps=rows["inner_steps"].where(rows["method"] == "faalgrad"))
    ours = aggregate(rows, ["dataset", "row", "inner_steps"], ("accuracy", "dp_diff", "eod_diff"))
    ours["inner_steps"] = ours["inner_steps"].astype("Int64")
    out = ours.merge(paper.table1(), on=["dataset", "row", "inner_steps"], how="left", suffixes=("", "_p"))
    for m in ("accuracy", "dp_diff", "eod_diff"):
        out[f"{m}_paper"] = out[m]
        out[f"{m}_diff"] = out[f"{m}_mean"] - out[m]
    out["method"] = out["row"].map(ROW_LABELS)
    cols = ["dataset", "row", "method", "inner_steps"] + [
        f"{m}_{s}" for m in ("accuracy", "dp_diff", "eod_diff") for s in ("paper", "mean", "std", "diff")
    ] + ["n_seeds"]
    return out[cols]


def format_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Printable copy of :func:`table1`: accuracy in percent, "mean ± std" strings."""
    out = table[["dataset", "method"]].copy()
    out["I"] = table["inner_steps"].astype("string").fillna("–")
    return pd.concat([out, paper_vs_ours(table, _METRICS, digits)], axis=1)


def _row_label(method: pd.Series, inner_steps: pd.Series) -> pd.Series:
    steps = inner_steps.astype("Int64").astype("string")
    return method.where(steps.isna(), method + " (I=" + steps.fillna("") + ")")


def table1_long(rows: pd.DataFrame, metric: str = "dp_diff") -> pd.DataFrame:
    """Per-seed values of ``metric`` ("ours") beside the paper's value ("paper"), long form.

    Columns ``dataset``, ``method`` (e.g. ``"Config 1 (I=1)"``), ``source`` and ``value``,
    for a seaborn bar plot of our mean (with the seed spread) beside the paper.
    """
    check_choice("metric", metric, ("accuracy", "dp_diff", "eod_diff"))
    table = table1(rows)
    method = rows["method"].map({k: m.label for k, m in METHODS.items()}).fillna(rows["label"])
    method = method.where(rows["method"] != "faalgrad", rows["label"])
    steps = rows["inner_steps"].where(rows["method"] == "faalgrad")
    ours = pd.DataFrame({"dataset": rows["dataset"], "method": _row_label(method, steps), "source": "ours",
                         "value": rows[metric]})
    reported = pd.DataFrame({"dataset": table["dataset"], "method": _row_label(table["method"], table["inner_steps"]),
                             "source": "paper", "value": table[f"{metric}_paper"]}).dropna(subset=["value"])
    return pd.concat([ours, reported], ignore_index=True)


def protected_input_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std of accuracy, DP and EOD difference with the protected attribute included
    and excluded, per dataset and Table 1 row, and the change (excluded − included).

    Only rows run both ways (same dataset, row, I and seeds) are compared.
    """
    rows = rows.assign(row=table_row_key(rows))
    keys = ["dataset", "row", "inner_steps"]
    both = rows.groupby(keys + ["seed"])["include_protected"].transform("nunique") == 2
    rows = rows[both]
    if rows.empty:
        raise ValueError("no run was made both with and without the protected attribute")
    stats = aggregate(rows, keys + ["include_protected"], ("accuracy", "dp_diff", "eod_diff"))
    wide = stats.pivot(index=keys, columns="include_protected")
    out = wide.index.to_frame(index=False)
    out["method"] = out["row"].map(ROW_LABELS)
    for m, scale, name in _METRICS:
        for flag, word in ((True, "included"), (False, "excluded")):
            out[f"{name} {word}"] = [
                mean_std(a, b, 2, scale) for a, b in zip(wide[(f"{m}_mean", flag)], wide[(f"{m}_std", flag)])
            ]
        out[f"{name} change"] = [number(v, 2, scale, sign=True)
                                 for v in wide[(f"{m}_mean", False)] - wide[(f"{m}_mean", True)]]
    out["I"] = out["inner_steps"].where(out["row"].isin(["config1", "config2"])).astype("Int64").astype("string").fillna("–")
    order = {r: i for i, (r, _, _) in enumerate(PROTECTED_INPUT_ROWS)}
    dorder = {d: i for i, d in enumerate(DATASETS)}
    out = out.assign(_d=out["dataset"].map(dorder), _o=out["row"].map(order)).sort_values(["_d", "_o"], kind="stable")
    return out[["dataset", "method", "I"] + [c for c in out.columns if " " in c]].reset_index(drop=True)


def tables(rows: pd.DataFrame, params: Params) -> dict[str, pd.DataFrame]:
    """Every table of the page: ``table1`` (numbers), ``paper`` (printable), ``long``
    (DP per seed for the figure) and ``protected`` (excluded versus included)."""
    included = rows[rows["include_protected"]]
    table = table1(included)
    return {"table1": table, "paper": format_table(table), "long": table1_long(included, "dp_diff"),
            "protected": protected_input_table(rows)}


def glue_values(tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    """The numbers the page's prose quotes, as text."""
    table, protected = tables["table1"], tables["protected"]
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
        "excl_baseline_dp_change_mean": number(change.xs(ROW_LABELS["baseline"], level="method").mean(), 2, sign=True),
    }


def fairer_than_baseline(table: pd.DataFrame) -> claims.Verdict:
    """Verdict on "FaAlGrad lowers DP and EOD difference versus the baseline on all datasets".

    A FaAlGrad cell (dataset × Config 1/2 × I) holds when its mean DP *and* mean EOD
    difference are both below the baseline MLP's on that dataset by more than one
    standard error of the difference of the two means. Reproduced if every cell holds,
    partly if some do.
    """
    base = table[table["row"] == "baseline"].set_index("dataset")
    meta = table[table["row"].isin(["config1", "config2"])]
    if base.empty or meta.empty:
        raise ValueError("table needs Baseline MLP and Config 1/2 rows (run the full Table 1 grid)")
    holds = [all(_clearly_below(r, base.loc[r.dataset], m) for m in ("dp_diff", "eod_diff")) for r in meta.itertuples()]
    per_dataset = []
    for dataset in dict.fromkeys(meta["dataset"]):
        mask = (meta["dataset"] == dataset).to_numpy()
        per_dataset.append(f"{dataset} {int(np.sum(np.asarray(holds)[mask]))}/{int(mask.sum())}")
    c1 = meta[(meta["row"] == "config1") & (meta["inner_steps"] == 1)].set_index("dataset")
    pairs = ", ".join(
        f"{d} {c1.loc[d, 'dp_diff_mean']:.2f} vs {base.loc[d, 'dp_diff_mean']:.2f}" for d in c1.index if d in base.index
    )
    evidence = (
        f"{sum(holds)} of {len(holds)} FaAlGrad cells (dataset × Config 1/2 × I = 1/10) have both mean DP and mean "
        f"EOD difference below the baseline MLP's by more than one standard error ({'; '.join(per_dataset)}). "
        f"DP difference, Config 1 with I = 1 vs baseline: {pairs}."
    )
    return claims.Verdict("fairer_than_baseline", claims.verdict_from_counts(sum(holds), len(holds)), evidence)


def _clearly_below(row, base: pd.Series, metric: str) -> bool:
    """``row``'s mean of ``metric`` is below ``base``'s by more than one standard error of the difference."""
    se = np.sqrt(np.nansum([getattr(row, f"{metric}_std") ** 2 / row.n_seeds, base[f"{metric}_std"] ** 2 / base["n_seeds"]]))
    return bool(getattr(row, f"{metric}_mean") < base[f"{metric}_mean"] - se)


def verdicts(tables: dict[str, pd.DataFrame]) -> list[claims.Verdict]:
    """The page's claim verdicts."""
    return [fairer_than_baseline(tables["table1"])]
