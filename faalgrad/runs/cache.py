"""A disk cache of runs, shared by the notebooks of one book build.

Off unless ``FAALGRAD_RUN_CACHE`` names a directory; ``make book`` points it at a fresh
directory per build and deletes it afterwards. A key is hashed with a fingerprint of the
package's source and the numerical libraries' versions, so an entry can never stand in
for a run of other code. Processes sharing the directory (``make test`` executes the book
in two halves side by side) compute each entry once: the first takes the entry's lock,
the others wait for it and read its result.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["ENV", "directory", "fingerprint", "key_path", "lookup", "memoize"]

ENV = "FAALGRAD_RUN_CACHE"
T = TypeVar("T")


def directory() -> Path | None:
    """The cache directory, or ``None`` when the cache is off."""
    value = os.environ.get(ENV, "").strip()
    return Path(value) if value else None


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """Hash of every ``faalgrad/**/*.py`` file and of the numerical libraries' versions."""
    import fairlearn
    import numpy
    import pandas
    import sklearn
    import torch

    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    for module in (torch, numpy, pandas, sklearn, fairlearn):
        digest.update(f"{module.__name__}=={module.__version__}".encode())
    return digest.hexdigest()


def key_path(root: Path, key: Any) -> Path:
    """Where ``key`` is stored under ``root`` (keys are compared by ``repr``)."""
    name = hashlib.sha256(repr((fingerprint(), key)).encode()).hexdigest()
    return root / f"{name}.pkl"


def lookup(key: Any) -> tuple[bool, Any]:
    """``(True, value)`` stored under ``key``, or ``(False, None)``: missing, or the cache is off.

    Never waits: an entry another process is computing counts as missing.
    """
    root = directory()
    if root is None:
        return False, None
    return _load(key_path(root, key))


def memoize(key: Any, compute: Callable[[], T]) -> T:
    """``compute()``, stored under ``key`` when the cache is on and read back next time.

    Writes are atomic (temporary file, then rename), so parallel workers never see half a
    file; an unreadable entry is recomputed. A missing entry is computed under an exclusive
    lock on ``<entry>.lock``, so that a process asking for an entry another process is
    computing waits for it instead of computing it again.
    """
    root = directory()
    if root is None:
        return compute()
    path = key_path(root, key)
    found, value = _load(path)
    if found:
        return value
    root.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        found, value = _load(path)  # computed by the process that held the lock
        if found:
            return value
        value = compute()
        fd, tmp = tempfile.mkstemp(dir=root, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(value, f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return value


def _load(path: Path) -> tuple[bool, Any]:
    """``(True, value)`` stored at ``path``, or ``(False, None)`` if it is missing or unreadable."""
    if not path.exists():
        return False, None
    try:
        with path.open("rb") as f:
            return True, pickle.load(f)
    except Exception:  # a damaged entry is recomputed
        return False, None
