"""Sampler statistics cover every sampling step, not only the kept (thinned) draws."""

import jax
import numpy as np

from lambda_hat.config.specs import HMCParams
from lambda_hat.numerics.samplers import get
from lambda_hat.numerics.samplers.driver import Schedule
from tests.numerics.helpers import dln_problem


def _hmc(step_size, thin, posterior):
    params = HMCParams(warmup=0, num_integration_steps=3, step_size=step_size)
    return get("hmc").sample(jax.random.PRNGKey(0), posterior, params, Schedule(2, 0, 5, thin))


def test_every_thinned_step_is_counted(x64):
    posterior, _, _ = dln_problem([2, 3, 2], 1, 64)
    # A step size this large diverges on every transition: 2 chains x 5 draws x 3 steps.
    wild = _hmc(50.0, 3, posterior)
    assert wild.stats["divergences"] == 30
    assert wild.stats["divergences_per_chain"] == [15, 15]
    assert wild.stats["acceptance_rate"] == 0.0
    # A small step accepts nearly everything and never diverges.
    calm = _hmc(1e-3, 3, posterior)
    assert calm.stats["divergences"] == 0
    assert 0.9 < calm.stats["acceptance_rate"] <= 1.0
    # With thin = 1 the mean over steps is the mean of the recorded per-draw values.
    plain = _hmc(1e-3, 1, posterior)
    recorded = np.mean(plain.sample_stats["acceptance_rate"])
    assert plain.stats["acceptance_rate"] == np.float64(recorded).item()
