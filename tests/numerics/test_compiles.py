"""A run compiles each of its programs once: chunks of any length, the step pilot's rounds
and the burn-in reuse them (a program rebuilt per chunk would cost a compile each)."""

from __future__ import annotations

import collections
import logging
import re

import jax
import pytest

from lambda_hat.config.specs import SamplerSpec, resolve_run
from lambda_hat.samplers.registry import SAMPLERS
from lambda_hat.sampling import sample_llc
from tests.numerics.helpers import dln_problem

# lambda-hat's own compiled programs (jax's eager operations compile per static argument,
# which the log does not show, so only these are counted)
OURS = {"advance", "run", "_power_step", "per_row", "full_loss"}
NAME = re.compile(r"^Compiling jit\((\w+)\)")


class _Compiles(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record):
        message = record.getMessage()
        match = NAME.match(message)
        if match and match.group(1) in OURS:
            self.messages.append(message)


@pytest.fixture
def compiles():
    handler, logger = _Compiles(), logging.getLogger("jax")
    logger.addHandler(handler)
    jax.config.update("jax_log_compiles", True)
    yield handler
    jax.config.update("jax_log_compiles", False)
    logger.removeHandler(handler)


@pytest.mark.parametrize("name", ["sgld", "hmc"])  # sgld: its step pilot too
def test_a_run_compiles_each_program_once(x32, compiles, name):
    posterior, _, _ = dln_problem([3, 4, 3], 1, 400)
    params = SAMPLERS[name].params()
    entry = SamplerSpec(name=name, params=params, chains=2, draws=300, thin=1, burnin=20)
    chunks = []
    sample_llc(posterior, resolve_run(entry, "t", 400), progress=lambda d, t: chunks.append(d))
    assert len(chunks) >= 4  # chunks of 1, 4, 16, ... draws: several lengths
    names = collections.Counter(NAME.match(m).group(1) for m in compiles.messages)
    assert names["advance"] == 1, compiles.messages
    repeated = [m for m, k in collections.Counter(compiles.messages).items() if k > 1]
    assert repeated == []
    if name == "sgld":  # the step pilot's rounds share one program; the curvature one
        assert names["run"] == 1 and names["_power_step"] >= 1


def test_a_restricted_posterior_takes_its_frozen_weights_as_arguments(x32):
    """The frozen weights of a weight-restricted posterior enter a compiled program
    through ``arrays``, as the data do: the program of a second w* (a training's next
    checkpoint) is the same text, so the persistent compilation cache serves it."""
    import numpy as np

    posterior, _, _ = dln_problem([3, 4, 3], 1, 400)
    keep = np.arange(12, 24)  # the second layer's weights

    def program(post):
        def loss(arrays, w):
            return post.rebind(arrays).full_loss(w)

        return jax.jit(loss).lower(post.arrays, post.w_star).as_text()

    first = posterior.restricted(keep)
    second = posterior._replace(w_star=posterior.w_star * 1.01).restricted(keep)
    assert first.frozen is not None and first.w_star.shape == (12,)
    assert program(first) == program(second)
    assert float(first.full_loss(first.w_star)) == float(posterior.full_loss(posterior.w_star))
