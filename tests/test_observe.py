"""``lh.estimate(observe=...)``: per-row losses of other datasets at every kept draw, and
``lh.bif`` / ``lh.susceptibility`` on them, checked against the draws themselves and
against Bayesian linear regression's exact posterior covariances."""

from __future__ import annotations

import numpy as np
import pytest

import lambda_hat as lh
from lambda_hat.errors import ConfigError

D = 3


def _linear(params, x):
    return x @ params["w"]


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, D))
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.5 * rng.normal(size=200))[:, None]
    w_star = np.linalg.lstsq(x, y, rcond=None)[0]
    xp = rng.normal(size=(4, D))
    yp = xp @ w_star + rng.normal(size=(4, 1))
    return {"data": (x, y), "probe": (xp, yp), "params": {"w": w_star}}


def test_observed_losses_are_each_draws_row_losses(problem):
    xp, yp = problem["probe"]
    r = lh.estimate(
        _linear,
        problem["params"],
        problem["data"],
        sampler="sgld",
        step_size=1e-4,
        draws=30,
        chains=2,
        burnin=5,
        thin=2,
        trace_params=True,
        llc_trace="full",  # each draw's exact L, which susceptibility needs
        observe={"probe": problem["probe"], "first": (xp[:2], yp[:2])},
        progress=False,
    )
    probe = r.observed["probe"]
    assert probe.shape == (2, 30, 4) and r.observed["first"].shape == (2, 30, 2)
    w = r.params_draws["w"]  # (chains, draws, D, 1)
    expected = 0.5 * (yp[:, 0] - np.einsum("cdk,ik->cdi", w[..., 0], xp)) ** 2
    assert np.allclose(probe, expected, rtol=1e-4, atol=1e-6)  # float32
    assert np.array_equal(r.observed["first"], probe[..., :2])
    chi = lh.susceptibility(r, "probe")
    assert chi.value.shape == chi.mcse.shape == (4,)


def test_bif_of_an_exact_sampler_matches_the_exact_covariance(problem):
    """HMC on the Gaussian posterior of linear regression: Cov(ℓ_i, ℓ_j) = r_i r_j C_ij
    + ½ C_ij², C = A Σ Aᵀ, Σ = (nβ H + γ I)⁻¹ (tests/analysis/test_influence.py)."""
    (x, y), (xp, yp), params = problem["data"], problem["probe"], problem["params"]
    r = lh.estimate(
        _linear,
        params,
        (x, y),
        sampler="hmc",
        draws=2000,
        chains=4,
        observe={"probe": (xp, yp)},
        progress=False,
    )
    sigma = np.linalg.inv(r.n_beta * x.T @ x / len(x) + 1.0 * np.eye(D))
    c = xp @ sigma @ xp.T
    res = (yp - xp @ params["w"])[:, 0]
    exact = np.outer(res, res) * c + 0.5 * c**2
    result = lh.bif(r, "probe")
    z = (result.value + exact) / result.mcse
    assert np.max(np.abs(z)) < 5, z
    corr = lh.bif(r, "probe", normalized=True)
    assert np.allclose(np.diag(corr.value), 1.0, atol=0.05)


def test_asking_for_what_was_not_observed_says_how(problem):
    r = lh.estimate(
        _linear,
        problem["params"],
        problem["data"],
        step_size=1e-4,
        draws=10,
        chains=2,
        thin=1,
        progress=False,
    )
    with pytest.raises(ConfigError, match=r"observe=\{'probe': \(X, Y\)\}"):
        lh.bif(r, "probe")
    with pytest.raises(ConfigError, match="llc_trace='full'"):  # minibatch L: biased χ
        lh.susceptibility(r, "probe")


def test_an_observed_dataset_that_does_not_fit_the_model_is_refused(problem):
    xp, _ = problem["probe"]
    with pytest.raises(ConfigError, match=r"observe\['bad'\]"):
        lh.estimate(
            _linear,
            problem["params"],
            problem["data"],
            draws=10,
            observe={"bad": (xp, np.zeros((4, 2)))},
            progress=False,
        )


def _split(params, x):
    return x[:, :2] @ params["a"] + x[:, 2:] @ params["b"]


def test_a_per_component_susceptibility_takes_a_restricted_and_a_full_run(problem):
    """A run restricted to the component ``a`` and a full run, both observing the probe:
    their losses at w* are the probe's own (the baseline, measured on those rows), and
    ``lh.susceptibility(part, name, full=whole)`` is E_C[g(L − ℓ)] − E_C[g] E_full[L − ℓ]
    of their draws; a pair on other rows, or two full runs, is refused."""
    from lambda_hat.analysis.influence import component_susceptibility

    w = problem["params"]["w"]
    params = {"a": w[:2], "b": w[2:]}
    common = dict(sampler="hmc", warmup=100, draws=200, progress=False)
    part = lh.estimate(
        _split, params, problem["data"], restrict=["a"], observe={"p": problem["probe"]}, **common
    )
    whole = lh.estimate(_split, params, problem["data"], observe={"p": problem["probe"]}, **common)
    xp, yp = problem["probe"]
    np.testing.assert_allclose(part.observed_at_w_star["p"], 0.5 * (yp - xp @ w)[:, 0] ** 2)
    np.testing.assert_array_equal(part.observed_at_w_star["p"], whole.observed_at_w_star["p"])
    chi = lh.susceptibility(part, "p", full=whole)
    by_hand = component_susceptibility(
        part.L - part.L0,
        part.L[..., None] - part.observed["p"],
        whole.L[..., None] - whole.observed["p"],
    )
    np.testing.assert_array_equal(chi.value, by_hand.value)
    assert chi.value.shape == (4,) and np.all(chi.mcse > 0)
    with pytest.raises(ConfigError, match="takes a run restricted to the component"):
        lh.susceptibility(whole, "p", full=whole)
    other = lh.estimate(
        _split, params, problem["data"], observe={"p": (xp[::-1], yp[::-1])}, **common
    )
    with pytest.raises(ConfigError, match="did not observe 'p' on the same rows"):
        lh.susceptibility(part, "p", full=other)


def test_the_n_beta_zero_control_samples_the_prior(problem):
    """inverse_temperature = 0: the localization prior N(w*, I/γ) alone. λ̂ is 0 by
    definition, the verdict is the loss trace's, and the probe rows' BIF is the
    prior's exact −Cov(ℓ_i, ℓ_j) = −(r_i r_j C_ij + ½ C_ij²), C = A Aᵀ/γ."""
    xp, yp = problem["probe"]
    w = problem["params"]["w"]
    r = lh.estimate(
        _linear,
        problem["params"],
        problem["data"],
        sampler="nuts",
        draws=1000,
        inverse_temperature=0,
        observe={"p": problem["probe"]},
        progress=False,
    )
    assert r.n_beta == 0 and r.llc_mean == 0 and r.trust["verdict"] == "converged"
    assert r.ess > 400 and np.all(r.llc == 0)
    residual, c = (yp - xp @ w)[:, 0], xp @ xp.T  # γ = 1
    exact = -(np.outer(residual, residual) * c + 0.5 * c**2)
    bif = lh.bif(r, "p")
    assert np.max(np.abs(bif.value - exact) / bif.mcse) < 4.5


def test_the_n_beta_zero_control_is_one_key_away(write_toml):
    from lambda_hat.config import load
    from tests.config.helpers import ONE_SAMPLER

    (spec,) = load(write_toml(ONE_SAMPLER + "inverse_temperature = 0\n")).samplers
    assert spec.inverse_temperature == 0.0
    with pytest.raises(ConfigError, match=r"inverse_temperature: must be at least 0.0, got -1"):
        load(write_toml(ONE_SAMPLER + "inverse_temperature = -1\n"))
