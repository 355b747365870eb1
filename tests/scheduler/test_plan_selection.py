"""Plans and what a run selects from them (no workers, no JAX)."""

from __future__ import annotations

import sys

from lambda_hat.config import load
from lambda_hat.scheduler.local import selected
from lambda_hat.scheduler.plan import DONE, FAILED, TODO, make_plan
from lambda_hat.store import failures
from lambda_hat.store.layout import Layout
from tests.scheduler.helpers import run_cli, write_experiments


def test_plan_status_follows_folders_and_failures(tmp_path):
    exp = write_experiments(tmp_path / "e.toml", samplers=[{"seed": 0}, {"seed": 1}, {"seed": 2}])
    root = tmp_path / "store"
    plan = make_plan(load(exp, root))
    assert [t.status for t in plan.targets] == [TODO]
    assert [r.status for r in plan.runs] == [TODO] * 3
    assert len({r.dirname for r in plan.runs}) == 3

    layout = Layout(root)
    tid = plan.targets[0].target_id
    a, b, c = plan.runs
    layout.run_dir(tid, a.dirname).mkdir(parents=True)
    failures.record(layout.run_failure(tid, b.dirname), RuntimeError("boom"), {})
    failures.record(layout.run_failure(tid, c.dirname), RuntimeError("crash"), {}, retryable=True)

    plan = make_plan(load(exp, root))
    assert [t.status for t in plan.targets] == [DONE]
    assert [r.status for r in plan.runs] == [DONE, FAILED, FAILED]
    assert plan.runs[1].failure.message == "boom"

    targets, runs = selected(plan, retry_failed=False)
    assert targets == [] and [r.dirname for r in runs] == [c.dirname]  # crash: retryable
    _, runs = selected(plan, retry_failed=True)
    assert [r.dirname for r in runs] == [b.dirname, c.dirname]
    _, runs = selected(plan, retry_failed=True, only_targets=True)
    assert runs == []


def test_dry_run_prints_plan_and_builds_nothing(tmp_path):
    exp = write_experiments(tmp_path / "e.toml", samplers=[{"seed": 0}, {"seed": 1}])
    root = tmp_path / "store"
    proc = run_cli("run", exp, "--root", root, "--dry-run", timeout=60)
    assert proc.returncode == 0, proc.stderr
    plan = make_plan(load(exp, root))
    for r in plan.runs:
        assert r.dirname in proc.stdout
    assert "1 to do" in proc.stdout and "2 to do" in proc.stdout
    assert not root.exists()


def test_bad_workers_flag_is_a_config_error(tmp_path):
    exp = write_experiments(tmp_path / "e.toml")
    proc = run_cli("run", exp, "--root", tmp_path / "s", "--workers", "0", timeout=60)
    assert proc.returncode == 2 and "--workers" in proc.stderr


def test_run_command_does_not_import_jax_when_nothing_to_do(tmp_path):
    """A no-op rerun plans and exits without starting workers or importing JAX."""
    exp = write_experiments(tmp_path / "e.toml")
    root = tmp_path / "store"
    plan = make_plan(load(exp, root))
    layout = Layout(root)
    for r in plan.runs:
        layout.run_dir(r.target_id, r.dirname).mkdir(parents=True)
    code = (
        "import sys; from lambda_hat.cli import main; "
        f"rc = main(['run', {str(exp)!r}, '--root', {str(root)!r}, '--quiet']); "
        "assert rc == 0, rc; assert 'jax' not in sys.modules, 'jax imported'"
    )
    import subprocess

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "nothing to do" in proc.stderr


def test_the_default_workers_are_the_tasks_that_can_run_at_once(tmp_path, monkeypatch):
    """One core per worker would leave a lone run on one of the cores: the default is
    no more workers than tasks that can run together."""
    from lambda_hat.scheduler import local

    monkeypatch.setattr(local, "usable_cpus", lambda: [0, 1, 2, 3])
    exp = write_experiments(tmp_path / "e.toml", samplers=[{"seed": 0}])
    plan = make_plan(load(exp, tmp_path / "store"))
    [target], [run] = plan.targets, plan.runs
    assert local.default_workers([target], [run]) == 1  # the run waits for its target
    assert local.default_workers([], [run]) == 1
    assert local.default_workers([target], []) == 1
    assert local.default_workers([target], [run, run, run]) == 3
    other = type(run)(**{**run.__dict__, "target_id": "tgt_built"})
    assert local.default_workers([target], [run, other]) == 2  # both can start at once
    assert local.default_workers([target], [run] * 9) == 4  # at most the cores
    assert local.default_workers([], []) == 1
