"""The one parameter validation of the book's pages: field checks used by every ``Params``.

Each check raises ``ValueError`` naming the parameter, the value and the valid choices,
before any work starts.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from faalgrad.datasets import DATASETS
from faalgrad.splits import PAPER_RATIOS, format_ratio, parse_ratio
from faalgrad.validation import check_choice, check_int

__all__ = [
    "check_choice",
    "check_dataset_list",
    "check_dataset_name",
    "check_int",
    "check_int_list",
    "check_n_jobs",
    "check_number",
    "check_number_list",
    "check_ratio_list",
]

_DATASET_CHOICES = f"valid choices: {', '.join(DATASETS)}"


def _is_list(value) -> bool:
    return not isinstance(value, (str, bytes, dict)) and isinstance(value, Iterable)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def check_dataset_name(name: str, value) -> str:
    """One dataset name from :data:`~faalgrad.datasets.DATASETS`."""
    if not isinstance(value, str) or value not in DATASETS:
        raise ValueError(f"{name}={value!r} must be one dataset name; {_DATASET_CHOICES}")
    return value


def check_dataset_list(name: str, value, *, distinct: bool = False) -> tuple[str, ...]:
    """A non-empty list of dataset names (distinct ones if ``distinct``)."""
    if not _is_list(value) or not list(value):
        raise ValueError(f"{name}={value!r} must be a non-empty list; {_DATASET_CHOICES}")
    values = list(value)
    bad = [d for d in values if d not in DATASETS]
    if bad:
        raise ValueError(f"{name}: unknown {', '.join(map(repr, bad))}; {_DATASET_CHOICES}")
    if distinct and len(set(values)) != len(values):
        raise ValueError(f"{name}={values!r} repeats a dataset; {_DATASET_CHOICES}")
    return tuple(values)


def check_n_jobs(value) -> int:
    """A non-zero integer (joblib's convention: -1 = all cores)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value == 0:
        raise ValueError(f"n_jobs={value!r} must be a non-zero integer (-1 = all cores)")
    return int(value)


def check_number(
    name: str, value, low: float, high: float, *, closed: bool = True, note: str = ""
) -> float:
    """A number in [``low``, ``high``] (``closed``) or (``low``, ``high``)."""
    inside = _is_number(value) and (low <= value <= high if closed else low < value < high)
    if not inside:
        interval = f"[{low:g}, {high:g}]" if closed else f"({low:g}, {high:g})"
        raise ValueError(
            f"{name}={value!r} must be a number in {interval}" + (f" ({note})" if note else "")
        )
    return float(value)


def check_int_list(
    name: str,
    value,
    *,
    minimum: int = 1,
    maximum: int | None = None,
    least: int = 1,
    note: str = "",
) -> tuple[int, ...]:
    """A list of at least ``least`` distinct integers in [``minimum``, ``maximum``]."""
    values = list(value) if _is_list(value) else None
    ok = (
        values is not None
        and len(values) >= least
        and len(set(values)) == len(values)
        and all(
            isinstance(i, (int, np.integer))
            and not isinstance(i, bool)
            and i >= minimum
            and (maximum is None or i <= maximum)
            for i in values
        )
    )
    if not ok:
        bounds = (
            f"from {minimum} to {maximum}"
            if maximum is not None
            else ("positive" if minimum == 1 else f">= {minimum}")
        )
        what = (
            f"a list of at least {least} distinct {bounds} integers"
            if maximum is None
            else (f"a list of at least {least} distinct integers {bounds}")
        )
        raise ValueError(f"{name}={value!r} must be {what}" + (f" ({note})" if note else ""))
    return tuple(int(i) for i in values)


def check_number_list(
    name: str, value, low: float, high: float, *, least: int = 1, note: str = ""
) -> tuple[float, ...]:
    """A list of at least ``least`` numbers in the open interval (``low``, ``high``)."""
    values = list(value) if _is_list(value) else None
    if (
        values is None
        or len(values) < least
        or not all(_is_number(v) and low < v < high for v in values)
    ):
        raise ValueError(
            f"{name}={value!r} must be a list of at least {least} numbers in ({low:g}, {high:g})"
            + (f" ({note})" if note else "")
        )
    return tuple(float(v) for v in values)


def check_ratio_list(name: str, value) -> tuple[float, ...]:
    """At least two distinct X_s shares, each a float in (0, 1) or an ``"X_q:X_s"`` string."""
    paper_grid = ", ".join(format_ratio(r) for r in PAPER_RATIOS)
    valid = f"valid choices: floats in (0, 1) (the X_s share) or 'X_q:X_s' strings, e.g. the paper's {paper_grid}"
    if not _is_list(value):
        raise ValueError(f"{name}={value!r} must be a list; {valid}")
    shares = []
    for item in value:
        if isinstance(item, bool) or not isinstance(
            item, (str, float, int, np.floating, np.integer)
        ):
            raise ValueError(f"{name}: {item!r} is not a ratio; {valid}")
        try:
            shares.append(parse_ratio(item))
        except ValueError as error:
            raise ValueError(f"{name}: {error}; {valid}") from None
    if len(set(shares)) < 2 or len(set(shares)) != len(shares):
        raise ValueError(
            f"{name}={list(value)!r} must hold at least two distinct ratios (no repeats); {valid}"
        )
    return tuple(value)
