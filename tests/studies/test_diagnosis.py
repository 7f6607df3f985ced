"""The attribution path of the "Why the numbers differ" page."""

import numpy as np
import pandas as pd
import pytest

from faalgrad.runs import RunSpec, run_grid
from faalgrad.studies import diagnosis as page
from faalgrad.studies.stats import paired_difference


def test_path_changes_one_factor_per_step():
    for dataset in ("compas", "german"):
        for split in page.CONFIGS:
            states = page._path(dataset, split)
            keys = [k for k, _ in states]
            assert keys[0] == "code" and keys[-1] == "longer"
            assert ("direction" in keys) == (split == "config2")
            assert ("rates" in keys) == (
                dataset == "compas"
            )  # only COMPAS has the code's learning rates
            for (_, before), (key, after) in zip(states[:-1], states[1:], strict=True):
                changed = {k for k in after if after[k] != before.get(k)}
                assert len(changed) == 1, (key, changed)


def test_path_starts_from_the_script_and_passes_through_ours():
    compas = dict(page._path("compas", "config1"))
    assert compas["code"]["split_procedure"] == "code" and compas["code"]["inputs"] == "integer"
    assert compas["code"]["overrides"] == {"inner_lr": 0.005, "outer_lr": 0.01}
    ours = RunSpec("compas", "faalgrad", seed=0, **compas[page._OURS])
    assert ours == RunSpec("compas", "faalgrad", seed=0)  # this book's default run
    german = dict(page._path("german", "config2"))
    assert german["code"]["inputs"] == "raw" and german["direction"]["direction"] == "consistent"


def test_params_validation():
    with pytest.raises(ValueError, match="datasets.*valid choices"):
        page.Params(datasets=["nope"])
    with pytest.raises(ValueError, match="seeds=1 must be .*paired intervals"):
        page.Params(seeds=1)
    with pytest.raises(ValueError, match="n_jobs"):
        page.Params(n_jobs=0)


def test_specs_pair_every_state_on_the_same_seeds():
    params = page.Params(datasets=["german"], seeds=3)
    specs = page.specs(params)
    states = len(page._path("german", "config1")) + len(page._path("german", "config2"))
    assert len(specs) == 3 * states
    assert {s.seed for s in specs} == {0, 1, 2}


def _fake_rows(dataset="german", seeds=4):
    rng = np.random.default_rng(0)
    rows = []
    for split in page.CONFIGS:
        for i, (_key, kw) in enumerate(page._path(dataset, split)):
            for seed in range(seeds):
                spec = RunSpec(dataset, "faalgrad", seed=seed, **kw)
                rows.append(
                    {
                        "dataset": dataset,
                        "split": split,
                        "seed": seed,
                        "split_procedure": spec.split_procedure,
                        "inputs": spec.inputs,
                        "include_protected": spec.include_protected,
                        "direction": spec.direction,
                        "overrides": ",".join(f"{k}={v}" for k, v in spec.overrides),
                        "accuracy": 0.7 + 0.01 * i + 0.01 * rng.random(),
                        "dp_diff": 0.1 * i + 0.02 * seed,
                        "eod_diff": 0.05 * i + 0.01 * rng.random(),
                        "best_epoch": 10 + i,
                    }
                )
    return pd.DataFrame(rows)


def test_step_table_is_the_paired_difference_of_consecutive_states():
    rows = _fake_rows()
    steps = page._step_table(rows).set_index(["split", "step", "metric"])
    a = rows[
        (rows["split"] == "config1")
        & (rows["inputs"] == "scaled")
        & (rows["include_protected"])
        & (rows["overrides"] == "")
    ].sort_values("seed")
    b = rows[
        (rows["split"] == "config1")
        & (rows["inputs"] == "raw")
        & (rows["split_procedure"] == "paper")
    ].sort_values("seed")
    expected = paired_difference(a["accuracy"].to_numpy(), b["accuracy"].to_numpy())
    got = steps.loc[("config1", "inputs", "accuracy")]
    assert got["mean"] == pytest.approx(expected["mean"]) and got["low"] == pytest.approx(
        expected["low"]
    )
    assert steps.loc[("config1", "splits", "dp_diff"), "mean"] == pytest.approx(
        0.1
    )  # exact: no seed noise in DP steps


def test_compute_and_glue_on_fake_rows():
    rows = _fake_rows()
    result = page.compute(page.Params(datasets=["german"], seeds=4), rows)
    water = result["waterfall"]
    assert water.groupby(["dataset", "split"]).size().tolist() == [5, 6]
    assert (water["end"].iloc[0:4].to_numpy() == water["start"].iloc[1:5].to_numpy()).all()
    printed, legend = result["printed"], result["step_legend"]
    assert len(printed) == 4 + 5 and list(printed.index.names) == ["dataset", "split"]
    assert set(printed["step"]) <= set(legend["step"])  # short names, explained by the legend
    assert legend.loc[legend["step"] == "inputs", "change"].item() == "unscaled → standardised"
    steps = result["steps"].set_index(["split", "step", "metric"])
    dp = steps.loc[("config1", "inputs", "dp_diff")]
    cell = printed.loc[("German Credit", "Config 1")].set_index("step").loc["inputs"]
    assert cell["Δ [95 % CI] DP"].startswith(f"{dp['mean']:+.3f}")
    assert cell["Δ [95 % CI] DP"].endswith(f"[{dp['low']:+.3f}, {dp['high']:+.3f}]")
    glued = page.glue_values(result)
    assert glued["n_seeds"] == "4" and glued["german_config1_dp_start"] == "0.030"
    assert all(isinstance(v, str) for v in glued.values())
    assert page.verdicts(result) == []


def test_unknown_rows_are_refused():
    rows = _fake_rows()
    rows.loc[0, "inputs"] = "integer"  # german never runs on integer inputs
    with pytest.raises(ValueError, match="no path"):
        page._step_table(rows)


def test_small_end_to_end():
    specs = [
        s for s in page.specs(page.Params(datasets=["german"], seeds=2)) if s.split == "config1"
    ]
    specs = [
        RunSpec(
            **{**s.__dict__, "overrides": {**dict(s.overrides), "max_epochs": 3, "patience": 3}}
        )
        for s in specs
        if "max_epochs" not in dict(s.overrides)
    ]
    rows = run_grid(specs, progress=False)
    assert len(rows) == len(specs) and rows["accuracy"].between(0, 1).all()
