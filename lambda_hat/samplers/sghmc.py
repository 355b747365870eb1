"""``name = "sghmc"``: minibatch underdamped Langevin dynamics (BAOAB).

Unadjusted like SGLD, but with a velocity: the directions only the localization holds
relax in ~1/√γ of Langevin time at a step ~1/√h_max, so it needs about √(h_max/γ)
steps where SGLD needs h_max/γ (numerics/samplers/sghmc.py). By default the friction,
the step, the thinning and the run length set themselves; the step from the curvature
and the minibatch noise at w*, checked by a short pilot where the chains go
(numerics/underdamped.py), which also places the chains' start.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from lambda_hat.errors import ConfigError
from lambda_hat.fields import check
from lambda_hat.samplers.kind import Context, Prepared, Sampler, Work, transitions
from lambda_hat.samplers.sgld import MINIBATCH, floor_notes
from lambda_hat.samplers.time_budget import pilot_stop, thin_warnings, thin_within

PILOT_TIME = 2.0  # a pilot round, in units of the slowest relaxation time
PILOT_ROUNDS = 3


@dataclass(frozen=True)
class SGHMCParams:
    """Minibatch underdamped Langevin dynamics, BAOAB splitting, unit mass.

    ``friction`` ``"auto"``: four times 2√γ (critical damping of the localized
    directions), raised where the batch cannot grow enough. ``step_size`` ``"auto"``:
    the smaller of 0.25/√h_max (h_max: the posterior's stiffest curvature) and the step
    whose minibatch noise heats the chains by 0.5%; ``batch_size`` ``"auto"``: where the
    two meet (at most 2,048 rows). All three are chosen at w*, then again where up to
    three pilot rounds of twice the slowest relaxation time take the chains; sampling
    starts where the pilot's chains end. A number is used as given; the step's heating
    and stability are recorded either way, and a step over either bound (at w* or where
    the chains ended) makes the verdict ``step-size biased``.
    """

    step_size: float | Literal["auto"] = field(
        default="auto",
        metadata=check(
            gt=0.0,
            help="integration step; 'auto' (the default): from the curvature and the "
            "minibatch noise at w*, checked where pilot chains go",
        ),
    )
    friction: float | Literal["auto"] = field(
        default="auto",
        metadata=check(
            gt=0.0,
            help="ξ; 'auto' (the default): 4 × 2√γ, more where the batch is capped",
        ),
    )
    batch_size: int | Literal["auto"] = field(
        default="auto",
        metadata=check(
            ge=1,
            help="minibatch size (<= n); 'auto' (the default): the smallest whose heating "
            "at the stable step is 0.5%, up to n",
        ),
    )


def resolve(params: SGHMCParams, n_data: int, where: str, target: str) -> SGHMCParams:
    """A written batch above n is refused (it would run silently as a full batch)."""
    if params.batch_size == "auto" or params.batch_size <= n_data:
        return params
    raise ConfigError(
        f"{where}.batch_size: {params.batch_size} is more than {target}'s n_data = "
        f"{n_data}; give batch_size <= {n_data} or leave it out ('auto')"
    )


def stage(spec) -> str:
    p = spec.params
    return (
        f"sampling: ε = {p.step_size:.3g}, ξ = {p.friction:.3g}, batch {p.batch_size:,}, "
        f"thin = {spec.thin:,}, burn-in {spec.burnin:,} draws"
    )


def work(spec, n_data: int) -> Work:
    """A written step and batch's steps (with ``thin = "auto"``, a written friction's
    relaxation time too: an automatic one may rise with the noise); otherwise they are
    set when it runs."""
    params = spec.params
    unknown = params.step_size == "auto" or params.batch_size == "auto"
    if unknown or (spec.thin == "auto" and params.friction == "auto"):
        return Work(why="set when it runs, from the curvature and noise at w* and its pilot")
    thin = None
    if spec.thin == "auto":
        from lambda_hat.numerics.underdamped import auto_thin

        thin = auto_thin(params.step_size, params.friction, spec.localization)["thin"]
    steps = transitions(spec, thin=thin)
    batch = min(params.batch_size, n_data)
    return Work(steps, tuple(t * batch / n_data for t in steps))


def prepare(ctx: Context) -> Prepared:
    """Step, friction, batch, thinning and start (``numerics/underdamped.py``); the
    record (analysis.json ``sghmc_step``) says how each was chosen."""
    from lambda_hat.numerics import underdamped as rule

    spec, posterior = ctx.spec, ctx.posterior
    params, n = spec.params, posterior.n
    ctx.stage("step size: curvature and minibatch noise at w*")
    h_max, noise = _at_w_star(posterior, spec.seed)
    friction = None if params.friction == "auto" else params.friction
    batch = None if params.batch_size == "auto" else min(params.batch_size, n)
    γ = posterior.localization

    def chosen_by(h: float, sigma2: float) -> tuple:
        return rule.choose(h, sigma2, n, γ, friction, batch)

    settings = chosen_by(h_max["h_max"], noise["noise"])
    record = {"curvature": h_max, "noise": noise, "fges": h_max["fges"] + noise["fges"]}
    starts = {}
    if params.step_size == "auto":
        settings, starts = _pilot(ctx, settings, chosen_by, record)
    else:
        settings = (params.step_size, *settings[1:])
    step, friction, batch = settings
    pace = _take_pace(record, batch)  # out of the record: this machine's clock
    if spec.thin == "auto":
        thin = record["thin_auto"] = rule.auto_thin(step, friction, γ)
        budget = thin_within(thin["thin"], pace, ctx.time_left)
        if budget:
            thin["budget"] = budget
        spec = dataclasses.replace(spec, thin=(budget or thin)["thin"])
    record.update(step_size=step, friction=friction, batch_size=batch)
    at_batch = rule.noise_at(noise["noise"], batch, n)
    record["bias"] = rule.bias_bound(step, h_max["h_max"], at_batch, friction)
    params = dataclasses.replace(params, step_size=step, friction=friction, batch_size=batch)
    spec = dataclasses.replace(spec, params=params)
    rounds = (record.get("auto") or {}).get("pilot") or [{}]
    cut = rounds[-1].get("cut_by_time") and (
        f"the step pilot at {rounds[-1]['steps']:,} of {rounds[-1]['steps_planned']:,} steps"
    )
    return Prepared(spec, record, starts, record["fges"], _warnings(spec, record), cut or None)


def _at_w_star(posterior, seed: int) -> tuple[dict, dict]:
    """The curvature at w* (``step_size.examine``, BOUND_ROWS rows) and the minibatch
    noise there (``underdamped.gradient_noise``): what the automatic settings start from."""
    from lambda_hat.numerics import step_size as curvature
    from lambda_hat.numerics import underdamped as rule

    h_max = curvature.examine(posterior, _plain(), seed, curvature.BOUND_ROWS)
    return h_max, rule.gradient_noise(posterior, rule.noise_rows(posterior.n), seed=seed)


def measure(posterior, spec) -> dict:
    """``prepare``'s figures at w*, before the run (``--measure``)."""
    h_max, noise = _at_w_star(posterior, spec.seed)
    return {"h_max": float(h_max["h_max"]), "noise": float(noise["noise"])}


def measured_work(spec, n_data: int, figures: dict) -> Work:
    """An automatic run's work once w*'s curvature and noise are known: the settings
    chosen there, its pilot's first round, and the burn-in and draws at their thin.
    Where the chains go the pilot usually lowers the step (36x on the truth suite's
    depth-5 DLN) and sampling takes more steps: these counts are the least the run
    takes."""
    params, written = spec.params, work(spec, n_data)
    if written.steps is not None:
        return written
    from lambda_hat.numerics import underdamped as rule

    friction = None if params.friction == "auto" else params.friction
    batch = None if params.batch_size == "auto" else min(params.batch_size, n_data)
    γ = spec.localization
    step, friction, batch = rule.choose(
        figures["h_max"], figures["noise"], n_data, γ, friction, batch
    )
    pilot = 0
    if params.step_size == "auto":
        pilot = rule.span_steps(PILOT_TIME, step, friction, γ)
    else:
        step = params.step_size
    thin = rule.auto_thin(step, friction, γ)["thin"] if spec.thin == "auto" else None
    steps = transitions(spec, before=pilot, thin=thin)
    note = f"at least: ε = {step:.2g}, batch {batch:,} at w*; its pilot may lower it"
    return Work(steps, tuple(t * batch / n_data for t in steps), note=note)


def _plain():
    """The settings ``step_size.examine`` reads: no preconditioner."""
    from lambda_hat.samplers.sgld import SGLDParams

    return SGLDParams(step_size=1.0)


def _pilot(ctx: Context, start: tuple, chosen_by, record: dict):
    """The automatic step: w*'s choice ``start`` = (step, friction, batch) checked by
    the pilot; ``(settings, starts)``."""
    from lambda_hat.numerics import underdamped as rule
    from lambda_hat.numerics.samplers import sghmc

    spec, posterior = ctx.spec, ctx.posterior
    who = (spec.chains, spec.seed, PILOT_TIME, PILOT_ROUNDS, pilot_stop(ctx.time_left))
    hear = {"saved": ctx.saved, "report": ctx.stage, "progress": ctx.progress}
    settings, rounds, ends = sghmc.pilot(posterior, start, chosen_by, *who, **hear)
    record["auto"] = {"rule": rule.RULE, "at_w_star": list(start), "pilot": rounds}
    record["fges"] += sum(spec.chains * r["fges"] for r in rounds)
    return settings, ({"start": ends} if ends is not None else {})


def _take_pace(record: dict, batch: int) -> float | None:
    """Seconds per step at ``batch``, from the pilot's last round (its time scaled by
    the batch), or None (no pilot ran, or its last round was resumed at its end). The
    rounds' paces, this machine's clock, leave the record: what is stored is the same on
    every machine and attempt."""
    rounds = (record.get("auto") or {}).get("pilot")
    if not rounds:
        return None
    paces = [r.pop("seconds_per_step") for r in rounds]
    return None if paces[-1] is None else paces[-1] * batch / rounds[-1]["batch_size"]


def _warnings(spec, record: dict) -> list[str]:
    bias, out = record["bias"], thin_warnings(record)
    last = ((record.get("auto") or {}).get("pilot") or [{}])[-1]
    if last.get("cut_by_time"):
        out.append(
            f"max_time ended the step pilot after {last['steps']:,} of its "
            f"{last['steps_planned']:,} steps: the step ({spec.params.step_size:.3g}) and "
            "friction were not checked where the chains go, so λ̂ may be biased; give the "
            "run more time."
        )
    if not bias["biased"]:
        return out
    return out + [
        f"step_size {spec.params.step_size:.3g} is over its bound at w* ({bias['what']} "
        f"{bias['bias_bound']:.2g} > {bias['threshold']:.2g}), so λ̂ may be biased; use "
        f"step_size = 'auto' or at most {bias['largest_unbiased_step']:.2g}."
    ]


def bias(record: dict | None, stats: dict) -> dict | None:
    """The verdict's step check: the record's at w*, then both bounds where the chains
    ended (the minibatch heating over BIASED_ABOVE there, or ε·√h_max over
    STABLE_ABOVE: the chains met noise or curvature the step cannot follow)."""
    from lambda_hat.numerics.underdamped import BIASED_ABOVE, STABLE_ABOVE

    out = dict((record or {}).get("bias") or {})
    if not out or out["biased"]:
        return out or None
    heating = max(stats.get("heating_at_end") or [0.0])
    stability = max(stats.get("step_sqrt_h_max_at_end") or [0.0])
    if heating > BIASED_ABOVE:
        out.update(biased=True, bias_bound=heating, threshold=BIASED_ABOVE)
        out["what"] = "minibatch heating where the chains ended"
    elif stability > STABLE_ABOVE:
        out.update(biased=True, bias_bound=stability, threshold=STABLE_ABOVE)
        out["what"] = "ε·√h_max where the chains ended"
    return out


def notes(spec) -> list[str]:
    """A localization below the automatic rules' floor (said before the run starts)."""
    p = spec.params
    return floor_notes(spec, "auto" in (p.step_size, p.friction, spec.thin))


SAMPLER = Sampler(
    name="sghmc",
    params=SGHMCParams,
    help="minibatch underdamped Langevin (BAOAB); ~√ of SGLD's steps on stiff posteriors",
    defaults=MINIBATCH,  # SGLD's: with thin = "auto" a burn-in of twice the slowest
    # relaxation time (100 draws)
    numerics="lambda_hat.numerics.samplers.sghmc",
    stage=stage,
    auto_thin=True,
    llc_traces=("minibatch", "full"),
    resolve=resolve,
    prepare=prepare,
    record_key="sghmc_step",
    settings=(("step_size", "ε"), ("friction", "ξ"), ("batch_size", "batch")),
    work=work,
    measure=measure,
    measured_work=measured_work,
    bias=bias,
    notes=notes,
)
