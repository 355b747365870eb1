"""Shared fixtures: tiny experiments files and stores in temp dirs."""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

CACHE = "LAMBDA_HAT_JAX_CACHE"


def pytest_configure(config):
    """One JAX compilation cache for the whole session: every store's workers, every
    pytest-xdist process and the test processes themselves (most tests build their own
    store, which would otherwise start with an empty cache and compile everything)."""
    if not os.environ.get(CACHE):
        os.environ[CACHE] = tempfile.mkdtemp(prefix="lambda-hat-test-jax-cache-")
        config._lambda_hat_cache = os.environ[CACHE]  # made here: removed at the end
    import jax

    jax.config.update("jax_compilation_cache_dir", os.environ[CACHE])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def pytest_unconfigure(config):
    made = getattr(config, "_lambda_hat_cache", None)
    if made:
        shutil.rmtree(made, ignore_errors=True)


@pytest.hookimpl(trylast=True)  # after ``-m`` has deselected what it deselects
def pytest_collection_modifyitems(config, items):
    """The longest tests first (the SLURM ones, then the other slow ones): pytest-xdist
    hands tests out in this order, so no long test is left to run alone at the end."""
    _without_smoke_twins(config, items)
    items.sort(
        key=lambda item: (
            0 if item.get_closest_marker("slurm") else 1 if item.get_closest_marker("slow") else 2
        )
    )


def _without_smoke_twins(config, items) -> None:
    """A ``smoke`` test is a shorter twin of a slow one (the same check on a smaller
    budget, for the default run): where the slow tests run too (CI), it is left out."""
    if not any(item.get_closest_marker("slow") for item in items):
        return
    twins = [item for item in items if item.get_closest_marker("smoke")]
    if twins:
        config.hook.pytest_deselected(items=twins)
        items[:] = [item for item in items if not item.get_closest_marker("smoke")]


@pytest.fixture
def own_cache(monkeypatch):
    """Stores keep their compilation cache in ``.jax-cache`` again (the default), for
    the tests of that cache."""
    monkeypatch.delenv(CACHE)


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
