"""What every sampler returns, and the helpers they share."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class SampleResult(NamedTuple):
    """Host-side result of a sampler run (numpy arrays and plain numbers)."""

    loss: np.ndarray  # (chains, draws) L_n at kept draws
    sample_stats: dict  # name -> (chains, draws) per-draw statistics for trace.nc
    fges_per_chain: np.ndarray  # (chains,) float64, warm-up/tuning included
    warmup_fges_per_chain: np.ndarray  # (chains,) float64, the part spent before sampling
    loss_evals_per_chain: int  # full-data loss evaluations used only for recording
    stats: dict  # JSON-able sampler statistics (acceptance, step size, ...)
    first_nonfinite_step: int | None  # 1-based step index, None when all finite

    @property
    def total_fges(self) -> float:
        return float(np.sum(self.fges_per_chain))


def chain_keys(rng_key, num_chains: int):
    import jax

    return jax.random.split(rng_key, num_chains)
