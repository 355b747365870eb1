"""The store's one way to replace a file: readers see the old file or the new, never half.

Published artifacts are whole folders (``publish.py``); this is for the small files that
change in place: failure records, manifests rewritten without stale lines, a run's saved
progress.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary sibling of ``path`` to write (``.<name>.<pid>-<random>.tmp``); when
    the block ends it is flushed to disk and renamed over ``path``. On any exception
    (a full disk, a signal) the temporary file is removed and ``path`` is unchanged."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(3)}.tmp")
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
