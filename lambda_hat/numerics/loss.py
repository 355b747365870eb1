"""The empirical loss, defined here and only here.

    L_n(w) = (1/n) Σ_i ½ ‖y_i − f_w(x_i)‖²

i.e. the Gaussian negative log-likelihood with unit noise variance, up to a constant.
The tempered posterior uses exp(−nβ L_n(w)).
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp

LOSS_DESCRIPTION = "L_n(w) = (1/n) sum_i 0.5 * ||y_i - f_w(x_i)||^2"


def make_loss(apply_flat: Callable) -> Callable:
    """``loss(w, x, y)``: mean over the rows of (x, y) of half the squared error."""

    def loss(w, x, y):
        residual = y - apply_flat(w, x)
        return 0.5 * jnp.mean(jnp.sum(residual * residual, axis=-1))

    return loss
