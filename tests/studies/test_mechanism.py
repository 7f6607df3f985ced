"""The mechanism page (faalgrad.studies.mechanism): its parameters, the arms' run specs, the
stopped-ERM specs, the verdict rule, the equal-accuracy matching and a small end-to-end run."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from faalgrad.presets import faalgrad_config
from faalgrad.runs import run_grid
from faalgrad.studies import mechanism as page
from faalgrad.studies.claims import CLAIMS, CONTRADICTED, INCONCLUSIVE, REPRODUCED

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "mechanism.md"


def test_defaults_pass():
    params = page.Params()
    assert params.datasets == ("compas", "german", "communities") and params.seeds == 10
    assert params.trajectory_seeds == 3 and params.n_jobs == 2 and params.cap() == {}
    page.Params(datasets=["german"], seeds=1, trajectory_seeds=1, n_jobs=-1, max_epochs=3)


@pytest.mark.parametrize(
    "kwargs, names",
    [
        ({"datasets": ["compass"]}, ["datasets", "compas", "german"]),
        ({"datasets": "german"}, ["datasets", "compas"]),
        ({"datasets": []}, ["datasets"]),
        ({"datasets": ["german", "german"]}, ["datasets", "repeats"]),
        ({"seeds": 0}, ["seeds"]),
        ({"seeds": 2.5}, ["seeds"]),
        ({"seeds": True}, ["seeds"]),
        ({"seeds": 2, "trajectory_seeds": 3}, ["trajectory_seeds", "seeds=2"]),
        ({"trajectory_seeds": 0}, ["trajectory_seeds"]),
        ({"trajectory_epochs": 0}, ["trajectory_epochs"]),
        ({"n_jobs": 0}, ["n_jobs"]),
        ({"n_jobs": "2"}, ["n_jobs"]),
        ({"max_epochs": 0}, ["max_epochs", "None"]),
    ],
)
def test_bad_values_name_parameter_and_choices(kwargs, names):
    with pytest.raises(ValueError) as info:
        page.Params(**kwargs)
    for name in names:
        assert name in str(info.value)


def test_claim_is_registered_for_this_page():
    assert CLAIMS["alignment_mechanism"][0] == "mechanism"


# --- run specs ---------------------------------------------------------------------------------


def test_arm_specs_share_datasets_splits_and_seeds():
    params = page.Params(datasets=["german", "compas"], seeds=3)
    arms = page._arm_specs(params)
    assert list(arms) == ["faalgrad", "no_alignment", "first_order", "erm"]
    cells = {
        arm: [(s.dataset, s.split, s.seed) for s in arms[arm]]
        for arm in ("faalgrad", "no_alignment", "first_order")
    }
    assert cells["faalgrad"] == cells["no_alignment"] == cells["first_order"]
    assert set(cells["faalgrad"]) == {
        (d, c, s) for d in ("german", "compas") for c in ("config1", "config2") for s in range(3)
    }
    assert all(s.method == "faalgrad" and s.inner_steps == 1 for a in cells for s in arms[a])
    assert [dict(s.overrides) for s in arms["faalgrad"]] == [{}] * 12
    assert all(dict(s.overrides) == {"inner_lr": 0.0} for s in arms["no_alignment"])
    assert all(dict(s.overrides) == {"first_order": True} for s in arms["first_order"])
    assert [(s.method, s.dataset, s.seed, s.overrides) for s in arms["erm"]] == [
        ("erm", d, s, ()) for d in ("german", "compas") for s in range(3)
    ]
    assert page.specs(params) == [s for group in arms.values() for s in group]
    # inner lr 0 is exactly ERM on X_q: the meta-gradient is the query gradient
    assert arms["no_alignment"][0].config().inner_lr == 0.0


def test_arm_specs_cap_every_arm():
    arms = page._arm_specs(
        page.Params(datasets=["german"], seeds=1, trajectory_seeds=1, max_epochs=4)
    )
    assert all(dict(s.overrides)["max_epochs"] == 4 for group in arms.values() for s in group)
    assert dict(arms["no_alignment"][0].overrides) == {"inner_lr": 0.0, "max_epochs": 4}


def test_stopped_specs_from_faalgrad_rows():
    rows = pd.DataFrame(
        {
            "dataset": ["german", "compas"],
            "split": ["config1", "config2"],
            "seed": [3, 0],
            "best_epoch": [4, 0],
        }
    )
    specs = page._stopped_specs(rows)
    assert [(s.dataset, s.method, s.seed) for s in specs] == [
        ("german", "erm", 3),
        ("compas", "erm", 0),
    ]
    assert dict(specs[0].overrides) == {
        "outer_lr": faalgrad_config("german").outer_lr,
        "max_epochs": 5,
        "patience": 5,
    }
    assert dict(specs[1].overrides) == {
        "outer_lr": faalgrad_config("compas").outer_lr,
        "max_epochs": 1,
        "patience": 1,
    }
    config = specs[0].config()
    assert (config.outer_lr, config.max_epochs, config.optimizer) == (
        0.1,
        5,
        faalgrad_config("german").optimizer,
    )


# --- the verdict rule ----------------------------------------------------------------------------


def _rows(fa_below_b, fa_below_d, seeds=6, fa_above_b=frozenset()):
    """FaAlGrad, no-alignment and stopped-ERM rows on 2 datasets x 2 configs; the ``*_below`` sets
    name the cells where FaAlGrad's DP is clearly (0.1) below that arm's, ``fa_above_b`` those
    where it is clearly above arm (b)'s, elsewhere equal up to noise."""
    rng = np.random.default_rng(0)
    rows = []
    for dataset in ("german", "compas"):
        for split in ("config1", "config2"):
            for seed in range(seeds):
                fa = 0.2 + 0.01 * rng.normal()
                for arm, below in (
                    ("faalgrad", None),
                    ("no_alignment", fa_below_b),
                    ("stopped_erm", fa_below_d),
                ):
                    gap = 0.0 if below is None else (0.1 if (dataset, split) in below else 0.0)
                    if arm == "no_alignment" and (dataset, split) in fa_above_b:
                        gap = -0.1
                    rows.append(
                        {
                            "arm": arm,
                            "dataset": dataset,
                            "split": split,
                            "seed": seed,
                            "dp_diff": fa + gap + 0.01 * rng.normal(),
                            "accuracy": 0.7,
                        }
                    )
    return pd.DataFrame(rows)


ALL = {(d, c) for d in ("german", "compas") for c in ("config1", "config2")}


GC1 = {("german", "config1")}


@pytest.mark.parametrize(
    "below_b, below_d, above_b, verdict, count",
    [
        (ALL, ALL, set(), REPRODUCED, "config: 4 reproduced of 4"),
        (ALL, GC1, set(), INCONCLUSIVE, "config: 1 reproduced, 3 inconclusive of 4"),
        (
            {("compas", "config2")},
            {("compas", "config2"), *GC1},
            set(),
            INCONCLUSIVE,
            "config: 1 reproduced, 3 inconclusive of 4",
        ),
        (ALL, set(), set(), INCONCLUSIVE, "config: 4 inconclusive of 4"),
        (set(), set(), set(), INCONCLUSIVE, "config: 4 inconclusive of 4"),
        # FaAlGrad above the no-alignment arm in one cell: the mechanism is ruled out there
        (ALL - GC1, ALL, GC1, CONTRADICTED, "config: 3 reproduced, 1 opposite of 4"),
    ],
)
def test_mechanism_verdict(below_b, below_d, above_b, verdict, count):
    paired = page._paired_table(_rows(below_b, below_d, fa_above_b=above_b))
    v = page._mechanism_verdict(paired)
    assert v.key == "alignment_mechanism" and v.verdict == verdict
    assert count in v.evidence and "German Credit Config 1" in v.evidence
    assert "paired over 6 seeds" in v.evidence


def test_mechanism_cells_are_holm_corrected_over_both_arms():
    paired = page._paired_table(_rows(ALL, GC1))
    cells = page._mechanism_cells(paired)
    assert len(cells) == 8 and set(cells["arm"]) == {"no_alignment", "stopped_erm"}
    assert cells["p_smaller"].isna().all()  # no paper number for these arms
    # Holm over all 8 one-sided tests: the smallest raw p is multiplied by 8
    raw = [page.stats._one_sided_p(r.mean, r.sd, r.n, 0.0, above=False) for r in cells.itertuples()]
    assert cells["p_direction"].min() == pytest.approx(min(1.0, 8 * min(raw)))
    outcomes = page._mechanism_outcomes(cells).set_index(["dataset", "split"])["outcome"]
    assert outcomes[("german", "config1")] == REPRODUCED
    assert (outcomes.drop(("german", "config1")) == INCONCLUSIVE).all()


def test_paired_table_lower_needs_holm_and_interval():
    paired = page._paired_table(_rows(ALL, set()))
    dp = paired[paired["metric"] == "dp_diff"].set_index("arm")
    assert dp.loc["no_alignment", "lower"].all() and not dp.loc["stopped_erm", "lower"].any()
    assert (dp.loc["no_alignment", "high"] < 0).all() and (
        dp.loc["no_alignment", "p_holm"] < 0.05
    ).all()
    assert dp.loc["no_alignment", "mean"].to_numpy() == pytest.approx([-0.1] * 4, abs=0.02)


def test_shared_arm_is_the_control_of_both_configs():
    rows = _rows(set(), set())
    erm = (
        rows[rows["arm"] == "faalgrad"]
        .drop_duplicates(["dataset", "seed"])
        .assign(arm="erm", split=None, dp_diff=0.5)
    )
    paired = page._paired_table(pd.concat([rows, erm], ignore_index=True))
    base = paired[(paired["arm"] == "erm") & (paired["metric"] == "dp_diff")]
    assert len(base) == 4 and (base["n"] == 6).all() and (base["mean"] < -0.25).all()


def test_verdict_needs_both_controls():
    rows = _rows(ALL, ALL)
    with pytest.raises(ValueError, match="stopped_erm"):
        page._mechanism_verdict(page._paired_table(rows[rows["arm"] != "stopped_erm"]))


# --- equal accuracy -----------------------------------------------------------------------------


def test_closest_index_on_a_hand_made_trajectory():
    accuracy = [0.50, 0.62, 0.70, 0.66, 0.70, 0.74]
    assert page._closest_index(accuracy, 0.69) == 2  # two epochs at 0.70: the earliest
    assert page._closest_index(accuracy, 0.65) == 3
    assert page._closest_index(accuracy, 0.99) == 5 and page._closest_index(accuracy, 0.0) == 0
    thresholds = [0.3, 0.4, 0.5, 0.6, 0.7]
    sweep = [0.72, 0.70, 0.76, 0.70, 0.68]
    assert page._closest_index(sweep, 0.70, prefer=[abs(t - 0.5) for t in thresholds]) == 1
    assert page._closest_index(sweep, 0.70, prefer=[-t for t in thresholds]) == 3


def test_equal_accuracy_pairs_faalgrad_with_its_reference():
    fa = pd.DataFrame(
        {
            "arm": "faalgrad",
            "dataset": "german",
            "split": "config1",
            "seed": [0, 1, 2],
            "val_accuracy": [0.70, 0.72, 0.71],
            "val_dp_diff": [0.05, 0.06, 0.04],
            "dp_diff": [0.10, 0.12, 0.08],
        }
    )
    matches = pd.concat(
        [
            fa.drop(columns="arm").assign(
                reference=ref,
                matched=1,
                val_accuracy=fa["val_accuracy"] - 0.01,
                val_dp_diff=fa["val_dp_diff"] + shift,
                dp_diff=fa["dp_diff"] + shift + np.array([0.0, 0.01, -0.01]),
            )
            for ref, shift in (("erm_trajectory", 0.2), ("threshold_sweep", -0.1))
        ],
        ignore_index=True,
    )
    table = page._equal_accuracy(fa, matches).set_index(["reference", "evaluated"])
    assert table.loc[("erm_trajectory", "validation"), "mean"] == pytest.approx(-0.2)
    assert table.loc[("erm_trajectory", "test"), "mean"] == pytest.approx(-0.2)
    assert table.loc[("threshold_sweep", "test"), "mean"] == pytest.approx(0.1)
    assert table["acc_gap"].to_numpy() == pytest.approx([0.01] * 4)
    assert (table["n"] == 3).all()


# --- end to end --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    params = page.Params(
        datasets=["german"],
        seeds=2,
        trajectory_seeds=1,
        trajectory_epochs=5,
        n_jobs=1,
        max_epochs=5,
    )
    rows = run_grid(page.specs(params), n_jobs=1, progress=False)
    return params, rows, page.compute(params, rows)


def test_compute_needs_the_rows_of_the_specs_in_order(small):
    params, rows, _ = small
    with pytest.raises(ValueError, match="run_grid"):
        page.compute(params, rows.iloc[::-1])  # same rows, another order: arms would not line up
    with pytest.raises(ValueError, match="run_grid"):
        page.compute(params, rows.iloc[:-1])
    with pytest.raises(ValueError, match="run_grid"):
        page.compute(params, pd.DataFrame())


def test_end_to_end_rows(small):
    _, grid_rows, result = small
    rows = result["rows"]
    assert "arm" not in grid_rows  # compute does not change the rows it is given
    assert rows.groupby("arm").size().to_dict() == {
        "erm": 2,
        "faalgrad": 4,
        "first_order": 4,
        "no_alignment": 4,
        "stopped_erm": 4,
    }
    assert rows.loc[rows["arm"] == "erm", "split"].isna().all()
    fa, stopped = (
        rows[rows["arm"] == a].reset_index(drop=True) for a in ("faalgrad", "stopped_erm")
    )
    assert (stopped[["split", "seed"]] == fa[["split", "seed"]]).all().all()
    assert (stopped["epochs"] == fa["best_epoch"] + 1).all() and (
        stopped["best_epoch"] <= fa["best_epoch"]
    ).all()
    assert (rows["epochs"] <= 5).all()


def test_end_to_end_curves_and_matches(small):
    _, _, result = small
    curves, matches = result["trajectories"], result["matches"]
    assert set(curves["seed"]) == {0} and set(curves["epoch"]) == set(range(6))
    assert len(curves) == 6 * (
        2 + 2
    )  # ERM (both configs' cosines) and FaAlGrad per config, epochs 0..5
    start = curves[curves["epoch"] == 0].groupby("split")["val_accuracy"].nunique()
    assert (start == 1).all()  # one shared initialisation
    assert len(matches) == 2 * 2 * 2 and set(matches["reference"]) == set(page._REFERENCES)
    erm = matches[matches["reference"] == "erm_trajectory"]
    assert erm["matched"].between(1, 5).all()
    sweep = matches[matches["reference"] == "threshold_sweep"]
    assert sweep["matched"].isin(page._THRESHOLD_GRID).all()
    # the matched epoch's validation accuracy is the trajectory's (evaluate) at that epoch
    traced = curves[(curves["method"] == "erm") & (curves["split"] == "config1")].set_index(
        "epoch"
    )["val_accuracy"]
    for r in erm[erm["seed"] == 0].itertuples():
        assert r.val_accuracy == pytest.approx(traced[r.matched])


def test_end_to_end_tables_glue_and_verdict(small):
    _, _, result = small
    values = page.glue_values(result)
    assert all(isinstance(v, str) and v for v in values.values())
    assert values["seeds"] == "2" and values["trajectory_seeds"] == "1" and values["n_cells"] == "2"
    quoted = set(re.findall(r"\{glue:text\}`([^`]+)`", NOTEBOOK.read_text()))
    assert quoted - set(values) == {
        "claim_alignment_mechanism_verdict",
        "claim_alignment_mechanism_evidence",
    }
    (verdict,) = page.verdicts(result)
    assert verdict.key == "alignment_mechanism" and " of 2 (paired over 2 seeds" in verdict.evidence
    assert list(result["arms"]["arm"][:1]) == [page._ARMS["erm"]] and len(result["arms"]) == 9
    # the displayed paired tables are keyed (shown once) by arm and metric / reference
    assert list(result["paired_table"].index.names) == ["arm", "metric"]
    assert list(result["equal_table"].index.names) == ["reference", "evaluated"]
    assert len(result["equal_table"]) == len(result["equal"])
    assert set(result["curves"]["quantity"]) == {
        "val. accuracy",
        "val. DP difference",
        "cos(∇L_s, ∇L_q)",
    }
