"""The LLC estimator from recorded losses.

    λ̂ = nβ · (E_π[L_n(w)] − L_n(w*))

Per-draw values nβ (L_n(w_t) − L0) form the ``llc`` trace used for ESS, R-hat and the
running estimate; λ̂ is their mean over all chains and kept draws.
"""

from __future__ import annotations

import numpy as np


def llc_trace(loss: np.ndarray, L0: float, n_beta: float) -> np.ndarray:
    """(chains, draws) per-draw LLC values."""
    return n_beta * (np.asarray(loss, np.float64) - L0)
