"""Exact finite-temperature references for models of one to three parameters.

A sampler's λ̂ estimates nβ (E_π[L_n] − L_n(w*)) under the localized tempered posterior

    π(w) ∝ exp(−nβ K(w) − (γ/2)‖w − w*‖²),   K(w) = L_n(w) − L_n(w*),

a quantity that differs from λ at finite nβ (singular models approach λ like
λ − (m − 1)/log nβ). For p ≤ 3 parameters it can be computed to many digits by
quadrature, separating a sampler's error from the estimand's gap to λ. The grid is a
tensor product of the map w = a·t³, t uniform in [−1, 1], so points crowd near w* where
a singular K's mass concentrates (K ≈ 0 along whole axes), with a = ``half_width``
(default 8/√γ: the Gaussian factor is below e⁻³² there). No JAX: ``K`` is any
vectorised function of an array (..., p) of offsets w − w*.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def grid(dim: int, points: int, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    """(offsets (points**dim, dim), weights (points**dim,)) of the tensor grid."""
    t = np.linspace(-1.0, 1.0, points)
    w = half_width * np.sign(t) * np.abs(t) ** 3
    jac = 3.0 * half_width * t**2 * (t[1] - t[0])  # dw of each point's cell
    axes = np.meshgrid(*([w] * dim), indexing="ij")
    weights = np.ones_like(axes[0])
    for jw in np.meshgrid(*([jac] * dim), indexing="ij"):
        weights = weights * jw
    return np.stack([a.ravel() for a in axes], axis=-1), weights.ravel()


def finite_temperature_llc(
    K: Callable[[np.ndarray], np.ndarray],
    dim: int,
    n_beta: float,
    gamma: float,
    points: int | None = None,
    half_width: float | None = None,
) -> float:
    """nβ·E_π[K] for π ∝ exp(−nβ K(w) − γ/2 ‖w‖²) over w ∈ R^dim (offsets from w*)."""
    if not 1 <= dim <= 3:
        raise ValueError(f"quadrature is for 1 to 3 parameters, got {dim}")
    if gamma <= 0:
        raise ValueError("quadrature needs a localization gamma > 0 (a proper posterior)")
    points = points or {1: 200_001, 2: 2001, 3: 241}[dim]
    half_width = half_width or 8.0 / np.sqrt(gamma)
    w, weights = grid(dim, points, half_width)
    k = np.asarray(K(w), np.float64)
    log_density = -n_beta * k - 0.5 * gamma * np.sum(w * w, axis=-1)
    density = np.exp(log_density - log_density.max()) * weights
    return float(n_beta * np.sum(k * density) / np.sum(density))


def gaussian_llc(grad: np.ndarray, hessian: np.ndarray, n_beta: float, gamma: float) -> float:
    """nβ·E_π[K] in closed form when K(δ) = gᵀδ + ½ δᵀHδ is quadratic (a linear model
    under squared loss, e.g. a one-layer DLN), for any number of parameters.

    π is then Gaussian with precision A = nβH + γ and mean offset d = −A⁻¹ nβ g (g ≠ 0
    when w* is the teacher, not the least-squares fit), so nβ·E_π[K] =
    nβ (gᵀd + ½ dᵀHd + ½ tr(H A⁻¹)).
    """
    g = np.asarray(grad, np.float64)
    h = np.asarray(hessian, np.float64)
    a = n_beta * h + gamma * np.eye(g.size)
    d = -np.linalg.solve(a, n_beta * g)
    return float(n_beta * (g @ d + 0.5 * d @ h @ d + 0.5 * np.trace(np.linalg.solve(a, h))))
