"""Run many chains of any kernel: ``vmap`` over chains, a compiled loop over steps.

A sampler supplies ``make_step(posterior) -> step`` where
``step(rng_key, state, step_index) -> (state, info)`` advances one chain and ``info`` is a
dict of scalars including ``"grad_calls"`` (int): gradient evaluations of the sampler's
unit in that step (the sampler converts calls to full-gradient equivalents on the host).

The driver runs ``burnin`` discarded draws, then ``draws`` kept draws, each draw being
``thin`` steps, and records L_n at every kept draw (and, when asked with
``keep_positions``, each chain's full parameter vector). Per-step statistics are kept at
each draw both as the draw's last step and summed over its ``thin`` steps, so counts such
as divergences cover every sampling step, not only the kept ones. Design choices, each
for speed:

* one compiled program serves burn-in and sampling and every chunk length (a dynamic
  trip count and a recording flag), so a run compiles once;
* the data enter that program as arguments, never as constants baked into it (XLA would
  constant-fold them: slow compiles, and a compilation cache keyed on the data);
* the random key of draw ``i`` is ``fold_in(key, i)``, so results do not depend on how
  the run is cut into chunks;
* chunks are sized to take about ``chunk_seconds`` each, so the host can report progress
  and react to signals (SIGTERM from SLURM, Ctrl-C) within seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class ChainTrace(NamedTuple):
    """Host (numpy) results of the driver."""

    loss: np.ndarray  # (chains, draws): L_n at each kept draw
    info: dict  # name -> (chains, draws): the last step's info at each kept draw
    info_sums: dict  # name -> (chains, draws): info summed over the ``thin`` steps of a draw
    grad_calls: np.ndarray  # (chains,) int64: gradient calls of all steps
    loss_evals: int  # full-data loss evaluations per chain used for recording
    first_nonfinite_step: int | None  # 1-based step where a chain first went non-finite
    final_states: object
    positions: np.ndarray | None = None  # (chains, draws, p) when keep_positions
    thin: int = 1  # steps per kept draw


POSITION_BUFFER_BYTES = 64 * 2**20  # device buffer for positions of one chunk


class Schedule(NamedTuple):
    """What a sampler is asked to run, the same for every sampler: ``num_chains`` chains,
    ``burnin`` discarded then ``draws`` kept draws of ``thin`` steps each; the full
    parameter vector of each kept draw when ``keep_positions``; ``progress(done, total)``
    in draws after each chunk."""

    num_chains: int
    burnin: int
    draws: int
    thin: int = 1
    keep_positions: bool = False
    progress: Callable[[int, int], None] | None = None


def _position(state):
    return state.position


def _total(values):
    """Sum over the leading (step) axis: counts for booleans, sums for numbers."""
    return jnp.sum(values.astype(jnp.int32) if values.dtype == jnp.bool_ else values, axis=0)


def _rebind(posterior, data):
    x, y, w_star = data
    return posterior._replace(x=x, y=y, w_star=w_star)


def run_chains(
    rng_key,
    make_step: Callable,
    states,
    posterior,
    schedule: Schedule,
    *,
    chunk_seconds: float = 2.0,
    max_chunk: int = 1000,
) -> ChainTrace:
    """Run ``schedule``'s burn-in then kept draws for its chains starting from ``states``."""
    num_chains, burnin, draws, thin, keep_positions, progress = schedule
    capacity = int(max(1, min(draws, max_chunk)))
    if keep_positions:  # bound the chunk's device buffer of (draws, chains, p) positions
        w = posterior.w_star
        per_draw = num_chains * w.shape[0] * w.dtype.itemsize
        capacity = int(max(1, min(capacity, POSITION_BUFFER_BYTES // per_draw)))

    def block(post, carry, key):
        """One draw: ``thin`` steps of every chain."""
        vstep = jax.vmap(make_step(post), in_axes=(0, 0, None))

        def one(inner, k):
            states, t, calls, bad_step = inner
            states, info = vstep(jax.random.split(k, num_chains), states, t)
            ok = jnp.all(jnp.isfinite(_position(states)))
            bad_step = jnp.where((bad_step < 0) & ~ok, t + 1, bad_step)
            calls = calls + info["grad_calls"].astype(jnp.int32)
            return (states, t + 1, calls, bad_step), info

        carry, infos = jax.lax.scan(one, carry, jax.random.split(key, thin))
        last = jax.tree_util.tree_map(lambda a: a[-1], infos)
        sums = {k: _total(v) for k, v in infos.items() if k != "grad_calls"}
        return carry, (last, sums)

    @jax.jit
    def advance(data, carry, base_key, first_block, count, record):
        """Run ``count`` draws from draw index ``first_block``; record L_n if ``record``."""
        post = _rebind(posterior, data)
        _, info_shape = jax.eval_shape(lambda c, k: block(post, c, k), carry, base_key)
        w = post.w_star
        buffers = (
            jnp.zeros((capacity, num_chains), w.dtype),
            jax.tree_util.tree_map(lambda s: jnp.zeros((capacity, *s.shape), s.dtype), info_shape),
            jnp.zeros((capacity, num_chains, w.shape[0]) if keep_positions else (0,), w.dtype),
        )

        def body(i, state):
            carry, bufs = state
            carry, info = block(post, carry, jax.random.fold_in(base_key, first_block + i))

            def write(bufs):
                loss_buf, info_buf, pos_buf = bufs
                positions = _position(carry[0])
                loss = jax.vmap(post.full_loss)(positions)
                info_buf = jax.tree_util.tree_map(lambda b, v: b.at[i].set(v), info_buf, info)
                if keep_positions:
                    pos_buf = pos_buf.at[i].set(positions)
                return loss_buf.at[i].set(loss), info_buf, pos_buf

            return carry, jax.lax.cond(record, write, lambda bufs: bufs, bufs)

        return jax.lax.fori_loop(0, count, body, (carry, buffers))

    data = (posterior.x, posterior.y, posterior.w_star)
    carry = (states, jnp.int32(0), jnp.zeros((num_chains,), jnp.int32), jnp.int32(-1))
    grad_calls = np.zeros((num_chains,), np.int64)
    losses, infos, sums, positions = [], [], [], []
    total, done = burnin + draws, 0
    size = 1  # the first chunk also compiles; later chunks are sized from measured speed
    for phase_start, phase_len, record in ((0, burnin, False), (burnin, draws, True)):
        offset = 0
        while offset < phase_len:
            count = int(min(size, phase_len - offset, capacity))
            start = time.perf_counter()
            carry, (loss, info, pos) = advance(
                data,
                carry,
                rng_key,
                jnp.int32(phase_start + offset),
                jnp.int32(count),
                jnp.bool_(record),
            )
            grad_calls += np.asarray(carry[2], np.int64)
            carry = (carry[0], carry[1], jnp.zeros_like(carry[2]), carry[3])
            if record:
                losses.append(np.asarray(loss)[:count])
                infos.append({k: np.asarray(v)[:count] for k, v in info[0].items()})
                sums.append({k: np.asarray(v)[:count] for k, v in info[1].items()})
                if keep_positions:
                    positions.append(np.asarray(pos)[:count])
            elapsed = time.perf_counter() - start
            offset += count
            done += count
            if progress:
                progress(done, total)
            per_draw = elapsed / count
            size = int(max(1, min(capacity, chunk_seconds / max(per_draw, 1e-9), 4 * count)))
    states, _, _, bad_step = carry
    loss = np.concatenate(losses, axis=0).T  # (chains, draws)
    info = {
        k: np.concatenate([i[k] for i in infos], axis=0).T for k in infos[0] if k != "grad_calls"
    }
    info_sums = {k: np.concatenate([i[k] for i in sums], axis=0).T for k in sums[0]}
    bad = int(bad_step)
    return ChainTrace(
        loss=loss,
        info=info,
        info_sums=info_sums,
        grad_calls=grad_calls,
        loss_evals=draws,
        first_nonfinite_step=None if bad < 0 else bad,
        final_states=states,
        positions=np.concatenate(positions, axis=0).swapaxes(0, 1) if keep_positions else None,
        thin=thin,
    )
