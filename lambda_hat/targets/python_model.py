"""``kind = "python"`` under ``[models.*]``: a model from the user's own code.

``factory = "my_models:make_net"`` names a function; ``factory(**args)`` returns
``(apply, params)`` with ``apply(params, x) -> outputs`` and ``params`` any pytree of
floating-point arrays (the start of training, or w* itself with ``init = "given"``). This
covers plain JAX, Flax (``module.apply``, ``module.init(...)``) and Equinox
(``eqx.partition`` / ``eqx.combine``).

A factory that takes ``seed`` (an int) or ``key`` / ``rng_key`` (a JAX PRNG key) gets the
target's seed; with ``init = "given"`` and ``checkpoints``, it is called as
``factory(step=...)`` once per checkpoint (the user's own training). It is called when
the experiments file is read, and the parameters it returns are hashed into the target
ID (``TargetSpec.params_sha256``), together with the factory name, its ``args``, the
module file's bytes (``source_sha256``), ``loss`` and ``true_llc``: weights it loads
from a file are covered too.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from lambda_hat.fields import build as build_spec
from lambda_hat.fields import check
from lambda_hat.targets import factories
from lambda_hat.targets.kind import Model, ModelKind, Origin, ParseContext, is_custom


@dataclass(frozen=True)
class PythonModelSpec:
    """A model from ``factory(**args) -> (apply, params)``."""

    factory: str = field(metadata=check(help="'module:function' returning (apply, params)"))
    args: dict = field(default_factory=dict, metadata=check(help="keyword arguments"))
    loss: str = field(
        default="mse",
        metadata=check(
            help="mse | cross_entropy | 'module:function', your own loss(outputs, targets) "
            "giving each row's loss (rows,) or each position's (rows, T), in the factory's "
            "module"
        ),
    )
    true_llc: float | None = field(
        default=None, metadata=check(gt=0.0, help="a λ you know, shown next to estimates")
    )
    kind: str = field(default="python", metadata=check(choices=("python",)))
    # filled in when the file is read, never written by the user
    source_sha256: str = field(default="", metadata=check(help="sha256 of the module file"))
    source_path: str = field(
        default="", metadata=check(hashed=False, help="where the module file was found")
    )


DERIVED = ("source_sha256", "source_path")


def parse(table: dict, where: str, ctx: ParseContext) -> PythonModelSpec:
    factories.reject_computed(table, where, DERIVED)
    source = factories.find_factory(table, where, ctx.base_dir)
    spec = build_spec(PythonModelSpec, table, where, **source)
    if is_custom(spec.loss):
        loss_function(spec, f"{where}.loss")  # it exists and is a function
    return spec


def loss_function(spec: PythonModelSpec, where: str = "model.loss"):
    """The model's loss as the numerics take it: ``mse`` or ``cross_entropy`` by name,
    or the custom function ``module:function`` from the factory's module (the file the
    target keeps, so its runs use the loss it was trained with)."""
    if not is_custom(spec.loss):
        return spec.loss
    module, _ = factories.split_ref(spec.loss, where)
    own, _ = factories.split_ref(spec.factory, where)
    if module != own:
        raise factories.FactoryError(
            f"{where}: {spec.loss!r} is not in the factory's module {own!r}; define the "
            f"loss in {own}.py (the target keeps that file) and give loss = "
            f"'{own}:{spec.loss.split(':')[-1]}'"
        )
    file = factories.check_unchanged(spec.source_path, spec.source_sha256, where)
    fn = factories.load_factory(spec.loss, file, where)
    if not callable(fn):
        raise factories.FactoryError(f"{where}: {spec.loss} is not a function")
    return fn


def call(spec: PythonModelSpec, origin: Origin, where: str = "model") -> tuple:
    """``(apply, params)`` from the factory (imported from ``spec.source_path``, checked
    against its hash), called for ``origin``'s seed and step."""
    import jax

    file = factories.check_unchanged(spec.source_path, spec.source_sha256, where)
    fn = factories.load_factory(spec.factory, file, where)
    passed = factories.passed_arguments(fn, spec.args, origin, spec.factory, where)
    out = factories.call(fn, {**spec.args, **passed}, spec.factory, where)
    if not (isinstance(out, tuple | list) and len(out) == 2 and callable(out[0])):
        raise factories.FactoryError(
            f"{where}: factory {spec.factory} must return (apply, params) with apply callable, "
            f"got {type(out).__name__}"
        )
    apply, params = out
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise factories.FactoryError(f"{where}: factory {spec.factory} returned no parameters")
    for leaf in leaves:
        if not np.issubdtype(np.asarray(leaf).dtype, np.floating):
            raise factories.FactoryError(
                f"{where}: factory {spec.factory} returned a non-floating parameter "
                f"({np.asarray(leaf).dtype}); return only the trainable float arrays "
                "(Equinox: eqx.partition(model, eqx.is_inexact_array))"
            )
    return apply, params


def content(spec: PythonModelSpec, origin: Origin, where: str = "model") -> str:
    """The digest of the parameters the factory returns for ``origin``, called with 64-bit
    JAX on or off as the target's worker will have it (its random draws depend on it)."""
    import jax

    with jax.enable_x64(origin.precision == "float64"):
        return factories.content_digest(call(spec, origin, where)[1])


def build(
    spec: PythonModelSpec, dtype, origin: Origin | None = None, where: str = "model"
) -> Model:
    """The factory's model in ``dtype``; its parameters must be those hashed into the
    target (``origin.params_sha256``, where given)."""
    import jax
    import jax.numpy as jnp

    origin = origin or Origin()
    apply, params = call(spec, origin, where)
    if origin.params_sha256:
        now = factories.content_digest(params)
        if now != origin.params_sha256:
            raise factories.FactoryError(
                f"{where}: factory {spec.factory} returned other parameters now (sha256 "
                f"{now[:12]}…) than when the experiments file was read "
                f"({origin.params_sha256[:12]}…): a file it reads or its randomness changed "
                "in between; make it deterministic and rerun `lambda-hat run`, which then "
                "makes a target of what it returns"
            )
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), params)
    return Model(apply, lambda rng_key: params, None)


def seed_use(spec: PythonModelSpec, seed: int) -> str | None:
    """``factory(seed=...)`` (or ``key=``) where the factory takes the seed, else None."""
    file = factories.check_unchanged(spec.source_path, spec.source_sha256, "model")
    fn = factories.load_factory(spec.factory, file, "model")
    passed = factories.passed_arguments(fn, spec.args, Origin(seed), spec.factory, "model")
    name = next(iter(passed), None)
    return None if name is None else f"{spec.factory}({name}=<seed {seed}>)"


def describe(cfg: dict) -> str:
    args = ", ".join(f"{k}={v}" for k, v in sorted((cfg.get("args") or {}).items()))
    return f"python {cfg.get('factory', '?')}({args}) {cfg.get('loss', 'mse')}"


def true_llc(model: PythonModelSpec, data) -> Fraction | None:
    return None if model.true_llc is None else Fraction(repr(model.true_llc))


def with_source(spec: PythonModelSpec, path: Path) -> PythonModelSpec:
    """The spec with its module read from ``path`` (a target's stored copy)."""
    return dataclasses.replace(spec, source_path=str(path))


SOURCE_DIR = "source"  # in a target's folder: the model's module, as w* was trained with it


def save_source(spec: PythonModelSpec, folder: Path) -> None:
    """Keep the module file in the target: its runs import this copy, the code w* was
    trained with, whatever becomes of the user's file."""
    (folder / SOURCE_DIR).mkdir()
    shutil.copy2(spec.source_path, folder / SOURCE_DIR / Path(spec.source_path).name)


def from_folder(spec: PythonModelSpec, folder: Path) -> PythonModelSpec:
    """The spec reading its module from the target's own copy (``save_source``)."""
    return with_source(spec, folder / SOURCE_DIR / Path(spec.source_path).name)


KIND = ModelKind(
    name="python",
    spec=PythonModelSpec,
    help="your own model: factory = 'module:function' returning (apply, params), args, loss",
    parse=parse,
    build=build,
    describe=describe,
    true_llc=true_llc,
    content=content,
    seed_use=seed_use,
    save_files=save_source,
    from_folder=from_folder,
    loss_of=loss_function,
)
