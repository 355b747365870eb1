"""``name = "nuts"``: BlackJAX NUTS with HMC's per-chain window adaptation."""

from __future__ import annotations

from dataclasses import dataclass, field

from lambda_hat.fields import check
from lambda_hat.samplers.hmc import ADAPTED, adapted_stage, initial_step_field, start_field
from lambda_hat.samplers.kind import Sampler, Work, transitions


@dataclass(frozen=True)
class NUTSParams:
    """NUTS with the same per-chain window adaptation as HMC.

    DLN posteriors have long flat ridges, so uncapped trajectories are expensive (mean
    152 leapfrog steps per transition at 8 doublings on a 60-parameter DLN). The default
    cap of 6 doublings (64 steps) bounds the cost; the truth suite's 5 doublings already
    match HMC.
    """

    warmup: int = field(default=500, metadata=check(ge=0, help="adaptation steps"))
    max_num_doublings: int = field(default=6, metadata=check(ge=1, le=16))
    step_size: float = initial_step_field()
    target_acceptance: float = field(default=0.8, metadata=check(gt=0.0, lt=1.0))
    start: str = start_field()


def work(spec, n_data: int) -> Work:
    """Warm-up and sampling transitions, each a tree of at most 2^max_num_doublings
    gradients."""
    steps = transitions(spec, before=spec.params.warmup)
    tree = 2**spec.params.max_num_doublings
    return Work(steps, tuple(float(t * tree) for t in steps), upto=True)


SAMPLER = Sampler(
    name="nuts",
    params=NUTSParams,
    help="NUTS with HMC's window adaptation; trajectories capped at 2^max_num_doublings",
    defaults=ADAPTED,
    numerics="lambda_hat.numerics.samplers.nuts",
    stage=adapted_stage,
    exact=True,
    settings=(("step_size", "ε"),),
    work=work,
)
