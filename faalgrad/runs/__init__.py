"""The engine: run specs in, tidy rows out (one row per dataset, method, setting and seed).

``spec`` defines a run, ``methods`` the method registry, ``runner`` runs specs locally or
in parallel, ``grids`` builds the spec grids of the paper's tables, ``cache`` shares runs
between the notebooks of one book build.
"""

from faalgrad.runs.grids import (
    ablation_specs,
    comparison_specs,
    protected_input_specs,
    table1_specs,
)
from faalgrad.runs.methods import (
    FAMILIES,
    METHODS,
    Method,
    cached_split,
    erm_model,
    fit_run,
    fit_runs,
)
from faalgrad.runs.runner import run, run_grid
from faalgrad.runs.spec import SETUPS, SPLIT_LABELS, RunSpec, setup_fields

__all__ = [
    "run",
    "run_grid",
    "ablation_specs",
    "comparison_specs",
    "protected_input_specs",
    "table1_specs",
    "FAMILIES",
    "METHODS",
    "Method",
    "erm_model",
    "fit_run",
    "fit_runs",
    "cached_split",
    "SETUPS",
    "SPLIT_LABELS",
    "RunSpec",
    "setup_fields",
]
