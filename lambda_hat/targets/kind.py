"""The two interfaces a target kind implements: a model kind and a data kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

LOSSES = ("mse", "cross_entropy")  # built in; a python model may name its own function


def is_custom(loss) -> bool:
    """A custom loss: a function, or its name ``module:function``."""
    return callable(loss) or (isinstance(loss, str) and loss not in LOSSES)


# what a loss needs of the labels Y
LABELS = {"mse": "real", "cross_entropy": "classes"}


@dataclass(frozen=True)
class ParseContext:
    """What a kind's TOML check may need besides its table."""

    base_dir: Path  # the experiments file's folder: relative paths and modules start here


class Origin(NamedTuple):
    """Which target a model is built for, beyond its spec: what a user's factory is
    called with, and what it returned when the experiments file was read."""

    seed: int = 0  # the target's seed: passed to a factory that takes ``seed`` or ``key``
    step: int | None = None  # a checkpoint of the user's own training: ``factory(step=...)``
    params_sha256: str = ""  # the parameters' digest at parse time; a build must match it
    precision: str = "float64"  # the target's: JAX makes float32 arrays unless x64 is on


class Model(NamedTuple):
    """A built model: pure functions of a parameter pytree, in one dtype."""

    apply: Callable  # apply(params, x) -> outputs (logits for cross_entropy)
    init: Callable  # init(rng_key) -> params: the start of training
    teacher: Callable | None  # teacher(rng_key) -> params, for data a teacher generates


class Dataset(NamedTuple):
    """Arrays of a target's data: training rows and optional held-out rows."""

    x: Any
    y: Any
    x_test: Any = None
    y_test: Any = None


@dataclass(frozen=True)
class ModelKind:
    """``kind = "..."`` under ``[models.*]``."""

    name: str
    spec: type
    help: str
    parse: Callable[[dict, str, ParseContext], Any]  # (table, where, ctx) -> spec
    build: Callable[[Any, Any, Origin], Model]  # (spec, dtype, origin) -> Model
    describe: Callable[[dict], str]  # stored model dict -> one line
    true_llc: Callable[[Any, Any], Any] = lambda model, data: None  # -> Fraction | None
    # (spec, origin, where) -> sha256 of the parameters the user's code gives this target,
    # hashed into its ID; None for kinds that make their parameters themselves
    content: Callable[[Any, Origin, str], str] | None = None
    # (spec, seed) -> what the target's seed does to the model, or None (nothing)
    seed_use: Callable[[Any, int], str | None] = lambda spec, seed: "initial parameters"
    # (spec, folder): write the kind's own files into a target folder being built
    save_files: Callable[[Any, Path], None] = lambda spec, folder: None
    # (spec, folder) -> the spec as a run reads it from its published target's folder
    from_folder: Callable[[Any, Path], Any] = lambda spec, folder: spec
    # (spec) -> ((name, size), ...): the leaves of the flat parameter vector in its
    # order, named readably (``restrict`` matches them); None: the key paths of the
    # built model's parameter pytree, '/'-joined (``targets/build.param_leaves``)
    leaves: Callable[[Any], tuple] | None = None
    # (spec) -> the loss as the numerics take it: a built-in name, or a custom function
    loss_of: Callable[[Any], Any] = lambda spec: spec.loss
    # (spec, data spec, names of the moved leaves) -> λ of a weight-restricted run, or None
    part_llc: Callable[[Any, Any, tuple], Any] = lambda model, data, leaves: None


@dataclass(frozen=True)
class DataKind:
    """``kind = "..."`` under ``[data.*]``. Its spec has ``n_data``: the training rows."""

    name: str
    spec: type
    help: str
    parse: Callable[[dict, str, ParseContext], Any]
    # (spec, model, teacher params or None, rng_key, dtype) -> Dataset
    build: Callable[[Any, Model, Any, Any, Any], Dataset]
    describe: Callable[[dict], str]
    # what the labels are ("real" or "classes") and the (in_dim, out_dim) the data fix
    # (out_dim: the number of classes), known without building; None: not fixed
    labels: Callable[[Any], str] = lambda spec: "real"
    shape: Callable[[Any], tuple[int, int] | None] = lambda spec: None
    needs_teacher: bool = False  # y comes from a teacher: a network of the model's own kind
    random: bool = True  # the data are drawn from the target's seed
