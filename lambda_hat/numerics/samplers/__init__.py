"""Sampler registry: name -> module with ``sample(rng_key, posterior, params, schedule)``.

``schedule`` is a ``driver.Schedule``: chains, burn-in, draws, thinning, what to keep.
"""

from __future__ import annotations

import importlib

MODULES = {
    "sgld": "lambda_hat.numerics.samplers.sgld",
    "hmc": "lambda_hat.numerics.samplers.hmc",
    "nuts": "lambda_hat.numerics.samplers.nuts",
    "mclmc": "lambda_hat.numerics.samplers.mclmc",
}


def get(name: str):
    """The module implementing sampler ``name``."""
    return importlib.import_module(MODULES[name])
