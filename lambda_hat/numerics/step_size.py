"""``step_size = "auto"`` for plain SGLD: a step set by the posterior's stiffest curvature.

SGLD here is the Euler–Maruyama step w ← w + (ε/2)·(−∇U) + √ε·ξ of the Langevin
diffusion of U(w) = nβ L_n(w) + (γ/2)‖w − w*‖². In a Gaussian direction of curvature h
it is stable for ε < 4/h and its stationary variance is 1/(h(1 − εh/4)): too large by
the fraction ≈ εh/4, and λ̂, a sum of such variances times curvatures, is biased by at
most that in the stiffest direction. The rule takes

    ε = 4·TOLERANCE / h_max,   h_max = nβ·λ_max(∇²L_n(w*)) + γ,

so that bias is 2% (TOLERANCE) in the stiffest direction and less in the others: 1/50
of the stability limit. λ_max comes from power iteration on full-data Hessian-vector
products at w* (``ITERATIONS`` of them, about as much work as as many full gradients).
Left out: the minibatch's own gradient noise, which adds variance of order
ε·(nβ)²·Var(∇L_B) and is not bounded by this rule (large nβ, small batches), and
curvature away from w* (singular directions flatten, so h at w* is the largest where
the chain goes, for the models in the truth suite). The truth suite measures both.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

TOLERANCE = 0.02
ITERATIONS = 40


def top_curvature(posterior, iterations: int = ITERATIONS, seed: int = 0) -> tuple[float, float]:
    """(λ_max of ∇²L_n at w*, h_max = nβ·λ_max + γ), by power iteration."""
    grad = jax.grad(posterior.full_loss)
    w_star = posterior.w_star

    @jax.jit
    def iterate(v):
        hv = jax.jvp(grad, (w_star,), (v,))[1]
        return hv / jnp.linalg.norm(hv), jnp.vdot(v, hv)

    v = jax.random.normal(jax.random.PRNGKey(seed), w_star.shape, w_star.dtype)
    v = v / jnp.linalg.norm(v)
    value = 0.0
    for _ in range(iterations):
        v, value = iterate(v)
    top = abs(float(value))
    return top, posterior.n_beta * top + float(posterior.localization)


def choose(posterior) -> dict:
    """The rule's step for ``posterior`` and what it rests on (for analysis.json)."""
    hessian_top, h_max = top_curvature(posterior)
    return {
        "step_size": 4.0 * TOLERANCE / h_max,
        "rule": f"4·{TOLERANCE}/h_max: Euler–Maruyama variance bias ≤ {TOLERANCE:.0%} in the "
        "stiffest direction (lambda_hat/numerics/step_size.py)",
        "hessian_top_eigenvalue": hessian_top,
        "h_max": h_max,
        "stability_limit": 4.0 / h_max,
        "iterations": ITERATIONS,
        "hvp_fges": 2.0 * ITERATIONS,  # a Hessian-vector product costs about two gradients
    }
