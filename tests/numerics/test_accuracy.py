"""Each sampler recovers the closed-form λ: d/2 on a regular model, Aoyagi's λ on DLNs.

Tolerance: |λ̂ − λ| ≤ 4 MCSE + a bias allowance. The allowance is not sampler noise: at
finite nβ the estimand nβ(E_π[L_n] − L_n(w*)) itself differs from λ by terms of order
(m − 1)/log(nβ) (m the multiplicity) and γ/(nβ h) from the localization, which HMC with
long runs measures at about −5% here. The allowance is fixed in advance (10% of λ for the
slow tests, 20% for the fast smoke tests, which run a few hundred draws) and the seeds are
fixed; nothing was tuned to a seed.
"""

import jax
import numpy as np
import pytest

from lambda_hat.analysis.summary import summarize
from lambda_hat.config.specs import HMCParams, MCLMCParams, NUTSParams, SGLDParams
from lambda_hat.numerics.estimator import llc_trace
from lambda_hat.numerics.samplers import get
from lambda_hat.numerics.samplers.driver import Schedule
from tests.numerics.helpers import dln_problem

REGULAR = ([3, 3], 3)  # one layer: λ = 9/2
SINGULAR = [([4, 4, 4], 1), ([5, 3, 5], 0)]  # λ = 7 and 13/2

SLOW = {
    "sgld": (SGLDParams(step_size=3e-6, precond="rmsprop"), dict(draws=6000, burnin=2000)),
    "hmc": (HMCParams(warmup=300, num_integration_steps=8), dict(draws=1000, burnin=0)),
    "nuts": (NUTSParams(warmup=300, max_num_doublings=6), dict(draws=500, burnin=0)),
    "mclmc": (MCLMCParams(tune_steps=1000), dict(draws=3000, burnin=0)),
}
FAST = {
    "sgld": (SGLDParams(step_size=3e-6, precond="rmsprop"), dict(draws=2000, burnin=1000)),
    "hmc": (HMCParams(warmup=100, num_integration_steps=8), dict(draws=200, burnin=0)),
    "nuts": (NUTSParams(warmup=100, max_num_doublings=4), dict(draws=150, burnin=0)),
    "mclmc": (MCLMCParams(tune_steps=300), dict(draws=500, burnin=0)),
}


def estimate(name, params, budget, sizes, rank, n, seed=0):
    precision = "float32" if name == "sgld" else "float64"
    old = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", precision == "float64")
    try:
        posterior, L0, truth = dln_problem(sizes, rank, n, precision=precision)
        trace = "minibatch" if name == "sgld" else "full"  # each sampler's default trace
        schedule = Schedule(num_chains=4, thin=1, llc_trace=trace, **budget)
        result = get(name).sample(jax.random.PRNGKey(seed), posterior, params, schedule)
    finally:
        jax.config.update("jax_enable_x64", old)
    assert result.first_nonfinite_step is None
    summ = summarize(llc_trace(result.loss, L0, posterior.n_beta))
    return summ["llc_mean"], summ["llc_mcse"], truth


def check(name, params, budget, sizes, rank, n, allowance):
    est, mcse, truth = estimate(name, params, budget, sizes, rank, n)
    assert np.isfinite(mcse) and mcse > 0
    tol = 4 * mcse + allowance * truth
    print(f"{name} {sizes} r={rank}: {est:.2f} ± {mcse:.2f} (λ = {truth}, tolerance {tol:.2f})")
    assert abs(est - truth) <= tol, f"{name} {sizes} r={rank}: {est:.2f} ± {mcse:.2f} vs {truth}"


@pytest.mark.smoke  # of test_recovers_closed_form_llc's regular model
@pytest.mark.parametrize("name", ["sgld", "hmc", "nuts", "mclmc"])
def test_fast_regular_model(name):
    params, budget = FAST[name]
    check(name, params, budget, *REGULAR, n=2000, allowance=0.2)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sgld", "hmc", "nuts", "mclmc"])
@pytest.mark.parametrize(("sizes", "rank"), [REGULAR, *SINGULAR])
def test_recovers_closed_form_llc(name, sizes, rank):
    params, budget = SLOW[name]
    check(name, params, budget, sizes, rank, n=5000, allowance=0.1)
