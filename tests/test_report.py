"""faalgrad.report: Table 1 in long form for the book's figure."""
import pandas as pd
import pytest

from faalgrad import paper
from faalgrad.report import table1_long


def _rows():
    rows = []
    for seed in (0, 1):
        for method, split, inner, label in [
            ("erm", "config1", 1, "Baseline MLP"), ("threshold", "config1", 1, "Threshold adjustment"),
            ("faalgrad", "config1", 1, "Config 1"), ("faalgrad", "config1", 10, "Config 1"),
        ]:
            rows.append({"dataset": "german", "method": method, "split": split, "inner_steps": inner, "seed": seed,
                         "label": label, "accuracy": 0.7, "dp_diff": 0.1 + seed / 10, "eod_diff": 0.2})
    return pd.DataFrame(rows)


def test_long_form_ours_and_paper():
    long = table1_long(_rows(), "dp_diff")
    assert list(long.columns) == ["dataset", "method", "source", "value"]
    ours = long[long["source"] == "ours"]
    assert len(ours) == 8
    assert set(ours["method"]) == {"Baseline MLP", "Threshold adjustment", "Config 1 (I=1)", "Config 1 (I=10)"}
    reported = paper.table1().set_index(["dataset", "row", "inner_steps"])
    got = long[(long["source"] == "paper")].set_index("method")["value"]
    assert got["Config 1 (I=10)"] == pytest.approx(reported.loc[("german", "config1", 10), "dp_diff"])
    assert set(got.index) == set(ours["method"])


def test_unknown_metric():
    with pytest.raises(ValueError, match="metric"):
        table1_long(_rows(), "auc")
