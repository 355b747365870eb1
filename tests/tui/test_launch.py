"""Launching from the TUI: a real ``lambda-hat run`` process, followed through its events."""

from __future__ import annotations

import time

import pytest

from lambda_hat.tui.launch import (
    ALREADY,
    DONE,
    FAILED,
    PLAN_FAILED,
    RUNNING,
    TODO,
    EventTail,
    Launch,
    prepare_process_spawning,
    tasks_from_plan,
)
from lambda_hat.tui.screens.launch import LaunchScreen
from lambda_hat.tui.screens.targets import TargetsScreen

from .conftest import make_app, settle

LAUNCH_TOML = """
[store]
root = "store"

[models.dln]
kind = "dln"
in_dim = 2
widths = [2]
out_dim = 2
rank = 1

[data.d]
n_data = 50

[training.teacher]
init = "teacher"
steps = 0

[[targets]]
model = "dln"
data = "d"
training = "teacher"
seed = 3

[[samplers]]
name = "sgld"
thin = 1
step_size = 1e-4
batch_size = 50
chains = 2
draws = 20
burnin = 0

[[samplers]]
name = "sgld"
thin = 1
step_size = 1e6
batch_size = 50
chains = 2
draws = 20
burnin = 0
"""


def test_event_tail_skips_torn_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    assert tail.read() == []
    path.write_text('{"event": "plan"}\n{"event": "sta')
    assert tail.read() == [{"event": "plan"}]
    with open(path, "a") as fh:
        fh.write('rted", "key": "k"}\nnot json\n')
    assert tail.read() == [{"event": "started", "key": "k"}]


def test_launch_follows_events(tmp_path):
    launch = Launch(tmp_path / "x.toml", tmp_path, tmp_path / "e.jsonl", tmp_path / "log")
    plan = {
        "targets": [{"target_id": "tgt_a", "status": "done", "model": "m", "data": "d"}],
        "runs": [
            {"target_id": "tgt_a", "run": "run_sgld_1", "status": "todo"},
            {"target_id": "tgt_a", "run": "run_sgld_2", "status": "failed"},
        ],
    }
    launch.apply({"event": "plan", **plan})
    assert [t.status for t in launch.tasks.values()] == [ALREADY, TODO, FAILED]
    assert launch.tasks["tgt_a/run_sgld_2"].message == PLAN_FAILED
    launch.apply({"event": "started", "key": "tgt_a/run_sgld_1", "kind": "run"})
    pilot = "step size: pilot round 1 of at most 3, ε = 2e-05, 50,000 steps"
    launch.apply({"event": "stage", "key": "tgt_a/run_sgld_1", "stage": pilot})
    task = launch.tasks["tgt_a/run_sgld_1"]
    assert task.status == RUNNING and task.message == pilot and task.fraction == 0
    launch.apply({"event": "progress", "key": "tgt_a/run_sgld_1", "done": 30, "total": 120})
    assert task.status == RUNNING and task.fraction == 0.25
    launch.apply(
        {
            "event": "failed",
            "key": "tgt_a/run_sgld_1",
            "kind": "run",
            "error_type": "SamplerDivergedError",
            "message": "NaN",
        }
    )
    assert task.status == FAILED and task.message == "SamplerDivergedError: NaN"
    launch.apply({"event": "summary", "failed": [{"key": "tgt_a/run_sgld_1"}]})
    assert "finished with 1 failure(s)" in launch.status_line()
    assert tasks_from_plan(plan)["tgt_a"].status == ALREADY
    launch.apply({"event": "stage", "key": "tgt_a/run_sgld_3", "stage": "writing: plots"})
    launch.apply({"event": "finished", "key": "tgt_a/run_sgld_3", "kind": "run"})
    assert launch.tasks["tgt_a/run_sgld_3"].status == DONE
    assert launch.tasks["tgt_a/run_sgld_3"].message == ""  # a stage is not a result


@pytest.mark.asyncio
async def test_launch_a_file_and_see_it_finish(workdir):
    (workdir / "experiments" / "launch.toml").write_text(LAUNCH_TOML)
    prepare_process_spawning()
    app = make_app(store_poll_sec=0.5, launch_poll_sec=0.2)
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        assert isinstance(app.screen, LaunchScreen)
        app.screen.select(workdir / "experiments" / "launch.toml")
        await settle(pilot)
        assert app.screen.plan["counts"]["runs"]["todo"] == 2
        # each run to do shows its work and time before it starts (20 draws, no burn-in)
        works = [t.message for t in tasks_from_plan(app.screen.plan).values() if t.kind == "run"]
        assert len(works) == 2 and all(w.startswith("about ") for w in works)
        assert all(w.endswith(" · 20 steps · 20 FGEs") for w in works)  # batch 50 of 50 rows
        await pilot.press("g")
        launch = app.launches[-1]
        await pilot.press("t")  # browse while it runs
        assert isinstance(app.screen, TargetsScreen)
        deadline = time.time() + 240
        while launch.running and time.time() < deadline:
            await pilot.pause(0.5)
        await pilot.pause(0.5)
        await settle(pilot)
        assert launch.returncode == 1, launch.log_tail()  # one run fails on purpose
        statuses = {t.label.split(" ")[0]: t.status for t in launch.tasks.values()}
        assert sorted(statuses.values()) == [DONE, DONE, FAILED]
        failed = next(t for t in launch.tasks.values() if t.status == FAILED)
        assert "SamplerDivergedError" in failed.message
        # the new target appeared on the browsing screen by itself
        assert len(app.screen.query_one("RecordTable").records) == 3
        await pilot.press("l")
        table = app.screen.query_one("#tasks")
        assert table.row_count == 3
