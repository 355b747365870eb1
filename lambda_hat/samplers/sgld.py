"""``name = "sgld"``: minibatch stochastic-gradient Langevin dynamics.

Unadjusted, so its bias grows with the step: by default the step, the thinning and the
run length set themselves (``step_size``, ``thin`` and ``draws`` = ``"auto"``), the
step from the posterior's curvature and a pilot of short chains (the preparation
below, numerics/step_size.py), which also places the chains' start.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from lambda_hat.errors import ConfigError
from lambda_hat.fields import check
from lambda_hat.samplers import sgld_step
from lambda_hat.samplers.kind import (
    AUTO_MAX_DRAWS,
    Context,
    Defaults,
    Prepared,
    Sampler,
    Work,
    transitions,
)
from lambda_hat.samplers.sgld_step import AUTO_THIN_BURNIN

SCHEMES = ("leimkuhler-matthews", "euler")
STARTS = ("auto", "pilot", "w_star")


class _Unwritten(int):
    """An int default that a reader can tell from the same number written in a file
    (``batch_size``: the default is cut to a small n, a written value that exceeds n is
    refused). It hashes, compares and serializes as the plain int."""


DEFAULT_BATCH_SIZE = _Unwritten(256)


@dataclass(frozen=True)
class SGLDParams:
    """Minibatch SGLD with optional diagonal preconditioning (RMSProp or Adam).

    SGLD is unadjusted: its bias grows with ``step_size`` x nβ x curvature, so the step
    must shrink as n, depth and width grow. The default ``"auto"`` sets it from the
    posterior's stiffest curvature at w* (numerics/step_size.py: a 2% bound on Euler's
    variance bias in the stiffest direction), then, with the default scheme, lowers it
    to the curvature that pilot chains meet away from w* (ε·h/4 ≤ 0.25 there), with or
    without a preconditioner; a number is used as given, and its bias bound is recorded
    either way. ``precond_decay`` must be slow (0.9999): a fast one follows the chain's
    position and, lacking the Γ correction term, biases λ̂ upward (docs/truth.md).
    ``scheme``: the default Leimkuhler–Matthews noise (the mean of two consecutive draws)
    makes the stationary variance exact in Gaussian directions at any stable step;
    ``"euler"`` is the textbook step. ``start``: with the step pilot, sampling starts
    where its chains end (they have run 1/γ of Langevin time from w*), so a burn-in of
    1/γ is not paid twice.
    """

    step_size: float | Literal["auto"] = field(
        default="auto",
        metadata=check(
            gt=0.0,
            help="Langevin step size; 'auto' (the default): set from the posterior's "
            "curvature at w* and where pilot chains go",
        ),
    )
    batch_size: int = field(
        default=DEFAULT_BATCH_SIZE,
        metadata=check(ge=1, help="minibatch size (<= n; the default, 256, is clipped to n)"),
    )
    precond: str = field(default="none", metadata=check(choices=("none", "rmsprop", "adam")))
    precond_decay: float = field(
        default=0.9999, metadata=check(gt=0.0, lt=1.0, help="second-moment EMA decay")
    )
    momentum_decay: float = field(
        default=0.9, metadata=check(ge=0.0, lt=1.0, help="adam only: first-moment EMA decay")
    )
    precond_eps: float = field(default=1e-5, metadata=check(gt=0.0))
    scheme: str = field(
        default="leimkuhler-matthews",
        metadata=check(
            choices=SCHEMES,
            before="euler",
            help="'leimkuhler-matthews' (the default): the step's noise is the mean of "
            "this and the next step's draws, exact in Gaussian directions; 'euler': "
            "Welling & Teh's step, variance bias ~ε·h/4",
        ),
    )
    start: str = field(
        default="auto",
        metadata=check(
            choices=STARTS,
            before="w_star",
            help="where the chains start: 'pilot' (the default with step_size = 'auto' "
            "and the leimkuhler-matthews scheme) where the step-size pilot's chains end, "
            "after 1/γ of Langevin time, so the burn-in is not spent twice; 'w_star' "
            "(the default otherwise) at w*",
        ),
    )

    def __post_init__(self):  # "auto" is resolved here, so every reader sees the value
        if self.start == "auto":
            object.__setattr__(self, "start", "pilot" if self.runs_pilot else "w_star")

    @property
    def runs_pilot(self) -> bool:
        """Whether the step is chosen by pilot chains (``step_size = "auto"`` with the
        Leimkuhler–Matthews scheme: numerics/step_size.py ``typical_step``)."""
        return self.step_size == "auto" and self.scheme == "leimkuhler-matthews"


def check_entry(spec, where: str) -> None:
    """``start = "pilot"`` needs the step pilot that places it."""
    if spec.params.start == "pilot" and not spec.params.runs_pilot:
        raise ConfigError(
            f"{where}.start: 'pilot' starts the chains where the step-size pilot's "
            "chains end, and only step_size = 'auto' with scheme = "
            "'leimkuhler-matthews' runs that pilot; remove start or set it to 'w_star'"
        )


def resolve(params: SGLDParams, n_data: int, where: str, target: str) -> SGLDParams:
    """The default batch is cut to n (a full batch); a written one above n is refused,
    since it would run silently as a full batch."""
    if params.batch_size <= n_data:
        return params
    if not isinstance(params.batch_size, _Unwritten):
        raise ConfigError(
            f"{where}.batch_size: {params.batch_size} is more than {target}'s n_data = "
            f"{n_data}; give batch_size <= {n_data} ({n_data} is the full batch it ran "
            "with until now) or leave it out"
        )
    return dataclasses.replace(params, batch_size=n_data)


# SGLD (and SGHMC) budget themselves: they cannot know their mixing time before they
# run; a fixed thin keeps a 1000-draw burn-in, a thin = "auto" one of AUTO_THIN_BURNIN
# draws (SGLD: 1/γ of Langevin time)
MINIBATCH = Defaults(
    draws="auto",
    thin="auto",
    burnin=1000,
    precision="float32",
    llc_trace="minibatch",
    burnin_auto_thin=AUTO_THIN_BURNIN,
)


def stage(spec) -> str:
    return (
        f"sampling: ε = {spec.params.step_size:.3g}, thin = {spec.thin:,}, "
        f"burn-in {spec.burnin:,} draws"
    )


def floor_notes(spec, automatic: bool) -> list[str]:
    """A localization below GAMMA_FLOOR where an ``automatic`` rule takes its time scale
    from 1/γ: the rule uses the floor, which the user did not write."""
    from lambda_hat.numerics.langevin import GAMMA_FLOOR, THIN_MAX

    if not automatic or spec.localization >= GAMMA_FLOOR:
        return []
    return [
        f"localization = {spec.localization:g}: the automatic step, thin and burn-in span "
        f"times of 1/γ, which has no end at γ = 0, so they take γ = {GAMMA_FLOOR} (a draw "
        f"up to {THIN_MAX:,} steps: hours on a large network); give localization > 0, or "
        "write step_size, thin and burnin"
    ]


def notes(spec) -> list[str]:
    """A written step with ``thin = "auto"``: each kept draw spans a fixed Langevin time,
    so a small step makes every draw thousands of steps; said before the run starts. And
    a localization below the automatic rules' floor."""
    params = spec.params
    floor = floor_notes(spec, params.step_size == "auto" or spec.thin == "auto")
    if params.step_size == "auto" or spec.thin != "auto":
        return floor
    from lambda_hat.numerics.langevin import DRAW_TIME, THIN_MAX

    if params.precond != "none":  # its step's time depends on the preconditioner
        return floor + [
            f"step_size = {params.step_size:g} with thin = 'auto': each kept draw spans "
            f"{DRAW_TIME}/γ of Langevin time, up to {THIN_MAX:,} steps (set when the run "
            "starts, from the preconditioner); give thin = a number to choose"
        ]
    thin = written_thin(spec)
    if thin < 10:
        return floor
    draws = spec.draws if spec.draws != "auto" else spec.max_draws or AUTO_MAX_DRAWS
    upto = "" if spec.draws != "auto" else "up to "
    return floor + [
        f"step_size = {params.step_size:g} with thin = 'auto' makes each kept draw "
        f"{thin:,} steps ({DRAW_TIME}/γ of Langevin time), so {upto}{draws:,} draws are "
        f"{upto}{thin * draws:,} steps per chain; give thin = 1 (one step per draw) or "
        "another number to choose"
    ]


def written_thin(spec) -> int:
    """The steps a kept draw of ``thin = "auto"`` takes at a written step without a
    preconditioner: DRAW_TIME/γ of Langevin time, at most THIN_MAX."""
    from lambda_hat.numerics.langevin import THIN_MAX, steps_per_draw

    return min(THIN_MAX, steps_per_draw(spec.params.step_size, spec.localization))


def work(spec, n_data: int) -> Work:
    """Steps of a written step (a ``thin = "auto"`` turned into steps as ``notes`` says),
    each a minibatch of ``batch_size`` rows; an automatic step's pilot sets them when it
    runs."""
    params = spec.params
    if params.step_size == "auto":
        return Work(why="set when it runs, by its step pilot (≥ 1/γ of Langevin time)")
    thin = None
    if spec.thin == "auto":
        if params.precond != "none":
            return Work(why="set when it runs, from its preconditioner (thin = 'auto')")
        thin = written_thin(spec)
    steps = transitions(spec, thin=thin)
    return Work(steps, _fges(steps, params, n_data))


def measure(posterior, spec) -> dict:
    """h_max at w* from BOUND_ROWS of its rows: what an automatic step is made from."""
    from lambda_hat.numerics import step_size as rule

    return {
        "h_max": float(rule.examine(posterior, spec.params, spec.seed, rule.BOUND_ROWS)["h_max"])
    }


def measured_work(spec, n_data: int, figures: dict) -> Work:
    """An automatic step's work once h_max at w* is known: the step the curvature rule
    gives there, its pilot's first round (1/γ of Langevin time), and the burn-in and
    draws at that step's thin. The pilot may lower the step where its chains go, so
    these counts are the least the run takes."""
    params = spec.params
    if params.step_size != "auto" or params.precond != "none":
        return work(spec, n_data)
    from lambda_hat.numerics import step_size as rule
    from lambda_hat.numerics.langevin import THIN_MAX, steps_per_draw

    step = rule.auto_step({"h_max": figures["h_max"]})
    pilot = 0
    if params.runs_pilot:
        pilot = rule.pilot_steps(rule.TYPICAL_TIME, spec.localization, step)
    thin = None
    if spec.thin == "auto":
        thin = min(THIN_MAX, steps_per_draw(step, spec.localization))
    steps = transitions(spec, before=pilot, thin=thin)
    note = f"at least: ε = {step:.2g} at w*; its pilot may lower it"
    return Work(steps, _fges(steps, params, n_data), note=note)


def _fges(steps: tuple[int, int], params: SGLDParams, n_data: int) -> tuple[float, float]:
    """Full-gradient equivalents of ``steps`` minibatch steps (the batch cut to n)."""
    return tuple(t * min(params.batch_size, n_data) / n_data for t in steps)


def tunes_on_last_checkpoint(params: SGLDParams) -> bool:
    """An automatic step is chosen once per training run, at its last checkpoint."""
    return params.step_size == "auto"


def prepare(ctx: Context) -> Prepared:
    """The step (``"auto"``: the curvature at w*, then the pilot), the thinning and the
    start; the record (analysis.json ``sgld_step``) says how each was chosen."""
    spec, record, ends = sgld_step.resolve(ctx)
    starts = {"start": ends} if ends is not None else {}
    cut = sgld_step.pilot_cut(record)
    said = cut and f"the step pilot at {cut['steps']:,} of {cut['steps_planned']:,} steps"
    return Prepared(spec, record, starts, record["fges"], sgld_step.warnings(spec, record), said)


SAMPLER = Sampler(
    name="sgld",
    params=SGLDParams,
    help="minibatch SGLD; step, thinning and length set themselves by default",
    defaults=MINIBATCH,
    numerics="lambda_hat.numerics.samplers.sgld",
    stage=stage,
    auto_thin=True,
    llc_traces=("minibatch", "full"),
    check=check_entry,
    resolve=resolve,
    prepare=prepare,
    record_key="sgld_step",
    tunes_on_last_checkpoint=tunes_on_last_checkpoint,
    settings=(("step_size", "ε"), ("batch_size", "batch")),
    notes=notes,
    work=work,
    measure=measure,
    measured_work=measured_work,
)
