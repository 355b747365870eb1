"""The interface every sampler definition implements (one module per sampler)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambda_hat.errors import ConfigError

# draws = "auto": convergence is checked after AUTO_FIRST_DRAWS kept draws and at each
# doubling, up to the cap (lambda_hat/analysis/budget.py)
AUTO_FIRST_DRAWS = 200
AUTO_MAX_DRAWS = 12800


@dataclass(frozen=True)
class Defaults:
    """What a ``[[samplers]]`` entry that leaves a common key out gets."""

    draws: int | str  # kept draws per chain, or "auto" (until converged)
    thin: int | str  # steps per kept draw, or "auto" (a span of Langevin time)
    burnin: int  # discarded draws with a numeric thin
    precision: str  # "float32" | "float64": each worker process is one or the other
    llc_trace: str  # what each draw's L records: "minibatch" | "full"
    burnin_auto_thin: int | None = None  # discarded draws with thin = "auto"

    def burnin_for(self, thin) -> int:
        """The default burn-in of an entry with this ``thin``."""
        return self.burnin_auto_thin if thin == "auto" else self.burnin


@dataclass(frozen=True)
class Context:
    """What a sampler's preparation works with (see :class:`Sampler`)."""

    posterior: Any  # numerics/posterior.py: the run's posterior in its precision
    spec: Any  # the RunSpec as asked for
    tune_on: Any = None  # another posterior to tune on (a training's last checkpoint)
    stage: Callable[[str], None] = lambda text: None  # told what the run does next
    saved: Any = None  # store/snapshots.py: where the preparation keeps its progress
    progress: Callable[[int, int], None] | None = None  # counts a long preparation's steps
    time_left: Callable[[], float] | None = None  # seconds left of the run's max_time


@dataclass(frozen=True)
class Prepared:
    """What a preparation settled before sampling."""

    spec: Any  # the RunSpec as it will run (automatic choices resolved)
    record: dict | None = None  # analysis.json's record of it, under ``Sampler.record_key``
    starts: dict = field(default_factory=dict)  # keyword arguments of sample: the starts
    fges: float = 0.0  # gradient work it spent, shared by the chains (in FGEs)
    warnings: list[str] = field(default_factory=list)  # what the user should know
    cut: str | None = None  # what a time budget (max_time) ended early, in words


@dataclass(frozen=True)
class Work:
    """What a run does per chain, as far as its spec says before it runs (``--dry-run``):
    sampler steps and gradient work in full-gradient equivalents (FGEs), each from the
    least (``draws = "auto"`` converged at its first check) to the most; ``upto``: the
    most is a bound (NUTS's trees may be shallower); ``why``: what sets the work when
    the spec does not."""

    steps: tuple[int, int] | None = None
    fges: tuple[float, float] | None = None
    upto: bool = False
    why: str = ""
    note: str = ""  # how counts that the spec does not set were measured

    def text(self) -> str:
        if self.steps is None:
            return self.why
        out = f"{_span(self.steps)} steps"
        if self.fges is not None:
            out += f" · {'up to ' if self.upto else ''}{_span(self.fges)} FGEs"
        return out + (f" ({self.note})" if self.note else "")


def _span(values: tuple[float, float]) -> str:
    least, most = values
    return _short(most) if least == most else f"{_short(least)}–{_short(most)}"


def _short(value: float) -> str:
    """12,345,678 -> 12.3M; 4,500 -> 4,500; 1.6e15 -> 1.6e+15."""
    if value >= 1e15:
        return f"{value:.2g}"
    for size, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if value >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:,.0f}"


def transitions(spec, before: int = 0, thin: int | None = None) -> tuple[int, int]:
    """Transitions per chain, (least, most): ``before`` (a warm-up's) plus (burn-in +
    kept draws) × thin, where ``draws = "auto"`` keeps from its first check's draws to
    ``max_draws``; ``thin`` for a ``thin = "auto"`` (the sampler's), else the spec's."""
    thin = thin or (spec.thin if isinstance(spec.thin, int) else 1)
    most = spec.max_draws if spec.draws == "auto" else spec.draws
    least = min(AUTO_FIRST_DRAWS, most) if spec.draws == "auto" else most
    return tuple(before + (spec.burnin + kept) * thin for kept in (least, most))


def _no_work(spec, n_data: int) -> Work:
    return Work(transitions(spec))


def _no_check(spec, where: str) -> None:
    return None


def _keep(params, n_data: int, where: str, target: str):
    return params


def _nothing_to_prepare(ctx: Context) -> Prepared:
    return Prepared(ctx.spec)


def _never(params) -> bool:
    return False


def _no_notes(spec) -> list[str]:
    return []


def _recorded_bias(record: dict | None, stats: dict) -> dict | None:
    return (record or {}).get("bias")


@dataclass(frozen=True)
class Sampler:
    """One sampler: everything lambda-hat knows of it, in one place."""

    name: str
    params: type  # the frozen dataclass of its own keys (lambda_hat/fields.py checks)
    help: str
    defaults: Defaults
    numerics: str  # module with sample(rng_key, posterior, params, schedule, **starts)
    stage: Callable[[Any], str]  # (RunSpec as it will run) -> what sampling does, in words
    auto_thin: bool = False  # thin = "auto" allowed (a Langevin time per draw)
    llc_traces: tuple[str, ...] = ("full",)  # the llc_trace values it can record
    exact: bool = False  # asymptotically exact (Metropolis-adjusted): a sweep's reference
    # (SamplerSpec, where) -> None: checks across its keys, with the file's table path
    check: Callable[[Any, str], None] = _no_check
    # (params, n_data, where, target) -> params: the n-dependent choices, or a refusal
    resolve: Callable[[Any, int, str, str], Any] = _keep
    prepare: Callable[[Context], Prepared] = _nothing_to_prepare
    record_key: str | None = None  # analysis.json key of the preparation's record
    # params -> whether its preparation tunes on a training's last checkpoint
    tunes_on_last_checkpoint: Callable[[Any], bool] = _never
    # (key, short label) of the settings a one-line summary shows (the TUI's runs table)
    settings: tuple[tuple[str, str], ...] = ()
    # SamplerSpec -> what its cost will be that the entry does not say: shown before a run
    notes: Callable[[Any], list[str]] = _no_notes
    # (RunSpec, n_data) -> the work per chain its spec sets (``--dry-run``)
    work: Callable[[Any, int], Work] = _no_work
    # (posterior, RunSpec) -> the figures at w* an automatic step is made from (the
    # curvature, the minibatch noise), measured before a run (``--dry-run --measure``);
    # None: its work does not depend on them
    measure: Callable[[Any, Any], dict] | None = None
    # (RunSpec, n_data, ``measure``'s figures) -> the work once they are known
    measured_work: Callable[[Any, int, dict], Work] | None = None
    # (the preparation's record, the sampler's stats) -> the step check the verdict
    # reads (``biased``, ``bias_bound``, ``threshold``, ``what``), or None
    bias: Callable[[dict | None, dict], dict | None] = _recorded_bias

    def sample(self, rng_key, posterior, params, schedule, **starts):
        """Run the chains (``numerics/samplers``): a ``SampleResult``."""
        return importlib.import_module(self.numerics).sample(
            rng_key, posterior, params, schedule, **starts
        )

    def check_entry(self, spec, where: str) -> None:
        """The checks every entry of this sampler passes (thin, llc_trace, its own)."""
        if spec.thin == "auto" and not self.auto_thin:
            raise ConfigError(
                f"{where}.thin: 'auto' spans a fixed Langevin time per draw, which "
                f"{self.name} does not have; give {self.name} a number (its default is "
                f"{self.defaults.thin})"
            )
        if spec.llc_trace is not None and spec.llc_trace not in self.llc_traces:
            raise ConfigError(
                f"{where}.llc_trace: {spec.llc_trace!r} is for the minibatch samplers (sgld, "
                f"sghmc) only; {self.name} records "
                "the exact full-data L_n from its state at no cost (use 'full' or leave it out)"
            )
        self.check(spec, where)
