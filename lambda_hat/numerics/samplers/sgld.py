"""Minibatch SGLD with optional diagonal preconditioning (RMSProp or Adam).

One step, with g = ∇L_B(w) the minibatch loss gradient and P a diagonal preconditioner:

    drift = −nβ g − γ (w − w*)                       (∇ log π, minibatch estimate)
    w'    = w + (ε/2) P ⊙ drift + √(ε P) ⊙ η

``scheme="euler"`` is Welling & Teh's step, η = ξₖ ~ N(0, I) fresh each step. In a
Gaussian direction of curvature h its stationary variance is 1/(h(1 − εh/4)): too large
by ≈ εh/4. ``"leimkuhler-matthews"`` (the default) takes η = (ξₖ + ξₖ₊₁)/2, the mean of
this step's draw and the next one's (the state carries ξₖ₊₁ to the next step); the
iterates then form an ARMA(1, 1) process whose stationary variance is exactly 1/h for
every stable ε (εh < 4), so the Gaussian part of the bias is gone and what is left is
second order in ε (Leimkuhler & Matthews 2013, the high-friction limit of BAOAB). Same
cost: one gradient and p normals per step.

``precond="rmsprop"``: P = 1/(√v̂ + eps) with v̂ the bias-corrected EMA of g² (loss
gradient only, not the localization term). ``"adam"`` additionally replaces the drift by
its bias-corrected EMA. Gradient work per step: b/n full-gradient equivalents.

The loss trace (``schedule.llc_trace``): ``"minibatch"`` records, for each kept draw, the
mean over its ``thin`` steps of L_B(w_t) − L_B(w*) + L_n(w*), where L_B(w_t) is the
minibatch loss the step's gradient already computed and L_B(w*) on the same rows is a
gather from per-row losses at w* computed once (the control variate of Lau et al.,
Algorithm 1: it cancels most of the batch-to-batch noise). Its expectation over the
batch is L_n(w_t); it costs nothing per step. ``"full"`` evaluates L_n(w) over all n
points at each kept draw (a forward pass over the data, about n/b steps' work).

Minibatches are drawn without replacement within each epoch: epoch e of a chain visits
the rows in the order i ↦ (a·i + c) mod n, with the multiplier a (coprime to n) and the
offset c drawn afresh from the chain's key for every epoch. Such an affine permutation
costs O(b) per step and no memory (a stored random permutation would cost O(n) per step
to carry); the rows are i.i.d. draws, so which rows share a batch carries no structure.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.numerics.devices import spread
from lambda_hat.numerics.samplers.chunks import Chunks
from lambda_hat.numerics.samplers.common import SampleResult
from lambda_hat.numerics.samplers.driver import Schedule, run_chains

INT32_MAX = 2**31 - 1


class Settings(NamedTuple):
    """SGLD's keys as its kernel reads them, at a ``[[samplers]]`` entry's defaults: what
    a pilot that is not the user's own run (HMC/NUTS's dispersed start) samples with."""

    batch_size: int = 256
    precond: str = "none"
    precond_decay: float = 0.9999
    momentum_decay: float = 0.9
    precond_eps: float = 1e-5
    scheme: str = "leimkuhler-matthews"


class SGLDState(NamedTuple):
    position: jax.Array
    second_moment: jax.Array
    first_moment: jax.Array
    chain_key: jax.Array  # draws each epoch's row order
    noise: jax.Array  # leimkuhler-matthews: the draw ξₖ this step shares with the last


def init(position, rng_key, scheme: str = "euler") -> SGLDState:
    zeros = jnp.zeros_like(position)
    noise = zeros
    if scheme == "leimkuhler-matthews":  # ξ₀; no epoch of the row order reaches this key
        noise = gaussian_noise(
            jax.random.fold_in(rng_key, INT32_MAX), *position.shape, position.dtype
        )
    return SGLDState(position, zeros, zeros, rng_key, noise)


def multipliers(n: int, limit: int = 256) -> np.ndarray:
    """Up to ``limit`` integers a in [1, n) coprime to n with a·n < 2³¹ (no int32 overflow)."""
    top = max(2, min(n, INT32_MAX // max(n, 1)))
    candidates = [a for a in range(1, top) if math.gcd(a, n) == 1] or [1]
    pick = np.linspace(0, len(candidates) - 1, min(limit, len(candidates))).round().astype(int)
    return np.asarray([candidates[i] for i in sorted(set(pick))], np.int32)


def batch_rows(chain_key, step_index, n: int, batch_size: int, units):
    """Row indices of this step's minibatch (without replacement within an epoch)."""
    per_epoch = n // batch_size
    epoch, within = step_index // per_epoch, step_index % per_epoch
    key_a, key_c = jax.random.split(jax.random.fold_in(chain_key, epoch))
    a = units[jax.random.randint(key_a, (), 0, units.shape[0])]
    c = jax.random.randint(key_c, (), 0, n)
    positions = within * batch_size + jnp.arange(batch_size, dtype=jnp.int32)
    return (a * positions % n + c) % n


def gaussian_noise(rng_key, size: int, dtype):
    """N(0, I) of length ``size``, drawn at a length rounded up to a multiple of 128.

    JAX's threefry generator is several times slower per number for odd lengths on CPU
    (measured: 12,545 normals 580 µs, 12,546 normals 100 µs), and SGLD draws p normals
    every step, so the padding makes the step up to ~2x cheaper for odd p.
    """
    padded = -(-size // 128) * 128
    return jax.random.normal(rng_key, (padded,), dtype)[:size]


def build_kernel(
    posterior,
    step_size,
    batch_size,
    precond,
    precond_decay,
    momentum_decay,
    eps,
    scheme="euler",
):
    """``kernel(rng_key, state, step_index) -> (state, info)`` for one chain."""
    n = posterior.n
    batch_size = min(int(batch_size), n)
    units = jnp.asarray(multipliers(n))

    def kernel(rng_key, state: SGLDState, step_index):
        idx = batch_rows(state.chain_key, step_index, n, batch_size, units)
        w = state.position
        batch_loss, g = posterior.batch_loss_and_grad(w, idx)
        if posterior.anchor is not None:  # L_B(w) − L_B(w*): the control variate
            batch_loss = batch_loss - jnp.mean(posterior.anchor[idx])
        drift = -posterior.n_beta * g - posterior.localization * (w - posterior.w_star)
        count = (step_index + 1).astype(w.dtype)
        second, first = state.second_moment, state.first_moment
        if precond == "none":
            scale = jnp.ones_like(w)
        else:
            second = precond_decay * second + (1 - precond_decay) * g * g
            v_hat = second / (1 - precond_decay**count)
            scale = 1.0 / (jnp.sqrt(v_hat) + eps)
            if precond == "adam":
                first = momentum_decay * first + (1 - momentum_decay) * drift
                drift = first / (1 - momentum_decay**count)
        fresh = gaussian_noise(rng_key, w.shape[0], w.dtype)
        noise = fresh if scheme == "euler" else 0.5 * (state.noise + fresh)
        new_w = w + 0.5 * step_size * scale * drift + jnp.sqrt(step_size * scale) * noise
        info = {"grad_calls": jnp.int32(1), "loss": batch_loss}
        kept = state.noise if scheme == "euler" else fresh
        return SGLDState(new_w, second, first, state.chain_key, kept), info

    return kernel


def kernel_for(posterior, params, step_size: float):
    """``build_kernel`` with an ``SGLDParams``' settings (batch clipped to n)."""
    return build_kernel(
        posterior,
        step_size,
        min(params.batch_size, posterior.n),
        params.precond,
        params.precond_decay,
        params.momentum_decay,
        params.precond_eps,
        params.scheme,
    )


def initial_states(rng_key, posterior, params, num_chains: int, positions=None) -> SGLDState:
    """``num_chains`` chains at w* (or at the rows of ``positions``), one key each
    (batched state), spread over the local devices as ``chain_keys`` spreads keys."""
    w = posterior.w_star
    rows = w if positions is None else jnp.asarray(positions, w.dtype)
    return spread(_initial_states(rows, rng_key, num_chains, params.scheme), num_chains)


@partial(jax.jit, static_argnums=(2, 3))
def _initial_states(rows, rng_key, num_chains: int, scheme: str) -> SGLDState:
    """The chains' keys (``chain_keys``' split) and states in one compiled program (each
    eager operation would compile on its own, per shape); ``rows``: one position, or
    one per chain."""
    keys = jax.random.split(rng_key, num_chains)
    rows = jnp.broadcast_to(rows, (num_chains, rows.shape[-1]))
    return jax.vmap(lambda w, k: init(w, k, scheme))(rows, keys)


def sample(rng_key, posterior, params, schedule: Schedule, start=None) -> SampleResult:
    """Run SGLD chains from w* (or from the rows of ``start``); see module docstring."""
    if not isinstance(params.step_size, float):
        raise TypeError(
            f"sgld.sample needs a numeric step_size, got {params.step_size!r}: "
            "lambda_hat.sampling.sample_llc resolves 'auto' first"
        )
    num_chains = schedule.num_chains
    batch_size = min(params.batch_size, posterior.n)

    def make_step(post):
        return kernel_for(post, params, params.step_size)

    key_chains, key_run = jax.random.split(rng_key)
    states = initial_states(key_chains, posterior, params, num_chains, start)
    recorded, schedule, record, to_loss = minibatch_recording(posterior, schedule)
    trace = run_chains(key_run, make_step, states, recorded, schedule, record=record)
    fges = trace.grad_calls.astype(np.float64) * (batch_size / posterior.n)
    return SampleResult(
        loss=to_loss(trace.loss),
        sample_stats={"step_size": np.full(trace.loss.shape, params.step_size)},
        fges_per_chain=fges,
        warmup_fges_per_chain=np.zeros(num_chains),
        loss_evals_per_chain=trace.loss_evals,
        stats={
            "batch_size": batch_size,
            "step_size": params.step_size,
            "precond": params.precond,
            "scheme": params.scheme,
            # step_size x steps: directions held only by the localization relax in ~1/γ
            "langevin_time": params.step_size
            * (schedule.burnin + trace.loss.shape[1])
            * schedule.thin,
            "llc_trace": schedule.llc_trace,
        },
        first_nonfinite_step=trace.first_nonfinite_step,
        positions=trace.positions,
        observed=trace.observed,
        cut=trace.cut,
    )


def minibatch_recording(posterior, schedule: Schedule):
    """How a minibatch sampler records each draw's loss: ``(posterior, schedule, record,
    to_loss)``. ``llc_trace = "minibatch"`` gives the posterior its per-row losses at w*
    (the kernel subtracts the batch's), the driver averages the increments L_B(w) −
    L_B(w*) over each draw's steps (``record = "mean"``), and ``to_loss`` adds L_n(w*)'s
    mean back on the host in float64 (a time budget's checks see losses too); ``"full"``
    evaluates L_n at each kept draw."""
    if schedule.llc_trace != "minibatch":
        return posterior, schedule, "full", lambda loss: loss
    posterior = posterior.with_anchor()
    shift = float(np.mean(np.asarray(posterior.anchor, np.float64)))
    if schedule.stop is not None:
        stop = schedule.stop
        schedule = schedule._replace(stop=lambda loss: stop(loss.astype(np.float64) + shift))
    return posterior, schedule, "mean", lambda loss: loss.astype(np.float64) + shift


def final_states(
    rng_key,
    posterior,
    params,
    step_size: float,
    steps: int,
    num_chains: int,
    resume=None,
    on_chunk=None,
    chunk_seconds: float = 2.0,
    positions=None,
    stop=None,
):
    """The chains' states after ``steps`` SGLD steps from w* (or the rows of
    ``positions``) at ``step_size``, nothing recorded: the pilot that
    ``step_size = "auto"`` measures the curvature after. ``stop()``, if given, is asked
    after each chunk and ends the run there when it says so (a time budget).

    The steps run in chunks of about ``chunk_seconds`` (one compiled program for every
    chunk; step t's randomness is ``fold_in(key, t)``, so the cut does not change the
    result), so a stop lands between chunks and a long pilot can be resumed:
    ``resume = (t, states)`` starts at step t, and ``on_chunk(t, states)`` hears of
    each point reached.
    """
    kernel = kernel_for(posterior, params, step_size)
    key_chains, key_run = jax.random.split(rng_key)
    done, states = (
        (0, initial_states(key_chains, posterior, params, num_chains, positions))
        if resume is None
        else resume
    )
    return run_steps(kernel, key_run, states, (done, steps), on_chunk, stop, chunk_seconds)[0]


def run_steps(kernel, key_run, states, span, on_chunk=None, stop=None, chunk_seconds=2.0):
    """``(states, reached)``: the batched chains ``states`` moved by ``kernel`` from step
    ``span[0]`` to ``span[1]`` (step t's keys from ``fold_in(key_run, t)``), nothing
    recorded, in chunks of about ``chunk_seconds`` (one compiled program for all);
    ``on_chunk(t, states)`` hears of each point reached, and ``stop()`` ends the run
    after a chunk when it says so (``reached``: the step it got to)."""
    num_chains = jax.tree_util.tree_leaves(states)[0].shape[0]

    @jax.jit
    def run(states, first, count):
        def body(t, states):
            keys = jax.random.split(jax.random.fold_in(key_run, t), num_chains)
            return jax.vmap(kernel, in_axes=(0, 0, None))(keys, states, t)[0]

        return jax.lax.fori_loop(first, first + count, body, states)

    def advance(offset: int, count: int):
        nonlocal states
        states = run(states, jnp.int32(offset), jnp.int32(count))
        return states

    def after(offset: int, count: int, seconds: float) -> bool:
        if on_chunk is not None:
            on_chunk(offset, states)
        return stop is not None and bool(stop())

    done, steps = span
    reached = Chunks(cap=steps, chunk_seconds=chunk_seconds).run(advance, done, steps, after=after)
    return states, reached
