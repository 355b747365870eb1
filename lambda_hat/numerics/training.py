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


def _step_fn(loss_fn, opt, data, batch):
    n = jax.tree_util.tree_leaves(data)[0].shape[0]

    def step(carry, key):
        w, opt_state = carry
        if batch is None or batch >= n:
            b = data
        else:
            b = rows(data, jax.random.choice(key, n, (batch,), replace=False))
        value, grad = jax.value_and_grad(loss_fn)(w, b)
        updates, opt_state = opt.update(grad, opt_state, w)
        return (optax.apply_updates(w, updates), opt_state), value

    return step


def train(loss_fn, w0, data, training_spec, rng_key):
    """Minimise ``loss_fn(w, batch)`` from ``w0``. Returns (w*, per-step loss history)."""
    opt = optimizer(training_spec)
    step = _step_fn(loss_fn, opt, data, training_spec.batch_size)
    keys = jax.random.split(rng_key, training_spec.steps)
    (w_star, _), history = jax.lax.scan(step, (w0, opt.init(w0)), keys)
    return w_star, history


def train_checkpoints(loss_fn, w0, data, training_spec, rng_key, stops):
    """One training run, kept at each step in ``stops`` (sorted): [(w_k, history[:k])].

    The run is cut into scans between stops; step t uses key t of the split of
    ``rng_key`` into ``training_spec.steps`` keys, whatever the stops are.
    """
    opt = optimizer(training_spec)
    step = _step_fn(loss_fn, opt, data, training_spec.batch_size)
    keys = jax.random.split(rng_key, training_spec.steps)
    segment = jax.jit(lambda carry, ks: jax.lax.scan(step, carry, ks))
    carry, done, parts, out = (w0, opt.init(w0)), 0, [], []
    for stop in stops:
        if stop > done:
            carry, history = segment(carry, keys[done:stop])
            parts.append(history)
            done = stop
        history = jnp.concatenate(parts) if parts else jnp.zeros((0,), w0.dtype)
        out.append((carry[0], history))
    return out


def finite(w) -> bool:
    return bool(jnp.all(jnp.isfinite(w)))
