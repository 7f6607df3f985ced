"""The claims registry and verdicts: validation, the scorecard's summary and badge, glue."""

import pandas as pd
import pytest

from faalgrad.studies import claims


def test_verdict_validation():
    with pytest.raises(ValueError, match="unknown claim 'nope'; valid choices: derivation"):
        claims.Verdict("nope", claims.REPRODUCED, "x")
    with pytest.raises(ValueError, match="unknown verdict 'maybe'; valid choices: reproduced"):
        claims.Verdict("ratio", "maybe", "x")


@pytest.mark.parametrize(
    ("verdict", "colour"),
    [
        (claims.REPRODUCED, "success"),
        (claims.REPRODUCED_SMALLER, "success"),
        (claims.INCONCLUSIVE, "secondary"),
        (claims.CONTRADICTED, "danger"),
        (claims.OPPOSITE, "danger"),
    ],
)
def test_badge_colour_follows_the_verdict(verdict, colour):
    badge = claims.Verdict("ratio", verdict, "e").badge
    assert f"sd-bg-{colour}" in badge and badge.endswith(f">{verdict}</span>")


def test_summary_is_the_first_sentence_without_its_details():
    v = claims.Verdict(
        "ratio", claims.INCONCLUSIVE, "3 of 8 cells hold (DP 0.12 vs 0.30). Details: a, b. More."
    )
    assert v.summary == "3 of 8 cells hold."
    assert claims.Verdict("ratio", claims.INCONCLUSIVE, "one sentence").summary == "one sentence"
    listing = "; ".join(f"dataset{i} 0.{i}1 vs 0.{i}2" for i in range(9))
    long = claims.Verdict(
        "alignment",
        claims.INCONCLUSIVE,
        f"Mean cosine of the two gradients over training, FaAlGrad vs ERM: {listing}; "
        "higher on 3 of 4 datasets.",
    )
    assert (
        long.summary == "Mean cosine of the two gradients over training, FaAlGrad vs ERM: "
        "higher on 3 of 4 datasets."
    )
    cut = claims.Verdict(
        "ratio",
        claims.INCONCLUSIVE,
        f"The gap at the largest ratio is below the smallest's for DP in 0 of 8 "
        f"cells; means: {listing}.",
    )
    assert (
        cut.summary
        == "The gap at the largest ratio is below the smallest's for DP in 0 of 8 cells …"
    )


def test_glue_verdict_glues_four_values(monkeypatch):
    import myst_nb

    glued = {}
    monkeypatch.setattr(
        myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(name, value)
    )
    claims.glue_verdict(
        claims.Verdict("swap", claims.CONTRADICTED, "None holds. Rest."), display=False
    )
    assert (
        glued["claim_swap_verdict"] == "contradicted"
        and glued["claim_swap_summary"] == "None holds."
    )
    assert (
        "sd-bg-danger" in glued["claim_swap_badge"].data
        and "contradicted" in glued["claim_swap_badge"].data
    )
    assert glued["claim_swap_evidence"] == "None holds. Rest."


def _outcomes(**per_dataset):
    return pd.DataFrame(
        [(d, o) for d, outcomes in per_dataset.items() for o in outcomes],
        columns=["dataset", "outcome"],
    )


R, S, C, OPP, N = (
    claims.REPRODUCED,
    claims.REPRODUCED_SMALLER,
    claims.CONTRADICTED,
    claims.OPPOSITE,
    claims.INCONCLUSIVE,
)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (_outcomes(a=[R, N], b=[S, R]), R),
        (_outcomes(a=[S, N], b=[S]), S),  # every reproduced cell smaller than the paper's
        (_outcomes(a=[R, C], b=[R]), N),  # one cell contradicted: not on every dataset
        (_outcomes(a=[C, OPP], b=[R]), C),  # dataset a rules the effect out
        (_outcomes(a=[N, N], b=[R]), N),  # dataset a cannot tell
    ],
)
def test_verdict_on_every_dataset(cells, expected):
    assert claims.verdict_on_every_dataset(cells) == expected


def test_verdict_on_every_group_by_several_columns():
    cells = pd.DataFrame(
        {
            "dataset": ["a", "a", "b", "b"],
            "split": ["c1", "c2", "c1", "c2"],
            "outcome": [R, N, R, R],
        }
    )
    assert claims.verdict_on_every_dataset(cells) == R  # each dataset has a reproduced cell
    assert claims.verdict_on_every_dataset(cells, by=["dataset", "split"]) == N  # a/c2 cannot tell
    cells.loc[1, "outcome"] = OPP
    assert claims.verdict_on_every_dataset(cells, by=["dataset", "split"]) == C
    assert claims.verdict_on_every_dataset(cells) == N  # dataset a also has a reproduced cell


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([R, R], R),
        ([R, S], S),
        ([R, N], N),
        ([R, C], C),
        ([C, OPP], OPP),  # opposite outranks contradicted
        ([S, OPP, R], OPP),
        ([N], N),
    ],
)
def test_all_of_takes_the_worst_test(outcomes, expected):
    assert claims.all_of(outcomes) == expected


def test_all_of_rejects_unknown_outcomes_and_empty_cells():
    with pytest.raises(ValueError, match="unknown outcome 'holds'; valid choices: reproduced"):
        claims.all_of([R, "holds"])
    with pytest.raises(ValueError, match="at least one"):
        claims.all_of([])


def test_verdict_on_every_dataset_needs_cells():
    with pytest.raises(ValueError, match="no cell"):
        claims.verdict_on_every_dataset(_outcomes())


def test_outcome_counts_in_words():
    outcomes = pd.Series([R] * 5 + [S] * 4 + [C] * 2 + [N] * 5)
    assert claims.outcome_counts(outcomes) == (
        "9 reproduced (4 smaller than the paper's), 2 contradicted, 5 inconclusive of 16"
    )
    assert claims.outcome_counts(pd.Series([OPP, N])) == "1 opposite, 1 inconclusive of 2"


def test_every_verdict_has_a_badge():
    for verdict in claims.VERDICTS:
        assert verdict in claims.Verdict("lower_dp", verdict, "x.").badge
