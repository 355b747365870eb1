"""Bayesian influence and susceptibilities from per-sample losses at a posterior's draws.

Inputs are losses recorded at the kept draws: ``(chains, draws, N)`` arrays, one value
per probe sample (or per position of a sequence, flattened into N). Every estimate
pools all chains' draws, centred on the pooled means, and comes with a Monte Carlo
standard error per entry from batch means: each chain's draws are cut into contiguous
batches, the estimate is made on each batch, and the MCSE is the spread of the batch
estimates over √(batches). Batches much longer than the chains' autocorrelation make it
honest; ``tests/analysis/test_influence.py`` checks its calibration on a posterior known
exactly.

Sign conventions (the outputs say which they hold, in ``meaning``):

* ``bif``: BIF(z_i, z_j) = −Cov_π(ℓ_i, ℓ_j), the Bayesian influence function between two
  samples; ``normalized=True`` gives Corr_π(ℓ_i, ℓ_j), the loss kernel's correlation in
  [−1, 1] (no minus sign, as the field reports it).
* ``susceptibility``: χ_z(φ) = −Cov_π(φ, ℓ_z − L), how the posterior mean of φ responds
  as the data shift toward the probe sample z (arXiv 2504.18274), with L the loss on the
  sampling data at the same draws.
* ``component_susceptibility``: the per-component form from a chain restricted to a
  component C and a full chain, χ̃^C_z = E_C[g·(L − ℓ_z)] − E_C[g]·E_full[L − ℓ_z] with
  g = L − L(w*) on the restricted chain: χ of φ_C, the loss change when only C moves,
  up to a factor that depends on C but not on z (compare components after
  standardizing each one's values over z).

numpy only; memory is (batches × N_a × N_b), never (draws × N_a × N_b).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

BATCHES_PER_CHAIN = 10


class Influence(NamedTuple):
    """An estimate, its Monte Carlo standard error (same shape) and what it means."""

    value: np.ndarray
    mcse: np.ndarray
    meaning: str


def _batches(a: np.ndarray, per_chain: int) -> np.ndarray:
    """(chains, draws, ...) -> (batches, batch length, ...): each chain's draws cut into
    ``per_chain`` contiguous batches of equal length (the last draws left over)."""
    chains, draws = a.shape[:2]
    per_chain = max(1, min(per_chain, draws // 2))
    length = draws // per_chain
    cut = a[:, : per_chain * length]
    return cut.reshape(chains * per_chain, length, *a.shape[2:])


def _check(name: str, a) -> np.ndarray:
    a = np.asarray(a, np.float64)
    if a.ndim != 3:
        raise ValueError(f"{name} must be (chains, draws, samples), got shape {a.shape}")
    if a.shape[1] < 4:
        raise ValueError(f"{name} has {a.shape[1]} draws per chain; at least 4 are needed")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN or inf: a chain went non-finite")
    return a


def covariance(a, b, per_chain: int = BATCHES_PER_CHAIN) -> Influence:
    """Cov_π(a_i, b_j) for every pair: a (chains, draws, N_a), b (chains, draws, N_b)."""
    a, b = _check("a", a), _check("b", b)
    if a.shape[:2] != b.shape[:2]:
        raise ValueError(f"a and b come from different draws: {a.shape[:2]} != {b.shape[:2]}")
    ca = _batches(a - a.mean(axis=(0, 1)), per_chain)
    cb = _batches(b - b.mean(axis=(0, 1)), per_chain)
    per_batch = np.einsum("kti,ktj->kij", ca, cb) / ca.shape[1]
    value = per_batch.mean(axis=0)
    mcse = per_batch.std(axis=0, ddof=1) / np.sqrt(per_batch.shape[0])
    return Influence(value, mcse, "Cov(a_i, b_j)")


def bif(a, b=None, normalized: bool = False, per_chain: int = BATCHES_PER_CHAIN) -> Influence:
    """The Bayesian influence between probe samples: −Cov_π(ℓ_i, ℓ_j) for ``a``'s samples
    against ``b``'s (``b`` None: ``a``'s own), or Corr_π(ℓ_i, ℓ_j) when ``normalized``."""
    b = a if b is None else b
    if not normalized:
        cov = covariance(a, b, per_chain)
        return Influence(-cov.value, cov.mcse, "BIF = -Cov(l_i, l_j)")
    a, b = _check("a", a), _check("b", b)
    za, zb = _standardized(a), _standardized(b)
    corr = covariance(za, zb, per_chain)
    return Influence(corr.value, corr.mcse, "Corr(l_i, l_j)")


def _standardized(a: np.ndarray) -> np.ndarray:
    """Each sample's losses in units of their posterior standard deviation (a constant
    loss, whose correlations are undefined, stays 0)."""
    sd = a.std(axis=(0, 1))
    return (a - a.mean(axis=(0, 1))) / np.where(sd > 0, sd, 1.0)


def susceptibility(phi, probe, base, per_chain: int = BATCHES_PER_CHAIN) -> Influence:
    """χ_z(φ) = −Cov_π(φ, ℓ_z − L) for every probe sample z: ``phi`` (chains, draws),
    the observable; ``probe`` (chains, draws, N), the probe samples' losses; ``base``
    (chains, draws), the loss on the sampling data at the same draws."""
    phi, base = np.asarray(phi, np.float64), np.asarray(base, np.float64)
    probe = _check("probe", probe)
    if phi.shape != probe.shape[:2] or base.shape != probe.shape[:2]:
        raise ValueError(
            f"phi {phi.shape} and base {base.shape} must be (chains, draws) of the probe's "
            f"draws {probe.shape[:2]}"
        )
    cov = covariance(phi[..., None], probe - base[..., None], per_chain)
    return Influence(-cov.value[0], cov.mcse[0], "chi_z = -Cov(phi, l_z - L)")


def component_susceptibility(g, shift, shift_full, per_chain: int = BATCHES_PER_CHAIN) -> Influence:
    """χ̃^C_z = E_C[g·(L − ℓ_z)] − E_C[g]·E_full[L − ℓ_z] for every probe entry z: ``g``
    (chains, draws), L − L(w*) on the chain restricted to C; ``shift`` (chains, draws,
    N), L − ℓ_z on that chain; ``shift_full`` (chains', draws', N), L − ℓ_z on a full
    chain. The MCSE adds the restricted chain's batch-means error (with the full
    chain's mean held) and the full chain's mean's, weighted by E_C[g]."""
    g = np.asarray(g, np.float64)
    shift, shift_full = _check("shift", shift), _check("shift_full", shift_full)
    if g.shape != shift.shape[:2] or shift.shape[2:] != shift_full.shape[2:]:
        raise ValueError(
            f"g {g.shape}, shift {shift.shape} and shift_full {shift_full.shape} must be "
            "(chains, draws) and (chains, draws, N) with the same N"
        )
    base = shift_full.mean(axis=(0, 1))
    gb, sb = _batches(g, per_chain), _batches(shift, per_chain)
    per_batch = np.einsum("kt,kti->ki", gb, sb) / gb.shape[1] - gb.mean(axis=1)[:, None] * base
    value = per_batch.mean(axis=0)
    own = per_batch.std(axis=0, ddof=1) / np.sqrt(per_batch.shape[0])
    fb = _batches(shift_full, per_chain).mean(axis=1)
    full = fb.std(axis=0, ddof=1) / np.sqrt(fb.shape[0])
    mcse = np.sqrt(own**2 + (g.mean() * full) ** 2)
    return Influence(value, mcse, "chi_C,z = E_C[g (L - l_z)] - E_C[g] E_full[L - l_z]")
