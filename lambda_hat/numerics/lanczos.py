"""The posterior's stiffest curvature at w* by Lanczos: what a written step's bias
bound is checked against, in one compiled program.

A written step needs h_max = |λ|_max of nβ∇²L_n(w*) + γ only for its bias bound
(numerics/step_size.py), so the bound must cost a small part of a run. Power iteration
(``step_size.top_curvatures``, which the automatic steps keep so that stored runs keep
their numbers) converges slowly where the top eigenvalues are close: on the 9,000-
parameter DLN its 40 products reach what Lanczos reaches in 10, and Lanczos' 16 are
converged to six digits. Here the rows, the start vector and the iterations are one
program (each eager operation compiles on its own, per shape, and that was most of the
bound's cost): one compilation, one call. The start vector comes from NumPy on the host.

Lanczos with full reorthogonalisation builds an orthonormal basis V of the Krylov space
of the start vector and the tridiagonal T = VᵀHV; T's extreme eigenvalues (Ritz values)
approach H's from inside its spectrum, so h_max found is at most the true one, and at
least what power iteration finds from the same start in as many products.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.numerics.posterior import embed, rows

ITERATIONS = 16


def top_curvature(posterior, idx=None, iterations: int = ITERATIONS, seed: int = 0) -> float:
    """|λ|_max of nβ∇²L(w*) + γ, L the mean loss over data rows ``idx`` (all rows
    without), by ``iterations`` Lanczos steps (at most the dimension) from a start
    vector drawn with ``seed``."""
    w = posterior.w_star
    k = steps(w.shape[0], iterations)
    start = np.random.default_rng(seed).standard_normal(w.shape[0])
    start = jnp.asarray(start / np.linalg.norm(start), w.dtype)
    idx = None if idx is None else jnp.asarray(idx)
    coefficients = jnp.asarray([posterior.n_beta, posterior.localization], w.dtype)
    arrays = (posterior.data, posterior.frozen)
    alpha, beta = _tridiagonal(posterior.loss_fn, k, arrays, idx, w, start, coefficients)
    alpha, beta = np.asarray(alpha, np.float64), np.asarray(beta, np.float64)[:-1]
    ritz = np.linalg.eigvalsh(np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1))
    return float(max(abs(ritz[0]), abs(ritz[-1])))


def steps(dimension: int, iterations: int = ITERATIONS) -> int:
    """The Lanczos steps taken in ``dimension`` parameters (its Krylov space's size at most)."""
    return max(1, min(int(iterations), int(dimension)))


@partial(jax.jit, static_argnums=(0, 1))
def _tridiagonal(loss_fn, k: int, arrays, idx, w, start, coefficients):
    """T's diagonal and off-diagonal after ``k`` Lanczos steps of nβ∇²L(w) + γ on the
    rows ``idx`` of the data (None: all; ``arrays``: the data and a restricted posterior's frozen
    weights). A Krylov space exhausted early (β = 0) leaves zero rows that decouple."""
    data, frozen = arrays
    batch = data if idx is None else rows(data, idx)
    grad = jax.grad(lambda u: loss_fn(embed(frozen, u), batch))
    n_beta, gamma = coefficients[0], coefficients[1]

    def product(v):
        return n_beta * jax.jvp(grad, (w,), (v,))[1] + gamma * v

    def step(j, carry):
        basis, alpha, beta = carry
        u = product(basis[j])
        a = jnp.vdot(basis[j], u)
        for _ in range(2):  # twice is enough (Kahan–Parlett); rows past j are still zero
            u = u - basis.T @ (basis @ u)
        b = jnp.linalg.norm(u)
        nxt = jnp.where(b > 0, u / jnp.where(b > 0, b, 1), 0)
        return basis.at[j + 1].set(nxt), alpha.at[j].set(a), beta.at[j].set(b)

    basis = jnp.zeros((k + 1, w.shape[0]), w.dtype).at[0].set(start)
    zeros = jnp.zeros(k, w.dtype)
    _, alpha, beta = jax.lax.fori_loop(0, k, step, (basis, zeros, zeros))
    return alpha, beta
