"""Microcanonical Langevin Monte Carlo (unadjusted) with BlackJAX's L / step-size tuner.

Each chain is tuned separately (``mclmc_find_L_and_step_size`` under ``jax.vmap``): phase
1 adapts the step size to the target energy-error variance, phase 2 also estimates the
posterior scale (diagonal preconditioner when ``diagonal_preconditioning``) and then
re-adapts the step size for a third of its length, phase 3 sets L from the chain's
autocorrelation. ``tune_steps`` is split 30% / 40% / 30% over the phases. With
``tune=false`` the given ``L`` and ``step_size`` are used with an identity preconditioner.

Gradient work: the isokinetic McLachlan integrator evaluates the full-data gradient twice
per step; initialisation once. Every tuning step is counted. A resumed run takes its
tuned states from the run's saved warm-up (``warmup.py``) instead of tuning again.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.numerics.samplers import warmup
from lambda_hat.numerics.samplers.common import (
    SampleResult,
    chain_keys,
    recording_of_logdensity_samplers,
)
from lambda_hat.numerics.samplers.driver import Schedule, run_chains

GRADS_PER_STEP = 2  # isokinetic McLachlan: two position updates, each with a new gradient
FRACTIONS = (0.3, 0.4, 0.3)


class TunedState(NamedTuple):
    """A BlackJAX MCLMC state together with this chain's tuned parameters."""

    chain: object  # blackjax IntegratorState(position, momentum, logdensity, grad)
    L: jax.Array
    step_size: jax.Array
    inverse_mass_matrix: jax.Array

    @property
    def position(self):
        return self.chain.position


def tuning_steps(tune_steps: int, diagonal_preconditioning: bool) -> int:
    """Integrator steps the BlackJAX tuner takes for ``tune_steps`` (mirrors its schedule)."""
    n1, n2, n3 = (round(tune_steps * f) for f in FRACTIONS)
    total = n1 + n2
    if diagonal_preconditioning and n2 > 1:
        total += round(n2 / 3)
    if n3 >= 2:
        total += n3
    return total


def tune(rng_key, posterior, params, num_chains):
    """(batched TunedState, tuning gradient calls per chain)."""
    import blackjax
    from blackjax.mcmc.integrators import isokinetic_mclachlan

    dtype = posterior.w_star.dtype
    kernel = blackjax.mcmc.mclmc.build_kernel(
        integrator=isokinetic_mclachlan, desired_energy_var=params.desired_energy_var
    )

    def one(key, data):
        post = posterior.rebind(data)  # the arrays enter as jit arguments
        position = post.w_star
        k_init, k_tune = jax.random.split(key)
        state = blackjax.mcmc.mclmc.init(position, post.logdensity, k_init)
        if not params.tune:
            ones = jnp.ones_like(position)
            return TunedState(
                state, jnp.asarray(params.L, dtype), jnp.asarray(params.step_size, dtype), ones
            )
        state, tuned, _ = blackjax.mclmc_find_L_and_step_size(
            mclmc_kernel=kernel,
            num_steps=params.tune_steps,
            state=state,
            rng_key=k_tune,
            logdensity_fn=post.logdensity,
            frac_tune1=FRACTIONS[0],
            frac_tune2=FRACTIONS[1],
            frac_tune3=FRACTIONS[2],
            desired_energy_var=params.desired_energy_var,
            diagonal_preconditioning=params.diagonal_preconditioning,
        )
        imm = jnp.broadcast_to(jnp.asarray(tuned.inverse_mass_matrix, dtype), position.shape)
        return TunedState(
            state, jnp.asarray(tuned.L, dtype), jnp.asarray(tuned.step_size, dtype), imm
        )

    data = posterior.arrays
    states = jax.jit(jax.vmap(one, in_axes=(0, None)))(chain_keys(rng_key, num_chains), data)
    steps = tuning_steps(params.tune_steps, params.diagonal_preconditioning) if params.tune else 0
    return states, np.full(num_chains, 1 + GRADS_PER_STEP * steps, np.int64)


def sample(rng_key, posterior, params, schedule: Schedule) -> SampleResult:
    """Tune per chain, then run MCLMC chains with fixed L, step size and preconditioner."""
    if not params.tune and (params.L is None or params.step_size is None):
        # the experiments file's check (samplers/mclmc.check_entry) says it in its terms
        raise ValueError("mclmc with tune = false needs both L and step_size")
    key_tune, key_run = jax.random.split(rng_key)

    def compute():
        states, calls = tune(key_tune, posterior, params, schedule.num_chains)
        return states, {"grad_calls": [int(v) for v in calls]}

    def structure():  # the states' shapes: the given L and step, no tuning
        untuned = dataclasses.replace(params, tune=False, L=1.0, step_size=1.0)
        return tune(key_tune, posterior, untuned, schedule.num_chains)[0]

    states, record = warmup.once(schedule, {"warmup": "mclmc"}, compute, structure)
    warm = np.asarray(record["grad_calls"], np.int64).astype(np.float64)
    # the state's log density is the full-data one: L_n at every draw for free
    trace = run_chains(
        key_run,
        _steps_of(params),
        states,
        posterior,
        schedule,
        record=recording_of_logdensity_samplers(posterior),
    )
    return SampleResult(
        loss=trace.loss,
        sample_stats={"energy_change": trace.info["energy_change"]},
        fges_per_chain=warm + trace.grad_calls.astype(np.float64),
        warmup_fges_per_chain=warm,
        loss_evals_per_chain=trace.loss_evals,
        stats=_stats(params, states, trace, posterior.num_params),
        first_nonfinite_step=trace.first_nonfinite_step,
        positions=trace.positions,
        observed=trace.observed,
        cut=trace.cut,
    )


def _steps_of(params):
    """``make_step(posterior)`` of the driver: one MCLMC step at the chain's tuned L,
    step and preconditioner."""
    import blackjax
    from blackjax.mcmc.integrators import isokinetic_mclachlan

    kernel = blackjax.mcmc.mclmc.build_kernel(
        integrator=isokinetic_mclachlan, desired_energy_var=params.desired_energy_var
    )

    def make_step(post):
        def step(key, state: TunedState, step_index):
            del step_index
            chain, info = kernel(
                key,
                state.chain,
                post.logdensity,
                state.inverse_mass_matrix,
                state.L,
                state.step_size,
            )
            out = {
                "grad_calls": jnp.int32(GRADS_PER_STEP),
                "energy_change": info.energy_change,
                "loss": post.loss_from_logdensity(chain.position, chain.logdensity),
            }
            return state._replace(chain=chain), out

        return step

    return make_step


def _stats(params, states, trace, p: int) -> dict:
    """The run's statistics: the tuned L, step and preconditioner per chain, and the
    energy variance per dimension the tuning aimed at and the chains showed."""
    energy = np.asarray(trace.info["energy_change"], np.float64)
    L = np.asarray(states.L, np.float64)
    eps = np.asarray(states.step_size, np.float64)
    imm = np.asarray(states.inverse_mass_matrix, np.float64)
    return {
        "sampler": "mclmc",
        "tuned": bool(params.tune),
        "tune_steps": int(params.tune_steps) if params.tune else 0,
        "L": [float(v) for v in L],
        "step_size": [float(v) for v in eps],
        "step_size_mean": float(eps.mean()),
        "L_mean": float(L.mean()),
        "energy_var_per_dim": float(np.nanvar(energy) / p),
        "desired_energy_var": float(params.desired_energy_var),
        "inverse_mass_diag": {
            "min": float(imm.min()),
            "median": float(np.median(imm)),
            "max": float(imm.max()),
        },
    }
