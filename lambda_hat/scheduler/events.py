"""The run event stream: JSON lines for scripts and the TUI (``lambda-hat run --events``).

Each line is one JSON object with ``event`` and ``time`` (Unix seconds); the file is
appended to and flushed per line, so a reader may tail it. Events, in order of use:

- ``plan``: ``experiments``, ``root``, ``targets`` [{target_id, status, model, data,
  training}], ``runs`` [{target_id, run, sampler, status}], ``counts``, ``to_do`` [keys].
- ``submitted``: ``key``, ``kind`` ("target" | "run"), ``label``, ``slot``.
- ``started``: ``key``, ``kind``, ``pid`` (the worker process).
- ``stage``: ``key``, ``stage`` (what a run does next, e.g. "step size: pilot round 1 of
  at most 3, ε = 2.1e-05, 47,619 steps", "sampling: ε = …, thin = …", "writing: …").
- ``progress``: ``key``, ``done``, ``total`` (in the stage that the last ``stage`` event
  named: the steps of an SGLD step-size pilot round, or the draws incl. burn-in; with
  ``draws = "auto"`` up to the next convergence check), ``pid``.
- ``finished``: ``key``, ``kind``, ``built`` (False: another process published it
  meanwhile), ``walltime_sec``; targets add ``target_id`` and ``siblings`` (the IDs of
  the other checkpoints its training published with it), and a checkpoint published by
  the training of an earlier task of this run adds ``with`` (that task's key: one
  training builds all its checkpoints, so this run built it); runs add ``run``,
  ``llc_mean``, ``llc_mcse``, ``true_llc``, ``warnings``, ``trust`` (analysis.json's
  verdict: ``verdict``, ``reasons``).
- ``failed``: ``key``, ``kind``, ``error_type``, ``message``, ``failure_file``.
- ``retry``: ``key``, ``kind``, ``reason`` (its worker died; tried once more).
- ``skipped``: ``key``, ``kind``, ``reason`` (its target failed).
- ``interrupted``: ``pending`` (count), ``running`` [keys] (Ctrl-C or SIGTERM).
- ``summary`` (always last): ``done`` (built by this run), ``siblings`` (of those,
  checkpoints published with a sibling's training), ``found`` (published meanwhile by
  another process), ``already``, ``failed`` [failed events], ``skipped``,
  ``interrupted``, ``walltime_sec``, ``not_retried`` [keys].

A task's ``key`` is its target ID, or ``<target_id>/<run folder name>`` for a run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, ClassVar

EVENTS: dict[str, type[Event]] = {}  # the ``event`` name -> its class


@dataclass(frozen=True)
class Event:
    """One event of the stream; ``extra`` keeps the keys a class does not name."""

    NAME: ClassVar[str] = ""
    extra: dict = field(default_factory=dict, kw_only=True)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.NAME:
            EVENTS[cls.NAME] = cls

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {"event": self.NAME, **out, **self.extra}


@dataclass(frozen=True)
class TaskEvent(Event):
    """An event of one task: ``key`` (its target ID or ``<target_id>/<run>``), ``kind``."""

    key: str = ""
    kind: str = ""


@dataclass(frozen=True)
class Plan(Event):
    NAME: ClassVar[str] = "plan"
    targets: list = field(default_factory=list)
    runs: list = field(default_factory=list)


@dataclass(frozen=True)
class Submitted(TaskEvent):
    NAME: ClassVar[str] = "submitted"
    label: str = ""
    slot: int | None = None


@dataclass(frozen=True)
class Started(TaskEvent):
    NAME: ClassVar[str] = "started"


@dataclass(frozen=True)
class Stage(Event):
    NAME: ClassVar[str] = "stage"
    key: str = ""
    stage: str = ""


@dataclass(frozen=True)
class Progress(Event):
    NAME: ClassVar[str] = "progress"
    key: str = ""
    done: int = 0
    total: int = 0


@dataclass(frozen=True)
class Finished(TaskEvent):
    """A task's result: ``extra`` holds the rest of what the worker returned."""

    NAME: ClassVar[str] = "finished"
    built: bool = True
    walltime_sec: float = 0.0
    llc_mean: float | None = None
    llc_mcse: float | None = None
    true_llc: float | None = None
    trust: dict | None = None
    warnings: list = field(default_factory=list)

    @property
    def built_with(self) -> str | None:
        """The key of the task whose training published this checkpoint."""
        return self.extra.get("with")


@dataclass(frozen=True)
class Failed(TaskEvent):
    NAME: ClassVar[str] = "failed"
    error_type: str = "Error"
    message: str = ""
    failure_file: str = ""


@dataclass(frozen=True)
class Retry(TaskEvent):
    NAME: ClassVar[str] = "retry"
    reason: str = ""


@dataclass(frozen=True)
class Skipped(TaskEvent):
    NAME: ClassVar[str] = "skipped"
    reason: str = ""


@dataclass(frozen=True)
class Interrupted(Event):
    NAME: ClassVar[str] = "interrupted"
    pending: int = 0
    running: list = field(default_factory=list)


@dataclass(frozen=True)
class Stopped(Event):
    NAME: ClassVar[str] = "stopped"
    reason: str = ""
    unfinished: int = 0


@dataclass(frozen=True)
class Summary(Event):
    NAME: ClassVar[str] = "summary"
    failed: list = field(default_factory=list)


def parse(d: dict) -> Event | None:
    """The typed event of a JSON object (None for an event this version does not know;
    ``time`` is dropped: it says when it was written)."""
    cls = EVENTS.get(d.get("event", ""))
    if cls is None:
        return None
    own = {f.name for f in fields(cls)} - {"extra"}
    rest = {k: v for k, v in d.items() if k not in own and k not in ("event", "time")}
    return cls(**{k: v for k, v in d.items() if k in own}, extra=rest)


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


class EventTail:
    """Reads the complete new lines of a growing JSON-lines file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0
        self._partial = b""

    def read(self) -> list[dict]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out


def read_events(path: str | Path) -> list[dict]:
    """All complete events of a stream (a torn last line is skipped)."""
    return EventTail(Path(path)).read()
