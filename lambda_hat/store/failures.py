"""Failed builds are recorded as JSON (never published as results) and cleared on success.

A failure that cannot be recorded because the disk is full is not recorded: the error
that stopped the build is the one to report, not a second one about its record.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from pathlib import Path

from lambda_hat.store import space
from lambda_hat.store.jsonio import write_json_atomic


def record(path: Path, exc: BaseException, spec: dict, **extra) -> bool:
    """Write error type, message, traceback, spec and time to ``path`` (replacing it).

    False when the disk is full (nothing written: a temp file is removed)."""
    doc = {
        "error_type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
        "spec": spec,
        "time": time.time(),
        **extra,
    }
    try:
        write_json_atomic(path, doc)
    except OSError as err:
        if space.is_full(err):
            return False
        raise
    with contextlib.suppress(AttributeError, TypeError):  # travels with it when pickled
        exc.failure_record = str(path)
    return True


def recorded(exc: BaseException) -> str | None:
    """Where ``record`` wrote ``exc``'s failure (also in another process), else None."""
    return getattr(exc, "failure_record", None)


def clear(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
