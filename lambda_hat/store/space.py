"""A full disk while writing the store: one error that names the store and what to do.

Every write of the publish path (the files of a temporary build folder, their checksums
and flush, the rename, a manifest line) turns an ``OSError`` of a full file system
(``ENOSPC``) or an exhausted quota (``EDQUOT``) into :class:`StoreFullError`, after
undoing its own partial work: the temporary folder is removed, a manifest is cut back to
its last complete line. So a full disk leaves the store as it was, and the run stops
with this message instead of failing every remaining task the same way.
"""

from __future__ import annotations

import errno
from contextlib import contextmanager
from pathlib import Path

from lambda_hat.errors import StoreFullError
from lambda_hat.store.layout import TARGETS

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_full(exc: BaseException) -> bool:
    """True for an OSError of a full file system or quota (h5py's included, which carry
    the errno only in their text)."""
    if not isinstance(exc, OSError):
        return False
    if exc.errno in FULL_ERRNOS:
        return True
    text = str(exc)
    return "No space left on device" in text or "errno = 28" in text or "Disk quota" in text


def store_of(path: Path) -> Path:
    """The store root that ``path`` lies in (the folder holding ``targets/``)."""
    path = Path(path)
    for parent in (path, *path.parents):
        if parent.name == TARGETS:
            return parent.parent
    return path.parent


def full_error(path: Path, exc: OSError) -> StoreFullError:
    """The error for a write under ``path`` that found the disk (or quota) full."""
    where = f"writing {exc.filename}" if exc.filename else f"publishing {path}"
    quota = getattr(exc, "errno", None) == errno.EDQUOT
    what = "the disk quota is exhausted" if quota else "no space is left on the device"
    return StoreFullError(
        f"{what} of store {store_of(path)} (while {where}); nothing partial was "
        "kept and what is stored is intact. Free space there (or pass --root DIR for a "
        "store on another file system) and run again: finished work is not redone"
    )


@contextmanager
def guard(path: Path):
    """Raise :class:`StoreFullError` for a full-disk ``OSError`` inside the block."""
    try:
        yield
    except OSError as exc:
        if is_full(exc):
            raise full_error(path, exc) from exc
        raise
