"""The localized tempered posterior around w*.

    π(w) ∝ exp(−nβ L_n(w) − (γ/2) ‖w − w*‖²)

with nβ = n · inverse_temperature (default β = 1/log n) and γ = localization. The loss
is any ``loss_fn(w, batch)`` and ``data`` any pytree of arrays with n rows each (today
``(x, y)``): a batch is the same pytree cut to some rows.

``anchor`` optionally holds the per-row losses at w*, so that a minibatch sampler can
estimate L_n(w) − L_n(w*) by L_B(w) − L_B(w*) on the batch B it already drew, at the
cost of a gather: the same-minibatch control variate of Lau et al. (Algorithm 1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


def embed(frozen, w):
    """The full parameter vector of a weight-restricted posterior's coordinates ``w``:
    ``frozen`` = (the full w*, the moved indices); None: ``w`` is the full vector."""
    if frozen is None:
        return w
    base, keep = frozen
    return base.at[keep].set(w)


def rows(data, idx):
    """The batch of ``data`` at rows ``idx``."""
    return jax.tree_util.tree_map(lambda a: a[idx], data)


class Posterior(NamedTuple):
    """Everything a sampler needs to know about its target density."""

    loss_fn: Callable  # loss_fn(w, batch) -> mean loss over the batch's rows
    data: Any  # pytree of arrays, n rows each
    w_star: jax.Array
    n_beta: float
    localization: float
    anchor: jax.Array | None = None  # (n,) per-row losses at w*, see with_anchor
    row_loss_fn: Callable | None = None  # row_loss_fn(w, batch) -> unreduced (rows[, T])
    # a weight-restricted posterior's (full w*, moved indices): its w are the moved
    # coordinates alone (``restricted``); None for the whole model
    frozen: Any = None

    @property
    def n(self) -> int:
        return jax.tree_util.tree_leaves(self.data)[0].shape[0]

    @property
    def num_params(self) -> int:
        return self.w_star.shape[0]

    @property
    def arrays(self) -> tuple:
        """The posterior's arrays, to pass into a jitted function as arguments (XLA would
        try to constant-fold closed-over data at compile time); see :meth:`rebind`."""
        return (self.data, self.w_star, self.anchor, self.frozen)

    def rebind(self, arrays: tuple) -> Posterior:
        data, w_star, anchor, frozen = arrays
        return self._replace(data=data, w_star=w_star, anchor=anchor, frozen=frozen)

    def restricted(self, keep) -> Posterior:
        """This posterior over the coordinates ``keep`` alone, the others held at w*."""
        keep = jnp.asarray(keep)
        return self._replace(w_star=self.w_star[keep], frozen=(self.w_star, keep), anchor=None)

    def loss(self, w, batch):
        """The mean loss over ``batch``'s rows at ``w`` (the moved coordinates of a
        weight-restricted posterior)."""
        return self.loss_fn(embed(self.frozen, w), batch)

    def full_loss(self, w):
        """L_n(w) over all n points."""
        return self.loss(w, self.data)

    def loss_at_w_star(self) -> float:
        """L_n(w*), computed with the data as the program's arguments (closed over, a
        large dataset is folded into the program as constants: 1.4 s to compile at
        n = 100,000 rows of 80 numbers, against ~0.05 s)."""
        at_w_star = jax.jit(lambda arrays: self.rebind(arrays).full_loss(arrays[1]))
        return float(at_w_star(self.arrays))

    def prior_logdensity(self, w):
        d = w - self.w_star
        return -0.5 * self.localization * jnp.vdot(d, d)

    def logdensity(self, w):
        """log π(w) up to a constant, over the full data."""
        return -self.n_beta * self.full_loss(w) + self.prior_logdensity(w)

    def batch_loss_and_grad(self, w, idx):
        """(L_B(w), ∇L_B(w)) over the rows ``idx`` (unbiased estimates of L_n, ∇L_n):
        one forward and backward pass."""
        return jax.value_and_grad(self.loss)(w, rows(self.data, idx))

    def loss_from_logdensity(self, w, logdensity):
        """L_n(w) recovered from log π(w) (no pass over the data): for samplers whose
        state carries the full-data log density."""
        return (self.prior_logdensity(w) - logdensity) / self.n_beta

    def observed(self, w, data):
        """What an observed dataset records at ``w``: each row's loss, per position for
        sequences (``row_loss_fn``), else ``per_row``."""
        if self.row_loss_fn is not None:
            return self.row_loss_fn(embed(self.frozen, w), data)
        return self.per_row(w, data)

    def per_row(self, w, data):
        """The loss of each row of ``data`` at ``w``: (rows,)."""
        one = jax.tree_util.tree_map(lambda a: a[:, None], data)  # rows of one
        return jax.vmap(lambda batch: self.loss(w, batch))(one)

    def with_anchor(self):
        """This posterior with ``anchor`` = the per-row losses at w* (one pass over the data)."""
        return self._replace(anchor=jax.jit(self.per_row)(self.w_star, self.data))


def make_posterior(
    loss_fn, data, w_star, inverse_temperature, localization, row_loss_fn=None
) -> Posterior:
    """The posterior of ``loss_fn`` on ``data`` (a pytree of n-row arrays, e.g. (x, y));
    ``row_loss_fn``: the same loss unreduced, for observed datasets."""
    n = jax.tree_util.tree_leaves(data)[0].shape[0]
    n_beta = float(n * inverse_temperature)
    return Posterior(loss_fn, data, w_star, n_beta, float(localization), None, row_loss_fn)
