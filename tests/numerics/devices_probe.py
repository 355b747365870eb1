"""Run by tests/numerics/test_devices.py in a fresh process (XLA's host device count is
fixed when JAX starts): λ̂ traces of SGLD and HMC, and where the chains ran."""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

import lambda_hat as lh
from lambda_hat.config.specs import SGLDParams
from lambda_hat.numerics.samplers import sgld
from lambda_hat.numerics.samplers.driver import Schedule, run_chains
from lambda_hat.sampling import posterior_of


def main(out: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = np.tanh(x @ np.array([1.0, -2.0, 0.5])) + 0.1 * rng.normal(size=300)
    params = {"w": jnp.array([1.0, -2.0, 0.5]), "a": jnp.array(1.0)}

    def apply(p, xb):
        return (jnp.tanh(xb @ p["w"]) * p["a"])[:, None]

    common = dict(chains=4, progress=False)
    written = lh.estimate(apply, params, (x, y), step_size=1e-4, thin=5, draws=100, **common)
    auto = lh.estimate(apply, params, (x, y), draws=200, **common)
    hmc = lh.estimate(apply, params, (x, y), sampler="hmc", warmup=100, draws=300, **common)
    with jax.enable_x64(False):
        posterior = posterior_of(
            lambda w, xb: apply({"w": w[:3], "a": w[3]}, xb),
            "mse",
            x,
            y,
            np.array([1.0, -2.0, 0.5, 1.0]),
            written.spec,
        )
        sgld_params = SGLDParams(step_size=1e-4, batch_size=64)
        states = sgld.initial_states(jax.random.PRNGKey(0), posterior, sgld_params, 4)
        trace = run_chains(
            jax.random.PRNGKey(1),
            lambda post: sgld.kernel_for(post, sgld_params, 1e-4),
            states,
            posterior,
            Schedule(4, 0, 10),
        )
    json.dump(
        {
            "devices": len(jax.devices()),
            "chains_on": len(trace.final_states.position.sharding.device_set),
            "sgld_written": written.llc.tolist(),
            "sgld_auto": auto.llc.tolist(),
            "hmc": [hmc.llc_mean, hmc.llc_mcse],
        },
        open(out, "w"),
    )


if __name__ == "__main__":
    main(sys.argv[1])
