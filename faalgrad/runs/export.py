"""Results as data: a page's tidy run rows and the exact splits, as CSV files beside the book.

Written only where ``FAALGRAD_DATA_DIR`` points (``make book`` sets it to ``book/data`` when
it publishes, ``make test`` to a scratch folder for nbval's re-execution), each file with the
numerical kernels that computed it in ``kernels.json``: the results regression compares both.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from faalgrad.datasets import load_dataset
from faalgrad.splits import code_split_indices, train_val_test_indices

__all__ = [
    "DATA_ENV",
    "KERNELS_FILE",
    "export_rows",
    "export_splits",
    "kernel_config",
    "split_indices",
]

DATA_ENV = "FAALGRAD_DATA_DIR"
KERNELS_FILE = "kernels.json"


def kernel_config() -> dict[str, str | int]:
    """The numerical kernels of this process: the settings a CPU or an environment can change.

    Returns
    -------
    dict
        ``torch_cpu`` (torch's vector instruction set, ``ATEN_CPU_CAPABILITY``),
        ``openblas_core`` and ``blas_threads`` (NumPy's OpenBLAS: core type and threads),
        ``mkl_cbwr`` (the MKL code path torch's dense products are pinned to, if any).
    """
    import threadpoolctl
    import torch

    blas = [i for i in threadpoolctl.threadpool_info() if i.get("internal_api") == "openblas"] or [
        {}
    ]
    return {
        "torch_cpu": torch.backends.cpu.get_cpu_capability(),
        "openblas_core": blas[0].get("architecture", ""),
        "blas_threads": blas[0].get("num_threads", 0),
        "mkl_cbwr": os.environ.get("MKL_CBWR", ""),
    }


def _write(frame: pd.DataFrame, name: str) -> Path | None:
    value = os.environ.get(DATA_ENV, "").strip()
    if not value:
        return None
    path = Path(value) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    compression = {"method": "gzip", "mtime": 0} if name.endswith(".gz") else None
    frame.to_csv(tmp, index=False, compression=compression)
    os.replace(tmp, path)
    kernels = path.with_name(KERNELS_FILE)
    with open(
        kernels.with_name(KERNELS_FILE + ".lock"), "w"
    ) as lock:  # notebooks executed side by side
        fcntl.flock(lock, fcntl.LOCK_EX)
        recorded = json.loads(kernels.read_text()) if kernels.exists() else {}
        recorded[name] = kernel_config()
        tmp = kernels.with_name(KERNELS_FILE + ".tmp")
        tmp.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, kernels)
    return path


def export_rows(rows: pd.DataFrame, page: str) -> Path | None:
    """Write a page's run rows to ``<FAALGRAD_DATA_DIR>/<page>.csv``.

    Parameters
    ----------
    rows : pandas.DataFrame
        The tidy rows (one per dataset, method, setting and seed) the page computed.
    page : str
        The page's name, e.g. ``"table1"``.

    Returns
    -------
    pathlib.Path or None
        The file written, or ``None`` when ``FAALGRAD_DATA_DIR`` is not set.
    """
    return _write(rows, f"{page}.csv")


def split_indices(datasets: Iterable[str], seeds: int, *, procedure: str = "paper") -> pd.DataFrame:
    """The train/validation/test row positions of every dataset and seed, long form.

    Parameters
    ----------
    datasets : iterable of str
        Dataset names.
    seeds : int
        Seeds 0..seeds-1.
    procedure : {"paper", "code"}
        As in :func:`faalgrad.splits.split_dataset`.

    Returns
    -------
    pandas.DataFrame
        Columns ``dataset``, ``seed``, ``part`` (train, validation, test) and ``row`` (the
        position in :func:`faalgrad.datasets.load_dataset`'s rows), sorted.
    """
    frames = []
    for dataset in datasets:
        ds = load_dataset(dataset)
        for seed in range(seeds):
            parts = (
                train_val_test_indices(ds.y, ds.a, seed)
                if procedure == "paper"
                else code_split_indices(len(ds.y), seed)
            )
            for part, rows in zip(("train", "validation", "test"), parts, strict=True):
                frames.append(
                    pd.DataFrame(
                        {"dataset": dataset, "seed": seed, "part": part, "row": sorted(rows)}
                    )
                )
    return pd.concat(frames, ignore_index=True)


def export_splits(datasets: Iterable[str], seeds: int) -> Path | None:
    """Write :func:`split_indices` to ``<FAALGRAD_DATA_DIR>/splits.csv.gz``.

    ``None`` when ``FAALGRAD_DATA_DIR`` is unset.
    """
    return _write(split_indices(datasets, seeds), "splits.csv.gz")
