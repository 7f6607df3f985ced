"""The forest plot every claim page draws: one row per cell, coloured by outcome."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from faalgrad.studies import forest, stats  # noqa: E402


def _cells():
    return pd.DataFrame(
        {
            "mean": [-0.1, 0.05, 0.0],
            "low": [-0.15, 0.01, np.nan],  # the last cell has no interval: a dot only
            "high": [-0.05, 0.09, np.nan],
            "paper_effect": [-0.2, np.nan, -0.1],
            "outcome": [stats.REPRODUCED_SMALLER, stats.OPPOSITE, stats.CONTRADICTED],
        }
    )


def test_one_row_per_cell_top_to_bottom_with_its_outcome_colour():
    fig = forest.forest_figure(_cells(), ["a", "b", "c"], "change")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert list(ax.get_yticks()) == [2, 1, 0]  # the first cell on top
    intervals = [line for line in ax.lines if len(line.get_xdata()) == 2 and line.get_ls() == "-"]
    assert [tuple(line.get_xdata()) for line in intervals] == [(-0.15, -0.05), (0.01, 0.09)]
    assert [to_hex(line.get_color()) for line in intervals] == [
        forest.OUTCOME_COLOURS[stats.REPRODUCED_SMALLER],
        forest.OUTCOME_COLOURS[stats.OPPOSITE],
    ]
    crosses = [line for line in ax.lines if line.get_marker() == "x"]
    assert [float(line.get_xdata()[0]) for line in crosses] == [-0.2, -0.1]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [stats.REPRODUCED_SMALLER, stats.CONTRADICTED, stats.OPPOSITE, "paper"]
    assert ax.get_xlabel() == "change"


def test_labels_must_match_the_cells():
    with pytest.raises(ValueError, match="2 labels for 3 cells"):
        forest.forest_figure(_cells(), ["a", "b"], "change")
    with pytest.raises(ValueError, match="no cell"):
        forest.forest_figure(_cells().iloc[:0], [], "change")
