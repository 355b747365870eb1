"""``name = "mclmc"``: BlackJAX's microcanonical Langevin MC with its L / step tuner."""

from __future__ import annotations

from dataclasses import dataclass, field

from lambda_hat.errors import ConfigError
from lambda_hat.fields import check
from lambda_hat.samplers.hmc import ADAPTED
from lambda_hat.samplers.kind import Sampler, Work, transitions


@dataclass(frozen=True)
class MCLMCParams:
    """Microcanonical Langevin MC (unadjusted) with BlackJAX's L / step-size tuner.

    ``tune_steps`` integrator steps are spent tuning (30% step size, 40% step size and
    diagonal preconditioner plus a third more to re-adapt, 30% L from autocorrelation),
    each counted as 2 FGEs. Being unadjusted, MCLMC is biased by its energy error:
    ``desired_energy_var`` 5e-4 (BlackJAX's default) gave -2.4% on a regular model
    where 1e-4 and 2.5e-5 gave -1.6% and -1.2% (docs/truth.md); lower it for accuracy
    at the price of smaller steps.
    """

    tune: bool = field(default=True, metadata=check(help="run the L/step-size tuner"))
    tune_steps: int = field(default=1000, metadata=check(ge=0))
    L: float | None = field(default=None, metadata=check(gt=0.0, help="used when tune=false"))
    step_size: float | None = field(
        default=None, metadata=check(gt=0.0, help="used when tune=false")
    )
    diagonal_preconditioning: bool = True
    desired_energy_var: float = field(default=5e-4, metadata=check(gt=0.0))


def check_entry(spec, where: str) -> None:
    """Without the tuner, both of what it would choose must be given."""
    params = spec.params
    if not params.tune and (params.L is None or params.step_size is None):
        raise ConfigError(f"{where}: mclmc with tune = false needs both 'L' and 'step_size'")


def stage(spec) -> str:
    return "warm-up and sampling"


def work(spec, n_data: int) -> Work:
    """The tuner's steps (when it runs) and the sampling steps, a gradient each."""
    steps = transitions(spec, before=spec.params.tune_steps if spec.params.tune else 0)
    return Work(steps, tuple(float(t) for t in steps))


SAMPLER = Sampler(
    name="mclmc",
    params=MCLMCParams,
    help="microcanonical Langevin MC (unadjusted) with its L / step-size tuner",
    defaults=ADAPTED,
    numerics="lambda_hat.numerics.samplers.mclmc",
    stage=stage,
    check=check_entry,
    settings=(("step_size", "ε"), ("L", "L")),
    work=work,
)
