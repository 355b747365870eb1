"""Shared fixtures: tiny experiments files and stores in temp dirs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

TINY_TOML = """
[store]
root = "runs"

[models.tiny]
kind = "dln"
in_dim = 2
widths = [3]
out_dim = 2
rank = 1

[models.mlp]
kind = "mlp"
in_dim = 2
widths = [3]
out_dim = 1

[data.tiny]
n_data = 200
noise_scale = 0.1

[training.teacher]
init = "teacher"
steps = 0

[training.short]
steps = 100

[[targets]]
model = "tiny"
data = "tiny"
training = "teacher"
seed = 1

[[targets]]
model = "mlp"
data = "tiny"
training = "short"
seed = 2

[[samplers]]
name = "sgld"
step_size = 1e-4
batch_size = 50
chains = 2
draws = 40
burnin = 10
thin = 1
"""


@pytest.fixture
def tiny_toml(tmp_path: Path) -> Path:
    """A two-target, one-sampler experiments file that runs in seconds."""
    path = tmp_path / "tiny.toml"
    path.write_text(textwrap.dedent(TINY_TOML))
    return path


@pytest.fixture
def write_toml(tmp_path: Path):
    """Write TOML text to a file in tmp_path and return its path."""

    def write(text: str, name: str = "exp.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write
