"""File locks: flock-based by default (released by the OS when the holder dies).

Set ``LAMBDA_HAT_SOFT_LOCKS=1`` on file systems without working ``flock`` (some NFS
mounts): locks then are lock *files* (``filelock.SoftFileLock``), and a lock left by a
killed process must be removed with ``lambda-hat verify --break-soft-locks`` (when nothing
runs on the store).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from filelock import BaseFileLock, FileLock, SoftFileLock, Timeout

_LOCKS: dict[str, BaseFileLock] = {}
_GUARD = threading.Lock()

__all__ = ["Timeout", "lock_for", "soft_locks"]


def soft_locks() -> bool:
    return os.environ.get("LAMBDA_HAT_SOFT_LOCKS", "") not in ("", "0")


def lock_for(path: Path) -> BaseFileLock:
    """The one lock object of this process for ``path`` (filelock wants one per path)."""
    key = str(Path(path).absolute())
    with _GUARD:
        lock = _LOCKS.get(key)
        if lock is None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            cls = SoftFileLock if soft_locks() else FileLock
            lock = _LOCKS[key] = cls(key)
        return lock
