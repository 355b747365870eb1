"""Fixtures for scheduler tests (helpers live in ``helpers.py``)."""

from __future__ import annotations

import pytest

from tests.scheduler.helpers import write_experiments


@pytest.fixture
def tiny(tmp_path):
    """(experiments file, store root) in a fresh tmp dir."""
    return write_experiments(tmp_path / "tiny.toml"), tmp_path / "store"
