"""BIF, loss-kernel correlations and susceptibilities against a posterior known exactly.

Bayesian linear regression with the localized tempered posterior: w − w* ~ N(0, Σ),
Σ = (nβ H + γ I)⁻¹, with w* the least-squares fit and H = XᵀX/n. For probe rows a_i
with residuals r_i = y_i − a_iᵀw* and C = A Σ Aᵀ, the per-sample losses
ℓ_i = ½ (y_i − a_iᵀw)² have Cov(ℓ_i, ℓ_j) = r_i r_j C_ij + ½ C_ij² (odd moments vanish,
Cov(u², v²) = 2 Cov(u, v)²), and the training loss L = L_n(w*) + ½ δᵀHδ (the normal
equations remove its linear term), so Cov(ℓ_i, L) = ½ a_iᵀ Σ H Σ a_i. Draws are exact
(independent), so the estimates' errors are pure Monte Carlo: every entry must sit
within its MCSE's reach, and the MCSEs must be calibrated (z-scores of spread ~1).
"""

from __future__ import annotations

import numpy as np
import pytest

from lambda_hat.analysis.influence import (
    bif,
    component_susceptibility,
    covariance,
    susceptibility,
)

CHAINS, DRAWS = 4, 4000


@pytest.fixture(scope="module")
def exact():
    rng = np.random.default_rng(7)
    n, d, n_beta, gamma = 200, 3, 40.0, 1.0
    x = rng.normal(size=(n, d))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.5 * rng.normal(size=n)
    w_star = np.linalg.lstsq(x, y, rcond=None)[0]
    h = x.T @ x / n
    sigma = np.linalg.inv(n_beta * h + gamma * np.eye(d))
    a = rng.normal(size=(6, d))
    ya = a @ w_star + rng.normal(size=6)  # probe rows with residuals of order 1
    r = ya - a @ w_star
    c = a @ sigma @ a.T
    delta = rng.multivariate_normal(np.zeros(d), sigma, size=(CHAINS, DRAWS))
    w = w_star + delta
    probe = 0.5 * (ya - np.einsum("cdk,ik->cdi", w, a)) ** 2
    train = 0.5 * np.mean((y - np.einsum("cdk,nk->cdn", w, x)) ** 2, axis=-1)
    cov = np.outer(r, r) * c + 0.5 * c**2
    with_train = 0.5 * np.einsum("ik,kl,lm,im->i", a @ sigma, h, sigma, a)
    other = w_star + rng.multivariate_normal(np.zeros(d), sigma, size=(CHAINS, DRAWS))
    return {
        "probe": probe,
        "train": train,
        "cov": cov,
        "with_train": with_train,
        "L0": 0.5 * np.mean((y - x @ w_star) ** 2),
        "var_train": 0.5 * np.trace(h @ sigma @ h @ sigma),  # Var(½ δᵀHδ)
        # an independent second chain of the same posterior
        "probe_2": 0.5 * (ya - np.einsum("cdk,ik->cdi", other, a)) ** 2,
        "train_2": 0.5 * np.mean((y - np.einsum("cdk,nk->cdn", other, x)) ** 2, axis=-1),
    }


def _calibrated(estimate, truth, mcse):
    z = ((estimate - truth) / mcse).ravel()
    assert np.max(np.abs(z)) < 4.5, z
    assert 0.6 < np.std(z) < 1.5, np.std(z)  # the MCSEs mean what they say


def test_bif_is_minus_the_exact_covariance(exact):
    result = bif(exact["probe"])
    assert result.value.shape == result.mcse.shape == (6, 6)
    assert result.meaning == "BIF = -Cov(l_i, l_j)"
    _calibrated(result.value, -exact["cov"], result.mcse)
    assert np.allclose(result.value, result.value.T)


def test_normalized_bif_is_the_exact_correlation(exact):
    cov = exact["cov"]
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    result = bif(exact["probe"], normalized=True)
    off = ~np.eye(6, dtype=bool)  # the diagonal is 1 exactly, with no spread
    _calibrated(result.value[off], corr[off], result.mcse[off])
    assert np.allclose(np.diag(result.value), 1.0, atol=0.02)


def test_bif_between_two_probe_sets_is_the_cross_block(exact):
    probe = exact["probe"]
    block = bif(probe[..., :2], probe[..., 2:])
    assert block.value.shape == (2, 4)
    assert np.allclose(block.value, bif(probe).value[:2, 2:])


def test_susceptibility_is_minus_the_exact_covariance_with_the_shift(exact):
    phi = exact["probe"][..., 0]  # the observable: probe sample 0's loss
    result = susceptibility(phi, exact["probe"], exact["train"])
    truth = -(exact["cov"][0] - exact["with_train"][0])
    assert result.value.shape == (6,)
    _calibrated(result.value, truth, result.mcse)


def test_correlated_draws_widen_the_error_bar():
    """A chain that repeats each draw 20 times carries the information of its distinct
    draws: its MCSE must be about √20 times that of independent draws (batch means)."""
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(4, 200, 2))
    sticky = np.repeat(draws, 20, axis=1)
    fresh = rng.normal(size=(4, 4000, 2))
    ratio = covariance(sticky, sticky).mcse[0, 0] / covariance(fresh, fresh).mcse[0, 0]
    assert 2.5 < ratio < 7.0  # √20 ≈ 4.5


@pytest.mark.parametrize(
    "args, said",
    [
        ((np.zeros((2, 10)),), "must be \\(chains, draws, samples\\)"),
        ((np.zeros((2, 3, 4)),), "at least 4"),
        ((np.full((2, 10, 3), np.nan),), "NaN or inf"),
        ((np.zeros((2, 10, 3)), np.zeros((2, 9, 3))), "different draws"),
    ],
)
def test_bad_inputs_are_named(args, said):
    with pytest.raises(ValueError, match=said):
        bif(*args)


def test_a_component_susceptibility_of_the_whole_model_is_exact(exact):
    """With the "component" the whole model (its chain and the full chain two
    independent chains of one posterior), χ̃_z = Cov(g, L − ℓ_z) = Var(L) − Cov(ℓ_z, L)
    exactly; the MCSE, which adds the full chain's error, is calibrated."""
    train, probe = exact["train"], exact["probe"]
    result = component_susceptibility(
        train - exact["L0"],
        train[..., None] - probe,
        exact["train_2"][..., None] - exact["probe_2"],
    )
    truth = exact["var_train"] - exact["with_train"]
    assert result.value.shape == (6,)
    _calibrated(result.value, truth, result.mcse)


def test_a_component_susceptibility_on_one_chain_is_the_susceptibility_of_g(exact):
    """Given its own chain as the full one, the estimator is −Cov(g, ℓ_z − L): the plain
    susceptibility of φ = g, to rounding."""
    train, probe = exact["train"], exact["probe"]
    g, shift = train - exact["L0"], train[..., None] - probe
    one = component_susceptibility(g, shift, shift)
    np.testing.assert_allclose(one.value, susceptibility(g, probe, train).value, rtol=1e-9)
