"""What the book's pages share: display labels, the one paper-versus-ours formatter, glue.

Number-to-text formatting lives here, so that notebooks only glue finished strings.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from faalgrad.datasets import DATASETS
from faalgrad.metrics import mean_std

__all__ = ["DATASET_LABELS", "glue_all", "in_dataset_order", "k_of_n", "number", "paper_vs_ours"]

#: Display names of the datasets.
DATASET_LABELS = {"compas": "COMPAS", "adult": "Adult", "communities": "Communities & Crime", "german": "German Credit"}


def number(value, digits: int, scale: float = 1.0, sign: bool = False) -> str:
    """``scale * value`` with ``digits`` decimals (``+`` sign if ``sign``); "–" for a missing value."""
    if pd.isna(value):
        return "–"
    return f"{scale * value:+.{digits}f}" if sign else f"{scale * value:.{digits}f}"


def paper_vs_ours(table: pd.DataFrame, metrics: Sequence[tuple[str, float, str]], digits: int = 2,
                  feasible: pd.Series | None = None) -> pd.DataFrame:
    """"<name> paper", "<name> ours" (mean ± std) and "<name> diff" (ours − paper) columns.

    Parameters
    ----------
    table : pandas.DataFrame
        Holds ``<metric>_paper``, ``<metric>_mean``, ``<metric>_std`` and ``<metric>_diff``.
    metrics : sequence of (metric, scale, name)
        E.g. ``("accuracy", 100, "acc")`` prints accuracy in percent under "acc ...".
    digits : int
        Decimals.
    feasible : pandas.Series of bool, optional
        Where False, the "ours" cell reads "infeasible".

    Returns
    -------
    pandas.DataFrame
        The formatted columns, indexed like ``table``.
    """
    ok = [True] * len(table) if feasible is None else list(feasible)
    out = pd.DataFrame(index=table.index)
    for m, scale, name in metrics:
        out[f"{name} paper"] = [number(v, digits, scale) for v in table[f"{m}_paper"]]
        out[f"{name} ours"] = [mean_std(a, b, digits, scale) if good else "infeasible"
                               for a, b, good in zip(table[f"{m}_mean"], table[f"{m}_std"], ok)]
        out[f"{name} diff"] = [number(v, digits, scale, sign=True) for v in table[f"{m}_diff"]]
    return out


def glue_all(values: Mapping[str, object]) -> None:
    """Glue every ``name: text`` pair of ``values`` for the page's prose (not displayed)."""
    from myst_nb import glue

    for name, text in values.items():
        glue(name, text, display=False)


def k_of_n(holds) -> str:
    """``"k of n"``: how many of the booleans ``holds`` are true."""
    return f"{int(np.sum(holds))} of {len(holds)}"


def in_dataset_order(frame: pd.DataFrame, then: Sequence[str] = ()) -> pd.DataFrame:
    """``frame`` sorted by dataset (the order of :data:`~faalgrad.datasets.DATASETS`), then ``then`` (stable)."""
    frame = frame.assign(_order=frame["dataset"].map({d: i for i, d in enumerate(DATASETS)}))
    return frame.sort_values(["_order", *then], kind="stable").drop(columns="_order").reset_index(drop=True)
