"""Small durable JSON helpers shared by the store."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path


def write_json(path: Path, obj, indent: int | None = 2) -> None:
    """Write JSON and flush it to disk (inside a temp build folder)."""
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=indent, sort_keys=True, allow_nan=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())


def write_json_atomic(path: Path, obj, indent: int | None = 2) -> None:
    """Replace a small JSON file atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(3)}")
    try:
        write_json(tmp, obj, indent)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: Path):
    with open(path) as fh:
        return json.load(fh)
