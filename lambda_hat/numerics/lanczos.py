"""The posterior's stiffest curvature at w* by Lanczos: what a written step's bias
bound is checked against, around one small compiled program.

A written step needs h_max = |λ|_max of nβ∇²L_n(w*) + γ only for its bias bound
(numerics/step_size.py), so the bound must cost a small part of a run. Power iteration
(``step_size.top_curvatures``, which the automatic steps keep so that stored runs keep
their numbers) converges slowly where the top eigenvalues are close: on the 9,000-
parameter DLN its 40 products fall short of what Lanczos reaches in 12, and Lanczos' 16
are converged to six digits. Compilation, not arithmetic, was most of the bound's cost
(each eager operation compiles on its own, per shape): here one small program computes
a Hessian-vector product on the rows (they are gathered in it), and the recurrence, its
start vector and the tridiagonal's eigenvalues are NumPy's, in float64, on the host (a
compiled loop around the product compiled 3× slower).

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
    basis = np.zeros((k + 1, w.shape[0]))
    basis[0] = np.random.default_rng(seed).standard_normal(w.shape[0])
    basis[0] /= np.linalg.norm(basis[0])
    idx = None if idx is None else jnp.asarray(idx)
    coefficients = jnp.asarray([posterior.n_beta, posterior.localization], w.dtype)
    arrays = (posterior.data, posterior.frozen)
    alpha, beta = np.zeros(k), np.zeros(k)
    for j in range(k):
        v = jnp.asarray(basis[j], w.dtype)
        u = np.array(_product(posterior.loss_fn, arrays, idx, w, v, coefficients), np.float64)
        alpha[j] = basis[j] @ u
        for _ in range(2):  # twice is enough (Kahan–Parlett)
            u -= basis[: j + 1].T @ (basis[: j + 1] @ u)
        beta[j] = np.linalg.norm(u)
        if beta[j] == 0:  # the Krylov space is exhausted: T so far is exact
            alpha, beta = alpha[: j + 1], beta[: j + 1]
            break
        basis[j + 1] = u / beta[j]
    ritz = np.linalg.eigvalsh(np.diag(alpha) + np.diag(beta[:-1], 1) + np.diag(beta[:-1], -1))
    return float(max(abs(ritz[0]), abs(ritz[-1])))


def steps(dimension: int, iterations: int = ITERATIONS) -> int:
    """The Lanczos steps taken in ``dimension`` parameters (its Krylov space's size at most)."""
    return max(1, min(int(iterations), int(dimension)))


@partial(jax.jit, static_argnums=0)
def _product(loss_fn, arrays, idx, w, v, coefficients):
    """(nβ∇²L(w) + γ)·v on the rows ``idx`` of the data (None: all; ``arrays``: the data
    and a restricted posterior's frozen weights)."""
    data, frozen = arrays
    batch = data if idx is None else rows(data, idx)
    grad = jax.grad(lambda u: loss_fn(embed(frozen, u), batch))
    return coefficients[0] * jax.jvp(grad, (w,), (v,))[1] + coefficients[1] * v
