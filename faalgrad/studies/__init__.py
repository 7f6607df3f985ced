"""The studies: one module per book page (rows in; tables, figures, glue values and
verdicts out), plus the claims registry, the statistics and the paper's reported numbers.

Every page module follows one protocol, :class:`Page`, checked by one test over all of
them; a page shows its tables through :func:`styled`. A notebook runs a page as::

    params = page.Params(...)                         # validated on construction
    rows = run_grid(page.specs(params), n_jobs=params.n_jobs)
    result = page.compute(params, rows)               # every table and figure input
    glue_all(page.glue_values(result))
    verdicts = page.verdicts(result)
"""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd

from faalgrad.runs.spec import RunSpec
from faalgrad.studies import claims as _claims
from faalgrad.studies._common import glue_all, styled

__all__ = ["PAGES", "Page", "PageResult", "glue_all", "glue_verdict", "styled"]

glue_verdict = _claims.glue_verdict

#: What :meth:`Page.compute` returns: the page's tables (data frames) and whatever else its
#: figures draw, by name.
PageResult = dict[str, Any]

#: The page modules, one per executed page of the book.
PAGES = (
    "table1",
    "ratio",
    "comparisons",
    "shap",
    "method_check",
    "diagnosis",
    "mechanism",
    "reproducibility",
)


class Page(Protocol):
    """The one protocol of a page module (a module satisfies it structurally).

    ``Params``
        A frozen dataclass of the page's parameters; a bad value raises ``ValueError``
        naming the parameter and its valid choices, on construction.
    """

    Params: type

    def specs(self, params: Any) -> list[RunSpec]:
        """The runs of the page's grid (``[]`` for a page that trains through no grid)."""
        ...

    def compute(self, params: Any, rows: pd.DataFrame) -> PageResult:
        """Everything the page shows, from the grid's run rows (one per spec)."""
        ...

    def glue_values(self, result: PageResult) -> dict[str, str]:
        """The numbers the page's prose quotes, as finished text."""
        ...

    def verdicts(self, result: PageResult) -> list[_claims.Verdict]:
        """The verdicts on the paper's claims that the page decides (``[]`` if none)."""
        ...
