"""Each sampler's total_fges equals gradient work counted independently on the host.

The loss is wrapped in a custom VJP whose backward pass reports the number of data rows
it differentiated over; rows / n summed over all calls is the FGE count. Chains=1 for
the HMC family: vmapped chains share the initial gradient at w* (all start there), and
vmapped NUTS runs masked leapfrog steps for chains that already stopped, neither of
which is per-chain work.
"""

import jax
import pytest

from lambda_hat.config.specs import HMCParams, MCLMCParams, NUTSParams, SGLDParams
from lambda_hat.numerics.samplers import get
from lambda_hat.numerics.samplers.driver import Schedule
from tests.numerics.helpers import RowCounter, dln_problem

CASES = [
    ("hmc", HMCParams(warmup=30, num_integration_steps=5), 1),
    ("nuts", NUTSParams(warmup=30, max_num_doublings=5), 1),
    ("mclmc", MCLMCParams(tune_steps=50), 1),
    ("mclmc", MCLMCParams(tune_steps=61, diagonal_preconditioning=False), 1),
    ("mclmc", MCLMCParams(tune=False, L=1.0, step_size=0.1), 1),
    ("sgld", SGLDParams(step_size=1e-6, batch_size=10, precond="rmsprop"), 3),
    ("sgld", SGLDParams(step_size=1e-4, batch_size=64), 2),
]


def _count(name, params, chains, posterior):
    counter = RowCounter(posterior.n)
    counted = posterior._replace(loss_fn=counter.wrap(posterior.loss_fn))
    result = get(name).sample(jax.random.PRNGKey(1), counted, params, Schedule(chains, 7, 13, 2))
    jax.effects_barrier()
    return result, counter.fges


@pytest.mark.parametrize(("name", "params", "chains"), CASES)
def test_total_fges_matches_independent_count(x64, name, params, chains):
    posterior, _, _ = dln_problem([2, 3, 2], 1, 64)
    result, counted = _count(name, params, chains, posterior)
    assert counted > 0
    assert result.total_fges == pytest.approx(counted, rel=0, abs=1e-9)
    assert result.warmup_fges_per_chain.sum() <= result.total_fges


def test_hmc_chains_count_the_same_work(x64):
    posterior, _, _ = dln_problem([2, 3, 2], 1, 64)
    params = HMCParams(warmup=30, num_integration_steps=5)
    result, _ = _count("hmc", params, 3, posterior)
    # fixed trajectory length: 1 init + (warm-up + (7 + 13) * 2 steps) * 5 leapfrogs
    assert list(result.fges_per_chain) == [1 + (30 + 40) * 5] * 3
    assert list(result.warmup_fges_per_chain) == [1 + 30 * 5] * 3


def test_sgld_minibatch_is_fraction_of_full_gradient(x32):
    posterior, _, _ = dln_problem([2, 3, 2], 1, 100)
    result, counted = _count("sgld", SGLDParams(step_size=1e-4, batch_size=25), 2, posterior)
    assert result.total_fges == pytest.approx(2 * 40 * 0.25)
    assert counted == pytest.approx(result.total_fges)
