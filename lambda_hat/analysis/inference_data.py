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

    The file is what ArviZ's ``InferenceData.to_netcdf`` writes (NetCDF-4 groups
    ``posterior`` and ``sample_stats`` over dims ``chain, draw`` with coordinate
    variables, booleans as int8 flagged ``dtype = "bool"`` as xarray does), written with
    h5netcdf directly: importing ArviZ to write it cost a worker ~2 s. ``positions``
    (chains, draws, p) become the posterior variable ``w`` over the dimension ``param``;
    only runs asked for with ``trace_params = true`` carry them.

    The file is built in memory and written with one plain write: HDF5 crashes the
    process (a segfault) when the disk fills up under it, where a plain write raises
    ``OSError(ENOSPC)``, which the store reports and cleans up.
    """
    import datetime
    import io

    import h5netcdf

    posterior = {"llc": llc, "L": loss}
    if positions is not None:
        posterior["w"] = np.asarray(positions)
        attrs = {**attrs, "w_layout": W_LAYOUT}
    groups = {"posterior": posterior, "sample_stats": dict(sample_stats)}
    created = datetime.datetime.now(datetime.UTC).isoformat()
    image = io.BytesIO()
    with h5netcdf.File(image, "w") as fh:
        for key, value in attrs.items():
            fh.attrs[key] = value
        for group_name, variables in groups.items():
            if not variables:
                continue
            group = fh.create_group(group_name)
            group.attrs["created_at"] = created
            group.attrs["creation_library"] = "lambda-hat"
            arrays = {name: np.asarray(v) for name, v in variables.items()}
            chains, draws = next(iter(arrays.values())).shape[:2]
            sizes = {"chain": chains, "draw": draws}
            if "w" in arrays:
                sizes["param"] = arrays["w"].shape[2]
            group.dimensions = sizes
            for dim, size in sizes.items():
                group.create_variable(dim, (dim,), data=np.arange(size, dtype=np.int64))
            for name, array in arrays.items():
                dims = ("chain", "draw", "param") if name == "w" else ("chain", "draw")
                _write_variable(group, name, dims, array)
    Path(path).write_bytes(image.getbuffer())


def _write_variable(group, name: str, dims: tuple, array: np.ndarray) -> None:
    if array.dtype == np.bool_:
        var = group.create_variable(name, dims, data=array.astype(np.int8))
        var.attrs["dtype"] = "bool"
    elif np.issubdtype(array.dtype, np.floating):
        group.create_variable(name, dims, data=array, fillvalue=np.nan)
    else:
        group.create_variable(name, dims, data=array)


def read_trace(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az

        return az.from_netcdf(str(path))
