"""The two interfaces a target kind implements: a model kind and a data kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

LOSSES = ("mse", "cross_entropy")
# what a loss needs of the labels Y
LABELS = {"mse": "real", "cross_entropy": "classes"}


@dataclass(frozen=True)
class ParseContext:
    """What a kind's TOML check may need besides its table."""

    base_dir: Path  # the experiments file's folder: relative paths and modules start here


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
    build: Callable[[Any, Any], Model]  # (spec, dtype) -> Model
    describe: Callable[[dict], str]  # stored model dict -> one line
    true_llc: Callable[[Any, Any], Any] = lambda model, data: None  # -> Fraction | None


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
