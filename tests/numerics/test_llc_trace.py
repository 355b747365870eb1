"""What the loss trace holds, per recording mode, and that a diverging run stops early.

* SGLD ``minibatch``: each draw records L_B(w) − L_B(w*) + L_n(w*) at the step's starting
  position; with the batch equal to all n rows this is L_n(w) exactly, so the trace is
  the full-data trace shifted by one step (the recorded loss is the one the gradient of
  the *next* step computed).
* HMC / NUTS / MCLMC ``full``: L_n recovered from the state's log density equals a
  forward pass over the data (checked in test_positions.py) and costs no evaluation.
* The recording mode never changes the chain: same key, same positions.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lambda_hat.config.specs import HMCParams, MCLMCParams, SGLDParams
from lambda_hat.numerics.estimator import llc_trace
from lambda_hat.numerics.samplers import driver, get
from lambda_hat.numerics.samplers.driver import Schedule
from tests.numerics.helpers import dln_problem


def _sgld(posterior, mode, *, batch, draws=30, burnin=0, thin=1, step=1e-4, seed=1):
    return get("sgld").sample(
        jax.random.PRNGKey(seed),
        posterior,
        SGLDParams(batch_size=batch, step_size=step),
        Schedule(2, burnin, draws, thin, keep_positions=True, llc_trace=mode),
    )


def test_full_batch_minibatch_trace_is_the_full_trace_one_step_behind(x64):
    posterior, L0, _ = dln_problem([2, 3, 2], 1, 64)
    mini = _sgld(posterior, "minibatch", batch=64)
    full = _sgld(posterior, "full", batch=64)
    np.testing.assert_array_equal(mini.positions, full.positions)  # same chain
    np.testing.assert_allclose(mini.loss[:, 0], L0, rtol=1e-12)  # step 1 starts at w*
    np.testing.assert_allclose(mini.loss[:, 1:], full.loss[:, :-1], rtol=1e-10)
    assert mini.loss_evals_per_chain == 0 and full.loss_evals_per_chain == 30


class _Counter(NamedTuple):
    position: jax.Array


def _counting_step(post):
    """A chain that stands still and reports its step index as its loss."""

    def step(rng_key, state, step_index):
        del rng_key
        return state, {"grad_calls": jnp.int32(1), "loss": step_index.astype(jnp.float64)}

    return step


@pytest.mark.parametrize(("record", "first"), [("mean", 7.0), ("last", 8.0)])
def test_driver_records_the_mean_or_the_last_step_of_a_draw(x64, record, first):
    """thin = 3 after 2 burn-in draws: kept draw d covers steps 6 + 3d .. 8 + 3d."""
    posterior, _, _ = dln_problem([2, 2], 1, 8)
    states = _Counter(jnp.zeros((2, posterior.num_params)))
    trace = driver.run_chains(
        jax.random.PRNGKey(0),
        _counting_step,
        states,
        posterior,
        Schedule(2, 2, 5, 3),
        record=record,
    )
    np.testing.assert_array_equal(trace.loss, np.tile(first + 3 * np.arange(5), (2, 1)))
    assert trace.loss_evals == 0 and trace.grad_calls.tolist() == [21, 21]


def test_minibatch_estimate_agrees_with_full_data_trace(x32):
    """Small batches: the same chain, two estimators of λ; they differ by far less than
    the Monte Carlo error (the control variate removes most of the batch noise)."""
    from lambda_hat.analysis.summary import summarize

    posterior, L0, _ = dln_problem([4, 4, 4], 1, 2000)
    mini = _sgld(posterior, "minibatch", batch=100, draws=3000, burnin=1000, thin=2, step=3e-5)
    full = _sgld(posterior, "full", batch=100, draws=3000, burnin=1000, thin=2, step=3e-5)
    a = summarize(llc_trace(mini.loss, L0, posterior.n_beta))
    b = summarize(llc_trace(full.loss, L0, posterior.n_beta))
    assert abs(a["llc_mean"] - b["llc_mean"]) < 0.5 * b["llc_mcse"], (a, b)
    # and the minibatch noise left after the control variate is small per draw
    diff = llc_trace(mini.loss[:, 1:], L0, posterior.n_beta) - llc_trace(
        full.loss[:, :-1], L0, posterior.n_beta
    )
    assert np.std(diff) < 0.5 * b["llc_draw_std"]


@pytest.mark.parametrize(
    ("name", "params"),
    [("hmc", HMCParams(warmup=10, num_integration_steps=4)), ("mclmc", MCLMCParams(tune_steps=40))],
)
def test_full_gradient_samplers_record_for_free(x64, name, params):
    posterior, _, _ = dln_problem([2, 3, 2], 1, 64)
    result = get(name).sample(jax.random.PRNGKey(0), posterior, params, Schedule(2, 0, 12))
    assert result.loss_evals_per_chain == 0
    assert result.loss.shape == (2, 12) and np.all(np.isfinite(result.loss))


def test_a_diverging_run_stops_within_one_chunk(x32, monkeypatch):
    """step 10 on a DLN overflows in a few steps; the run stops after the chunk in which
    that happened instead of running its whole budget."""
    posterior, _, _ = dln_problem([3, 3, 3], 1, 50)
    calls = []
    real = driver.run_chains

    def counting(*args, **kwargs):
        schedule = args[4]

        def progress(done, total):
            calls.append(done)

        return real(*args[:4], schedule._replace(progress=progress), **kwargs)

    monkeypatch.setattr("lambda_hat.numerics.samplers.sgld.run_chains", counting)
    result = get("sgld").sample(
        jax.random.PRNGKey(0),
        posterior,
        SGLDParams(batch_size=50, step_size=10.0),
        Schedule(2, 0, 100_000, llc_trace="minibatch"),
    )
    bad = result.first_nonfinite_step
    assert bad is not None and bad < 50
    # thin = 1: draws are steps; the last chunk run is the one that contains the bad step
    assert len(calls) >= 2 and calls[-2] < bad <= calls[-1] < 100_000
