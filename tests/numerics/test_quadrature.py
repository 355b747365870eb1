"""Quadrature references: exact on regular models, independent checks on singular ones,
and (slow) NUTS covering the quadrature value of normal-crossing models within 2 MCSE."""

from __future__ import annotations

import numpy as np
import pytest

from lambda_hat.numerics.quadrature import finite_temperature_llc, gaussian_llc


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_a_regular_model_gives_its_closed_form(dim):
    # K = ½‖w‖²: π is Gaussian with precision nβ + γ, so nβ·E[K] = dim·nβ / (2(nβ + γ))
    n_beta, gamma = 150.0, 2.0
    value = finite_temperature_llc(lambda w: 0.5 * np.sum(w * w, axis=-1), dim, n_beta, gamma)
    assert value == pytest.approx(dim * n_beta / (2 * (n_beta + gamma)), rel=1e-9)


@pytest.mark.parametrize("n_beta", [100.0, 1000.0, 10000.0])
def test_the_normal_crossing_matches_its_one_dimensional_reduction(n_beta):
    """K = w1² w2²: integrating w2 out exactly (a Gaussian of precision a = 2nβw1² + γ)
    leaves nβ·E[K] = nβ ∫ w1² a^(-3/2) e^(-γw1²/2) / ∫ a^(-1/2) e^(-γw1²/2)."""
    gamma = 1.0
    value = finite_temperature_llc(lambda w: w[..., 0] ** 2 * w[..., 1] ** 2, 2, n_beta, gamma)
    w1 = np.linspace(-12, 12, 2_000_001)
    a = 2 * n_beta * w1**2 + gamma
    g = np.exp(-0.5 * gamma * w1**2)
    reduced = n_beta * np.sum(w1**2 * a**-1.5 * g) / np.sum(a**-0.5 * g)
    assert value == pytest.approx(reduced, rel=1e-5)
    # rising toward λ = 1/2 like λ − (m − 1)/log nβ (m = 2), and still well short of it
    assert 0.3 < value < 0.45


def test_a_quadratic_loss_with_a_gradient_has_its_closed_form():
    """K = gᵀδ + ½δᵀHδ with g ≠ 0 (w* the teacher, not the fit) and a correlated H: the
    closed form matches 2-D quadrature, and the gradient's pull counts (without it the
    value is the trace term alone)."""
    g = np.array([0.004, -0.002])
    h = np.array([[1.0, 0.3], [0.3, 0.5]])
    n_beta, gamma = 200.0, 1.0

    def K(w):
        return w @ g + 0.5 * np.einsum("...i,ij,...j->...", w, h, w)

    exact = gaussian_llc(g, h, n_beta, gamma)
    assert exact == pytest.approx(finite_temperature_llc(K, 2, n_beta, gamma), rel=1e-6)
    no_pull = gaussian_llc(np.zeros(2), h, n_beta, gamma)
    assert abs(exact - no_pull) > 1e-3


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="1 to 3 parameters"):
        finite_temperature_llc(lambda w: w[..., 0], 4, 10.0, 1.0)
    with pytest.raises(ValueError, match="gamma > 0"):
        finite_temperature_llc(lambda w: w[..., 0], 1, 10.0, 0.0)


def _two_outputs(p, x):
    import jax.numpy as jnp

    return jnp.concatenate([p[0] * x, p[1] ** 2 * x], axis=-1)


# normal crossings on noiseless data (y = 0, so L_n(w*) = 0 at w* = 0): apply, outputs,
# K(w) = L_n(w) for m2 = mean(x²)
CROSSINGS = {
    "w1·w2·x": (
        lambda p, x: p[0] * p[1] * x,
        1,
        lambda w, m2: 0.5 * m2 * (w[..., 0] * w[..., 1]) ** 2,
    ),
    "w1²·w2·x": (
        lambda p, x: p[0] ** 2 * p[1] * x,
        1,
        lambda w, m2: 0.5 * m2 * (w[..., 0] ** 2 * w[..., 1]) ** 2,
    ),
    "(w1·x, w2²·x)": (_two_outputs, 2, lambda w, m2: 0.5 * m2 * (w[..., 0] ** 2 + w[..., 1] ** 4)),
}


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["nuts", "hmc"])
@pytest.mark.parametrize("name", list(CROSSINGS))
def test_exact_samplers_cover_the_quadrature_value(name, sampler, x64):
    """λ̂ of an exact sampler against the exact finite-temperature value: the sampler's
    own error, with no estimand bias. Asserted at 3 MCSE (a 2-MCSE check fails 5% of
    cases by chance); on this machine all six are within 1 MCSE (docs/truth.md)."""
    import jax.numpy as jnp

    import lambda_hat as lh

    apply, outputs, K = CROSSINGS[name]
    x = np.random.default_rng(0).normal(size=(1000, 1))
    y = np.zeros((1000, outputs))
    r = lh.estimate(apply, jnp.zeros(2), (x, y), sampler=sampler, draws="auto", max_draws=3200)
    m2 = float(np.mean(x**2))
    reference = finite_temperature_llc(lambda w: K(w, m2), 2, r.n_beta, 1.0)
    assert r.budget["verdict"] == "converged"
    assert abs(r.llc_mean - reference) <= 3 * r.llc_mcse, (r.llc_mean, r.llc_mcse, reference)
