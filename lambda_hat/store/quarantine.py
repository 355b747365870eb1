"""Move a broken artifact out of the store, so the next run rebuilds it; never delete it.

A quarantined folder goes to ``<root>/_quarantine/<UTC time>/<its path under root>``
(a new folder per pass),
moved under the artifact's own lock (no builder or reader of it is mid-way) by one
rename on the same file system.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from lambda_hat.store.layout import lock_path
from lambda_hat.store.locks import lock_for

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


def quarantine(artifact: Path, root: Path, into: Path) -> Path:
    """Move ``artifact`` (a target or run folder under ``root``) into ``into``; return where."""
    artifact, root = Path(artifact), Path(root)
    dest = into / artifact.relative_to(root)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with lock_for(lock_path(artifact)).acquire():
        os.rename(artifact, dest)
    return dest
