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
