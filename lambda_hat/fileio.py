"""Reading files without surprises: a file's sha256, and an ``.npz`` opened without
pickle and always closed.

At the bottom of the layers (with ``errors`` and ``fields``): the store reads its
artifacts with it, and the target kinds their user's files (a module, a data file).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """sha256 of a file, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def npz_opened(path: Path) -> Iterator[np.lib.npyio.NpzFile]:
    """``np.load(path)`` without pickle, its file closed however reading ends: numpy
    leaves the file open when the zip itself cannot be read (a truncated file)."""
    with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
        yield data
