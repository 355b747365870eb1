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
    template = net.init(jax.random.PRNGKey(0), jnp.result_type(float))  # the process's
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


def logistic_from_file(path: str):
    """Logistic regression at the weights saved in ``path`` (W, b), as a user's
    checkpoint loader would."""
    saved = np.load(path)
    params = {"W": jnp.asarray(saved["W"]), "b": jnp.asarray(saved["b"])}
    return (lambda p, x: x @ p["W"] + p["b"]), params


def logistic_at_step(step: int, folder: str):
    """The user's own training, saved as ``{folder}/ck_{step}.npz``."""
    return logistic_from_file(f"{folder}/ck_{step}.npz")


def logistic_no_seed(in_dim: int, classes: int):
    """Weights that do not depend on any seed."""
    return logistic(in_dim, classes)


def logistic_keyed(in_dim: int, classes: int, key):
    """Weights drawn from the PRNG key lambda-hat passes."""
    params = {"W": 0.1 * jax.random.normal(key, (in_dim, classes)), "b": jnp.zeros(classes)}
    return (lambda p, x: x @ p["W"] + p["b"]), params


def logistic_env(in_dim: int, classes: int):
    """Weights scaled by an environment variable: what a factory returns can change
    without its module or arguments changing."""
    import os

    apply, params = logistic(in_dim, classes)
    scale = float(os.environ.get("LH_TEST_SCALE", "1"))
    return apply, {k: scale * v for k, v in params.items()}


def blobs_from_file(path: str):
    """(X, Y) saved in ``path``."""
    saved = np.load(path)
    return saved["X"], saved["Y"]


def _mlp_weights(in_dim: int, width: int, classes: int, seed: int):
    """One tanh MLP's weights as numpy arrays (x @ W1 + b1, then @ W2 + b2)."""
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(in_dim, width)) / np.sqrt(in_dim),
        0.1 * rng.normal(size=width),
        rng.normal(size=(width, classes)) / np.sqrt(width),
        0.1 * rng.normal(size=classes),
    )


def flax_linen_mlp(in_dim: int, width: int, classes: int, seed: int = 0):
    """A Flax Linen tanh MLP at ``_mlp_weights`` (params: its variables dict)."""
    from flax import linen as nn

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            hidden = jnp.tanh(nn.Dense(width)(x))  # Dense_0: modules are named as made
            return nn.Dense(classes)(hidden)

    w1, b1, w2, b2 = _mlp_weights(in_dim, width, classes, seed)
    layers = {"Dense_0": {"kernel": w1, "bias": b1}, "Dense_1": {"kernel": w2, "bias": b2}}
    params = jax.tree_util.tree_map(jnp.asarray, {"params": layers})
    return MLP().apply, params


def flax_nnx_mlp(in_dim: int, width: int, classes: int, seed: int = 0):
    """A Flax NNX tanh MLP at ``_mlp_weights``: params are its state as a pure dict,
    merged back into the module to apply it."""
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.hidden = nnx.Linear(in_dim, width, rngs=rngs)
            self.out = nnx.Linear(width, classes, rngs=rngs)

        def __call__(self, x):
            return self.out(jnp.tanh(self.hidden(x)))

    graphdef, state = nnx.split(MLP(nnx.Rngs(0)), nnx.Param)
    w1, b1, w2, b2 = _mlp_weights(in_dim, width, classes, seed)
    params = {"hidden": {"kernel": w1, "bias": b1}, "out": {"kernel": w2, "bias": b2}}

    def apply(p, x):
        nnx.replace_by_pure_dict(state, p)
        return nnx.merge(graphdef, state)(x)

    return apply, jax.tree_util.tree_map(jnp.asarray, params)


def equinox_same_mlp(in_dim: int, width: int, classes: int, seed: int = 0):
    """An Equinox tanh MLP at ``_mlp_weights`` (its Linear weights are (out, in))."""
    import equinox as eqx

    model = eqx.nn.MLP(
        in_dim, classes, width, depth=1, activation=jnp.tanh, key=jax.random.PRNGKey(0)
    )
    w1, b1, w2, b2 = (jnp.asarray(a) for a in _mlp_weights(in_dim, width, classes, seed))
    model = eqx.tree_at(
        lambda m: (m.layers[0].weight, m.layers[0].bias, m.layers[1].weight, m.layers[1].bias),
        model,
        (w1.T, b1, w2.T, b2),
    )
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def apply(p, x):
        return jax.vmap(eqx.combine(p, static))(x)

    return apply, params


def linear(in_dim: int = 3, seed: int = 0):
    """y = x·w, one output: (apply, params) at the teacher's w."""
    w = np.array([1.0, -2.0, 0.5])[:in_dim, None]
    return (lambda p, x: x @ p["w"]), {"w": jnp.asarray(w)}


def regression(n: int = 500, seed: int = 0):
    """Inputs (n, 3) and y = x·(1, −2, 0.5) + Laplace noise, (n, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return x, x @ np.array([[1.0], [-2.0], [0.5]]) + rng.laplace(scale=0.3, size=(n, 1))


def log_cosh(outputs, targets):
    """A custom loss: log cosh of each row's residual, summed over outputs: (rows,)."""
    return jnp.sum(jnp.logaddexp(targets - outputs, outputs - targets) - jnp.log(2.0), axis=-1)


def scalar_loss(outputs, targets):
    """Not a per-row loss: one number for the whole batch."""
    return jnp.mean((targets - outputs) ** 2)
