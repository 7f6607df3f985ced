"""Every input check of the package, and every message they give: one style everywhere.

A failed check raises ``ValueError`` naming the parameter, the value and the valid
choices, before any work starts. The core, the runs, the studies' page parameters, the
command line and the estimator all check through this module; none writes such a
message by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields, replace

import numpy as np

__all__ = [
    "check_choice",
    "check_dataset",
    "check_datasets",
    "check_int",
    "check_int_list",
    "check_n_jobs",
    "check_number",
    "check_number_list",
    "check_ratio_list",
    "check_seed_counts",
    "check_seeds",
    "replace_settings",
    "valid_choices",
]


def valid_choices(choices: Iterable) -> str:
    """The message tail that lists ``choices``: ``"valid choices: a, b, c"``."""
    return f"valid choices: {', '.join(str(c) for c in choices)}"


def _note(note: str) -> str:
    return f" ({note})" if note else ""


def _is_list(value) -> bool:
    return not isinstance(value, str | bytes | dict) and isinstance(value, Iterable)


def _is_number(value) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_choice(name: str, value, choices: Iterable) -> str:
    """``value`` if it is one of ``choices``, else a ``ValueError`` listing them.

    Parameters
    ----------
    name : str
        What the value is, used in the message (e.g. ``"split"``).
    value : object
        The value to check.
    choices : iterable
        The valid values.

    Returns
    -------
    object
        ``value``, unchanged.
    """
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; {valid_choices(choices)}")
    return value


def check_int(
    name: str, value, *, minimum: int = 1, maximum: int | None = None, note: str = ""
) -> int:
    """``value`` as an ``int`` if it is an integer in [``minimum``, ``maximum``].

    Parameters
    ----------
    name : str
        The parameter's name, used in the message.
    value : object
        The value to check (``bool`` is refused).
    minimum, maximum : int, optional
        The inclusive bounds; ``maximum=None`` has no upper bound.
    note : str
        Appended to the message in parentheses, e.g. the default's source.

    Returns
    -------
    int
    """
    ok = _is_int(value) and value >= minimum and (maximum is None or value <= maximum)
    if not ok:
        if maximum is not None:
            what = f"an integer from {minimum} to {maximum}"
        elif minimum == 1:
            what = "a positive integer"
        elif minimum == 0:
            what = "a non-negative integer"
        else:
            what = f"an integer >= {minimum}"
        raise ValueError(f"{name}={value!r} must be {what}{_note(note)}")
    return int(value)


def check_seeds(seeds) -> int:
    """``seeds`` if it is a positive integer: the number of seeds 0..seeds-1."""
    return check_int("seeds", seeds, note="the number of seeds 0..seeds-1")


def check_seed_counts(seeds, datasets: Iterable[str]) -> dict[str, int]:
    """The seeds of each of ``datasets``: one count for all, or a count per dataset.

    ``seeds`` is a positive integer (seeds 0..seeds-1 everywhere) or a mapping from dataset
    name to such a count; it must name every one of ``datasets`` (other names are ignored).
    """
    datasets = list(datasets)
    if not isinstance(seeds, Mapping):
        count = check_seeds(seeds)
        return {d: count for d in datasets}
    missing = [d for d in datasets if d not in seeds]
    if missing:
        raise ValueError(
            f"seeds={dict(seeds)!r} gives no count for {', '.join(missing)}; "
            f"give one per dataset ({', '.join(datasets)}) or one number for all"
        )
    return {
        d: check_int(f"seeds[{d!r}]", seeds[d], note="the number of seeds 0..seeds-1")
        for d in datasets
    }


def check_n_jobs(n_jobs) -> int:
    """``n_jobs`` if it is a non-zero integer (joblib's convention: -1 = all cores)."""
    if not _is_int(n_jobs) or n_jobs == 0:
        raise ValueError(f"n_jobs={n_jobs!r} must be a non-zero integer (-1 = all cores)")
    return int(n_jobs)


def check_number(
    name: str, value, low: float, high: float, *, closed: bool = True, note: str = ""
) -> float:
    """``value`` as a ``float`` if it is a number in [``low``, ``high``] (or the open interval).

    Parameters
    ----------
    name : str
        The parameter's name, used in the message.
    value : object
        The value to check.
    low, high : float
        The interval's ends.
    closed : bool
        Whether the ends are inside.
    note : str
        Appended to the message in parentheses.

    Returns
    -------
    float
    """
    inside = _is_number(value) and (low <= value <= high if closed else low < value < high)
    if not inside:
        interval = f"[{low:g}, {high:g}]" if closed else f"({low:g}, {high:g})"
        raise ValueError(f"{name}={value!r} must be a number in {interval}{_note(note)}")
    return float(value)


def _dataset_names() -> tuple[str, ...]:
    from faalgrad.datasets import DATASETS  # the datasets package checks through this module

    return DATASETS


def check_dataset(value, name: str = "dataset") -> str:
    """``value`` if it is one of :data:`~faalgrad.datasets.DATASETS`."""
    if not isinstance(value, str):
        raise ValueError(f"unknown {name} {value!r}; {valid_choices(_dataset_names())}")
    return check_choice(name, value, _dataset_names())


def check_datasets(name: str, value, *, distinct: bool = False) -> tuple[str, ...]:
    """A non-empty list of dataset names (distinct ones if ``distinct``), as a tuple."""
    choices = valid_choices(_dataset_names())
    if not _is_list(value) or not list(value):
        raise ValueError(f"{name}={value!r} must be a non-empty list; {choices}")
    values = list(value)
    bad = [d for d in values if d not in _dataset_names()]
    if bad:
        raise ValueError(f"{name}: unknown {', '.join(map(repr, bad))}; {choices}")
    if distinct and len(set(values)) != len(values):
        raise ValueError(f"{name}={values!r} repeats a dataset; {choices}")
    return tuple(values)


def check_int_list(
    name: str,
    value,
    *,
    minimum: int = 1,
    maximum: int | None = None,
    least: int = 1,
    note: str = "",
) -> tuple[int, ...]:
    """A list of at least ``least`` distinct integers in [``minimum``, ``maximum``], as a tuple."""
    values = list(value) if _is_list(value) else None
    ok = (
        values is not None
        and len(values) >= least
        and len(set(values)) == len(values)
        and all(_is_int(i) and i >= minimum and (maximum is None or i <= maximum) for i in values)
    )
    if not ok:
        if maximum is not None:
            what = f"a list of at least {least} distinct integers from {minimum} to {maximum}"
        else:
            bounds = "positive" if minimum == 1 else f">= {minimum}"
            what = f"a list of at least {least} distinct {bounds} integers"
        raise ValueError(f"{name}={value!r} must be {what}{_note(note)}")
    return tuple(int(i) for i in values)


def check_number_list(
    name: str, value, low: float, high: float, *, least: int = 1, note: str = ""
) -> tuple[float, ...]:
    """A list of at least ``least`` numbers in the open interval (``low``, ``high``), as a tuple."""
    values = list(value) if _is_list(value) else None
    if (
        values is None
        or len(values) < least
        or not all(_is_number(v) and low < v < high for v in values)
    ):
        raise ValueError(
            f"{name}={value!r} must be a list of at least {least} numbers in "
            f"({low:g}, {high:g}){_note(note)}"
        )
    return tuple(float(v) for v in values)


def check_ratio_list(name: str, value) -> tuple:
    """At least two distinct X_s shares, each a float in (0, 1) or an ``"X_q:X_s"`` string."""
    from faalgrad.splits import PAPER_RATIOS, format_ratio, parse_ratio  # splits checks here too

    paper_grid = ", ".join(format_ratio(r) for r in PAPER_RATIOS)
    valid = (
        "valid choices: floats in (0, 1) (the X_s share) or 'X_q:X_s' strings, "
        f"e.g. the paper's {paper_grid}"
    )
    if not _is_list(value):
        raise ValueError(f"{name}={value!r} must be a list; {valid}")
    shares = []
    for item in value:
        if isinstance(item, bool) or not isinstance(
            item, str | float | int | np.floating | np.integer
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


def replace_settings(config, **overrides):
    """``dataclasses.replace`` for a settings dataclass, naming unknown settings.

    Parameters
    ----------
    config : dataclass instance
        The settings to copy.
    **overrides
        New values by field name; ``hidden`` is normalised to a tuple of ints.

    Returns
    -------
    dataclass instance
        A copy of ``config`` with ``overrides``.
    """
    valid = {f.name for f in fields(config)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}; {valid_choices(sorted(valid))}")
    if "hidden" in overrides:
        overrides["hidden"] = tuple(int(h) for h in np.atleast_1d(overrides["hidden"]))
    return replace(config, **overrides)
