"""Launching ``lambda-hat run`` as a separate process and following its event stream.

The run is its own process (``python -m lambda_hat.cli run FILE --root ROOT --events F
--quiet``) in its own session, so it survives navigating away and even quitting the TUI;
the TUI only tails the JSON-lines events file (see ``scheduler/events.py``). No Textual.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from lambda_hat.scheduler import events
from lambda_hat.scheduler.events import EventTail

TODO, WAITING, RUNNING, DONE, FAILED, SKIPPED, ALREADY = (
    "to do",
    "queued",
    "running",
    "done",
    "failed",
    "skipped",
    "already done",
)

PLAN_FAILED = "failed in an earlier run (see its failure record); not retried"


def prepare_process_spawning() -> None:
    """Start multiprocessing's resource tracker before Textual runs.

    Without it, starting a process from inside a running Textual app fails with
    ``bad value(s) in fds_to_keep``. Call once before ``App.run()``.
    """
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


@dataclass
class TaskState:
    key: str
    kind: str
    label: str
    status: str = TODO
    done: int = 0
    total: int = 0
    message: str = ""
    result: dict = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        if self.status in (DONE, ALREADY):
            return 1.0
        return self.done / self.total if self.total else 0.0


@dataclass
class Launch:
    """One started ``lambda-hat run``: its process, its tasks and its summary."""

    experiments: Path
    root: Path
    events_path: Path
    log_path: Path
    process: subprocess.Popen | None = None
    tasks: dict[str, TaskState] = field(default_factory=dict)
    summary: dict | None = None
    interrupted: bool = False
    stopped: str | None = None  # why the run stopped early (a full disk)
    started_at: float = field(default_factory=time.time)
    returncode: int | None = None

    def __post_init__(self):
        self._tail = EventTail(self.events_path)

    # -- process -----------------------------------------------------------------------
    @classmethod
    def start(cls, experiments: Path, root: Path, workers: int | None = None) -> Launch:
        folder = Path(tempfile.mkdtemp(prefix="lambda-hat-tui-"))
        launch = cls(Path(experiments), Path(root), folder / "events.jsonl", folder / "run.log")
        cmd = [
            sys.executable,
            "-m",
            "lambda_hat.cli",
            "run",
            str(experiments),
            "--root",
            str(root),
            "--events",
            str(launch.events_path),
            "--quiet",
        ]
        if workers:
            cmd += ["--workers", str(workers)]
        with open(launch.log_path, "wb") as log:
            launch.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return launch

    @property
    def running(self) -> bool:
        if self.process is None:
            return False
        code = self.process.poll()
        if code is not None:
            self.returncode = code
            return False
        return True

    def stop(self) -> None:
        """Ask the run to stop (SIGINT: pending work is cancelled, the store stays consistent)."""
        if self.running and self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGINT)
            except (ProcessLookupError, PermissionError):
                self.process.send_signal(signal.SIGINT)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- events ------------------------------------------------------------------------
    def poll(self) -> bool:
        """Apply new events; True when anything changed (including the process ending)."""
        was_running = self.returncode is None
        new = self._tail.read()
        for event in new:
            self.apply(event)
        ended = was_running and not self.running
        return bool(new) or ended

    def apply(self, event: dict) -> None:
        """Fold one event of the stream into the task states."""
        match events.parse(event):
            case events.Plan():
                for key, task in tasks_from_plan(event).items():
                    self.tasks.setdefault(key, task)
            case events.Submitted(key=key, kind=kind, label=label):
                task = self._task(key, kind, label or key)
                task.status, task.message = WAITING, ""
            case events.Started(key=key, kind=kind):
                self._task(key, kind).status = RUNNING
            case events.Stage(key=key, stage=stage):
                task = self._task(key, "run")
                task.status, task.message = RUNNING, stage
            case events.Progress(key=key, done=done, total=total):
                task = self._task(key, "run")
                task.status, task.done, task.total = RUNNING, int(done), int(total)
            case events.Finished(key=key, kind=kind):
                task = self._task(key, kind)
                task.status, task.result, task.message = DONE, event, ""
                task.done = task.total or task.done
            case events.Failed(key=key, kind=kind, error_type=error_type, message=message):
                task = self._task(key, kind)
                task.status, task.message = FAILED, f"{error_type}: {message}"
            case events.Skipped(key=key, kind=kind, reason=reason):
                task = self._task(key, kind)
                task.status, task.message = SKIPPED, reason
            case events.Retry(key=key, kind=kind, reason=reason):
                task = self._task(key, kind)
                task.status, task.message = WAITING, f"retrying: {reason}"
            case events.Interrupted():
                self.interrupted = True
            case events.Stopped(reason=reason):
                self.stopped = reason
            case events.Summary():
                self.summary = event

    def _task(self, key: str, kind: str, label: str | None = None) -> TaskState:
        task = self.tasks.get(key)
        if task is None:
            task = self.tasks[key] = TaskState(key, kind, label or key)
        elif label:
            task.label = label
        return task

    # -- reporting ---------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.tasks.values():
            out[t.status] = out.get(t.status, 0) + 1
        return out

    def status_line(self) -> str:
        c = self.counts()
        parts = [f"{n} {s}" for s, n in sorted(c.items())]
        if self.running:
            state = "running"
        elif self.interrupted:
            state = "interrupted"
        elif self.stopped:
            state = f"stopped: {self.stopped}"
        elif self.summary is not None:
            failed = len(self.summary.get("failed") or [])
            state = "finished" if not failed else f"finished with {failed} failure(s)"
        else:
            state = f"exited ({self.returncode})"
        return f"{self.experiments.name}: {state} — " + ", ".join(parts)


def tasks_from_plan(plan: dict) -> dict[str, TaskState]:
    """Task states from a plan (``Plan.to_dict()`` or the ``plan`` event): before it starts."""
    tasks = {}
    for t in plan.get("targets", []):
        tid = t["target_id"]
        label = f"{tid} ({t.get('model')}/{t.get('data')})"
        tasks[tid] = TaskState(tid, "target", label, _plan_status(t["status"]))
    for r in plan.get("runs", []):
        key = f"{r['target_id']}/{r['run']}"
        tasks[key] = TaskState(
            key, "run", f"{r['run']} on {r['target_id']}", _plan_status(r["status"])
        )
        if r["status"] == "todo":  # about how long it takes, and what it will do
            tasks[key].message = " · ".join(x for x in (r.get("estimate"), r.get("work")) if x)
    for task in tasks.values():
        if task.status == FAILED:
            task.message = PLAN_FAILED
    return tasks


def _plan_status(status: str) -> str:
    return {"done": ALREADY, "failed": FAILED, "todo": TODO}.get(status, status)
