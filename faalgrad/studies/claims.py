"""The paper's claims, and the verdicts this book's results give them.

Every claim is listed in :data:`CLAIMS` with the page whose results decide it; that page's
study module computes a :class:`Verdict` and the notebook glues it with
:func:`glue_verdict` for the Claims scorecard page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from faalgrad.validation import check_choice

__all__ = [
    "CLAIMS",
    "NOT_REPRODUCED",
    "PARTLY",
    "REPRODUCED",
    "VERDICTS",
    "Verdict",
    "glue_verdict",
    "verdict_from_counts",
]

REPRODUCED, PARTLY, NOT_REPRODUCED = "reproduced", "partly reproduced", "not reproduced"
VERDICTS: tuple[str, ...] = (REPRODUCED, PARTLY, NOT_REPRODUCED)
#: Longest scorecard summary kept whole (characters).
SUMMARY_LENGTH = 170

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
    "fairer_than_baseline": (
        "table1",
        "FaAlGrad lowers the DP and EOD differences with respect to the baseline "
        "MLP on all four datasets (Table 1).",
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
        colour = {REPRODUCED: "success", PARTLY: "warning", NOT_REPRODUCED: "danger"}[self.verdict]
        classes = f"sd-sphinx-override sd-badge sd-bg-{colour} sd-bg-text-{colour}"
        return f'<span class="{classes}">{self.verdict}</span>'

    def frame(self) -> pd.DataFrame:
        """One-row table: claim, verdict, evidence."""
        return pd.DataFrame(
            {"claim": [self.claim], "verdict": [self.verdict], "evidence": [self.evidence]}
        )


def verdict_from_counts(n_hold: int, n_total: int) -> str:
    """All cases hold: reproduced; some: partly reproduced; none: not reproduced."""
    if n_total < 1 or not 0 <= n_hold <= n_total:
        raise ValueError(f"need 0 <= n_hold <= n_total and n_total >= 1, got {n_hold} of {n_total}")
    if n_hold == n_total:
        return REPRODUCED
    return PARTLY if n_hold else NOT_REPRODUCED


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
