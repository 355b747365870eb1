"""A β ladder: λ and m from λ̂ at several nβ.

At finite nβ a singular model's λ̂ estimates nβ·E_π[K], the derivative of the free
energy nβ-wise, which approaches λ slowly: F(nβ) ≈ λ log nβ − (m − 1) log log nβ gives

    λ̂(nβ) ≈ λ − (m − 1) / log nβ,

with m the multiplicity. The fit is weighted least squares in x = 1/log nβ (weights
1/MCSE²): the intercept is λ, the slope −(m − 1). Uncertainties are the fit's standard
errors, scaled up by √(χ²/dof) when the residuals exceed the MCSEs (the model's own
error then dominates). It needs three temperatures or more. On exact quadrature values
of w1²w2² (λ = 1/2, m = 2) at nβ = 100, 1000, 10000 it gives λ = 0.47, where the single
nβ = 10000 value is 0.41 (docs/truth.md): it helps where λ̂ is far from λ, and cannot
beat the next-order terms the model leaves out.
"""

from __future__ import annotations

import math

import numpy as np

MIN_TEMPERATURES = 3


def fit(n_beta, llc, mcse) -> dict:
    """λ, m with standard errors, and the residuals, from λ̂ ± MCSE at each nβ."""
    n_beta, llc, mcse = (np.asarray(a, np.float64) for a in (n_beta, llc, mcse))
    if len(n_beta) < MIN_TEMPERATURES or len(set(n_beta.tolist())) < MIN_TEMPERATURES:
        raise ValueError(f"a β ladder needs at least {MIN_TEMPERATURES} distinct nβ")
    if np.any(n_beta <= 1):
        raise ValueError("every nβ must exceed 1 (log nβ > 0)")
    x = 1.0 / np.log(n_beta)
    sigma = np.where(mcse > 0, mcse, np.max(mcse[mcse > 0], initial=1.0))
    design = np.stack([np.ones_like(x), -x], axis=1) / sigma[:, None]
    coef, *_ = np.linalg.lstsq(design, llc / sigma, rcond=None)
    lam, c = (float(v) for v in coef)
    predicted = lam - c * x
    residuals = llc - predicted
    dof = len(x) - 2
    chi2 = float(np.sum((residuals / sigma) ** 2))
    cov = np.linalg.inv(design.T @ design)
    scale = math.sqrt(max(1.0, chi2 / dof)) if dof > 0 else 1.0
    se = np.sqrt(np.diag(cov)) * scale
    return {
        "llc": lam,
        "llc_se": float(se[0]),
        "multiplicity": 1.0 + c,
        "multiplicity_se": float(se[1]),
        "n_beta": n_beta.tolist(),
        "llc_hat": llc.tolist(),
        "residuals": residuals.tolist(),
        "chi2_per_dof": chi2 / dof if dof > 0 else None,
    }
