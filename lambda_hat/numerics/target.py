"""Stage A numerics: data, teacher and w* for a TargetSpec (arrays in, arrays out)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from lambda_hat.numerics.data import make_data, make_teacher
from lambda_hat.numerics.loss import make_loss
from lambda_hat.numerics.models import network
from lambda_hat.numerics.training import train


class TargetArrays(NamedTuple):
    x: jax.Array
    y: jax.Array
    w_star: jax.Array  # flat (p,)
    teacher: jax.Array  # flat (p,)
    loss_history: jax.Array
    L0: float


def flat_apply(model_spec, dtype):
    """(apply_flat(w, x), unravel, p) for the spec's network.

    ``w`` is laid out by ``ravel_pytree``. Its ``unravel`` depends on the parameters'
    shapes only, so it is built from zeros of the shapes ``jax.eval_shape`` reads off
    ``init``: no initialisation runs, and a run's start-up compiles no throw-away
    random-number programs (about 20 of them, 1–2 s on a cold cache). The numbers are
    those of ``ravel_pytree`` on the initialised network, to the bit.
    """
    net = network(model_spec)
    key = jax.ShapeDtypeStruct((2,), jnp.uint32)
    shapes = jax.eval_shape(lambda k: net.init(k, dtype), key)
    template = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes)
    flat, unravel = ravel_pytree(template)

    def apply_flat(w, x):
        return net.apply(unravel(w), x)

    return apply_flat, unravel, flat.shape[0]


def build_target(spec) -> TargetArrays:
    """Make data from a teacher and train a student to w* (or take the teacher)."""
    dtype = jnp.float64 if spec.precision == "float64" else jnp.float32
    net = network(spec.model)
    k_teacher, k_data, k_init, k_train = jax.random.split(jax.random.PRNGKey(spec.seed), 4)
    teacher_tree = make_teacher(net, spec.model, k_teacher, dtype)
    x, y = make_data(net, teacher_tree, spec.data, k_data, dtype)
    teacher, _ = ravel_pytree(teacher_tree)
    apply_flat, _, _ = flat_apply(spec.model, dtype)
    loss = jax.jit(make_loss(apply_flat))
    if spec.training.init == "teacher" or spec.training.steps == 0:
        w0 = (
            teacher if spec.training.init == "teacher" else ravel_pytree(net.init(k_init, dtype))[0]
        )
        w_star, history = w0, jnp.zeros((0,), dtype)
    else:
        w0, _ = ravel_pytree(net.init(k_init, dtype))
        w_star, history = jax.jit(
            lambda w, k: train(make_loss(apply_flat), w, x, y, spec.training, k)
        )(w0, k_train)
    return TargetArrays(x, y, w_star, teacher, history, float(loss(w_star, x, y)))
