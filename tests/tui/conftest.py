"""Fixtures for the TUI tests: a private copy of the committed fixture store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIXTURE_STORE = FIXTURES / "store"

# The fixture store (tests/fixtures/tiny.toml): two targets, each with an SGLD and an HMC
# run and one diverged SGLD run recorded as a failure.
DLN = "tgt_f254a10f2b16"
MLP = "tgt_7b10725e629e"


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A temp working directory holding ``store/`` (a copy) and ``experiments/tiny.toml``.

    The app runs with the relative root ``store`` so that screens show the same paths on
    every machine.
    """
    shutil.copytree(FIXTURE_STORE, tmp_path / "store")
    (tmp_path / "experiments").mkdir()
    shutil.copy(FIXTURES / "tiny.toml", tmp_path / "experiments" / "tiny.toml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def make_app(**kwargs):
    from lambda_hat.tui.app import LambdaHatApp

    options = {"images": "unicode", "store_poll_sec": 3600.0}
    options.update(kwargs)
    return LambdaHatApp("store", "experiments", **options)


async def settle(pilot, delay: float = 0.05, limit: int = 60) -> None:
    """Let workers finish, their messages be handled and the screen stop changing.

    Waiting for workers is not enough on a busy machine: a DataTable sizes its columns
    on idle after rows arrive, so a capture taken in between shows header-wide columns.
    Hence wait until two captures ``delay`` apart are identical.
    """
    previous = None
    for _ in range(limit):
        await pilot.pause(delay)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        shot = pilot.app.export_screenshot()
        if shot == previous:
            return
        previous = shot
