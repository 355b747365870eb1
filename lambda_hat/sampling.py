"""Sample a posterior and estimate λ̂: the one path both ``lambda-hat run`` (via the
runner) and ``lh.estimate`` take, so the two give the same numbers for the same inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from lambda_hat.config.specs import RunSpec, to_dict
from lambda_hat.errors import ModelError, SamplerDivergedError


class Estimate(NamedTuple):
    """A sampled posterior's λ̂ and what it rests on."""

    result: Any  # the sampler's SampleResult (losses, stats, FGEs, positions)
    llc: np.ndarray  # (chains, draws) per-draw nβ (L_n(w_t) − L0)
    summary: dict  # llc_mean, llc_std, llc_mcse, ess, rhat, drift, ...
    warnings: list[str]
    L0: float
    n_beta: float
    budget: dict | None = None  # draws = "auto": the verdict and every check
    prepared: dict | None = None  # the sampler's preparation record (``<sampler>_step``)
    spec: RunSpec | None = None  # the spec as run: SGLD's auto step and thin resolved (and
    # its default burn-in lengthened where thin = "auto" hit its cap)
    resumed: dict | None = None  # where an earlier attempt's saved progress was taken up
    trust: dict | None = None  # the verdict (analysis/budget.py ``trust``) and its reasons
    time_budget: dict | None = None  # max_time: the budget and what it ended early
    observed_at_w_star: dict | None = None  # observe: each dataset's losses at w* (rows[, T])


class Restriction(NamedTuple):
    """A weight-restricted run (``restrict``): the flat coordinates it moves (sorted),
    the full w* every other coordinate stays at, and the parameter leaves it moves."""

    indices: np.ndarray  # (k,) int64
    w_star: np.ndarray  # (p,) in the run's precision
    names: tuple = ()  # the moved leaves' names

    @classmethod
    def of(cls, leaves: tuple, patterns: tuple, w_star, where: str) -> Restriction:
        """The restriction ``patterns`` make of the model's ``leaves`` ((name, size), in
        the flat vector's order; ``targets/restrict.select`` refuses a bad one)."""
        from lambda_hat.targets.restrict import select, selected_names

        indices = select(leaves, patterns, where)
        return cls(indices, np.asarray(w_star), tuple(selected_names(leaves, patterns)))

    def embed(self, positions):
        """Draws of the k moved coordinates, (..., k), as full vectors (..., p)."""
        if positions is None:
            return None
        out = np.broadcast_to(self.w_star, (*positions.shape[:-1], self.w_star.size)).copy()
        out[..., self.indices] = positions
        return out


def posterior_of(apply_flat, loss: str, x, y, w_star, spec: RunSpec, keep=None):
    """The run's posterior: X, Y and w* cast on the host to ``spec.precision`` (a
    device-side cast compiles a program per array shape). ``keep``: the flat indices a
    weight-restricted run moves; its posterior is then over those coordinates alone,
    the others held at ``w_star`` (so every sampler samples it as it is)."""
    import jax.numpy as jnp

    from lambda_hat.numerics.loss import has_mask, make_loss, make_row_loss
    from lambda_hat.numerics.posterior import make_posterior
    from lambda_hat.targets.arrays import cast

    host = np.dtype(spec.precision)  # "float32" | "float64"
    x, y = (jnp.asarray(a) for a in cast(x, y, host))
    w = jnp.asarray(np.asarray(w_star, host))
    loss_fn = make_loss(apply_flat, loss, has_mask(loss, y))
    rows = make_row_loss(apply_flat, loss)
    posterior = make_posterior(
        loss_fn, (x, y), w, spec.inverse_temperature, spec.localization, rows
    )
    return posterior if keep is None else posterior.restricted(keep)


def sample_llc(
    posterior,
    spec: RunSpec,
    progress: Callable[[int, int], None] | None = None,
    tune_on=None,
    stage: Callable[[str], None] | None = None,
    snapshots=None,
    observe: tuple = (),
    restriction: Restriction | None = None,
) -> Estimate:
    """Run ``spec``'s sampler on ``posterior`` (built in ``spec.precision``).

    The sampler's definition (lambda_hat/samplers) prepares it first (SGLD: its step,
    thinning and start), on ``tune_on`` where given: a checkpoint's runs pass their
    training's last checkpoint, so one training run's checkpoints share one step, as the
    field recommends. ``stage(text)``, if given, is told what the run does next (SGLD's
    step pilots can take minutes before sampling's ``progress`` starts); with ``stage``,
    ``progress`` also counts each pilot round's steps (the stage says which count it
    is). ``snapshots`` (``store/snapshots.py``), if given, keeps the preparation's and
    the sampling's progress so a stopped run resumes; it is bound to the spec as
    resolved. ``observe``: ((name, (x, y)), ...) datasets, cast like the posterior's,
    whose per-row losses are recorded at every kept draw (``result.observed``).
    ``restriction``: a weight-restricted run's (``posterior`` is over its moved
    coordinates), so kept positions come back as full parameter vectors.
    """
    import jax

    from lambda_hat.samplers.kind import Context
    from lambda_hat.samplers.registry import sampler

    definition = sampler(spec.sampler)
    time_left = _clock(spec.max_time)
    L0 = posterior.loss_at_w_star()  # in this run's precision
    if not np.isfinite(L0):  # no step size would help: say where it comes from
        raise ModelError(
            f"the loss at w* is {float(L0)}: the model's outputs at w* are not finite "
            "(check w*'s values and what apply computes from them); nothing was sampled"
        )
    pilot_steps = progress if stage is not None else None  # a count needs its stage named
    stage = stage or (lambda text: None)
    saved = snapshots.part("pilot") if snapshots is not None else None
    context = Context(posterior, spec, tune_on, stage, saved, pilot_steps, time_left)
    prepared = definition.prepare(context)
    original, spec = spec, prepared.spec
    stage(definition.stage(spec))
    if snapshots is not None:
        snapshots = snapshots.with_context(spec=to_dict(spec))
    auto = _budget(spec, L0, posterior.n_beta)
    result = definition.sample(
        jax.random.PRNGKey(spec.seed),
        posterior,
        spec.params,
        _schedule(spec, progress, auto, snapshots, tuple(observe), time_left),
        **prepared.starts,
    )
    check_finite(spec, result, written=_written_step(original), cut=prepared.cut)
    result = _completed(result, prepared.fges / spec.chains, restriction)
    est = _estimate(result, spec, prepared, auto, L0, posterior.n_beta, snapshots)
    return est._replace(observed_at_w_star=_at_w_star(posterior, observe))


def _completed(result, share: float, restriction):
    """The sampler's result with each chain's ``share`` of the preparation's work (e.g.
    Hessian-vector products) counted, and a restricted run's positions made whole."""
    if restriction is not None:
        result = result._replace(positions=restriction.embed(result.positions))
    if not share:
        return result
    return result._replace(
        fges_per_chain=result.fges_per_chain + share,
        warmup_fges_per_chain=result.warmup_fges_per_chain + share,
    )


def _at_w_star(posterior, observe: tuple) -> dict | None:
    """{name: losses at w*} of the observed datasets, measured on the same rows as the
    draws' (the baseline per-component susceptibilities need), or None."""
    if not observe:
        return None
    import jax

    at = jax.jit(posterior.observed)
    return {name: np.asarray(at(posterior.w_star, data)) for name, data in observe}


def _clock(max_time: float | None):
    """``time_left()``: seconds left of ``max_time`` from now, or None (no budget)."""
    if max_time is None:
        return None
    import time

    end = time.monotonic() + max_time
    return lambda: end - time.monotonic()


def _time_budget(spec: RunSpec, result, prepared) -> tuple[dict | None, list, list]:
    """``max_time``'s record (analysis.json ``time_budget``), what it cut that makes the
    verdict ``not converged`` (the preparation or the burn-in), and a warning where it
    ended the kept draws only."""
    if spec.max_time is None:
        return None, [], []
    from lambda_hat.fields import duration_text

    budget = f"max_time = {duration_text(spec.max_time)}"
    cut, record = result.cut or {}, {"max_time": spec.max_time, **(result.cut or {})}
    reasons = []
    if prepared.cut:
        record["preparation"] = prepared.cut
        reasons.append(f"{budget} ended {prepared.cut}")
    if "burnin" in cut:
        done, planned = cut["burnin"]
        reasons.append(f"{budget} ended burn-in at {done:,} of {planned:,} draws")
    warnings = []
    if "draws" in cut:
        upto = "up to " if spec.draws == "auto" else ""
        warnings.append(
            f"{budget} ended sampling at {cut['draws'][0]:,} of {upto}{cut['draws'][1]:,} "
            "draws; λ̂ and its verdict are those of the draws it kept."
        )
    return record, reasons, warnings


def _budget(spec: RunSpec, L0: float, n_beta: float):
    """``draws = "auto"``: the convergence checks that decide when to stop, else None."""
    if spec.draws != "auto":
        return None
    from lambda_hat.analysis.budget import Budget
    from lambda_hat.config.specs import AUTO_FIRST_DRAWS

    return Budget(AUTO_FIRST_DRAWS, spec.max_draws, L0, n_beta or 1.0)  # nβ = 0: L's trace


def _schedule(spec: RunSpec, progress, auto, snapshots, observe=(), time_left=None):
    from lambda_hat.numerics.samplers.driver import Schedule

    return Schedule(
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
        observe=observe,
        time_left=time_left,
    )


def _estimate(result, spec, prepared, auto, L0, n_beta, snapshots) -> Estimate:
    """λ̂, its summary and every warning, from the sampler's result."""
    from lambda_hat.analysis import summary
    from lambda_hat.numerics.estimator import llc_trace
    from lambda_hat.samplers.registry import sampler
    from lambda_hat.store.trust import judge

    llc = llc_trace(result.loss, L0, n_beta)
    summ = summary.summarize(llc) if n_beta else _prior_summary(result.loss, L0)
    warnings = summary.warnings_for(summ, dict(result.stats)) + list(prepared.warnings)
    loss = np.asarray(result.loss, np.float64)
    if loss.size > 1 and np.ptp(loss) <= 1e-12 * max(1.0, abs(float(L0))):
        warnings.append(
            "The loss never changed while the parameters moved, so λ̂ is 0 by construction: "
            "does the model's output depend on its parameters (apply(params, x) using "
            "params, not arrays from outside)?"
        )
    timed_out = "draws" in (result.cut or {})  # max_time ended sampling: its own warning
    budget = auto.record(llc.shape[1] if timed_out else None) if auto else None
    if budget and budget["verdict"] != "converged" and not timed_out:
        reasons = "; ".join(judge(budget["checks"][-1]).reasons)
        warnings.append(
            f"draws = 'auto' reached its cap, max_draws = {spec.max_draws}, unconverged "
            f"({reasons}); raise max_draws or thin, or change the sampler's settings."
        )
    resumed = snapshots.record() if snapshots is not None else None
    record = prepared.record
    timed, cut, said = _time_budget(spec, result, prepared)
    warnings += said
    transitions = spec.chains * llc.shape[1] * spec.thin  # the sampling steps of each chain
    bias = sampler(spec.sampler).bias(record, dict(result.stats))
    divergences = dict(result.stats).get("divergences")
    verdict = judge(summ, bias, divergences, transitions, tuple(cut)).to_json()
    return Estimate(
        result, llc, summ, warnings, L0, n_beta, budget, record, spec, resumed, verdict, timed
    )


def _prior_summary(loss: np.ndarray, L0: float) -> dict:
    """nβ = 0 (the prior alone): λ̂ is 0 by definition; ESS, R-hat and drift are those
    of the loss trace, which the observed losses' covariances are estimated along."""
    from lambda_hat.analysis import summary

    summ = summary.summarize(loss - L0)
    zero = {"llc_mean": 0.0, "llc_std": 0.0, "llc_draw_std": 0.0, "llc_mcse": 0.0}
    per_chain = [0.0] * loss.shape[0]
    return {
        **summ,
        **zero,
        "llc_per_chain": per_chain,
        "first_quarter_mean": None,
        "last_quarter_mean": None,
    }


def _written_step(spec: RunSpec) -> bool:
    """Whether the entry gave the step a number (not "auto", not left to adaptation)."""
    return isinstance(getattr(spec.params, "step_size", None), float)


def check_finite(spec: RunSpec, result, written: bool = True, cut: str | None = None) -> None:
    """A run whose chains went non-finite fails, saying what to change: a written step,
    or why an automatic one was too large (``cut``: what a time budget cut of the
    preparation that checks the step where the chains go)."""
    bad = result.first_nonfinite_step
    if bad is None and np.all(np.isfinite(result.loss)):
        return
    where = f"at step {bad}" if bad is not None else "in a recorded loss"
    step = getattr(spec.params, "step_size", None)
    if not isinstance(step, float):
        hint = "lower the step size or check the target"
    elif written:
        hint = f"lower step_size (now {step:g}), e.g. to {step / 10:g}"
    elif cut:
        hint = (
            f"the automatic step {step:.3g} was too large where the chains went, and the "
            f"time budget cut {cut}, which checks it there: give max_time more time, or "
            f"write step_size = {step / 10:.2g}"
        )
    else:
        hint = (
            f"the automatic step {step:.3g} was too large where the chains went: write "
            f"step_size = {step / 10:.2g}, or check the target"
        )
    raise SamplerDivergedError(
        f"sampler {spec.sampler!r} diverged {where}: the loss became NaN/inf. Suggestion: {hint}."
    )
