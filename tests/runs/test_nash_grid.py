"""The Nash-style methods inside the experiment grid and the CLI."""

import pytest

from faalgrad.__main__ import main
from faalgrad.metrics import METRICS
from faalgrad.nash import NASH_METHODS
from faalgrad.runs import METHODS, RunSpec, run


def test_every_nash_method_is_a_grid_method():
    assert set(NASH_METHODS) <= set(METHODS)


@pytest.mark.parametrize("method", ["ltr", "nash_gdro"])
def test_run_row_has_metrics_and_conflict_shares(method):
    row = run(RunSpec("german", method, seed=0, overrides={"epochs": 2, "bargain_epochs": 1}))
    assert set(METRICS) <= set(row)
    assert 0.0 <= row["conflict_one_stage"] <= 1.0
    assert 0.0 <= row["accuracy"] <= 1.0
    if method.startswith("nash_"):
        assert 0.0 <= row["conflict_after_bargaining"] <= row["conflict_one_stage_bargain_batches"]


def test_unknown_nash_setting_is_named():
    with pytest.raises(ValueError, match="max_epochs"):
        RunSpec("german", "ltr", overrides={"max_epochs": 3})


def test_cli_epochs_maps_to_nash_epochs(capsys):
    assert (
        main(
            [
                "run",
                "--dataset",
                "german",
                "--method",
                "forml",
                "--seeds",
                "1",
                "--epochs",
                "1",
                "--format",
                "csv",
                "--n-jobs",
                "1",
            ]
        )
        == 0
    )
    assert "conflict_one_stage" in capsys.readouterr().out.splitlines()[0]
