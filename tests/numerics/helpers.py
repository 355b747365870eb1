"""Small DLN posteriors and an independently counted loss for sampler tests."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.config.specs import DataSpec, ModelSpec, TargetSpec, TrainingSpec
from lambda_hat.numerics.loss import make_loss
from lambda_hat.numerics.posterior import make_posterior
from lambda_hat.numerics.truth import dln_llc
from lambda_hat.targets.build import build_target, flat_apply


def dln_problem(sizes, rank, n, *, seed=0, noise=0.1, gamma=1.0, precision=None):
    """(posterior, L0, true λ) for a teacher-initialised DLN with layer sizes ``sizes``."""
    if precision is None:
        precision = "float64" if jax.config.jax_enable_x64 else "float32"
    model = ModelSpec(
        kind="dln",
        in_dim=sizes[0],
        widths=tuple(sizes[1:-1]),
        out_dim=sizes[-1],
        rank=rank,
        activation="identity",
        bias=False,
    )
    spec = TargetSpec(
        model,
        DataSpec(n_data=n, noise_scale=noise),
        TrainingSpec(init="teacher", steps=0),
        seed,
        precision,
    )
    arrays = build_target(spec)
    dtype = jnp.float64 if precision == "float64" else jnp.float32
    apply_flat, _, _ = flat_apply(model, dtype)
    posterior = make_posterior(
        make_loss(apply_flat), (arrays.x, arrays.y), arrays.w_star, 1.0 / math.log(n), gamma
    )
    return posterior, arrays.L0, float(dln_llc(sizes, rank))


def regular_model(precision=None):
    """The truth suite's one-layer DLN (p = 100, n = 2000, seed 1): π is Gaussian, so
    nβ·E_π[L_n − L_n(w*)] is exact. ``(posterior, that value)``."""
    from lambda_hat.numerics.quadrature import gaussian_llc

    posterior, _, _ = dln_problem([10, 10], 10, 2000, seed=1, precision=precision)
    w = posterior.w_star
    exact = gaussian_llc(
        np.asarray(jax.grad(posterior.full_loss)(w), np.float64),
        np.asarray(jax.hessian(posterior.full_loss)(w), np.float64),
        posterior.n_beta,
        posterior.localization,
    )
    return posterior, exact


class RowCounter:
    """Counts gradient work of a loss in full-gradient equivalents, on the host.

    ``wrap(loss_fn)`` returns a loss with a custom VJP whose backward pass reports how
    many data rows it differentiated over; ``fges`` is the sum of rows / n.
    """

    def __init__(self, n: int):
        self.n = n
        self.rows = 0

    def _add(self, rows):
        self.rows += int(np.sum(np.asarray(rows)))

    @property
    def fges(self) -> float:
        return self.rows / self.n

    def wrap(self, loss_fn):
        @jax.custom_vjp
        def counted(w, batch):
            return loss_fn(w, batch)

        def fwd(w, batch):
            return loss_fn(w, batch), (w, batch)

        def bwd(res, g):
            w, batch = res
            # depends on w so that under vmap the callback sees one entry per chain
            rows = jnp.full(w.shape[:0], batch[0].shape[0], jnp.int32) + 0 * jnp.isnan(w[0])
            jax.debug.callback(self._add, rows)
            _, vjp = jax.vjp(loss_fn, w, batch)
            return vjp(g)

        counted.defvjp(fwd, bwd)
        return counted
