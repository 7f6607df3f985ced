"""Settings of the Nash-Meta-Learning methods, with the authors' defaults.

See the Comparisons page of the book for what each setting does and where it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from faalgrad.train import ACTIVATIONS, TrainConfig
from faalgrad.validation import check_choice, check_dataset, check_int, replace_settings

__all__ = ["NASH_METHODS", "OBJECTIVES", "NashConfig", "nash_config", "split_method"]

NASH_METHODS: tuple[str, ...] = ("nash_ltr", "nash_forml", "nash_gdro", "ltr", "forml", "gdro")
OBJECTIVES: tuple[str, ...] = ("ltr", "forml", "gdro")
WEIGHT_NORMS: tuple[str, ...] = ("l2", "sum")
SELECTIONS: tuple[str, ...] = ("val_loss", "val_worst_auc")
FALLBACKS: tuple[str, ...] = ("ones", "objective")

#: Per-dataset overrides of :class:`NashConfig` (the authors used batch 32 for crime).
NASH_PRESETS: dict[str, dict] = {"communities": {"batch_size": 32}}


@dataclass(frozen=True)
class NashConfig:
    """Every setting of one Nash-meta-learning run; defaults are the authors'.

    ``lookahead_lr`` is η of the look-ahead θ − η ∇θ Σ εᵢ ℓᵢ (``None``: equal to ``lr``).
    ``bargain_epochs`` (T) applies to the ``nash_*`` methods: epochs 0..T−1 bargain.
    ``nbs_max_iter`` / ``nbs_tol`` are passed to :func:`nbs_solve`.
    """

    hidden: tuple[int, ...] = (128, 64)
    activation: Literal["relu", "tanh"] = "relu"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 512
    epochs: int = 50
    bargain_epochs: int = 15
    meta_per_cell: int = 8
    lookahead_lr: float | None = None
    weight_norm: Literal["l2", "sum"] = "l2"
    selection: Literal["val_loss", "val_worst_auc"] = "val_worst_auc"
    nbs_fallback: Literal["ones", "objective"] = "ones"
    nbs_max_iter: int = 100
    nbs_tol: float = 1e-8

    def __post_init__(self) -> None:
        check_choice("activation", self.activation, ACTIVATIONS)
        for name, choices in (
            ("weight_norm", WEIGHT_NORMS),
            ("selection", SELECTIONS),
            ("nbs_fallback", FALLBACKS),
        ):
            check_choice(name, getattr(self, name), choices)
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden={self.hidden!r} must be one or more positive layer widths")
        for name in ("batch_size", "epochs", "meta_per_cell", "nbs_max_iter"):
            check_int(name, getattr(self, name))
        b = check_int("bargain_epochs", self.bargain_epochs, minimum=0)
        if b > self.epochs:
            raise ValueError(f"bargain_epochs={b!r} exceeds epochs={self.epochs!r}")
        for name in ("lr", "nbs_tol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be positive")
        if self.lookahead_lr is not None and not self.lookahead_lr > 0:
            raise ValueError(f"lookahead_lr={self.lookahead_lr!r} must be positive or None (= lr)")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum={self.momentum!r} must lie in [0, 1)")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay={self.weight_decay!r} must be non-negative")

    @property
    def eta(self) -> float:
        """The look-ahead learning rate η."""
        return self.lr if self.lookahead_lr is None else float(self.lookahead_lr)

    def mlp_config(self) -> TrainConfig:
        """A :class:`~faalgrad.train.TrainConfig` carrying the architecture.

        For :func:`build_mlp`.
        """
        return TrainConfig(hidden=tuple(self.hidden), activation=self.activation)

    def updated(self, **overrides) -> NashConfig:
        """A copy with ``overrides``.

        Unknown names raise a ``ValueError`` listing the valid ones.
        """
        return replace_settings(self, **overrides)


def nash_config(dataset: str, **overrides) -> NashConfig:
    """The authors' setting for ``dataset``, with ``overrides``.

    Batch 32 for Communities, 512 otherwise.
    """
    return NashConfig().updated(**{**NASH_PRESETS.get(check_dataset(dataset), {}), **overrides})


def split_method(method: str) -> tuple[str, bool]:
    """The stage-2 objective of ``method`` and whether it bargains first.

    ``"nash_forml"`` -> ``("forml", True)``.
    """
    check_choice("method", method, NASH_METHODS)
    return method.removeprefix("nash_"), method.startswith("nash_")
