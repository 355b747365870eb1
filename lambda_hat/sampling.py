"""Sample a posterior and estimate λ̂: the one path both ``lambda-hat run`` (via the
runner) and ``lh.estimate`` take, so the two give the same numbers for the same inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from lambda_hat.config.specs import RunSpec
from lambda_hat.errors import SamplerDivergedError


class Estimate(NamedTuple):
    """A sampled posterior's λ̂ and what it rests on."""

    result: Any  # the sampler's SampleResult (losses, stats, FGEs, positions)
    llc: np.ndarray  # (chains, draws) per-draw nβ (L_n(w_t) − L0)
    summary: dict  # llc_mean, llc_std, llc_mcse, ess, rhat, drift, ...
    warnings: list[str]
    L0: float
    n_beta: float


def sample_llc(
    posterior, spec: RunSpec, progress: Callable[[int, int], None] | None = None
) -> Estimate:
    """Run ``spec``'s sampler on ``posterior`` (built in ``spec.precision``)."""
    import jax

    from lambda_hat.analysis import summary
    from lambda_hat.numerics.estimator import llc_trace
    from lambda_hat.numerics.samplers import get as get_sampler
    from lambda_hat.numerics.samplers.driver import Schedule

    L0 = float(jax.jit(posterior.full_loss)(posterior.w_star))  # in this run's precision
    result = get_sampler(spec.sampler).sample(
        jax.random.PRNGKey(spec.seed),
        posterior,
        spec.params,
        Schedule(
            spec.chains,
            spec.burnin,
            spec.draws,
            spec.thin,
            spec.trace_params,
            progress,
            spec.llc_trace,
        ),
    )
    check_finite(spec, result)
    llc = llc_trace(result.loss, L0, posterior.n_beta)
    summ = summary.summarize(llc)
    warnings = summary.warnings_for(summ, dict(result.stats))
    return Estimate(result, llc, summ, warnings, L0, posterior.n_beta)


def check_finite(spec: RunSpec, result) -> None:
    bad = result.first_nonfinite_step
    if bad is None and np.all(np.isfinite(result.loss)):
        return
    where = f"at step {bad}" if bad is not None else "in a recorded loss"
    step = getattr(spec.params, "step_size", None)
    hint = (
        f"lower step_size (now {step:g}), e.g. to {step / 10:g}"
        if isinstance(step, float)
        else "lower the step size or check the target"
    )
    raise SamplerDivergedError(
        f"sampler {spec.sampler!r} diverged {where}: the loss became NaN/inf. Suggestion: {hint}."
    )
