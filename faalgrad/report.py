"""Reshaping results for the book's figures (tidy long form for seaborn)."""
from __future__ import annotations

import pandas as pd

from faalgrad.experiments import METHOD_LABELS, table1


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
