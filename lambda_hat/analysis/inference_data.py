"""Build and write the ArviZ ``trace.nc`` of a run."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

W_LAYOUT = "flat parameter vector, in the order of w_star in the target's params.npz"
AT_W_STAR = "observed_at_w_star"  # the group of the observed datasets' losses at w*


def write_trace(
    path: Path,
    llc: np.ndarray,
    loss: np.ndarray,
    sample_stats: dict,
    attrs: dict,
    positions: np.ndarray | None = None,
    observed: dict | None = None,
    observed_at_w_star: dict | None = None,
):
    """Write posterior (llc, L, and w when ``positions`` are given) and sample_stats groups,
    and an ``observed`` group when the run observed datasets.

    The file is what ArviZ's ``InferenceData.to_netcdf`` writes (NetCDF-4 groups
    ``posterior`` and ``sample_stats`` over dims ``chain, draw`` with coordinate
    variables, booleans as int8 flagged ``dtype = "bool"`` as xarray does), written with
    h5netcdf directly: importing ArviZ to write it cost a worker ~2 s. ``positions``
    (chains, draws, p) become the posterior variable ``w`` over the dimension ``param``;
    only runs asked for with ``trace_params = true`` carry them. ``observed``: {name:
    (chains, draws, rows[, T]) losses}, each a variable ``name`` of the ``observed``
    group over ``chain, draw, name_row`` (and ``name_position`` for sequences);
    ``observed_at_w_star``: {name: (rows[, T]) losses at w*}, the ``observed_at_w_star``
    group over the same row (and position) dimensions.

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
    groups = {
        "posterior": posterior,
        "sample_stats": dict(sample_stats),
        "observed": dict(observed or {}),
        AT_W_STAR: dict(observed_at_w_star or {}),
    }
    created = datetime.datetime.now(datetime.UTC).isoformat()
    image = io.BytesIO()
    with h5netcdf.File(image, "w") as fh:
        for key, value in attrs.items():
            fh.attrs[key] = value
        for group_name, variables in groups.items():
            if variables:
                _write_group(fh.create_group(group_name), group_name, variables, created)
    Path(path).write_bytes(image.getbuffer())


def _write_group(group, group_name: str, variables: dict, created: str) -> None:
    """One group's variables, with a coordinate variable per dimension."""
    group.attrs["created_at"] = created
    group.attrs["creation_library"] = "lambda-hat"
    arrays = {name: np.asarray(v) for name, v in variables.items()}
    dims = {name: _dims(group_name, name, a) for name, a in arrays.items()}
    sizes = {d: n for name, a in arrays.items() for d, n in zip(dims[name], a.shape, strict=True)}
    group.dimensions = sizes
    for dim, size in sizes.items():
        group.create_variable(dim, (dim,), data=np.arange(size, dtype=np.int64))
    for name, array in arrays.items():
        _write_variable(group, name, dims[name], array)


def _dims(group: str, name: str, array: np.ndarray) -> tuple:
    """A variable's dimensions: ``chain, draw`` and, for ``w``, ``param``; an observed
    dataset's ``name_row`` (and ``name_position``)."""
    if group == "observed":
        return ("chain", "draw", f"{name}_row", f"{name}_position")[: array.ndim]
    if group == AT_W_STAR:
        return (f"{name}_row", f"{name}_position")[: array.ndim]
    return ("chain", "draw", "param") if name == "w" else ("chain", "draw")


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


def read_arrays(path: Path) -> dict:
    """{group: {variable: numpy array}} of a ``trace.nc`` (no ArviZ, no coordinates):
    what ``write_trace`` wrote, booleans as booleans again."""
    import h5netcdf

    out = {}
    with h5netcdf.File(path, "r") as fh:
        for name, group in fh.groups.items():
            out[name] = {
                var: _read_variable(group.variables[var])
                for var in group.variables
                if var not in group.dimensions
            }
    return out


def _read_variable(var) -> np.ndarray:
    array = np.asarray(var[...])
    return array.astype(bool) if var.attrs.get("dtype") == "bool" else array
