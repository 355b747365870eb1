"""NUTS with the same per-chain window adaptation as HMC.

Trajectory lengths are chosen by the no-U-turn criterion (at most ``2**max_num_doublings``
leapfrog steps); each leapfrog step is one full-data gradient, counted from
``info.num_integration_steps`` of every warm-up and sampling transition.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from lambda_hat.numerics.samplers.driver import run_chains
from lambda_hat.numerics.samplers.hmc import AdaptedState, adapt, adapted_result


def sample(rng_key, posterior, params, *, num_chains, burnin, draws, thin, progress=None):
    """Adapt per chain, then run NUTS chains with fixed step size and mass matrix."""
    import blackjax

    key_adapt, key_run = jax.random.split(rng_key)
    doublings = int(params.max_num_doublings)
    adaptation = adapt(
        key_adapt,
        posterior,
        blackjax.nuts,
        num_chains=num_chains,
        warmup=params.warmup,
        step_size=params.step_size,
        target=params.target_acceptance,
        max_num_doublings=doublings,
    )
    kernel = blackjax.nuts.build_kernel()

    def make_step(post):
        def step(key, state: AdaptedState, step_index):
            del step_index
            chain, info = kernel(
                key,
                state.chain,
                post.logdensity,
                state.step_size,
                state.inverse_mass_matrix,
                doublings,
            )
            out = {
                "grad_calls": jnp.asarray(info.num_integration_steps, jnp.int32),
                "acceptance_rate": info.acceptance_rate,
                "is_divergent": info.is_divergent,
                "energy": info.energy,
                "num_integration_steps": info.num_integration_steps,
            }
            return state._replace(chain=chain), out

        return step

    trace = run_chains(
        key_run,
        make_step,
        adaptation.states,
        posterior,
        num_chains=num_chains,
        burnin=burnin,
        draws=draws,
        thin=thin,
        progress=progress,
    )
    extra = {"max_num_doublings": doublings, "warmup": params.warmup}
    return adapted_result(trace, adaptation, adaptation.states, "nuts", extra)
