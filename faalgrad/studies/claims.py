"""The paper's claims, and the verdicts this book's results give them.

Every claim is listed in :data:`CLAIMS` with the page whose results decide it; that page's
study module computes a :class:`Verdict` and the notebook glues it with
:func:`glue_verdict` for the Claims scorecard page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from faalgrad.studies import stats
from faalgrad.validation import check_choice

__all__ = [
    "CLAIMS",
    "CONTRADICTED",
    "INCONCLUSIVE",
    "OPPOSITE",
    "REPRODUCED",
    "REPRODUCED_SMALLER",
    "VERDICTS",
    "Verdict",
    "all_of",
    "glue_verdict",
    "outcome_counts",
    "verdict_on_every_dataset",
]

REPRODUCED = "reproduced"
#: The cell outcomes a claim's verdict can also take (:data:`~faalgrad.studies.stats.OUTCOMES`).
REPRODUCED_SMALLER = stats.REPRODUCED_SMALLER
CONTRADICTED = stats.CONTRADICTED
OPPOSITE = stats.OPPOSITE
INCONCLUSIVE = stats.INCONCLUSIVE
#: A claim's verdict: one of the cell outcomes (:data:`~faalgrad.studies.stats.OUTCOMES`),
#: decided from its cells' outcomes by the rule written beside the claim ("How verdicts are
#: decided" on the scorecard).
VERDICTS: tuple[str, ...] = (
    REPRODUCED,
    REPRODUCED_SMALLER,
    INCONCLUSIVE,
    CONTRADICTED,
    OPPOSITE,
)
#: sphinx-design's badge colour of each verdict.
_BADGE_COLOURS = {
    REPRODUCED: "success",
    REPRODUCED_SMALLER: "success",
    INCONCLUSIVE: "secondary",
    CONTRADICTED: "danger",
    OPPOSITE: "danger",
}
#: Longest scorecard summary kept whole (characters).
SUMMARY_LENGTH = 200

#: key -> (page that decides it, the claim as the paper makes it).
CLAIMS: dict[str, tuple[str, str]] = {
    "derivation": (
        "method_check",
        "To first order in the inner learning rate η, the one-step meta-gradient equals "
        "the query gradient minus η times the gradient of the support·query gradient inner product "
        "(section 4.1).",
    ),
    "alignment": (
        "method_check",
        "Training with FaAlGrad aligns the support and query gradients more than "
        "ordinary training does (the mechanism of section 4.1).",
    ),
    "alignment_mechanism": (
        "mechanism",
        "The fairness gain comes from gradient alignment (the inner step on X_s), "
        "not from training on X_q alone or from stopping early (the mechanism of section 4.1).",
    ),
    "lower_dp": (
        "table1",
        "FaAlGrad lowers the DP difference with respect to the baseline MLP on all four "
        "datasets (Table 1).",
    ),
    "lower_eod": (
        "table1",
        "FaAlGrad lowers the EOD difference with respect to the baseline MLP on all four "
        "datasets (Table 1).",
    ),
    "ratio": ("ratio", "Moving more protected samples into X_s makes the model fairer (Table 2)."),
    "inner_steps": (
        "ratio",
        "More inner iterations (I = 10 against I = 1) make the model fairer (Tables 1 and 2).",
    ),
    "swap": (
        "swap",
        "Swapping the subpopulations (unprotected samples in X_s) gives the same trend (Table 4).",
    ),
    "beats_meta": (
        "comparisons",
        "FaAlGrad beats Fair-MAML, m-FTML and FFML on the DP and EOD ratios (Table 5).",
    ),
    "nash_conflict": (
        "comparisons",
        "Nash-Meta-Learning paper: one-stage fairness objectives often produce "
        "conflicting hypergradients, and bargaining resolves the conflicts.",
    ),
    "shap": (
        "shap",
        "SHAP shows that FaAlGrad lowers the influence of the sensitive feature on the prediction "
        "(section 5.8, Figures 3 and 4).",
    ),
}


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict and, in one sentence with numbers, the evidence behind it."""

    key: str
    verdict: str
    evidence: str

    def __post_init__(self) -> None:
        check_choice("claim", self.key, CLAIMS)
        check_choice("verdict", self.verdict, VERDICTS)

    @property
    def claim(self) -> str:
        return CLAIMS[self.key][1]

    @property
    def summary(self) -> str:
        """The scorecard's one line: the evidence's first sentence without its parentheses; a
        long one is cut before its first list (": " or "; "), keeping a closing "k of n" count."""
        head, sep, _ = self.evidence.partition(". ")
        text = re.sub(
            r"\s*\([^()]*\)", "", re.sub(r"\s*\([^()]*\)", "", head + "." if sep else self.evidence)
        )
        cuts = [m.start() for m in re.finditer(r"[:;] ", text) if m.start() > 40]
        if len(text) <= SUMMARY_LENGTH or not cuts:
            return text
        tail = text.rsplit("; ", 1)[-1] if "; " in text else ""
        short = text[: cuts[0]].rstrip(",")
        if re.search(r"\d+ of \d+", tail) and len(tail) < 80 and tail not in short:
            return f"{short}: {tail.rstrip('.')}."
        return short + " …"

    @property
    def badge(self) -> str:
        """The verdict as a coloured badge (sphinx-design's HTML classes), for the scorecard."""
        colour = _BADGE_COLOURS[self.verdict]
        classes = f"sd-sphinx-override sd-badge sd-bg-{colour} sd-bg-text-{colour}"
        return f'<span class="{classes}">{self.verdict}</span>'

    def frame(self) -> pd.DataFrame:
        """One-row table: claim, verdict, evidence."""
        return pd.DataFrame(
            {"claim": [self.claim], "verdict": [self.verdict], "evidence": [self.evidence]}
        )


def all_of(outcomes) -> str:
    """The outcome of a cell that needs several tests to hold together (e.g. lower than two
    control arms): *opposite* if any test is, else *contradicted* if any is, else
    *reproduced* if all are (*reproduced, smaller than the paper's* if any is smaller),
    else *inconclusive*.

    Parameters
    ----------
    outcomes : iterable of str
        The outcomes of the cell's tests (:data:`~faalgrad.studies.stats.OUTCOMES`).

    Returns
    -------
    str
        One of :data:`~faalgrad.studies.stats.OUTCOMES`.
    """
    outcomes = [check_choice("outcome", o, stats.OUTCOMES) for o in outcomes]
    if not outcomes:
        raise ValueError("a cell needs at least one test outcome")
    for decisive in (OPPOSITE, CONTRADICTED):
        if decisive in outcomes:
            return decisive
    if all(o in (REPRODUCED, REPRODUCED_SMALLER) for o in outcomes):
        return REPRODUCED_SMALLER if REPRODUCED_SMALLER in outcomes else REPRODUCED
    return INCONCLUSIVE


def outcome_counts(outcomes: pd.Series) -> str:
    """The cells' outcomes counted in words: "9 reproduced (4 smaller than the paper's), 2
    contradicted, 5 inconclusive of 16"; outcomes no cell has are left out."""
    counts = outcomes.value_counts()
    smaller = int(counts.get(REPRODUCED_SMALLER, 0))
    reproduced = int(counts.get(REPRODUCED, 0)) + smaller
    parts = []
    if reproduced:
        parts.append(
            f"{reproduced} {REPRODUCED}"
            + (f" ({smaller} smaller than the paper's)" if smaller else "")
        )
    for outcome in (CONTRADICTED, OPPOSITE, INCONCLUSIVE):
        if counts.get(outcome, 0):
            parts.append(f"{int(counts[outcome])} {outcome}")
    return f"{', '.join(parts)} of {len(outcomes)}"


def verdict_on_every_dataset(cells: pd.DataFrame, by: str | list[str] = "dataset") -> str:
    """The verdict on a claim made "on every dataset" (or every group ``by``), from its
    cells' outcomes.

    *Contradicted* when in some group every cell is contradicted or opposite (the data
    rule the paper's effect out there); *reproduced* when every group has a reproduced
    cell and no cell is contradicted or opposite (*reproduced, smaller than the paper's*
    when every reproduced cell is smaller than the paper's effect); *inconclusive*
    otherwise.

    Parameters
    ----------
    cells : pandas.DataFrame
        One row per cell with the ``by`` columns and ``outcome``
        (:func:`~faalgrad.studies.stats.cell_outcomes`).
    by : str or list of str
        The columns naming a group the claim is made for (default: each dataset).

    Returns
    -------
    str
        One of :data:`VERDICTS`.
    """
    if cells.empty:
        raise ValueError("no cell to decide the claim on")
    groups = [cells[c] for c in ([by] if isinstance(by, str) else by)]
    against = cells["outcome"].isin([CONTRADICTED, OPPOSITE])
    if against.groupby(groups).all().any():
        return CONTRADICTED
    found = cells["outcome"].isin([REPRODUCED, REPRODUCED_SMALLER])
    if found.groupby(groups).any().all() and not against.any():
        only_smaller = (cells.loc[found, "outcome"] == REPRODUCED_SMALLER).all()
        return REPRODUCED_SMALLER if only_smaller else REPRODUCED
    return INCONCLUSIVE


def glue_verdict(verdict: Verdict, *, display: bool = True) -> None:
    """Glue ``claim_<key>_verdict``, ``_evidence``, ``_summary`` and ``_badge`` (HTML, pasted
    on the scorecard with ``{glue}``), and show the row if ``display``."""
    from IPython.display import HTML
    from myst_nb import glue

    glue(f"claim_{verdict.key}_verdict", verdict.verdict, display=False)
    glue(f"claim_{verdict.key}_evidence", verdict.evidence, display=False)
    glue(f"claim_{verdict.key}_summary", verdict.summary, display=False)
    glue(f"claim_{verdict.key}_badge", HTML(verdict.badge), display=False)
    if display:
        from IPython.display import display as show

        from faalgrad.studies._common import styled

        show(styled(verdict.frame()))
