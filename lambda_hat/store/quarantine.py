"""Move a broken artifact out of the store, so the next run rebuilds it; never delete it.

A quarantined folder goes to ``<root>/_quarantine/<UTC time>/<its path under root>`` (a
new folder per pass), moved by one rename on the same file system under the artifact's
own lock, so no builder or reader of it is mid-way.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from lambda_hat.errors import StoreError
from lambda_hat.store.layout import lock_path
from lambda_hat.store.locks import Timeout, lock_for

QUARANTINE = "_quarantine"


def quarantine_dir(root: Path) -> Path:
    """A new, empty folder ``_quarantine/<UTC time>[-k]`` for one quarantine pass."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = Path(root) / QUARANTINE
    base.mkdir(parents=True, exist_ok=True)
    for k in range(1, 1000):
        folder = base / (stamp if k == 1 else f"{stamp}-{k}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise FileExistsError(f"too many quarantine folders named {stamp}* under {base}")


def quarantine(artifact: Path, root: Path, into: Path, timeout: float = 10.0) -> Path:
    """Move ``artifact`` (a target or run folder under ``root``) into ``into``; return where.

    Waits at most ``timeout`` seconds for the artifact's lock, then raises a StoreError.
    """
    artifact, root = Path(artifact), Path(root)
    dest = into / artifact.relative_to(root)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with lock_for(lock_path(artifact)).acquire(timeout=timeout):
            os.rename(artifact, dest)
    except Timeout:
        raise StoreError(
            f"{artifact} is locked by a running lambda-hat (or by a soft lock left by a killed "
            "one); let it finish, or with LAMBDA_HAT_SOFT_LOCKS=1 run `lambda-hat verify "
            "--break-soft-locks` first"
        ) from None
    return dest
