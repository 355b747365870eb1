"""``kind = "file"``: (X, Y) from an ``.npz`` file, hashed by content.

``path`` is relative to the experiments file. The file must hold ``X`` and ``Y`` (and
may hold ``X_test``/``Y_test``, a held-out split). Its sha256 is hashed into the target
ID, its path is not: moving the file keeps the ID, changing a byte makes a new one.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from lambda_hat.errors import ConfigError
from lambda_hat.fields import build as build_spec
from lambda_hat.fields import check
from lambda_hat.fileio import npz_opened as opened
from lambda_hat.targets.arrays import cast, check_xy
from lambda_hat.targets.factories import check_unchanged, reject_computed, sha256_file
from lambda_hat.targets.kind import DataKind, Dataset, ParseContext


@dataclass(frozen=True)
class FileDataSpec:
    """An ``.npz`` file with arrays ``X`` and ``Y``."""

    path: str = field(metadata=check(hashed=False, help="the .npz file (relative: to this file)"))
    kind: str = field(default="file", metadata=check(choices=("file",)))
    # read off the file, never written by the user
    sha256: str = field(default="", metadata=check(help="sha256 of the file's bytes"))
    n_data: int = field(default=0, metadata=check(hashed=False))
    in_dim: int = field(default=0, metadata=check(hashed=False))
    out_dim: int = field(default=0, metadata=check(hashed=False))
    labels: str = field(default="real", metadata=check(hashed=False))


DERIVED = ("sha256", "n_data", "in_dim", "out_dim", "labels")


def read(path: Path, where: str) -> dict:
    """The arrays of an npz file, or a ConfigError naming what is wrong with it."""
    if not path.is_file():
        raise ConfigError(f"{where}: data file {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise ConfigError(f"{where}: {path} is not an .npz file (save it with numpy.savez)")
    try:
        with opened(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{where}: cannot read {path} as .npz ({exc})") from None
    missing = [k for k in ("X", "Y") if k not in arrays]
    if missing:
        raise ConfigError(
            f"{where}: {path} lacks array {missing[0]!r} (it holds {sorted(arrays) or 'nothing'}); "
            "save it with numpy.savez(path, X=..., Y=...)"
        )
    return arrays


def check_arrays(arrays: dict, where: str):
    info = check_xy(arrays["X"], arrays["Y"], where)
    if ("X_test" in arrays) != ("Y_test" in arrays):
        raise ConfigError(f"{where}: a held-out split needs both X_test and Y_test")
    if "X_test" in arrays:
        test = check_xy(arrays["X_test"], arrays["Y_test"], where, "X_test/Y_test")
        if test.labels != info.labels or test.in_dim != info.in_dim:
            raise ConfigError(f"{where}: X_test/Y_test do not match X/Y in features or label type")
    return info


def parse(table: dict, where: str, ctx: ParseContext) -> FileDataSpec:
    reject_computed(table, where, DERIVED)
    spec = build_spec(FileDataSpec, table, where)
    path = (Path(ctx.base_dir) / spec.path).resolve()
    info = check_arrays(read(path, f"{where}.path"), f"{where}.path")
    return FileDataSpec(path=str(path), sha256=sha256_file(path), **info._asdict())


def build(spec: FileDataSpec, model, teacher, rng_key, dtype) -> Dataset:
    arrays = read(check_unchanged(spec.path, spec.sha256, "data"), "data")
    test = ()
    if "X_test" in arrays:
        test = cast(arrays["X_test"], arrays["Y_test"], dtype)
    return Dataset(*cast(arrays["X"], arrays["Y"], dtype), *test)


def describe(cfg: dict) -> str:
    return f"file {Path(cfg.get('path', '?')).name} n={cfg.get('n_data')}"


KIND = DataKind(
    name="file",
    spec=FileDataSpec,
    help="arrays X and Y from an .npz file: path",
    parse=parse,
    build=build,
    describe=describe,
    labels=lambda spec: spec.labels,
    shape=lambda spec: (spec.in_dim, spec.out_dim),
    random=False,
)
