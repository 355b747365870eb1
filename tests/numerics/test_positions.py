"""Parameter traces (``trace_params``): what is kept is the chain that was run.

Keeping positions must not change the chain: same key, same L_n trace, bit for bit, even
when the position buffer forces smaller chunks; and L_n recomputed from each kept
position equals the recorded L_n.
"""

import jax
import numpy as np
import pytest

from lambda_hat.config.specs import HMCParams, MCLMCParams, NUTSParams, SGLDParams
from lambda_hat.numerics.samplers import driver, get
from lambda_hat.numerics.samplers.driver import Schedule
from tests.numerics.helpers import dln_problem

CASES = [
    ("sgld", SGLDParams(batch_size=16, step_size=1e-4)),
    ("hmc", HMCParams(warmup=20, num_integration_steps=4)),
    ("nuts", NUTSParams(warmup=20, max_num_doublings=3)),
    ("mclmc", MCLMCParams(tune_steps=40)),
]


def _sample(name, params, posterior, keep):
    return get(name).sample(
        jax.random.PRNGKey(3),
        posterior,
        params,
        Schedule(num_chains=2, burnin=5, draws=11, thin=2, keep_positions=keep),
    )


@pytest.mark.parametrize(("name", "params"), CASES)
def test_kept_positions_are_the_chain_that_was_run(x64, monkeypatch, name, params):
    posterior, _, _ = dln_problem([2, 3, 2], 1, 64)
    plain = _sample(name, params, posterior, keep=False)
    assert plain.positions is None
    # room for 3 draws of 2 chains per chunk: 11 draws take 4 chunks instead of 1
    monkeypatch.setattr(driver, "POSITION_BUFFER_BYTES", 3 * 2 * posterior.num_params * 8)
    kept = _sample(name, params, posterior, keep=True)
    np.testing.assert_array_equal(kept.loss, plain.loss)
    assert kept.positions.shape == (2, 11, posterior.num_params)
    recomputed = jax.vmap(jax.vmap(posterior.full_loss))(kept.positions)
    np.testing.assert_allclose(np.asarray(recomputed), kept.loss, rtol=1e-12)
    assert np.all(np.ptp(kept.positions, axis=1) > 0)  # the chains moved


@pytest.mark.parametrize("name", ["hmc", "nuts"])
def test_the_exact_samplers_can_start_their_chains_elsewhere(x64, name):
    """``start`` (the over-dispersed start of benchmarks/reference_start.py): from w*
    given explicitly, the same chains as the default; from elsewhere, chains from there."""
    import blackjax

    from lambda_hat.numerics.samplers.hmc import adapt

    posterior, _, _ = dln_problem([2, 3, 2], 1, 64)
    algorithm = getattr(blackjax, name)
    w_star = posterior.w_star

    def run(warmup, start=None):
        return adapt(
            jax.random.PRNGKey(5),
            posterior,
            algorithm,
            num_chains=2,
            warmup=warmup,
            step_size=0.01,
            target=0.8,
            start=start,
            **({"num_integration_steps": 4} if name == "hmc" else {}),
        )

    at_w_star = np.stack([w_star, w_star])
    default, explicit = run(15), run(15, at_w_star)
    np.testing.assert_allclose(explicit.states.position, default.states.position, rtol=1e-10)
    np.testing.assert_array_equal(explicit.grad_calls, default.grad_calls)
    far = at_w_star + np.array([[3.0], [-3.0]])
    assert np.array_equal(run(0, far).states.position, far)  # no warm-up: where they start
    moved = run(15, far).states.position
    assert np.all(np.linalg.norm(moved - at_w_star, axis=1) > 1.0)  # not reset to w*


def test_a_dispersed_start_puts_every_other_chain_where_an_sgld_pilot_ends(x64):
    """``start = "dispersed"``: chains 1 and 3 begin at SGLD pilot ends (1/γ of Langevin
    time at w*'s auto step), chains 0 and 2 at w*; the pilot is counted as warm-up work;
    the option has IDs of its own and the default keeps the old ones."""
    from lambda_hat.config.specs import SamplerSpec, resolve_run
    from lambda_hat.numerics.step_size import ITERATIONS
    from lambda_hat.store.ids import run_id

    posterior, _, _ = dln_problem([2, 3, 2], 1, 64)
    params = NUTSParams(warmup=0, max_num_doublings=3, start="dispersed")
    result = get("nuts").sample(
        jax.random.PRNGKey(3),
        posterior,
        params,
        Schedule(num_chains=4, burnin=0, draws=3, keep_positions=True),
    )
    start = result.stats["start"]
    assert start["kind"] == "dispersed" and start["far_chains"] == [1, 3]
    far = np.asarray(start["distance_from_w_star"])
    assert far[0] == far[2] == 0 and np.all(far[[1, 3]] > 0.1)
    first = np.linalg.norm(result.positions[:, 0] - np.asarray(posterior.w_star), axis=1)
    assert np.all(first[[1, 3]] > 0.5 * far[[1, 3]])  # one transition from where they began
    steps = start["pilot_steps"]
    assert steps == round(1.0 / posterior.localization / start["pilot_step_size"])
    pilot = 2.0 * ITERATIONS + 2 * steps * min(256, posterior.n) / posterior.n
    np.testing.assert_allclose(result.warmup_fges_per_chain, 1 + pilot / 4)

    def rid(p):
        return run_id(resolve_run(SamplerSpec(name="nuts", params=p), "tgt_x", 64))

    default = NUTSParams()
    assert rid(default) == rid(NUTSParams(start="w_star")) != rid(NUTSParams(start="dispersed"))
    from lambda_hat.samplers.registry import sampler  # what a progress display says

    def stage(p):
        return sampler("nuts").stage(resolve_run(SamplerSpec(name="nuts", params=p), "tgt_x", 64))

    assert stage(default) == "warm-up and sampling"
    assert stage(params) == "SGLD pilot for the dispersed start, warm-up and sampling"


def test_an_unknown_start_is_named_with_its_choices(write_toml):
    from lambda_hat.config import load
    from lambda_hat.errors import ConfigError
    from tests.config.helpers import ONE_SAMPLER

    path = write_toml(ONE_SAMPLER + 'start = "far"\n')
    with pytest.raises(ConfigError, match=r"samplers\[0\]\.start.*'w_star', 'dispersed'"):
        load(path)


def test_the_dispersed_starts_pilot_samples_at_an_entrys_sgld_defaults():
    """numerics keeps its own copy of SGLD's default keys (it imports no config): they
    must be those of a bare ``[[samplers]] name = "sgld"``."""
    from lambda_hat.numerics.samplers.sgld import Settings
    from lambda_hat.samplers.sgld import SGLDParams

    defaults = SGLDParams()
    assert Settings() == tuple(getattr(defaults, k) for k in Settings._fields)
