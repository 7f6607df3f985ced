"""The Reproducibility page: every setting with its source, the paper-versus-code
discrepancies, package versions and the measured execution time of each notebook.

Page: ``book/reproducibility.ipynb`` ("Reproducibility"). Setting values are read from the
objects the runs use (presets, split constants, baseline grids), so the page cannot drift
from the code; only the sources are written here.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pandas as pd

from faalgrad import baselines, splits
from faalgrad.datasets import DATASETS
from faalgrad.nash import nash_config
from faalgrad.presets import erm_config, faalgrad_config
from faalgrad.runs import METHODS, SPLIT_LABELS, RunSpec
from faalgrad.studies import PageResult, claims
from faalgrad.studies._common import number

__all__ = [
    "Params",
    "TIMINGS_FILE",
    "compute",
    "glue_values",
    "record_timing",
    "specs",
    "verdicts",
]

#: What the book's build needs from this page: scripts/execute_notebook.py records each
#: notebook's execution time with these, into the file this page reads.
_LIBRARY_API = {"TIMINGS_FILE", "record_timing"}

#: Packages whose versions the page lists (distribution names).
_PACKAGES: tuple[str, ...] = (
    "torch",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "fairlearn",
    "shap",
    "matplotlib",
    "seaborn",
    "jupyter-book",
    "myst-nb",
    "jupytext",
    "papermill",
    "nbval",
    "pytest",
)

#: Where the notebook execution times are recorded (relative to the project root).
TIMINGS_FILE = Path("book") / "timings.json"
#: The pages whose execution times the page lists, in the book's order.
_PAGE_ORDER: tuple[str, ...] = (
    "method_check",
    "table1",
    "diagnosis",
    "mechanism",
    "ratio",
    "swap",
    "comparisons",
    "shap",
)

#: Paper text versus the authors' public code, and what this book does: (topic, paper, code, here).
_DISCREPANCIES: tuple[tuple[str, str, str, str], ...] = (
    (
        "Protected attribute as input",
        "excluded from the inputs (5.3)",
        "left among the inputs",
        "included by default; the Table 1 page also runs without it",
    ),
    (
        "Train / validation / test",
        "70 / 15 / 15 (5.3)",
        "70 / 10 / 20, unstratified",
        "70 / 15 / 15, stratified on (label, group); `--setup code` replays the code's",
    ),
    (
        "Numeric inputs",
        "not stated",
        "raw integers (lengths of stay in whole days)",
        "standardised on the training split; `--setup code` replays the code's",
    ),
    (
        "Config 2 query set X_q",
        "stereotype-consistent cells (5.4, COMPAS with label 1 = rearrested)",
        "counter-stereotypical cells (its labels are coded the other way)",
        "counter-stereotypical cells on every dataset (the code's; see 'Why the numbers differ')",
    ),
    (
        "Inner iterations I = 10",
        "I sequential inner SGD steps (4.1)",
        "the same single inner step recomputed ten times (identical to I = 1)",
        "I sequential steps, differentiated through all of them",
    ),
    (
        "Ratio ablation direction",
        "protected samples moved into X_s (5.5)",
        "unprotected samples moved into X_s",
        "as the paper says; the swap page runs the other direction",
    ),
    (
        "Swap direction",
        "unprotected samples in X_s (5.6)",
        "protected samples in X_s",
        "as the paper says",
    ),
    (
        "Learning rates (COMPAS)",
        "inner and outer 0.01 (5.3)",
        "inner 0.005, outer 0.01",
        "the paper's values",
    ),
    ("Hidden width", "not stated", "8 units per hidden layer", "the code's 8"),
    (
        "Epochs and early stopping",
        "not stated",
        "full batch, at most 100 epochs, patience 10 on validation loss",
        "the code's, for FaAlGrad; the baselines may run 1000 epochs (see the settings)",
    ),
)


@dataclass(frozen=True)
class Params:
    """The page's parameter: the timings file written by ``make book`` (relative to the notebook's
    directory)."""

    timings_file: str = str(Path("..") / TIMINGS_FILE)

    def __post_init__(self) -> None:
        object.__setattr__(self, "timings_file", str(self.timings_file))
        if not Path(self.timings_file).is_file():
            raise ValueError(
                f"timings_file={str(self.timings_file)!r} does not exist; "
                "it is written by `make book` "
                f"(default: '../{TIMINGS_FILE.as_posix()}' from the notebook's directory)"
            )
        _read_timings_file(self.timings_file)


def _settings_table() -> pd.DataFrame:
    """Every setting the runs use, read from the code.

    Returns
    -------
    pandas.DataFrame
        Columns ``setting``, ``applies to``, ``value`` and ``source``: "paper" (the TMLR paper,
        section given), "code" (the authors' public code) or "ours" (our choice where both are
        silent or disagree; the reason is given).
    """
    rows: list[tuple[str, str, str, str]] = [
        (
            "train / validation / test",
            "all",
            "70 / 15 / 15, stratified on (label, group), per seed",
            "paper 5.3",
        ),
        (
            "preprocessing",
            "all",
            "one-hot categorical, standardised numeric, fitted on the training split",
            "ours",
        ),
        (
            "seeds",
            "all",
            "0 .. seeds−1 (split, initialisation, sampling); 5 by default",
            "paper 5.3 (5 runs)",
        ),
        (
            "model selection",
            "all",
            "validation split only; the test split is for reported numbers",
            "ours",
        ),
        ("loss", "all", "binary cross-entropy, inner and outer", "paper 5.3"),
    ]
    for dataset in DATASETS:
        c = faalgrad_config(dataset)
        rows += [
            (
                "MLP",
                dataset,
                f"hidden {c.hidden}, {c.activation}",
                "paper 5.3 (layers, activation); code (width)",
            ),
            ("inner lr / outer lr", dataset, f"{c.inner_lr} / {c.outer_lr}", "paper 5.3"),
        ]
    c, e = faalgrad_config(DATASETS[0]), erm_config(DATASETS[0])
    faalgrad, mba_eod, config2 = (
        METHODS["faalgrad"].label,
        METHODS["mba_eod"].label,
        SPLIT_LABELS["config2"],
    )
    rows += [
        (
            f"{faalgrad} optimiser",
            "all",
            f"{c.optimizer} on θ0, plain SGD inner steps, second order",
            "code; paper 4.1",
        ),
        (
            f"{faalgrad} epochs",
            "all",
            f"full batch, at most {c.max_epochs}, patience {c.patience} on validation BCE",
            "code",
        ),
        (
            "baseline optimiser",
            "ERM, MBA, threshold",
            f"{e.optimizer}, lr {e.outer_lr}",
            "paper 5.2 (lr); code",
        ),
        (
            "baseline epochs",
            "ERM, MBA, threshold",
            f"full batch, at most {e.max_epochs}, patience {e.patience} on validation BCE",
            "ours: 100 full-batch steps at lr 0.001 leave the baseline unconverged",
        ),
        (
            "threshold grid",
            METHODS["threshold"].label.lower(),
            ", ".join(map(str, baselines.THRESHOLDS)) + " (protected group)",
            "ours (paper 5.2 gives no grid)",
        ),
        (f"{mba_eod} weight cap", mba_eod, str(baselines.MAX_EOD_WEIGHT), "ours"),
        (
            f"{config2} query set X_q",
            f"{faalgrad} {config2}",
            f"the {splits.DIRECTIONS[0]}-stereotypical cells (protected samples without "
            "their group's over-represented "
            "label, unprotected samples with it), label rates of the training split",
            "code",
        ),
        (
            "ratios X_q:X_s",
            "ratio and swap studies",
            ", ".join(splits.format_ratio(r) for r in splits.PAPER_RATIOS),
            "paper 5.5",
        ),
    ]
    n = nash_config(DATASETS[0])
    rows += [
        (
            "Nash-Meta-Learning MLP",
            "Nash and one-stage methods",
            f"hidden {n.hidden}, {n.activation}",
            "Nash authors' code",
        ),
        (
            "Nash optimiser",
            "Nash and one-stage methods",
            f"SGD lr {n.lr}, momentum {n.momentum}, weight decay {n.weight_decay}",
            "Nash authors' code",
        ),
        (
            "Nash batch / epochs / bargaining epochs",
            "Nash and one-stage methods",
            f"{n.batch_size} (Communities {nash_config('communities').batch_size}) / "
            f"{n.epochs} / {n.bargain_epochs}",
            "Nash authors' code (the Comparisons page may run fewer epochs; it says so)",
        ),
        (
            "Nash meta set",
            "Nash and one-stage methods",
            f"{n.meta_per_cell} validation examples per (group, label) cell",
            "Nash authors' code",
        ),
        (
            "Nash epoch selection",
            "Nash and one-stage methods",
            f"{n.selection} on the validation split",
            "ours (the authors chose on the test set)",
        ),
    ]
    return pd.DataFrame(rows, columns=["setting", "applies to", "value", "source"])


def _discrepancies() -> pd.DataFrame:
    """:data:`_DISCREPANCIES` as a table."""
    return pd.DataFrame(
        list(_DISCREPANCIES), columns=["topic", "paper", "authors' code", "this book"]
    )


def _package_versions() -> pd.DataFrame:
    """Python and the :data:`_PACKAGES` versions installed in this environment."""
    rows = [("python", platform.python_version())]
    for name in _PACKAGES:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["package", "version"])


def record_timing(path: Path, notebook: str, seconds: float) -> None:
    """Store the execution time of ``notebook`` in the JSON file ``path`` (with machine facts).

    Parameters
    ----------
    path : pathlib.Path
        The timings file (created if missing; written atomically).
    notebook : str
        The notebook's name.
    seconds : float
        Its execution time.
    """
    data = _read_timings_file(path)
    data["notebooks"][notebook] = round(float(seconds), 1)
    data["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _read_timings_file(path: Path) -> dict:
    """The timings file as a dict (empty structure when missing)."""
    path = Path(path)
    if not path.exists():
        return {"notebooks": {}, "machine": {}}
    data = json.loads(path.read_text())
    if not isinstance(data.get("notebooks"), dict):
        raise ValueError(f"{path}: malformed timings file (no 'notebooks' mapping)")
    data.setdefault("machine", {})
    return data


def _timings(timings: Path | str | dict) -> dict:
    return timings if isinstance(timings, dict) else _read_timings_file(Path(timings))


def _execution_times(
    timings: Path | str | dict = Path("..") / TIMINGS_FILE, order=None
) -> pd.DataFrame:
    """Seconds per notebook from the last ``make book``.

    Parameters
    ----------
    timings : path or dict
        The timings file (relative to the notebook's directory) or its contents.
    order : sequence of str, optional
        The notebooks' order (e.g. the book's page order); the file's notebooks, sorted, if missing.

    Returns
    -------
    pandas.DataFrame
        ``notebook`` and ``seconds``, one row per notebook in ``order`` that was timed, then
        ``total``.
    """
    times = _timings(timings)["notebooks"]
    names = [n for n in (order or sorted(times)) if n in times]
    out = pd.DataFrame({"notebook": names, "seconds": [times[n] for n in names]})
    total = pd.DataFrame(
        {"notebook": ["total"], "seconds": [round(float(out["seconds"].sum()), 1)]}
    )
    return pd.concat([out, total], ignore_index=True)


def _machine(timings: Path | str | dict = Path("..") / TIMINGS_FILE) -> dict:
    """Machine facts recorded with the timings (``cpus``, ``platform``, ``python``); ``timings`` as
    in :func:`_execution_times`."""
    return _timings(timings)["machine"]


def specs(params: Params) -> list[RunSpec]:
    """No grid runs: the page reads settings, versions and timings, and trains nothing."""
    return []


def compute(params: Params, rows: pd.DataFrame) -> PageResult:
    """Every table of the page, from the code, this environment and the timings file.

    The page trains through no grid (:func:`specs` is empty), and ``rows`` is ignored.

    Parameters
    ----------
    params : Params
    rows : pandas.DataFrame
        The rows of ``run_grid(specs(params))`` (none); ignored.

    Returns
    -------
    dict of pandas.DataFrame
        ``settings`` (:func:`_settings_table`), ``discrepancies``, ``versions``
        (:func:`_package_versions`), ``times`` (:func:`_execution_times` in
        :data:`_PAGE_ORDER`) and ``machine`` (one row), the last two from
        ``params.timings_file``.
    """
    timings = _read_timings_file(params.timings_file)
    return {
        "settings": _settings_table(),
        "discrepancies": _discrepancies(),
        "versions": _package_versions(),
        "times": _execution_times(timings, _PAGE_ORDER),
        "machine": pd.DataFrame([_machine(timings)]),
    }


def glue_values(result: PageResult) -> dict[str, str]:
    """The numbers the page's prose quotes, as text: total minutes, CPU count and platform."""
    facts = result["machine"].iloc[0]
    return {
        "total_minutes": number(result["times"]["seconds"].iloc[-1] / 60, 1),
        "machine_cpus": str(facts.get("cpus", "–")),
        "machine_platform": str(facts.get("platform", "–")),
    }


def verdicts(result: PageResult) -> list[claims.Verdict]:
    """The page decides no claim of the paper: no verdicts."""
    return []
