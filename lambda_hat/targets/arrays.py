"""Checks of user-supplied (X, Y) arrays (files, factories), before any work is done."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lambda_hat.errors import ConfigError


class ArraysInfo(NamedTuple):
    """What a target needs to know of its arrays without building it."""

    n_data: int
    in_dim: int  # features per row (the product of X's trailing dimensions)
    out_dim: int  # Y's width (real) or the number of classes seen, max label + 1
    labels: str  # "real" or "classes"


def check_xy(x, y, where: str, what: str = "X/Y") -> ArraysInfo:
    """Validate one (X, Y) pair: same rows, finite numbers, integer labels >= 0 (one per
    row), or one per position of a sequence, (n, T), where a negative label marks a
    position to ignore, or real Y."""
    x, y = np.asarray(x), np.asarray(y)
    xname, yname = what.split("/")
    if x.ndim < 2 or x.shape[0] < 2:
        raise ConfigError(
            f"{where}: {xname} must have shape (n, features...) with n >= 2, got {x.shape}"
        )
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise ConfigError(f"{where}: {xname} must hold real numbers, got dtype {x.dtype}")
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise ConfigError(
            f"{where}: {yname} must have shape (n,) or (n, k) with the n = {x.shape[0]} rows "
            f"of {xname}, got {y.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ConfigError(f"{where}: {xname} holds NaN or inf values; clean the data first")
    in_dim = int(np.prod(x.shape[1:]))
    if np.issubdtype(y.dtype, np.integer) or y.dtype == bool:
        if y.size == 0:
            raise ConfigError(f"{where}: labels {yname} are empty, shape {y.shape}")
        if y.min() < 0 and y.ndim == 1:
            raise ConfigError(
                f"{where}: labels {yname} must be >= 0, found {int(y.min())} (a negative "
                "label marks a position to ignore, for labels per position (n, T) only; "
                "leave the row out instead)"
            )
        if y.max() < 0:
            raise ConfigError(f"{where}: every label of {yname} is negative (ignored)")
        return ArraysInfo(x.shape[0], in_dim, int(y.max()) + 1, "classes")
    if not np.issubdtype(y.dtype, np.floating):
        raise ConfigError(f"{where}: {yname} must hold numbers, got dtype {y.dtype}")
    if not np.all(np.isfinite(y)):
        raise ConfigError(f"{where}: {yname} holds NaN or inf values; clean the data first")
    return ArraysInfo(x.shape[0], in_dim, 1 if y.ndim == 1 else y.shape[1], "real")


def cast(x, y, dtype):
    """Real X and Y in the target's float dtype; integer X (token IDs, indices) and
    labels as int32, so that a model may index with them (``emb[tokens]``)."""
    dtype = np.dtype(dtype)
    x, y = np.asarray(x), np.asarray(y)
    x = x.astype(np.int32) if _integer(x) else x.astype(dtype)
    if _integer(y):
        return x, y.astype(np.int32)
    if y.ndim == 1:  # a (n,) Y of real targets is one output column
        y = y[:, None]
    return x, y.astype(dtype)


def _integer(a: np.ndarray) -> bool:
    return np.issubdtype(a.dtype, np.integer) or a.dtype == bool
