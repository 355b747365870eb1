"""A plan: the targets and runs an experiments file asks for, and what state each is in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lambda_hat.config.experiment import Experiment, sampler_where
from lambda_hat.config.specs import RunSpec, TargetSpec, resolve_run
from lambda_hat.store.catalog import Catalog
from lambda_hat.store.ids import run_dirname, target_id
from lambda_hat.store.records import FailureRecord

DONE, TODO, FAILED = "done", "todo", "failed"


@dataclass
class TargetTask:
    target_id: str
    spec: TargetSpec
    names: dict
    status: str = TODO
    failure: FailureRecord | None = None
    swept: dict = field(default_factory=dict)  # what the file's sweeps chose, for display

    @property
    def key(self) -> str:
        return self.target_id

    @property
    def precision(self) -> str:
        return self.spec.precision

    @property
    def label(self) -> str:
        return f"{self.target_id} ({self.names.get('model')}/{self.names.get('data')})"


@dataclass
class RunTask:
    target_id: str
    dirname: str
    spec: RunSpec
    status: str = TODO
    failure: FailureRecord | None = None
    swept: dict = field(default_factory=dict)  # its target's choices and its sampler's
    n_data: int | None = None  # its target's rows
    p: int | None = None  # its target's parameters, where known before it is built
    measured: object | None = None  # its Work once measured (``measure``), else None

    @property
    def key(self) -> str:
        return f"{self.target_id}/{self.dirname}"

    def work(self, calibration=None) -> str:
        """What the run does per chain, as far as its spec says, and about how long it
        takes (``estimate``) when that can be known."""
        estimate = self.estimate(calibration)
        return self.steps() + (f" · {estimate}" if estimate else "") + self.observed()

    def steps(self) -> str:
        """The run's steps and gradient work per chain (or what sets them)."""
        return self.work_per_chain().text()

    def estimate(self, calibration=None) -> str:
        """``about 2–9 min`` by the cost model (``scheduler/cost``, scaled by
        ``calibration``), or "" when the work or the model's size is not known yet."""
        from lambda_hat.scheduler import cost

        span = self.seconds(calibration)
        return cost.text(span) if span is not None else ""

    def observed(self) -> str:
        """`` · 0.3 MB of observed losses (all chains)`` for a run that observes tables."""
        if not self.spec.observe:  # rows alone: a sequence's positions multiply it
            return ""
        from lambda_hat.config.specs import observed_mb

        rows = {name: table.n_data for name, table in self.spec.observe.items()}
        return f" · {observed_mb(self.spec, rows):,.2g} MB of observed losses (all chains)"

    def seconds(self, calibration=None) -> tuple[float, float] | None:
        """The run's (least, most) wall time by the cost model, or None if unknown."""
        from lambda_hat.scheduler import cost

        scale = calibration.scale(self.spec.sampler) if calibration is not None else 1.0
        work, n = self.work_per_chain(), self.n_data or 1
        return cost.estimate(work, self.spec.chains, n, self.p, scale)

    def work_per_chain(self):
        """The run's ``Work`` per chain: measured (``measure``), else its spec's."""
        if self.measured is not None:
            return self.measured
        from lambda_hat.samplers.registry import SAMPLERS

        return SAMPLERS[self.spec.sampler].work(self.spec, self.n_data or 1)

    def measure(self, root: Path) -> bool:
        """Measure what the spec leaves to the run (an automatic SGLD or SGHMC step: the
        curvature, and SGHMC's minibatch noise, at w*) on the built target, so the work
        and time can be told; False when there is nothing to measure or the target is
        not built yet."""
        from lambda_hat.samplers.registry import SAMPLERS

        definition = SAMPLERS[self.spec.sampler]
        if definition.measured_work is None or self.work_per_chain().steps is not None:
            return False
        if not Catalog(root).has_target(self.target_id):
            return False
        from lambda_hat.runner.run import figures_at_w_star

        figures = figures_at_w_star(self.spec, root)
        self.measured = definition.measured_work(self.spec, self.n_data or 1, figures)
        return True

    @property
    def precision(self) -> str:
        return self.spec.precision

    @property
    def label(self) -> str:
        return f"{self.dirname} on {self.target_id}"


@dataclass
class Plan:
    root: Path
    targets: list[TargetTask] = field(default_factory=list)
    runs: list[RunTask] = field(default_factory=list)

    def counts(self) -> dict:
        out = {}
        for kind, tasks in (("targets", self.targets), ("runs", self.runs)):
            out[kind] = {s: sum(t.status == s for t in tasks) for s in (DONE, TODO, FAILED)}
        return out

    def to_dict(self, calibration=None) -> dict:
        """The plan as JSON (the ``plan`` event, the TUI): each run with its work and,
        where it can be known, its estimated time (``scheduler/cost``)."""
        return {
            "root": str(self.root),
            "targets": [
                {"target_id": t.target_id, "status": t.status, **t.names} for t in self.targets
            ],
            "runs": [
                {
                    "target_id": r.target_id,
                    "run": r.dirname,
                    "sampler": r.spec.sampler,
                    "status": r.status,
                    "work": r.steps() + r.observed(),
                    "estimate": r.estimate(calibration),
                }
                for r in self.runs
            ],
            "counts": self.counts(),
        }


def make_plan(experiment: Experiment, root: Path | None = None) -> Plan:
    """Every (target, sampler) pair of the file, deduplicated by ID, with its status."""
    root = Path(root if root is not None else experiment.store_root)
    catalog = Catalog(root)
    plan = Plan(root=root)
    seen_targets, seen_runs, sizes = set(), set(), {}
    for entry in experiment.targets:
        tid = target_id(entry.spec)
        if tid not in seen_targets:
            seen_targets.add(tid)
            names = {"model": entry.model, "data": entry.data, "training": entry.training}
            task = TargetTask(tid, entry.spec, names, swept=entry.swept)
            _status(task, catalog.has_target(tid), catalog.failure_for(tid))
            plan.targets.append(task)
            sizes[tid] = _parameters(catalog, tid, entry.spec)
        swept = experiment.sampler_swept or [{}] * len(experiment.samplers)
        for i, (sampler, chosen) in enumerate(zip(experiment.samplers, swept, strict=True)):
            where = sampler_where(experiment, i)
            what = f"target {entry.model}/{entry.data}"
            n = entry.spec.data.n_data
            spec = resolve_run(sampler, tid, n, where, what, experiment.tables)
            name = run_dirname(spec)
            if (tid, name) in seen_runs:
                continue
            seen_runs.add((tid, name))
            task = RunTask(tid, name, spec, swept={**entry.swept, **chosen})
            task.n_data, task.p = entry.spec.data.n_data, sizes[tid]
            _status(task, catalog.has_run(tid, name), catalog.failure_for(tid, name))
            plan.runs.append(task)
    return plan


def _parameters(catalog: Catalog, tid: str, spec: TargetSpec) -> int | None:
    """A target's parameter count: its stored record's, else its model kind's (the
    built-in networks), else None (a python model not yet built)."""
    if catalog.has_target(tid):
        meta = catalog.target(tid).meta
        if meta is not None and meta.dims is not None and meta.dims.p:
            return int(meta.dims.p)
    from lambda_hat.targets.registry import model_of

    leaves = model_of(spec.model).leaves
    return sum(size for _, size in leaves(spec.model)) if leaves is not None else None


def _status(task, exists: bool, failure: FailureRecord | None) -> None:
    if exists:
        task.status = DONE
    elif failure is not None:
        task.status, task.failure = FAILED, failure
    else:
        task.status = TODO
