"""Atomic publication of an artifact folder, under its lock, never overwriting.

An artifact is built in a temporary sibling ``.tmp-<name>-<pid>-<random>`` and renamed to
its final name only when every file in it is complete, checksummed
(``checksums.sha256``, see ``store/checksums.py``) and flushed; so a folder under its
final name is always complete and readers need no lock. A full disk (or quota) at any
step removes the temporary folder and raises ``StoreFullError`` (``store/space.py``).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from lambda_hat.store import checksums, space
from lambda_hat.store.layout import TMP_PREFIX, lock_path
from lambda_hat.store.locks import Timeout, lock_for


def _fsync_tree(folder: Path) -> None:
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_siblings(final: Path) -> list[Path]:
    """Temporary build folders of ``final`` (complete or abandoned)."""
    if not final.parent.is_dir():
        return []
    return sorted(final.parent.glob(f"{TMP_PREFIX}{final.name}-*"))


def clean_stale(final: Path) -> list[Path]:
    """Remove ``final``'s temp folders. Call only while holding ``final``'s lock."""
    removed = []
    for tmp in temp_siblings(final):
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(tmp)
    return removed


def publish(final: Path, build: Callable[[Path], None], timeout: float = -1) -> bool:
    """Build ``final`` with ``build(tmp_dir)`` unless it exists. True if built here.

    Takes the artifact's lock, checks again whether another process published it,
    cleans stale temp folders of earlier killed builders, builds in a fresh temp folder,
    flushes and renames. On any exception the temp folder is removed and the exception
    propagates (a full disk as ``StoreFullError``); nothing appears under ``final``.
    """
    if final.is_dir():
        return False
    with space.guard(final):
        return _publish(final, build, timeout)


def _publish(final: Path, build: Callable[[Path], None], timeout: float) -> bool:
    final.parent.mkdir(parents=True, exist_ok=True)
    with lock_for(lock_path(final)).acquire(timeout=timeout):
        if final.is_dir():
            return False
        clean_stale(final)
        tmp = final.parent / f"{TMP_PREFIX}{final.name}-{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir()
        try:
            build(tmp)
            checksums.write(tmp)
            _fsync_tree(tmp)
            os.rename(tmp, final)  # fails (never overwrites) if final exists as non-empty dir
            _fsync_dir(final.parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return True


def held(final: Path) -> bool:
    """A live process holds ``final``'s lock. Probes only an existing lock file, so that
    a reader never creates lock files in the store."""
    if not lock_path(final).exists():
        return False
    try:
        return is_locked(final)
    except OSError:
        return False


def is_locked(final: Path) -> bool:
    """True if some live process holds ``final``'s lock (probe without waiting)."""
    lock = lock_for(lock_path(final))
    if lock.is_locked:  # held by this process
        return True
    try:
        with lock.acquire(timeout=0):
            return False
    except Timeout:
        return True
