"""Forest plots of a claim's cells: each cell's paired difference with its 95 % interval,
coloured by its outcome, beside zero and the paper's own effect. Every claim page draws its
claim with :func:`forest_figure`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from faalgrad.studies import stats

__all__ = ["OUTCOME_COLOURS", "forest_figure"]

#: The colour of each cell outcome, in every forest plot.
OUTCOME_COLOURS = {
    stats.REPRODUCED: "#2ca02c",
    stats.REPRODUCED_SMALLER: "#7fc97f",
    stats.CONTRADICTED: "#d62728",
    stats.OPPOSITE: "#8c2d04",
    stats.INCONCLUSIVE: "#7f7f7f",
}


def forest_figure(
    cells: pd.DataFrame,
    labels: Sequence[str],
    xlabel: str,
    *,
    band: float | None = None,
    paper_label: str = "paper",
):
    """One row per cell: its mean (dot) and interval (line) coloured by outcome, the paper's
    effect (×, where the cell has one) and the zero line.

    Parameters
    ----------
    cells : pandas.DataFrame
        One row per cell with ``mean``, ``outcome`` and optionally ``low``, ``high`` (the
        interval; a cell without one is drawn as a dot) and ``paper_effect``.
    labels : sequence of str
        The y-axis label of each cell, top to bottom.
    xlabel : str
        What the difference is.
    band : float, optional
        Shade ±``band`` around zero (a tolerance the cells are judged against).
    paper_label : str
        The legend's name for the × marks.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if len(labels) != len(cells):
        raise ValueError(f"{len(labels)} labels for {len(cells)} cells: give one per cell")
    if cells.empty:
        raise ValueError("no cell to draw")
    rows = cells.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    if band is not None:
        ax.axvspan(-band, band, color="#e8f4e8", zorder=0)
    has_paper = "paper_effect" in rows and rows["paper_effect"].notna().any()
    for yi, r in zip(y, rows.to_dict("records"), strict=True):
        colour = OUTCOME_COLOURS[r["outcome"]]
        if pd.notna(r.get("low")) and pd.notna(r.get("high")):
            ax.plot([r["low"], r["high"]], [yi, yi], color=colour, lw=2)
        ax.plot(r["mean"], yi, "o", color=colour)
        if pd.notna(r.get("paper_effect", np.nan)):
            ax.plot(r["paper_effect"], yi, "x", color="black")
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.set_yticks(y, list(labels))
    ax.set_xlabel(xlabel)
    ax.locator_params(axis="x", nbins=5)
    handles = [
        plt.Line2D([], [], color=OUTCOME_COLOURS[o], marker="o", lw=2, label=o)
        for o in stats.OUTCOMES
        if (rows["outcome"] == o).any()
    ]
    if has_paper:
        handles.append(plt.Line2D([], [], color="black", marker="x", lw=0, label=paper_label))
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(1.0, 0.0), frameon=False)
    fig.tight_layout()
    return fig
