"""Code that runs inside worker processes (spawned; JAX is imported only here).

A worker pins itself to its CPU share *before* JAX starts, so XLA sizes its thread pool
to that share and every thread it creates inherits the affinity; it ignores SIGINT (the
parent decides what a Ctrl-C means), turns SIGTERM into ``SystemExit`` so a build in
progress removes its temporary folder, and exits the same way when its parent dies.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings
from pathlib import Path

from lambda_hat.store.layout import ANALYSIS, Layout

_QUEUE = None


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


ORPHAN_GRACE_SEC = 10.0


def _watch_parent(parent: int) -> None:
    """Stop when the parent is gone (``kill -9`` of the whole run): SIGTERM ourselves, so
    a build in progress removes its temp folder, then exit for good (an idle pool worker
    would otherwise wait forever for work on a queue it holds both ends of)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(ORPHAN_GRACE_SEC)
            os._exit(128 + signal.SIGTERM)


GPU_MEMORY_KEYS = (
    "XLA_PYTHON_CLIENT_PREALLOCATE",
    "XLA_PYTHON_CLIENT_MEM_FRACTION",
    "XLA_PYTHON_CLIENT_ALLOCATOR",
)


def gpu_memory_env(share: int, environ) -> dict[str, str]:
    """What a worker adds to its environment when ``share`` workers run on one machine:
    JAX would have each preallocate 75% of a GPU's memory, so the second one would not
    start; they allocate as they go instead. A user's own setting of any of
    GPU_MEMORY_KEYS is left alone."""
    if share <= 1 or any(key in environ for key in GPU_MEMORY_KEYS):
        return {}
    return {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}


def init_worker(
    precision: str, root: str, queue, cpus: list[int] | None = None, share: int = 1
) -> None:
    """Pool initializer: CPU pinning, signals, the precision of the first task (each
    task sets its own), compilation cache, and GPU memory shared by the ``share``
    workers of one machine."""
    global _QUEUE
    _QUEUE = queue
    pin_threads(cpus)
    os.environ.update(gpu_memory_env(share, os.environ))
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    import jax  # after pinning: XLA sizes its thread pool from the affinity mask

    jax.config.update("jax_enable_x64", precision == "float64")
    # a full disk is reported once, by the store; the cache's misses only cost speed
    warnings.filterwarnings(
        "ignore", message=r"Error writing persistent compilation cache entry.*No space left"
    )
    cache = Layout(root).cache_dir
    try:
        cache.mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(cache))
        # every program, however small: a run's few dozen tiny ones cost ~1.5 s to recompile
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    except OSError:
        pass
    _import_run_modules()


def _import_run_modules() -> None:
    """Import what every task needs once per worker (pyplot alone is ~0.5 s), so that a
    run's fixed cost is its own work; BlackJAX (~0.7 s) loads with the first HMC-family
    run that needs it."""
    import matplotlib

    matplotlib.use("Agg")
    import h5netcdf  # noqa: F401
    import matplotlib.pyplot  # noqa: F401

    import lambda_hat.analysis.plots  # noqa: F401
    import lambda_hat.analysis.summary  # noqa: F401
    import lambda_hat.numerics.samplers.sgld  # noqa: F401
    import lambda_hat.targets.build  # noqa: F401


def pin_threads(cpus: list[int] | None) -> None:
    """Restrict every thread of this process (XLA's pool included) to ``cpus``."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    for tid in tids:
        try:
            os.sched_setaffinity(tid, cpus)
        except OSError:
            continue


def thread_affinities() -> dict[int, list[int]]:
    """CPU affinity of every thread of this process (for tests and diagnostics)."""
    out = {}
    for t in os.listdir("/proc/self/task"):
        try:
            out[int(t)] = sorted(os.sched_getaffinity(int(t)))
        except OSError:
            continue
    return out


def warm_up() -> int:
    """A no-op task: makes a fresh pool start its worker (and import JAX) right away."""
    return os.getpid()


def _emit(event: dict) -> None:
    if _QUEUE is not None:
        try:
            _QUEUE.put_nowait({"time": time.time(), "pid": os.getpid(), **event})
        except Exception:  # noqa: BLE001 - progress is best effort, never fatal
            pass


def execute(kind: str, key: str, spec, root: str, names: dict | None, cpus: list[int] | None):
    """Build one target or run one sampler; returns a small JSON-able summary (the
    ``finished`` event's fields: ``events.Finished``).

    ``built`` is False when the artifact was already published (possibly by another
    process while this one waited for its lock): the summary then does not claim it. A
    checkpoint target's ``siblings`` are the IDs of the other checkpoints its training
    published with it (under the training's lock, so by this process, not another).
    """
    pin_threads(cpus)
    _emit({"event": "started", "key": key, "kind": kind})
    from lambda_hat import runner

    start = time.time()
    if kind == "target":
        done = runner.build_target(spec, Path(root), names)
        return {
            "key": key,
            "target_id": done.key,
            "built": done.built,
            "siblings": list(done.siblings),
            "walltime_sec": time.time() - start,
        }
    done = runner.run_sampler(spec, Path(root), _progress(key), _stage(key))
    out = {"key": key, "run": done.key, "built": done.built}
    analysis = done.record or _stored_analysis(done.path)
    return {
        **out,
        "llc_mean": analysis.llc_mean,
        "llc_mcse": analysis.llc_mcse,
        "true_llc": analysis.true_llc,
        "walltime_sec": analysis.walltime_sec if done.built else time.time() - start,
        "warnings": analysis.warnings,
        "trust": analysis.trust.to_json() if analysis.trust else None,
    }


def _stored_analysis(path: Path):
    """The analysis of a run this task found published (the ``found`` line's numbers)."""
    from lambda_hat.store.jsonio import read_json
    from lambda_hat.store.records import RunAnalysis

    return RunAnalysis.from_json(read_json(path / ANALYSIS), path.name)


def _progress(key: str):
    """``progress(done, total)`` of a run: an event at most every 0.2 s, and the last."""
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.time()
        if done >= total or now - last[0] > 0.2:
            last[0] = now
            _emit({"event": "progress", "key": key, "done": done, "total": total})

    return progress


def _stage(key: str):
    """``stage(text)`` of a run: an event, and a log line in a SLURM task."""

    def stage(text: str) -> None:
        if _QUEUE is None:  # a SLURM task: its log is this process's stdout
            print(f"[lambda-hat {time.strftime('%H:%M:%S')}] {key}: {text}", flush=True)
        _emit({"event": "stage", "key": key, "stage": text})

    return stage
