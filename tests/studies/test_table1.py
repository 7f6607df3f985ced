"""The Table 1 page (faalgrad.studies.table1): its parameters, Table 1 in long form for the
book's figure, the verdict rule and the protected-input table."""
import pandas as pd
import pytest

from faalgrad.runs import protected_input_specs
from faalgrad.runs.grids import PROTECTED_INPUT_ROWS
from faalgrad.studies import paper
from faalgrad.studies import table1 as page
from faalgrad.studies.table1 import fairer_than_baseline, protected_input_table, table1_long


def test_table1_defaults_pass():
    page.Params(datasets=["compas", "adult", "communities", "german"], seeds=5, n_jobs=2)
    page.Params(datasets=("german",), seeds=1, n_jobs=-1)


@pytest.mark.parametrize(
    "kwargs, names",
    [
        ({"datasets": ["compass"]}, ["datasets", "compas", "german"]),
        ({"datasets": "german"}, ["datasets", "compas"]),
        ({"datasets": []}, ["datasets"]),
        ({"seeds": 0}, ["seeds"]),
        ({"seeds": 2.5}, ["seeds"]),
        ({"seeds": True}, ["seeds"]),
        ({"n_jobs": 0}, ["n_jobs"]),
        ({"n_jobs": "2"}, ["n_jobs"]),
    ],
)
def test_table1_bad_values_name_parameter_and_choices(kwargs, names):
    with pytest.raises(ValueError) as info:
        page.Params(**kwargs)
    for name in names:
        assert name in str(info.value)


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
    rows = [{"dataset": "german", "row": "baseline", "method": "Baseline MLP", "inner_steps": pd.NA,
             "dp_diff_mean": dp_base, "dp_diff_std": std, "eod_diff_mean": eod_base, "eod_diff_std": std, "n_seeds": 5}]
    for row, method in (("config1", "Config 1"), ("config2", "Config 2")):
        for inner in (1, 10):
            rows.append({"dataset": "german", "row": row, "method": method, "inner_steps": inner,
                         "dp_diff_mean": dp_meta, "dp_diff_std": std, "eod_diff_mean": eod_meta, "eod_diff_std": std,
                         "n_seeds": 5})
    return pd.DataFrame(rows)


def test_fairer_than_baseline_verdicts():
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
    with pytest.raises(ValueError, match="Baseline MLP"):
        fairer_than_baseline(_table().iloc[1:])


def test_protected_input_table_pairs_runs():
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
    specs = protected_input_specs(["german"], 2)
    assert len(specs) == 2 * len(PROTECTED_INPUT_ROWS)
    assert not any(s.include_protected for s in specs)
    with pytest.raises(ValueError, match="seeds"):
        protected_input_specs(["german"], 0)
