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
    observed: dict | None = None  # name -> (chains, draws, rows): observed datasets' losses
    cut: dict | None = None  # phases a time budget ended early (driver.TimeBudget)

    @property
    def total_fges(self) -> float:
        return float(np.sum(self.fges_per_chain))


def pace(seconds: float, steps: int) -> float | None:
    """Seconds per step of a pilot round over the steps this attempt ran (compilation
    included), or None when it ran none: a round resumed at its last step measured only
    its setting up, which a time budget must not read as the round's pace."""
    return seconds / steps if steps > 0 else None


def chain_keys(rng_key, num_chains: int):
    """One key per chain, spread over the local devices (``numerics/devices.py``), so
    what is vmapped over them (adaptation, tuning, starts) runs where its chains do."""
    import jax

    from lambda_hat.numerics.devices import spread

    return spread(jax.random.split(rng_key, num_chains), num_chains)


def summarize_stats(sums: dict, thin: int) -> dict:
    """JSON-able summary of per-step statistics over every sampling step.

    ``sums`` maps a statistic to (chains, draws) sums over the ``thin`` steps of each
    kept draw. ``acceptance_rate``: mean over chains and steps; ``divergences``: count of
    diverging transitions; ``mean_integration_steps``: mean leapfrog steps per
    transition. Keys appear only when the sampler records the underlying statistic.
    """
    out: dict = {}
    if "acceptance_rate" in sums:
        per_chain = np.mean(sums["acceptance_rate"], axis=1) / thin
        out["acceptance_rate"] = float(np.mean(per_chain))
        out["acceptance_rate_per_chain"] = [float(v) for v in per_chain]
    if "is_divergent" in sums:
        out["divergences"] = int(np.sum(sums["is_divergent"]))
        out["divergences_per_chain"] = [int(v) for v in np.sum(sums["is_divergent"], axis=1)]
    if "num_integration_steps" in sums:
        out["mean_integration_steps"] = float(np.mean(sums["num_integration_steps"]) / thin)
    return out


def recording_of_logdensity_samplers(posterior) -> str:
    """How HMC, NUTS and MCLMC record each draw's loss (driver ``record``): from the
    chain's own full-data log density, free, unless nβ = 0 (the prior alone: it holds
    no loss, so each kept draw's L_n is computed)."""
    return "last" if posterior.n_beta else "full"
