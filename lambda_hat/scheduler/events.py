"""The run event stream: JSON lines for scripts and the TUI.

Events: ``plan``, ``started``, ``progress``, ``finished``, ``failed``, ``skipped``,
``interrupted``, ``summary``. Each is one JSON object with ``event`` and ``time``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO


class JsonlSink:
    """Append events to a file, flushing each line (readers may tail it)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] = open(self.path, "a", buffering=1)

    def __call__(self, event: dict) -> None:
        event = {"time": time.time(), **event}
        self._fh.write(json.dumps(event, sort_keys=True, default=str) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def read_events(path: str | Path) -> list[dict]:
    """All complete events of a stream (a torn last line is skipped)."""
    out = []
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
