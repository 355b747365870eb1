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

import json
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

PLAN_SCHEMA = 1
PER_CHOICES = ("target", "run")


def target_item(task) -> dict:
    return {
        "kind": "target",
        "key": task.target_id,
        "target_id": task.target_id,
        "names": dict(task.names),
        "precision": task.spec.precision,
        "spec": to_dict(task.spec),
    }


def run_item(task) -> dict:
    return {
        "kind": "run",
        "key": f"{task.target_id}/{task.dirname}",
        "target_id": task.target_id,
        "run": task.dirname,
        "precision": task.spec.precision,
        "spec": to_dict(task.spec),
    }


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
    out: list[list[dict]] = []
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
    """Write the plan file (atomically: temp + rename)."""
    write_json_atomic(path, {"schema_version": PLAN_SCHEMA, **document}, indent=1)


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
    return doc


def spec_from_item(item: dict) -> TargetSpec | RunSpec:
    """Rebuild the frozen spec of a plan item and check that it hashes to the item's ID."""
    where = f"plan item {item.get('key')}"
    try:
        if item["kind"] == "target":
            spec = target_from_dict(item["spec"], where)
            ok = target_id(spec) == item["target_id"]
        else:
            spec = run_from_dict(item["spec"], where)
            ok = run_dirname(spec) == item["run"] and spec.target_id == item["target_id"]
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
