"""The samplers' numerics: one module per sampler with ``sample(rng_key, posterior,
params, schedule, **starts)``, plus the chunked driver they share.

``schedule`` is a ``driver.Schedule``: chains, burn-in, draws, thinning, what to keep.
What a sampler is beyond its numerics (keys, defaults, checks, preparation) is its
definition in ``lambda_hat/samplers``.
"""

from __future__ import annotations

import importlib


def get(name: str):
    """The module implementing sampler ``name`` (``lambda_hat/numerics/samplers/<name>``)."""
    return importlib.import_module(f"{__name__}.{name}")
