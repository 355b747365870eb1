import jax
import pytest


def _precision(enabled: bool):
    old = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", enabled)
    yield
    jax.config.update("jax_enable_x64", old)


@pytest.fixture
def x64():
    """Run the test all-float64 (HMC/NUTS/MCLMC default), restoring the old setting."""
    yield from _precision(True)


@pytest.fixture
def x32():
    """Run the test all-float32 (SGLD default), restoring the old setting."""
    yield from _precision(False)
