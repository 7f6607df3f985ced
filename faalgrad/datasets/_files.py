"""Registry and checksum-verified access to the shipped raw data files.

The four benchmark datasets are shipped inside the package as gzip files
(compressed with ``mtime=0`` so that their bytes are deterministic) in the
``raw/`` directory next to this module.  Every read goes through
:func:`_read_verified`, which checks the SHA256 of the ``.gz`` file against
:data:`_SHA256` *before* any parsing happens.

See ``README.md`` in this directory for the provenance of each file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

__all__ = ["ChecksumError"]

#: Directory holding the shipped ``.gz`` files.  Module-level so that tests
#: can point it somewhere else with ``monkeypatch.setattr``.
_RAW_DIR: Path = Path(__file__).resolve().parent / "raw"

#: SHA256 of each shipped ``.gz`` file (the bytes on disk).
_SHA256: dict[str, str] = {
    "adult.data.gz": ("171e93e0be014947c678f8e0fd17485ec99e8c273d1a7a0b506bb9139e95800b"),
    "adult.test.gz": ("88304f2ff4ca392efdb76452aa377e96dde27622ff90070ed0913c464bb7aa32"),
    "compas-scores-two-years.csv.gz": (
        "62861de08baa2abef92d528cac474dc65d773032c9120f05fedb8a508de99dc0"
    ),
    "crime.csv.gz": ("9ba9868e6b0020a6430e353c832f0be4d5a916db1fcf9b5f45c4a90edb4cf342"),
    "german.data.gz": ("a4cc977b7fc38d60827f2f881d8377954ece4d7ade5d026e827307bb63395df2"),
}

#: SHA256 of the *decompressed* content of each shipped file, i.e. of the
#: upstream file exactly as found in the wheel it was taken from.  Not checked
#: at load time (the ``.gz`` hash already pins the content); kept for
#: provenance and checked by the test suite.
_SOURCE_SHA256: dict[str, str] = {
    "adult.data.gz": ("5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d"),
    "adult.test.gz": ("a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05"),
    "compas-scores-two-years.csv.gz": (
        "c451db85908b2f7fef1d83203bedf6b71ecda0d5af468d82ae62178f91d0cc7d"
    ),
    "crime.csv.gz": ("46fb352dbc64730825fa83ba7bebf2d2e86c571fff23099c22c61d1f8bf0942f"),
    "german.data.gz": ("b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871"),
}


class ChecksumError(ValueError):
    """A shipped raw data file does not have its registered SHA256.

    Parameters
    ----------
    path : pathlib.Path
        The file whose checksum did not match.
    expected : str
        The registered SHA256 (hex).
    actual : str
        The SHA256 (hex) of the file as found on disk.
    """

    def __init__(self, path: Path, expected: str, actual: str) -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"SHA256 mismatch for raw data file {path}: expected {expected}, got {actual}"
        )


def _raw_path(filename: str) -> Path:
    """Return the path of a registered raw file in the current raw directory.

    Parameters
    ----------
    filename : str
        Key of :data:`_SHA256`, e.g. ``"adult.data.gz"``.

    Returns
    -------
    pathlib.Path
        ``_RAW_DIR / filename`` (read at call time, so it can be patched).

    Raises
    ------
    KeyError
        If `filename` is not registered.
    """
    if filename not in _SHA256:
        raise KeyError(f"{filename!r} is not a registered raw data file")
    return Path(_RAW_DIR) / filename


def _read_verified(filename: str) -> io.BytesIO:
    """Read a registered ``.gz`` file, verify its SHA256 and decompress it.

    Parameters
    ----------
    filename : str
        Key of :data:`_SHA256`, e.g. ``"adult.data.gz"``.

    Returns
    -------
    io.BytesIO
        The decompressed content, ready to be passed to :func:`pandas.read_csv`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ChecksumError
        If the SHA256 of the file on disk differs from the registered one.
    """
    path = _raw_path(filename)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"raw data file not found: {path}") from None
    actual = hashlib.sha256(data).hexdigest()
    expected = _SHA256[filename]
    if actual != expected:
        raise ChecksumError(path, expected, actual)
    return io.BytesIO(gzip.decompress(data))
