"""The TUI never imports JAX: checked in a fresh interpreter that visits every screen."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    import lambda_hat.cli, lambda_hat.commands.tui
    from lambda_hat.tui.app import LambdaHatApp

    async def main():
        app = LambdaHatApp("store", "experiments", images="unicode")
        async with app.run_test(size=(140, 40)) as pilot:
            async def settle():
                for _ in range(3):
                    await pilot.pause(0.05)
                    await app.workers.wait_for_complete()
            await settle()
            await pilot.press("d", "l", "n", "enter", "enter")
            await settle()
            await pilot.press("enter")  # a run: reads trace.nc
            await settle()
            assert type(app.screen).__name__ == "RunScreen", app.screen
            assert app.screen.query_one("LinePlot").ys, "trace not loaded"
            await pilot.press("n")
            await settle()
            await pilot.press("c")
            await settle()
            await pilot.press("l")
            await settle()
            app.screen.select(__import__("pathlib").Path("experiments/tiny.toml"))
            await settle()
            assert app.screen.plan is not None
        heavy = sorted(m for m in sys.modules if m == "jax" or m.startswith(("jax.", "jaxlib")))
        print("JAX MODULES:", heavy)

    asyncio.run(main())
    """
)


def test_tui_never_imports_jax(workdir):
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "JAX MODULES: []" in out.stdout, out.stdout
