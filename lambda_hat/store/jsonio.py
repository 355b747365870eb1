"""Small durable JSON helpers shared by the store."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lambda_hat.store.atomic import replacing


def write_json(path: Path, obj, indent: int | None = 2) -> None:
    """Write JSON and flush it to disk (inside a temp build folder)."""
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=indent, sort_keys=True, allow_nan=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())


def write_json_atomic(path: Path, obj, indent: int | None = 2) -> None:
    """Replace a small JSON file atomically (``atomic.replacing``)."""
    with replacing(path) as tmp:
        write_json(tmp, obj, indent)


def read_json(path: Path):
    with open(path) as fh:
        return json.load(fh)
