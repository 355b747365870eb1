"""NUTS with the same per-chain window adaptation as HMC.

Trajectory lengths are chosen by the no-U-turn criterion (at most ``2**max_num_doublings``
leapfrog steps); each leapfrog step is one full-data gradient, counted from
``info.num_integration_steps`` of every warm-up and sampling transition.
"""

from __future__ import annotations

from lambda_hat.numerics.samplers.common import SampleResult
from lambda_hat.numerics.samplers.driver import Schedule
from lambda_hat.numerics.samplers.hmc import sample_adapted


def sample(rng_key, posterior, params, schedule: Schedule, start=None) -> SampleResult:
    """Adapt per chain, then run NUTS chains with fixed step size and mass matrix; from
    ``start`` (one position per chain) when given, else as ``params.start`` says."""
    import blackjax

    doublings = int(params.max_num_doublings)
    return sample_adapted(
        "nuts",
        rng_key,
        posterior,
        params,
        blackjax.nuts,
        doublings,
        {"max_num_doublings": doublings, "warmup": params.warmup},
        schedule,
        start=start,
        max_num_doublings=doublings,
    )
