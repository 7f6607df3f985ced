"""The Table 1 page (faalgrad.studies.table1): its parameters, Table 1 in long form for the
book's figure, the verdict rule and the protected-input table."""

import numpy as np
import pandas as pd
import pytest

from faalgrad.runs import protected_input_specs
from faalgrad.runs.grids import PROTECTED_INPUT_ROWS
from faalgrad.studies import claims, paper, stats
from faalgrad.studies import table1 as page
from faalgrad.studies.table1 import (
    _BEYOND,
    _INSIDE,
    _ON_CURVE,
    _claim_cells,
    _claim_table,
    _claim_verdict,
    _protected_input_table,
    _stability,
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
                "accuracy": 0.75 + common,
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
                        "accuracy": 0.70 + common + rng.normal(0, 0.01),
                    }
                )
    return pd.DataFrame(rows)


def _verdict(metric="dp_diff", **kwargs):
    return _claim_verdict(_claim_cells(_cell_rows(**kwargs)), metric)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, stats.REPRODUCED),  # -0.20 against the paper's -0.11 to -0.13
        ({"dp_meta": 0.25}, stats.REPRODUCED_SMALLER),  # -0.05: lower, but not as much
        ({"dp_meta": 0.30}, stats.CONTRADICTED),  # no change, the paper's ruled out
        ({"dp_meta": 0.35}, stats.CONTRADICTED),  # every cell opposite
        ({"dp_meta": 0.25, "noise": 0.3}, stats.INCONCLUSIVE),  # the data cannot tell
        # one cell contradicted, three reproduced: not "on every dataset"
        ({"shift": {("config1", 1): 0.2}}, stats.INCONCLUSIVE),
    ],
)
def test_claim_verdicts_follow_the_cells_outcomes(kwargs, expected):
    verdict = _verdict(**kwargs)
    assert verdict.verdict == expected
    assert verdict.key == "lower_dp"
    assert "of 4 FaAlGrad cells" in verdict.evidence
    assert "paired over 5 seeds" in verdict.evidence


def test_claim_cells_are_paired_and_set_against_the_papers_change():
    cells = _claim_cells(_cell_rows(noise=0.0))
    dp = cells[cells["metric"] == "dp_diff"]
    assert len(dp) == 4 and set(cells["metric"]) == {"dp_diff", "eod_diff", "accuracy"}
    assert dp["mean"].to_numpy() == pytest.approx(-0.2)  # the shared per-seed noise cancels
    reported = paper.table1().query("dataset == 'german'")
    base = reported.loc[reported["row"] == "baseline", "dp_diff"].iloc[0]
    by_cell = reported.dropna(subset=["inner_steps"]).set_index(["row", "inner_steps"])
    expected = [by_cell.loc[(r.row, r.inner_steps), "dp_diff"] - base for r in dp.itertuples()]
    assert dp["paper_effect"].to_numpy() == pytest.approx(expected)
    assert dp["seeds_for_power"].notna().all()
    table = _claim_table(cells, "dp_diff")
    assert list(table["outcome"]) == list(dp["outcome"])
    assert table["accuracy change, points (± 95 % CI)"].str.startswith("-").all()
    half = [f"{r.mean:+.2f} ± {(r.high - r.low) / 2:.2f}" for r in dp.itertuples()]
    assert list(table["DP change (± 95 % CI)"].str.replace("−", "-")) == half


def test_evidence_gives_the_seeds_power_would_need():
    verdict = _verdict(dp_meta=0.25, noise=0.3)
    assert "80 % power" in verdict.evidence and "this page runs 5" in verdict.evidence


def test_claim_needs_faalgrad_and_baseline_rows():
    with pytest.raises(ValueError, match="baseline MLP"):
        _claim_cells(_cell_rows()[lambda r: r["method"] != "faalgrad"])


def test_forest_figure_draws_each_cell():
    import matplotlib

    matplotlib.use("Agg")
    rows = _cell_rows()
    cells = _claim_cells(rows)
    fig = page.forest_figure({"claim_cells": cells}, "eod_diff")
    assert len(fig.axes[0].get_yticklabels()) == 4
    with pytest.raises(ValueError, match="unknown metric"):
        page.forest_figure({"claim_cells": cells}, "accuracy")


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


def _flat_sweep(accuracy, seeds=5):
    """A baseline curve per seed: DP 0.0 to 0.4 in steps of 0.1, all at ``accuracy``."""
    return pd.DataFrame(
        [
            {
                "dataset": "german",
                "seed": seed,
                "threshold": t,
                "accuracy": accuracy,
                "dp_diff": dp,
                "eod_diff": dp,
            }
            for seed in range(seeds)
            for t, dp in zip((0.1, 0.3, 0.5, 0.7, 0.9), (0.0, 0.1, 0.2, 0.3, 0.4), strict=True)
        ]
    )


@pytest.mark.parametrize(
    ("curve_accuracy", "expected"),
    [(0.60, _BEYOND), (0.80, _INSIDE), (0.70, _ON_CURVE)],
)
def test_curve_comparison_at_equal_accuracy(curve_accuracy, expected):
    # FaAlGrad's runs: accuracy about 0.70 (seed noise 0.01), DP about 0.10
    cells = _claim_cells(_cell_rows(), _flat_sweep(curve_accuracy))
    fair = cells[cells["metric"] == "dp_diff"]
    assert (fair["curve"] == expected).all()
    table = _claim_table(cells, "dp_diff")
    assert table["vs threshold curve (points)"].str.startswith(expected).all()


def test_evidence_counts_the_curve_comparison():
    cells = _claim_cells(_cell_rows(), _flat_sweep(0.60))
    verdict = _claim_verdict(cells, "dp_diff")
    assert "threshold curve at an equal or smaller gap: 4 beyond, 0 inside" in verdict.evidence


def test_stability_decides_each_seed_prefix_as_the_page_does():
    rows = _cell_rows(seeds=12, dp_meta=0.25, noise=0.06)
    table = _stability(rows)
    # no 20-seed prefix of 12 seeds; the last rows are all 12
    assert list(table["seeds"]) == ["5", "5", "10", "10", "12", "12"]
    assert list(table["claim"]) == ["lower DP", "lower EOD"] * 3
    for k in (5, 10, 12):
        cells = _claim_cells(rows[rows["seed"] < k])
        fair = cells[cells["metric"] == "dp_diff"]
        line = table[(table["seeds"] == str(k)) & (table["claim"] == "lower DP")].iloc[0]
        assert line["verdict"] == claims.verdict_on_every_dataset(fair)
        assert line["cells"] == claims.outcome_counts(fair["outcome"])
