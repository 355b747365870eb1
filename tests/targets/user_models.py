"""Factories a user might write; tests copy this file next to an experiments file."""

import jax
import jax.numpy as jnp
import numpy as np


def logistic(in_dim: int, classes: int, seed: int = 0):
    """Multinomial logistic regression as a plain-JAX (apply, params) pair."""
    params = {
        "W": 0.1 * jax.random.normal(jax.random.PRNGKey(seed), (in_dim, classes)),
        "b": jnp.zeros(classes),
    }
    return (lambda p, x: x @ p["W"] + p["b"]), params


def dln_given(sizes: list, params_file: str):
    """A deep linear network at the w* stored in ``params_file`` (a built-in target's)."""
    from jax.flatten_util import ravel_pytree

    from lambda_hat.numerics.models import Network

    net = Network(tuple(sizes), "identity", False)
    template = net.init(jax.random.PRNGKey(0), jnp.float64)
    _, unravel = ravel_pytree(template)
    w_star = np.load(params_file)["w_star"]
    return net.apply, unravel(jnp.asarray(w_star))


def equinox_mlp(in_dim: int, width: int, classes: int, seed: int = 0):
    """An Equinox MLP split into (apply, params) with eqx.partition / eqx.combine."""
    import equinox as eqx

    model = eqx.nn.MLP(in_dim, classes, width, depth=1, key=jax.random.PRNGKey(seed))
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def apply(p, x):
        return jax.vmap(eqx.combine(p, static))(x)

    return apply, params


def blobs(n: int = 300, seed: int = 0):
    """Three Gaussian blobs in 4 dimensions with integer labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4)) + 0.5 * y[:, None]
    return x, y


def raises():
    raise RuntimeError("the factory's own error")


def wrong_shape(in_dim: int, classes: int):
    apply, params = logistic(in_dim, classes)
    return (lambda p, x: apply(p, x)[:, :1]), params


def not_a_pair():
    return 42


NOT_CALLABLE = 3
