"""Build and write the ArviZ ``trace.nc`` of a run."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

W_LAYOUT = "flat parameter vector, in the order of w_star in the target's params.npz"


def write_trace(
    path: Path,
    llc: np.ndarray,
    loss: np.ndarray,
    sample_stats: dict,
    attrs: dict,
    positions: np.ndarray | None = None,
):
    """Write posterior (llc, L, and w when ``positions`` are given) and sample_stats groups.

    ``positions`` (chains, draws, p) become the posterior variable ``w`` over the dimension
    ``param``; only runs asked for with ``trace_params = true`` carry them.
    """
    posterior = {"llc": llc, "L": loss}
    dims = None
    if positions is not None:
        posterior["w"] = np.asarray(positions)
        dims = {"w": ["param"]}
        attrs = {**attrs, "w_layout": W_LAYOUT}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az

        idata = az.from_dict(
            posterior=posterior,
            sample_stats={k: np.asarray(v) for k, v in sample_stats.items()} or None,
            dims=dims,
            attrs=attrs,
        )
        idata.to_netcdf(str(path))


def read_trace(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az

        return az.from_netcdf(str(path))
