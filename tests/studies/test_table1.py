"""The Table 1 page (faalgrad.studies.table1): its parameters, Table 1 in long form for the
book's figure, the verdict rule and the protected-input table."""

import numpy as np
import pandas as pd
import pytest

from faalgrad.runs import protected_input_specs
from faalgrad.runs.grids import PROTECTED_INPUT_ROWS
from faalgrad.studies import paper, stats
from faalgrad.studies import table1 as page
from faalgrad.studies.table1 import (
    _baseline_comparison,
    _fairer_than_baseline,
    _protected_input_table,
    _table1_long,
)


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
            ("erm", "config1", 1, "Baseline MLP"),
            ("threshold", "config1", 1, "Threshold adjustment"),
            ("faalgrad", "config1", 1, "Config 1"),
            ("faalgrad", "config1", 10, "Config 1"),
        ]:
            rows.append(
                {
                    "dataset": "german",
                    "method": method,
                    "split": split,
                    "inner_steps": inner,
                    "seed": seed,
                    "label": label,
                    "accuracy": 0.7,
                    "dp_diff": 0.1 + seed / 10,
                    "eod_diff": 0.2,
                }
            )
    return pd.DataFrame(rows)


def test_long_form_ours_and_paper():
    long = _table1_long(_rows(), "dp_diff")
    assert list(long.columns) == ["dataset", "method", "source", "value"]
    ours = long[long["source"] == "ours"]
    assert len(ours) == 8
    assert set(ours["method"]) == {
        "Baseline MLP",
        "Threshold adjustment",
        "Config 1 (I=1)",
        "Config 1 (I=10)",
    }
    reported = paper.table1().set_index(["dataset", "row", "inner_steps"])
    got = long[(long["source"] == "paper")].set_index("method")["value"]
    assert got["Config 1 (I=10)"] == pytest.approx(
        reported.loc[("german", "config1", 10), "dp_diff"]
    )
    assert set(got.index) == set(ours["method"])


def test_unknown_metric():
    with pytest.raises(ValueError, match="metric"):
        _table1_long(_rows(), "auc")


def _cell_rows(
    dp_base=0.30, eod_base=0.30, dp_meta=0.10, eod_meta=0.10, noise=0.01, seeds=5, shift=None
):
    """Run rows of one dataset: the baseline and the four FaAlGrad cells, per seed (paired
    noise)."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(seeds):
        common = rng.normal(0, 0.02)  # shared by every method of a seed: pairing removes it
        rows.append(
            {
                "dataset": "german",
                "method": "erm",
                "split": "config1",
                "inner_steps": 1,
                "seed": seed,
                "include_protected": True,
                "direction": "counter",
                "dp_diff": dp_base + common,
                "eod_diff": eod_base + common,
            }
        )
        for split in ("config1", "config2"):
            for inner in (1, 10):
                extra = (shift or {}).get((split, inner), 0.0)
                rows.append(
                    {
                        "dataset": "german",
                        "method": "faalgrad",
                        "split": split,
                        "inner_steps": inner,
                        "seed": seed,
                        "include_protected": True,
                        "direction": "counter",
                        "dp_diff": dp_meta + extra + common + rng.normal(0, noise),
                        "eod_diff": eod_meta + common + rng.normal(0, noise),
                    }
                )
    return pd.DataFrame(rows)


def _verdict(**kwargs):
    return _fairer_than_baseline(_baseline_comparison(_cell_rows(**kwargs)))


def test_fairer_than_baseline_verdicts():
    assert _verdict().verdict == "reproduced"
    assert "4 of 4" in _verdict().evidence and "paired over 5 seeds" in _verdict().evidence
    # EOD not lower: no cell holds
    assert _verdict(eod_meta=0.35).verdict == "not reproduced"
    # lower on average, but not beyond the seed noise after Holm's correction: does not count
    assert _verdict(dp_meta=0.29, noise=0.05).verdict == "not reproduced"
    v = _verdict(shift={("config1", 1): 0.4})
    assert v.verdict == "partly reproduced" and "3 of 4" in v.evidence


def test_baseline_comparison_is_paired_and_holm_corrected():
    rows = _cell_rows(noise=0.0)
    table = _baseline_comparison(rows)
    assert len(table) == 8 and set(table["metric"]) == {"dp_diff", "eod_diff"}
    assert table["mean"].to_numpy() == pytest.approx(-0.2)  # the shared per-seed noise cancels
    np.testing.assert_allclose(table["p_holm"], stats.holm(table["p"]))


def test_fairer_than_baseline_needs_rows():
    with pytest.raises(ValueError, match="baseline MLP"):
        _fairer_than_baseline(
            _baseline_comparison(_cell_rows()[lambda r: r["method"] != "faalgrad"])
        )


def test_protected_input_table_pairs_runs():
    rows = []
    for seed in (0, 1):
        for flag, shift in ((True, 0.0), (False, 0.1)):
            for method, split in (("erm", "config1"), ("faalgrad", "config1")):
                rows.append(
                    {
                        "dataset": "german",
                        "method": method,
                        "split": split,
                        "inner_steps": 1,
                        "seed": seed,
                        "include_protected": flag,
                        "accuracy": 0.7,
                        "dp_diff": 0.2 + shift + seed / 50,
                        "eod_diff": 0.3,
                    }
                )
    # an included-only run is not compared
    rows.append(
        {
            "dataset": "german",
            "method": "mba_dp",
            "split": "config1",
            "inner_steps": 1,
            "seed": 0,
            "include_protected": True,
            "accuracy": 0.7,
            "dp_diff": 0.2,
            "eod_diff": 0.3,
        }
    )
    table = _protected_input_table(pd.DataFrame(rows))
    assert list(table["method"]) == ["Baseline MLP", "Config 1"]
    assert list(table["DP change"]) == ["+0.10", "+0.10"]
    assert table.loc[0, "DP included"] == "0.21 ± 0.01"
    assert table.loc[0, "acc excluded"] == "70.00 ± 0.00"
    with pytest.raises(ValueError, match="both with and without"):
        _protected_input_table(pd.DataFrame(rows[-1:]))


def test_protected_input_specs_exclude():
    specs = protected_input_specs(["german"], 2)
    assert len(specs) == 2 * len(PROTECTED_INPUT_ROWS)
    assert not any(s.include_protected for s in specs)
    with pytest.raises(ValueError, match="seeds"):
        protected_input_specs(["german"], 0)
