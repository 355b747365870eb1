"""Typed, frozen specs for Stage A (targets) and Stage B (runs).

A spec is *resolved*: every default filled in and every number of its declared type, so
its canonical JSON (and thus its ID) depends only on what it means, not how it was typed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal

from lambda_hat.config.fields import build, check
from lambda_hat.errors import ConfigError
from lambda_hat.targets.kind import Origin
from lambda_hat.targets.network import NetworkSpec
from lambda_hat.targets.teacher import TeacherDataSpec

PRECISIONS = ("float32", "float64")
# How the per-draw loss of the llc trace is obtained (see numerics/samplers/driver.py).
LLC_TRACES = ("minibatch", "full")


# The built-in network and its teacher data keep their old names: the kinds live in
# lambda_hat/targets (one module each), these are two of them.
ModelSpec = NetworkSpec
DataSpec = TeacherDataSpec


@dataclass(frozen=True)
class TrainingSpec:
    """How w* is found: optax training from a random init, or the teacher itself."""

    optimizer: str = field(default="adam", metadata=check(choices=("adam", "adamw", "sgd")))
    learning_rate: float = field(default=0.01, metadata=check(gt=0.0))
    steps: int = field(default=2000, metadata=check(ge=0))
    batch_size: int | None = field(
        default=None, metadata=check(ge=1, help="minibatch size; omit for full batch")
    )
    init: str = field(
        default="random",
        metadata=check(
            choices=("random", "teacher", "given"),
            help="teacher: w* is the teacher; given: w* is a python factory's params "
            "(both: no training)",
        ),
    )
    weight_decay: float = field(
        default=0.0, metadata=check(ge=0.0, omit_default=True, help="adamw only: decoupled")
    )
    checkpoints: tuple[int, ...] = field(
        default=(),
        metadata=check(
            ge=0,
            hashed=False,
            help="steps at which w is kept as a target of its own (λ̂ over training); "
            "with init = 'given': the steps of your own training, each one's w* from "
            "the python model's factory(step=...)",
        ),
    )
    # which checkpoint this target is (set when the file is read); the list above is not
    # hashed, so adding a checkpoint keeps the IDs of the others
    at_step: int | None = field(default=None, metadata=check(ge=0, omit_default=True))


@dataclass(frozen=True)
class TargetSpec:
    """Stage A: everything that determines a target's data and w*."""

    model: object  # a model kind's spec (lambda_hat/targets)
    data: object  # a data kind's spec
    training: TrainingSpec
    seed: int
    precision: str = "float64"
    # set when the file is read, for a model from user code: the digest of the
    # parameters its factory returned for this target (seed, step), so what it loads
    # from files is part of the ID; empty (and not hashed) for the built-in kinds
    params_sha256: str = field(default="", metadata=check(omit_default=True))

    def origin(self, check_content: bool = True) -> Origin:
        """What a model kind builds this target's model for (see ``targets/kind.py``);
        ``check_content=False`` where only ``apply`` is wanted (a run of a stored target)."""
        given = self.training.init == "given"
        return Origin(
            seed=self.seed,
            step=self.training.at_step if given else None,
            params_sha256=self.params_sha256 if check_content else "",
            precision=self.precision,
        )


# ---- Stage B ---------------------------------------------------------------------------


class _Unwritten(int):
    """An int default that a reader can tell from the same number written in a file
    (``SGLDParams.batch_size``: the default is clipped to a small n, a written value that
    exceeds n is refused). It hashes, compares and serializes as the plain int."""


DEFAULT_BATCH_SIZE = _Unwritten(256)

SGLD_SCHEMES = ("leimkuhler-matthews", "euler")
SGLD_STARTS = ("auto", "pilot", "w_star")


@dataclass(frozen=True)
class SGLDParams:
    """Minibatch SGLD with optional diagonal preconditioning (RMSProp or Adam).

    SGLD is unadjusted: its bias grows with ``step_size`` x nβ x curvature, so the step
    must shrink as n, depth and width grow. The default ``"auto"`` sets it from the
    posterior's stiffest curvature at w* (lambda_hat/numerics/step_size.py: a 2% bound
    on Euler's variance bias in the stiffest direction), then, with the default scheme,
    lowers it to the curvature that pilot chains meet away from w* (ε·h/4 ≤ 0.25 there),
    with or without a preconditioner;
    a number is used as given, and its bias bound is recorded either way. Evidence
    (docs/truth.md, n = 2000, γ = 1): a fixed 3e-5 was within ±1.5% of HMC on a
    100-parameter regular model and an 800-parameter DLN, while 1e-4 was +76% on the
    latter. ``precond_decay`` must be slow (0.9999): with 0.99 the preconditioner
    follows the chain's position and, lacking the Γ correction term, biases λ̂ upward
    (+20% to +39% on the regular model, worse for smaller steps). ``scheme``: the
    default Leimkuhler–Matthews noise (the mean of two consecutive draws) makes the
    stationary variance exact in Gaussian directions at any stable step; ``"euler"`` is
    the textbook step that every run made before the option existed (stored runs
    without the key are Euler runs and keep their IDs). ``start``: with the step pilot,
    sampling starts where its chains end (they have run 1/γ of Langevin time from w*),
    so a burn-in of 1/γ is not paid twice; runs stored before the key started at w*.
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
            choices=SGLD_SCHEMES,
            before="euler",
            help="'leimkuhler-matthews' (the default): the step's noise is the mean of "
            "this and the next step's draws, exact in Gaussian directions; 'euler': "
            "Welling & Teh's step, variance bias ~ε·h/4",
        ),
    )
    start: str = field(
        default="auto",
        metadata=check(
            choices=SGLD_STARTS,
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


START_CHOICES = ("w_star", "dispersed")


def _initial_step_field():
    """HMC's and NUTS's ``step_size``: where window adaptation starts."""
    return field(
        default=0.01,
        metadata=check(gt=0.0, help="the initial step size; window adaptation tunes it"),
    )


def _start_field():
    """HMC's and NUTS's ``start``; hashed only when not w* (every run before it)."""
    return field(
        default="w_star",
        metadata=check(
            choices=START_CHOICES,
            omit_default=True,
            help="'w_star' (the default): every chain starts at w*; 'dispersed': every "
            "other chain starts where an SGLD pilot chain ends after 1/γ of Langevin "
            "time, so R-hat sees it when λ̂ depends on how far the chains have spread",
        ),
    )


@dataclass(frozen=True)
class HMCParams:
    """HMC with Stan-style window adaptation of step size and diagonal mass matrix.

    Adaptation runs per chain (``warmup`` steps, counted in the FGEs) and sampling
    continues from the adapted state, so the default burn-in is 0. Evidence
    (docs/truth.md): 16 leapfrog steps with 300 warm-up steps agree with NUTS and MCLMC
    to within MCSE on every truth target up to 8,400 parameters; the default warm-up
    keeps a margin for harder targets.
    """

    warmup: int = field(default=500, metadata=check(ge=0, help="adaptation steps"))
    num_integration_steps: int = field(default=16, metadata=check(ge=1))
    step_size: float = _initial_step_field()
    target_acceptance: float = field(default=0.8, metadata=check(gt=0.0, lt=1.0))
    start: str = _start_field()


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
    step_size: float = _initial_step_field()
    target_acceptance: float = field(default=0.8, metadata=check(gt=0.0, lt=1.0))
    start: str = _start_field()


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


SAMPLER_PARAMS: dict[str, type] = {
    "sgld": SGLDParams,
    "hmc": HMCParams,
    "nuts": NUTSParams,
    "mclmc": MCLMCParams,
}
# draws = "auto": convergence is checked after AUTO_FIRST_DRAWS kept draws and at each
# doubling, up to the cap (lambda_hat/analysis/budget.py)
AUTO_FIRST_DRAWS = 200
AUTO_MAX_DRAWS = 12800
DEFAULT_PRECISION = {"sgld": "float32", "hmc": "float64", "nuts": "float64", "mclmc": "float64"}
# HMC/NUTS/MCLMC start sampling from their adapted/tuned state, so need no burn-in.
# SGLD starts at w* and climbs to the typical set: with thin = "auto" (the default) 100
# draws are 1/γ of Langevin time, which relaxes even the directions only γ holds; with
# a fixed thin, 1000 draws (the old default, kept so such runs keep their IDs).
DEFAULT_BURNIN = {"sgld": 1000, "hmc": 0, "nuts": 0, "mclmc": 0}
AUTO_THIN_BURNIN = 100
# SGLD budgets itself by default: it cannot know its mixing time before it runs (the
# quickstart MLP needs ~100x the Langevin time of the quickstart DLN); the exact
# samplers keep 1000 draws, which their adaptation makes enough on the truth suite.
DEFAULT_DRAWS = {"sgld": "auto", "hmc": 1000, "nuts": 1000, "mclmc": 1000}
DEFAULT_THIN = {"sgld": "auto", "hmc": 1, "nuts": 1, "mclmc": 1}
# SGLD records the minibatch loss it already computed (the full-data L_n would cost a
# forward pass over all n points per draw, ~n/b of its steps); the other samplers' states
# carry the exact full-data log density, so their L_n costs nothing (docs/trace.md).
DEFAULT_LLC_TRACE = {"sgld": "minibatch", "hmc": "full", "nuts": "full", "mclmc": "full"}


@dataclass(frozen=True)
class SamplerSpec:
    """One ``[[samplers]]`` entry before it meets a target (some defaults depend on n)."""

    name: str
    params: object
    chains: int = field(default=4, metadata=check(ge=1))
    draws: int | Literal["auto"] | None = field(
        default=None,
        metadata=check(
            ge=1,
            help="kept draws per chain, or 'auto': until converged or max_draws (default: "
            "'auto' for sgld, 1000 otherwise)",
        ),
    )
    max_draws: int | None = field(
        default=None,
        metadata=check(ge=1, help=f"the cap of draws = 'auto' (default {AUTO_MAX_DRAWS})"),
    )
    burnin: int | None = field(default=None, metadata=check(ge=0, help="discarded draws"))
    thin: int | Literal["auto"] | None = field(
        default=None,
        metadata=check(
            ge=1,
            help="steps per kept draw; sgld's default 'auto': a fixed span of Langevin time "
            "per draw (1 for the others)",
        ),
    )
    seed: int = 0
    inverse_temperature: float | None = field(
        default=None, metadata=check(gt=0.0, help="beta; default 1/log(n)")
    )
    # γ = 1: on the [10,10,10] r=5 DLN (n = 2000, HMC) γ = 0.1 / 1 / 10 / 100 gave
    # λ̂ = 43.5 / 45.0 / 41.4 / 31.7 (true 47); larger γ cuts off flat directions,
    # smaller γ mixes worse (docs/truth.md).
    localization: float = field(default=1.0, metadata=check(ge=0.0, help="gamma"))
    precision: str | None = field(default=None, metadata=check(choices=PRECISIONS))
    trace_params: bool = field(
        default=False,
        metadata=check(
            help="also keep every kept draw's full parameter vector in trace.nc "
            "(chains x draws x p numbers: thin accordingly)"
        ),
    )
    llc_trace: str | None = field(
        default=None,
        metadata=check(
            choices=LLC_TRACES,
            help="what each draw's L records: 'minibatch' (sgld's default: the minibatch "
            "loss its gradient already computed, with the same-minibatch L_B(w*) control "
            "variate) or 'full' (L_n over all n points; free for hmc, nuts and mclmc)",
        ),
    )

    def __post_init__(self):  # the sampler's defaults, so every reader sees the value
        if self.draws is None:
            object.__setattr__(self, "draws", DEFAULT_DRAWS.get(self.name, 1000))
        if self.thin is None:
            object.__setattr__(self, "thin", DEFAULT_THIN.get(self.name, 1))


@dataclass(frozen=True)
class RunSpec:
    """Stage B: a sampler entry resolved against one target (all defaults filled in)."""

    target_id: str
    sampler: str
    params: object
    chains: int
    draws: int | Literal["auto"]
    burnin: int
    thin: int | Literal["auto"]
    seed: int
    inverse_temperature: float
    localization: float
    precision: str
    # hashed only when not the default (what every run did before the option existed),
    # so older run IDs stand and keep meaning what they computed
    trace_params: bool = field(default=False, metadata=check(omit_default=True))
    llc_trace: str = field(default="full", metadata=check(omit_default=True))
    max_draws: int | None = field(default=None, metadata=check(omit_default=True))


def check_budget(spec: SamplerSpec, where: str) -> None:
    """``max_draws`` is the cap of ``draws = "auto"``, and a cap must allow one check;
    ``thin = "auto"`` is SGLD's (a span of Langevin time needs a Langevin step), and so
    is ``start = "pilot"`` with the step pilot that places it."""
    if spec.thin == "auto" and spec.name != "sgld":
        raise ConfigError(
            f"{where}.thin: 'auto' spans a fixed Langevin time per draw, which only sgld "
            f"has; give {spec.name} a number (its default is 1)"
        )
    params = spec.params
    if isinstance(params, SGLDParams) and params.start == "pilot" and not params.runs_pilot:
        raise ConfigError(
            f"{where}.start: 'pilot' starts the chains where the step-size pilot's "
            "chains end, and only step_size = 'auto' with scheme = "
            "'leimkuhler-matthews' runs that pilot; remove start or set it to 'w_star'"
        )
    if spec.max_draws is not None and spec.draws != "auto":
        raise ConfigError(
            f"{where}.max_draws: the cap of draws = 'auto'; set draws = 'auto' or remove it"
        )
    if spec.draws == "auto" and spec.max_draws is not None and spec.max_draws < AUTO_FIRST_DRAWS:
        raise ConfigError(
            f"{where}.max_draws: {spec.max_draws} draws cannot finish the first convergence "
            f"check of draws = 'auto' ({AUTO_FIRST_DRAWS} draws); give max_draws >= "
            f"{AUTO_FIRST_DRAWS}, or a fixed draws = {spec.max_draws}"
        )


def resolve_run(
    sampler: SamplerSpec,
    target_id: str,
    n_data: int,
    where: str = "sampler",
    target: str = "the target",
) -> RunSpec:
    """Fill the n-dependent defaults of a sampler entry for a target with ``n_data`` points.

    SGLD's default ``batch_size`` is cut to n (a full batch); a ``batch_size`` written
    larger than n is refused (``where``/``target`` name the entry and the target in the
    message), since it would run silently as a full batch. Either way the run's ID is
    that of the value it runs with, as before.
    """
    params = sampler.params
    if isinstance(params, SGLDParams) and params.batch_size > n_data:
        if not isinstance(params.batch_size, _Unwritten):
            raise ConfigError(
                f"{where}.batch_size: {params.batch_size} is more than {target}'s n_data = "
                f"{n_data}; give batch_size <= {n_data} ({n_data} is the full batch it ran "
                "with until now) or leave it out"
            )
        params = dataclasses.replace(params, batch_size=n_data)
    beta = sampler.inverse_temperature
    if beta is None:
        beta = 1.0 / math.log(n_data)
    return RunSpec(
        target_id=target_id,
        sampler=sampler.name,
        params=params,
        chains=sampler.chains,
        draws=sampler.draws,
        burnin=_burnin(sampler),
        thin=sampler.thin,
        seed=sampler.seed,
        inverse_temperature=float(beta),
        localization=sampler.localization,
        precision=sampler.precision or DEFAULT_PRECISION[sampler.name],
        trace_params=sampler.trace_params,
        llc_trace=sampler.llc_trace or DEFAULT_LLC_TRACE[sampler.name],
        max_draws=(sampler.max_draws or AUTO_MAX_DRAWS) if sampler.draws == "auto" else None,
    )


def _burnin(sampler: SamplerSpec) -> int:
    if sampler.burnin is not None:
        return sampler.burnin
    return AUTO_THIN_BURNIN if sampler.thin == "auto" else DEFAULT_BURNIN[sampler.name]


def to_dict(spec: object) -> dict:
    """Plain-JSON view of a spec, every field included (tuples become lists)."""
    return _plain(dataclasses.asdict(spec))


def training_run(spec: TargetSpec | dict | None) -> str | None:
    """What a checkpoint target shares with its siblings of one training run: its spec
    less the step (and the list of checkpoints, which may grow), as canonical JSON; None
    for a target that is not a checkpoint. ``spec``: a TargetSpec or its ``to_dict``."""
    import json

    d = to_dict(spec) if isinstance(spec, TargetSpec) else (spec or {})
    training = d.get("training") or {}
    if training.get("at_step") is None:
        return None
    rest = {k: v for k, v in training.items() if k not in ("at_step", "checkpoints")}
    d = {k: v for k, v in d.items() if k != "params_sha256"}  # a given w* differs by step
    return json.dumps({**d, "training": rest}, sort_keys=True)


def target_from_dict(d: dict, where: str = "target spec") -> TargetSpec:
    """The TargetSpec a ``to_dict`` (stored in meta.json or a plan file) came from.

    Fields added since the dict was written take their defaults, so old dicts load.
    """
    from lambda_hat.targets.registry import DEFAULT_DATA_KIND, data_kind, model_kind

    if not isinstance(d, dict) or not {"model", "data"} <= set(d):
        raise ConfigError(f"{where}: not a target spec (needs 'model' and 'data')")
    model_cls = model_kind(d["model"].get("kind"), f"{where}.model").spec
    data_cls = data_kind(d["data"].get("kind", DEFAULT_DATA_KIND), f"{where}.data").spec
    return build(
        TargetSpec,
        {k: v for k, v in d.items() if k not in ("model", "data", "training")},
        where,
        stored=True,
        model=build(model_cls, d["model"], f"{where}.model", stored=True),
        data=build(data_cls, d["data"], f"{where}.data", stored=True),
        training=build(TrainingSpec, d.get("training", {}), f"{where}.training", stored=True),
    )


def run_from_dict(d: dict, where: str = "run spec") -> RunSpec:
    """The RunSpec a ``to_dict`` came from (see :func:`target_from_dict`)."""
    if not isinstance(d, dict) or d.get("sampler") not in SAMPLER_PARAMS:
        raise ConfigError(
            f"{where}: not a run spec of a known sampler ({', '.join(SAMPLER_PARAMS)})"
        )
    params = build(
        SAMPLER_PARAMS[d["sampler"]], d.get("params", {}), f"{where}.params", stored=True
    )
    rest = {k: v for k, v in d.items() if k != "params"}
    return build(RunSpec, rest, where, stored=True, params=params)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
