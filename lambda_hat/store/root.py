"""Checks on a store root before a command uses it, with errors that say what to do."""

from __future__ import annotations

import os
from pathlib import Path

from lambda_hat.errors import ConfigError, StoreError
from lambda_hat.store.layout import Layout


def existing_store(root: str | Path, hint: str = "pass --root DIR") -> Path:
    """``root`` if it is a store (a folder with ``targets/``); else a StoreError
    (commands that only read a store, and must not write into any other folder)."""
    root = Path(root)
    if not root.is_dir():
        raise StoreError(f"no store at {root}; {hint}")
    if not Layout(root).targets.is_dir():
        raise StoreError(f"no store at {root} (it has no targets/ folder); {hint}")
    return root


def writable_store(root: str | Path) -> Path:
    """``root``, created if needed and checked writable (commands that build into it)."""
    root = Path(root)
    probe = Layout(root).targets / f".write-probe-{os.getpid()}"
    try:
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise StoreError(
            f"cannot write to the store at {root} ({exc.strerror or exc}); pass --root DIR "
            "(or set [store].root) to a folder you can write"
        ) from None
    return root


def outside_store(path: str | Path, root: str | Path, option: str) -> Path:
    """``path`` (a file or folder a command writes), refused when it lies in the
    ``targets/`` of the store at ``root`` or of any other store (a folder ``targets``
    holding targets): a published artifact is never changed, and ``verify`` would
    report a changed file (a ConfigError naming ``option``)."""
    path, targets = Path(path), Layout(root).targets
    resolved = path.resolve()
    up = [resolved, *resolved.parents]
    stores = [a for a in up if a.name == targets.name and a.is_dir() and any(a.glob("tgt_*"))]
    if stores:
        targets = stores[0]
    if stores or resolved.is_relative_to(targets.resolve()):
        raise ConfigError(
            f"{option} {path}: inside the store's {targets} (published artifacts are never "
            "changed); write it outside the store"
        )
    return path
