"""Stage A: find w* with optax (full batch or minibatches), inside one ``lax.scan``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from lambda_hat.numerics.posterior import rows


def optimizer(training_spec) -> optax.GradientTransformation:
    if training_spec.optimizer == "adam":
        return optax.adam(training_spec.learning_rate)
    if training_spec.optimizer == "adamw":
        return optax.adamw(training_spec.learning_rate, weight_decay=training_spec.weight_decay)
    if training_spec.optimizer == "sgd":
        return optax.sgd(training_spec.learning_rate)
    raise ValueError(f"unknown optimizer {training_spec.optimizer!r}")


def train(loss_fn, w0, data, training_spec, rng_key):
    """Minimise ``loss_fn(w, batch)`` from ``w0``. Returns (w*, per-step loss history)."""
    opt = optimizer(training_spec)
    n = jax.tree_util.tree_leaves(data)[0].shape[0]
    batch = training_spec.batch_size

    def step(carry, key):
        w, opt_state = carry
        if batch is None or batch >= n:
            b = data
        else:
            b = rows(data, jax.random.choice(key, n, (batch,), replace=False))
        value, grad = jax.value_and_grad(loss_fn)(w, b)
        updates, opt_state = opt.update(grad, opt_state, w)
        return (optax.apply_updates(w, updates), opt_state), value

    keys = jax.random.split(rng_key, training_spec.steps)
    (w_star, _), history = jax.lax.scan(step, (w0, opt.init(w0)), keys)
    return w_star, history


def finite(w) -> bool:
    return bool(jnp.all(jnp.isfinite(w)))
