"""An experiments folder with ``user_models.py`` beside it, and a writer for its TOML."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.numerics.conftest import x64  # noqa: F401  (the same all-float64 fixture)

HERE = Path(__file__).parent


@pytest.fixture
def project(tmp_path):
    """A folder holding a copy of user_models.py; ``project.write(text)`` -> toml path."""
    shutil.copy(HERE / "user_models.py", tmp_path / "user_models.py")

    class Project:
        root = tmp_path

        @staticmethod
        def write(text: str, name: str = "exp.toml") -> Path:
            path = tmp_path / name
            path.write_text(f'[store]\nroot = "{tmp_path / "runs"}"\n' + text)
            return path

    return Project()
