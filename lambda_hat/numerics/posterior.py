"""The localized tempered posterior around w*.

    π(w) ∝ exp(−nβ L_n(w) − (γ/2) ‖w − w*‖²)

with nβ = n · inverse_temperature (default β = 1/log n) and γ = localization.

``anchor`` optionally holds the per-row losses at w*, so that a minibatch sampler can
estimate L_n(w) − L_n(w*) by L_B(w) − L_B(w*) on the batch B it already drew, at the
cost of a gather: the same-minibatch control variate of Lau et al. (Algorithm 1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp


class Posterior(NamedTuple):
    """Everything a sampler needs to know about its target density."""

    loss_fn: Callable  # loss_fn(w, x, y) -> mean loss over the rows given
    x: jax.Array
    y: jax.Array
    w_star: jax.Array
    n_beta: float
    localization: float
    anchor: jax.Array | None = None  # (n,) per-row losses at w*, see with_anchor

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def num_params(self) -> int:
        return self.w_star.shape[0]

    def full_loss(self, w):
        """L_n(w) over all n points."""
        return self.loss_fn(w, self.x, self.y)

    def prior_logdensity(self, w):
        d = w - self.w_star
        return -0.5 * self.localization * jnp.vdot(d, d)

    def logdensity(self, w):
        """log π(w) up to a constant, over the full data."""
        return -self.n_beta * self.full_loss(w) + self.prior_logdensity(w)

    def batch_loss_and_grad(self, w, idx):
        """(L_B(w), ∇L_B(w)) over the rows ``idx`` (unbiased estimates of L_n, ∇L_n):
        one forward and backward pass."""
        return jax.value_and_grad(self.loss_fn)(w, self.x[idx], self.y[idx])

    def loss_from_logdensity(self, w, logdensity):
        """L_n(w) recovered from log π(w) (no pass over the data): for samplers whose
        state carries the full-data log density."""
        return (self.prior_logdensity(w) - logdensity) / self.n_beta

    def with_anchor(self):
        """This posterior with ``anchor`` = the per-row losses at w* (one pass over the data)."""
        loss_fn = self.loss_fn

        @jax.jit
        def rows(x, y, w):
            return jax.vmap(lambda xi, yi: loss_fn(w, xi[None], yi[None]))(x, y)

        return self._replace(anchor=rows(self.x, self.y, self.w_star))


def make_posterior(loss_fn, x, y, w_star, inverse_temperature, localization) -> Posterior:
    n = x.shape[0]
    return Posterior(loss_fn, x, y, w_star, float(n * inverse_temperature), float(localization))
