"""The method registry: one frozen record per method, in display order.

A record holds the method's key, label, family, settings builder, fit function, whether
it starts from the baseline MLP of its seed, and its relative cost (for scheduling).
The CLI, the run labels and the comparison families all read :data:`METHODS`; adding a
method is one entry here plus its fit function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from faalgrad import baselines
from faalgrad.batched import ErmTask, MetaTask, train_erm_batch, train_faalgrad_batch
from faalgrad.datasets import load_dataset
from faalgrad.mitigators import MITIGATORS, fit_mitigator
from faalgrad.nash import NASH_METHODS, NashTask, nash_config, train_nash_batch
from faalgrad.presets import erm_config, faalgrad_config
from faalgrad.runs import cache
from faalgrad.splits import SplitData, split_dataset, support_query
from faalgrad.train import TrainResult, single_thread
from faalgrad.validation import check_dataset

if TYPE_CHECKING:
    from faalgrad.runs.spec import RunSpec

__all__ = ["FAMILIES", "METHODS", "Method", "cached_split", "erm_model", "fit_run", "fit_runs"]

Fit = Callable[["RunSpec", SplitData], tuple[Any, dict[str, Any]]]
FitBatch = Callable[[list["RunSpec"], list[SplitData]], list[tuple[Any, dict[str, Any]]]]

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
    fit_batch : callable, optional
        ``fit_batch(specs, datas) -> [(model, facts), ...]``: trains runs that differ only in
        seed together (:mod:`faalgrad.batched`); ``fit`` is then its batch of one.
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
    fit_batch: FitBatch | None = None
    needs_erm: bool = False
    cost: float = 8.0

    @classmethod
    def batched(cls, key: str, label: str, family: str, config, fit_batch: FitBatch, **kw):
        """A method trained in batches; its one-spec ``fit`` is the batch of one."""

        def fit(spec: RunSpec, data: SplitData):
            return fit_batch([spec], [data])[0]

        return cls(key, label, family, config, fit, fit_batch=fit_batch, **kw)


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


#: The baseline MLPs trained in this process, by :func:`_erm_key`.
_ERM_MODELS: dict[tuple, TrainResult] = {}


def _erm_key(spec: RunSpec) -> tuple:
    return (
        "erm",
        spec.dataset,
        spec.seed,
        spec.include_protected,
        spec.overrides,
        spec.split_procedure,
        spec.inputs,
    )


def _train_erms(specs: list[RunSpec]) -> None:
    """Train the baseline MLPs of ``specs`` not yet trained, together, one batch per setup.

    A model already in this process or in the run cache is reused; the others train as
    one batch per setup (all but the seed equal) and are stored in both.
    """
    missing: dict[tuple, RunSpec] = {}
    for spec in specs:
        key = _erm_key(spec)
        if key in _ERM_MODELS or key in missing:
            continue
        found, model = cache.lookup(key)
        if found:
            _ERM_MODELS[key] = model
        else:
            missing[key] = spec
    for group in _by_setup(list(missing.values())):
        config = erm_config(group[0].dataset, **dict(group[0].overrides))
        tasks = []
        for spec in group:
            data = _data(spec)
            tasks.append(ErmTask(data.X_train, data.y_train, data.X_val, data.y_val, spec.seed))
        with single_thread():
            models = train_erm_batch(tasks, config)
        for spec, model in zip(group, models, strict=True):
            key = _erm_key(spec)
            _ERM_MODELS[key] = cache.memoize(key, lambda model=model: model)


def _by_setup(specs: list[RunSpec]) -> list[list[RunSpec]]:
    """``specs`` grouped by everything but the seed, in first-seen order."""
    groups: dict[RunSpec, list[RunSpec]] = {}
    for spec in specs:
        groups.setdefault(replace(spec, seed=0), []).append(spec)
    return list(groups.values())


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
    from faalgrad.runs.spec import RunSpec

    spec = RunSpec(
        dataset,
        "erm",
        seed=int(seed),
        include_protected=bool(include_protected),
        overrides=overrides,
    )
    return _erm_of(spec)


def _erm_of(spec: RunSpec) -> TrainResult:
    _train_erms([spec])
    return _ERM_MODELS[_erm_key(spec)]


# --- fit functions: (spec, data) -> (model, facts) ---------------------------------------------


def _fit_erm(spec: RunSpec, data: SplitData):
    return _erm_of(spec), {}


def _fit_threshold(spec: RunSpec, data: SplitData):
    model = _erm_of(spec)
    scores = model.predict_proba(data.X_val)
    return model, {"threshold": baselines.choose_threshold(scores, data.y_val, data.a_val)}


def _fit_mba_dp(specs: list[RunSpec], datas: list[SplitData]):
    tasks = []
    for spec, data in zip(specs, datas, strict=True):
        rows = baselines.mba_dp_indices(data.a_train, spec.seed)
        tasks.append(
            ErmTask(data.X_train[rows], data.y_train[rows], data.X_val, data.y_val, spec.seed)
        )
    return [(model, {}) for model in train_erm_batch(tasks, specs[0].config())]


def _fit_mba_eod(specs: list[RunSpec], datas: list[SplitData]):
    tasks = []
    for spec, data in zip(specs, datas, strict=True):
        y_pred = (_erm_of(spec).predict_proba(data.X_train) >= 0.5).astype(int)
        weights = baselines.mba_eod_weights(data.y_train, y_pred, data.a_train)
        tasks.append(
            ErmTask(
                data.X_train,
                data.y_train,
                data.X_val,
                data.y_val,
                spec.seed,
                sample_weight=weights,
            )
        )
    return [(model, {}) for model in train_erm_batch(tasks, specs[0].config())]


def _fit_faalgrad(specs: list[RunSpec], datas: list[SplitData]):
    tasks, facts = [], []
    for spec, data in zip(specs, datas, strict=True):
        support, query = support_query(
            data.y_train,
            data.a_train,
            spec.split,
            dataset=spec.dataset,
            ratio=spec.ratio,
            seed=spec.seed,
            direction=spec.direction,
        )
        X, y = data.X_train, data.y_train
        tasks.append(
            MetaTask(X[support], y[support], X[query], y[query], data.X_val, data.y_val, spec.seed)
        )
        facts.append({"n_support": len(support), "n_query": len(query)})
    models = train_faalgrad_batch(tasks, specs[0].config())
    return list(zip(models, facts, strict=True))


def _fit_nash(specs: list[RunSpec], datas: list[SplitData]):
    tasks = [
        NashTask(d.X_train, d.y_train, d.a_train, d.X_val, d.y_val, d.a_val, spec.seed)
        for spec, d in zip(specs, datas, strict=True)
    ]
    models = train_nash_batch(specs[0].method, tasks, specs[0].config())
    return [
        (model, {f"conflict_{k}": v for k, v in model.history.conflict_shares().items()})
        for model in models
    ]


def _fit_mitigator(spec: RunSpec, data: SplitData):
    erm = _erm_of(spec) if METHODS[spec.method].needs_erm else None
    return fit_mitigator(spec.method, data, spec.seed, model=erm), {}


def fit_runs(specs: list[RunSpec]) -> list[tuple[Any, dict[str, Any]]]:
    """Train the models of ``specs``: runs that differ only in seed train as one batch.

    The baseline MLPs the specs start from are trained first, together
    (:mod:`faalgrad.batched`); then each setup's runs go to their registry entry's
    ``fit_batch`` when it has one, else to its ``fit`` one at a time.

    Parameters
    ----------
    specs : list of RunSpec
        The runs.

    Returns
    -------
    list of (model, facts)
        For each spec, in order: the trained model (``predict_proba`` gives P(y = 1)) and its
        run facts: decision ``threshold``, set sizes, ``best_epoch``, ``epochs``, ...
    """
    specs = list(specs)
    _train_erms([s for s in specs if METHODS[s.method].needs_erm])
    fitted: list[tuple[Any, dict[str, Any]] | None] = [None] * len(specs)
    setups: dict[RunSpec, list[int]] = {}
    for i, spec in enumerate(specs):
        setups.setdefault(replace(spec, seed=0), []).append(i)
    for indices in setups.values():
        group = [specs[i] for i in indices]
        method = METHODS[group[0].method]
        datas = [_data(spec) for spec in group]
        with single_thread():
            if method.fit_batch is not None:
                results = method.fit_batch(group, datas)
            else:
                results = [method.fit(spec, data) for spec, data in zip(group, datas, strict=True)]
        for i, (model, facts) in zip(indices, results, strict=True):
            facts = {"threshold": 0.5, **facts}
            facts.update(best_epoch=model.best_epoch, epochs=len(model.val_loss))
            fitted[i] = (model, facts)
    return fitted


def fit_run(spec: RunSpec) -> tuple[Any, dict[str, Any]]:
    """Train the model of ``spec`` (:func:`fit_runs` of one spec).

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
    return fit_runs([spec])[0]


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
        Method.batched("mba_dp", "MBA for DP", "baseline", _erm_settings, _fit_mba_dp),
        Method.batched(
            "mba_eod", "MBA for EOD", "baseline", _erm_settings, _fit_mba_eod, needs_erm=True
        ),
        Method(
            "threshold",
            "Threshold adjustment",
            "baseline",
            _erm_settings,
            _fit_threshold,
            needs_erm=True,
        ),
        Method.batched(
            "faalgrad", "FaAlGrad", "FaAlGrad", faalgrad_config, _fit_faalgrad, cost=10.0
        ),
    ]
    # ExponentiatedGradient ~ 20 logistic-regression fits; post-processing ~ nothing
    for key in MITIGATORS:
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
            Method.batched(
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
