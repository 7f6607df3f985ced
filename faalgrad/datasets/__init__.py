"""The four tabular fairness benchmarks of FaAlGrad (paper section 5.1).

The raw files ship with the package (``raw/*.gz``) and are verified against their
SHA256 before parsing. Provenance, licences and definitions: ``README.md`` beside this
module. Example: ``load_dataset("german")`` has 1000 rows, groups ``('male', 'female')``.
"""

from __future__ import annotations

import functools

from ..validation import check_dataset
from ._dataset import Dataset
from ._files import ChecksumError
from ._loaders import _LOADERS

__all__ = ["DATASETS", "ChecksumError", "Dataset", "load_dataset"]

#: Names accepted by :func:`load_dataset`, in the paper's order.
DATASETS: tuple[str, ...] = ("compas", "adult", "communities", "german")


def load_dataset(name: str) -> Dataset:
    """Load one of the benchmark datasets.

    The result is cached in-process: repeated calls with the same name return
    the same (shared, read-only) :class:`Dataset` object.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`: ``"compas"``, ``"adult"``,
        ``"communities"`` or ``"german"``.

    Returns
    -------
    Dataset
        Features without the protected attribute, 0/1 label `y` and 0/1
        protected attribute `a`.

    Raises
    ------
    ValueError
        If `name` is not one of :data:`DATASETS`.
    ChecksumError
        If a raw file does not have its registered SHA256 (a subclass of
        :class:`ValueError`; the message names the file and both hashes).
    FileNotFoundError
        If a raw file is missing.
    """
    return _load_cached(check_dataset(name))


@functools.cache
def _load_cached(name: str) -> Dataset:
    """Build dataset `name` once per process (see :func:`load_dataset`)."""
    return _LOADERS[name]()


def _clear_cache() -> None:
    """Forget all cached datasets (used by tests that patch the raw directory)."""
    _load_cached.cache_clear()
