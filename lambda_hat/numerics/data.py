"""Synthetic teacher-student regression data."""

from __future__ import annotations

import jax

from lambda_hat.numerics.models import Network, dln_teacher


def sample_inputs(rng_key, n: int, dim: int, kind: str, dtype) -> jax.Array:
    if kind == "gaussian":
        return jax.random.normal(rng_key, (n, dim), dtype)
    if kind == "uniform":
        return jax.random.uniform(rng_key, (n, dim), dtype, minval=-1.0, maxval=1.0)
    raise ValueError(f"unknown input distribution {kind!r}")


def make_teacher(net: Network, model_spec, rng_key, dtype) -> list:
    """Teacher parameters: a rank-r DLN, or a randomly initialised MLP of the same shape."""
    if model_spec.kind == "dln":
        return dln_teacher(net, model_spec.rank, rng_key, dtype)
    return net.init(rng_key, dtype)


def make_data(net: Network, teacher: list, data_spec, rng_key, dtype):
    """(x, y) with y = teacher(x) + noise_scale * N(0, I)."""
    k_x, k_noise = jax.random.split(rng_key)
    x = sample_inputs(k_x, data_spec.n_data, net.layer_sizes[0], data_spec.inputs, dtype)
    y = net.apply(teacher, x)
    y = y + data_spec.noise_scale * jax.random.normal(k_noise, y.shape, dtype)
    return x, y
