"""The studies: one module per book page (rows in; tables, figures, glue values and
verdicts out), plus the claims registry and the paper's reported numbers.

Every page module offers ``Params`` (validated on construction), ``specs(params)``,
``tables(rows, params)``, ``glue_values(tables)`` and ``verdicts(tables)``; every page shows
its tables through :func:`styled`.
"""

from faalgrad.studies import claims as _claims
from faalgrad.studies._common import glue_all, styled

glue_verdict = _claims.glue_verdict

__all__ = ["glue_all", "glue_verdict", "styled"]
