"""The method registry: one frozen record per method, in display order.

A record holds the method's key, label, family, settings builder, fit function, whether
it starts from the baseline MLP of its seed, and its relative cost (for scheduling).
The CLI, the run labels and the comparison families all read :data:`METHODS`; adding a
method is one entry here plus its fit function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from faalgrad import baselines
from faalgrad.datasets import load_dataset
from faalgrad.mitigators import MITIGATORS, fit_mitigator
from faalgrad.nash import NASH_METHODS, nash_config, train_nash
from faalgrad.presets import erm_config, faalgrad_config
from faalgrad.runs import cache
from faalgrad.splits import SplitData, split_dataset, support_query
from faalgrad.train import TrainResult, single_thread, train_erm, train_faalgrad
from faalgrad.validation import check_dataset

if TYPE_CHECKING:
    from faalgrad.runs.spec import RunSpec

__all__ = ["FAMILIES", "METHODS", "Method", "cached_split", "erm_model", "fit_run"]

Fit = Callable[["RunSpec", SplitData], tuple[Any, dict[str, Any]]]

#: Families of methods, in display order.
FAMILIES: tuple[str, ...] = (
    "FaAlGrad",
    "baseline",
    "fairlearn",
    "Nash-Meta-Learning",
    "one-stage meta-learning",
)


@dataclass(frozen=True)
class Method:
    """One method of the run grid.

    Parameters
    ----------
    key : str
        The name used in run specs, rows and the CLI (``--method``).
    label : str
        The display label of its rows.
    family : str
        One of :data:`FAMILIES`.
    config : callable
        ``config(dataset, **overrides)``: the settings object the method trains with.
    fit : callable
        ``fit(spec, data) -> (model, facts)``: trains on one seed's split.
    needs_erm : bool
        Whether it starts from the seed's baseline MLP (runs sharing it share a worker).
    cost : float
        Relative run time per training row, for scheduling only.
    """

    key: str
    label: str
    family: str
    config: Callable[..., Any]
    fit: Fit
    needs_erm: bool = False
    cost: float = 8.0


@lru_cache(maxsize=64)
def _split(
    dataset: str,
    seed: int,
    include_protected: bool,
    procedure: str = "paper",
    inputs: str = "scaled",
) -> SplitData:
    return split_dataset(
        load_dataset(dataset),
        seed,
        include_protected=include_protected,
        procedure=procedure,
        inputs=inputs,
    )


def _data(spec: RunSpec) -> SplitData:
    return _split(
        spec.dataset, spec.seed, spec.include_protected, spec.split_procedure, spec.inputs
    )


def cached_split(
    dataset: str,
    seed: int,
    include_protected: bool = True,
    procedure: str = "paper",
    inputs: str = "scaled",
) -> SplitData:
    """The seed's preprocessed train/validation/test split (memoised; the one every run uses).

    Parameters
    ----------
    dataset : str
        One of :data:`~faalgrad.datasets.DATASETS`.
    seed : int
        The split's seed.
    include_protected : bool
        Whether the protected attribute is the last input column.
    procedure, inputs : str
        As in :func:`~faalgrad.splits.split_dataset`.

    Returns
    -------
    SplitData
    """
    check_dataset(dataset)
    return _split(dataset, int(seed), bool(include_protected), procedure, inputs)


@lru_cache(maxsize=64)
def _erm(
    dataset: str,
    seed: int,
    include_protected: bool,
    overrides: tuple,
    procedure: str = "paper",
    inputs: str = "scaled",
) -> TrainResult:
    def train() -> TrainResult:
        data = _split(dataset, seed, include_protected, procedure, inputs)
        config = erm_config(dataset, **dict(overrides))
        return train_erm(data.X_train, data.y_train, data.X_val, data.y_val, config, seed)

    return cache.memoize(
        ("erm", dataset, seed, include_protected, overrides, procedure, inputs), train
    )


def erm_model(dataset: str, seed: int, include_protected: bool = True, **overrides) -> TrainResult:
    """The baseline MLP of ``seed``, trained once per process.

    With the run cache, once per book build.

    The model the ERM, threshold-adjustment, MBA-for-EOD and post-processing rows start from.

    Parameters
    ----------
    dataset : str
        One of :data:`~faalgrad.datasets.DATASETS`.
    seed : int
        Seed of the split and the initialisation.
    include_protected : bool
        Whether the protected attribute is an input.
    **overrides
        :class:`~faalgrad.train.TrainConfig` settings replacing the baseline preset.

    Returns
    -------
    TrainResult
    """
    erm_config(check_dataset(dataset), **overrides)  # validates the overrides
    frozen = tuple(
        sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in overrides.items())
    )
    with single_thread():
        return _erm(dataset, int(seed), bool(include_protected), frozen)


def _erm_of(spec: RunSpec) -> TrainResult:
    return _erm(
        spec.dataset,
        spec.seed,
        spec.include_protected,
        spec.overrides,
        spec.split_procedure,
        spec.inputs,
    )


# --- fit functions: (spec, data) -> (model, facts) ---------------------------------------------


def _fit_erm(spec: RunSpec, data: SplitData):
    return _erm_of(spec), {}


def _fit_threshold(spec: RunSpec, data: SplitData):
    model = _erm_of(spec)
    scores = model.predict_proba(data.X_val)
    return model, {"threshold": baselines.choose_threshold(scores, data.y_val, data.a_val)}


def _fit_mba_dp(spec: RunSpec, data: SplitData):
    rows = baselines.mba_dp_indices(data.a_train, spec.seed)
    return train_erm(
        data.X_train[rows], data.y_train[rows], data.X_val, data.y_val, spec.config(), spec.seed
    ), {}


def _fit_mba_eod(spec: RunSpec, data: SplitData):
    y_pred = (_erm_of(spec).predict_proba(data.X_train) >= 0.5).astype(int)
    weights = baselines.mba_eod_weights(data.y_train, y_pred, data.a_train)
    model = train_erm(
        data.X_train,
        data.y_train,
        data.X_val,
        data.y_val,
        spec.config(),
        spec.seed,
        sample_weight=weights,
    )
    return model, {}


def _fit_faalgrad(spec: RunSpec, data: SplitData):
    support, query = support_query(
        data.y_train,
        data.a_train,
        spec.split,
        dataset=spec.dataset,
        ratio=spec.ratio,
        seed=spec.seed,
        direction=spec.direction,
    )
    model = train_faalgrad(
        data.X_train[support],
        data.y_train[support],
        data.X_train[query],
        data.y_train[query],
        data.X_val,
        data.y_val,
        spec.config(),
        spec.seed,
    )
    return model, {"n_support": len(support), "n_query": len(query)}


def _fit_nash(spec: RunSpec, data: SplitData):
    model = train_nash(
        spec.method,
        data.X_train,
        data.y_train,
        data.a_train,
        data.X_val,
        data.y_val,
        data.a_val,
        spec.config(),
        spec.seed,
    )
    return model, {f"conflict_{k}": v for k, v in model.history.conflict_shares().items()}


def _fit_mitigator(spec: RunSpec, data: SplitData):
    erm = _erm_of(spec) if METHODS[spec.method].needs_erm else None
    return fit_mitigator(spec.method, data, spec.seed, model=erm), {}


def fit_run(spec: RunSpec) -> tuple[Any, dict[str, Any]]:
    """Train the model of ``spec`` with its registry entry's fit function.

    Parameters
    ----------
    spec : RunSpec
        The run.

    Returns
    -------
    model : object
        The trained model (``predict_proba`` gives P(y = 1)).
    facts : dict
        Run facts: decision ``threshold``, set sizes, ``best_epoch``, ``epochs``, ...
    """
    data = _data(spec)
    model, facts = METHODS[spec.method].fit(spec, data)
    facts = {"threshold": 0.5, **facts}
    facts.update(best_epoch=model.best_epoch, epochs=len(model.val_loss))
    return model, facts


def _erm_settings(dataset: str, **overrides):
    return erm_config(dataset, **overrides)


_NASH_LABELS = {"ltr": "LtR", "forml": "FORML", "gdro": "Meta-gDRO"}
_MITIGATOR_LABELS = {
    "eg_dp": "ExponentiatedGradient (DP)",
    "eg_eo": "ExponentiatedGradient (EO)",
    "to_dp": "ThresholdOptimizer (DP)",
    "to_eo": "ThresholdOptimizer (EO)",
}


def _registry() -> dict[str, Method]:
    entries = [
        Method("erm", "Baseline MLP", "baseline", _erm_settings, _fit_erm, needs_erm=True),
        Method("mba_dp", "MBA for DP", "baseline", _erm_settings, _fit_mba_dp),
        Method("mba_eod", "MBA for EOD", "baseline", _erm_settings, _fit_mba_eod, needs_erm=True),
        Method(
            "threshold",
            "Threshold adjustment",
            "baseline",
            _erm_settings,
            _fit_threshold,
            needs_erm=True,
        ),
        Method("faalgrad", "FaAlGrad", "FaAlGrad", faalgrad_config, _fit_faalgrad, cost=10.0),
    ]
    for key in (
        MITIGATORS
    ):  # ExponentiatedGradient ~ 20 logistic-regression fits; post-processing ~ nothing
        post = key.startswith("to_")
        entries.append(
            Method(
                key,
                _MITIGATOR_LABELS[key],
                "fairlearn",
                _erm_settings,
                _fit_mitigator,
                needs_erm=post,
                cost=1.0 if post else 6.0,
            )
        )
    for key in NASH_METHODS:
        objective = _NASH_LABELS[key.removeprefix("nash_")]
        two_stage = key.startswith("nash_")
        entries.append(
            Method(
                key,
                f"Nash-Meta-Learning ({objective})" if two_stage else objective,
                "Nash-Meta-Learning" if two_stage else "one-stage meta-learning",
                nash_config,
                _fit_nash,
            )
        )
    return {m.key: m for m in entries}


#: Every method, keyed by name, in display order.
METHODS: dict[str, Method] = _registry()
