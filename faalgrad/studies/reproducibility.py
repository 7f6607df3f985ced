"""What the Reproducibility page reports: every setting with its source, the paper-versus-
code discrepancies, package versions and the measured execution time of each notebook.

Setting values are read from the objects the runs use (presets, split constants,
baseline grids), so the page cannot drift from the code; only the sources are written
here. Sources: "paper" (the TMLR paper, section given), "code" (the authors' public
code), "ours" (our choice where both are silent or disagree; the reason is given).
"""
from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from faalgrad import baselines, splits
from faalgrad.datasets import DATASETS
from faalgrad.nash import nash_config
from faalgrad.presets import erm_config, faalgrad_config

#: Packages whose versions the page lists (distribution names).
PACKAGES: tuple[str, ...] = (
    "torch", "numpy", "pandas", "scikit-learn", "scipy", "fairlearn", "shap", "matplotlib", "seaborn",
    "jupyter-book", "myst-nb", "jupytext", "papermill", "nbval", "pytest",
)

#: Where the notebook execution times are recorded (relative to the project root).
TIMINGS_FILE = Path("book") / "timings.json"

#: Paper text versus the authors' public code, and what this book does: (topic, paper, code, here).
DISCREPANCIES: tuple[tuple[str, str, str, str], ...] = (
    ("Protected attribute as input", "excluded from the inputs (5.3)", "left among the inputs",
     "included by default; the Table 1 page also runs without it"),
    ("Train / validation / test", "70 / 15 / 15 (5.3)", "70 / 10 / 20", "70 / 15 / 15, stratified on (label, group)"),
    ("Inner iterations I = 10", "I sequential inner SGD steps (4.1)",
     "the same single inner step recomputed ten times (identical to I = 1)",
     "I sequential steps, differentiated through all of them"),
    ("Ratio ablation direction", "protected samples moved into X_s (5.5)", "unprotected samples moved into X_s",
     "as the paper says; the swap page runs the other direction"),
    ("Swap direction", "unprotected samples in X_s (5.6)", "protected samples in X_s", "as the paper says"),
    ("Learning rates (COMPAS)", "inner and outer 0.01 (5.3)", "inner 0.005, outer 0.01", "the paper's values"),
    ("Hidden width", "not stated", "8 units per hidden layer", "the code's 8"),
    ("Epochs and early stopping", "not stated", "full batch, at most 100 epochs, patience 10 on validation loss",
     "the code's, for FaAlGrad; the baselines may run 1000 epochs (see the settings)"),
)


def settings_table() -> pd.DataFrame:
    """Every setting the runs use: ``setting``, ``applies to``, ``value``, ``source``."""
    rows: list[tuple[str, str, str, str]] = [
        ("train / validation / test", "all", "70 / 15 / 15, stratified on (label, group), per seed", "paper 5.3"),
        ("preprocessing", "all", "one-hot categorical, standardised numeric, fitted on the training split", "ours"),
        ("seeds", "all", "0 .. seeds−1 (split, initialisation, sampling); 5 by default", "paper 5.3 (5 runs)"),
        ("model selection", "all", "validation split only; the test split is for reported numbers", "ours"),
        ("loss", "all", "binary cross-entropy, inner and outer", "paper 5.3"),
    ]
    for dataset in DATASETS:
        c = faalgrad_config(dataset)
        rows += [
            ("MLP", dataset, f"hidden {c.hidden}, {c.activation}", "paper 5.3 (layers, activation); code (width)"),
            ("inner lr / outer lr", dataset, f"{c.inner_lr} / {c.outer_lr}", "paper 5.3"),
        ]
    c, e = faalgrad_config(DATASETS[0]), erm_config(DATASETS[0])
    rows += [
        ("FaAlGrad optimiser", "all", f"{c.optimizer} on θ0, plain SGD inner steps, second order", "code; paper 4.1"),
        ("FaAlGrad epochs", "all", f"full batch, at most {c.max_epochs}, patience {c.patience} on validation BCE",
         "code"),
        ("baseline optimiser", "ERM, MBA, threshold", f"{e.optimizer}, lr {e.outer_lr}", "paper 5.2 (lr); code"),
        ("baseline epochs", "ERM, MBA, threshold",
         f"full batch, at most {e.max_epochs}, patience {e.patience} on validation BCE",
         "ours: 100 full-batch steps at lr 0.001 leave the baseline unconverged"),
        ("threshold grid", "threshold adjustment", ", ".join(map(str, baselines.THRESHOLDS)) + " (protected group)",
         "ours (paper 5.2 gives no grid)"),
        ("MBA for EOD weight cap", "MBA for EOD", str(baselines.MAX_EOD_WEIGHT), "ours"),
        ("Config 2 support (label of protected, unprotected)", "FaAlGrad Config 2",
         "; ".join(f"{d} {splits.CONFIG2_SUPPORT[d]}" for d in DATASETS), "paper 5.4"),
        ("ratios X_q:X_s", "ratio and swap studies", ", ".join(splits.format_ratio(r) for r in splits.PAPER_RATIOS),
         "paper 5.5"),
    ]
    n = nash_config(DATASETS[0])
    rows += [
        ("Nash-Meta-Learning MLP", "Nash and one-stage methods", f"hidden {n.hidden}, {n.activation}",
         "Nash authors' code"),
        ("Nash optimiser", "Nash and one-stage methods",
         f"SGD lr {n.lr}, momentum {n.momentum}, weight decay {n.weight_decay}", "Nash authors' code"),
        ("Nash batch / epochs / bargaining epochs", "Nash and one-stage methods",
         f"{n.batch_size} (Communities {nash_config('communities').batch_size}) / {n.epochs} / {n.bargain_epochs}",
         "Nash authors' code (the Comparisons page may run fewer epochs; it says so)"),
        ("Nash meta set", "Nash and one-stage methods", f"{n.meta_per_cell} validation examples per (group, label) cell",
         "Nash authors' code"),
        ("Nash epoch selection", "Nash and one-stage methods", f"{n.selection} on the validation split",
         "ours (the authors chose on the test set)"),
    ]
    return pd.DataFrame(rows, columns=["setting", "applies to", "value", "source"])


def discrepancies() -> pd.DataFrame:
    """:data:`DISCREPANCIES` as a table."""
    return pd.DataFrame(list(DISCREPANCIES), columns=["topic", "paper", "authors' code", "this book"])


def package_versions() -> pd.DataFrame:
    """Python and the :data:`PACKAGES` versions installed in this environment."""
    rows = [("python", platform.python_version())]
    for name in PACKAGES:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["package", "version"])


def record_timing(path: Path, notebook: str, seconds: float) -> None:
    """Store the execution time of ``notebook`` in the JSON file ``path`` (with machine facts)."""
    import os

    data = read_timings_file(path)
    data["notebooks"][notebook] = round(float(seconds), 1)
    data["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(terse=True),
                       "python": platform.python_version()}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_timings_file(path: Path) -> dict:
    """The timings file as a dict (empty structure when missing)."""
    path = Path(path)
    if not path.exists():
        return {"notebooks": {}, "machine": {}}
    data = json.loads(path.read_text())
    if not isinstance(data.get("notebooks"), dict):
        raise ValueError(f"{path}: malformed timings file (no 'notebooks' mapping)")
    data.setdefault("machine", {})
    return data


def check_parameters(*, timings_file: str | Path) -> None:
    """The page's parameter: an existing, well-formed timings file."""
    path = Path(timings_file)
    if not path.is_file():
        raise ValueError(f"timings_file={str(timings_file)!r} does not exist; it is written by `make book` "
                         f"(default: '../{TIMINGS_FILE.as_posix()}' from the notebook's directory)")
    read_timings_file(path)


def execution_times(path: Path | str = Path("..") / TIMINGS_FILE, order: list[str] | None = None) -> pd.DataFrame:
    """Seconds per notebook from the last ``make book`` (``path`` relative to the notebook's directory).

    Rows in ``order`` (e.g. the book's page order) when given, then a ``total`` row.
    """
    data = read_timings_file(Path(path))
    times = data["notebooks"]
    names = [n for n in (order or sorted(times)) if n in times]
    out = pd.DataFrame({"notebook": names, "seconds": [times[n] for n in names]})
    total = pd.DataFrame({"notebook": ["total"], "seconds": [round(float(out["seconds"].sum()), 1)]})
    return pd.concat([out, total], ignore_index=True)


def machine(path: Path | str = Path("..") / TIMINGS_FILE) -> dict:
    """Machine facts recorded with the timings (CPU count, platform, Python)."""
    return read_timings_file(Path(path))["machine"]
