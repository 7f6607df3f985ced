"""Paired statistics for verdicts: seeds share their splits across methods, so two methods
are compared per seed (paired t-interval of the difference), and the cells of one claim are
corrected together with Holm's step-down method. Used by every page that decides a verdict.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["ALPHA", "holm", "paired_cells", "paired_difference"]

#: Family-wise error rate of one claim's cells (and 1 - the confidence level of intervals).
ALPHA = 0.05


def paired_difference(
    treated: Sequence[float], control: Sequence[float], *, confidence: float = 1 - ALPHA
) -> dict:
    """Mean of ``treated - control`` over pairs, its t confidence interval and two-sided p-value.

    Parameters
    ----------
    treated, control : sequence of float
        Paired values (same seeds, same order). Pairs with a missing value are dropped.
    confidence : float
        Confidence level of the interval.

    Returns
    -------
    dict
        ``n`` (pairs used), ``mean``, ``low``, ``high`` and ``p`` (``scipy.stats.ttest_rel``);
        with fewer than two pairs, or no spread, the interval and p-value are NaN.
    """
    t, c = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    if t.shape != c.shape:
        raise ValueError(f"treated has {t.shape} values, control {c.shape}: they must be paired")
    keep = ~(np.isnan(t) | np.isnan(c))
    t, c = t[keep], c[keep]
    d = t - c
    out = {
        "n": int(len(d)),
        "mean": float(d.mean()) if len(d) else np.nan,
        "low": np.nan,
        "high": np.nan,
        "p": np.nan,
    }
    if len(d) >= 2 and np.ptp(d) > 1e-12 * max(
        1.0, float(np.abs(d).max())
    ):  # else: no spread to estimate
        res = stats.ttest_rel(t, c)
        ci = res.confidence_interval(confidence_level=confidence)
        out.update(low=float(ci.low), high=float(ci.high), p=float(res.pvalue))
    elif len(d) >= 2:  # every pair differs by the same amount (up to rounding)
        out.update(low=out["mean"], high=out["mean"], p=0.0 if out["mean"] != 0 else 1.0)
    return out


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted).

    Parameters
    ----------
    pvalues : sequence of float
        One p-value per cell of a claim.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, in the input order: a cell is significant at level α after
        correction when its adjusted p-value is at most α.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = len(idx)
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def paired_cells(
    rows: pd.DataFrame,
    cells: Sequence[str],
    metric: str,
    treated: pd.Series,
    control: pd.Series,
    *,
    match_on: Sequence[str] | None = None,
    pair_on: str = "seed",
    confidence: float = 1 - ALPHA,
) -> pd.DataFrame:
    """Paired differences ``treated - control`` of ``metric`` per cell, Holm-corrected across cells.

    Parameters
    ----------
    rows : pandas.DataFrame
        Run rows holding ``cells``, ``pair_on`` and ``metric`` columns.
    cells : sequence of str
        Columns naming a cell (e.g. ``["dataset", "inner_steps"]``).
    match_on : sequence of str, optional
        The cell columns a control row must share with the cell (default: all of ``cells``;
        e.g. ``["dataset"]`` when one baseline serves every cell of a dataset).
    metric : str
        The compared column.
    treated, control : pandas.Series of bool
        Masks of ``rows``: the treated runs (one per cell and seed) and the control runs.
    pair_on : str
        The column pairing runs (the seed: methods share their splits per seed).
    confidence : float
        Confidence level of each interval.

    Returns
    -------
    pandas.DataFrame
        One row per cell: ``n``, ``mean``, ``low``, ``high``, ``p`` and ``p_holm``.
    """
    t_rows, c_rows = rows[treated], rows[control]
    shared = list(cells if match_on is None else match_on)
    out = []
    for key, t in t_rows.groupby(list(cells), sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        match = c_rows
        for col in shared:
            match = match[match[col] == dict(zip(cells, key))[col]]
        pairs = t[[pair_on, metric]].merge(
            match[[pair_on, metric]], on=pair_on, suffixes=("_t", "_c")
        )
        out.append(
            {
                **dict(zip(cells, key)),
                **paired_difference(
                    pairs[f"{metric}_t"], pairs[f"{metric}_c"], confidence=confidence
                ),
            }
        )
    table = pd.DataFrame(out, columns=[*cells, "n", "mean", "low", "high", "p"])
    table["p_holm"] = holm(table["p"])
    return table
