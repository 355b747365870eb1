"""HMC with Stan-style window adaptation, one adaptation per chain.

Each chain runs BlackJAX ``window_adaptation`` (dual-averaging step size and a diagonal
inverse mass matrix from Welford variance windows) from w*, under ``jax.vmap`` so every
chain gets its own step size and mass matrix; sampling then continues from the adapted
state with those parameters fixed. Gradient work is counted from the integrator: one
full-data gradient per leapfrog step (``info.num_integration_steps``) plus one at
initialisation; rejected proposals cost the same as accepted ones. A resumed run takes
its adapted states from the run's saved warm-up (``warmup.py``) instead of adapting again.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.numerics.samplers import warmup
from lambda_hat.numerics.samplers.common import (
    SampleResult,
    chain_keys,
    recording_of_logdensity_samplers,
    summarize_stats,
)
from lambda_hat.numerics.samplers.driver import Schedule, run_chains

STAT_FIELDS = ("acceptance_rate", "is_divergent", "energy", "num_integration_steps")


class AdaptedState(NamedTuple):
    """A BlackJAX HMC state together with this chain's adapted parameters."""

    chain: object  # blackjax HMCState(position, logdensity, logdensity_grad)
    step_size: jax.Array
    inverse_mass_matrix: jax.Array

    @property
    def position(self):
        return self.chain.position


class Adaptation(NamedTuple):
    states: AdaptedState  # batched over chains
    grad_calls: np.ndarray  # (chains,) gradient evaluations spent adapting (init included)
    acceptance_rate: float  # mean over the adaptation steps and chains


def adapt(
    rng_key, posterior, algorithm, *, num_chains, warmup, step_size, target, start=None, **extra
):
    """Window-adapt ``algorithm`` (blackjax.hmc / blackjax.nuts) separately for each chain,
    from w* or from ``start`` (one position per chain: an over-dispersed start)."""
    import blackjax
    from blackjax.adaptation.base import get_filter_adapt_info_fn

    position = posterior.w_star
    if warmup == 0:
        if start is None:  # one init at w*, shared (as every stored run was computed)
            init = algorithm.init(position, posterior.logdensity)
            chain = jax.tree_util.tree_map(
                lambda a: jnp.broadcast_to(a, (num_chains, *a.shape)), init
            )
        else:
            chain = jax.vmap(lambda w: algorithm.init(w, posterior.logdensity))(start)
        states = AdaptedState(
            chain,
            jnp.full((num_chains,), step_size, position.dtype),
            jnp.ones((num_chains, position.shape[0]), position.dtype),
        )
        return Adaptation(states, np.ones(num_chains, np.int64), float("nan"))

    def one(key, data, w0=None):
        post = posterior.rebind(data)  # the arrays enter as jit arguments
        window = blackjax.window_adaptation(
            algorithm,
            post.logdensity,
            is_mass_matrix_diagonal=True,
            initial_step_size=step_size,
            target_acceptance_rate=target,
            adaptation_info_fn=get_filter_adapt_info_fn(
                info_keys={"num_integration_steps", "acceptance_rate"}
            ),
            **extra,
        )
        result, info = window.run(key, post.w_star if w0 is None else w0, warmup)
        params = result.parameters
        steps = jnp.sum(info.info.num_integration_steps.astype(jnp.int32))
        state = AdaptedState(result.state, params["step_size"], params["inverse_mass_matrix"])
        return state, steps, jnp.mean(info.info.acceptance_rate)

    data = posterior.arrays
    keys = chain_keys(rng_key, num_chains)
    # from w*, w* stays the posterior's own (unbatched) array, as every stored run had it
    args = (keys, data) if start is None else (keys, data, start)
    states, steps, acc = jax.jit(jax.vmap(one, in_axes=(0, None, 0)[: len(args)]))(*args)
    # +1: algorithm.init evaluates the gradient at the starting point once.
    return Adaptation(states, np.asarray(steps, np.int64) + 1, float(np.mean(acc)))


def adapted_result(trace, adaptation, states, sampler_name, extra_stats) -> SampleResult:
    """SampleResult of an HMC-family run (gradient calls are full-data gradients)."""
    warm = adaptation.grad_calls.astype(np.float64)
    info = dict(trace.info)
    stats = summarize_stats(trace.info_sums, trace.thin)
    stats["warmup_acceptance_rate"] = _nan_to_none(adaptation.acceptance_rate)
    stats.update(step_size_stats(states))
    stats.update(extra_stats)
    stats["sampler"] = sampler_name
    sample_stats = {k: v for k, v in info.items() if k in STAT_FIELDS}
    return SampleResult(
        loss=trace.loss,
        sample_stats=sample_stats,
        fges_per_chain=warm + trace.grad_calls.astype(np.float64),
        warmup_fges_per_chain=warm,
        loss_evals_per_chain=trace.loss_evals,
        stats=stats,
        first_nonfinite_step=trace.first_nonfinite_step,
        positions=trace.positions,
        observed=trace.observed,
        cut=trace.cut,
    )


def step_size_stats(states: AdaptedState) -> dict:
    """Per-chain step sizes and a min/median/max summary of the inverse mass diagonal."""
    eps = np.asarray(states.step_size, np.float64)
    imm = np.asarray(states.inverse_mass_matrix, np.float64)
    return {
        "step_size": [float(v) for v in eps],
        "step_size_mean": float(eps.mean()),
        "inverse_mass_diag": {
            "min": float(imm.min()),
            "median": float(np.median(imm)),
            "max": float(imm.max()),
        },
    }


def _nan_to_none(x: float):
    return None if not np.isfinite(x) else float(x)


def sample_adapted(
    name,
    rng_key,
    posterior,
    params,
    algorithm,
    trajectory,
    extra,
    schedule: Schedule,
    start=None,
    **trajectory_option,
) -> SampleResult:
    """Window-adapt ``algorithm`` per chain, then sample with the adapted parameters.

    ``trajectory`` is the kernel's last argument (HMC: leapfrog steps; NUTS: maximum
    doublings), also passed to the adaptation as ``trajectory_option``; ``extra`` goes
    into the run's statistics; ``start``: the chains' first positions (default w*).
    """
    key_adapt, key_run = jax.random.split(rng_key)
    options = dict(
        num_chains=schedule.num_chains,
        step_size=params.step_size,
        target=params.target_acceptance,
        **trajectory_option,
    )
    adaptation, dispersal = _adapted(
        name, key_adapt, posterior, params, algorithm, schedule, start, options
    )
    make_step = _steps_of(name, algorithm.build_kernel(), trajectory)
    # the state's log density is the full-data one: L_n at every draw for free
    trace = run_chains(
        key_run,
        make_step,
        adaptation.states,
        posterior,
        schedule,
        record=recording_of_logdensity_samplers(posterior),
    )
    result = adapted_result(trace, adaptation, adaptation.states, name, extra)
    if dispersal is None:
        return result
    share = dispersal["fges"] / schedule.num_chains  # the pilot is warm-up work, shared
    return result._replace(
        fges_per_chain=result.fges_per_chain + share,
        warmup_fges_per_chain=result.warmup_fges_per_chain + share,
        stats={**result.stats, "start": dispersal},
    )


def _adapted(name, key, posterior, params, algorithm, schedule: Schedule, start, options):
    """The chains' window adaptation (once per run: ``warmup.once`` keeps it for a
    resumed run), from ``start`` or the spec's start; ``(Adaptation, dispersal record
    or None)``."""

    def compute():
        from lambda_hat.numerics.samplers.starts import starting_points

        first, dispersal = start, None
        if first is None:  # the spec's start: w* (None) or over-dispersed positions
            first, dispersal = starting_points(key, posterior, schedule.num_chains, params.start)
        out = adapt(key, posterior, algorithm, warmup=params.warmup, start=first, **options)
        record = {
            "grad_calls": [int(v) for v in out.grad_calls],
            "acceptance_rate": out.acceptance_rate,
            "dispersal": dispersal,
        }
        return out.states, record

    def structure():  # the states' shapes: one initialisation per chain, no adaptation
        return adapt(key, posterior, algorithm, warmup=0, **options).states

    fingerprint = {"warmup": name, "start": warmup.start_digest(start)}
    states, record = warmup.once(schedule, fingerprint, compute, structure)
    grad_calls = np.asarray(record["grad_calls"], np.int64)
    return Adaptation(states, grad_calls, record["acceptance_rate"]), record["dispersal"]


def _steps_of(name: str, kernel, trajectory):
    """``make_step(posterior)`` of the driver: one adapted transition and its info."""

    def make_step(post):
        def step(key, state: AdaptedState, step_index):
            del step_index
            chain, info = kernel(
                key,
                state.chain,
                post.logdensity,
                state.step_size,
                state.inverse_mass_matrix,
                trajectory,
            )
            out = {
                "grad_calls": jnp.asarray(info.num_integration_steps, jnp.int32),
                "loss": post.loss_from_logdensity(chain.position, chain.logdensity),
                "acceptance_rate": info.acceptance_rate,
                "is_divergent": info.is_divergent,
                "energy": info.energy,
            }
            if name == "nuts":  # variable trajectory length: worth keeping per draw
                out["num_integration_steps"] = info.num_integration_steps
            return state._replace(chain=chain), out

        return step

    return make_step


def sample(rng_key, posterior, params, schedule: Schedule) -> SampleResult:
    """Adapt per chain, then run HMC chains with fixed step size and mass matrix."""
    import blackjax

    steps = int(params.num_integration_steps)
    return sample_adapted(
        "hmc",
        rng_key,
        posterior,
        params,
        blackjax.hmc,
        steps,
        {"num_integration_steps": steps, "warmup": params.warmup},
        schedule,
        num_integration_steps=steps,
    )
