"""The plan file of a submission: the missing work cut into array-task slices, as JSON.

A slice is what one array task does, in order. Two ways to cut (``per``):

- ``"target"`` (default): one slice per target group: build the target if it is
  missing, then run its missing samplers. Targets are built before the runs that need
  them by construction; no SLURM dependency is needed.
- ``"run"``: one slice per missing run, each starting with its target when that is
  missing. Tasks of the same target race for the target's lock; one builds it, the
  others wait on the lock and then find it published. More parallelism when a few
  targets have many runs, at the price of tasks idling while their target is built.

Specs are stored resolved, as plain dicts (``config.specs.to_dict``), and rebuilt by
``spec_from_item``; the worker checks that the rebuilt spec hashes to the stored ID.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from lambda_hat.config.specs import (
    RunSpec,
    TargetSpec,
    run_from_dict,
    target_from_dict,
    to_dict,
)
from lambda_hat.errors import ConfigError, SlurmError
from lambda_hat.scheduler.local import selected
from lambda_hat.scheduler.plan import DONE, Plan
from lambda_hat.store.ids import run_dirname, target_id
from lambda_hat.store.jsonio import write_json_atomic
from lambda_hat.store.layout import Layout

PLAN_SCHEMA = 1
PER_CHOICES = ("target", "run")


@dataclass(frozen=True)
class PlanItem:
    """One task of a slice: a target to build or a run to sample, with its IDs and folder
    name computed once when planning, and its resolved spec (``to_dict``). ``names``: a
    target's preset names; ``run``: a run's folder name."""

    kind: str  # "target" | "run"
    key: str  # the target ID, or "<target_id>/<run folder>"
    target_id: str
    precision: str = ""
    spec: dict = field(default_factory=dict)
    run: str | None = None
    names: dict | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, d: dict) -> PlanItem:
        own = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in own})

    def final(self, layout: Layout) -> Path:
        """The folder it publishes."""
        if self.run is None:
            return layout.target_dir(self.target_id)
        return layout.run_dir(self.target_id, self.run)

    def failure(self, layout: Layout) -> Path:
        """Where its failure is recorded."""
        if self.run is None:
            return layout.target_failure(self.target_id)
        return layout.run_failure(self.target_id, self.run)

    def resume(self, layout: Layout) -> Path | None:
        """Where a run keeps its saved progress (None for a target)."""
        return None if self.run is None else layout.run_resume(self.target_id, self.run)


def target_item(task) -> PlanItem:
    return PlanItem(
        "target",
        task.target_id,
        task.target_id,
        task.spec.precision,
        to_dict(task.spec),
        names=dict(task.names),
    )


def run_item(task) -> PlanItem:
    key = f"{task.target_id}/{task.dirname}"
    spec = to_dict(task.spec)
    return PlanItem("run", key, task.target_id, task.spec.precision, spec, run=task.dirname)


def slices(plan: Plan, per: str = "target", retry_failed: bool = False):
    """(slices, skipped): the plan's missing work as lists of items, one list per task.

    ``skipped`` lists runs that cannot run because their target failed and is not being
    retried (``retry_failed`` also reselects recorded failures).
    """
    if per not in PER_CHOICES:
        raise SlurmError(f"--per must be one of {', '.join(PER_CHOICES)}, got {per!r}")
    targets, runs = selected(plan, retry_failed)
    todo_targets = {t.target_id: t for t in targets}
    done_targets = {t.target_id for t in plan.targets if t.status == DONE}
    runnable, skipped = [], []
    for r in runs:
        if r.target_id in todo_targets or r.target_id in done_targets:
            runnable.append(r)
        else:
            skipped.append({"key": r.key, "reason": f"its target {r.target_id} failed"})
    out: list[list[PlanItem]] = []
    if per == "target":
        for t in plan.targets:
            group = [run_item(r) for r in runnable if r.target_id == t.target_id]
            head = [target_item(t)] if t.target_id in todo_targets else []
            if head or group:
                out.append(head + group)
    else:
        for t in plan.targets:
            group = [r for r in runnable if r.target_id == t.target_id]
            head = [target_item(t)] if t.target_id in todo_targets else []
            if head and not group:
                out.append(head)
            out.extend(head + [run_item(r)] for r in group)
    return out, skipped


def write_plan(path: Path, document: dict) -> None:
    """Write the plan file (atomically: temp + rename); its ``tasks``: the slices."""
    tasks = [[item.to_json() for item in s] for s in document["tasks"]]
    write_json_atomic(path, {"schema_version": PLAN_SCHEMA, **document, "tasks": tasks}, indent=1)


def read_plan(path: str | Path) -> dict:
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise SlurmError(f"plan file {path} not found; was the submission folder moved?") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise SlurmError(
            f"plan file {path} is unreadable ({exc}); rerun `lambda-hat slurm`"
        ) from None
    if doc.get("schema_version") != PLAN_SCHEMA or not isinstance(doc.get("tasks"), list):
        raise SlurmError(f"plan file {path} has an unknown format; rerun `lambda-hat slurm`")
    doc["tasks"] = [[PlanItem.from_json(item) for item in s] for s in doc["tasks"]]
    return doc


def spec_from_item(item: PlanItem) -> TargetSpec | RunSpec:
    """Rebuild the frozen spec of a plan item and check that it hashes to the item's ID."""
    where = f"plan item {item.key}"
    try:
        if item.kind == "target":
            spec = target_from_dict(item.spec, where)
            ok = target_id(spec) == item.target_id
        else:
            spec = run_from_dict(item.spec, where)
            ok = run_dirname(spec) == item.run and spec.target_id == item.target_id
    except ConfigError as exc:
        raise SlurmError(
            f"{exc} (was the plan written by another lambda-hat version?); rerun `lambda-hat slurm`"
        ) from None
    if not ok:
        raise SlurmError(
            f"{where}: its spec no longer hashes to its ID (was the plan "
            "written by another lambda-hat version?); rerun `lambda-hat slurm`"
        )
    return spec
