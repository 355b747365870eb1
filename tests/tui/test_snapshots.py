"""Snapshots of each screen on the committed fixture store (``--snapshot-update`` to accept).

Dates shown come from the fixture's meta/analysis files and are formatted in UTC, and the
store is opened by a relative path, so the captures are the same on every machine.
"""

from __future__ import annotations

from pathlib import Path

from .conftest import make_app, settle

SIZE = (140, 40)


def _steps(*keys):
    async def run_before(pilot):
        await settle(pilot)
        for key in keys:
            if key.startswith("select:"):
                pilot.app.screen.select(Path(key.removeprefix("select:")))
            else:
                await pilot.press(key)
            await settle(pilot)

    return run_before


def test_targets_screen(workdir, snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_steps())


def test_targets_screen_filtered(workdir, snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_steps("d", "l", "n"))


def test_target_screen(workdir, snap_compare):
    steps = _steps("d", "l", "n", "enter", "enter")
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=steps)


def test_run_screen(workdir, snap_compare):
    steps = _steps("d", "l", "n", "enter", "enter", "enter")
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=steps)


def test_failure_screen(workdir, snap_compare):
    from lambda_hat.tui.widgets.record_table import RecordTable

    to_target = _steps("d", "l", "n", "enter", "enter")

    async def steps(pilot):
        await to_target(pilot)
        rows = pilot.app.screen.query_one(RecordTable).shown  # sorted by folder (hash) name
        failed = [r.status for r in rows].index("failed")
        await _steps(*["down"] * failed, "enter")(pilot)

    assert snap_compare(make_app(), terminal_size=(140, 16), run_before=steps)


def test_compare_screen(workdir, snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_steps("c"))


def test_launch_screen_plan(workdir, snap_compare):
    steps = _steps("l", "select:experiments/tiny.toml")
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=steps)


def test_help_screen(workdir, snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_steps("question_mark"))
