"""Byte-reproducible ``.npz`` files (fixed zip timestamps), read without pickle."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from lambda_hat.errors import broken_artifact
from lambda_hat.fileio import npz_opened as opened

_EPOCH = (1980, 1, 1, 0, 0, 0)


def save(path: Path, **arrays) -> None:
    """Like ``np.savez`` but deterministic: same arrays -> identical bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def load(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an npz file; a StoreError naming the file if it is missing or broken."""
    try:
        with opened(path) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise broken_artifact(path) from None
    except Exception as exc:  # noqa: BLE001 - zip, pickle and format errors all mean broken
        raise broken_artifact(path, exc) from exc
