"""The empirical losses, defined here and only here.

    mse:            L_n(w) = (1/n) Σ_i ½ ‖y_i − f_w(x_i)‖²
    cross_entropy:  L_n(w) = −(1/n) Σ_i log softmax(f_w(x_i))[y_i]

i.e. negative log-likelihoods per row: Gaussian with unit noise variance (up to a
constant) and categorical with logits f_w(x). The tempered posterior uses exp(−nβ L_n(w)).
A custom loss is a function ``loss(outputs, targets)`` of a batch's rows giving each
row's loss (rows,), or each position's (rows, T); L_n is their mean.
A loss is a function of the flat parameters and a batch ``(x, y)`` of rows.

For sequences, a row is a sequence: labels y_i of shape (T,) and logits f_w(x_i) of
shape (T, classes). A row's loss is then the mean over its T positions, so n counts
sequences (in nβ as in L_n) and L_n is the mean loss per token. A negative label marks
a position to ignore (a mask, as PyTorch's ``ignore_index = -100``): a row's loss is
then the mean over its other positions (0 for a row with none), and an observed
dataset records 0 at an ignored position.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

LOSS_DESCRIPTIONS = {
    "mse": "L_n(w) = (1/n) sum_i 0.5 * ||y_i - f_w(x_i)||^2",
    "cross_entropy": "L_n(w) = -(1/n) sum_i mean_t log softmax(f_w(x_i))[t, y_i[t]] "
    "(one position when y_i is a single label)",
}


def describe_loss(loss: str) -> str:
    """The formula of a loss by name: a built-in one's, or a custom one's (its name
    ``module:function`` of (outputs, targets) per row or per position)."""
    if loss in LOSS_DESCRIPTIONS:
        return LOSS_DESCRIPTIONS[loss]
    return f"L_n(w) = (1/n) sum_i mean_t {loss}(f_w(x_i), y_i)[t] (a custom loss)"


def make_row_loss(apply_flat: Callable, loss: str | Callable = "mse") -> Callable:
    """``row_loss(w, batch)``: each row's loss, unreduced over a sequence's positions:
    (rows,) for one output or label per row, (rows, T) for labels per position. A
    callable ``loss(outputs, targets)`` is a custom loss giving those itself."""
    if callable(loss):
        return lambda w, batch: loss(apply_flat(w, batch[0]), batch[1])
    if loss == "mse":
        return lambda w, batch: 0.5 * jnp.sum((batch[1] - apply_flat(w, batch[0])) ** 2, axis=-1)
    if loss == "cross_entropy":

        def cross_entropy(w, batch):
            x, y = batch
            nll, valid = _token_nll(apply_flat, w, x, y)
            return jnp.where(valid, nll, 0.0)

        return cross_entropy
    raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSS_DESCRIPTIONS)}")


def _token_nll(apply_flat, w, x, y):
    """(−log softmax at each label, where the label is not ignored (y ≥ 0))."""
    logp = jax.nn.log_softmax(apply_flat(w, x), axis=-1)
    valid = y >= 0
    nll = -jnp.take_along_axis(logp, jnp.where(valid, y, 0)[..., None], axis=-1)[..., 0]
    return nll, valid


def has_mask(loss: str, y) -> bool:
    """Labels with ignored positions (a negative label), which need the masked loss."""
    import numpy as np

    return loss == "cross_entropy" and bool(np.any(np.asarray(y) < 0))


def make_loss(apply_flat: Callable, loss: str | Callable = "mse", masked: bool = False) -> Callable:
    """``loss(w, batch)``: the mean over the rows of ``batch = (x, y)`` of the row loss;
    ``masked``: labels may be negative (ignored positions, see the module docstring).

    Written out rather than as the mean of ``make_row_loss``: XLA fuses that form
    differently, and the stored runs' values would change in their last bits (and so
    the unmasked form is kept for labels without ignored positions)."""
    if callable(loss):  # a custom per-row (per-position) loss: the mean over all of them

        def custom(w, batch):
            x, y = batch
            return jnp.mean(loss(apply_flat(w, x), y))

        return custom
    if masked and loss == "cross_entropy":

        def masked_cross_entropy(w, batch):
            x, y = batch
            nll, valid = _token_nll(apply_flat, w, x, y)
            total = jnp.sum(jnp.where(valid, nll, 0.0), axis=-1)
            return jnp.mean(total / jnp.maximum(jnp.sum(valid, axis=-1), 1))

        return masked_cross_entropy
    if loss == "mse":

        def mse(w, batch):
            x, y = batch
            residual = y - apply_flat(w, x)
            return 0.5 * jnp.mean(jnp.sum(residual * residual, axis=-1))

        return mse
    if loss == "cross_entropy":

        def cross_entropy(w, batch):
            x, y = batch
            logp = jax.nn.log_softmax(apply_flat(w, x), axis=-1)
            # one label per row (n,) or per position (n, T): every row has T positions,
            # so the mean over all of them is the mean over rows of each row's mean
            return -jnp.mean(jnp.take_along_axis(logp, y[..., None], axis=-1))

        return cross_entropy
    raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSS_DESCRIPTIONS)}")
