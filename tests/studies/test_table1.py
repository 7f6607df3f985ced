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


def _table(dp_base=0.30, eod_base=0.30, dp_meta=0.10, eod_meta=0.10, std=0.01):
    from faalgrad.report import fairer_than_baseline  # noqa: F401

    rows = [{"dataset": "german", "method": "Baseline MLP", "inner_steps": pd.NA, "dp_diff_mean": dp_base,
             "dp_diff_std": std, "eod_diff_mean": eod_base, "eod_diff_std": std, "n_seeds": 5}]
    for method in ("Config 1", "Config 2"):
        for inner in (1, 10):
            rows.append({"dataset": "german", "method": method, "inner_steps": inner, "dp_diff_mean": dp_meta,
                         "dp_diff_std": std, "eod_diff_mean": eod_meta, "eod_diff_std": std, "n_seeds": 5})
    return pd.DataFrame(rows)


def test_fairer_than_baseline_verdicts():
    from faalgrad.report import fairer_than_baseline

    assert fairer_than_baseline(_table()).verdict == "reproduced"
    assert "4 of 4" in fairer_than_baseline(_table()).evidence
    # EOD not lower: no cell holds
    assert fairer_than_baseline(_table(eod_meta=0.35)).verdict == "not reproduced"
    # lower, but within one standard error of the difference: does not count
    assert fairer_than_baseline(_table(dp_meta=0.29, std=0.05)).verdict == "not reproduced"
    partial = _table()
    partial.loc[1, "dp_diff_mean"] = 0.5
    v = fairer_than_baseline(partial)
    assert v.verdict == "partly reproduced" and "3 of 4" in v.evidence


def test_fairer_than_baseline_needs_rows():
    from faalgrad.report import fairer_than_baseline

    with pytest.raises(ValueError, match="Baseline MLP"):
        fairer_than_baseline(_table().iloc[1:])


def test_protected_input_table_pairs_runs():
    from faalgrad.report import protected_input_table

    rows = []
    for seed in (0, 1):
        for flag, shift in ((True, 0.0), (False, 0.1)):
            for method, split in (("erm", "config1"), ("faalgrad", "config1")):
                rows.append({"dataset": "german", "method": method, "split": split, "inner_steps": 1, "seed": seed,
                             "include_protected": flag, "accuracy": 0.7, "dp_diff": 0.2 + shift + seed / 50,
                             "eod_diff": 0.3})
    # an included-only run is not compared
    rows.append({"dataset": "german", "method": "mba_dp", "split": "config1", "inner_steps": 1, "seed": 0,
                 "include_protected": True, "accuracy": 0.7, "dp_diff": 0.2, "eod_diff": 0.3})
    table = protected_input_table(pd.DataFrame(rows))
    assert list(table["method"]) == ["Baseline MLP", "Config 1"]
    assert list(table["DP change"]) == ["+0.10", "+0.10"]
    assert table.loc[0, "DP included"] == "0.21 ± 0.01"
    assert table.loc[0, "acc excluded"] == "70.00 ± 0.00"
    with pytest.raises(ValueError, match="both with and without"):
        protected_input_table(pd.DataFrame(rows[-1:]))


def test_protected_input_specs_exclude():
    from faalgrad.report import PROTECTED_INPUT_ROWS, protected_input_specs

    specs = protected_input_specs(["german"], 2)
    assert len(specs) == 2 * len(PROTECTED_INPUT_ROWS)
    assert not any(s.include_protected for s in specs)
    with pytest.raises(ValueError, match="seeds"):
        protected_input_specs(["german"], 0)
