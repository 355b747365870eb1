"""Stand-ins for a worker's task and start-up (``LocalExecutor(task=, initializer=)``):
the executor's dispatch loop as it runs, in milliseconds and without JAX.

What each task does is read from ``<root>/fake.json``: {key: [action, ...]}, one action
per attempt (the last one repeats); an action is ``"ok"``, ``"fail"`` (raise),
``"crash"`` (the worker dies, as under kill -9 or the OOM killer) or ``"wait"`` (block
until ``<root>/go`` exists). A task that finishes publishes its folder, as the runner
would, so the plan's next status reads it as done.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from lambda_hat.store.layout import Layout

_QUEUE = None


def init(precision: str, root: str, queue, cpus=None, share: int = 1) -> None:
    """The worker's start-up, less JAX: its event queue, and Ctrl-C left to the parent."""
    global _QUEUE
    _QUEUE = queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _emit(event: dict) -> None:
    _QUEUE.put({"time": time.time(), "pid": os.getpid(), **event})


def script(root: Path, actions: dict[str, list[str]]) -> None:
    """Say what each task does (``fake.json``)."""
    Path(root).mkdir(parents=True, exist_ok=True)
    (Path(root) / "fake.json").write_text(json.dumps(actions))


def _action(root: str, key: str) -> str:
    """This attempt's action for ``key``; counts attempts in ``<root>/attempts/``."""
    actions = json.loads((Path(root) / "fake.json").read_text()).get(key, ["ok"])
    counter = Path(root) / "attempts" / key.replace("/", "__")
    counter.parent.mkdir(exist_ok=True)
    attempt = len(counter.read_text()) if counter.exists() else 0
    counter.write_text("x" * (attempt + 1))
    return actions[min(attempt, len(actions) - 1)]


def task(kind: str, key: str, spec, root: str, names, cpus) -> dict:
    """One task as the worker's ``execute`` runs it: events, then its result."""
    _emit({"event": "started", "key": key, "kind": kind})
    action = _action(root, key)
    if action == "wait":
        while not (Path(root) / "go").exists():
            time.sleep(0.01)
    if action == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "fail":
        raise RuntimeError(f"{key} failed as scripted")
    layout = Layout(root)
    if kind == "target":
        layout.target_dir(key).mkdir(parents=True)
        return {"key": key, "target_id": key, "built": True, "siblings": [], "walltime_sec": 0.0}
    run = key.split("/")[1]
    layout.run_dir(spec.target_id, run).mkdir(parents=True)
    _emit({"event": "progress", "key": key, "done": 1, "total": 1})
    return {"key": key, "run": run, "built": True, "llc_mean": 1.0, "walltime_sec": 0.0}
