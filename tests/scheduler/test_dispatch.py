"""The local executor's dispatch loop with stand-in tasks (tests/scheduler/fakes.py):
order, failures, skips, crashes, retries and Ctrl-C, in seconds and without JAX. The
real processes, kill -9 and Ctrl-C of the command are in test_execution.py."""

from __future__ import annotations

import json

import pytest

from lambda_hat.config import load
from lambda_hat.scheduler.local import LocalExecutor
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store.layout import Layout
from tests.scheduler import fakes
from tests.scheduler.helpers import TINY_TARGET, sampler_toml


@pytest.fixture
def store(tmp_path):
    """Two targets with two SGLD runs each (six tasks); the store root."""
    exp = tmp_path / "e.toml"
    exp.write_text(
        TINY_TARGET.format(seed=1) + _second_target() + sampler_toml(0) + sampler_toml(1)
    )
    return exp, tmp_path / "store"


def _second_target() -> str:
    return '\n[[targets]]\nmodel = "dln"\ndata = "d"\ntraining = "teacher"\nseed = 2\n'


def _execute(exp, root, workers=2, sink=None, retry_failed=False):
    plan = make_plan(load(exp, root))
    events: list[dict] = []

    def collect(event):
        events.append(event)
        if sink is not None:
            sink(event)

    executor = LocalExecutor(root, workers, collect, task=fakes.task, initializer=fakes.init)
    return plan, executor.execute(plan, retry_failed=retry_failed), events


def _keys(events, name):
    return [e["key"] for e in events if e["event"] == name]


def test_each_task_runs_once_and_a_target_before_its_runs(store):
    exp, root = store
    fakes.script(root, {})
    plan, summary, events = _execute(exp, root)
    assert len(plan.targets) == 2 and len(plan.runs) == 4
    assert sorted(summary.done) == sorted(t.key for t in [*plan.targets, *plan.runs])
    finished = _keys(events, "finished")
    assert sorted(finished) == sorted(summary.done)  # each once
    for run in plan.runs:
        assert finished.index(run.target_id) < _keys(events, "submitted").index(run.key)
    assert summary.ok and not summary.failed
    again = make_plan(load(exp, root))
    assert {t.status for t in [*again.targets, *again.runs]} == {"done"}


def test_runs_of_a_failed_target_are_skipped_and_the_rest_go_on(store):
    exp, root = store
    plan = make_plan(load(exp, root))
    bad = plan.targets[0]
    fakes.script(root, {bad.key: ["fail"]})
    plan, summary, events = _execute(exp, root)
    assert [f["key"] for f in summary.failed] == [bad.key]
    assert sorted(_keys(events, "skipped")) == sorted(
        r.key for r in plan.runs if r.target_id == bad.target_id
    )
    others = [r.key for r in plan.runs if r.target_id != bad.target_id]
    assert sorted(summary.done) == sorted([plan.targets[1].key, *others])
    record = json.loads(Layout(root).target_failure(bad.target_id).read_text())
    assert record["error_type"] == "RuntimeError" and not record.get("retryable")


def test_a_crashed_worker_is_retried_once_then_recorded_and_retried_by_the_next_run(store):
    exp, root = store
    plan = make_plan(load(exp, root))
    once, twice = plan.runs[0], plan.runs[1]
    fakes.script(root, {once.key: ["crash", "ok"], twice.key: ["crash", "crash", "ok"]})
    plan, summary, events = _execute(exp, root)
    assert sorted(_keys(events, "retry")) == sorted([once.key, twice.key])
    assert once.key in summary.done and [f["key"] for f in summary.failed] == [twice.key]
    assert summary.failed[0]["error_type"] == "WorkerCrashed"
    record = json.loads(Layout(root).run_failure(twice.target_id, twice.dirname).read_text())
    assert record["retryable"] is True and "SIGKILL" in record["message"]
    assert len(summary.done) == 5  # the others went on
    # a crash is retried by the next run without --retry-failed (and succeeds this time)
    _, again, _ = _execute(exp, root)
    assert again.done == [twice.key] and again.ok


def test_a_deterministic_failure_waits_for_retry_failed(store):
    exp, root = store
    plan = make_plan(load(exp, root))
    bad = plan.runs[2]
    fakes.script(root, {bad.key: ["fail", "ok"]})
    _, first, _ = _execute(exp, root)
    assert [f["key"] for f in first.failed] == [bad.key]
    _, second, events = _execute(exp, root)
    assert second.done == [] and _keys(events, "started") == []  # held back
    _, third, _ = _execute(exp, root, retry_failed=True)
    assert third.done == [bad.key]


def test_ctrl_c_stops_the_workers_and_says_what_was_left(store):
    exp, root = store
    plan = make_plan(load(exp, root))
    fakes.script(root, {t.key: ["wait"] for t in plan.targets})

    def interrupt(event):
        if event["event"] == "started":
            raise KeyboardInterrupt

    _, summary, events = _execute(exp, root, sink=interrupt)
    assert summary.interrupted and summary.done == []
    [stop] = [e for e in events if e["event"] == "interrupted"]
    assert stop["pending"] == len(plan.targets) + len(plan.runs)
    assert not any(Layout(root).targets.glob("tgt_*"))  # nothing was published
