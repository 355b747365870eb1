"""Worker processes: CPU pinning reaches XLA's threads; slots split the CPUs."""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor

import pytest

from lambda_hat.scheduler.local import cpu_slots, usable_cpus
from lambda_hat.scheduler.worker import init_worker, thread_affinities


def _jax_work():
    import jax.numpy as jnp

    x = jnp.ones((256, 256))
    for _ in range(3):
        x = (x @ x) / 256
    x.block_until_ready()
    return thread_affinities(), sorted(os.sched_getaffinity(0))


def test_cpu_slots_are_disjoint_and_cover_workers():
    cpus = usable_cpus()
    slots = cpu_slots(len(cpus))
    assert sorted(c for s in slots for c in s) == cpus
    assert len(cpu_slots(len(cpus) + 3)) == len(cpus) + 3  # oversubscribed: shared, one each
    assert all(len(s) == 1 for s in cpu_slots(len(cpus) + 3))


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs Linux affinity")
def test_worker_pins_every_thread_including_xla_pool(tmp_path, own_cache):
    cpu = usable_cpus()[-1]
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(
        1,
        mp_context=ctx,
        initializer=init_worker,
        initargs=("float32", str(tmp_path), ctx.Queue(), [cpu]),
    ) as pool:
        threads, process = pool.submit(_jax_work).result(timeout=120)
    assert process == [cpu]
    assert len(threads) > 1  # XLA started its own threads...
    assert all(aff == [cpu] for aff in threads.values()), threads  # ...all on our CPU
    assert (tmp_path / ".jax-cache").is_dir()


def test_workers_sharing_a_machine_do_not_each_preallocate_its_gpu():
    from lambda_hat.scheduler.worker import gpu_memory_env

    assert gpu_memory_env(1, {}) == {}  # one worker: JAX's own default (preallocate 75%)
    assert gpu_memory_env(4, {}) == {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    mine = {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.2"}
    assert gpu_memory_env(4, mine) == {}  # the user's own choice stands
    assert gpu_memory_env(4, {"XLA_PYTHON_CLIENT_ALLOCATOR": "platform"}) == {}
