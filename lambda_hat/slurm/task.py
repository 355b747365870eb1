"""What one array task does: run its slice of the plan file, stop cleanly on a signal.

Items run one at a time, in order (a target before its runs), in a spawned child
process (``scheduler.worker.init_worker``) that each item sets to its own precision,
like the local executor.
An item already published (by an earlier attempt or another task) is skipped by the
runner; the store's locks make concurrent tasks safe.

A child that dies while building (out of memory, a segfault, a signal) is recorded as a
retryable failure of its item, with how it died and the peak memory of the task's
children, as the local executor records it; the slice goes on with a fresh child. A
full disk (``StoreFullError``) ends the slice: its other items would fail the same way,
and resubmitting once there is space finishes them.

SIGTERM/SIGUSR1 (``--signal=B:TERM@grace``, ``scancel --signal``) stops the task: the
child is sent SIGTERM, its build raises SystemExit and removes its temporary folder, so
no partial artifact remains; a run keeps its sampling progress (``store/snapshots.py``)
for the next attempt. With ``requeue`` in the plan, a task that published something in
this attempt, or saved a run's progress further, requeues itself (``scontrol requeue``)
to finish the rest; a task that made no progress does not, because it would only time
out again.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from lambda_hat.errors import SlurmError, StoreFullError
from lambda_hat.scheduler import crash
from lambda_hat.scheduler.worker import execute, init_worker
from lambda_hat.slurm.planfile import PlanItem, read_plan, spec_from_item
from lambda_hat.store.jsonio import read_json
from lambda_hat.store.layout import ANALYSIS, META, Layout
from lambda_hat.store.snapshots import describe, progress_rank, saved_progress
from lambda_hat.store.trust import verdict_text

STOP_EXIT = 143  # 128 + SIGTERM, what SLURM shows for a task stopped by its signal


class Stopped(SystemExit):
    """The task was told to stop (time limit near, preemption, scancel --signal)."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


def _stop(signum, frame):
    raise Stopped(signum)


def array_index(explicit: int | None) -> int:
    """The slice to run: ``--task`` or ``$SLURM_ARRAY_TASK_ID``."""
    if explicit is not None:
        return explicit
    value = os.environ.get("SLURM_ARRAY_TASK_ID")
    if value is None or not value.isdigit():
        raise SlurmError(
            "no array index: run inside a SLURM array task (SLURM_ARRAY_TASK_ID) or pass --task"
        )
    return int(value)


def log(message: str) -> None:
    print(f"[lambda-hat {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_task(plan_path: str | Path, index: int) -> int:
    """Run slice ``index`` of the plan; 0 if every item is published, 1 if some failed,
    143 if stopped by a signal."""
    doc = read_plan(plan_path)
    tasks = doc["tasks"]
    if not 0 <= index < len(tasks):
        raise SlurmError(f"array index {index} is outside the plan's 0..{len(tasks) - 1}")
    items = tasks[index]
    specs = [spec_from_item(item) for item in items]  # fail early on a stale plan
    old = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGUSR1)}
    task = _Slice(doc["root"], items)
    log(f"slice {index} of {len(tasks)}: {len(items)} item(s) in store {task.root}")
    try:
        task.run(specs)
    except Stopped as stop:
        return task.stop(stop, bool(doc.get("requeue")))
    finally:
        _close(task.pool)
        for s, handler in old.items():
            signal.signal(s, handler)
    log(f"finished slice {index}: {task.published} built, {len(task.failed)} failed")
    return 1 if task.failed else 0


class _Slice:
    """A slice as it runs: the child pool, the item in hand
    with its saved progress when it started, and what was published and what failed."""

    def __init__(self, root: str, items: list[PlanItem]):
        self.root, self.items = root, items
        self.pool: ProcessPoolExecutor | None = None
        self.current: Future | None = None
        self.item: PlanItem | None = None
        self.saved_before: dict | None = None
        self.published = 0
        self.failed: list[str] = []
        self.failed_targets: set[str] = set()

    def run(self, specs: list) -> None:
        """Each item in order, skipping what is done or whose target failed, until a
        full disk ends the slice (``Stopped`` ends it too, raised through)."""
        for item, spec in zip(self.items, specs, strict=True):
            if item.kind == "run" and item.target_id in self.failed_targets:
                log(f"skipped {item.key}: its target failed")
                self.failed.append(item.key)
            elif _published(self.root, item) is not None:
                log(f"already in the store: {item.key}")
            elif not self._build(item, spec):
                return

    def _build(self, item: PlanItem, spec) -> bool:
        """One item in the child; False when the disk is full (the slice ends)."""
        if self.pool is None:
            self.pool = _new_pool(item.precision, self.root)
        log(f"start {item.kind} {item.key}")
        start, self.item, self.saved_before = time.time(), item, _saved(self.root, item)
        self.current = self.pool.submit(
            execute, item.kind, item.key, spec, self.root, item.names, None
        )
        procs = list(getattr(self.pool, "_processes", {}).values())  # a broken pool forgets
        try:
            result = self.current.result()
        except Stopped:
            raise
        except SystemExit as exc:  # the child was signalled (SLURM signals every process)
            raise Stopped(signal.SIGTERM) from exc
        except StoreFullError as exc:
            left = len(self.items) - self.items.index(item)
            log(f"STOPPED at {item.key}: {exc}; {left} item(s) of this slice left undone")
            self.failed.append(item.key)
            return False
        except Exception as exc:  # noqa: BLE001 - the runner recorded it; go on
            self._failure(item, spec, exc, procs)
            return True
        self._done(item, start, result)
        return True

    def _failure(self, item: PlanItem, spec, exc: Exception, procs: list) -> None:
        if isinstance(exc, BrokenProcessPool):  # died: nothing was recorded yet
            self.pool = None  # a fresh child for the next item
            exc = _record_crash(self.root, item, spec, procs)
        log(f"FAILED {item.key}: {type(exc).__name__}: {exc}")
        self.failed.append(item.key)
        if item.kind == "target":
            self.failed_targets.add(item.target_id)

    def _done(self, item: PlanItem, start: float, result: dict) -> None:
        created = _published(self.root, item)
        if created is not None and created < start:
            log(f"found {item.key}: published meanwhile by another task")
            return
        self.published += 1
        extra = f", llc {result['llc_mean']:.4g}" if "llc_mean" in result else ""
        if result.get("trust"):
            extra += f", {verdict_text(result['trust'])}"
        log(f"done {item.key} in {time.time() - start:.1f}s{extra}")

    def stop(self, stop: Stopped, requeue: bool) -> int:
        """A signal: the child stopped, the item's progress said, requeued where this
        attempt moved something on."""
        log(f"signal {stop.signum}: stopping; the build in progress is discarded")
        _terminate(self.pool, self.current)
        self.pool = None
        saved = _saved(self.root, self.item) if self.item is not None else None
        moved = progress_rank(saved) > progress_rank(self.saved_before)  # for the next attempt
        if moved:
            where = describe(saved)
            log(f"{self.item.key}: its progress is saved at {where}; the next attempt resumes")
        if requeue and (self.published > 0 or moved):
            _requeue()
        elif requeue:
            log("not requeued: nothing finished in this attempt; give the tasks a longer --time")
        return STOP_EXIT


def _record_crash(root: str, item: PlanItem, spec, procs) -> crash.WorkerCrashed:
    """Record a dead child's item as a retryable failure: how it died, its peak memory."""
    from lambda_hat.config.specs import to_dict
    from lambda_hat.store import failures

    how = crash.reason(procs)  # joins (reaps) the dead child: its memory then counts
    peak = crash.children_peak_rss_mb()
    job = os.environ.get("SLURM_JOB_ID")
    limit = os.environ.get("SLURM_MEM_PER_NODE") or os.environ.get("SLURM_MEM_PER_CPU")
    where = f" in SLURM job {job}" if job else ""
    bound = f" (the job's memory limit: {limit} MB)" if limit else ""
    exc = crash.WorkerCrashed(
        f"{how} while running this task{where} (out of memory, a "
        f"segfault, or killed); the task's processes peaked at {peak:.0f} MB{bound}. "
        "Resubmitting retries it; if it ran out of memory, give it more with --mem"
    )
    layout = Layout(root)
    extra = {"target_id": item.target_id, "peak_rss_mb": round(peak, 1)}
    if limit:
        extra["mem_limit_mb"] = int(limit)
    if item.run is not None:
        extra["run"] = item.run
    failures.record(item.failure(layout), exc, to_dict(spec), retryable=True, **extra)
    return exc


def _published(root: str, item: PlanItem) -> float | None:
    """``created_at`` of the item's artifact if it is in the store, else None."""
    layout = Layout(root)
    path = item.final(layout) / (META if item.run is None else ANALYSIS)
    if not path.parent.is_dir():
        return None
    try:
        return float(read_json(path).get("created_at", 0.0))
    except (OSError, ValueError, TypeError):
        return 0.0


def _new_pool(precision: str, root: str) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=mp.get_context("spawn"),
        initializer=init_worker,
        initargs=(precision, root, None),
    )


def _close(pool: ProcessPoolExecutor | None) -> None:
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _terminate(
    pool: ProcessPoolExecutor | None, current: Future | None, wait_seconds: float = 30.0
) -> None:
    """SIGTERM the child; once its build has unwound (temp folder removed, which the
    future reports), kill it: a pool worker survives its task's SystemExit."""
    if pool is None:
        return
    procs = list(getattr(pool, "_processes", {}).values())
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    if current is not None:
        wait([current], timeout=wait_seconds)
    for proc in procs:
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=5)
    pool.shutdown(wait=False, cancel_futures=True)


def _saved(root: Path, item: PlanItem) -> dict | None:
    """Where a run's saved progress stands (``store/snapshots.py``: its sampling, else its
    step-size pilot); None for none."""
    if item.run is None:
        return None
    point = saved_progress(item.resume(Layout(root)))
    return point["where"] if point else None


def _requeue() -> None:
    job = os.environ.get("SLURM_ARRAY_JOB_ID")
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    target = f"{job}_{task}" if job and task else os.environ.get("SLURM_JOB_ID")
    if not target:
        return
    log(f"requeueing {target} to finish the rest of the slice")
    try:
        subprocess.run(["scontrol", "requeue", target], check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"requeue failed: {exc}", file=sys.stderr, flush=True)
