"""Execute a plan on local worker processes (spawn context), one pool per CPU slot.

Each of the ``workers`` slots is a one-process ``ProcessPoolExecutor`` pinned to its own
share of the CPUs, so a worker that dies (``kill -9``, out of memory) breaks only its
own pool: the other tasks go on, the crash is recorded as a *retryable* failure, and the
task is retried once in this run (and automatically by the next run if it dies again).
Runs wait for their target. An exception in a task is recorded by the runner under
``_failures/`` and stops nothing else; a full disk (``StoreFullError``) stops the run:
nothing more is started, since every task would fail the same way, and the next run
finishes what is left. Ctrl-C cancels pending work and stops the
workers (SIGTERM, then SIGKILL); their builds remove their temporary folders, and what
a SIGKILL leaves behind is swept, so the store stays consistent.
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
from lambda_hat.errors import StoreFullError
from lambda_hat.scheduler import crash, events
from lambda_hat.scheduler.crash import WorkerCrashed
from lambda_hat.scheduler.plan import DONE, FAILED, TODO, Plan, RunTask, TargetTask
from lambda_hat.scheduler.worker import execute, init_worker, warm_up
from lambda_hat.store import failures, housekeeping
from lambda_hat.store.layout import Layout

Sink = Callable[[dict], None]
MAX_CRASH_ATTEMPTS = 2  # a task whose worker dies is tried at most this often per run
STOP_GRACE_SEC = 5.0  # after SIGTERM, how long workers get to clean up before SIGKILL


def usable_cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def default_workers(targets, runs) -> int:
    """Workers when none are asked for: the cores, but no more than the tasks that can
    run at once (the targets to build with the runs of built targets, or the runs), since
    each worker is pinned to its share of the cores: a lone run gets them all."""
    building = {t.target_id for t in targets}
    ready = sum(r.target_id not in building for r in runs)
    return max(1, min(len(usable_cpus()), max(len(targets) + ready, len(runs))))


def cpu_slots(workers: int) -> list[list[int]]:
    """Split the usable CPUs into ``workers`` disjoint groups (shared if too few)."""
    cpus = usable_cpus()
    if workers >= len(cpus):
        return [[cpus[i % len(cpus)]] for i in range(workers)]
    size = len(cpus) // workers
    return [cpus[i * size : (i + 1) * size] for i in range(workers)]


@dataclass
class Summary:
    done: list[str] = field(default_factory=list)  # built by this run
    # of ``done``: checkpoints published by the training of a sibling task of this run
    siblings: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)  # published meanwhile by another process
    failed: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    already: int = 0
    interrupted: bool = False
    stopped: str | None = None  # why the run stopped early (a full disk)
    unfinished: list[str] = field(default_factory=list)  # tasks the stop left undone
    walltime_sec: float = 0.0
    results: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.interrupted or self.skipped or self.stopped)

    def to_dict(self) -> dict:
        return {
            "done": len(self.done),
            "siblings": len(self.siblings),
            "found": len(self.found),
            "already": self.already,
            "failed": self.failed,
            "skipped": self.skipped,
            "interrupted": self.interrupted,
            "stopped": self.stopped,
            "unfinished": len(self.unfinished),
            "walltime_sec": self.walltime_sec,
        }


def selected(plan: Plan, retry_failed: bool, only_targets: bool = False):
    """(targets, runs) to execute: missing ones, plus failed ones when retrying.

    Failures recorded as ``retryable`` (a worker crash) are always retried; failures
    from an exception in the task only with ``retry_failed``.
    """

    def wanted(task) -> bool:
        if task.status == TODO:
            return True
        if task.status == FAILED:
            return retry_failed or bool(task.failure and task.failure.retryable)
        return False

    targets = [t for t in plan.targets if wanted(t)]
    runs = [] if only_targets else [r for r in plan.runs if wanted(r)]
    return targets, runs


@dataclass
class _Slot:
    """One worker process (a one-process pool) pinned to ``cpus``. It runs tasks of
    either precision: each task sets its own first (``runner.set_precision``), so a
    plan's float64 targets and float32 SGLD runs share the process instead of each
    switch starting another one."""

    index: int
    cpus: list[int]
    pool: ProcessPoolExecutor | None = None


class LocalExecutor:
    """Runs a plan's tasks on ``workers`` worker processes, each pinned to its share of
    the cores. ``task`` and ``initializer`` are what a worker runs (a target build or a
    sampler run, and its start-up: ``scheduler.worker``); a test may give stand-ins with
    the same signatures, to follow the dispatch without sampling."""

    def __init__(
        self,
        root: Path,
        workers: int,
        sink: Sink | None = None,
        task: Callable = execute,
        initializer: Callable = init_worker,
    ):
        self.root = Path(root)
        self.task, self.initializer = task, initializer
        self.layout = Layout(root)
        self.workers = max(1, int(workers))
        self.sink = sink or (lambda event: None)
        self.ctx = mp.get_context("spawn")
        self.queue = self.ctx.Queue()
        self.slots = [_Slot(i, cpus) for i, cpus in enumerate(cpu_slots(self.workers))]
        self.pids: dict[str, int] = {}  # task key -> pid of the worker running it
        self._procs: dict[int, list] = {}  # slot index -> its pool's processes
        self._trained_by: dict[str, str] = {}  # checkpoint target ID -> task whose training
        # published it (see ``_attribute``)

    # -- worker pools ------------------------------------------------------------------
    def _pool_for(self, slot: _Slot, precision: str) -> ProcessPoolExecutor:
        """The slot's worker, started in ``precision`` if there is none."""
        if slot.pool is None:
            slot.pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=self.ctx,
                initializer=self.initializer,
                initargs=(precision, str(self.root), self.queue, slot.cpus, self.workers),
            )
        return slot.pool

    def _retire(self, slot: _Slot) -> None:
        if slot.pool is not None:
            slot.pool.shutdown(wait=False, cancel_futures=True)
        slot.pool = None
        self._procs.pop(slot.index, None)

    def _pick(self, free: list[_Slot]) -> _Slot:
        """A free slot, preferring one whose worker has started."""
        slot = next((s for s in free if s.pool is not None), free[0])
        free.remove(slot)
        return slot

    def shutdown(self, kill: bool = False) -> None:
        """Stop every worker; with ``kill``, SIGTERM them now and SIGKILL stragglers."""
        procs = [p for ps in self._procs.values() for p in ps]
        for slot in self.slots:
            if slot.pool is not None:
                procs += list(getattr(slot.pool, "_processes", {}).values())
                slot.pool.shutdown(wait=False, cancel_futures=True)
            slot.pool = None
        self._procs.clear()
        if kill:
            procs = list({id(p): p for p in procs}.values())
            for proc in procs:
                if proc.is_alive():
                    proc.terminate()
            deadline = time.time() + STOP_GRACE_SEC
            for proc in procs:
                proc.join(timeout=max(0.0, deadline - time.time()))
                if proc.is_alive():
                    proc.kill()
                    proc.join(timeout=2)
        try:
            self.queue.close()
        except (OSError, ValueError):
            pass

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
        self._warm(ready + [r for rs in waiting.values() for r in rs])
        attempts: dict[str, int] = {}
        inflight: dict[Future, tuple] = {}
        free = list(self.slots)
        state = (summary, attempts, ready, waiting, target_state)
        try:
            while ready or inflight:
                while ready and free:
                    task = ready.pop(0)
                    slot = self._pick(free)
                    inflight[self._submit(task, slot)] = (task, slot)
                    self._emit(events.Submitted(task.key, _kind(task), task.label, slot.index))
                done, _ = wait(list(inflight), timeout=0.25, return_when=FIRST_COMPLETED)
                self._drain()
                for fut in sorted(done, key=_trainings_first):
                    task, slot = inflight.pop(fut)
                    free.append(slot)
                    self._collect(fut, task, slot, *state)
            self._drain()
        except KeyboardInterrupt:
            summary.interrupted = True
            pending = [t.key for t in ready] + [t.key for t, _ in inflight.values()]
            pending += [r.key for rs in waiting.values() for r in rs]
            running = [t.key for t, _ in inflight.values()]
            self._emit(events.Interrupted(len(pending), running))
            self._stop_now()
            touched = sorted({t.target_id for t, _ in inflight.values()})
            housekeeping.clean_stale_temps(self.root, touched)
            housekeeping.reconcile(self.root, touched)
        else:
            self.shutdown()
        summary.walltime_sec = time.time() - start
        return summary

    def _warm(self, order: list) -> None:
        """Start one worker per slot that will get work, in the precision of the task it
        will most likely run first, so worker start-up (JAX import) overlaps the work."""
        for slot, task in zip(self.slots, order, strict=False):
            try:
                self._pool_for(slot, task.precision).submit(warm_up)
            except BrokenProcessPool:
                self._retire(slot)

    def _stop_now(self) -> None:
        """Stop workers; a second Ctrl-C while they clean up skips the grace period."""
        procs = [p for ps in self._procs.values() for p in ps]
        procs += [
            p for s in self.slots if s.pool for p in getattr(s.pool, "_processes", {}).values()
        ]
        try:
            self.shutdown(kill=True)
        except KeyboardInterrupt:
            for proc in procs:
                if proc.is_alive():
                    proc.kill()

    def _submit(self, task, slot: _Slot) -> Future:
        names = task.names if isinstance(task, TargetTask) else None
        args = (self.task, _kind(task), task.key, task.spec, str(self.root), names, slot.cpus)
        pool = self._pool_for(slot, task.precision)
        try:
            fut = pool.submit(*args)
        except BrokenProcessPool:
            self._retire(slot)
            fut = self._pool_for(slot, task.precision).submit(*args)
        # Remember the process now: a broken pool forgets it, and we want its exit code.
        self._procs[slot.index] = list(getattr(slot.pool, "_processes", {}).values())
        return fut

    def _drain(self) -> None:
        while True:
            try:
                event = self.queue.get_nowait()
            except (queue_mod.Empty, OSError, ValueError):
                return
            if event.get("event") == "started":
                self.pids[event["key"]] = event.get("pid")
            self.sink(event)

    def _crash_reason(self, slot: _Slot) -> str:
        return crash.reason(self._procs.get(slot.index, []))

    def _collect(self, fut, task, slot, summary, attempts, ready, waiting, target_state):
        kind = _kind(task)
        try:
            result = fut.result()
        except BrokenProcessPool:
            reason = self._crash_reason(slot)
            self._retire(slot)
            self._crashed(task, reason, summary, attempts, ready, waiting, target_state)
            return
        except KeyboardInterrupt:
            raise
        except StoreFullError as exc:
            self._stop_for(summary, task, str(exc), ready, waiting)
            return
        except SystemExit as exc:  # the worker was told to stop (SIGTERM) by someone else
            self._retire(slot)
            reason = f"the worker process was terminated (exit status {exc.code})"
            self._crashed(task, reason, summary, attempts, ready, waiting, target_state)
            return
        except BaseException as exc:  # noqa: BLE001 - any task error is reported, not raised
            self._ensure_failure_record(task, exc)
            self._failed(summary, task, type(exc).__name__, str(exc), waiting, target_state)
            return
        result = self._attribute(task, result, summary)
        summary.results.append(result)
        self.sink({"event": "finished", "kind": kind, **result})
        if isinstance(task, TargetTask):
            target_state[task.target_id] = DONE
            ready.extend(waiting.pop(task.target_id, []))

    def _attribute(self, task, result: dict, summary: Summary) -> dict:
        """Count a finished task as built or found. One training publishes all its
        checkpoints (``runner.build_target``), so a checkpoint that a sibling task of this
        run published is built by this run (its result then says ``with`` which task),
        not found: only what another process published is."""
        by = self._trained_by.get(task.target_id) if isinstance(task, TargetTask) else None
        if not result.get("built", True) and by is not None:
            result = {**result, "built": True, "with": by}
            summary.siblings.append(task.key)
        (summary.done if result.get("built", True) else summary.found).append(task.key)
        for sibling in result.get("siblings", []):
            self._trained_by[sibling] = task.key
            if sibling in summary.found:  # its result came first: it waited on our lock
                summary.found.remove(sibling)
                summary.done.append(sibling)
                summary.siblings.append(sibling)
        return result

    def _stop_for(self, summary, task, reason: str, ready, waiting) -> None:
        """Start nothing more: ``task`` and every task not yet started are left undone."""
        left = [task, *ready, *(r for rs in waiting.values() for r in rs)]
        ready.clear()
        waiting.clear()
        summary.unfinished += [t.key for t in left]
        if summary.stopped is None:
            summary.stopped = reason
            self._emit(events.Stopped(reason, len(left)))

    def _crashed(self, task, reason, summary, attempts, ready, waiting, target_state) -> None:
        """Record a retryable failure; retry once in this run, then give up on it."""
        attempts[task.key] = attempts.get(task.key, 0) + 1
        message = (
            f"{reason} while running this task (killed, or out of memory); "
            "the next `lambda-hat run` retries it"
        )
        self._record_crash(task, message)
        if attempts[task.key] < MAX_CRASH_ATTEMPTS:
            self._emit(events.Retry(task.key, _kind(task), reason))
            ready.insert(0, task)
            return
        self._failed(summary, task, "WorkerCrashed", message, waiting, target_state)

    def _failure_path(self, task) -> Path:
        if isinstance(task, TargetTask):
            return self.layout.target_failure(task.target_id)
        return self.layout.run_failure(task.target_id, task.dirname)

    def _failed(self, summary, task, error_type, message, waiting, target_state) -> None:
        where = self._failure_path(task)
        record = {
            "key": task.key,
            "kind": _kind(task),
            "error_type": error_type,
            "message": message,
            "failure_file": str(where),
        }
        summary.failed.append(record)
        self._emit(events.Failed(**record))
        if isinstance(task, TargetTask):
            target_state[task.target_id] = FAILED
            for run in waiting.pop(task.target_id, []):
                self._skip(summary, run, f"its target {task.target_id} failed")

    def _skip(self, summary, task, reason: str) -> None:
        record = {"key": task.key, "kind": _kind(task), "reason": reason}
        summary.skipped.append(record)
        self._emit(events.Skipped(**record))

    def _emit(self, event: events.Event) -> None:
        self.sink(event.to_json())

    def _extra(self, task) -> dict:
        if isinstance(task, TargetTask):
            return {"target_id": task.target_id}
        return {"target_id": task.target_id, "run": task.dirname}

    def _record_crash(self, task, message: str) -> None:
        failures.record(
            self._failure_path(task),
            WorkerCrashed(message),
            to_dict(task.spec),
            retryable=True,
            **self._extra(task),
        )

    def _ensure_failure_record(self, task, exc: BaseException) -> None:
        """The runner records task errors (the exception says so); record those raised
        outside it too."""
        if not failures.recorded(exc):
            failures.record(self._failure_path(task), exc, to_dict(task.spec), **self._extra(task))


def _trainings_first(fut: Future) -> bool:
    """Sort key: a finished training (a result with ``siblings``) before the others, so
    the checkpoints it published are known when their own tasks' results are read."""
    return fut.cancelled() or fut.exception() is not None or not fut.result().get("siblings")


def _kind(task) -> str:
    return "target" if isinstance(task, TargetTask) else "run"
