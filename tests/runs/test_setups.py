"""The authors' released COMPAS script, replayed: ``setup="code"``."""

import numpy as np
import pytest
import torch
from torch import nn

from faalgrad.datasets import load_dataset
from faalgrad.runs import RunSpec, cached_split, run, setup_fields
from faalgrad.train import TrainConfig, build_mlp

SCRIPT_COLUMNS = (
    "age",
    "priors_count",
    "length_of_stay",
    "c_charge_degree_F",
    "c_charge_degree_M",
    "sex_Female",
    "sex_Male",
    "race_african_american",
)


def _code(split="config1", seed=102):
    return RunSpec(
        "compas", "faalgrad", split=split, seed=seed, **setup_fields("code", "compas", "faalgrad")
    )


def test_split_sizes_and_order():
    data = cached_split("compas", 102, procedure="code", inputs="integer")
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (4319, 618, 1235)
    assert len(set(map(len, (data.X_train, data.a_train)))) == 1


def test_columns_and_unscaled_integer_values():
    data = cached_split("compas", 102, procedure="code", inputs="integer")
    assert data.feature_names == SCRIPT_COLUMNS
    X = data.X_train
    np.testing.assert_array_equal(X, np.floor(X))  # integers, as the script's int cast
    ds = load_dataset("compas")
    ages = np.sort(ds.features["age"].to_numpy())
    assert set(np.unique(X[:, 0])) <= set(ages) and X[:, 0].max() > 60  # raw ages, not standardised
    assert (
        X[:, 2].min() == -1
    )  # lengths of stay in whole days, rounded down as the script's .dt.days


def test_initial_weights_are_the_scripts():
    torch.manual_seed(102)
    first, second = nn.Linear(8, 8), nn.Linear(8, 1)
    model = build_mlp(8, TrainConfig(hidden=(8,)), seed=102)
    torch.testing.assert_close(model[0].weight, first.weight, rtol=0, atol=0)
    torch.testing.assert_close(model[0].bias, first.bias, rtol=0, atol=0)
    torch.testing.assert_close(model[2].weight, second.weight, rtol=0, atol=0)
    torch.testing.assert_close(model[2].bias, second.bias, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        (
            "config1",
            {
                "accuracy": 0.6113,
                "dp_diff": 0.1679,
                "dp_ratio": 0.8190,
                "eod_diff": 0.2197,
                "eod_ratio": 0.7515,
                "best_epoch": 15,
                "epochs": 26,
            },
        ),
        (
            "config2",
            {
                "accuracy": 0.5571,
                "dp_diff": 0.0046,
                "eod_diff": 0.0197,
                "best_epoch": 1,
                "epochs": 12,
            },
        ),
    ],
)
def test_seed_102_prints_the_scripts_numbers(split, expected):
    """The numbers the authors' script prints at its hard-coded seed.

    Full batch: exact on any CPU.
    """
    # the global NumPy state is read only, to check below that the run leaves it untouched
    numpy_state, torch_state = np.random.get_state(), torch.get_rng_state()  # noqa: NPY002
    row = run(_code(split))
    assert {
        k: round(row[k], 4) if isinstance(expected[k], float) else row[k] for k in expected
    } == expected
    assert row["n_support"] + row["n_query"] == 4319
    # the draws came from explicit generators: the global ones are untouched
    numpy_after = np.random.get_state()  # noqa: NPY002 (the global state, read only)
    assert all(
        np.array_equal(a, b) for a, b in zip(numpy_after[1:2], numpy_state[1:2], strict=True)
    )
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_code_setup_covers_the_scripts_runs_only():
    with pytest.raises(ValueError, match="COMPAS only"):
        setup_fields("code", "adult", "faalgrad")
    with pytest.raises(ValueError, match="COMPAS only"):
        setup_fields("code", "compas", "erm")
    with pytest.raises(ValueError, match="'notes'; valid choices: paper, code"):
        setup_fields("notes", "compas", "faalgrad")
    assert setup_fields("paper", "adult", "erm") == {}


def test_cli_replays_the_script(capsys):
    from faalgrad.__main__ import main

    assert (
        main(
            [
                "run",
                "--dataset",
                "compas",
                "--setup",
                "code",
                "--split",
                "config1",
                "--seed",
                "102",
                "--n-jobs",
                "1",
            ]
        )
        == 0
    )
    line = capsys.readouterr().out.splitlines()[1].split()
    assert line[:2] == ["compas", "Config"] and line[5:8] == ["0.611", "0.168", "0.220"]
    assert main(["run", "--dataset", "adult", "--setup", "code", "--seed", "0"]) == 2
    assert "COMPAS only" in capsys.readouterr().err
