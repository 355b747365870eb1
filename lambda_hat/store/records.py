"""Typed records of what the store holds: a target's meta.json, a run's analysis.json
and a recorded failure.

Readers get attributes, not string keys: ``TargetMeta.from_json``, ``RunAnalysis.from_json``
and ``FailureRecord.from_json`` are the one place that knows the files' keys, and the one
place that absorbs older schemas (a key added later reads as its default, a verdict stored
before verdicts existed is judged on read). Every record keeps the keys it does not name in
``extra``, so ``from_json(d).to_json() == d`` for any file the store writes today: the
writers build these records too, and what they write is unchanged.

No JAX, no numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from lambda_hat.store.run_names import parse_run_folder
from lambda_hat.store.trust import Trust, judge

PREPARED_SUFFIX = "_step"  # a sampler's preparation record: analysis.json "<sampler>_step"


@dataclass(frozen=True)
class _Record:
    """Fields named as their JSON keys; ``extra`` holds the keys a record does not name.

    ``OMIT`` names fields left out of the JSON when None (keys written only sometimes);
    ``NESTED`` maps a field to the record type its JSON object is read as. A record read
    from a file that lacked some of its keys (an older schema) writes them back absent."""

    OMIT: ClassVar[frozenset[str]] = frozenset()
    NESTED: ClassVar[dict[str, type]] = {}

    @classmethod
    def _known(cls, d: dict) -> tuple[dict, dict]:
        """(this record's fields, the rest) of a JSON object."""
        own = {f.name: f for f in fields(cls) if f.name != "extra"}
        known = {k: v for k, v in d.items() if k in own}
        for name, value in list(known.items()):  # null where a collection belongs: empty
            if value is None and own[name].default_factory in (dict, list, tuple):
                known[name] = own[name].default_factory()
        for name, kind in cls.NESTED.items():
            if isinstance(known.get(name), dict):
                known[name] = kind.from_json(known[name])
        return known, {k: v for k, v in d.items() if k not in own}

    @classmethod
    def from_json(cls, d: dict):
        known, extra = cls._known(d)
        return cls._absent_from(d, cls(**known, extra=extra))

    @classmethod
    def _absent_from(cls, d: dict, record):
        """``record`` remembering which of its keys ``d`` lacked."""
        absent = frozenset(f.name for f in fields(cls) if f.name not in d)
        object.__setattr__(record, "_absent", absent - {"extra", "path"})
        return record

    def to_json(self) -> dict:
        out = dict(self.extra)
        absent = getattr(self, "_absent", frozenset())
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or f.name in absent or (value is None and f.name in self.OMIT):
                continue
            out[f.name] = value.to_json() if hasattr(value, "to_json") else value
        return out


@dataclass(frozen=True)
class Dims(_Record):
    """A target's sizes: n data rows, d inputs per row, p parameters (n_test held out)."""

    n: int | None = None
    d: int | None = None
    p: int | None = None
    n_test: int | None = None
    extra: dict = field(default_factory=dict)
    OMIT: ClassVar[frozenset[str]] = frozenset({"n_test"})


@dataclass(frozen=True)
class Metrics(_Record):
    """A target's losses at w*: L0 = L_n(w*), the held-out loss, training's first/last."""

    L0: float | None = None
    test_loss: float | None = None
    train_loss_first: float | None = None
    train_loss_final: float | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TargetMeta(_Record):
    """A published target's meta.json."""

    target_id: str = ""
    seed: Any = None
    names: dict = field(default_factory=dict)  # model/data/training preset names
    model_cfg: dict = field(default_factory=dict)
    data_cfg: dict = field(default_factory=dict)
    training_cfg: dict = field(default_factory=dict)
    spec: dict = field(default_factory=dict)  # the TargetSpec its ID hashes
    dims: Dims = field(default_factory=Dims)
    metrics: Metrics = field(default_factory=Metrics)
    true_llc: float | None = None
    true_llc_exact: str | None = None  # a Fraction's text, e.g. "45/4"
    loss: str = ""
    loss_name: str = ""
    precision: str = ""
    created_at: float | None = None
    build_walltime_sec: float | None = None
    code_sha: str | None = None
    pkg_versions: dict = field(default_factory=dict)
    compute: dict = field(default_factory=dict)  # backend, devices, CPU threads
    schema_version: int | None = None
    extra: dict = field(default_factory=dict)
    NESTED: ClassVar[dict[str, type]] = {"dims": Dims, "metrics": Metrics}

    @classmethod
    def from_json(cls, d: dict, folder: str | None = None) -> TargetMeta:
        """Read meta.json (``folder``: the target's folder name, its ID where the file
        does not say it)."""
        known, extra = cls._known(d)
        known.setdefault("target_id", folder or "")
        return cls._absent_from(d, cls(**known, extra=extra))

    @property
    def model(self) -> str | None:
        """The model's preset name in the experiments file, else its kind."""
        return self.names.get("model") or self.model_cfg.get("kind")

    @property
    def n(self) -> int | None:
        return self.dims.n or self.data_cfg.get("n_data")

    @property
    def step(self) -> int | None:
        """The training step of a checkpoint target (None for any other)."""
        return self.training_cfg.get("at_step")


@dataclass(frozen=True)
class Check(_Record):
    """One convergence check of ``draws = "auto"``: the trace's numbers at ``draws``."""

    draws: int = 0
    llc_mean: float | None = None
    llc_mcse: float | None = None
    rhat: float | None = None
    ess: float | None = None
    drift_z: float | None = None
    passed: bool = False
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BudgetRecord(_Record):
    """analysis.json ``budget``: where ``draws = "auto"`` stopped, and every check."""

    draws: str = "auto"
    max_draws: int = 0
    verdict: str = ""
    draws_done: int = 0
    criteria: dict = field(default_factory=dict)
    checks: tuple[Check, ...] = ()
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: dict) -> BudgetRecord:
        known, extra = cls._known(d)
        known["checks"] = tuple(Check.from_json(c) for c in known.get("checks") or ())
        return cls._absent_from(d, cls(**known, extra=extra))

    def to_json(self) -> dict:
        return {**super().to_json(), "checks": [c.to_json() for c in self.checks]}


@dataclass(frozen=True)
class RunAnalysis(_Record):
    """A published run's analysis.json: λ̂, its error bars and diagnostics, the verdict,
    and what the sampler did (its settings as run, statistics, preparation record)."""

    run_id: str = ""
    target_id: str = ""
    sampler: str = ""
    llc_mean: float | None = None
    llc_std: float | None = None
    llc_mcse: float | None = None
    llc_per_chain: list = field(default_factory=list)
    ess: float | None = None
    rhat: float | None = None
    drift_z: float | None = None
    first_quarter_mean: float | None = None
    last_quarter_mean: float | None = None
    true_llc: float | None = None
    relative_error: float | None = None
    trust: Trust | None = None
    budget: BudgetRecord | None = None
    resumed: dict | None = None  # what was taken up from an earlier attempt's progress
    time_budget: dict | None = None  # max_time: the budget and what it ended early
    restricted: dict | None = None  # restrict: the patterns, the leaves moved, how many
    refined: dict | None = None  # data: the table whose posterior was sampled, and its n
    chains: int | None = None
    draws: int | None = None  # kept draws per chain
    thin: int | None = None
    burnin: int | None = None
    n: int | None = None
    p: int | None = None
    n_beta: float | None = None
    inverse_temperature: float | None = None
    localization: float | None = None
    L0: float | None = None
    total_fges: float | None = None
    walltime_sec: float | None = None
    sampling_walltime_sec: float | None = None  # compilation included
    created_at: float | None = None
    timings_sec: dict = field(default_factory=dict)
    peak_rss_mb: float | None = None
    precision: str = ""
    sampler_config: dict = field(default_factory=dict)  # the RunSpec as written
    stats: dict = field(default_factory=dict)  # the sampler's statistics
    warnings: list = field(default_factory=list)
    diagnostics: list = field(default_factory=list)  # plot files in diagnostics/
    schema_version: int | None = None
    extra: dict = field(default_factory=dict)
    OMIT: ClassVar[frozenset[str]] = frozenset(
        {"budget", "resumed", "trust", "time_budget", "restricted", "refined"}
    )
    NESTED: ClassVar[dict[str, type]] = {"trust": Trust, "budget": BudgetRecord}

    @classmethod
    def from_json(cls, d: dict, folder: str | None = None) -> RunAnalysis:
        """Read analysis.json (``folder``: the run's folder name, for files that predate
        ``sampler`` and ``run_id``); a file without a verdict is judged now."""
        record = super().from_json(d)
        named = parse_run_folder(folder) if folder else None
        changes = {}
        if not record.sampler and named:
            changes.update(sampler=named.sampler, run_id=record.run_id or named.run_id)
        if record.relative_error is None and record.true_llc and record.llc_mean is not None:
            changes["relative_error"] = (record.llc_mean - record.true_llc) / record.true_llc
        if record.trust is None:
            prepared = d.get(changes.get("sampler", record.sampler) + PREPARED_SUFFIX) or {}
            changes["trust"] = judge(d, prepared.get("bias"))
        if not changes:
            return record
        derived = replace(record, **changes)  # a value derived on read is written back
        object.__setattr__(derived, "_absent", record._absent - set(changes))
        return derived

    @property
    def prepared(self) -> dict | None:
        """The sampler's preparation record (SGLD: ``sgld_step``, its chosen step, the
        step's curvature and bias bound), None for a sampler without one."""
        return self.extra.get(self.sampler + PREPARED_SUFFIX)

    @property
    def verdict(self) -> str:
        return self.trust.verdict if self.trust else ""

    @property
    def params(self) -> dict:
        """The sampler's own settings as written (``step_size``, ``batch_size``, ...)."""
        return self.sampler_config.get("params") or {}

    @property
    def chosen_step_size(self):
        """The step the run took: the chosen one for ``step_size = "auto"``."""
        step = self.params.get("step_size")
        if step == "auto":
            return (self.prepared or {}).get("step_size", step)
        return step


@dataclass(frozen=True)
class FailureRecord(_Record):
    """A recorded failure of a target or run (``_failures/<name>.json``): never a
    result, cleared when the task later succeeds. ``retryable``: a crash of its worker
    (killed, out of memory), retried by the next run without ``--retry-failed``."""

    error_type: str = "Error"
    message: str = ""
    traceback: str = ""
    spec: dict = field(default_factory=dict)
    time: float = 0.0
    target_id: str | None = None
    run: str | None = None
    retryable: bool | None = None
    peak_rss_mb: float | None = None  # a crash: the peak memory of the task's processes
    mem_limit_mb: int | None = None  # a crash under SLURM: the job's memory limit
    sampling_kept: bool | None = None  # a run failed at its writing: its draws are kept
    path: Path | None = None  # where it was read from (not written)
    extra: dict = field(default_factory=dict)
    OMIT: ClassVar[frozenset[str]] = frozenset(
        {"target_id", "run", "retryable", "peak_rss_mb", "mem_limit_mb", "sampling_kept"}
    )

    @classmethod
    def from_json(cls, d: dict, path: Path | None = None) -> FailureRecord:
        known, extra = cls._known({k: v for k, v in d.items() if k != "path"})
        return cls._absent_from(d, cls(**known, path=path, extra=extra))

    def to_json(self) -> dict:
        return {k: v for k, v in super().to_json().items() if k != "path"}

    @property
    def text(self) -> str:
        """``ErrorType: message``, and whether a retry samples again."""
        kept = " (its sampling is kept: a retry only writes the run)" if self.sampling_kept else ""
        return f"{self.error_type}: {self.message}{kept}"
