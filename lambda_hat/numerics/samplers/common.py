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
    positions: np.ndarray | None = None  # (chains, draws, p) when positions were kept

    @property
    def total_fges(self) -> float:
        return float(np.sum(self.fges_per_chain))


def chain_keys(rng_key, num_chains: int):
    import jax

    return jax.random.split(rng_key, num_chains)


def summarize_stats(info: dict) -> dict:
    """JSON-able summary of per-draw statistics ``info`` (name -> (chains, draws) arrays).

    ``acceptance_rate``: mean over chains and kept draws; ``divergences``: count of kept
    draws whose transition diverged; ``mean_integration_steps``: mean leapfrog steps per
    transition. Keys appear only when the sampler records the underlying statistic.
    """
    out: dict = {}
    if "acceptance_rate" in info:
        out["acceptance_rate"] = float(np.mean(info["acceptance_rate"]))
        out["acceptance_rate_per_chain"] = [
            float(v) for v in np.mean(info["acceptance_rate"], axis=1)
        ]
    if "is_divergent" in info:
        out["divergences"] = int(np.sum(info["is_divergent"]))
    if "num_integration_steps" in info:
        out["mean_integration_steps"] = float(np.mean(info["num_integration_steps"]))
    return out
