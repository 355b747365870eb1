"""Cutting a plan into array-task slices, and the plan file's round trip."""

from __future__ import annotations

import json

import pytest

from lambda_hat.config import load
from lambda_hat.errors import SlurmError
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.slurm.planfile import PlanItem, read_plan, slices, spec_from_item, write_plan
from lambda_hat.store.ids import run_dirname, target_id
from lambda_hat.store.layout import Layout
from lambda_hat.store.records import FailureRecord

TWO_SAMPLERS = """
[[samplers]]
name = "sgld"
thin = 1
step_size = 2e-4
chains = 2
draws = 40
"""


@pytest.fixture
def experiment(tiny_toml, tmp_path):
    """Two targets x two samplers (4 runs), in an empty store."""
    tiny_toml.write_text(tiny_toml.read_text() + TWO_SAMPLERS)
    return load(tiny_toml, tmp_path / "store")


@pytest.fixture
def plan(experiment):
    return make_plan(experiment)


def _keys(cut):
    return [[item.key for item in s] for s in cut]


def test_per_target_puts_each_target_before_its_runs(plan):
    cut, skipped = slices(plan, "target")
    assert skipped == []
    assert len(cut) == 2
    for t, s in zip(plan.targets, cut, strict=True):
        assert (s[0].kind, s[0].key) == ("target", t.target_id)
        assert [i.kind for i in s] == ["target", "run", "run"]
        assert {i.target_id for i in s} == {t.target_id}


def test_per_run_gives_each_run_its_own_task_with_its_target(plan):
    cut, _ = slices(plan, "run")
    assert len(cut) == 4
    assert all([i.kind for i in s] == ["target", "run"] for s in cut)
    assert sorted(s[1].key for s in cut) == sorted(r.key for r in plan.runs)


def test_done_targets_and_runs_are_left_out(plan, experiment):
    first = plan.targets[0]
    (Layout(plan.root).target_dir(first.target_id)).mkdir(parents=True)
    (Layout(plan.root).run_dir(first.target_id, plan.runs[0].dirname)).mkdir()
    fresh = make_plan(experiment)
    cut, _ = slices(fresh, "target")
    assert _keys(cut) == [
        [plan.runs[1].key],
        [plan.targets[1].target_id, plan.runs[2].key, plan.runs[3].key],
    ]


def test_runs_of_a_failed_target_are_skipped_unless_retrying(plan):
    failed = plan.targets[1]
    failed.status, failed.failure = "failed", FailureRecord("X", retryable=False)
    cut, skipped = slices(plan, "target")
    assert len(cut) == 1
    assert sorted(s["key"] for s in skipped) == sorted(
        r.key for r in plan.runs if r.target_id == failed.target_id
    )
    cut, skipped = slices(plan, "target", retry_failed=True)
    assert len(cut) == 2 and skipped == []


def test_nothing_missing_gives_no_slices(plan):
    for task in plan.targets + plan.runs:
        task.status = "done"
    assert slices(plan, "target") == ([], [])


def test_unknown_per_is_an_error(plan):
    with pytest.raises(SlurmError, match="--per"):
        slices(plan, "node")


def test_plan_file_round_trip_rebuilds_specs_with_the_same_ids(plan, tmp_path):
    cut, _ = slices(plan, "target")
    path = tmp_path / "plan.json"
    write_plan(path, {"root": str(plan.root), "tasks": cut})
    doc = read_plan(path)
    items = [item for s in doc["tasks"] for item in s]
    assert items == [item for s in cut for item in s]  # the items it wrote, read back
    for item in items:
        spec = spec_from_item(item)
        if item.kind == "target":
            assert target_id(spec) == item.target_id and item.run is None
            assert isinstance(spec.model.widths, tuple)
        else:
            assert run_dirname(spec) == item.run
    specs = {t.target_id: t.spec for t in plan.targets}
    assert spec_from_item(items[0]) == specs[items[0].target_id]


def test_a_tampered_spec_is_refused(plan, tmp_path):
    cut, _ = slices(plan, "target")
    item = json.loads(json.dumps(cut[0][1].to_json()))
    item["spec"]["draws"] += 1
    with pytest.raises(SlurmError, match="no longer hashes"):
        spec_from_item(PlanItem.from_json(item))
    item = json.loads(json.dumps(cut[0][0].to_json()))
    item["spec"]["model"]["colour"] = "red"
    with pytest.raises(SlurmError, match="unknown key 'colour'"):
        spec_from_item(PlanItem.from_json(item))


def test_unreadable_plan_file_says_what_to_do(tmp_path):
    with pytest.raises(SlurmError, match="not found"):
        read_plan(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SlurmError, match="rerun `lambda-hat slurm`"):
        read_plan(tmp_path / "bad.json")
