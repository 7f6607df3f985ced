"""Tests for :mod:`faalgrad.runs`: run specs, runs, grids and Table 1."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from faalgrad.datasets import load_dataset
from faalgrad.metrics import METRICS
from faalgrad.runs import METHODS, RunSpec, methods, run, run_grid, table1_specs
from faalgrad.splits import split_dataset
from faalgrad.studies.table1 import format_table, table1

FAST = {"max_epochs": 3}


# --- RunSpec ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"dataset": "mnist"},
            "unknown dataset 'mnist'; valid choices: compas, adult, communities, german",
        ),
        (
            {"dataset": "german", "method": "svm"},
            "unknown method 'svm'; valid choices: " + ", ".join(METHODS),
        ),
        (
            {"dataset": "german", "split": "config3"},
            "unknown split 'config3'; valid choices: config1, config2, ratio, swap",
        ),
        ({"dataset": "german", "seed": -1}, "seed=-1 must be a non-negative integer"),
        ({"dataset": "german", "seed": 1.0}, "seed=1.0 must be a non-negative integer"),
        ({"dataset": "german", "seed": True}, "seed=True must be a non-negative integer"),
        (
            {"dataset": "german", "split": "config1", "ratio": 0.2},
            "ratio=0.2 applies only to the 'ratio' and 'swap' splits",
        ),
        ({"dataset": "german", "split": "config2", "ratio": "80:20"}, "ratio='80:20' applies only"),
        ({"dataset": "german", "split": "ratio"}, "split 'ratio' needs a ratio"),
        ({"dataset": "german", "split": "swap"}, "split 'swap' needs a ratio"),
        ({"dataset": "german", "split": "ratio", "ratio": 1.5}, "strictly between 0 and 1"),
        ({"dataset": "german", "inner_steps": 0}, "inner_steps=0 must be a positive integer"),
        ({"dataset": "german", "overrides": {"epochs": 3}}, "unknown setting(s) epochs"),
        ({"dataset": "german", "method": "erm", "overrides": {"max_epochs": 0}}, "max_epochs=0"),
    ],
)
def test_run_spec_validation(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        RunSpec(**kwargs)


def test_run_spec_normalises_ratio_and_overrides():
    spec = RunSpec("german", split="ratio", ratio="80:20", overrides={"max_epochs": 3, "hidden": 4})
    assert spec.ratio == 0.2
    assert spec.overrides == (("hidden", 4), ("max_epochs", 3))
    assert spec == RunSpec(
        "german", split="ratio", ratio=0.2, overrides={"hidden": 4, "max_epochs": 3}
    )
    assert hash(spec) == hash(
        RunSpec("german", split="ratio", ratio=0.2, overrides={"hidden": 4, "max_epochs": 3})
    )
    config = spec.config()
    assert config.max_epochs == 3 and config.hidden == (4,)
    assert config.outer_lr == 0.1 and config.inner_lr == 0.005  # the German FaAlGrad preset


def test_run_spec_config_per_method():
    assert RunSpec("adult", inner_steps=10).config().inner_steps == 10
    erm = RunSpec("adult", method="erm").config()
    assert erm.outer_lr == 0.001 and erm.max_epochs == 1000 and erm.hidden == (8, 8)


@pytest.mark.parametrize(
    ("spec", "label"),
    [
        (RunSpec("german"), "Config 1"),
        (RunSpec("german", split="config2", inner_steps=10), "Config 2"),
        (RunSpec("german", split="ratio", ratio=0.2), "Ratio 80:20"),
        (RunSpec("compas", split="swap", ratio="70:30"), "Swap 70:30"),
        (RunSpec("german", method="erm"), "Baseline MLP"),
        (RunSpec("german", method="mba_dp"), "MBA for DP"),
        (RunSpec("german", method="mba_eod"), "MBA for EOD"),
        (RunSpec("german", method="threshold"), "Threshold adjustment"),
    ],
)
def test_run_spec_label(spec, label):
    assert spec.label == label


# --- run --------------------------------------------------------------------------------


def _german_train_a(seed: int = 0) -> np.ndarray:
    return split_dataset(load_dataset("german"), seed).a_train


def test_infeasible_ratio_raises_when_run():
    share = _german_train_a().mean()  # 217 / 700 = 0.31
    assert share == pytest.approx(0.31)
    # Raised by the spec or, at the latest, by the run.
    for split, message in (("ratio", r"0\.310 \(69:31\)"), ("swap", r"0\.690 \(31:69\)")):
        with pytest.raises(
            ValueError, match=rf"infeasible for german.*largest feasible ratio is {message}"
        ):
            run(
                RunSpec(
                    "german",
                    split=split,
                    ratio={"ratio": "50:50", "swap": "20:80"}[split],
                    overrides=FAST,
                )
            )
    # The reported largest value runs.
    row = run(RunSpec("german", split="ratio", ratio=0.31, overrides=FAST))
    assert row["n_support"] == 217


def test_run_returns_a_complete_row():
    row = run(RunSpec("german", overrides={"max_epochs": 5}))
    assert set(METRICS) <= set(row)
    for m in METRICS:
        assert isinstance(row[m], float) and np.isfinite(row[m]), m
    for m in (
        "accuracy",
        "dp_diff",
        "eod_diff",
        "dp_ratio",
        "eod_ratio",
        "acc_protected",
        "acc_unprotected",
        "auc",
    ):
        assert 0.0 <= row[m] <= 1.0, m
    assert row["dataset"] == "german" and row["method"] == "faalgrad" and row["split"] == "config1"
    assert row["label"] == "Config 1" and row["overrides"] == "max_epochs=5"
    assert row["threshold"] == 0.5
    a_train = _german_train_a()
    assert row["n_support"] == a_train.sum() == 217  # Config 1: X_s = every protected row
    assert row["n_support"] + row["n_query"] == len(a_train) == 700
    assert 1 <= row["epochs"] <= 5 and 0 <= row["best_epoch"] < row["epochs"]


def _clear_caches():
    methods._ERM_MODELS.clear()  # force the ERM model to be retrained, not reused


@pytest.mark.parametrize(
    "spec",
    [
        RunSpec("german", overrides=FAST),
        RunSpec("german", split="config2", inner_steps=10, seed=1, overrides=FAST),
        RunSpec("german", split="swap", ratio="80:20", seed=2, overrides=FAST),
        RunSpec("german", method="erm", overrides=FAST),
        RunSpec("german", method="mba_dp", overrides=FAST),
        RunSpec("german", method="mba_eod", overrides=FAST),
        RunSpec("german", method="threshold", overrides=FAST),
    ],
    ids=lambda s: f"{s.method}-{s.split}",
)
def test_run_is_deterministic(spec):
    _clear_caches()
    first = run(spec)
    _clear_caches()
    second = run(spec)
    pd.testing.assert_series_equal(
        pd.Series(first), pd.Series(second), check_exact=True
    )  # NaN-aware, exact
    if spec.method != "threshold":
        assert first["threshold"] == 0.5


def test_seed_changes_the_run():
    a = run(RunSpec("german", seed=0, overrides=FAST))
    b = run(RunSpec("german", seed=1, overrides=FAST))
    assert [a[m] for m in METRICS] != [b[m] for m in METRICS]


# --- grids and Table 1 ------------------------------------------------------------------


def test_table1_specs():
    specs = table1_specs(["german"], 2)
    assert len(specs) == 16
    assert [s.seed for s in specs] == [0] * 8 + [1] * 8
    rows = [(s.method, s.split, s.inner_steps) for s in specs[:8]]
    assert rows == [
        ("erm", "config1", 1),
        ("mba_dp", "config1", 1),
        ("mba_eod", "config1", 1),
        ("threshold", "config1", 1),
        ("faalgrad", "config1", 1),
        ("faalgrad", "config1", 10),
        ("faalgrad", "config2", 1),
        ("faalgrad", "config2", 10),
    ]
    assert rows == [(s.method, s.split, s.inner_steps) for s in specs[8:]]
    assert all(s.dataset == "german" and s.include_protected and s.overrides == () for s in specs)
    assert len(table1_specs(["german", "compas"], 3)) == 48
    assert all(
        s.overrides == (("max_epochs", 3),) for s in table1_specs(["german"], 1, max_epochs=3)
    )


@pytest.mark.parametrize("seeds", [0, -2, 1.5, True, "3"])
def test_table1_specs_rejects_bad_seeds(seeds):
    with pytest.raises(ValueError, match=re.escape(f"seeds={seeds!r}")):
        table1_specs(["german"], seeds)


def test_table1_specs_rejects_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        table1_specs(["german", "mnist"], 1)


@pytest.fixture(scope="module")
def grid_specs():
    return table1_specs(["german"], 2, **FAST)


@pytest.fixture(scope="module")
def grid_rows(grid_specs):
    return run_grid(grid_specs, n_jobs=1, progress=False)


def test_run_grid_rows_in_spec_order(grid_specs, grid_rows):
    assert len(grid_rows) == len(grid_specs) == 16
    assert list(grid_rows["method"]) == [s.method for s in grid_specs]
    assert list(grid_rows["seed"]) == [s.seed for s in grid_specs]
    assert list(grid_rows["inner_steps"]) == [s.inner_steps for s in grid_specs]
    assert set(METRICS) <= set(grid_rows.columns)
    assert grid_rows[list(METRICS)].notna().all().all()
    # A row of the grid is the row of a single run.
    _clear_caches()
    single = run(grid_specs[5])
    assert set(single) == set(grid_rows.columns)
    for key, value in single.items():
        if value is None:
            assert pd.isna(grid_rows.iloc[5][key]), key
        else:
            assert grid_rows.iloc[5][key] == value, key


def test_run_grid_parallel_matches_serial():
    # Two (dataset, seed) groups, so two worker processes, with ERM-based and FaAlGrad runs
    # in each. Kept small: the cost of this test is the workers' start-up (imports).
    specs = [
        RunSpec("german", method="mba_eod", seed=0, overrides=FAST),
        RunSpec("german", split="config2", inner_steps=10, seed=1, overrides=FAST),
        RunSpec("german", seed=0, overrides=FAST),
        RunSpec("german", method="threshold", seed=1, overrides=FAST),
    ]
    _clear_caches()
    serial = run_grid(specs, n_jobs=1, progress=False)
    parallel = run_grid(specs, n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(parallel, serial, check_exact=True)
    assert list(serial["seed"]) == [0, 1, 0, 1]
    assert list(serial["method"]) == ["mba_eod", "faalgrad", "faalgrad", "threshold"]


def test_table1_from_grid_rows_merges_paper(grid_rows):
    table = table1(grid_rows)
    assert len(table) == 8
    assert table["accuracy_paper"].notna().all()
    assert table["dp_diff_paper"].notna().all() and table["eod_diff_paper"].notna().all()
    assert (table["n_seeds"] == 2).all()
    assert list(table["method"]) == [
        "Baseline MLP",
        "MBA for DP",
        "MBA for EOD",
        "Threshold adjustment",
        "Config 1",
        "Config 1",
        "Config 2",
        "Config 2",
    ]
    assert table["inner_steps"].tolist()[4:] == [1, 10, 1, 10]
    assert table["inner_steps"].isna().tolist()[:4] == [True] * 4
    np.testing.assert_allclose(
        table["accuracy_diff"], table["accuracy_mean"] - table["accuracy_paper"]
    )


def _synthetic_rows() -> pd.DataFrame:
    """Six hand-made run rows for German: ERM over two seeds, Config 1 at I = 1 and 10."""
    return pd.DataFrame(
        {
            "dataset": ["german"] * 6,
            "method": ["erm", "erm", "faalgrad", "faalgrad", "faalgrad", "faalgrad"],
            "split": ["config1"] * 6,
            "inner_steps": [1, 1, 1, 1, 10, 10],
            "seed": [0, 1, 0, 1, 0, 1],
            "accuracy": [0.70, 0.74, 0.60, 0.64, 0.50, 0.50],
            "dp_diff": [0.10, 0.20, 0.05, 0.07, 0.0, 0.02],
            "eod_diff": [0.30, 0.10, 0.02, 0.04, 0.01, 0.03],
        }
    )


def test_table1_values_on_hand_made_rows():
    table = table1(_synthetic_rows())
    assert len(table) == 3
    base, c1, c10 = (table.iloc[i] for i in range(3))
    assert base["method"] == "Baseline MLP" and pd.isna(base["inner_steps"])
    assert c1["method"] == c10["method"] == "Config 1"
    assert (c1["inner_steps"], c10["inner_steps"]) == (1, 10)
    # Our mean / std over the two seeds.
    assert base["accuracy_mean"] == pytest.approx(0.72)
    assert base["accuracy_std"] == pytest.approx(np.std([0.70, 0.74], ddof=1))
    assert c10["accuracy_std"] == 0.0
    assert base["eod_diff_mean"] == pytest.approx(0.20)
    # The paper's German values: baseline 71.47 % / DP 0.15 / EOD 0.18, Config 1 I=10 70.00 %.
    assert base["accuracy_paper"] == pytest.approx(0.7147)
    assert base["dp_diff_paper"] == pytest.approx(0.15) and base["eod_diff_paper"] == pytest.approx(
        0.18
    )
    assert c1["accuracy_paper"] == pytest.approx(0.7070)
    assert c10["accuracy_paper"] == pytest.approx(0.7000)
    assert base["accuracy_diff"] == pytest.approx(0.72 - 0.7147)
    assert c10["dp_diff_diff"] == pytest.approx(0.01 - 0.03)


def test_format_table_strings():
    out = format_table(table1(_synthetic_rows()))
    first = out.iloc[0]
    assert first["I"] == "–"
    assert first["acc paper"] == "71.47"
    assert first["acc ours"] == f"72.00 ± {100 * np.std([0.70, 0.74], ddof=1):.2f}"
    assert first["acc diff"] == "+0.53"
    assert out.iloc[2]["I"] == "10"


def test_a_row_does_not_depend_on_the_seeds_trained_beside_it():
    """Seed 3's rows alone, in a batch of 5 seeds and in a batch of 20 are equal (the ERM
    family, FaAlGrad and a Nash-style method)."""

    def seed3_rows(seeds) -> pd.DataFrame:
        _clear_caches()
        specs = [
            RunSpec("german", method=m, seed=s, overrides={"max_epochs": 25})
            for s in seeds
            for m in ("erm", "mba_dp", "mba_eod", "threshold", "faalgrad")
        ]
        nash = {"epochs": 3, "bargain_epochs": 2, "hidden": (16, 8)}
        specs += [RunSpec("german", method="nash_gdro", seed=s, overrides=nash) for s in seeds]
        rows = run_grid(specs, progress=False)
        return rows[rows["seed"] == 3].reset_index(drop=True)

    alone = seed3_rows([3])
    assert len(alone) == 6
    pd.testing.assert_frame_equal(alone, seed3_rows(range(5)))
    pd.testing.assert_frame_equal(alone, seed3_rows(range(20)))
