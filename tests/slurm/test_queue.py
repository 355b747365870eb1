"""Reading SLURM's answers (captured from a real slurmctld 22.05) and submission records."""

from __future__ import annotations

import json

from lambda_hat.slurm.queue import (
    count_states,
    describe,
    expand_task_ids,
    parse_scontrol_jobs,
    submissions,
    task_states,
)
from lambda_hat.store.layout import Layout

# `scontrol show job -o 12` while task 0 ran, 1 had ended and 2-3 were pending (trimmed).
SCONTROL = """\
JobId=12 ArrayJobId=12 ArrayTaskId=2-3%2 ArrayTaskThrottle=2 JobName=lambda-hat UserId=root(0) JobState=PENDING Reason=JobArrayTaskLimit Dependency=(null) Requeue=0 Restarts=0 BatchFlag=1 ExitCode=0:0 RunTime=00:00:00
JobId=14 ArrayJobId=12 ArrayTaskId=1 ArrayTaskThrottle=2 JobName=lambda-hat UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=0 Restarts=0 BatchFlag=1 ExitCode=143:0 RunTime=00:00:02
JobId=13 ArrayJobId=12 ArrayTaskId=0 ArrayTaskThrottle=2 JobName=lambda-hat UserId=root(0) JobState=RUNNING Reason=None Dependency=(null) Requeue=0 Restarts=1 BatchFlag=1 ExitCode=0:0 RunTime=00:00:09
"""  # noqa: E501


def test_expand_task_ids():
    assert expand_task_ids("0-3%2") == [0, 1, 2, 3]
    assert expand_task_ids("1,4-5") == [1, 4, 5]
    assert expand_task_ids("7") == [7]
    assert expand_task_ids("0-6:3") == [0, 3, 6]


def test_task_states_from_scontrol():
    states = task_states(parse_scontrol_jobs(SCONTROL), "12")
    assert sorted(states) == [0, 1, 2, 3]
    assert states[0]["state"] == "RUNNING" and states[0]["restarts"] == 1
    assert states[1] == {
        "state": "FAILED",
        "exit_code": "143:0",
        "job_id": "14",
        "restarts": 0,
        "reason": "NonZeroExitCode",
    }
    assert states[3]["state"] == "PENDING"
    assert count_states(states) == {"FAILED": 1, "PENDING": 2, "RUNNING": 1}
    assert task_states(parse_scontrol_jobs(SCONTROL), "99") == {}


def test_submissions_report_store_progress(tmp_path):
    layout = Layout(tmp_path)
    folder = layout.slurm_dir / "20250101-000000-abcdef"
    folder.mkdir(parents=True)
    layout.target_dir("tgt_a").mkdir(parents=True)
    layout.run_dir("tgt_a", "run_sgld_1").mkdir()
    layout.run_failure("tgt_a", "run_sgld_2").parent.mkdir()
    layout.run_failure("tgt_a", "run_sgld_2").write_text("{}")
    artifacts = [
        {"kind": "target", "key": "tgt_a", "target_id": "tgt_a"},
        {"kind": "run", "key": "tgt_a/run_sgld_1", "target_id": "tgt_a", "run": "run_sgld_1"},
        {"kind": "run", "key": "tgt_a/run_sgld_2", "target_id": "tgt_a", "run": "run_sgld_2"},
        {"kind": "run", "key": "tgt_a/run_sgld_3", "target_id": "tgt_a", "run": "run_sgld_3"},
    ]
    (folder / "submission.json").write_text(
        json.dumps(
            {
                "submission_id": folder.name,
                "created_at": 1.0,
                "experiments": "/x.toml",
                "job_id": None,
                "n_tasks": 1,
                "artifacts": artifacts,
            }
        )
    )
    (layout.slurm_dir / "broken").mkdir()
    (layout.slurm_dir / "broken" / "submission.json").write_text("{")
    [sub] = submissions(tmp_path)
    assert sub["submission_id"] == folder.name
    assert sub["artifacts"] == {"total": 4, "done": 2, "failed": 1, "missing": 1}
    assert sub["tasks"] is None and sub["active"] is False
    assert sub["queue_note"] == "not submitted (script only)"
    assert describe(sub) == (
        f"slurm {folder.name} (not submitted, 1 task(s)): 2/4 published, 1 failed; "
        "not submitted (script only)"
    )
    tasks = task_states(parse_scontrol_jobs(SCONTROL), "12")
    running = {**sub, "job_id": "12", "tasks": count_states(tasks)}
    assert describe(running).endswith("tasks: 1 failed, 2 pending, 1 running")


def test_no_store_means_no_submissions(tmp_path):
    assert submissions(tmp_path / "nowhere") == []
