"""`lambda-hat run` as real processes: failures, reruns, concurrency, Ctrl-C, kill -9."""

from __future__ import annotations

import json
import shutil
import signal
import time

import pytest

from lambda_hat.config import load
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store.layout import Layout
from tests.scheduler.helpers import (
    assert_consistent,
    base_store,
    events,
    kill_group,
    manifest_lines,
    run_cli,
    start_cli,
    temp_folders,
    wait_for_event,
    write_experiments,
)

# A run long enough to be caught mid-sampling: 80k SGLD steps, only 2k draws kept.
LONG = {"draws": 2000, "thin": 40}


def _plan(exp, root):
    return make_plan(load(exp, root))


def _finished(path, built=True):
    return [e["key"] for e in events(path) if e["event"] == "finished" and e["built"] is built]


def test_failing_task_is_isolated_recorded_and_reported(tmp_path):
    exp, root, proc = base_store(tmp_path)
    assert proc.returncode == 1, proc.stderr
    plan = _plan(exp, root)
    good, _, bad = plan.runs
    assert [r.status for r in plan.runs] == ["done", "done", "failed"]
    # The summary says what failed and where to look.
    failure_file = Layout(root).run_failure(bad.target_id, bad.dirname)
    assert "SamplerDivergedError" in proc.stderr and bad.dirname in proc.stderr
    assert failure_file.name in proc.stderr.replace("\n", "")
    record = json.loads(failure_file.read_text())
    assert record["error_type"] == "SamplerDivergedError"
    assert "Traceback" in record["traceback"] and record["spec"]["params"]["step_size"] == 1e4
    assert not record.get("retryable")
    # The event stream has every kind of event, ending in a summary.
    evs = events(tmp_path / "events.jsonl")
    kinds = {e["event"] for e in evs}
    assert {"plan", "submitted", "started", "progress", "finished", "failed"} <= kinds
    assert evs[0]["event"] == "plan" and evs[-1]["event"] == "summary"
    assert evs[-1]["done"] == 3 and [f["key"] for f in evs[-1]["failed"]] == [bad.key]
    assert_consistent(root)

    # A deterministic failure is not retried without --retry-failed (and nothing runs).
    again = run_cli("run", exp, "--root", root, "--quiet", timeout=120)
    assert again.returncode == 1 and "--retry-failed" in again.stderr
    assert json.loads(failure_file.read_text())["time"] == record["time"]

    # With --retry-failed it is tried again (and fails again, recorded anew).
    retry = run_cli(
        "run",
        exp,
        "--root",
        root,
        "--quiet",
        "--retry-failed",
        "--events",
        tmp_path / "retry.jsonl",
    )
    assert retry.returncode == 1
    assert [e["key"] for e in events(tmp_path / "retry.jsonl") if e["event"] == "started"] == [
        bad.key
    ]
    assert json.loads(failure_file.read_text())["time"] > record["time"]
    assert good.dirname in {p.name for p in Layout(root).target_dir(good.target_id).iterdir()}


def test_deleted_folders_are_rebuilt_exactly(tmp_path):
    """The seed's recipes: rm a run folder (or the target) and rerun."""
    exp, root, _ = base_store(tmp_path)
    layout = Layout(root)
    plan = _plan(exp, root)
    tid = plan.targets[0].target_id
    first, second, bad = plan.runs
    cache = layout.cache_dir  # the session's shared cache (tests/conftest.py)
    cached = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert cached
    kept = json.loads((layout.run_dir(tid, second.dirname) / "analysis.json").read_text())

    shutil.rmtree(layout.run_dir(tid, first.dirname))
    proc = run_cli("run", exp, "--root", root, "--quiet", "--events", tmp_path / "e1.jsonl")
    assert proc.returncode == 1  # the recorded failure is still reported
    assert _finished(tmp_path / "e1.jsonl") == [first.key]
    runs = manifest_lines(layout.runs_manifest(tid))
    assert sorted(e["run_id"] for e in runs) == sorted([first.dirname[-8:], second.dirname[-8:]])
    again = json.loads((layout.run_dir(tid, second.dirname) / "analysis.json").read_text())
    assert again == kept  # the untouched run was not redone
    # Same shapes: the sampling loop (driver `advance`) came from the persistent cache; a miss
    # would have rewritten them. (Programs compiled in < 0.1 s are not cached at all.)
    assert any(name.startswith("jit_advance") for name in cached)
    after = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert {k: after.get(k) for k in cached} == cached
    assert_consistent(root)

    shutil.rmtree(layout.target_dir(tid))  # the target, its runs and their records
    proc = run_cli("run", exp, "--root", root, "--quiet", "--events", tmp_path / "e2.jsonl")
    assert proc.returncode == 1  # the bad run was retried (its record went) and failed
    assert sorted(_finished(tmp_path / "e2.jsonl")) == sorted([tid, first.key, second.key])
    assert [e["target_id"] for e in manifest_lines(layout.catalog)] == [tid]
    assert len(manifest_lines(layout.runs_manifest(tid))) == 2
    assert_consistent(root)


def test_only_targets_builds_targets_and_no_runs(tiny):
    exp, root = tiny
    proc = run_cli("run", exp, "--root", root, "--only-targets", "--quiet", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    plan = _plan(exp, root)
    assert [t.status for t in plan.targets] == ["done"]
    assert [r.status for r in plan.runs] == ["todo"]
    assert_consistent(root)


def test_two_concurrent_runs_build_everything_exactly_once(tmp_path):
    exp = write_experiments(tmp_path / "e.toml", samplers=[{"seed": 0}, {"seed": 1}, {"seed": 2}])
    root = tmp_path / "store"
    procs = [
        start_cli(
            "run",
            exp,
            "--root",
            root,
            "--quiet",
            "--workers",
            "1",
            "--events",
            tmp_path / f"e{i}.jsonl",
            log=tmp_path / f"log{i}",
        )
        for i in range(2)
    ]
    for i, p in enumerate(procs):
        assert p.wait(timeout=400) == 0, (tmp_path / f"log{i}").read_text()
    plan = _plan(exp, root)
    keys = [plan.targets[0].key] + [r.key for r in plan.runs]
    built = _finished(tmp_path / "e0.jsonl") + _finished(tmp_path / "e1.jsonl")
    found = _finished(tmp_path / "e0.jsonl", False) + _finished(tmp_path / "e1.jsonl", False)
    assert sorted(built) == sorted(keys)  # each artifact built once, by one of them
    assert sorted(built + found) == sorted(keys * 2)  # and each process accounted for all
    layout = Layout(root)
    tid = plan.targets[0].target_id
    catalog = manifest_lines(layout.catalog)
    assert [e["target_id"] for e in catalog] == [tid]
    meta = json.loads((layout.target_dir(tid) / "meta.json").read_text())
    assert catalog[0]["created_at"] == meta["created_at"]
    runs = {e["run_id"]: e for e in manifest_lines(layout.runs_manifest(tid))}
    assert sorted(runs) == sorted(r.dirname[-8:] for r in plan.runs)
    for r in plan.runs:
        analysis = json.loads((layout.run_dir(tid, r.dirname) / "analysis.json").read_text())
        assert runs[r.dirname[-8:]]["created_at"] == analysis["created_at"]
        assert analysis["created_at"] >= meta["created_at"]  # runs waited for the target
    assert_consistent(root)


def test_sigint_stops_promptly_and_leaves_store_consistent(tmp_path):
    exp = write_experiments(tmp_path / "e.toml", samplers=[{**LONG, "seed": s} for s in range(3)])
    root = tmp_path / "store"
    ev = tmp_path / "events.jsonl"
    proc = start_cli(
        "run", exp, "--root", root, "--workers", "1", "--events", ev, log=tmp_path / "log"
    )
    try:
        running = wait_for_event(
            ev, lambda e: e["event"] == "progress" and 0 < e["done"] < e["total"], proc=proc
        )
        assert temp_folders(root)  # a build is in progress
        sent = time.time()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130, (tmp_path / "log").read_text()
        assert time.time() - sent < 20
    finally:
        if proc.poll() is None:
            kill_group(proc)
    evs = events(ev)
    assert [e for e in evs if e["event"] == "interrupted"]
    assert evs[-1]["event"] == "summary" and evs[-1]["interrupted"] is True
    started = {e["key"] for e in evs if e["event"] == "started"}
    plan = _plan(exp, root)
    assert [r.status for r in plan.runs] == ["todo"] * 3  # nothing half-published
    assert plan.runs[2].key not in started  # pending work was cancelled, never started
    assert running["key"] in started
    assert not list(Layout(root).target_dir(plan.targets[0].target_id).glob("_failures/*"))
    assert_consistent(root)


@pytest.mark.slow
def _start_long_run(tmp_path):
    """One long SGLD run on one worker, started in the background with an event stream."""
    exp = write_experiments(tmp_path / "e.toml", samplers=[{**LONG, "seed": 0}])
    root = tmp_path / "store"
    ev = tmp_path / "events.jsonl"
    proc = start_cli(
        "run",
        exp,
        "--root",
        root,
        "--workers",
        "1",
        "--quiet",
        "--events",
        ev,
        log=tmp_path / "log",
    )
    return exp, root, ev, proc


@pytest.mark.slow
def test_kill_9_of_the_whole_run_then_rerun_completes(tmp_path):
    exp, root, ev, proc = _start_long_run(tmp_path)
    try:
        wait_for_event(
            ev, lambda e: e["event"] == "progress" and 0 < e["done"] < e["total"], proc=proc
        )
    finally:
        kill_group(proc)  # SIGKILL to the run and all its workers at once
    plan = _plan(exp, root)
    run = plan.runs[0]
    stale = temp_folders(root)
    assert [p.name.split("-")[1] for p in stale] == [run.dirname]  # a partial build is left
    assert run.status == "todo"  # ... but nothing under the final name

    rerun = run_cli("run", exp, "--root", root, "--quiet", "--events", tmp_path / "e2.jsonl")
    assert rerun.returncode == 0, rerun.stderr
    assert _finished(tmp_path / "e2.jsonl") == [run.key]
    assert not any(p.exists() for p in stale)
    assert_consistent(root)


@pytest.mark.slow
def test_kill_9_of_the_main_process_only_stops_its_orphaned_workers(tmp_path):
    exp, root, ev, proc = _start_long_run(tmp_path)
    try:
        e = wait_for_event(
            ev, lambda e: e["event"] == "progress" and 0 < e["done"] < e["total"], proc=proc
        )
        proc.send_signal(signal.SIGKILL)  # the main process only; the worker is orphaned
        proc.wait(timeout=30)
        deadline = time.time() + 30
        while time.time() < deadline and _alive(e["pid"]):
            time.sleep(0.1)
        assert not _alive(e["pid"])  # it noticed and stopped...
        assert temp_folders(root) == []  # ...removing its partial build on the way out
    finally:
        kill_group(proc)
    rerun = run_cli("run", exp, "--root", root, "--quiet")
    assert rerun.returncode == 0, rerun.stderr
    assert_consistent(root)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
