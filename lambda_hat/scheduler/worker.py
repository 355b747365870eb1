"""Code that runs inside worker processes (spawned; JAX is imported only here)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

_QUEUE = None


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def init_worker(precision: str, root: str, queue) -> None:
    """Pool initializer: one precision per process, compilation cache, clean SIGTERM."""
    global _QUEUE
    _QUEUE = queue
    signal.signal(signal.SIGTERM, _terminate)
    import jax

    jax.config.update("jax_enable_x64", precision == "float64")
    cache = Path(root) / ".jax-cache"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(cache))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    except OSError:
        pass


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


def _emit(event: dict) -> None:
    if _QUEUE is not None:
        try:
            _QUEUE.put_nowait({"time": time.time(), "pid": os.getpid(), **event})
        except Exception:  # noqa: BLE001 - progress is best effort, never fatal
            pass


def execute(kind: str, key: str, spec, root: str, names: dict | None, cpus: list[int] | None):
    """Build one target or run one sampler; returns a small JSON-able summary."""
    pin_threads(cpus)
    _emit({"event": "started", "key": key, "kind": kind})
    from lambda_hat import runner

    start = time.time()
    if kind == "target":
        tid = runner.build_target(spec, Path(root), names)
        return {"key": key, "target_id": tid, "walltime_sec": time.time() - start}

    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.time()
        if done >= total or now - last[0] > 0.2:
            last[0] = now
            _emit({"event": "progress", "key": key, "done": done, "total": total})

    name = runner.run_sampler(spec, Path(root), progress)
    from lambda_hat.store.jsonio import read_json

    analysis = read_json(Path(root) / "targets" / spec.target_id / name / "analysis.json")
    return {
        "key": key,
        "run": name,
        "llc_mean": analysis["llc_mean"],
        "llc_mcse": analysis.get("llc_mcse"),
        "true_llc": analysis.get("true_llc"),
        "walltime_sec": analysis["walltime_sec"],
        "warnings": analysis.get("warnings", []),
    }
