"""Bulk ESS, rank-normalized split R-hat and the MCSE of the mean, in numpy alone.

The same estimators as ArviZ 0.x (Vehtari et al. 2021, arXiv:1903.08008): chains split
in halves, ranks back-transformed to normal scores (Blom's c = 3/8), autocovariances by
FFT, Geyer's initial positive then monotone sequence. Written here because importing
ArviZ (and with it SciPy, xarray and pandas) costs a worker ~2 s per process, more than
a small run's sampling; ``tests/analysis/test_mcmc_stats.py`` checks every value against
ArviZ itself. Arrays are (chains, draws); a result that cannot be computed is NaN.
"""

from __future__ import annotations

import math

import numpy as np

MIN_DRAWS = 4


def _invalid(ary: np.ndarray, min_chains: int) -> bool:
    return bool(np.isnan(ary).any()) or ary.shape[1] < MIN_DRAWS or ary.shape[0] < min_chains


def split_chains(ary: np.ndarray) -> np.ndarray:
    """(2·chains, draws // 2): each chain's first and last half as separate chains."""
    half = ary.shape[1] // 2
    return np.concatenate([ary[:, :half], ary[:, ary.shape[1] - half :]], axis=0)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of the flattened ``values``, ties given their average rank."""
    flat = values.ravel()
    order = np.argsort(flat, kind="mergesort")
    sorted_values = flat[order]
    new_group = np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]])
    group = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    ends = np.concatenate([starts[1:], [flat.size]])
    average = (starts + ends + 1) / 2.0  # mean of 1-based positions start+1 .. end
    ranks = np.empty(flat.size)
    ranks[order] = average[group]
    return ranks.reshape(values.shape)


# Acklam's rational approximation of the normal quantile (relative error < 1.2e-9),
# refined by one Halley step against erfc: accurate to double precision.
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02)
_A += (1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02)
_B += (6.680131188771972e01, -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00)
_C += (-2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
_LOW = 0.02425
_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _poly(coefs, x):
    out = np.zeros_like(x)
    for c in coefs:
        out = out * x + c
    return out


def normal_quantile(p: np.ndarray) -> np.ndarray:
    """Φ⁻¹(p) for p in (0, 1), computed on the lower half (1 − p is exact for p ≥ ½)."""
    p = np.asarray(p, np.float64)
    upper = p > 0.5
    q = np.where(upper, 1.0 - p, p)
    x = np.empty_like(q)
    tail = q < _LOW
    t = np.sqrt(-2 * np.log(q[tail]))
    x[tail] = _poly(_C, t) / (_poly(_D, t) * t + 1)
    c = q[~tail] - 0.5
    r = c * c
    x[~tail] = c * _poly(_A, r) / (_poly(_B, r) * r + 1)
    error = 0.5 * _ERFC(-x / math.sqrt(2)).astype(np.float64) - q  # x <= 0: no cancellation
    u = error * math.sqrt(2 * math.pi) * np.exp(x * x / 2)
    x = x - u / (1 + x * u / 2)
    return np.where(upper, -x, x)


def z_scale(ary: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks."""
    ranks = average_ranks(ary)
    return normal_quantile((ranks - 0.375) / (ary.size - 0.75 + 1))


def _autocov(ary: np.ndarray) -> np.ndarray:
    """Autocovariance of each chain at every lag (biased, divided by draws)."""
    n = ary.shape[1]
    centred = ary - ary.mean(axis=1, keepdims=True)
    m = 1 << (2 * n - 1).bit_length()  # zero padding >= 2n - 1: no circular wrap
    spectrum = np.fft.rfft(centred, n=m, axis=1)
    return np.fft.irfft(spectrum * np.conjugate(spectrum), n=m, axis=1)[:, :n] / n


def ess(ary: np.ndarray) -> float:
    """Effective sample size of (chains, draws) by Geyer's initial monotone sequence."""
    ary = np.asarray(ary, np.float64)
    if np.isnan(ary).any():
        return math.nan
    if np.max(ary) - np.min(ary) < np.finfo(float).resolution:
        return float(ary.size)
    n_chain, n_draw = ary.shape
    acov = _autocov(ary)
    mean_var = np.mean(acov[:, 0]) * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus += np.var(ary.mean(axis=1), ddof=1)
    rho = np.zeros(n_draw)
    rho_even, rho_odd = 1.0, 1.0 - (mean_var - np.mean(acov[:, 1])) / var_plus
    rho[0], rho[1] = rho_even, rho_odd
    mean_acov = acov.mean(axis=0)
    t = 1
    while t < n_draw - 3 and rho_even + rho_odd > 0.0:  # initial positive sequence
        rho_even = 1.0 - (mean_var - mean_acov[t + 1]) / var_plus
        rho_odd = 1.0 - (mean_var - mean_acov[t + 2]) / var_plus
        if rho_even + rho_odd >= 0:
            rho[t + 1], rho[t + 2] = rho_even, rho_odd
        t += 2
    max_t = t - 2
    if rho_even > 0:
        rho[max_t + 1] = rho_even
    t = 1
    while t <= max_t - 2:  # initial monotone sequence
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2.0
        t += 2
    total = n_chain * n_draw
    tau = -1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1 : max_t + 2])
    tau = max(tau, 1 / np.log10(total))
    return math.nan if np.isnan(rho).any() else float(total / tau)


def ess_bulk(ary: np.ndarray) -> float:
    """Bulk ESS: ESS of the normal scores of the split chains."""
    ary = np.asarray(ary, np.float64)
    if _invalid(ary, 1):
        return math.nan
    return ess(z_scale(split_chains(ary)))


def _rhat(ary: np.ndarray) -> float:
    n = ary.shape[1]
    between = n * np.var(ary.mean(axis=1), ddof=1)
    within = np.mean(np.var(ary, axis=1, ddof=1))
    return float(np.sqrt((between / within + n - 1) / n))


def rhat(ary: np.ndarray) -> float:
    """Rank-normalized split R-hat: the larger of the bulk and the folded (tail) value."""
    ary = np.asarray(ary, np.float64)
    if _invalid(ary, 2):
        return math.nan
    split = split_chains(ary)
    bulk = _rhat(z_scale(split))
    tail = _rhat(z_scale(np.abs(split - np.median(split))))
    return max(bulk, tail)


def mcse_mean(ary: np.ndarray) -> float:
    """Monte Carlo standard error of the mean: sd / √ESS, with the ESS of the mean."""
    ary = np.asarray(ary, np.float64)
    if _invalid(ary, 1):
        return math.nan
    return float(np.std(ary, ddof=1) / np.sqrt(ess(split_chains(ary))))
