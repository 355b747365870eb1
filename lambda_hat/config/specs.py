"""Typed, frozen specs for Stage A (targets) and Stage B (runs).

A spec is *resolved*: every default filled in and every number of its declared type, so
its canonical JSON (and thus its ID) depends only on what it means, not how it was typed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal

from lambda_hat.errors import ConfigError
from lambda_hat.fields import build, check, duration_seconds, env_number
from lambda_hat.samplers.hmc import HMCParams  # noqa: F401  (re-exported)
from lambda_hat.samplers.kind import AUTO_FIRST_DRAWS, AUTO_MAX_DRAWS
from lambda_hat.samplers.mclmc import MCLMCParams  # noqa: F401
from lambda_hat.samplers.nuts import NUTSParams  # noqa: F401
from lambda_hat.samplers.registry import SAMPLERS, sampler
from lambda_hat.samplers.sgld import AUTO_THIN_BURNIN, SGLDParams  # noqa: F401
from lambda_hat.targets.kind import Origin
from lambda_hat.targets.network import NetworkSpec
from lambda_hat.targets.teacher import TeacherDataSpec

PRECISIONS = ("float32", "float64")
MAX_CHAINS = 65_536  # a sanity bound: more than any device holds at once
MAX_STEPS = 2**31 - 1  # steps per chain: the driver counts them in int32
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

# Each sampler is one definition (lambda_hat/samplers): its keys, defaults and checks.
# The names below are views of them, for the readers that predate the definitions.
SAMPLER_PARAMS: dict[str, type] = {name: s.params for name, s in SAMPLERS.items()}
DEFAULT_PRECISION = {name: s.defaults.precision for name, s in SAMPLERS.items()}
DEFAULT_DRAWS = {name: s.defaults.draws for name, s in SAMPLERS.items()}
DEFAULT_THIN = {name: s.defaults.thin for name, s in SAMPLERS.items()}
DEFAULT_LLC_TRACE = {name: s.defaults.llc_trace for name, s in SAMPLERS.items()}


@dataclass(frozen=True)
class SamplerSpec:
    """One ``[[samplers]]`` entry before it meets a target (some defaults depend on n)."""

    name: str
    params: object
    chains: int = field(default=4, metadata=check(ge=1, le=MAX_CHAINS))
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
    max_time: float | str | None = field(
        default=None,
        metadata=check(
            help="a wall-time budget for the run: seconds, or '90s', '10m', '1h30m'. Its "
            "preparation (sgld's step pilot) gets at most half, burn-in its share of the "
            "rest, and sampling ends when it runs out (keeping at least 4 draws); the "
            "verdict says what it cut. Part of the run's ID"
        ),
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
        default=None,
        metadata=check(
            ge=0.0,
            help="beta; default 1/log(n). 0: the prior alone, the n-beta = 0 control of "
            "observed losses (λ̂ is 0 by definition; the diagnostics are the loss's)",
        ),
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
    observe: tuple[str, ...] = field(
        default=(),
        metadata=check(
            help="[data.*] tables whose per-row (per-token) losses are recorded at every "
            "kept draw, in trace.nc's 'observed' group (for lh.bif and lh.susceptibility); "
            "the target's own data table gives its training rows"
        ),
    )

    data: str | None = field(
        default=None,
        metadata=check(
            help="the data-refined LLC: a [data.*] table whose posterior is sampled around "
            "the target's w* instead of its training data's (its n and loss throughout)"
        ),
    )
    restrict: tuple[str, ...] = field(
        default=(),
        metadata=check(
            help="the weight-restricted LLC: globs over the parameters' '/'-joined key "
            "paths ('layer2/*' for the built-in networks); only the matched weights move, "
            "the others stay at w*"
        ),
    )

    def __post_init__(self):  # the sampler's defaults, so every reader sees the value
        defaults = SAMPLERS[self.name].defaults if self.name in SAMPLERS else None
        if self.draws is None:
            object.__setattr__(self, "draws", defaults.draws if defaults else 1000)
        if self.thin is None:
            object.__setattr__(self, "thin", defaults.thin if defaults else 1)


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
    max_time: float | None = field(default=None, metadata=check(omit_default=True))  # seconds
    # {name: the data kind's spec of an observed [data.*] table}: see SamplerSpec.observe
    observe: dict = field(default_factory=dict, metadata=check(omit_default=True))
    restrict: tuple[str, ...] = field(default=(), metadata=check(omit_default=True))
    # {name: data spec} of the table a data-refined run samples (SamplerSpec.data), or {}
    data: dict = field(default_factory=dict, metadata=check(omit_default=True))


OBSERVED_LIMIT_MB = 2048.0  # the most observed losses one run may keep, in memory and on disk
OBSERVED_LIMIT_ENV = "LAMBDA_HAT_MAX_OBSERVED_MB"  # overrides it


def observed_limit_mb() -> float:
    """``$LAMBDA_HAT_MAX_OBSERVED_MB`` if set, else OBSERVED_LIMIT_MB."""
    return env_number(
        OBSERVED_LIMIT_ENV, OBSERVED_LIMIT_MB, positive=True, expected="megabytes > 0, e.g. 4096"
    )


def observed_mb(spec: RunSpec, values: dict[str, int]) -> float:
    """Megabytes the observed losses of run ``spec`` take: chains × kept draws (the cap
    of draws = "auto") × each dataset's ``values`` per draw (rows, times T for
    sequences) × the run's bytes per number."""
    draws = spec.max_draws if spec.draws == "auto" else spec.draws
    size = 8 if spec.precision == "float64" else 4
    return spec.chains * draws * sum(values.values()) * size / 2**20


def check_observed_size(spec: RunSpec, values: dict[str, int], where: str) -> None:
    """Refuse a run whose observed losses would pass the limit, saying how to shrink them."""
    mb, limit = observed_mb(spec, values), observed_limit_mb()
    if mb <= limit:
        return
    draws = spec.max_draws if spec.draws == "auto" else spec.draws
    parts = " + ".join(f"{name} {count:,}" for name, count in values.items())
    raise ConfigError(
        f"{where}.observe: the observed losses would take {_mb(mb)} MB ({spec.chains} "
        f"chains × {draws:,} draws × ({parts}) values per draw), over the limit of "
        f"{_mb(limit)} MB; keep fewer draws (draws, or max_draws with draws = 'auto', each "
        "draw spanning more steps with thin), observe a smaller table, or raise the limit "
        f"with ${OBSERVED_LIMIT_ENV}"
    )


def _mb(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def check_budget(spec: SamplerSpec, where: str) -> None:
    """The checks of an entry beyond its keys' own: its sampler's (``thin = "auto"``,
    ``llc_trace``, its keys together), and ``max_draws``, the cap of ``draws = "auto"``,
    which must allow one check."""
    sampler(spec.name, where).check_entry(spec, where)
    _check_steps(spec, where)
    if spec.max_time is not None:
        duration_seconds(spec.max_time, f"{where}.max_time")
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


def _check_steps(spec: SamplerSpec, where: str) -> None:
    """Written draws, max_draws, burn-in and thin within what a run counts: its steps
    are numbered in 32-bit integers."""
    draws = spec.max_draws if spec.draws == "auto" else spec.draws
    thin = spec.thin if isinstance(spec.thin, int) else 1
    steps = ((spec.burnin or 0) + (draws or 0)) * thin
    if steps > MAX_STEPS:
        raise ConfigError(
            f"{where}: (burnin + draws) × thin = {steps:,} steps per chain, over the "
            f"{MAX_STEPS:,} a run counts; give fewer draws or a smaller thin"
        )


def resolve_run(
    sampler_spec: SamplerSpec,
    target_id: str,
    n_data: int,
    where: str = "sampler",
    target: str = "the target",
    tables: dict | None = None,
) -> RunSpec:
    """Fill the n-dependent defaults of a sampler entry for a target with ``n_data`` points
    (the sampler's ``resolve``: SGLD cuts its default batch to n and refuses a written one
    above n; ``where``/``target`` name the entry and the target in such a message).
    ``tables``: {name: data spec} of the file's data tables it names (``observe``, and
    ``data``, whose n then sets the n-dependent defaults)."""
    tables = tables or {}
    if sampler_spec.data is not None:
        n_data = tables[sampler_spec.data].n_data
    definition = SAMPLERS[sampler_spec.name]
    defaults = definition.defaults
    params = definition.resolve(sampler_spec.params, n_data, where, target)
    beta = sampler_spec.inverse_temperature
    if beta is None:
        beta = 1.0 / math.log(n_data)
    burnin = sampler_spec.burnin
    run = RunSpec(
        target_id=target_id,
        sampler=sampler_spec.name,
        params=params,
        chains=sampler_spec.chains,
        draws=sampler_spec.draws,
        burnin=defaults.burnin_for(sampler_spec.thin) if burnin is None else burnin,
        thin=sampler_spec.thin,
        seed=sampler_spec.seed,
        inverse_temperature=float(beta),
        localization=sampler_spec.localization,
        precision=sampler_spec.precision or defaults.precision,
        trace_params=sampler_spec.trace_params,
        llc_trace=sampler_spec.llc_trace or defaults.llc_trace,
        max_draws=(sampler_spec.max_draws or AUTO_MAX_DRAWS)
        if sampler_spec.draws == "auto"
        else None,
        max_time=None
        if sampler_spec.max_time is None
        else duration_seconds(sampler_spec.max_time, f"{where}.max_time"),
        observe={name: tables[name] for name in sampler_spec.observe},
        restrict=sampler_spec.restrict,
        data={} if sampler_spec.data is None else {sampler_spec.data: tables[sampler_spec.data]},
    )
    # rows alone here (a sequence's positions are known once its data are built)
    check_observed_size(run, {k: v.n_data for k, v in run.observe.items()}, where)
    return run


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
    from lambda_hat.targets.registry import model_kind

    if not isinstance(d, dict) or not {"model", "data"} <= set(d):
        raise ConfigError(f"{where}: not a target spec (needs 'model' and 'data')")
    model_cls = model_kind(d["model"].get("kind"), f"{where}.model").spec
    return build(
        TargetSpec,
        {k: v for k, v in d.items() if k not in ("model", "data", "training")},
        where,
        stored=True,
        model=build(model_cls, d["model"], f"{where}.model", stored=True),
        data=data_from_dict(d["data"], f"{where}.data"),
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
    rest = {k: v for k, v in d.items() if k not in ("params", "observe", "data")}
    tables = {
        key: {
            name: data_from_dict(table, f"{where}.{key}.{name}")
            for name, table in (d.get(key) or {}).items()
        }
        for key in ("observe", "data")
    }
    return build(RunSpec, rest, where, stored=True, params=params, **tables)


def data_from_dict(d: dict, where: str):
    """The data kind's spec a ``to_dict`` of one came from."""
    from lambda_hat.targets.registry import DEFAULT_DATA_KIND, data_kind

    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a data table, got {d!r}")
    kind = data_kind(d.get("kind", DEFAULT_DATA_KIND), where)
    return build(kind.spec, d, where, stored=True)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
