"""Paired statistics against scipy and plain references on fixed arrays."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from faalgrad.studies.stats import (
    CONTRADICTED,
    INCONCLUSIVE,
    OPPOSITE,
    REPRODUCED,
    REPRODUCED_SMALLER,
    cell_outcomes,
    holm,
    paired_cells,
    paired_difference,
    power,
    seeds_for_power,
)

A = np.array([0.21, 0.25, 0.19, 0.30, 0.27, 0.22, 0.24, 0.26, 0.20, 0.23])
B = np.array([0.11, 0.18, 0.15, 0.19, 0.20, 0.12, 0.21, 0.13, 0.17, 0.16])


def test_paired_difference_matches_scipy_and_the_t_formula():
    out = paired_difference(A, B)
    d = A - B
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    assert out["n"] == 10
    assert out["mean"] == pytest.approx(d.mean())
    assert (out["low"], out["high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert out["p"] == pytest.approx(stats.ttest_rel(A, B).pvalue)
    assert out["p"] == pytest.approx(stats.ttest_1samp(d, 0).pvalue)


def test_paired_difference_drops_incomplete_pairs_and_refuses_unpaired():
    a, b = A.copy(), B.copy()
    a[0], b[3] = np.nan, np.nan
    assert paired_difference(a, b)["n"] == 8
    assert paired_difference(a, b)["mean"] == pytest.approx(np.delete(A - B, [0, 3]).mean())
    with pytest.raises(ValueError, match="paired"):
        paired_difference(A, B[:5])
    one = paired_difference(A[:1], B[:1])
    assert one["n"] == 1 and np.isnan(one["low"]) and np.isnan(one["p"])


def test_holm_against_a_plain_reference():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04,
    # then the running maximum: 0.02, 0.03, 0.06, 0.06
    expected = [0.03, 0.06, 0.06, 0.02, np.nan]
    np.testing.assert_allclose(holm(p), expected)
    assert holm([0.9, 0.8]).tolist() == [1.0, 1.0]  # 2 x 0.8 capped at 1, then monotone
    assert (holm([0.5, 0.6, 0.7]) <= 1).all()


def test_paired_cells_pairs_by_seed_and_corrects_across_cells():
    seeds = np.arange(10)
    rows = pd.concat(
        [
            pd.DataFrame({"dataset": "x", "method": "base", "seed": seeds, "dp": A}),
            pd.DataFrame(
                {"dataset": "x", "method": "new", "seed": seeds[::-1], "dp": B[::-1]}
            ),  # order must not matter
            pd.DataFrame({"dataset": "y", "method": "base", "seed": seeds, "dp": B}),
            pd.DataFrame(
                {"dataset": "y", "method": "new", "seed": seeds, "dp": B + 0.01 * (seeds % 3 - 1)}
            ),
        ],
        ignore_index=True,
    )
    out = paired_cells(
        rows, ["dataset"], "dp", rows["method"] == "new", rows["method"] == "base"
    ).set_index("dataset")
    assert out.loc["x", "mean"] == pytest.approx((B - A).mean())
    assert out.loc["x", "p"] == pytest.approx(stats.ttest_rel(B, A).pvalue)
    np.testing.assert_allclose(out["p_holm"], holm(out["p"]))
    assert out.loc["y", "low"] < 0 < out.loc["y", "high"]


# --- outcomes against the paper's effect, and power ------------------------------------


def _cell(mean, sd, n, paper_effect):
    return {"mean": mean, "sd": sd, "n": n, "paper_effect": paper_effect}


def _sd_for_interval(low, high, n):
    """The seed spread whose 95 % t-interval over ``n`` seeds is [low, high]."""
    return (high - low) / 2 * np.sqrt(n) / stats.t.ppf(0.975, n - 1)


@pytest.mark.parametrize(
    ("low", "high", "n", "paper", "expected"),
    [
        # Adult, Config 1, I = 1 at 5 seeds: lower, yet smaller than the paper's -0.13
        (-0.111, -0.041, 5, -0.13, REPRODUCED_SMALLER),
        # German, Config 2: the interval excludes the paper's -0.12 but not 0
        (-0.07, 0.09, 5, -0.12, CONTRADICTED),
        # COMPAS-like: wide interval holding both 0 and the paper's -0.17
        (-0.28, 0.08, 5, -0.17, INCONCLUSIVE),
        # lower, and the paper's effect inside the interval
        (-0.20, -0.10, 10, -0.15, REPRODUCED),
        # significantly higher where the paper reports lower
        (0.05, 0.15, 10, -0.10, OPPOSITE),
    ],
)
def test_cell_outcomes_by_hand(low, high, n, paper, expected):
    sd = _sd_for_interval(low, high, n)
    out = cell_outcomes(pd.DataFrame([_cell((low + high) / 2, sd, n, paper)]))
    assert out["outcome"].iloc[0] == expected


def test_cell_outcomes_match_scipy_one_sided_tests_and_holm():
    d1, d2 = A - B - 0.12, B - A + 0.2  # paired differences of two cells
    paper = [-0.1, -0.05]
    cells = pd.DataFrame(
        [_cell(d.mean(), d.std(ddof=1), len(d), p) for d, p in zip((d1, d2), paper, strict=True)]
    )
    out = cell_outcomes(cells)
    lower = [stats.ttest_1samp(d, 0, alternative="less").pvalue for d in (d1, d2)]
    higher = [stats.ttest_1samp(d, 0, alternative="greater").pvalue for d in (d1, d2)]
    smaller = [
        stats.ttest_1samp(d, p, alternative="greater").pvalue
        for d, p in zip((d1, d2), paper, strict=True)
    ]
    np.testing.assert_allclose(out["p_direction"], holm(lower))
    np.testing.assert_allclose(out["p_opposite"], holm(higher))
    np.testing.assert_allclose(out["p_smaller"], holm(smaller))


def test_holm_across_cells_can_turn_a_cell_inconclusive():
    sd = _sd_for_interval(-0.20, -0.001, 10)  # alone: just significant
    alone = cell_outcomes(pd.DataFrame([_cell(-0.1005, sd, 10, -0.1)]))
    among = cell_outcomes(pd.DataFrame([_cell(-0.1005, sd, 10, -0.1)] * 8))
    assert alone["outcome"].iloc[0] == REPRODUCED
    assert set(among["outcome"]) == {INCONCLUSIVE}


def test_cell_outcomes_refuse_a_cell_without_the_papers_direction():
    with pytest.raises(ValueError, match="non-zero paper_effect"):
        cell_outcomes(pd.DataFrame([_cell(-0.1, 0.1, 5, 0.0)]))


def test_power_matches_a_simulation_and_sets_the_seeds():
    effect, sd, n, alpha = -0.1, 0.15, 8, 0.05
    rng = np.random.default_rng(0)
    draws = rng.normal(effect, sd, size=(20_000, n))
    p = stats.ttest_1samp(draws, 0, axis=1, alternative="less").pvalue
    simulated = float((p <= alpha).mean())  # binomial standard error about 0.0035
    assert power(effect, sd, n, alpha=alpha) == pytest.approx(simulated, abs=0.015)
    needed = seeds_for_power(effect, sd, alpha=alpha)
    assert (
        power(effect, sd, needed, alpha=alpha) >= 0.8 > power(effect, sd, needed - 1, alpha=alpha)
    )
    assert seeds_for_power(0.0, sd) is None
    # a stricter level (Holm's first step over 32 cells) needs more seeds
    assert seeds_for_power(effect, sd, alpha=alpha / 32) > needed


def test_cells_without_a_paper_effect_in_the_claims_direction_cannot_be_contradicted():
    """A trend claim (direction -1) whose paper effect is missing or a rise in some cells."""
    cells = pd.DataFrame(
        {
            "n": [10, 10, 10, 10],
            "mean": [-0.10, 0.00, 0.00, 0.08],
            "sd": [0.02, 0.01, 0.01, 0.02],
            "paper_effect": [-0.10, -0.10, np.nan, 0.05],
        }
    )
    out = cell_outcomes(cells, direction=-1)
    assert list(out["outcome"]) == [REPRODUCED, CONTRADICTED, INCONCLUSIVE, OPPOSITE]
    assert out["p_smaller"].isna().tolist() == [False, False, True, True]
    # Holm for the contradicted test counts only the two cells that have it
    alone = cell_outcomes(cells.iloc[:2])
    np.testing.assert_allclose(out["p_smaller"].iloc[:2], alone["p_smaller"])
    with pytest.raises(ValueError, match="direction"):
        cell_outcomes(cells, direction=0)
