"""Run many chains of any kernel: ``vmap`` over chains, ``lax.scan`` over steps.

A sampler supplies ``step(rng_key, state, step_index) -> (state, info)`` for one chain,
where ``info`` is a dict of scalars that includes ``"grad_calls"`` (int): how many
gradient evaluations of the sampler's unit the step made (the sampler converts calls to
full-gradient equivalents, exactly, on the host). The driver runs ``burnin`` discarded draws, then
``draws`` kept draws, each draw being ``thin`` steps, in jitted chunks (so a host-side
``progress`` callback can report between them), and records L_n at every kept draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class ChainTrace(NamedTuple):
    """Host (numpy) results of the driver."""

    loss: np.ndarray  # (chains, draws): L_n at each kept draw
    info: dict  # name -> (chains, draws): the last step's info at each kept draw
    grad_calls: np.ndarray  # (chains,) int64: gradient calls of all steps
    loss_evals: int  # full-data loss evaluations per chain used for recording
    first_nonfinite_step: int | None  # 1-based step where a chain first went non-finite
    final_states: object


def _position(state):
    return state.position


def run_chains(
    rng_key,
    step: Callable,
    states,
    full_loss: Callable,
    *,
    num_chains: int,
    burnin: int,
    draws: int,
    thin: int,
    step_offset: int = 0,
    progress: Callable[[int, int], None] | None = None,
    num_chunks: int = 10,
) -> ChainTrace:
    """Run burn-in then kept draws for ``num_chains`` chains starting from ``states``."""
    vstep = jax.vmap(step, in_axes=(0, 0, None))

    def block(carry, key):
        keys = jax.random.split(key, thin)

        def one(inner, k):
            states, t, calls, bad_step = inner
            states, info = vstep(jax.random.split(k, num_chains), states, t)
            ok = jnp.all(jnp.isfinite(_position(states)))
            bad_step = jnp.where((bad_step < 0) & ~ok, t + 1, bad_step)
            calls = calls + info["grad_calls"].astype(jnp.int32)
            return (states, t + 1, calls, bad_step), info

        carry, infos = jax.lax.scan(one, carry, keys)
        last = jax.tree_util.tree_map(lambda a: a[-1], infos)
        return carry, last

    @jax.jit
    def burn_chunk(carry, keys):
        carry, _ = jax.lax.scan(block, carry, keys)
        return carry

    @jax.jit
    def draw_chunk(carry, keys):
        def rec(carry, key):
            carry, info = block(carry, key)
            loss = jax.vmap(full_loss)(_position(carry[0]))
            return carry, (loss, info)

        return jax.lax.scan(rec, carry, keys)

    total = burnin + draws
    done = 0
    grad_calls = np.zeros((num_chains,), np.int64)
    zero_calls = jnp.zeros((num_chains,), jnp.int32)
    carry = (states, jnp.int32(step_offset), zero_calls, jnp.int32(-1))
    key_burn, key_draw = jax.random.split(rng_key)
    for keys in _chunks(jax.random.split(key_burn, burnin) if burnin else None, num_chunks):
        carry = burn_chunk(carry, keys)
        grad_calls += np.asarray(carry[2], np.int64)
        carry = (carry[0], carry[1], zero_calls, carry[3])
        done += keys.shape[0]
        if progress:
            progress(done, total)
    losses, infos = [], []
    for keys in _chunks(jax.random.split(key_draw, draws), num_chunks):
        carry, (loss, info) = draw_chunk(carry, keys)
        grad_calls += np.asarray(carry[2], np.int64)
        carry = (carry[0], carry[1], zero_calls, carry[3])
        losses.append(np.asarray(loss))
        infos.append(jax.tree_util.tree_map(np.asarray, info))
        done += keys.shape[0]
        if progress:
            progress(done, total)
    states, _, _, bad_step = carry
    loss = np.concatenate(losses, axis=0).T  # (chains, draws)
    info = {
        k: np.concatenate([i[k] for i in infos], axis=0).T for k in infos[0] if k != "grad_calls"
    }
    bad = int(bad_step)
    return ChainTrace(
        loss=loss,
        info=info,
        grad_calls=grad_calls,
        loss_evals=draws,
        first_nonfinite_step=None if bad < 0 else bad,
        final_states=states,
    )


def _chunks(keys, num_chunks: int):
    """Split a key array into at most ``num_chunks`` equal pieces plus a remainder."""
    if keys is None or keys.shape[0] == 0:
        return
    total = keys.shape[0]
    size = max(1, math.ceil(total / num_chunks))
    for start in range(0, total - total % size, size):
        yield keys[start : start + size]
    if total % size:
        yield keys[total - total % size :]
