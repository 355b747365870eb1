"""Summaries of an ``llc`` trace: mean, spread, ESS, R-hat, MCSE and convergence checks."""

from __future__ import annotations

import math

import numpy as np

from lambda_hat.analysis import mcmc_stats

RHAT_WARN = 1.05
ESS_WARN = 100.0
DRIFT_Z_WARN = 4.0


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def convergence(llc: np.ndarray) -> dict:
    """ESS (bulk), rank-normalized split R-hat and MCSE of the mean (ArviZ's estimators)."""
    with np.errstate(all="ignore"):
        ess = mcmc_stats.ess_bulk(llc)
        rhat = mcmc_stats.rhat(llc)
        mcse = mcmc_stats.mcse_mean(llc)
    return {"ess": _finite(ess), "rhat": _finite(rhat), "llc_mcse": _finite(mcse)}


def drift(llc: np.ndarray) -> dict:
    """Stationarity check: first vs last quarter of the kept draws, in MCSE units.

    Returns the two means and z = (last − first) / sqrt(mcse_first² + mcse_last²).
    A large |z| means the estimate is still moving (burn-in too short or chains drifting).
    """
    draws = llc.shape[1]
    q = max(draws // 4, 2)
    if draws < 8:
        return {"first_quarter_mean": None, "last_quarter_mean": None, "drift_z": None}
    first, last = llc[:, :q], llc[:, -q:]
    a, b = convergence(first), convergence(last)
    denom = math.hypot(a["llc_mcse"] or 0.0, b["llc_mcse"] or 0.0)
    z = (float(last.mean()) - float(first.mean())) / denom if denom > 0 else None
    return {
        "first_quarter_mean": float(first.mean()),
        "last_quarter_mean": float(last.mean()),
        "drift_z": _finite(z) if z is not None else None,
    }


def summarize(llc: np.ndarray) -> dict:
    """The LLC block of analysis.json for a (chains, draws) trace."""
    per_chain = llc.mean(axis=1)
    out = {
        "llc_mean": float(llc.mean()),
        "llc_std": float(per_chain.std(ddof=1)) if llc.shape[0] > 1 else 0.0,
        "llc_per_chain": [float(v) for v in per_chain],
        "llc_draw_std": float(llc.std()),
    }
    out.update(convergence(llc))
    out.update(drift(llc))
    return out


def warnings_for(summary: dict, stats: dict) -> list[str]:
    """Plain-words warnings about an estimate that may not be trustworthy."""
    out = []
    rhat, ess, z = summary.get("rhat"), summary.get("ess"), summary.get("drift_z")
    if rhat is not None and rhat > RHAT_WARN:
        out.append(
            f"R-hat is {rhat:.3f} (> {RHAT_WARN}): chains disagree; the estimate looks "
            "unconverged. Run more draws or a longer burn-in."
        )
    if ess is not None and ess < ESS_WARN:
        out.append(
            f"ESS is {ess:.0f} (< {ESS_WARN:.0f}): few effective draws; the error bar is "
            "unreliable. Run more draws or more chains."
        )
    if z is not None and abs(z) > DRIFT_Z_WARN:
        out.append(
            f"The llc trace drifts: last-quarter mean differs from the first quarter by "
            f"{z:+.1f} MCSE. Increase burn-in, or lower the step size if it keeps rising."
        )
    if summary.get("llc_mean", 0.0) < 0:
        out.append(
            "The estimate is negative: w* is not a local minimum of L_n (train longer) "
            "or the sampler has not left w*'s neighbourhood."
        )
    div = stats.get("divergences")
    if div:
        out.append(f"{div} divergent transitions: the step size is too large for this posterior.")
    acc = stats.get("acceptance_rate")
    if acc is not None and acc < 0.5:
        out.append(f"Mean acceptance rate {acc:.2f} is low: the step size may be too large.")
    return out
