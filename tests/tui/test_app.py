"""Pilot tests: navigate, filter, sort, open a run, compare and export, refresh."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from lambda_hat.store.records import TargetMeta
from lambda_hat.tui.screens.compare import CompareScreen
from lambda_hat.tui.screens.help import HelpScreen
from lambda_hat.tui.screens.launch import LaunchScreen
from lambda_hat.tui.screens.run import RunScreen
from lambda_hat.tui.screens.target import FailureScreen, TargetScreen
from lambda_hat.tui.screens.targets import TargetsScreen
from lambda_hat.tui.widgets.line_plot import LinePlot
from lambda_hat.tui.widgets.record_table import RecordTable
from tests.store.faults import computing

from .conftest import DLN, MLP, make_app, settle

pytestmark = pytest.mark.asyncio


def _shown(app) -> list:
    return app.screen.query_one(RecordTable).shown


async def test_targets_listed_newest_first(workdir):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen)
        rows = _shown(app)
        assert {r.target_id for r in rows} == {DLN, MLP}
        assert [r.created_at for r in rows] == sorted((r.created_at for r in rows), reverse=True)
        dln = next(r for r in rows if r.target_id == DLN)
        assert dln.true_llc == 4.5 and dln.num_runs == 2 and dln.num_failed == 1
        assert dln.p == 24 and dln.n == 200


async def test_filter_by_typing_and_sort(workdir):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("d", "l", "n")
        assert [r.target_id for r in _shown(app)] == [DLN]
        await pilot.press("enter")  # back to the table, filter kept
        assert [r.target_id for r in _shown(app)] == [DLN]
        await pilot.press("escape")  # on the table: clears the filter
        assert len(_shown(app)) == 2
        await pilot.press("/", "m", "l", "p", "escape")
        assert [r.target_id for r in _shown(app)] == [MLP]
        await pilot.press("escape")
        table = app.screen.query_one(RecordTable)
        before = table.sort_column
        await pilot.press("s")
        assert table.sort_column == (before + 1) % len(table.columns)
        table.sort_column = 6  # true λ, ascending: the unknown one sorts last
        table.sort_reverse = False
        table.set_records(table.records)
        assert [r.target_id for r in _shown(app)] == [DLN, MLP]


async def test_open_target_run_and_failure(workdir):
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(pilot)
        await pilot.press("d", "l", "n", "enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, TargetScreen) and app.screen.target_id == DLN
        runs = _shown(app)
        statuses = [r.status for r in runs]  # rows sorted by folder name (hash order)
        assert sorted(statuses) == ["failed", "ok", "ok"]
        failed = statuses.index("failed")
        assert "SamplerDivergedError" in runs[failed].message
        assert runs[0].dirname.startswith("run_hmc_")

        # the failure opens its record, Esc closes it
        await pilot.press(*["down"] * failed, "enter")
        await settle(pilot)
        assert isinstance(app.screen, FailureScreen)
        assert "diverged" in app.screen.failure.message
        await pilot.press("escape")

        await pilot.press(*["up"] * failed, "enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        assert app.screen.row.dirname == runs[0].dirname
        plot = app.screen.query_one(LinePlot)
        assert len(plot.ys) == 100 and plot.reference == 4.5
        assert abs(plot.ys[-1] - runs[0].analysis.llc_mean) < 1e-6

        await pilot.press("n")
        await settle(pilot)
        assert app.screen.query_one("#img-0").children  # trace.png is rendered
        await pilot.press("o")
        await pilot.pause()
        assert any("diagnostics" in n.message for n in app._notifications)
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, TargetsScreen)


async def _open_unpublished(name: str, runs_cell: str) -> tuple[str, str, str]:
    """From the targets table (whose runs column for DLN must read ``runs_cell``) to the
    DLN target's run ``name``, and Enter on it: (its status, its status cell, what the
    app said)."""
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(RecordTable).table
        assert str(table.get_row(DLN)[7]) == runs_cell  # the runs column
        await pilot.press("d", "l", "n", "enter", "enter")
        await settle(pilot)
        runs = _shown(app)
        at = [r.dirname for r in runs].index(name)
        cell = str(app.screen.query_one(RecordTable).table.get_row(name)[-1])
        await pilot.press(*["down"] * at, "enter")
        await pilot.pause()
        assert isinstance(app.screen, TargetScreen)  # nothing to open: it says so
        return runs[at].status, cell, [n.message for n in app._notifications][-1]


async def test_a_run_computed_by_another_process_shows_as_running(workdir):
    final = workdir / "store" / "targets" / DLN / "run_sgld_0123abcd"
    with computing(final):
        status, cell, told = await _open_unpublished(final.name, "2 +1⟳ +1✗")
    assert (status, cell) == ("running", "⟳ running")
    assert told == f"{final.name} is being computed by a running process"


async def test_a_run_stopped_with_its_progress_saved_shows_as_stopped(workdir):
    import numpy as np

    from lambda_hat.store.snapshots import Snapshots

    name = "run_sgld_0123abce"
    saved = Snapshots(workdir / "store" / "targets" / DLN / "_resume" / f"{name}.npz", {})
    where = {"phase": 1, "offset": 15, "draws_done": 25, "draws_total": 60}
    saved.save({}, {"loss": np.zeros((15, 2))}, where)
    status, cell, told = await _open_unpublished(name, "2 +1⏸ +1✗")
    said = "progress saved at draw 25 of 60; the next run resumes it"
    assert (status, cell, told) == ("stopped", f"⏸ stopped: {said}", f"{name} stopped: {said}")


async def test_compare_and_csv_export(workdir):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.table.samplers == ["hmc", "sgld"]
        await pilot.press("e")
        await pilot.pause()
    rows = list(csv.DictReader((workdir / "llc_compare.csv").read_text().splitlines()))
    assert len(rows) == 4  # 2 targets × (hmc, sgld); failures are not estimates
    for row in rows:
        analysis = json.loads(
            (
                workdir / "store" / "targets" / row["target_id"] / row["run"] / "analysis.json"
            ).read_text()
        )
        assert float(row["llc_mean"]) == analysis["llc_mean"]
        if row["target_id"] == DLN:
            assert float(row["true_llc"]) == 4.5
            assert float(row["relative_error"]) == analysis["relative_error"]


async def test_modes_keep_state_and_help(workdir):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TargetScreen)
        await pilot.press("l")
        assert isinstance(app.screen, LaunchScreen)
        await pilot.press("t")
        assert isinstance(app.screen, TargetScreen)  # browsing stack kept
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, TargetScreen)


async def test_refreshes_when_a_run_appears(workdir):
    app = make_app(store_poll_sec=0.1)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("d", "l", "n", "enter", "enter")
        await settle(pilot)
        assert len(_shown(app)) == 3
        target = workdir / "store" / "targets" / DLN
        shutil.copytree(target / "run_hmc_bbedcc61", target / "run_hmc_00000000")
        await pilot.pause(0.4)
        await settle(pilot)
        assert "run_hmc_00000000" in [r.dirname for r in _shown(app)]


async def test_target_panel_says_what_the_values_were_computed_on():
    from rich.console import Console

    from lambda_hat.tui.screens.target import meta_panel

    meta = {"precision": "float64", "dims": {}, "metrics": {}}
    compute = {"backend": "cpu", "devices": ["cpu"], "device_count": 1, "cpu_threads": 2}
    for extra, said in (
        ({}, "float64\n"),
        ({"compute": compute}, "float64 on cpu, 2 threads"),
        ({"compute": {**compute, "cpu_threads": 1}}, "float64 on cpu, 1 thread\n"),
        ({"compute": {**compute, "backend": "gpu", "device_count": 4}}, "on gpu ×4, 2 threads"),
    ):
        console = Console(width=200, record=True)
        console.print(meta_panel("tgt_x", TargetMeta.from_json({**meta, **extra}), None))
        text = "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"
        assert said in text, (extra, text)
