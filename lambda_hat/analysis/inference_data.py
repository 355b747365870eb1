"""Build and write the ArviZ ``trace.nc`` of a run."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np


def write_trace(path: Path, llc: np.ndarray, loss: np.ndarray, sample_stats: dict, attrs: dict):
    """Write posterior (llc, L) and sample_stats groups to a NetCDF file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az

        idata = az.from_dict(
            posterior={"llc": llc, "L": loss},
            sample_stats={k: np.asarray(v) for k, v in sample_stats.items()} or None,
            attrs=attrs,
        )
        idata.to_netcdf(str(path))


def read_trace(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az

        return az.from_netcdf(str(path))
