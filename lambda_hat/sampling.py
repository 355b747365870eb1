"""Sample a posterior and estimate λ̂: the one path both ``lambda-hat run`` (via the
runner) and ``lh.estimate`` take, so the two give the same numbers for the same inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from lambda_hat.config.specs import RunSpec, to_dict
from lambda_hat.errors import SamplerDivergedError


class Estimate(NamedTuple):
    """A sampled posterior's λ̂ and what it rests on."""

    result: Any  # the sampler's SampleResult (losses, stats, FGEs, positions)
    llc: np.ndarray  # (chains, draws) per-draw nβ (L_n(w_t) − L0)
    summary: dict  # llc_mean, llc_std, llc_mcse, ess, rhat, drift, ...
    warnings: list[str]
    L0: float
    n_beta: float
    budget: dict | None = None  # draws = "auto": the verdict and every check
    sgld_step: dict | None = None  # sgld: the curvature, the step's bias bound, auto choices
    spec: RunSpec | None = None  # the spec as run: SGLD's auto step and thin resolved (and
    # its default burn-in lengthened where thin = "auto" hit its cap)
    resumed: dict | None = None  # where an earlier attempt's saved progress was taken up


def posterior_of(apply_flat, loss: str, x, y, w_star, spec: RunSpec):
    """The run's posterior: X, Y and w* cast on the host to ``spec.precision`` (a
    device-side cast compiles a program per array shape)."""
    import jax.numpy as jnp

    from lambda_hat.numerics.loss import make_loss
    from lambda_hat.numerics.posterior import make_posterior
    from lambda_hat.targets.arrays import cast

    host = np.dtype(spec.precision)  # "float32" | "float64"
    x, y = (jnp.asarray(a) for a in cast(x, y, host))
    w = jnp.asarray(np.asarray(w_star, host))
    loss_fn = make_loss(apply_flat, loss)
    return make_posterior(loss_fn, (x, y), w, spec.inverse_temperature, spec.localization)


def sample_llc(
    posterior,
    spec: RunSpec,
    progress: Callable[[int, int], None] | None = None,
    tune_on=None,
    stage: Callable[[str], None] | None = None,
    snapshots=None,
) -> Estimate:
    """Run ``spec``'s sampler on ``posterior`` (built in ``spec.precision``).

    ``step_size = "auto"`` is chosen on ``tune_on`` (default: ``posterior``): a
    checkpoint's runs pass their training's last checkpoint, so one training run's
    checkpoints share one step, as the field recommends. ``stage(text)``, if given, is
    told what the run does next (SGLD's step pilots can take minutes before sampling's
    ``progress`` starts); with ``stage``, ``progress`` also counts each pilot round's
    steps (the stage says which count it is). ``snapshots`` (``store/snapshots.py``),
    if given, keeps the sampling's progress so a stopped run resumes; it is bound to the
    spec as resolved.
    """
    import jax

    from lambda_hat.analysis import summary
    from lambda_hat.numerics.estimator import llc_trace
    from lambda_hat.numerics.samplers import get as get_sampler
    from lambda_hat.numerics.samplers.driver import Schedule

    L0 = float(jax.jit(posterior.full_loss)(posterior.w_star))  # in this run's precision
    step = None
    pilot_steps = progress if stage is not None else None  # a count needs its stage named
    stage = stage or (lambda text: None)
    pilot = snapshots.part("pilot") if snapshots is not None else None
    starts = {}
    if spec.sampler == "sgld":
        spec, step, ends = _sgld_step(posterior, spec, tune_on, stage, pilot, pilot_steps)
        if ends is not None:  # start = "pilot": where the step pilot's chains are
            starts = {"start": ends}
    stage(_sampling_stage(spec))
    if snapshots is not None:
        snapshots = snapshots.with_context(spec=to_dict(spec))
    auto = None
    if spec.draws == "auto":
        from lambda_hat.analysis.budget import Budget
        from lambda_hat.config.specs import AUTO_FIRST_DRAWS

        auto = Budget(AUTO_FIRST_DRAWS, spec.max_draws, L0, posterior.n_beta)
    result = get_sampler(spec.sampler).sample(
        jax.random.PRNGKey(spec.seed),
        posterior,
        spec.params,
        Schedule(
            spec.chains,
            spec.burnin,
            spec.max_draws if auto else spec.draws,
            spec.thin,
            spec.trace_params,
            progress,
            spec.llc_trace,
            checks=auto.points if auto else (),
            stop=auto,
            snapshots=snapshots,
        ),
        **starts,
    )
    check_finite(spec, result)
    if step:  # the curvature's Hessian-vector products are tuning work, shared by chains
        share = step["fges"] / spec.chains
        result = result._replace(
            fges_per_chain=result.fges_per_chain + share,
            warmup_fges_per_chain=result.warmup_fges_per_chain + share,
        )
    llc = llc_trace(result.loss, L0, posterior.n_beta)
    summ = summary.summarize(llc)
    warnings = summary.warnings_for(summ, dict(result.stats))
    if step and step["bias"]["biased"]:
        warnings.append(_bias_warning(spec, step["bias"]))
    if step and not step.get("auto", {}).get("typical", {}).get("settled", True):
        warnings.append(
            f"step_size = 'auto' was still being lowered after its last pilot round (to "
            f"{spec.params.step_size:.3g}): the chains meet ever stiffer curvature away "
            "from w*, so λ̂ may be biased upward; compare with NUTS (lambda-hat tune) or "
            "give a smaller step_size."
        )
    budget = auto.record() if auto else None
    if budget and budget["verdict"] != "converged":
        from lambda_hat.analysis.budget import trust

        reasons = "; ".join(trust(budget["checks"][-1])["reasons"])
        warnings.append(
            f"draws = 'auto' reached its cap, max_draws = {spec.max_draws}, unconverged "
            f"({reasons}); raise max_draws or thin, or change the sampler's settings."
        )
    resumed = snapshots.record() if snapshots is not None else None
    return Estimate(result, llc, summ, warnings, L0, posterior.n_beta, budget, step, spec, resumed)


def _sampling_stage(spec: RunSpec) -> str:
    """What the sampler is about to do, with SGLD's resolved step and thinning."""
    if spec.sampler != "sgld":
        pilot = getattr(spec.params, "start", None) == "dispersed"
        return ("SGLD pilot for the dispersed start, " if pilot else "") + "warm-up and sampling"
    return (
        f"sampling: ε = {spec.params.step_size:.3g}, thin = {spec.thin:,}, "
        f"burn-in {spec.burnin:,} draws"
    )


def _sgld_step(
    posterior, spec: RunSpec, tune_on, stage=lambda text: None, pilot=None, progress=None
):
    """``spec`` with SGLD's step and thin resolved, and the record of how (analysis.json
    ``sgld_step``): the curvature at w*, the step's bias bound, the auto choices.

    ``step_size = "auto"`` is chosen on ``tune_on`` when given (a checkpoint's runs pass
    their training's last checkpoint); the bias bound is always this posterior's.
    ``pilot`` (``store/snapshots.py``), if given, keeps the step-size pilot's progress;
    ``progress(done, total)``, if given, hears of each pilot round's steps.
    Also returns where the chains start: the pilot's chain ends for ``start = "pilot"``
    (which has spent the burn-in's 1/γ, so a capped thin does not lengthen it), else
    None (w*).
    """
    import dataclasses

    from lambda_hat.config.specs import AUTO_THIN_BURNIN
    from lambda_hat.numerics import step_size as rule

    stage("step size: curvature at w*")
    here = rule.examine(posterior, spec.params, spec.seed)
    record = {"curvature": here, "fges": here["fges"]}
    step, ends = spec.params.step_size, None
    if step == "auto":
        on = posterior if tune_on is None else tune_on
        basis = here if tune_on is None else rule.examine(tune_on, spec.params, spec.seed)
        step = rule.auto_step(basis)
        record["auto"] = {"step_size": step, "rule": rule.RULE, "chosen_on": basis}
        if tune_on is not None:
            record["fges"] += basis["fges"]
        if spec.params.runs_pilot:
            step, typical, ends = rule.typical_step(
                on,
                spec.params,
                step,
                basis,
                spec.chains,
                spec.seed,
                report=stage,
                saved=pilot,
                progress=progress,
                continued=spec.params.start == "pilot",
            )
            record["auto"].update(step_size=step, at_w_star=record["auto"]["step_size"])
            record["auto"]["typical"] = typical
            record["fges"] += typical["fges"]
        spec = dataclasses.replace(spec, params=dataclasses.replace(spec.params, step_size=step))
    else:
        basis = here
    if spec.params.start == "pilot":
        elsewhere = tune_on is not None and not np.array_equal(
            np.asarray(tune_on.w_star), np.asarray(posterior.w_star)
        )  # the last checkpoint's own runs sample where its pilot ended
        ends, record["start"] = _pilot_start(posterior, ends, elsewhere)
    else:
        ends = None
    if spec.thin == "auto":
        thin = record["thin_auto"] = rule.auto_thin(step, basis, spec.localization)
        spec = dataclasses.replace(spec, thin=thin["thin"])
        if thin["capped"] and spec.burnin == AUTO_THIN_BURNIN and ends is None:
            spec = dataclasses.replace(spec, burnin=thin["burnin_draws"])  # keeps its 1/γ
    record["step_size"] = step
    record["bias"] = rule.bias_bound(step, here, spec.params.scheme)
    return spec, record, ends


def _pilot_start(posterior, ends, elsewhere: bool):
    """``start = "pilot"``: the pilot's chain ends and the record of them, or None (w*)
    and why: the pilot ran on another posterior (a training run's last checkpoint), or
    its last round diverged."""
    if elsewhere:
        return None, {
            "kind": "w_star",
            "why": "the step pilot ran on the training run's last checkpoint",
        }
    if ends is None:  # typical_step keeps no chains of a round that diverged
        return None, {"kind": "w_star", "why": "the step pilot's last round diverged"}
    w_star = np.asarray(posterior.w_star, np.float64)
    distance = np.linalg.norm(np.asarray(ends, np.float64) - w_star, axis=1)
    return ends, {"kind": "pilot", "distance_from_w_star": [float(d) for d in distance]}


def _bias_warning(spec: RunSpec, bias: dict) -> str:
    fix = f"use step_size = 'auto' or at most {bias['largest_unbiased_step']:.2g}."
    if bias.get("scheme", "euler") == "euler":
        return (
            f"step_size {spec.params.step_size:.3g} inflates the posterior's variance by "
            f"about {bias['bias_bound']:.0%} in its stiffest direction at w* (more than "
            f"{bias['threshold']:.0%}), so λ̂ is likely biased upward; {fix}"
        )
    return (
        f"step_size {spec.params.step_size:.3g} is ε·h_max/4 = {bias['bias_bound']:.0%} in "
        f"the posterior's stiffest direction at w* (more than {bias['threshold']:.0%}): the "
        "Leimkuhler–Matthews scheme is exact only where the posterior is Gaussian, and "
        f"at such a step its remaining bias is not controlled; {fix}"
    )


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
