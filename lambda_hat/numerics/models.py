"""Networks as pure functions of a flat parameter vector.

Parameters are a list of ``(W, b)`` layers (``b`` is ``None``-free: DLNs use zero-size
biases), flattened with ``ravel_pytree`` so samplers see one vector ``w`` of size p.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

ACTIVATIONS: dict[str, Callable] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "identity": lambda h: h,
}


class Network(NamedTuple):
    """A model architecture: ``apply(params, x)`` and ``init(rng_key)``."""

    layer_sizes: tuple[int, ...]
    activation: str
    bias: bool

    def init(self, rng_key, dtype, scale: float = 1.0) -> list:
        """Gaussian init with variance scale/fan_in; biases start at zero."""
        params = []
        keys = jax.random.split(rng_key, len(self.layer_sizes) - 1)
        sizes = zip(keys, self.layer_sizes[:-1], self.layer_sizes[1:], strict=True)
        for key, fan_in, fan_out in sizes:
            w = jax.random.normal(key, (fan_out, fan_in), dtype) * jnp.sqrt(scale / fan_in)
            b = jnp.zeros((fan_out if self.bias else 0,), dtype)
            params.append((w, b))
        return params

    def apply(self, params: list, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w.T
            if self.bias:
                h = h + b
            if i < len(params) - 1:
                h = act(h)
        return h


def network(model_spec) -> Network:
    """The Network described by a ``ModelSpec``."""
    return Network(tuple(model_spec.layer_sizes), model_spec.activation, model_spec.bias)


def dln_teacher(net: Network, rank: int, rng_key, dtype) -> list:
    """DLN teacher whose product matrix has rank ``rank`` (first layer factored A @ B)."""
    k_layers, k_a, k_b = jax.random.split(rng_key, 3)
    params = net.init(k_layers, dtype)
    h_in, h_1 = net.layer_sizes[0], net.layer_sizes[1]
    a = jax.random.normal(k_a, (h_1, rank), dtype) / jnp.sqrt(max(rank, 1))
    b = jax.random.normal(k_b, (rank, h_in), dtype) / jnp.sqrt(h_in)
    params[0] = (a @ b, params[0][1])
    return params
