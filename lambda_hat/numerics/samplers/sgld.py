"""Minibatch SGLD with optional diagonal preconditioning (RMSProp or Adam).

One step, with g = ∇L_B(w) the minibatch loss gradient and P a diagonal preconditioner:

    drift = −nβ g − γ (w − w*)                       (∇ log π, minibatch estimate)
    w'    = w + (ε/2) P ⊙ drift + √(ε P) ⊙ ξ,  ξ ~ N(0, I)

``precond="rmsprop"``: P = 1/(√v̂ + eps) with v̂ the bias-corrected EMA of g² (loss
gradient only, not the localization term). ``"adam"`` additionally replaces the drift by
its bias-corrected EMA. Minibatches are drawn without replacement within each epoch.
Gradient work per step: b/n full-gradient equivalents.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.numerics.samplers.common import SampleResult
from lambda_hat.numerics.samplers.driver import run_chains


class SGLDState(NamedTuple):
    position: jax.Array
    permutation: jax.Array  # current epoch's order of the data rows
    second_moment: jax.Array
    first_moment: jax.Array


def init(position, num_data: int) -> SGLDState:
    zeros = jnp.zeros_like(position)
    return SGLDState(position, jnp.arange(num_data, dtype=jnp.int32), zeros, zeros)


def build_kernel(posterior, step_size, batch_size, precond, precond_decay, momentum_decay, eps):
    """``kernel(rng_key, state, step_index) -> (state, info)`` for one chain."""
    n = posterior.n
    batch_size = min(int(batch_size), n)
    batches_per_epoch = n // batch_size

    def kernel(rng_key, state: SGLDState, step_index):
        key_perm, key_noise = jax.random.split(rng_key)
        within = step_index % batches_per_epoch
        permutation = jax.lax.cond(
            within == 0,
            lambda: jax.random.permutation(key_perm, n).astype(jnp.int32),
            lambda: state.permutation,
        )
        idx = jax.lax.dynamic_slice(permutation, (within * batch_size,), (batch_size,))
        w = state.position
        g = posterior.batch_loss_grad(w, idx)
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
        noise = jax.random.normal(key_noise, w.shape, w.dtype)
        new_w = w + 0.5 * step_size * scale * drift + jnp.sqrt(step_size * scale) * noise
        info = {"grad_calls": jnp.int32(1)}
        return SGLDState(new_w, permutation, second, first), info

    return kernel


def sample(rng_key, posterior, params, *, num_chains, burnin, draws, thin, progress=None):
    """Run SGLD chains from w*; see module docstring. Returns a SampleResult."""
    batch_size = min(params.batch_size, posterior.n)
    kernel = build_kernel(
        posterior,
        params.step_size,
        batch_size,
        params.precond,
        params.precond_decay,
        params.momentum_decay,
        params.precond_eps,
    )
    start = init(posterior.w_star, posterior.n)
    states = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (num_chains, *a.shape)), start)
    trace = run_chains(
        rng_key,
        kernel,
        states,
        posterior.full_loss,
        num_chains=num_chains,
        burnin=burnin,
        draws=draws,
        thin=thin,
        progress=progress,
    )
    fges = trace.grad_calls.astype(np.float64) * (batch_size / posterior.n)
    return SampleResult(
        loss=trace.loss,
        sample_stats={},
        fges_per_chain=fges,
        warmup_fges_per_chain=np.zeros(num_chains),
        loss_evals_per_chain=trace.loss_evals,
        stats={"batch_size": batch_size, "step_size": params.step_size, "precond": params.precond},
        first_nonfinite_step=trace.first_nonfinite_step,
    )
