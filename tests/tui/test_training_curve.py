"""The target screen of a checkpoint shows λ̂ over its training run; others show none."""

from __future__ import annotations

import json

import pytest

from lambda_hat.cli import main
from lambda_hat.config import load
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store.layout import Layout
from lambda_hat.tui.screens.target import TargetScreen
from lambda_hat.tui.widgets.line_plot import LinePlot
from lambda_hat.tui.widgets.record_table import RecordTable
from tests.targets.test_checkpoints import MODULAR
from tests.tui.conftest import DLN, make_app, settle

pytestmark = pytest.mark.asyncio


async def test_a_checkpoint_shows_the_curve_of_its_training(workdir):
    toml = workdir / "experiments" / "modular.toml"
    toml.write_text(f'[store]\nroot = "{workdir / "store"}"\n' + MODULAR)
    assert main(["run", str(toml), "--workers", "1", "--quiet"]) == 0
    targets = make_plan(load(toml)).targets
    layout = Layout(workdir / "store")
    expected = []
    for t in targets:
        (run,) = layout.target_dir(t.target_id).glob("run_hmc_*")
        llc = json.loads((run / "analysis.json").read_text())["llc_mean"]
        expected.append((t.spec.training.at_step, llc))
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(pilot)
        shown = {r.target_id: r.names_text for r in app.screen.query_one(RecordTable).shown}
        assert shown[targets[1].target_id] == "net/add/grok@50"  # the list names the step
        app.push_screen(TargetScreen(targets[1].target_id))
        await settle(pilot)
        plot = app.screen.query_one("#curve", LinePlot)
        assert plot.display and "(hmc; step: λ̂)" in plot.title
        assert app.screen.curve_points == expected
        # drawn as the straight segments through those points
        assert plot.xs[0] == 0 and plot.xs[-1] == 200 and plot.ys[0] == expected[0][1]
        assert plot.ys[-1] == pytest.approx(expected[-1][1])
        await pilot.press("escape")
        app.push_screen(TargetScreen(DLN))  # not a checkpoint: no curve
        await settle(pilot)
        assert not app.screen.query_one("#curve", LinePlot).display
