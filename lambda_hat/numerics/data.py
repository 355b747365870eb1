"""Random inputs for the synthetic data kinds (lambda_hat/targets/teacher.py and others)."""

from __future__ import annotations

import jax


def sample_inputs(rng_key, n: int, dim: int, kind: str, dtype) -> jax.Array:
    if kind == "gaussian":
        return jax.random.normal(rng_key, (n, dim), dtype)
    if kind == "uniform":
        return jax.random.uniform(rng_key, (n, dim), dtype, minval=-1.0, maxval=1.0)
    raise ValueError(f"unknown input distribution {kind!r}")
