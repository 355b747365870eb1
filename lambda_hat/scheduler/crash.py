"""Why a worker process died: its exit code in words, for failure records.

Shared by the local executor and SLURM array tasks, which both run each task in a child
process: when that child dies (killed by the OOM killer or a signal, a segfault), the
parent records a retryable failure saying how, instead of leaving the artifact merely
missing.
"""

from __future__ import annotations

import resource
import signal
import time


class WorkerCrashed(RuntimeError):
    """The worker process died while running a task (killed, or out of memory)."""


def exit_code(proc, wait_sec: float = 2.0) -> int | None:
    """The exit code of a dead worker, or None if it is still alive after ``wait_sec``.

    The pool's own manager thread may reap the process at the same moment we do; then our
    ``waitpid`` fails and the code appears on the shared handle a moment later, so poll.
    """
    deadline = time.monotonic() + wait_sec
    while True:
        proc.join(timeout=0.05)
        if proc.exitcode is not None or time.monotonic() > deadline:
            return proc.exitcode
        time.sleep(0.01)


def reason(procs) -> str:
    """How the first dead process of ``procs`` ended, e.g. "... was killed by SIGKILL"."""
    for proc in procs:
        code = exit_code(proc)
        if code is None:
            continue
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the worker process (pid {proc.pid}) was killed by {name}"
        return f"the worker process (pid {proc.pid}) exited with code {code}"
    return "the worker process died"


def children_peak_rss_mb() -> float:
    """Peak resident memory (MB) of the largest child process reaped so far (Linux: KB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
