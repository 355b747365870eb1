"""``kind = "python"`` under ``[data.*]``: (X, Y) from the user's own code.

``factory(**args)`` returns ``(X, Y)`` or ``(X, Y, X_test, Y_test)`` as arrays. It is
called when the experiments file is read (the number of rows fixes the run defaults,
e.g. β = 1/log n), so it should be quick and deterministic. Hashed into the target ID:
the factory name, ``args``, the module file's bytes and the arrays it returned
(``arrays_sha256``), so data it loads from a file that changed make a new target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lambda_hat.errors import ConfigError
from lambda_hat.fields import build as build_spec
from lambda_hat.fields import check
from lambda_hat.targets import factories
from lambda_hat.targets.arrays import cast, check_xy
from lambda_hat.targets.kind import DataKind, Dataset, ParseContext


@dataclass(frozen=True)
class PythonDataSpec:
    """Data from ``factory(**args) -> (X, Y[, X_test, Y_test])``."""

    factory: str = field(metadata=check(help="'module:function' returning (X, Y)"))
    args: dict = field(default_factory=dict, metadata=check(help="keyword arguments"))
    kind: str = field(default="python", metadata=check(choices=("python",)))
    # filled in when the file is read and the factory called, never written by the user
    source_sha256: str = field(default="", metadata=check(help="sha256 of the module file"))
    source_path: str = field(default="", metadata=check(hashed=False))
    arrays_sha256: str = field(default="", metadata=check(help="sha256 of the arrays returned"))
    n_data: int = field(default=0, metadata=check(hashed=False))
    in_dim: int = field(default=0, metadata=check(hashed=False))
    out_dim: int = field(default=0, metadata=check(hashed=False))
    labels: str = field(default="real", metadata=check(hashed=False))


DERIVED = ("source_sha256", "source_path", "arrays_sha256", "n_data", "in_dim", "out_dim", "labels")


def _arrays(spec: PythonDataSpec, where: str) -> tuple:
    fn = factories.load_factory(spec.factory, Path(spec.source_path), f"{where}.factory")
    out = factories.call(fn, spec.args, spec.factory, f"{where}.factory")
    if not (isinstance(out, tuple | list) and len(out) in (2, 4)):
        raise factories.FactoryError(
            f"{where}.factory: {spec.factory} must return (X, Y) or (X, Y, X_test, Y_test), "
            f"got {type(out).__name__}"
        )
    return tuple(np.asarray(a) for a in out)


def parse(table: dict, where: str, ctx: ParseContext) -> PythonDataSpec:
    factories.reject_computed(table, where, DERIVED)
    source = factories.find_factory(table, where, ctx.base_dir)
    spec = build_spec(PythonDataSpec, table, where, **source)
    arrays = _arrays(spec, where)
    info = check_xy(arrays[0], arrays[1], f"{where}.factory")
    if len(arrays) == 4:
        check_xy(arrays[2], arrays[3], f"{where}.factory", "X_test/Y_test")
    digest = _digest(arrays)
    return PythonDataSpec(**{**spec.__dict__, **info._asdict(), "arrays_sha256": digest})


def _digest(arrays: tuple) -> str:
    return factories.arrays_digest([(str(i), a) for i, a in enumerate(arrays)])


def build(spec: PythonDataSpec, model, teacher, rng_key, dtype) -> Dataset:
    factories.check_unchanged(spec.source_path, spec.source_sha256, "data")
    arrays = _arrays(spec, "data")
    if arrays[0].shape[0] != spec.n_data or _digest(arrays) != spec.arrays_sha256:
        raise ConfigError(
            f"data factory {spec.factory} returned other arrays now ({arrays[0].shape[0]} "
            f"rows) than when the experiments file was read ({spec.n_data} rows): a file "
            "it reads or its randomness changed in between; make it deterministic and "
            "rerun `lambda-hat run`, which then makes a target of what it returns"
        )
    test = cast(arrays[2], arrays[3], dtype) if len(arrays) == 4 else ()
    return Dataset(*cast(arrays[0], arrays[1], dtype), *test)


def describe(cfg: dict) -> str:
    args = ", ".join(f"{k}={v}" for k, v in sorted((cfg.get("args") or {}).items()))
    return f"python {cfg.get('factory', '?')}({args}) n={cfg.get('n_data')}"


KIND = DataKind(
    name="python",
    spec=PythonDataSpec,
    help="your own data: factory = 'module:function' returning (X, Y), args",
    parse=parse,
    build=build,
    describe=describe,
    labels=lambda spec: spec.labels,
    shape=lambda spec: (spec.in_dim, spec.out_dim),
    random=False,
)
