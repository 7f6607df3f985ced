"""``RunSpec``: one run (dataset, method, support/query split, seed, overrides), validated early."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from faalgrad.datasets import load_dataset
from faalgrad.presets import CODE_SETTINGS
from faalgrad.runs.methods import METHODS
from faalgrad.splits import (
    DIRECTIONS,
    INPUTS,
    SPLIT_PROCEDURES,
    SPLITS,
    code_split_indices,
    format_ratio,
    parse_ratio,
    support_query,
    train_val_test_indices,
)
from faalgrad.validation import check_choice, check_dataset, check_int

__all__ = ["SETUPS", "SPLIT_LABELS", "RunSpec", "setup_fields"]

SPLIT_LABELS = {"config1": "Config 1", "config2": "Config 2", "ratio": "Ratio", "swap": "Swap"}
#: Named setups: the paper's (this book's defaults) and the authors' released script,
#: replayed for FaAlGrad on COMPAS (its splits, integer inputs and learning rates).
SETUPS: tuple[str, ...] = ("paper", "code")


def setup_fields(setup: str, dataset: str, method: str) -> dict[str, Any]:
    """The :class:`RunSpec` fields (and ``overrides``) of a named setup.

    Parameters
    ----------
    setup : {"paper", "code"}
        ``"code"`` is the authors' script: FaAlGrad on COMPAS only.
    dataset, method : str
        The run's dataset and method, checked against what the setup covers.

    Returns
    -------
    dict
        Keyword arguments for :class:`RunSpec`.
    """
    check_choice("setup", setup, SETUPS)
    if setup == "paper":
        return {}
    if dataset not in CODE_SETTINGS or method != "faalgrad":
        raise ValueError(
            f"setup 'code' replays the authors' script, which runs FaAlGrad on COMPAS only; got "
            f"dataset {dataset!r}, method {method!r} "
            f"(valid choices: {', '.join(CODE_SETTINGS)}, faalgrad)"
        )
    return {
        "split_procedure": "code",
        "inputs": "integer",
        "overrides": dict(CODE_SETTINGS[dataset]),
    }


@dataclass(frozen=True)
class RunSpec:
    """One run. ``split``, ``ratio`` and ``inner_steps`` apply to ``method="faalgrad"`` only.

    ``overrides`` are settings replacing the dataset preset of the method (see its
    registry entry's ``config``), as ``(name, value)`` pairs (a dict is accepted and frozen).
    ``split_procedure``, ``inputs`` and ``direction`` are those of
    :func:`~faalgrad.splits.split_dataset` and :func:`~faalgrad.splits.support_query`.
    """

    dataset: str
    method: str = "faalgrad"
    split: str = "config1"
    ratio: float | None = None
    inner_steps: int = 1
    seed: int = 0
    include_protected: bool = True
    overrides: tuple[tuple[str, Any], ...] = field(default=())
    split_procedure: str = "paper"
    inputs: str = "scaled"
    direction: str = "counter"

    def __post_init__(self) -> None:
        check_dataset(self.dataset)
        check_choice("method", self.method, METHODS)
        check_choice("split", self.split, SPLITS)
        check_int("seed", self.seed, minimum=0)
        check_choice("split procedure", self.split_procedure, SPLIT_PROCEDURES)
        check_choice("inputs", self.inputs, INPUTS)
        check_choice("Config 2 direction", self.direction, DIRECTIONS)
        items = self.overrides.items() if isinstance(self.overrides, dict) else self.overrides
        frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in items))
        object.__setattr__(self, "overrides", frozen)
        if self.method != "faalgrad" and self.ratio is not None:
            raise ValueError(
                f"ratio={self.ratio!r} applies only to method 'faalgrad', not {self.method!r}"
            )
        if self.method == "faalgrad":
            if self.split in ("ratio", "swap"):
                if self.ratio is None:
                    raise ValueError(
                        f"split {self.split!r} needs a ratio (X_s share, e.g. 0.2 or '80:20')"
                    )
                object.__setattr__(self, "ratio", parse_ratio(self.ratio))
                self._check_feasible()
            elif self.ratio is not None:
                raise ValueError(
                    f"ratio={self.ratio!r} applies only to the 'ratio' and 'swap' splits, "
                    f"not {self.split!r}"
                )
        self.config()  # validates inner_steps and overrides early

    def _check_feasible(self) -> None:
        """Raise the builder's ``ValueError`` now if the ratio cannot be met.

        Checked on this seed's split.
        """
        ds = load_dataset(self.dataset)
        if self.split_procedure == "paper":
            train, _, _ = train_val_test_indices(ds.y, ds.a, self.seed)
        else:
            train, _, _ = code_split_indices(len(ds.y), self.seed)
        support_query(
            ds.y[train],
            ds.a[train],
            self.split,
            dataset=self.dataset,
            ratio=self.ratio,
            seed=self.seed,
        )

    def config(self):
        """The settings object this run trains with (its method's ``config`` with the overrides)."""
        overrides = dict(self.overrides)
        if self.method == "faalgrad":
            overrides["inner_steps"] = self.inner_steps
        return METHODS[self.method].config(self.dataset, **overrides)

    @property
    def label(self) -> str:
        """Human-readable row label, e.g. ``"Config 1"`` or ``"MBA for DP"``."""
        if self.method != "faalgrad":
            return METHODS[self.method].label
        label = SPLIT_LABELS[self.split]
        return f"{label} {format_ratio(self.ratio)}" if self.ratio is not None else label
