"""The localized tempered posterior around w*.

    π(w) ∝ exp(−nβ L_n(w) − (γ/2) ‖w − w*‖²)

with nβ = n · inverse_temperature (default β = 1/log n) and γ = localization.
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

    def batch_loss_grad(self, w, idx):
        """∇ of the mean loss over the rows ``idx`` (an unbiased estimate of ∇L_n)."""
        return jax.grad(self.loss_fn)(w, self.x[idx], self.y[idx])


def make_posterior(loss_fn, x, y, w_star, inverse_temperature, localization) -> Posterior:
    n = x.shape[0]
    return Posterior(loss_fn, x, y, w_star, float(n * inverse_temperature), float(localization))
