"""Run specs in, tidy rows out: :func:`run` (one spec) and :func:`run_grid` (many, with
joblib on this machine or on a Dask cluster given its scheduler address).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable
from dataclasses import asdict, replace
from typing import Any

import pandas as pd
from joblib import Parallel, delayed, parallel_config
from tqdm.auto import tqdm

from faalgrad import baselines
from faalgrad.datasets import load_dataset
from faalgrad.metrics import evaluate
from faalgrad.runs import cache
from faalgrad.runs.methods import METHODS, cached_split, fit_runs
from faalgrad.runs.spec import RunSpec
from faalgrad.train import single_thread
from faalgrad.validation import check_n_jobs

__all__ = ["run", "run_grid"]


def run(spec: RunSpec) -> dict[str, Any]:
    """Train, select on validation, evaluate on test: one tidy row.

    Parameters
    ----------
    spec : RunSpec
        The run.

    Returns
    -------
    dict
        The spec, run facts, every :data:`~faalgrad.metrics.METRICS` entry on the test
        split, and the same on the validation split as ``val_<metric>`` (for choosing
        between runs without looking at the test split). With the run cache on
        (:mod:`faalgrad.runs.cache`), a spec already run returns its stored row.
    """
    return _run_chunk([spec])[0]


def _run_chunk(specs: list[RunSpec]) -> list[dict[str, Any]]:
    """The rows of ``specs``: stored ones read back, the others trained in batches by seed."""
    rows: dict[int, dict[str, Any]] = {}
    missing = []
    for i, spec in enumerate(specs):
        found, row = cache.lookup(("run", spec))
        if found:
            rows[i] = row
        else:
            missing.append(i)
    fitted = fit_runs([specs[i] for i in missing])
    for i, (model, facts) in zip(missing, fitted, strict=True):
        row = _row(specs[i], model, facts)
        rows[i] = cache.memoize(("run", specs[i]), lambda row=row: row)
    return [rows[i] for i in range(len(specs))]


def _row(spec: RunSpec, model, facts: dict[str, Any]) -> dict[str, Any]:
    """One tidy row: the spec, the run facts and the metrics on the test and validation splits."""
    data = cached_split(
        spec.dataset, spec.seed, spec.include_protected, spec.split_procedure, spec.inputs
    )
    with single_thread():
        scores = model.predict_proba(data.X_test)
        val_scores = model.predict_proba(data.X_val)
    y_pred = baselines.predict_with_threshold(scores, data.a_test, facts["threshold"])
    val_pred = baselines.predict_with_threshold(val_scores, data.a_val, facts["threshold"])
    if hasattr(
        model, "predict_labels"
    ):  # randomised classifiers (fairlearn mitigators) draw their own labels
        y_pred, val_pred = (
            model.predict_labels(data.X_test, data.a_test),
            model.predict_labels(data.X_val, data.a_val),
        )
    row = {k: v for k, v in asdict(spec).items() if k != "overrides"}
    row["overrides"] = ",".join(f"{k}={v}" for k, v in spec.overrides)
    row["label"] = spec.label
    val = {
        f"val_{k}": v
        for k, v in evaluate(data.y_val, val_pred, data.a_val, y_score=val_scores).items()
    }
    return {**row, **facts, **evaluate(data.y_test, y_pred, data.a_test, y_score=scores), **val}


def _cost(spec: RunSpec) -> float:
    """Relative run time, for scheduling only: rows times the method's cost times inner steps."""
    return len(load_dataset(spec.dataset)) * METHODS[spec.method].cost * spec.inner_steps


def _chunk_key(spec: RunSpec, i: int) -> tuple:
    """The worker chunk of ``spec`` (the ``i``-th): its seeds' batch, or itself alone."""
    method = METHODS[spec.method]
    if method.needs_erm:
        return (
            "erm",
            spec.dataset,
            spec.include_protected,
            spec.overrides,
            spec.split_procedure,
            spec.inputs,
        )
    if method.fit_batch is not None:
        return ("batch", replace(spec, seed=0))
    return ("one", i)


_LOKY_RESTART = "A worker stopped while some jobs were given to the executor"

#: How long a Dask client waits for the scheduler before the run gives up with a clear error.
CONNECT_TIMEOUT = "10s"


@contextlib.contextmanager
def _executor(scheduler: str | None):
    """joblib's default backend, or its Dask backend on a client of ``scheduler``."""
    if scheduler is None:
        yield
        return
    from distributed import Client

    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except OSError as error:
        raise ValueError(
            f"scheduler={scheduler!r}: no Dask scheduler answers there ({error})"
        ) from None
    with client, parallel_config(backend="dask"):
        yield


def run_grid(
    specs: Iterable[RunSpec],
    *,
    n_jobs: int = 1,
    progress: bool = True,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Run every spec; one row each, in the order given.

    Parameters
    ----------
    specs : iterable of RunSpec
        The runs.
    n_jobs : int
        joblib workers (-1: all cores, or all Dask workers). Each run uses one torch
        thread, so the rows do not depend on ``n_jobs`` nor on the executor.
    progress : bool
        Show a progress bar.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``"tcp://host:8786"``): the runs go to
        its workers through joblib's Dask backend. Workers need this package installed.

    Returns
    -------
    pandas.DataFrame
        One row per spec (see :func:`run`).

    Notes
    -----
    Runs that differ only in seed go to one worker and train there as one batch
    (:mod:`faalgrad.batched`), and so do all the runs that start from the baseline MLPs of
    one setup (the registry's ``needs_erm``), so each of those trains once; a run's row does
    not depend on the batch it trained in. The longest chunks start first, so that parallel
    workers finish together.
    """
    check_n_jobs(n_jobs)
    specs = list(specs)
    groups: dict[tuple, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(_chunk_key(spec, i), []).append(i)
    order = sorted(groups, key=lambda key: -sum(_cost(specs[i]) for i in groups[key]))
    groups = {key: groups[key] for key in order}
    chunks = [[specs[i] for i in idx] for idx in groups.values()]
    results: list[list[dict]] = []
    with _executor(scheduler), warnings.catch_warnings():
        # loky replaces a worker whose memory grew by more than 300 MB (a batch of Adult's
        # seeds, its memoised splits) and warns when jobs were queued for it; they run on
        # the replacement, so no row changes
        warnings.filterwarnings("ignore", _LOKY_RESTART, UserWarning)
        bar = tqdm(total=len(specs), desc="runs", disable=not progress, leave=False)
        for chunk_rows in Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_run_chunk)(c) for c in chunks
        ):
            results.append(chunk_rows)
            bar.update(len(chunk_rows))
    bar.close()
    rows: list[dict | None] = [None] * len(specs)
    for idx, chunk_rows in zip(groups.values(), results, strict=True):
        for i, row in zip(idx, chunk_rows, strict=True):
            rows[i] = row
    return pd.DataFrame(rows)
