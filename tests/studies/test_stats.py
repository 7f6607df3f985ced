"""Paired statistics against scipy and plain references on fixed arrays."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from faalgrad.studies.stats import holm, paired_cells, paired_difference

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
    # by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.06
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
