"""``lambda-hat run`` on one training kept at checkpoints: the plan tells the checkpoints
apart, and the summary counts those the training published as built by this run."""

from __future__ import annotations

import json

from lambda_hat.cli import main
from lambda_hat.config import load
from lambda_hat.scheduler.local import LocalExecutor, Summary
from lambda_hat.scheduler.plan import make_plan
from tests.targets.test_checkpoints import MODULAR


def _experiments(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(f'[store]\nroot = "{tmp_path / "store"}"\n' + MODULAR)
    return path


def test_the_dry_run_names_each_checkpoints_step(tmp_path, capsys):
    path = _experiments(tmp_path)
    assert main(["run", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    targets = make_plan(load(path)).targets
    for t, step in zip(targets, (0, 50, 200), strict=True):
        line = next(line for line in out.splitlines() if t.target_id in line)
        assert f"net/add/grok@step {step}" in line


def test_checkpoints_of_this_runs_own_training_count_as_built(tmp_path, capsys):
    path = _experiments(tmp_path)
    events = tmp_path / "events.jsonl"
    argv = ["run", str(path), "--only-targets", "--workers", "1", "--events", str(events)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "3 built (2 of them checkpoints of the same training)" in err
    assert "another process" not in err
    stream = [json.loads(line) for line in events.read_text().splitlines()]
    finished = [e for e in stream if e["event"] == "finished"]
    first, *others = (t.target_id for t in make_plan(load(path)).targets)
    assert finished[0]["target_id"] == first and sorted(finished[0]["siblings"]) == sorted(others)
    assert [(e["target_id"], e["built"], e["with"]) for e in finished[1:]] == [
        (tid, True, first) for tid in others
    ]
    summary = stream[-1]
    assert (summary["done"], summary["siblings"], summary["found"]) == (3, 2, 0)


def test_a_siblings_result_read_before_its_trainings_is_still_built_by_this_run(tmp_path):
    """With several workers a checkpoint's task may finish (it waited on the training's
    lock) before the training's own result is read: it moves from found to built."""
    plan = make_plan(load(_experiments(tmp_path)))
    training, sibling, _ = plan.targets
    executor, summary = LocalExecutor(tmp_path / "store", 1), Summary()
    try:
        found = {"key": sibling.key, "target_id": sibling.target_id, "built": False}
        executor._attribute(sibling, {**found, "siblings": []}, summary)
        assert summary.found == [sibling.key]
        trained = {"key": training.key, "built": True, "siblings": [sibling.target_id]}
        executor._attribute(training, {**trained, "target_id": training.target_id}, summary)
        assert (summary.done, summary.siblings, summary.found) == (
            [training.key, sibling.key],
            [sibling.key],
            [],
        )
    finally:
        executor.shutdown()
