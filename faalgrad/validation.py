"""Checks shared by every settings object and page parameter: one message style everywhere.

A failed check raises ``ValueError`` naming the parameter, the value and the valid choices.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Iterable

import numpy as np

__all__ = ["check_choice", "check_int", "replace_settings"]


def check_int(
    name: str, value, *, minimum: int = 1, maximum: int | None = None, note: str = ""
) -> int:
    """``value`` as an ``int`` if it is an integer in [``minimum``, ``maximum``], else a ``ValueError``.

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
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    if not ok:
        if maximum is not None:
            what = f"an integer from {minimum} to {maximum}"
        else:
            what = {1: "a positive integer", 0: "a non-negative integer"}.get(
                minimum, f"an integer >= {minimum}"
            )
        raise ValueError(f"{name}={value!r} must be {what}" + (f" ({note})" if note else ""))
    return int(value)


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``, else a ``ValueError`` listing them."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid choices: {', '.join(choices)}")
    return value


def replace_settings(config, **overrides):
    """``dataclasses.replace`` for a settings dataclass, naming unknown settings in a ``ValueError``."""
    valid = {f.name for f in fields(config)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(
            f"unknown setting(s) {', '.join(unknown)}; valid choices: {', '.join(sorted(valid))}"
        )
    if "hidden" in overrides:
        overrides["hidden"] = tuple(int(h) for h in np.atleast_1d(overrides["hidden"]))
    return replace(config, **overrides)
