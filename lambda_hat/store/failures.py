"""Failed builds are recorded as JSON (never published as results) and cleared on success."""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from lambda_hat.store.jsonio import write_json_atomic


def record(path: Path, exc: BaseException, spec: dict, **extra) -> None:
    """Write error type, message, traceback, spec and time to ``path`` (replacing it)."""
    write_json_atomic(
        path,
        {
            "error_type": type(exc).__name__,
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc)),
            "spec": spec,
            "time": time.time(),
            **extra,
        },
    )


def clear(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
