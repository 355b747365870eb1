"""Execute a plan on local process pools (spawn context, one pool per precision).

Runs wait for their target; at most ``workers`` tasks run at once, each pinned to its
own share of the CPUs. An exception in a task is recorded (by the runner) and does not
stop the others; a worker that dies (kill -9, out of memory) is replaced and its task
retried once; Ctrl-C cancels pending work and stops the workers, whose builds clean up
their temporary folders, so the store stays consistent.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from lambda_hat.config.specs import to_dict
from lambda_hat.scheduler.plan import DONE, FAILED, TODO, Plan, RunTask, TargetTask
from lambda_hat.scheduler.worker import execute, init_worker
from lambda_hat.store import failures
from lambda_hat.store.layout import Layout

Sink = Callable[[dict], None]
MAX_CRASH_ATTEMPTS = 2


def usable_cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def cpu_slots(workers: int) -> list[list[int]]:
    """Split the usable CPUs into ``workers`` disjoint groups (shared if too few)."""
    cpus = usable_cpus()
    if workers >= len(cpus):
        return [[cpus[i % len(cpus)]] for i in range(workers)]
    size = len(cpus) // workers
    return [cpus[i * size : (i + 1) * size] for i in range(workers)]


@dataclass
class Summary:
    done: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    already: int = 0
    interrupted: bool = False
    walltime_sec: float = 0.0
    results: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted and not self.skipped

    def to_dict(self) -> dict:
        return {
            "done": len(self.done),
            "already": self.already,
            "failed": self.failed,
            "skipped": self.skipped,
            "interrupted": self.interrupted,
            "walltime_sec": self.walltime_sec,
        }


def selected(plan: Plan, retry_failed: bool, only_targets: bool = False):
    """(targets, runs) to execute: missing ones, plus failed ones when retrying."""

    def wanted(task) -> bool:
        if task.status == TODO:
            return True
        if task.status == FAILED:
            return retry_failed or bool((task.failure or {}).get("retryable"))
        return False

    targets = [t for t in plan.targets if wanted(t)]
    runs = [] if only_targets else [r for r in plan.runs if wanted(r)]
    return targets, runs


class LocalExecutor:
    def __init__(self, root: Path, workers: int, sink: Sink | None = None):
        self.root = Path(root)
        self.layout = Layout(root)
        self.workers = max(1, int(workers))
        self.sink = sink or (lambda event: None)
        self.ctx = mp.get_context("spawn")
        self.queue = self.ctx.Queue()
        self.pools: dict[str, ProcessPoolExecutor] = {}
        self.slots = cpu_slots(self.workers)

    # -- pools -------------------------------------------------------------------------
    def _pool(self, precision: str) -> ProcessPoolExecutor:
        pool = self.pools.get(precision)
        if pool is None:
            pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=self.ctx,
                initializer=init_worker,
                initargs=(precision, str(self.root), self.queue),
            )
            self.pools[precision] = pool
        return pool

    def _drop_pool(self, precision: str) -> None:
        pool = self.pools.pop(precision, None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def shutdown(self, kill: bool = False) -> None:
        for precision in list(self.pools):
            pool = self.pools.pop(precision)
            procs = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            if kill:
                for proc in procs:
                    if proc.is_alive():
                        proc.terminate()
                deadline = time.time() + 10
                for proc in procs:
                    proc.join(timeout=max(0.0, deadline - time.time()))
                    if proc.is_alive():
                        proc.kill()
        self.queue.close()

    # -- main loop ---------------------------------------------------------------------
    def execute(self, plan: Plan, retry_failed: bool = False, only_targets: bool = False):
        start = time.time()
        summary = Summary()
        targets, runs = selected(plan, retry_failed, only_targets)
        summary.already = sum(t.status == DONE for t in plan.targets) + (
            0 if only_targets else sum(r.status == DONE for r in plan.runs)
        )
        target_state = {t.target_id: t.status for t in plan.targets}
        for t in targets:
            target_state[t.target_id] = TODO
        waiting: dict[str, list[RunTask]] = {}
        ready: list = list(targets)
        for r in runs:
            if target_state.get(r.target_id) == DONE:
                ready.append(r)
            elif target_state.get(r.target_id) == TODO:
                waiting.setdefault(r.target_id, []).append(r)
            else:
                self._skip(summary, r, f"target {r.target_id} failed; see `lambda-hat status`")
        attempts: dict[str, int] = {}
        inflight: dict[Future, tuple] = {}
        free_slots = list(range(self.workers))
        try:
            while ready or inflight:
                while ready and free_slots:
                    task = ready.pop(0)
                    slot = free_slots.pop(0)
                    fut = self._submit(task, slot)
                    inflight[fut] = (task, slot)
                    self.sink({"event": "submitted", "key": task.key, "kind": _kind(task),
                               "label": task.label})
                done, _ = wait(list(inflight), timeout=0.25, return_when=FIRST_COMPLETED)
                self._drain()
                for fut in done:
                    task, slot = inflight.pop(fut)
                    free_slots.append(slot)
                    self._collect(fut, task, summary, attempts, ready, waiting, target_state)
            self._drain()
        except KeyboardInterrupt:
            summary.interrupted = True
            self.sink({"event": "interrupted", "pending": len(ready) + len(inflight)})
            self.shutdown(kill=True)
        else:
            self.shutdown()
        summary.walltime_sec = time.time() - start
        return summary

    def _submit(self, task, slot: int) -> Future:
        kind = _kind(task)
        names = task.names if isinstance(task, TargetTask) else None
        pool = self._pool(task.precision)
        try:
            return pool.submit(
                execute, kind, task.key, task.spec, str(self.root), names, self.slots[slot]
            )
        except BrokenProcessPool:
            self._drop_pool(task.precision)
            return self._pool(task.precision).submit(
                execute, kind, task.key, task.spec, str(self.root), names, self.slots[slot]
            )

    def _drain(self) -> None:
        while True:
            try:
                event = self.queue.get_nowait()
            except (queue_mod.Empty, OSError, ValueError):
                return
            self.sink(event)

    def _collect(self, fut, task, summary, attempts, ready, waiting, target_state) -> None:
        kind = _kind(task)
        try:
            result = fut.result()
        except BrokenProcessPool:
            self._drop_pool(task.precision)
            attempts[task.key] = attempts.get(task.key, 0) + 1
            if attempts[task.key] < MAX_CRASH_ATTEMPTS:
                self.sink({"event": "retry", "key": task.key, "kind": kind,
                           "reason": "worker process died"})
                ready.insert(0, task)
                return
            message = (
                "the worker process died (killed, or out of memory) while running this task; "
                "rerun `lambda-hat run` to retry it"
            )
            self._record_crash(task, message)
            self._failed(summary, task, "WorkerCrashed", message, waiting, target_state)
            return
        except BaseException as exc:  # noqa: BLE001 - any task error is reported, not raised
            self._failed(summary, task, type(exc).__name__, str(exc), waiting, target_state)
            return
        summary.done.append(task.key)
        summary.results.append(result)
        self.sink({"event": "finished", "kind": kind, **result})
        if isinstance(task, TargetTask):
            target_state[task.target_id] = DONE
            ready.extend(waiting.pop(task.target_id, []))

    def _failed(self, summary, task, error_type, message, waiting, target_state) -> None:
        where = (
            self.layout.target_failure(task.target_id)
            if isinstance(task, TargetTask)
            else self.layout.run_failure(task.target_id, task.dirname)
        )
        record = {"key": task.key, "kind": _kind(task), "error_type": error_type,
                  "message": message, "failure_file": str(where)}
        summary.failed.append(record)
        self.sink({"event": "failed", **record})
        if isinstance(task, TargetTask):
            target_state[task.target_id] = FAILED
            for run in waiting.pop(task.target_id, []):
                self._skip(summary, run, f"its target {task.target_id} failed")

    def _skip(self, summary, task, reason: str) -> None:
        record = {"key": task.key, "kind": _kind(task), "reason": reason}
        summary.skipped.append(record)
        self.sink({"event": "skipped", **record})

    def _record_crash(self, task, message: str) -> None:
        class WorkerCrashed(RuntimeError):
            pass

        exc = WorkerCrashed(message)
        if isinstance(task, TargetTask):
            path = self.layout.target_failure(task.target_id)
            failures.record(path, exc, to_dict(task.spec), target_id=task.target_id,
                            retryable=True)
        else:
            path = self.layout.run_failure(task.target_id, task.dirname)
            failures.record(path, exc, to_dict(task.spec), target_id=task.target_id,
                            run=task.dirname, retryable=True)


def _kind(task) -> str:
    return "target" if isinstance(task, TargetTask) else "run"
