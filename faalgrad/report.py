"""Table 1 page helpers: long form for the figure, the protected-input comparison, the claim."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from faalgrad.claims import Verdict, verdict_from_counts
from faalgrad.datasets import DATASETS
from faalgrad.experiments import METHOD_LABELS, RunSpec, check_seeds, table1, table_row_key
from faalgrad.metrics import aggregate, mean_std


def _row_label(method: pd.Series, inner_steps: pd.Series) -> pd.Series:
    steps = inner_steps.astype("Int64").astype("string")
    return method.where(steps.isna(), method + " (I=" + steps.fillna("") + ")")


def table1_long(rows: pd.DataFrame, metric: str = "dp_diff") -> pd.DataFrame:
    """Per-seed values of ``metric`` ("ours") beside the paper's value ("paper"), long form.

    Columns ``dataset``, ``method`` (e.g. ``"Config 1 (I=1)"``), ``source`` and ``value``:
    one "ours" row per run and one "paper" row per Table 1 cell the paper reports, so a
    seaborn bar plot of ``value`` shows our mean (with the seed spread) beside the paper.
    """
    if metric not in ("accuracy", "dp_diff", "eod_diff"):
        raise ValueError(f"metric={metric!r}; valid choices: accuracy, dp_diff, eod_diff")
    table = table1(rows)
    method = rows["method"].map({"erm": "Baseline MLP", **METHOD_LABELS}).fillna(rows["label"])
    steps = rows["inner_steps"].where(rows["method"] == "faalgrad")
    ours = pd.DataFrame({
        "dataset": rows["dataset"], "method": _row_label(method, steps), "source": "ours", "value": rows[metric],
    })
    paper = pd.DataFrame({
        "dataset": table["dataset"], "method": _row_label(table["method"], table["inner_steps"]),
        "source": "paper", "value": table[f"{metric}_paper"],
    }).dropna(subset=["value"])
    return pd.concat([ours, paper], ignore_index=True)


# --- protected attribute as an input: excluded (the paper's text) vs included (its code) ---

#: Table 1 rows re-run without the protected attribute among the inputs (I = 1 only).
PROTECTED_INPUT_ROWS: tuple[tuple[str, str, int], ...] = (
    ("baseline", "erm", 1), ("threshold", "threshold", 1), ("config1", "faalgrad", 1), ("config2", "faalgrad", 1),
)


def protected_input_specs(datasets: Iterable[str], seeds: int) -> list[RunSpec]:
    """The :data:`PROTECTED_INPUT_ROWS` runs with the protected attribute excluded from the inputs."""
    check_seeds(seeds)
    return [
        RunSpec(dataset, method, split=row if method == "faalgrad" else "config1", inner_steps=inner, seed=seed,
                include_protected=False)
        for dataset in datasets for seed in range(seeds) for row, method, inner in PROTECTED_INPUT_ROWS
    ]


def protected_input_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std of accuracy, DP and EOD difference with the protected attribute included
    and excluded, per dataset and Table 1 row, and the change (excluded − included).

    ``rows`` holds both variants (column ``include_protected``); only rows run both ways
    (same dataset, row, I and seeds) are compared.
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
    labels = {"baseline": "Baseline MLP", "config1": "Config 1", "config2": "Config 2", **METHOD_LABELS}
    out["method"] = out["row"].map(labels)
    for m, scale, name in (("accuracy", 100, "acc"), ("dp_diff", 1, "DP"), ("eod_diff", 1, "EOD")):
        for flag, word in ((True, "included"), (False, "excluded")):
            out[f"{name} {word}"] = [
                mean_std(a, b, 2, scale) for a, b in zip(wide[(f"{m}_mean", flag)], wide[(f"{m}_std", flag)])
            ]
        out[f"{name} change"] = [f"{scale * v:+.2f}" for v in wide[(f"{m}_mean", False)] - wide[(f"{m}_mean", True)]]
    out["I"] = out["inner_steps"].where(out["row"].isin(["config1", "config2"])).astype("Int64").astype("string").fillna("–")
    order = {r: i for i, (r, _, _) in enumerate(PROTECTED_INPUT_ROWS)}
    out = out.assign(_order=out["row"].map(order)).sort_values(["dataset", "_order"], key=_dataset_order, kind="stable")
    return out[["dataset", "method", "I"] + [c for c in out.columns if " " in c]].reset_index(drop=True)


def _dataset_order(column: pd.Series) -> pd.Series:
    return column.map({d: i for i, d in enumerate(DATASETS)}) if column.name == "dataset" else column


# --- claim: FaAlGrad is fairer than the baseline --------------------------------------------

def fairer_than_baseline(table: pd.DataFrame) -> Verdict:
    """Verdict on "FaAlGrad lowers DP and EOD difference versus the baseline on all datasets".

    ``table`` is :func:`~faalgrad.experiments.table1`. A FaAlGrad cell (dataset × Config
    1/2 × I) holds when its mean DP *and* mean EOD difference are both below the baseline
    MLP's on that dataset by more than one standard error of the difference of the two
    means (over seeds), so that seed noise alone does not count. Reproduced if every cell
    holds, partly if some do.
    """
    base = table[table["method"] == "Baseline MLP"].set_index("dataset")
    meta = table[table["method"].isin(["Config 1", "Config 2"])]
    if base.empty or meta.empty:
        raise ValueError("table needs Baseline MLP and Config 1/2 rows (run the full Table 1 grid)")
    holds = [all(_clearly_below(r, base.loc[r.dataset], m) for m in ("dp_diff", "eod_diff")) for r in meta.itertuples()]
    per_dataset = []
    for dataset in dict.fromkeys(meta["dataset"]):
        mask = (meta["dataset"] == dataset).to_numpy()
        n = int(np.sum(np.asarray(holds)[mask]))
        per_dataset.append(f"{dataset} {n}/{int(mask.sum())}")
    c1 = meta[(meta["method"] == "Config 1") & (meta["inner_steps"] == 1)].set_index("dataset")
    pairs = ", ".join(
        f"{d} {c1.loc[d, 'dp_diff_mean']:.2f} vs {base.loc[d, 'dp_diff_mean']:.2f}" for d in c1.index if d in base.index
    )
    evidence = (
        f"{sum(holds)} of {len(holds)} FaAlGrad cells (dataset × Config 1/2 × I = 1/10) have both mean DP and mean "
        f"EOD difference below the baseline MLP's by more than one standard error ({'; '.join(per_dataset)}). DP difference, Config 1 with I = 1 "
        f"vs baseline: {pairs}."
    )
    return Verdict("fairer_than_baseline", verdict_from_counts(sum(holds), len(holds)), evidence)


def _clearly_below(row, base: pd.Series, metric: str) -> bool:
    """``row``'s mean of ``metric`` is below ``base``'s by more than one standard error of the difference."""
    se = np.sqrt(np.nansum([getattr(row, f"{metric}_std") ** 2 / row.n_seeds, base[f"{metric}_std"] ** 2 / base["n_seeds"]]))
    return bool(getattr(row, f"{metric}_mean") < base[f"{metric}_mean"] - se)
